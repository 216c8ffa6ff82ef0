//! The user-key vault beside a target's backups: every user's data key (wrapped), replaced after
//! each backup and each erasure, so an erased person's key leaves every earlier backup; the
//! targets this data directory's backups went to; and putting the keys back into a restored
//! copy. The vault never holds a key unwrapped, and never names the storage backend.

use gatehouse_backup::BackupTarget;
use gatehouse_crypto::KeyProvider;
use gatehouse_store::{SnapshotStore, StoreOpener};
use std::path::Path;
use std::sync::Arc;
use time::OffsetDateTime;

use super::{BackupJobError, Scratch};

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
    store: &dyn SnapshotStore,
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
    store: &dyn SnapshotStore,
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
pub async fn restore_key_vault(
    opener: &dyn StoreOpener,
    dir: &Path,
    provider: Arc<dyn KeyProvider>,
    target: &BackupTarget,
) -> Result<(u64, u64), BackupJobError> {
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
    let (opening, into, unsealer) = (archive.clone(), unpacked.clone(), Arc::clone(&provider));
    tokio::task::spawn_blocking(move || gatehouse_backup::open_archive(&opening, unsealer.as_ref(), &into))
        .await
        .map_err(|e| BackupJobError::Task(e.to_string()))??;
    let document: serde_json::Value = serde_json::from_slice(&std::fs::read(unpacked.join(KEY_VAULT_FILE))?)
        .map_err(|e| BackupJobError::Task(format!("the user-key vault is malformed: {e}")))?;
    let vault: gatehouse_store::KeyVault = serde_json::from_value(document.get("vault").cloned().unwrap_or_default())
        .map_err(|e| BackupJobError::Task(format!("the user-key vault is malformed: {e}")))?;
    drop(scratch);
    let store = opener.open_restored(dir, provider).await?;
    let result = store.restore_user_keys(&vault).await;
    store.close().await;
    Ok(result?)
}
