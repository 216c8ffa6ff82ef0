#![allow(clippy::expect_used)] // a benchmark that cannot set up should stop loudly
//! Cost of one policy decision, risk assessment included (goal: ≤ 1 µs median, ≥ 1 M/s per
//! core). `cargo bench -p gatehouse-policy --bench decide`.

use std::hint::black_box;
use std::net::IpAddr;

use criterion::{Criterion, criterion_group, criterion_main};
use gatehouse_policy::{
    AppPolicy, AppTwoFactor, AuthLevel, Cidr, DeviceSignal, DomainPolicy, DomainTwoFactor, Enrollment, GeoPoint, Method, MethodSet, PolicyInputs,
    PreviousSignIn, RiskConfig, RiskSignals, SessionState, StepUp, decide,
};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const NOW: OffsetDateTime = datetime!(2026-03-02 09:00 UTC);

fn domain() -> DomainPolicy {
    DomainPolicy {
        two_factor: DomainTwoFactor::Optional,
        allowed_methods: MethodSet::CONFIGURABLE,
        trusted_networks: ["203.0.113.0/24", "198.18.0.0/15", "2001:db8:ac::/48"].into_iter().map(|n| Cidr::parse(n).expect("cidr")).collect(),
        remember_device_days: 30,
    }
}

fn app(two_factor: AppTwoFactor) -> AppPolicy {
    AppPolicy { two_factor, step_up_scopes: vec![("payments:approve".to_owned(), AuthLevel::Mfa), ("keys:rotate".to_owned(), AuthLevel::PhishingResistant)] }
}

/// A coffee-shop sign-in: untrusted address seen before, known device whose 2FA is 40 days old,
/// a few failures, GeoIP on both sign-ins (Helsinki, then Stockholm a day later): Elevated.
fn coffee_shop() -> RiskSignals {
    RiskSignals {
        address: "192.0.2.77".parse::<IpAddr>().expect("ip"),
        device: DeviceSignal::Known { last_second_factor_at: Some(NOW - Duration::days(40)) },
        address_seen_before: true,
        failures_for_user: 1,
        failures_for_address: 3,
        reported_device: false,
        reported_address: false,
        new_country: true,
        location: Some(GeoPoint { lat: 59.3293, lon: 18.0686 }),
        previous: Some(PreviousSignIn { at: NOW - Duration::days(1), location: Some(GeoPoint { lat: 60.1699, lon: 24.9384 }) }),
    }
}

fn bench(c: &mut Criterion) {
    let domain = domain();
    let adaptive = app(AppTwoFactor::Adaptive);
    let bypass = app(AppTwoFactor::Bypass);
    let risk = coffee_shop();
    let config = RiskConfig::default();
    let enrollment = Enrollment { methods: MethodSet::from_iter([Method::Totp, Method::Passkey]), recovery_codes: true, device_bound_webauthn: false };
    let session = Some(SessionState { level: AuthLevel::Password, second_factor_at: None });
    let inputs = |app| PolicyInputs { domain: &domain, app, enrollment, risk: &risk, risk_config: &config, step_up: None, session, now: NOW };

    let adaptive_inputs = inputs(&adaptive);
    c.bench_function("decide adaptive, elevated risk", |b| b.iter(|| decide(black_box(&adaptive_inputs))));

    let bypass_inputs = inputs(&bypass);
    c.bench_function("decide bypass", |b| b.iter(|| decide(black_box(&bypass_inputs))));

    let scopes = ["openid", "profile", "payments:read", "payments:approve"];
    c.bench_function("step-up from request + decide", |b| {
        b.iter(|| {
            let step_up = StepUp::from_request(black_box(["urn:example:silver"]), None::<[&str; 0]>, black_box(scopes), &adaptive, Some(300));
            decide(&PolicyInputs { step_up, ..adaptive_inputs })
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
