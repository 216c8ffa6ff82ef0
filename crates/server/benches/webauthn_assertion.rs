//! What verifying a WebAuthn assertion costs at sign-in (`WebAuthnService::finish_authentication`:
//! client data, origin, challenge, RP ID hash, flags, the ES256 signature and the counter), for
//! a passkey registered with a software authenticator. Each iteration verifies a fresh
//! challenge; making the challenge and the assertion is setup, not timed.
//! `cargo bench -p gatehouse-server --bench webauthn_assertion`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use gatehouse_core::FactorKind;
use gatehouse_server::mfa::WebAuthnService;
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::prelude::{CreationChallengeResponse, RequestChallengeResponse, Url};
use webauthn_authenticator_rs::softpasskey::SoftPasskey;

const ORIGIN: &str = "https://id.example.com";

fn bench(c: &mut Criterion) {
    let service = WebAuthnService::new(ORIGIN).unwrap().expect("a domain issuer");
    let origin = Url::parse(ORIGIN).unwrap();
    let mut authenticator = SoftPasskey::new(true);
    let handle = webauthn_rs::prelude::Uuid::new_v4();
    let (options, state) = service.start_registration(FactorKind::Passkey, handle, "user@example.com", "User", vec![]).unwrap();
    let options: CreationChallengeResponse = serde_json::from_value(options).unwrap();
    let registration = authenticator.do_registration(origin.clone(), options).unwrap();
    let registered = service.finish_registration(FactorKind::Passkey, &state, &serde_json::to_string(&registration).unwrap()).unwrap();
    let credentials = vec![registered.credential.clone()];

    let mut fresh_assertion = || {
        let (options, state) = service.start_authentication(FactorKind::Passkey, &credentials).unwrap();
        let options: RequestChallengeResponse = serde_json::from_value(options).unwrap();
        let assertion = authenticator.do_authentication(origin.clone(), options).unwrap();
        (state, serde_json::to_string(&assertion).unwrap())
    };
    c.bench_function("WebAuthn assertion verification (passkey, ES256)", |b| {
        b.iter_batched(
            &mut fresh_assertion,
            |(state, response)| {
                let verified = service.finish_authentication(FactorKind::Passkey, &state, &response, |_| Some(registered.credential.clone()));
                assert!(verified.is_ok());
            },
            BatchSize::SmallInput,
        )
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
