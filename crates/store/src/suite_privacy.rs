//! The storage suite's part for data protection: crypto-shredding erasure, the last-admin
//! rule, and the tenant lifecycle (terminate, reinstate, delete when due).
//!
//! Each requirement takes a fresh, empty store and seeds what it needs; backends run them, one
//! test each, through [`storage_suite!`](crate::storage_suite) (see [`suite`](crate::suite)).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use gatehouse_core::ids::{FactorId, TenantId, UserId};
use gatehouse_core::{Email, EmailDomain, FactorKind};
use time::Duration;

use crate::suite::{NOW, audit_entry, seed_directory};
use crate::*;

fn person(id: &str, roles: &[&str], totp: bool) -> UserPlan {
    UserPlan {
        new_id: UserId::new(id),
        email: Email::parse(&format!("{id}@privacy.test")).unwrap(),
        name: format!("Person {id}"),
        password_hash: None,
        roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        totp_secret: totp.then(|| vec![9; 20]),
        phone: None,
        new_factor_ids: [FactorId::new(format!("f-{id}-totp")), FactorId::new(format!("f-{id}-sms"))],
    }
}

/// Imports tenant `t-privacy` (domain `privacy.test`) with these people.
async fn seed(store: &dyn Store, users: Vec<UserPlan>) -> TenantId {
    let plan = ImportPlan {
        identity_providers: vec![],
        audit: vec![],
        tenants: vec![TenantPlan {
            new_id: TenantId::new("t-privacy"),
            name: "Privacy Oy".into(),
            domains: vec![EmailDomain::parse("privacy.test").unwrap()],
            users,
            policy: None,
        }],
        clients: vec![],
    };
    store.apply_import(&plan, NOW).await.unwrap();
    TenantId::new("t-privacy")
}

pub async fn erasure_removes_the_person_but_never_the_last_admin(store: &dyn Store) {
    let tenant = seed(store, vec![person("pat", &["admin"], false), person("quinn", &[], true)]).await;
    let audit_before = store.audit_records(0, 10_000).await.unwrap().len();
    let refused = store.erase_user(&UserId::new("pat"), NOW, &audit_entry("user.erase")).await;
    assert!(matches!(refused, Err(StoreError::Conflict(_))), "the last admin stays: {refused:?}");
    assert!(store.user(&UserId::new("pat")).await.unwrap().is_some(), "a refused erasure changes nothing");
    assert_eq!(store.audit_records(0, 10_000).await.unwrap().len(), audit_before);

    let quinn = UserId::new("quinn");
    assert!(store.factor_adoption().await.unwrap().contains(&(tenant.clone(), quinn.clone(), FactorKind::Totp)));
    let erased = store.erase_user(&quinn, NOW, &audit_entry("user.erase")).await.unwrap().unwrap();
    assert_eq!((erased.factors, erased.tenant.as_str()), (1, "t-privacy"));
    assert!(store.user(&quinn).await.unwrap().is_none());
    assert!(store.user_by_email(&Email::parse("quinn@privacy.test").unwrap()).await.unwrap().is_none());
    assert!(store.factors(&quinn).await.unwrap().is_empty());
    assert!(!store.factor_adoption().await.unwrap().iter().any(|(_, u, _)| *u == quinn));
    assert_eq!(store.audit_records(0, 10_000).await.unwrap().len(), audit_before + 1, "the erasure is audited");
    assert!(store.erase_user(&quinn, NOW, &audit_entry("user.erase")).await.unwrap().is_none(), "erasing twice finds nobody");
    let vault = store.key_vault().await.unwrap();
    assert!(!vault.keys.iter().any(|k| k.owner == "user:quinn"), "the key is destroyed");
    assert!(vault.keys.iter().any(|k| k.owner == "user:pat"));
    assert!(vault.erased.contains(&"quinn".to_owned()) && !vault.instance.is_empty());
    assert_eq!(store.tenant_users(&tenant).await.unwrap().len(), 1);
}

pub async fn terminated_tenants_stop_then_go_when_due(store: &dyn Store) {
    // An active tenant beside it (`t-acme`), and the tenant to terminate with its one admin
    // (the erasure requirement leaves the same: `quinn` erased, `pat` kept).
    seed_directory(store).await;
    let tenant = seed(store, vec![person("pat", &["admin"], false)]).await;
    let due = NOW + Duration::days(183);
    let generation = store.generation().await.unwrap();
    assert!(store.terminate_tenant(&tenant, NOW, due, &audit_entry("tenant.terminate")).await.unwrap());
    assert!(store.generation().await.unwrap() > generation, "servers reload and stop sign-in");
    assert!(!store.terminate_tenant(&tenant, NOW, due, &audit_entry("tenant.terminate")).await.unwrap(), "already terminated");
    let stored = store.tenant(&tenant).await.unwrap().unwrap();
    assert_eq!(stored.termination.map(|t| t.deletion_due), Some(due));
    assert!(store.tenants_due_for_deletion(due - Duration::seconds(1)).await.unwrap().is_empty());
    let early = gatehouse_core::audit::AuditEntry { at: (due - Duration::seconds(1)).unix_timestamp(), ..audit_entry("tenant.delete") };
    assert!(matches!(store.delete_tenant(&tenant, &early).await, Err(StoreError::Conflict(_))), "not a second early");
    assert!(
        matches!(store.delete_tenant(&TenantId::new("t-acme"), &audit_entry("tenant.delete")).await, Err(StoreError::Conflict(_))),
        "an active tenant is never deleted"
    );

    assert!(store.reinstate_tenant(&tenant, &audit_entry("tenant.reinstate")).await.unwrap());
    assert!(store.tenant(&tenant).await.unwrap().unwrap().termination.is_none());
    assert!(store.tenants_due_for_deletion(due).await.unwrap().is_empty(), "reinstated tenants are not deleted");
    assert!(!store.reinstate_tenant(&tenant, &audit_entry("tenant.reinstate")).await.unwrap());

    assert!(store.terminate_tenant(&tenant, NOW, due, &audit_entry("tenant.terminate")).await.unwrap());
    let due_now = store.tenants_due_for_deletion(due).await.unwrap();
    assert_eq!(due_now.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(), ["t-privacy"]);
    let on_time = gatehouse_core::audit::AuditEntry { at: due.unix_timestamp(), ..audit_entry("tenant.delete") };
    let report = store.delete_tenant(&tenant, &on_time).await.unwrap().unwrap();
    assert_eq!((report.users, report.name.as_str(), report.domains.clone()), (1, "Privacy Oy", vec!["privacy.test".to_owned()]));
    assert!(report.data_keys_destroyed >= 2, "the tenant's key and its users' keys: {report:?}");
    assert!(store.tenant(&tenant).await.unwrap().is_none());
    assert!(store.user(&UserId::new("pat")).await.unwrap().is_none());
    assert!(store.tenant_for_domain(&EmailDomain::parse("privacy.test").unwrap()).await.unwrap().is_none());
    let last = store.audit_records(0, 10_000).await.unwrap().pop().unwrap();
    assert_eq!(last.entry.after.unwrap()["users"], 1, "the deletion report is in the audit trail");
    assert!(store.delete_tenant(&tenant, &on_time).await.unwrap().is_none());
    assert!(store.key_vault().await.unwrap().erased.contains(&"pat".to_owned()), "a deleted tenant's people count as erased");
}
