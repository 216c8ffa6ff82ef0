//! What checking a one-time code costs: a TOTP code against the current step and one step
//! either side (RFC 6238 with ±1 step of drift, every candidate computed so timing says
//! nothing), and a recovery code's keyed digest. `cargo bench -p gatehouse-crypto --bench
//! one_time_codes`.
#![allow(clippy::unwrap_used)]

use criterion::{Criterion, black_box, criterion_group, criterion_main};
use gatehouse_crypto::SecretDigester;
use gatehouse_crypto::otp::TotpSecret;

fn bench(c: &mut Criterion) {
    let secret = TotpSecret::from_base32("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP").unwrap();
    let now = 1_800_000_000;
    let current = secret.code(now);
    let wrong = if current == "000000" { "000001".to_owned() } else { "000000".to_owned() };
    let mut group = c.benchmark_group("one-time codes");
    group.bench_function("TOTP verify, right code", |b| b.iter(|| black_box(secret.verify(black_box(&current), now, None))));
    group.bench_function("TOTP verify, wrong code", |b| b.iter(|| black_box(secret.verify(black_box(&wrong), now, None))));
    let digester = SecretDigester::new(b"bench pepper, 32 bytes long....");
    group.bench_function("recovery code digest", |b| b.iter(|| black_box(gatehouse_crypto::recovery::digest(&digester, black_box("abcd-efgh-ijkl")))));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
