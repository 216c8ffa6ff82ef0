//! Backups of the whole instance: a consistent online snapshot of the database and the
//! instance's key files (pepper, checkpoint key; never the master key), sealed by
//! `gatehouse-backup` and written to a target; verification of one backup; and the nightly job
//! that makes one and prunes those past retention.

use gatehouse_backup::{BackupError, BackupInfo, BackupTarget, Manifest};
use gatehouse_crypto::KeyProvider;
use gatehouse_store::sqlite::{OpenMode, SqliteStore};
use gatehouse_store::{DirectoryCounts, DirectoryStore, SnapshotStore, Store};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use time::OffsetDateTime;

use crate::monitor::trail;

/// The files of a data directory a backup carries besides the database snapshot: without the
/// pepper, restored client secrets, sessions and recovery codes would not verify; without the
/// checkpoint key, the restored trail's checkpoints could not be extended.
pub const KEY_FILES: [&str; 2] = ["pepper.key", "audit-checkpoint.key"];
pub const DATABASE: &str = "gatehouse.db";

#[derive(Debug, thiserror::Error)]
pub enum BackupJobError {
    #[error(transparent)]
    Backup(#[from] BackupError),
    #[error("database: {0}")]
    Store(#[from] gatehouse_store::StoreError),
    #[error("the restored audit trail does not verify: {0}")]
    Trail(String),
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Task(String),
}

/// What a nightly backup needs.
#[derive(Clone)]
pub struct NightlyBackups {
    /// The target as configured (an erasure refreshes it by this name).
    pub spec: String,
    pub target: Arc<BackupTarget>,
    pub provider: Arc<dyn KeyProvider>,
    pub data_dir: PathBuf,
    /// The hour (UTC) the nightly backup starts.
    pub hour_utc: u8,
    pub keep: time::Duration,
}

impl std::fmt::Debug for NightlyBackups {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NightlyBackups")
            .field("target", &self.target.describe())
            .field("hour_utc", &self.hour_utc)
            .field("keep", &self.keep)
            .finish_non_exhaustive()
    }
}

/// A private scratch directory inside `parent`, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(parent: &Path, tag: &str) -> Result<Self, BackupJobError> {
        let id = gatehouse_crypto::random::id().map_err(|e| BackupJobError::Task(e.to_string()))?;
        let path = parent.join(format!(".{tag}-{id}"));
        std::fs::create_dir_all(&path)?;
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o700))?;
        Ok(Self(path))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Takes a backup now: snapshot, seal, upload. The staging directory lives inside the data
/// directory (same permissions, same disk) and is removed afterwards.
pub async fn create(
    store: &dyn Store,
    provider: Arc<dyn KeyProvider>,
    data_dir: &Path,
    target: &BackupTarget,
    now: OffsetDateTime,
) -> Result<BackupInfo, BackupJobError> {
    let scratch = Scratch::new(data_dir, "backup")?;
    let snapshot = scratch.0.join(DATABASE);
    store.snapshot_to(&snapshot).await?;
    let mut files = vec![(DATABASE.to_owned(), snapshot)];
    for name in KEY_FILES {
        let path = data_dir.join(name);
        if path.exists() {
            files.push((name.to_owned(), path));
        }
    }
    let archive = scratch.0.join("backup.ghbk");
    let sealing_to = archive.clone();
    let sealer = Arc::clone(&provider);
    let manifest = tokio::task::spawn_blocking(move || gatehouse_backup::seal_files(&files, sealer.as_ref(), now, &sealing_to))
        .await
        .map_err(|e| BackupJobError::Task(e.to_string()))??;
    // After the snapshot and before the manifest marks the backup complete: a listed backup's
    // people all have keys in the vault (or are recorded as erased).
    refresh_key_vault(store, provider, data_dir, target, now).await?;
    Ok(target.upload(&archive, &manifest).await?)
}

const TARGETS_FILE: &str = "backup-targets";

/// Remembers a target backups were written to, so an erasure refreshes its key vault too.
pub fn remember_target(data_dir: &Path, spec: &str) -> Result<(), BackupJobError> {
    let mut known = known_targets(data_dir);
    if !known.iter().any(|k| k == spec) {
        known.push(spec.to_owned());
        std::fs::write(data_dir.join(TARGETS_FILE), known.join("\n") + "\n")?;
    }
    Ok(())
}

/// Every target backups of this data directory were written to.
pub fn known_targets(data_dir: &Path) -> Vec<String> {
    std::fs::read_to_string(data_dir.join(TARGETS_FILE)).unwrap_or_default().lines().filter(|l| !l.trim().is_empty()).map(str::to_owned).collect()
}

/// After an erasure or a tenant deletion: refreshes the key vault of every target this data
/// directory's backups went to (the configured one included), so the people's keys leave every
/// earlier backup. Returns the targets that could not be refreshed, with why.
pub async fn refresh_all_key_vaults(
    store: &dyn Store,
    provider: Arc<dyn KeyProvider>,
    data_dir: &Path,
    configured: Option<&str>,
    now: OffsetDateTime,
) -> Vec<(String, String)> {
    let mut specs = known_targets(data_dir);
    if let Some(spec) = configured
        && !specs.iter().any(|k| k == spec)
    {
        specs.push(spec.to_owned());
    }
    let mut failed = Vec::new();
    for spec in specs {
        let refreshed = match BackupTarget::parse(&spec) {
            Ok(target) => refresh_key_vault(store, Arc::clone(&provider), data_dir, &target, now).await.map(|_| ()),
            Err(e) => Err(e.into()),
        };
        if let Err(e) = refreshed {
            failed.push((spec, e.to_string()));
        }
    }
    failed
}

const KEY_VAULT_FILE: &str = "user-keys.json";

/// Replaces the target's user-key vault with the users' keys as they are now. Run after each
/// backup and each erasure: an erased person's key then leaves every backup of the target.
pub async fn refresh_key_vault(
    store: &dyn Store,
    provider: Arc<dyn KeyProvider>,
    scratch_parent: &Path,
    target: &BackupTarget,
    now: OffsetDateTime,
) -> Result<usize, BackupJobError> {
    // One refresh at a time per data directory (server and CLI alike): a refresh that read the
    // keys before an erasure must not upload after the erasure's own refresh.
    let lock_path = scratch_parent.join("key-vault.lock");
    let lock = tokio::task::spawn_blocking(move || -> std::io::Result<std::fs::File> {
        let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(lock_path)?;
        file.lock()?;
        Ok(file)
    })
    .await
    .map_err(|e| BackupJobError::Task(e.to_string()))??;
    let scratch = Scratch::new(scratch_parent, "key-vault")?;
    let vault = store.key_vault().await?;
    let count = vault.keys.len();
    let document = serde_json::json!({ "format": "gatehouse-user-keys-v1", "vault": vault });
    let plain = scratch.0.join(KEY_VAULT_FILE);
    std::fs::write(&plain, serde_json::to_vec(&document).map_err(|e| BackupJobError::Task(e.to_string()))?)?;
    let archive = scratch.0.join("vault.ghbk");
    let files = vec![(KEY_VAULT_FILE.to_owned(), plain)];
    let sealing_to = archive.clone();
    tokio::task::spawn_blocking(move || gatehouse_backup::seal_files(&files, provider.as_ref(), now, &sealing_to))
        .await
        .map_err(|e| BackupJobError::Task(e.to_string()))??;
    target.put_key_vault(&archive).await?;
    drop(lock);
    Ok(count)
}

/// Puts the target's user keys into a restored directory's database; people erased since the
/// backup have no key there and are removed. Returns (keys restored, people removed).
pub async fn restore_key_vault(dir: &Path, provider: Arc<dyn KeyProvider>, target: &BackupTarget) -> Result<(u64, u64), BackupJobError> {
    let scratch = Scratch::new(dir, "key-vault")?;
    let archive = scratch.0.join("vault.ghbk");
    if !target.get_key_vault(&archive).await? {
        return Err(BackupJobError::Task(format!(
            "{} holds no user-key vault (gatehouse-user-keys.ghkv): without it no person's data in the backup can be opened",
            target.describe()
        )));
    }
    let unpacked = scratch.0.join("vault");
    std::fs::create_dir(&unpacked)?;
    let (opening, into, opener) = (archive.clone(), unpacked.clone(), Arc::clone(&provider));
    tokio::task::spawn_blocking(move || gatehouse_backup::open_archive(&opening, opener.as_ref(), &into))
        .await
        .map_err(|e| BackupJobError::Task(e.to_string()))??;
    let document: serde_json::Value = serde_json::from_slice(&std::fs::read(unpacked.join(KEY_VAULT_FILE))?)
        .map_err(|e| BackupJobError::Task(format!("the user-key vault is malformed: {e}")))?;
    let vault: gatehouse_store::KeyVault = serde_json::from_value(document.get("vault").cloned().unwrap_or_default())
        .map_err(|e| BackupJobError::Task(format!("the user-key vault is malformed: {e}")))?;
    drop(scratch);
    let store = SqliteStore::open(&dir.join(DATABASE), OpenMode::ReadWrite, provider).await?;
    let result = store.restore_user_keys(&vault).await;
    store.close().await;
    Ok(result?)
}

/// What verifying a backup found.
#[derive(Debug)]
pub struct Verified {
    pub manifest: Manifest,
    pub counts: DirectoryCounts,
    /// People in the backup erased since (left out of a restore).
    pub erased_since: u64,
    pub audit_records: u64,
    pub checkpoints: usize,
}

/// Decrypts a local archive into a scratch directory beside `scratch_parent`, checks every
/// file, opens the database under the master key and verifies the audit chain (its
/// checkpoints with the backup's own checkpoint key). Nothing of it is kept.
pub async fn verify(archive: &Path, provider: Arc<dyn KeyProvider>, target: &BackupTarget, scratch_parent: &Path) -> Result<Verified, BackupJobError> {
    let scratch = Scratch::new(scratch_parent, "verify")?;
    let (opening, into, opener) = (archive.to_owned(), scratch.0.clone(), Arc::clone(&provider));
    let manifest = tokio::task::spawn_blocking(move || gatehouse_backup::open_archive(&opening, opener.as_ref(), &into))
        .await
        .map_err(|e| BackupJobError::Task(e.to_string()))??;
    // A restore needs the target's key vault too: check it holds everyone's key (on this copy).
    let (_, erased_since) = restore_key_vault(&scratch.0, Arc::clone(&provider), target).await?;
    let (counts, report) = check_restored(&scratch.0, provider).await?;
    Ok(Verified { manifest, counts, erased_since, audit_records: report.records, checkpoints: report.checkpoints })
}

/// Opens a restored directory's database under the master key and verifies its trail.
pub async fn check_restored(dir: &Path, provider: Arc<dyn KeyProvider>) -> Result<(DirectoryCounts, trail::TrailReport), BackupJobError> {
    // The copy is the caller's own: opening it writable applies any newer migrations to it.
    let store = SqliteStore::open(&dir.join(DATABASE), OpenMode::ReadWrite, provider).await?;
    let key = match std::fs::read(dir.join(KEY_FILES[1])) {
        Ok(pkcs8) => Some(
            trail::public_key(&trail::checkpoint_key(&pkcs8).map_err(|e| BackupJobError::Trail(e.to_string()))?)
                .map_err(|e| BackupJobError::Trail(e.to_string()))?,
        ),
        Err(_) => None,
    };
    let verified = trail::verify(&store, key.as_ref()).await;
    let counts = store.counts().await;
    store.close().await;
    let report = verified.map_err(|e| BackupJobError::Trail(e.to_string()))?;
    Ok((counts?, report))
}

/// One nightly run: a backup, then pruning past retention (never the newest).
pub async fn nightly(store: &dyn Store, plan: &NightlyBackups, now: OffsetDateTime) -> Result<(BackupInfo, Vec<String>), BackupJobError> {
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

/// In the server, after an erasure or a tenant deletion: refreshes every known target's key
/// vault; a target that cannot be refreshed raises an alert (its vault still holds the keys
/// until the next successful backup there).
pub async fn after_erasure(state: &crate::AppState, now: OffsetDateTime) {
    let Some(plan) = &state.config.backups else { return };
    let failed = refresh_all_key_vaults(state.store.as_ref(), Arc::clone(&plan.provider), &plan.data_dir, Some(&plan.spec), now).await;
    for (spec, error) in failed {
        tracing::error!(target = %spec, %error, "a backup key vault was not refreshed after an erasure");
        let alert = crate::monitor::NewAlert {
            kind: gatehouse_core::alert::AlertKind::BackupFailed,
            tenant: None,
            subject: "instance".into(),
            summary: format!("the key vault in backup target {spec} was not refreshed after an erasure: {error}"),
            details: serde_json::json!({ "target": spec }),
        };
        if let Err(e) = state.monitor.raise(state.store.as_ref(), alert, now).await {
            tracing::error!(error = %e, "raising the backup alert failed");
        }
    }
}

/// The nightly job: sleeps until the configured hour, backs up, prunes, repeats. A failure is
/// logged and raised as an alert, and the next night tries again.
pub async fn run(state: crate::AppState, plan: NightlyBackups) {
    loop {
        tokio::time::sleep(until_next(crate::state::now(), plan.hour_utc)).await;
        let now = crate::state::now();
        match nightly(state.store.as_ref(), &plan, now).await {
            Ok((made, pruned)) => {
                tracing::info!(backup = %made.name, bytes = made.size, pruned = pruned.len(), target = plan.target.describe(), "nightly backup done")
            }
            Err(e) => {
                tracing::error!(error = %e, target = plan.target.describe(), "nightly backup failed");
                let alert = crate::monitor::NewAlert {
                    kind: gatehouse_core::alert::AlertKind::BackupFailed,
                    tenant: None,
                    subject: "instance".into(),
                    summary: format!("the nightly backup to {} failed: {e}", plan.target.describe()),
                    details: serde_json::json!({ "target": plan.target.describe() }),
                };
                if let Err(e) = state.monitor.raise(state.store.as_ref(), alert, now).await {
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
