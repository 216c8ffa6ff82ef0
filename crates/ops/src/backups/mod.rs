//! Backups of the whole instance: a consistent online snapshot of the database (written by the
//! store itself, through [`SnapshotStore`]) and the instance's key files (pepper, checkpoint
//! key; never the master key), sealed by `gatehouse-backup` and written to a target;
//! verification of one backup (the restored copy opened through a [`StoreOpener`]); the key
//! vault ([`vault`]); and the nightly job ([`job`]). Nothing here names a storage backend or its
//! files: the store names its snapshot.

mod job;
mod vault;

pub use job::{BackupJob, after_erasure, nightly, run, until_next};
pub use vault::{known_targets, refresh_all_key_vaults, refresh_key_vault, remember_target, restore_key_vault};

use gatehouse_backup::{BackupError, BackupInfo, BackupTarget, Manifest};
use gatehouse_crypto::KeyProvider;
use gatehouse_store::{DirectoryCounts, SnapshotStore, StoreOpener};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use time::OffsetDateTime;

use crate::monitor::trail;

/// The files of a data directory a backup carries besides the database snapshot: without the
/// pepper, restored client secrets, sessions and recovery codes would not verify; without the
/// checkpoint key, the restored trail's checkpoints could not be extended.
pub const KEY_FILES: [&str; 2] = ["pepper.key", "audit-checkpoint.key"];

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
pub(crate) struct Scratch(pub(crate) PathBuf);

impl Scratch {
    pub(crate) fn new(parent: &Path, tag: &str) -> Result<Self, BackupJobError> {
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
    store: &dyn SnapshotStore,
    provider: Arc<dyn KeyProvider>,
    data_dir: &Path,
    target: &BackupTarget,
    now: OffsetDateTime,
) -> Result<BackupInfo, BackupJobError> {
    let scratch = Scratch::new(data_dir, "backup")?;
    let snapshot = scratch.0.join(store.snapshot_name());
    store.snapshot_to(&snapshot).await?;
    let mut files = vec![(store.snapshot_name().to_owned(), snapshot)];
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
pub async fn verify(
    opener: &dyn StoreOpener,
    archive: &Path,
    provider: Arc<dyn KeyProvider>,
    target: &BackupTarget,
    scratch_parent: &Path,
) -> Result<Verified, BackupJobError> {
    let scratch = Scratch::new(scratch_parent, "verify")?;
    let (opening, into, unsealer) = (archive.to_owned(), scratch.0.clone(), Arc::clone(&provider));
    let manifest = tokio::task::spawn_blocking(move || gatehouse_backup::open_archive(&opening, unsealer.as_ref(), &into))
        .await
        .map_err(|e| BackupJobError::Task(e.to_string()))??;
    // A restore needs the target's key vault too: check it holds everyone's key (on this copy).
    let (_, erased_since) = restore_key_vault(opener, &scratch.0, Arc::clone(&provider), target).await?;
    let (counts, report) = check_restored(opener, &scratch.0, provider).await?;
    Ok(Verified { manifest, counts, erased_since, audit_records: report.records, checkpoints: report.checkpoints })
}

/// Opens a restored directory's database under the master key and verifies its trail.
pub async fn check_restored(
    opener: &dyn StoreOpener,
    dir: &Path,
    provider: Arc<dyn KeyProvider>,
) -> Result<(DirectoryCounts, trail::TrailReport), BackupJobError> {
    // The copy is the caller's own: opening it writable applies any newer migrations to it.
    let store = opener.open_restored(dir, provider).await?;
    let key = match std::fs::read(dir.join(KEY_FILES[1])) {
        Ok(pkcs8) => Some(
            trail::public_key(&trail::checkpoint_key(&pkcs8).map_err(|e| BackupJobError::Trail(e.to_string()))?)
                .map_err(|e| BackupJobError::Trail(e.to_string()))?,
        ),
        Err(_) => None,
    };
    let verified = trail::verify(store.as_ref(), key.as_ref()).await;
    let counts = store.counts().await;
    store.close().await;
    let report = verified.map_err(|e| BackupJobError::Trail(e.to_string()))?;
    Ok((counts?, report))
}
