//! The data directory: the SQLite database, the secret pepper, and the lock that keeps a second
//! server off the same directory.

use anyhow::{Context, Result, bail};
use gatehouse_store::sqlite::{OpenMode, SqliteStore};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

pub const DATABASE_FILE: &str = "gatehouse.db";
const PEPPER_FILE: &str = "pepper.key";
const CHECKPOINT_KEY_FILE: &str = "audit-checkpoint.key";
const LOCK_FILE: &str = "server.lock";

pub struct DataDir {
    path: PathBuf,
}

/// Held for the server's lifetime; the OS releases it if the process dies.
pub struct ServerLock {
    _file: File,
}

impl DataDir {
    pub fn new(path: &Path) -> Self {
        Self { path: path.to_owned() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Creates the directory (mode 0700) if needed.
    pub fn create(&self) -> Result<()> {
        fs::create_dir_all(&self.path).with_context(|| format!("cannot create data directory {}", self.path.display()))?;
        fs::set_permissions(&self.path, fs::Permissions::from_mode(0o700)).ok();
        Ok(())
    }

    /// Takes the exclusive server lock, or explains who holds it.
    pub fn lock_for_server(&self) -> Result<ServerLock> {
        let path = self.path.join(LOCK_FILE);
        let mut file =
            OpenOptions::new().create(true).truncate(false).write(true).mode(0o600).open(&path).with_context(|| format!("cannot open {}", path.display()))?;
        if file.try_lock().is_err() {
            bail!(
                "another Gatehouse server is already running on data directory {} (lock {} is held); stop it or choose another --data-dir",
                self.path.display(),
                path.display()
            );
        }
        file.set_len(0).ok();
        let _ = writeln!(file, "{}", std::process::id());
        Ok(ServerLock { _file: file })
    }

    pub async fn open_store(&self, mode: OpenMode, provider: std::sync::Arc<dyn gatehouse_crypto::KeyProvider>) -> Result<SqliteStore> {
        let db = self.path.join(DATABASE_FILE);
        if mode == OpenMode::ReadOnly && !db.exists() {
            bail!("no Gatehouse data in {} (run `gatehouse serve` or `gatehouse import` first)", self.path.display());
        }
        if mode == OpenMode::ReadWrite {
            self.create()?;
        }
        SqliteStore::open(&db, mode, provider).await.with_context(|| format!("cannot open database {}", db.display()))
    }

    /// The key for digests of secrets, created on first use. It lives beside the database but
    /// outside it, so a leaked database alone cannot be used to test secret guesses.
    pub fn pepper(&self, create: bool) -> Result<Vec<u8>> {
        let path = self.path.join(PEPPER_FILE);
        match fs::read(&path) {
            Ok(bytes) if bytes.len() == 32 => Ok(bytes),
            Ok(_) => bail!("{} is corrupt (expected 32 bytes)", path.display()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {
                let bytes = gatehouse_crypto::random::bytes::<32>()?;
                let mut file =
                    OpenOptions::new().create_new(true).write(true).mode(0o600).open(&path).with_context(|| format!("cannot create {}", path.display()))?;
                file.write_all(&bytes)?;
                file.sync_all()?;
                Ok(bytes.to_vec())
            }
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    /// The instance key that signs audit checkpoints (Ed25519, PKCS#8), created on first use.
    /// Keep a copy of its public half (`gatehouse audit key`) away from this machine: with it,
    /// anyone can check the checkpoints even if this directory is compromised.
    pub fn checkpoint_key(&self, create: bool) -> Result<Vec<u8>> {
        let path = self.path.join(CHECKPOINT_KEY_FILE);
        match fs::read(&path) {
            Ok(bytes) => {
                gatehouse_crypto::SigningKey::from_pkcs8(gatehouse_core::SigningAlg::EdDSA, bytes.clone())
                    .with_context(|| format!("{} is corrupt", path.display()))?;
                Ok(bytes)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {
                let key = gatehouse_crypto::SigningKey::generate(gatehouse_core::SigningAlg::EdDSA)?;
                let mut file =
                    OpenOptions::new().create_new(true).write(true).mode(0o600).open(&path).with_context(|| format!("cannot create {}", path.display()))?;
                file.write_all(key.pkcs8())?;
                file.sync_all()?;
                Ok(key.pkcs8().to_vec())
            }
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }
}
