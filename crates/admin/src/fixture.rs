//! A management context over an in-memory store for the services' unit tests: tenant `acme`
//! (`acme.test`) with an admin, an operator and a plain user, and tenant `other`
//! (`other.test`) with one user.

use async_trait::async_trait;
use gatehouse_core::ids::{FactorId, TenantId, UserId};
use gatehouse_core::{Email, EmailDomain};
use gatehouse_delivery::{DevOutbox, DroppedNotices};
use gatehouse_ops::MonitoringSettings;
use gatehouse_ops::monitor::Monitor;
use gatehouse_ops::monitor::audit_writer::AuditWriter;
use gatehouse_store::testing::TestStore;
use gatehouse_store::{ImportPlan, Store, TenantPlan, UserPlan};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use time::OffsetDateTime;
use time::macros::datetime;
use zeroize::Zeroizing;

use crate::caller::{Caller, Origin};
use crate::context::{Admin, PasswordHashing};
use crate::error::Result;

pub(crate) const NOW: OffsetDateTime = datetime!(2026-03-01 12:00 UTC);

pub(crate) struct Fixture {
    pub(crate) store: Arc<dyn TestStore>,
    audit: AuditWriter,
    monitor: Monitor,
    outbox: DevOutbox,
}

fn user(id: &str, email: &str, roles: &[&str], n: u8) -> UserPlan {
    UserPlan {
        new_id: UserId::new(id),
        email: Email::parse(email).unwrap(),
        name: format!("Person {id}"),
        password_hash: None,
        roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        totp_secret: None,
        phone: None,
        new_factor_ids: [FactorId::new(format!("f-{n}a")), FactorId::new(format!("f-{n}b"))],
    }
}

fn tenant(id: &str, name: &str, domain: &str, users: Vec<UserPlan>) -> TenantPlan {
    TenantPlan { new_id: TenantId::new(id), name: name.into(), domains: vec![EmailDomain::parse(domain).unwrap()], users, policy: None }
}

impl Fixture {
    pub(crate) async fn new() -> Self {
        let store = gatehouse_store::testing::in_memory().await.unwrap();
        let plan = ImportPlan {
            identity_providers: vec![],
            audit: vec![],
            tenants: vec![
                tenant(
                    "acme",
                    "Acme",
                    "acme.test",
                    vec![
                        user("u-admin", "admin@acme.test", &["admin"], 1),
                        user("u-op", "op@acme.test", &["operator"], 2),
                        user("u-alice", "alice@acme.test", &[], 3),
                    ],
                ),
                tenant("other", "Other", "other.test", vec![user("u-bob", "bob@other.test", &[], 4)]),
            ],
            clients: vec![],
        };
        store.apply_import(&plan, NOW).await.unwrap();
        let as_store: Arc<dyn Store> = store.clone();
        let monitor = Monitor::new(MonitoringSettings::default(), "https://id.test", as_store.clone(), Arc::new(DroppedNotices)).unwrap();
        let dir = std::env::temp_dir().join(format!("gatehouse-admin-test-{}-{}", std::process::id(), gatehouse_crypto::random::id().unwrap()));
        Self { audit: AuditWriter::start(as_store), store, monitor, outbox: DevOutbox::new(&dir) }
    }

    pub(crate) fn admin(&self) -> Admin<'_> {
        Admin { store: self.store.as_ref(), audit: &self.audit, monitor: &self.monitor, outbox: &self.outbox, now: NOW }
    }

    pub(crate) fn operator() -> Caller {
        Caller::Operator { actor: "client:ops".into() }
    }

    /// The admin of tenant `acme`.
    pub(crate) async fn tenant_admin(&self) -> Caller {
        Caller::TenantAdmin(Arc::new(self.store.user(&UserId::new("u-admin")).await.unwrap().unwrap()))
    }
}

pub(crate) fn origin() -> Origin {
    Origin { address: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7)), user_agent: Some("test".into()) }
}

/// Hashes nothing: the tests never sign in with the passwords they set.
pub(crate) struct FakeHashing;

#[async_trait]
impl PasswordHashing for FakeHashing {
    async fn hash(&self, password: Zeroizing<String>) -> Result<String> {
        Ok(format!("hashed:{}", password.len()))
    }
}
