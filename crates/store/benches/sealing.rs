//! What envelope encryption adds to a sign-in: the password step's one read of the account
//! (`user_with_throttle`: blind index, the user's key unwrapped from the cached tenant key, email
//! and name opened), the same read's crypto alone, and reading the sealed factors the policy
//! looks at. Compare with `cargo bench -p gatehouse-server --bench sign_in` (a whole sign-in):
//! the goal is under 5 %. `cargo bench -p gatehouse-store --bench sealing`.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use criterion::{Criterion, criterion_group, criterion_main};
use gatehouse_core::Email;
use gatehouse_core::ids::UserId;
use gatehouse_crypto::DataKey;
use gatehouse_store::sqlite::SqliteStore;
use gatehouse_store::vault::{open_text, seal_text};
use gatehouse_store::{FactorStore, ImportPlan, ImportStore, SecurityStore, TenantPlan, UserPlan};

fn sealing(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let store = runtime.block_on(async {
        let store = SqliteStore::in_memory().await.unwrap();
        let plan = ImportPlan {
            identity_providers: vec![],
            audit: vec![],
            tenants: vec![TenantPlan {
                new_id: gatehouse_core::ids::TenantId::new("t-acme"),
                name: "Acme".into(),
                domains: vec![gatehouse_core::EmailDomain::parse("acme.test").unwrap()],
                users: vec![UserPlan {
                    new_id: UserId::new("u-alice"),
                    email: Email::parse("alice@acme.test").unwrap(),
                    name: "Alice Example".into(),
                    password_hash: Some("$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo".into()),
                    roles: vec![],
                    totp_secret: Some(vec![7; 20]),
                    phone: Some(gatehouse_core::PhoneNumber::parse("+358401234567").unwrap()),
                    new_factor_ids: [gatehouse_core::ids::FactorId::new("f-totp"), gatehouse_core::ids::FactorId::new("f-sms")],
                }],
                policy: None,
            }],
            clients: vec![],
        };
        store.apply_import(&plan, time::OffsetDateTime::UNIX_EPOCH).await.unwrap();
        store
    });
    let email = Email::parse("alice@acme.test").unwrap();
    let mut group = c.benchmark_group("sealing");
    group.bench_function("user_with_throttle_sealed_read", |b| b.iter(|| runtime.block_on(store.user_with_throttle(&email)).unwrap()));
    group.bench_function("factors_sealed_read_two_factors", |b| b.iter(|| runtime.block_on(store.factors(&UserId::new("u-alice"))).unwrap()));

    // The crypto of that read alone: unwrap the user's key, open email and name.
    let tenant = DataKey::generate("dk-tenant").unwrap();
    let user = DataKey::generate("dk-user").unwrap();
    let wrapped = tenant.wrap(&user).unwrap();
    let sealed_email = seal_text(&user, "users.email", "u", "alice@acme.test").unwrap();
    let sealed_name = seal_text(&user, "users.name", "u", "Alice Example").unwrap();
    group.bench_function("crypto_per_account_read", |b| {
        b.iter(|| {
            let key = tenant.unwrap_key("dk-user", &wrapped).unwrap();
            (open_text(&key, "users.email", "u", &sealed_email).unwrap(), open_text(&key, "users.name", "u", &sealed_name).unwrap())
        })
    });
    group.finish();
}

criterion_group!(benches, sealing);
criterion_main!(benches);
