//! What checking a SAML answer costs: `saml::finish` on a response whose assertion an
//! in-process IdP signed (RSA-SHA256, 2048 bits, through xmlsec): base64, the scan, the
//! signature verified against the pinned certificate and the reduction to the signed subtree,
//! the parse, every check, the identity; and the same assertion encrypted to Gatehouse
//! (RSA-3072 OAEP and AES-256-CBC: the decryption and a second scan on top). Beside it, in the same run, the OpenID Connect
//! counterpart: an RS256 ID token validated against the provider's keys. The rest of a
//! federated sign-in (the account, the policy, the session, grant and code) is the same for
//! both protocols: `cargo bench -p gatehouse-server --bench federated_sign_in` measures it.
//! `cargo bench -p gatehouse-federation --bench saml_finish`.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use criterion::{Criterion, criterion_group, criterion_main};
use gatehouse_core::EmailDomain;
use gatehouse_core::federation::{IdentityProvider, ProviderId, SamlUpstream, Upstream};
use gatehouse_core::ids::TenantId;
use gatehouse_crypto::{ForeignKeySet, SigningKey, jws};
use gatehouse_federation::oidc::{Expected as OidcExpected, id_token};
use gatehouse_federation::saml::{self, EncryptionKey, Expected, IdpMetadata, ServiceProvider};
use gatehouse_wire::SigningAlg;
use serde_json::json;

#[path = "support/saml_fixture.rs"]
mod saml_fixture;

use saml_fixture::{Answer, IDP};

const REQUEST: &str = "_gh-bench-request";

fn bench(c: &mut Criterion) {
    let now = time::OffsetDateTime::from_unix_timestamp(chrono::Utc::now().timestamp()).unwrap();
    let sp_key = EncryptionKey::load(&EncryptionKey::generate("https://id.bench.test/saml/metadata", now).unwrap()).unwrap();
    let sp_certificate = sp_key.certificate_base64();
    let sp = ServiceProvider::for_issuer("https://id.bench.test").with_encryption_keys(vec![sp_key]);
    let (key, certificate) = saml_fixture::key_and_certificate();
    let document = saml_fixture::metadata(&certificate);
    let idp = IdpMetadata::parse(&document).unwrap();
    let saml =
        SamlUpstream { entity_id: IDP.into(), metadata: document, metadata_url: None, email_attribute: None, name_attribute: None, allow_idp_initiated: false };
    let provider = IdentityProvider {
        upstream: Upstream::Saml(saml),
        ..IdentityProvider::new_oidc(TenantId::new("t"), ProviderId::parse("adfs").unwrap(), IDP, "", vec![EmailDomain::parse("bench.test").unwrap()])
    };
    let answer = Answer { acs: &sp.acs_url, audience: &sp.entity_id, request_id: REQUEST, assertion_id: "_a1", name_id: "ann-1", email: "ann@bench.test" };
    let signed = saml_fixture::signed_response(&answer, &key);
    let encoded = STANDARD.encode(&signed);
    let encoded_encrypted = STANDARD.encode(saml_fixture::encrypted(&signed, &sp_certificate));
    let expected = Expected { sp: &sp, request_id: Some(REQUEST) };
    // The whole check of one answer: read (decoded, scanned), received (a session key
    // unwrapped), opened (decrypted, scanned again), finished (verified, checked, read).
    let check = |encoded: &str| {
        let opened = saml::read(encoded).and_then(|scanned| scanned.receive(&sp)).and_then(saml::Received::open).expect("the bench's response opens");
        saml::finish(&provider, &idp, &opened, &expected).expect("the bench's response is valid")
    };
    for answer in [&encoded, &encoded_encrypted] {
        assert_eq!(check(answer).identity.subject, "ann-1");
    }

    let signer = SigningKey::generate(SigningAlg::RS256).unwrap();
    let keys = ForeignKeySet::from_jwks(json!({ "keys": [signer.public_jwk()] }).to_string().as_bytes()).unwrap();
    let now = chrono::Utc::now().timestamp();
    let token = jws::sign(&signer, "JWT", &json!({ "iss": IDP, "sub": "ann-1", "aud": "gatehouse", "iat": now, "exp": now + 600, "nonce": "n" })).unwrap();
    let oidc = OidcExpected { issuer: IDP, client_id: "gatehouse", nonce: "n", algorithms: &["RS256"], now, skew: 60, authenticated_since: None };
    id_token::validate(&token, &keys, &oidc).expect("the bench's ID token is valid");

    let mut group = c.benchmark_group("federated answer");
    group.bench_function("saml::finish (RSA-SHA256 assertion, xmlsec)", |b| b.iter(|| check(&encoded)));
    group.bench_function("saml::finish, the assertion encrypted (RSA-3072 OAEP, AES-256-CBC)", |b| b.iter(|| check(&encoded_encrypted)));
    group.bench_function("oidc id_token::validate (RS256)", |b| b.iter(|| id_token::validate(&token, &keys, &oidc).unwrap()));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
