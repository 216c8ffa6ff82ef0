//! The nightly backup job and what follows an erasure: one backup a night at the configured
//! hour, pruning past retention, and refreshing every target's key vault after an erasure.
//! Failures raise alerts; they never stop the server. The clock comes from the context.

use gatehouse_backup::BackupInfo;
use gatehouse_core::alert::AlertKind;
use gatehouse_store::SnapshotStore;
use std::sync::Arc;
use time::OffsetDateTime;

use super::{BackupJobError, NightlyBackups, create, refresh_all_key_vaults, remember_target};
use crate::Clock;
use crate::monitor::{Monitor, NewAlert};

/// One nightly run: a backup, then pruning past retention (never the newest).
pub async fn nightly(store: &dyn SnapshotStore, plan: &NightlyBackups, now: OffsetDateTime) -> Result<(BackupInfo, Vec<String>), BackupJobError> {
    remember_target(&plan.data_dir, &plan.spec)?;
    let made = create(store, Arc::clone(&plan.provider), &plan.data_dir, &plan.target, now).await?;
    let pruned = plan.target.prune(now, plan.keep).await?;
    Ok((made, pruned))
}

/// Seconds from `now` to the next `hour_utc`:00.
pub fn until_next(now: OffsetDateTime, hour_utc: u8) -> std::time::Duration {
    let today = now.replace_time(time::Time::from_hms(hour_utc.min(23), 0, 0).unwrap_or(time::Time::MIDNIGHT));
    let next = if today > now { today } else { today + time::Duration::days(1) };
    std::time::Duration::from_secs(u64::try_from((next - now).whole_seconds()).unwrap_or(0))
}

/// After an erasure or a tenant deletion (in the server): refreshes every known target's key
/// vault; a target that cannot be refreshed raises an alert (its vault still holds the keys
/// until the next successful backup there). Nothing to do without a nightly plan.
pub async fn after_erasure(store: &dyn SnapshotStore, plan: Option<&NightlyBackups>, monitor: &Monitor, now: OffsetDateTime) {
    let Some(plan) = plan else { return };
    let failed = refresh_all_key_vaults(store, Arc::clone(&plan.provider), &plan.data_dir, Some(&plan.spec), now).await;
    for (spec, error) in failed {
        tracing::error!(target = %spec, %error, "a backup key vault was not refreshed after an erasure");
        let alert = NewAlert {
            kind: AlertKind::BackupFailed,
            tenant: None,
            subject: "instance".into(),
            summary: format!("the key vault in backup target {spec} was not refreshed after an erasure: {error}"),
            details: serde_json::json!({ "target": spec }),
        };
        if let Err(e) = monitor.raise(alert, now).await {
            tracing::error!(error = %e, "raising the backup alert failed");
        }
    }
}

/// What the nightly backup uses: the store it snapshots, the plan, the monitor its failures
/// are raised with, and the clock.
pub struct BackupJob {
    pub store: Arc<dyn SnapshotStore>,
    pub plan: NightlyBackups,
    pub monitor: Arc<Monitor>,
    pub clock: Clock,
}

/// The nightly job: sleeps until the configured hour, backs up, prunes, repeats. A failure is
/// logged and raised as an alert, and the next night tries again.
pub async fn run(job: BackupJob) {
    let BackupJob { store, plan, monitor, clock } = job;
    loop {
        tokio::time::sleep(until_next(clock(), plan.hour_utc)).await;
        let now = clock();
        match nightly(store.as_ref(), &plan, now).await {
            Ok((made, pruned)) => {
                tracing::info!(backup = %made.name, bytes = made.size, pruned = pruned.len(), target = plan.target.describe(), "nightly backup done")
            }
            Err(e) => {
                tracing::error!(error = %e, target = plan.target.describe(), "nightly backup failed");
                let alert = NewAlert {
                    kind: AlertKind::BackupFailed,
                    tenant: None,
                    subject: "instance".into(),
                    summary: format!("the nightly backup to {} failed: {e}", plan.target.describe()),
                    details: serde_json::json!({ "target": plan.target.describe() }),
                };
                if let Err(e) = monitor.raise(alert, now).await {
                    tracing::error!(error = %e, "raising the backup alert failed");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn the_nightly_hour_is_always_ahead() {
        let secs = |now, hour| until_next(now, hour).as_secs();
        assert_eq!(secs(datetime!(2026-11-24 02:00 UTC), 3), 3600);
        assert_eq!(secs(datetime!(2026-11-24 03:00 UTC), 3), 24 * 3600, "at the hour itself: tomorrow");
        assert_eq!(secs(datetime!(2026-11-24 23:30 UTC), 3), 3 * 3600 + 1800);
    }
}
