//! What checking a SAML answer costs: `saml::finish` on a response whose assertion an
//! in-process IdP signed (RSA-SHA256, 2048 bits, through xmlsec): base64, the scan, the
//! signature verified against the pinned certificate and the reduction to the signed subtree,
//! the parse, every check, the identity. Beside it, in the same run, the OpenID Connect
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
use gatehouse_federation::saml::{self, Expected, IdpMetadata, ServiceProvider};
use gatehouse_wire::SigningAlg;
use samael::crypto::{Crypto, CryptoProvider};
use serde_json::json;

const IDP: &str = "https://idp.bench.test/saml";
const REQUEST: &str = "_gh-bench-request";

/// An RSA-2048 key and its self-signed certificate (DER).
fn key_and_certificate() -> (Vec<u8>, Vec<u8>) {
    let rsa = openssl::rsa::Rsa::generate(2048).unwrap();
    let key = openssl::pkey::PKey::from_rsa(rsa).unwrap();
    let mut name = openssl::x509::X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", "bench idp").unwrap();
    let name = name.build();
    let mut builder = openssl::x509::X509Builder::new().unwrap();
    builder.set_version(2).unwrap();
    builder.set_subject_name(&name).unwrap();
    builder.set_issuer_name(&name).unwrap();
    builder.set_pubkey(&key).unwrap();
    builder.set_not_before(&openssl::asn1::Asn1Time::days_from_now(0).unwrap()).unwrap();
    builder.set_not_after(&openssl::asn1::Asn1Time::days_from_now(2).unwrap()).unwrap();
    builder.sign(&key, openssl::hash::MessageDigest::sha256()).unwrap();
    (key.private_key_to_der().unwrap(), builder.build().to_der().unwrap())
}

fn metadata(certificate: &[u8]) -> String {
    format!(
        r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{IDP}"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.bench.test/sso"/></md:IDPSSODescriptor></md:EntityDescriptor>"#,
        STANDARD.encode(certificate)
    )
}

/// A response to `REQUEST` whose assertion is signed with `key` (valid for ten minutes).
fn signed_response(sp: &ServiceProvider, key: &[u8]) -> String {
    let now = chrono::Utc::now();
    let (at, until) = (now.format("%Y-%m-%dT%H:%M:%SZ"), (now + chrono::Duration::minutes(10)).format("%Y-%m-%dT%H:%M:%SZ"));
    let (acs, audience) = (&sp.acs_url, &sp.entity_id);
    let xml = format!(
        r##"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r1" Version="2.0" IssueInstant="{at}" Destination="{acs}" InResponseTo="{REQUEST}"><saml:Issuer>{IDP}</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status><saml:Assertion ID="_a1" Version="2.0" IssueInstant="{at}"><saml:Issuer>{IDP}</saml:Issuer><ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/><ds:Reference URI="#_a1"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue></ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue></ds:SignatureValue></ds:Signature><saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent">ann-1</saml:NameID><saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="{until}" Recipient="{acs}" InResponseTo="{REQUEST}"/></saml:SubjectConfirmation></saml:Subject><saml:Conditions NotBefore="{at}" NotOnOrAfter="{until}"><saml:AudienceRestriction><saml:Audience>{audience}</saml:Audience></saml:AudienceRestriction></saml:Conditions><saml:AuthnStatement AuthnInstant="{at}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement><saml:AttributeStatement><saml:Attribute Name="mail"><saml:AttributeValue>ann@bench.test</saml:AttributeValue></saml:Attribute></saml:AttributeStatement></saml:Assertion></samlp:Response>"##
    );
    Crypto::sign_xml(xml, key).unwrap()
}

fn bench(c: &mut Criterion) {
    let sp = ServiceProvider::for_issuer("https://id.bench.test");
    let (key, certificate) = key_and_certificate();
    let document = metadata(&certificate);
    let idp = IdpMetadata::parse(&document).unwrap();
    let provider = IdentityProvider {
        upstream: Upstream::Saml(SamlUpstream {
            entity_id: IDP.into(),
            metadata: document,
            metadata_url: None,
            email_attribute: None,
            name_attribute: None,
            allow_idp_initiated: false,
        }),
        ..IdentityProvider::new_oidc(TenantId::new("t"), ProviderId::parse("adfs").unwrap(), IDP, "", vec![EmailDomain::parse("bench.test").unwrap()])
    };
    let encoded = STANDARD.encode(signed_response(&sp, &key));
    let expected = Expected { sp: &sp, request_id: Some(REQUEST) };
    let asserted = saml::finish(&provider, &idp, &encoded, &expected).expect("the bench's response is valid");
    assert_eq!(asserted.identity.subject, "ann-1");

    let signer = SigningKey::generate(SigningAlg::RS256).unwrap();
    let keys = ForeignKeySet::from_jwks(json!({ "keys": [signer.public_jwk()] }).to_string().as_bytes()).unwrap();
    let now = chrono::Utc::now().timestamp();
    let token = jws::sign(&signer, "JWT", &json!({ "iss": IDP, "sub": "ann-1", "aud": "gatehouse", "iat": now, "exp": now + 600, "nonce": "n" })).unwrap();
    let oidc = OidcExpected { issuer: IDP, client_id: "gatehouse", nonce: "n", algorithms: &["RS256"], now, skew: 60, authenticated_since: None };
    id_token::validate(&token, &keys, &oidc).expect("the bench's ID token is valid");

    let mut group = c.benchmark_group("federated answer");
    group.bench_function("saml::finish (RSA-SHA256 assertion, xmlsec)", |b| b.iter(|| saml::finish(&provider, &idp, &encoded, &expected).unwrap()));
    group.bench_function("oidc id_token::validate (RS256)", |b| b.iter(|| id_token::validate(&token, &keys, &oidc).unwrap()));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
