//! The master key: a keyring file (`--master-key-file`, `GATEHOUSE_MASTER_KEY_FILE`, else
//! `DATA_DIR/master.key`), served to the store as a [`KeyProvider`].
//!
//! The file is re-read when it changes, so `gatehouse keys rotate-master` run beside a live
//! server takes effect there without a restart: new keys are wrapped under the new master key,
//! and a key already re-wrapped under it still opens.

use anyhow::{Context, Result, bail};
use gatehouse_crypto::{CryptoError, DataKey, KeyProvider, MasterKeyring};
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use crate::datadir::DataDir;

pub const DEFAULT_FILE: &str = "master.key";

pub struct FileKeyProvider {
    path: PathBuf,
    state: RwLock<(MasterKeyring, Option<SystemTime>)>,
}

impl FileKeyProvider {
    pub fn load(path: &Path) -> Result<Self> {
        let (ring, modified) = read(path)?;
        Ok(Self { path: path.to_owned(), state: RwLock::new((ring, modified)) })
    }

    /// Re-reads the file if it changed since it was read.
    fn refresh(&self) -> Result<(), CryptoError> {
        let modified = fs::metadata(&self.path).and_then(|m| m.modified()).ok();
        let stale = self.state.read().map(|s| s.1 != modified).unwrap_or(true);
        if stale {
            let (ring, modified) = read(&self.path).map_err(|e| CryptoError::Keyring(format!("{e:#}")))?;
            if let Ok(mut state) = self.state.write() {
                *state = (ring, modified);
            }
        }
        Ok(())
    }

    fn with_ring<T>(&self, f: impl FnOnce(&MasterKeyring) -> Result<T, CryptoError>) -> Result<T, CryptoError> {
        let state = self.state.read().map_err(|_| CryptoError::Keyring("keyring lock poisoned".into()))?;
        f(&state.0)
    }
}

fn read(path: &Path) -> Result<(MasterKeyring, Option<SystemTime>)> {
    let text = fs::read_to_string(path).with_context(|| format!("cannot read master key file {}", path.display()))?;
    let ring = MasterKeyring::parse(&text).with_context(|| format!("master key file {} is not valid", path.display()))?;
    Ok((ring, fs::metadata(path).and_then(|m| m.modified()).ok()))
}

impl KeyProvider for FileKeyProvider {
    fn current_id(&self) -> Result<String, CryptoError> {
        self.refresh()?;
        self.with_ring(|ring| ring.current_id())
    }

    fn wrap(&self, key: &DataKey) -> Result<(String, Vec<u8>), CryptoError> {
        // Always under the newest current key, even if a rotation happened a moment ago.
        self.refresh()?;
        self.with_ring(|ring| ring.wrap(key))
    }

    fn unwrap(&self, master_id: &str, key_id: &str, wrapped: &[u8]) -> Result<DataKey, CryptoError> {
        if !self.with_ring(|ring| Ok(ring.has(master_id)))? {
            self.refresh()?;
        }
        self.with_ring(|ring| ring.unwrap(master_id, key_id, wrapped))
    }
}

/// Writes a keyring atomically (a temporary file renamed over the old one), mode 0600.
pub fn write(path: &Path, ring: &MasterKeyring) -> Result<()> {
    let tmp = path.with_extension("key.tmp");
    let _ = fs::remove_file(&tmp);
    let mut file = OpenOptions::new().create_new(true).write(true).mode(0o600).open(&tmp).with_context(|| format!("cannot write {}", tmp.display()))?;
    file.write_all(ring.to_text().as_bytes())?;
    file.sync_all()?;
    fs::rename(&tmp, path).with_context(|| format!("cannot replace {}", path.display()))?;
    // The rename itself must survive a crash before anything is wrapped under the new key.
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Where the master key is: the configured file, else `DATA_DIR/master.key`.
pub fn location(configured: Option<&Path>, data_dir: &DataDir) -> (PathBuf, bool) {
    match configured {
        Some(path) => (path.to_owned(), true),
        None => (data_dir.path().join(DEFAULT_FILE), false),
    }
}

/// The master key for a command. A configured file must exist. Without one,
/// `DATA_DIR/master.key` is used, and created only when `create` is set and the database holds
/// nothing sealed yet (a new installation); a database already sealed under a key that cannot
/// be found is an error, never a fresh key.
pub async fn provider(configured: Option<&Path>, data_dir: &DataDir, create: bool) -> Result<Arc<FileKeyProvider>> {
    let (path, explicit) = location(configured, data_dir);
    if path.exists() {
        return Ok(Arc::new(FileKeyProvider::load(&path)?));
    }
    if explicit {
        bail!("master key file {} does not exist", path.display());
    }
    let db = data_dir.path().join(crate::datadir::DATABASE_FILE);
    if gatehouse_store::sqlite::SqliteStore::holds_sealed_data(&db).await.with_context(|| format!("cannot inspect {}", db.display()))? {
        bail!(
            "{} is encrypted, but no master key was given (--master-key-file or GATEHOUSE_MASTER_KEY_FILE) and {} does not exist",
            db.display(),
            path.display()
        );
    }
    if !create {
        bail!("no master key: give --master-key-file (or GATEHOUSE_MASTER_KEY_FILE), or run `gatehouse serve` once to create {}", path.display());
    }
    data_dir.create()?;
    let ring = MasterKeyring::generate(crate::clock::now().unix_timestamp())?;
    write(&path, &ring)?;
    tracing::warn!(
        path = %path.display(),
        "generated a master key in the data directory; production keeps it elsewhere (--master-key-file), away from the database and its backups"
    );
    Ok(Arc::new(FileKeyProvider::load(&path)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rotated_file_is_picked_up_without_a_restart() {
        let dir = std::env::temp_dir().join(format!("gatehouse-master-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("master.key");
        let mut ring = MasterKeyring::generate(0).unwrap();
        write(&path, &ring).unwrap();
        let provider = FileKeyProvider::load(&path).unwrap();
        let first = provider.current_id().unwrap();
        let key = DataKey::generate("dk-t").unwrap();
        let (_, wrapped_first) = provider.wrap(&key).unwrap();
        // Another process rotates (coarse mtimes: make sure the time differs).
        std::thread::sleep(std::time::Duration::from_millis(20));
        let second = ring.rotate(1, 0, &[]).unwrap();
        let wrapped_second = ring.wrap(&key).unwrap().1;
        write(&path, &ring).unwrap();
        let touched = fs::metadata(&path).unwrap().modified().unwrap() + std::time::Duration::from_secs(1);
        fs::File::options().write(true).open(&path).unwrap().set_modified(touched).unwrap();
        assert_eq!(provider.unwrap(&second, "dk-t", &wrapped_second).unwrap().expose_bytes(), key.expose_bytes(), "an unknown id reloads");
        assert_eq!(provider.wrap(&key).unwrap().0, second);
        assert_eq!(provider.unwrap(&first, "dk-t", &wrapped_first).unwrap().expose_bytes(), key.expose_bytes(), "retired keys still open");
        fs::remove_dir_all(&dir).unwrap();
    }
}
