//! The tenant lifecycle: termination (sign-in stops at once), reinstatement before the deadline,
//! and deletion of a terminated tenant's data by the daily retention job, which writes a
//! deletion report. Every step takes `now` from its caller, so tests prove the schedule with a
//! fake clock. The deletion job ([`LifecycleJob`]) runs after the audit trail's daily upkeep
//! (the server's scheduler), never when the trail does not verify; refreshing caches and
//! backups' key vaults after it is the caller's.

use gatehouse_core::audit::AuditEntry;
use gatehouse_core::ids::TenantId;
use gatehouse_store::{Store, TenantDeletion};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use crate::error::OpsError;
use crate::settings::RetentionSettings;
use gatehouse_delivery::DevOutbox;

/// When a tenant terminated at `at` is deleted.
pub fn deletion_due(at: OffsetDateTime, retention: &RetentionSettings) -> OffsetDateTime {
    at.checked_add(Duration::days(i64::from(retention.terminated_tenant_days))).unwrap_or(time::PrimitiveDateTime::MAX.assume_utc())
}

/// Terminates a tenant now; returns its deletion date, or `None` when it is unknown or already
/// terminated.
pub async fn terminate(
    store: &dyn Store,
    tenant: &TenantId,
    now: OffsetDateTime,
    retention: &RetentionSettings,
    audit: AuditEntry,
) -> Result<Option<OffsetDateTime>, OpsError> {
    let due = deletion_due(now, retention);
    let after = serde_json::json!({ "terminated_at": now.format(&Rfc3339).ok(), "deletion_due": due.format(&Rfc3339).ok() });
    let audit = AuditEntry { after: Some(after), ..audit };
    Ok(store.terminate_tenant(tenant, now, due, &audit).await?.then_some(due))
}

/// Deletes every terminated tenant whose deletion is due at `now`, writing one report per
/// tenant into `reports_dir` (and its summary into the audit trail), and removes its people's
/// lines from the development outbox.
pub async fn delete_due_tenants(store: &dyn Store, now: OffsetDateTime, reports_dir: &Path, outbox: &DevOutbox) -> Result<Vec<TenantDeletion>, OpsError> {
    let mut deleted = Vec::new();
    for tenant in store.tenants_due_for_deletion(now).await? {
        let termination = tenant.termination;
        // Read before the deletion destroys the keys their phone numbers are sealed under.
        let mut people = Vec::new();
        for user in store.tenant_users(&tenant.id).await? {
            people.push(crate::privacy::erasure::recipient(store, &user).await?);
        }
        let audit = AuditEntry {
            at: now.unix_timestamp(),
            actor: "system:retention".into(),
            on_behalf_of: None,
            action: "tenant.delete".into(),
            target: format!("tenant:{}", tenant.id),
            tenant: Some(tenant.id.to_string()),
            before: None,
            after: None,
            address: None,
            user_agent: None,
            reason: Some("the retention period after termination ended".into()),
        };
        let Some(report) = store.delete_tenant(&tenant.id, &audit).await? else { continue };
        let document = serde_json::json!({
            "format": "gatehouse-tenant-deletion-v1",
            "deleted_at": now.format(&Rfc3339).ok(),
            "terminated_at": termination.and_then(|t| t.at.format(&Rfc3339).ok()),
            "deletion_due": termination.and_then(|t| t.deletion_due.format(&Rfc3339).ok()),
            "deleted": report,
            "kept": "audit records (people named only by pseudonymous ids) for the audit retention period; backups expire on their own schedule and the destroyed keys leave the tenant's personal data in them unreadable",
        });
        write_report(reports_dir, &format!("tenant-deletion-{}-{}.json", tenant.id, now.unix_timestamp()), &document)?;
        tracing::info!(tenant = %tenant.id, users = report.users, "deleted a terminated tenant's data");
        for person in &people {
            if let Err(error) = outbox.forget(person) {
                tracing::error!(tenant = %tenant.id, %error, "the development outbox could not be rewritten after a tenant deletion");
            }
        }
        deleted.push(report);
    }
    Ok(deleted)
}

fn write_report(dir: &Path, name: &str, document: &serde_json::Value) -> Result<(), OpsError> {
    std::fs::create_dir_all(dir)?;
    let text = serde_json::to_vec_pretty(document).map_err(|_| OpsError::Internal("deletion report serialisation"))?;
    let mut file = std::fs::OpenOptions::new().create(true).truncate(true).write(true).mode(0o600).open(dir.join(name))?;
    file.write_all(&text)?;
    file.sync_all()?;
    Ok(())
}

/// What deleting due tenants uses: the store (the tenants, their people and factors, the
/// deletion), where reports go, and the development outbox their lines leave.
pub struct LifecycleJob {
    pub store: Arc<dyn Store>,
    pub reports_dir: PathBuf,
    pub outbox: Arc<DevOutbox>,
}

impl LifecycleJob {
    /// Deletes every tenant due at `now` (see [`delete_due_tenants`]).
    pub async fn run(&self, now: OffsetDateTime) -> Result<Vec<TenantDeletion>, OpsError> {
        delete_due_tenants(self.store.as_ref(), now, &self.reports_dir, &self.outbox).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_core::ids::{FactorId, UserId};
    use gatehouse_core::{Email, EmailDomain};
    use gatehouse_store::{ImportPlan, TenantPlan, UserPlan};
    use time::macros::datetime;

    fn audit(action: &str) -> AuditEntry {
        AuditEntry {
            at: 0,
            actor: "client:ops".into(),
            on_behalf_of: None,
            action: action.into(),
            target: "tenant:t-gone".into(),
            tenant: None,
            before: None,
            after: None,
            address: None,
            user_agent: None,
            reason: None,
        }
    }

    /// Six months to the day, with a fake clock: not a second early, deleted once due, reported.
    #[tokio::test]
    async fn a_terminated_tenant_is_deleted_six_months_later_and_not_before() {
        let owned = gatehouse_store::testing::in_memory().await.unwrap();
        let store = owned.as_ref();
        let plan = ImportPlan {
            identity_providers: vec![],
            audit: vec![],
            tenants: vec![TenantPlan {
                new_id: TenantId::new("t-gone"),
                name: "Gone Oy".into(),
                domains: vec![EmailDomain::parse("gone.test").unwrap()],
                users: vec![UserPlan {
                    new_id: UserId::new("u-gone"),
                    email: Email::parse("someone@gone.test").unwrap(),
                    name: "Someone".into(),
                    password_hash: None,
                    roles: vec![],
                    totp_secret: Some(vec![1; 20]),
                    phone: None,
                    new_factor_ids: [FactorId::new("f-1"), FactorId::new("f-2")],
                }],
                policy: None,
            }],
            clients: vec![],
        };
        store.apply_import(&plan, datetime!(2026-01-01 0:00 UTC)).await.unwrap();
        let retention = RetentionSettings::default();
        let terminated_at = datetime!(2026-01-10 9:30 UTC);
        let due = terminate(store, &TenantId::new("t-gone"), terminated_at, &retention, audit("tenant.terminate")).await.unwrap().unwrap();
        assert_eq!(due, datetime!(2026-07-12 9:30 UTC), "183 days: six months");
        assert!(terminate(store, &TenantId::new("t-gone"), terminated_at, &retention, audit("tenant.terminate")).await.unwrap().is_none());

        let dir = std::env::temp_dir().join(format!("gatehouse-deletion-reports-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let outbox_dir = std::env::temp_dir().join(format!("gatehouse-deletion-outbox-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&outbox_dir);
        let outbox = DevOutbox::new(&outbox_dir);
        outbox.notifications().append(&serde_json::json!({ "user_id": "u-gone", "to": "someone@gone.test", "kind": "password_changed" })).unwrap();
        outbox.notifications().append(&serde_json::json!({ "user_id": "u-stays", "to": "someone@stays.test", "kind": "password_changed" })).unwrap();
        for day in [datetime!(2026-02-01 0:00 UTC), datetime!(2026-07-12 9:29:59 UTC)] {
            assert!(delete_due_tenants(store, day, &dir, &outbox).await.unwrap().is_empty(), "not due at {day}");
            assert!(store.user(&UserId::new("u-gone")).await.unwrap().is_some());
        }
        assert_eq!(std::fs::read_to_string(outbox_dir.join("notifications.jsonl")).unwrap().lines().count(), 2);
        let deleted = delete_due_tenants(store, due, &dir, &outbox).await.unwrap();
        let notices = std::fs::read_to_string(outbox_dir.join("notifications.jsonl")).unwrap();
        assert!(!notices.contains("gone.test") && notices.contains("u-stays"), "the tenant's people leave the outbox: {notices}");
        std::fs::remove_dir_all(&outbox_dir).unwrap();
        assert_eq!((deleted.len(), deleted[0].users, deleted[0].factors), (1, 1, 1));
        assert!(store.user(&UserId::new("u-gone")).await.unwrap().is_none());
        let reports: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
        assert_eq!(reports.len(), 1);
        let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&reports[0]).unwrap()).unwrap();
        assert_eq!(report["deleted"]["name"], "Gone Oy");
        assert_eq!(report["deletion_due"], "2026-07-12T09:30:00Z");
        assert!(delete_due_tenants(store, due + Duration::days(1), &dir, &outbox).await.unwrap().is_empty(), "once");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
