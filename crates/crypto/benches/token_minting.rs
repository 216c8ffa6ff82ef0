#![allow(clippy::expect_used)] // a benchmark that cannot set up should stop loudly
//! Cost of minting one RFC 9068 access token (ES256) and one ID token (RS256), and of verifying
//! an access token as userinfo and introspection do. `cargo bench -p gatehouse-crypto`.

use criterion::{Criterion, criterion_group, criterion_main};
use gatehouse_core::claims::AccessTokenClaims;
use gatehouse_crypto::{KeySet, SigningKey, jws};
use gatehouse_wire::SigningAlg;
use std::hint::black_box;
use std::sync::Arc;

fn claims() -> AccessTokenClaims {
    AccessTokenClaims {
        iss: "http://127.0.0.1:8080".into(),
        exp: 1_900_000_000,
        aud: "payroll".into(),
        sub: "payroll".into(),
        client_id: "payroll".into(),
        iat: 1_800_000_000,
        jti: "2bU8lH3cWQ0m9kTqG0Zr7w".into(),
        scope: "read".into(),
        auth_time: None,
        acr: None,
        amr: vec![],
        sid: None,
        gid: None,
        idp: None,
    }
}

fn bench(c: &mut Criterion) {
    let keys: Vec<Arc<SigningKey>> = SigningAlg::ALL.iter().map(|a| Arc::new(SigningKey::generate(*a).expect("key"))).collect();
    let kids: Vec<String> = keys.iter().map(|k| k.kid().to_owned()).collect();
    let refs: Vec<&str> = kids.iter().map(String::as_str).collect();
    let set = KeySet::new(keys, &refs);
    let claims = claims();
    for alg in SigningAlg::ALL {
        let key = set.active(alg).expect("active key");
        c.bench_function(&format!("mint access token {}", alg.as_str()), |b| b.iter(|| jws::sign(key, "at+jwt", black_box(&claims)).expect("sign")));
    }
    let token = jws::sign(set.active(SigningAlg::ES256).expect("key"), "at+jwt", &claims).expect("sign");
    c.bench_function("verify access token ES256", |b| b.iter(|| set.verify::<AccessTokenClaims>(black_box(&token)).expect("verify")));
}

criterion_group!(benches, bench);
criterion_main!(benches);
