//! The recurring upkeep the server schedules, each over its own context:
//! - [`AuditUpkeep`]: the audit trail's daily run (checkpoint, verification, retention) and,
//!   only when the trail verified, the tenant lifecycle's deletions, after which the caches
//!   reload and the backups' key vaults are refreshed; a checkpoint every hour between.
//! - [`Maintenance`]: picking up other processes' changes, purging expired rows and pruning
//!   retired signing keys.
//!
//! The in-memory caches belong to the edge: they are reached through [`CacheReload`].

use async_trait::async_trait;
use gatehouse_store::{GrantStore, KeyStore, SnapshotStore};
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;

use crate::backups::{NightlyBackups, after_erasure};
use crate::monitor::Monitor;
use crate::monitor::trail::{TrailJob, Upkeep};
use crate::privacy::lifecycle::LifecycleJob;
use crate::{Clock, OpsError};

/// The edge's in-memory caches (clients, keys, tenants, users, revocations), which the upkeep
/// refreshes after it changed the store or another process did.
#[async_trait]
pub trait CacheReload: Send + Sync {
    /// Reloads everything now.
    async fn reload(&self) -> Result<(), OpsError>;
    /// Reloads when another process changed the store, or a key activates or retires.
    async fn reload_if_changed(&self) -> Result<bool, OpsError>;
}

/// What the audit trail's upkeep uses.
pub struct AuditUpkeep {
    pub trail: TrailJob,
    pub lifecycle: LifecycleJob,
    /// The nightly plan whose key vaults a tenant deletion refreshes (none: nothing to do).
    pub backups: Option<NightlyBackups>,
    pub snapshots: Arc<dyn SnapshotStore>,
    pub monitor: Arc<Monitor>,
    pub caches: Arc<dyn CacheReload>,
    pub clock: Clock,
}

impl AuditUpkeep {
    /// At start-up and every 24 hours the daily run, every hour between a checkpoint. Failures
    /// are logged (the trail's own alerts are raised by its job); the loop never stops.
    pub async fn run(self) {
        let mut tick = tokio::time::interval(Duration::from_secs(3600));
        let mut hours: u64 = 0;
        loop {
            tick.tick().await;
            let now = (self.clock)();
            if hours.is_multiple_of(24) {
                match self.daily(now).await {
                    Ok(upkeep) => tracing::info!(?upkeep, "daily audit upkeep done"),
                    Err(e) => tracing::error!(error = %e, "daily audit upkeep failed"),
                }
            } else {
                self.trail.hourly(now).await;
            }
            hours += 1;
        }
    }

    /// The daily run. Tenants are deleted only after the trail verified: a broken trail stops
    /// the deletions until someone has looked.
    pub async fn daily(&self, now: OffsetDateTime) -> Result<Upkeep, OpsError> {
        let mut upkeep = self.trail.daily(now).await?;
        if !upkeep.verified {
            return Ok(upkeep);
        }
        let deleted = self.lifecycle.run(now).await?;
        upkeep.tenants_deleted = deleted.len();
        if !deleted.is_empty() {
            self.caches.reload().await?;
            after_erasure(self.snapshots.as_ref(), self.backups.as_ref(), &self.monitor, now).await;
        }
        Ok(upkeep)
    }
}

/// What the maintenance tick uses.
pub struct Maintenance {
    pub grants: Arc<dyn GrantStore>,
    pub keys: Arc<dyn KeyStore>,
    pub caches: Arc<dyn CacheReload>,
    /// How often other processes' changes are looked for.
    pub interval: Duration,
    /// How long a retired key stays in the JWKS after it retires.
    pub key_publication_grace: time::Duration,
    pub clock: Clock,
}

/// Expired rows are purged every this many ticks.
const PURGE_EVERY_TICKS: u64 = 300;

impl Maintenance {
    pub async fn run(self) {
        let mut tick = tokio::time::interval(self.interval);
        let mut ticks: u64 = 0;
        loop {
            tick.tick().await;
            ticks += 1;
            if let Err(e) = self.caches.reload_if_changed().await {
                tracing::warn!(error = %e, "reloading from the store failed");
            }
            if ticks.is_multiple_of(PURGE_EVERY_TICKS) {
                self.purge((self.clock)()).await;
            }
        }
    }

    /// Purges expired rows and prunes retired keys. Retired keys leave the JWKS after the grace
    /// period; they stay a day longer in the table (for inspection), then go.
    pub async fn purge(&self, now: OffsetDateTime) {
        if let Err(e) = self.grants.purge_expired(now).await {
            tracing::warn!(error = %e, "purging expired rows failed");
        }
        let prune_before = now - self.key_publication_grace - time::Duration::days(1);
        if let Err(e) = self.keys.prune_signing_keys(prune_before).await {
            tracing::warn!(error = %e, "pruning retired signing keys failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::privacy::lifecycle::terminate;
    use crate::settings::{MonitoringSettings, RetentionSettings};
    use gatehouse_core::EmailDomain;
    use gatehouse_core::ids::TenantId;
    use gatehouse_delivery::{DevOutbox, DroppedNotices};
    use gatehouse_store::suite::audit_entry;
    use gatehouse_store::testing::TestStore;
    use gatehouse_store::{ImportPlan, TenantPlan};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use time::macros::datetime;

    const TERMINATED: OffsetDateTime = datetime!(2026-01-10 9:30 UTC);
    /// Past the 183 days a terminated tenant's data is kept.
    const DUE: OffsetDateTime = datetime!(2026-08-01 0:00 UTC);

    #[derive(Default)]
    struct CountingCaches(AtomicUsize);

    #[async_trait]
    impl CacheReload for CountingCaches {
        async fn reload(&self) -> Result<(), OpsError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
        async fn reload_if_changed(&self) -> Result<bool, OpsError> {
            Ok(false)
        }
    }

    /// A store holding tenant `t-gone`, terminated and due for deletion at [`DUE`].
    async fn store_with_a_tenant_due() -> Arc<dyn TestStore> {
        let store = gatehouse_store::testing::in_memory().await.unwrap();
        let tenant = TenantPlan {
            new_id: TenantId::new("t-gone"),
            name: "Gone Oy".into(),
            domains: vec![EmailDomain::parse("gone.test").unwrap()],
            users: vec![],
            policy: None,
        };
        store.apply_import(&ImportPlan { tenants: vec![tenant], ..Default::default() }, TERMINATED).await.unwrap();
        terminate(store.as_ref(), &TenantId::new("t-gone"), TERMINATED, &RetentionSettings::default(), audit_entry("tenant.terminate")).await.unwrap().unwrap();
        store
    }

    fn upkeep(store: &Arc<dyn TestStore>, caches: Arc<CountingCaches>, dir: &std::path::Path) -> AuditUpkeep {
        let monitor = Arc::new(Monitor::new(MonitoringSettings::default(), "https://id.test", store.clone(), Arc::new(DroppedNotices)).unwrap());
        let trail = TrailJob {
            audit: store.clone(),
            sign_ins: store.clone(),
            alerts: store.clone(),
            monitor: Arc::clone(&monitor),
            checkpoint_key: None,
            retention: RetentionSettings::default(),
        };
        let lifecycle = LifecycleJob { store: store.clone(), reports_dir: dir.join("reports"), outbox: Arc::new(DevOutbox::new(&dir.join("outbox"))) };
        AuditUpkeep { trail, lifecycle, backups: None, snapshots: store.clone(), monitor, caches, clock: || DUE }
    }

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("gatehouse-upkeep-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[tokio::test]
    async fn a_verified_trail_lets_due_tenants_be_deleted_and_the_caches_reload() {
        let store = store_with_a_tenant_due().await;
        let caches = Arc::new(CountingCaches::default());
        let dir = scratch("verified");
        let done = upkeep(&store, Arc::clone(&caches), &dir).daily(DUE).await.unwrap();
        assert!(done.verified);
        assert_eq!(done.tenants_deleted, 1);
        assert!(store.tenant(&TenantId::new("t-gone")).await.unwrap().is_none());
        assert_eq!(caches.0.load(Ordering::SeqCst), 1, "the caches forget the deleted tenant at once");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn a_broken_trail_stops_every_deletion() {
        let store = store_with_a_tenant_due().await;
        let tampered = store.audit_head().await.unwrap().map(|(seq, _)| seq).unwrap();
        store.tamper_audit_actor(tampered, "user:mallory").await.unwrap();
        let caches = Arc::new(CountingCaches::default());
        let dir = scratch("broken");
        let done = upkeep(&store, Arc::clone(&caches), &dir).daily(DUE).await.unwrap();
        assert!(!done.verified);
        assert_eq!(done.tenants_deleted, 0);
        assert!(store.tenant(&TenantId::new("t-gone")).await.unwrap().is_some(), "kept until someone has looked at the trail");
        assert_eq!(caches.0.load(Ordering::SeqCst), 0);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn nothing_due_deletes_nothing_and_reloads_nothing() {
        let store = store_with_a_tenant_due().await;
        let caches = Arc::new(CountingCaches::default());
        let dir = scratch("early");
        let done = upkeep(&store, Arc::clone(&caches), &dir).daily(TERMINATED).await.unwrap();
        assert!(done.verified && done.tenants_deleted == 0);
        assert_eq!(caches.0.load(Ordering::SeqCst), 0);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
