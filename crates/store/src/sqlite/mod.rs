//! The embedded SQLite backend: one file in the data directory, WAL journal, `synchronous=FULL`
//! so a write acknowledged to a client survives a crash or power loss.

// Queries that open sealed rows join the row's data key. Written as macros expanding to string
// literals, so every such query is a `&'static str`: no allocation per read on the sign-in path.
macro_rules! user_key_columns {
    () => {
        "k.id AS k_id, k.wrapped_by AS k_by, k.wrapped AS k_wrapped"
    };
}
macro_rules! user_columns {
    () => {
        concat!(
            "u.id, u.tenant_id, u.email, u.name, u.password_hash, u.roles, u.email_verified, u.credentials_reset_required, u.credentials_reset_since, ",
            user_key_columns!()
        )
    };
}
/// A user's columns and their data key's (`... FROM users u JOIN data_keys k`).
macro_rules! user_select {
    () => {
        concat!("SELECT ", user_columns!(), " FROM users u JOIN data_keys k ON k.id = u.key_id")
    };
}

mod admin;
mod audit;
mod directory;
mod factors;
mod federation;
mod grants;
mod import;
mod keys;
mod migrations;
mod monitoring;
mod privacy;
mod protection;
mod sessions;
mod sign_ins;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;

use crate::{GenerationStore, Store, StoreError, StoreResult};

/// The database's file name in a data directory, and its snapshot's in a backup.
pub const DATABASE_FILE: &str = "gatehouse.db";

/// Opens restored SQLite databases (see [`crate::StoreOpener`]).
pub struct SqliteOpener;

#[async_trait]
impl crate::StoreOpener for SqliteOpener {
    async fn open_restored(&self, dir: &Path, provider: Arc<dyn gatehouse_crypto::KeyProvider>) -> StoreResult<Arc<dyn Store>> {
        Ok(Arc::new(SqliteStore::open(&dir.join(DATABASE_FILE), OpenMode::ReadWrite, provider).await?))
    }
}

/// Whether the caller may write. Read-only opens never migrate and never take write locks, so
/// inspection commands can run beside a live server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenMode {
    ReadWrite,
    ReadOnly,
}

#[derive(Clone, Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// One connection with `synchronous=NORMAL` for state a crash may lose: parked
    /// authorization requests and their progress. A lost one only makes the browser start
    /// its sign-in again, so these writes skip the fsync and a password sign-in has one
    /// durable commit, its completion (whose fsync of the WAL carries these frames too).
    transient: SqlitePool,
    vault: Arc<crate::vault::Vault>,
}

impl SqliteStore {
    /// Opens (creating if needed, when writable) the database at `path`, applies pending
    /// migrations and loads the data keys through `provider` (the master key). A master key
    /// that does not open the database is an error here, before anything is served.
    pub async fn open(path: &Path, mode: OpenMode, provider: Arc<dyn gatehouse_crypto::KeyProvider>) -> StoreResult<Self> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(mode == OpenMode::ReadWrite)
            .read_only(mode == OpenMode::ReadOnly)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            // Deleted rows are overwritten with zeros, so an erased person's data key does not
            // linger in free pages of the file.
            .pragma("secure_delete", "ON")
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new().max_connections(4).min_connections(1).connect_with(options.clone()).await?;
        if mode == OpenMode::ReadWrite {
            migrations::run(&pool).await?;
        }
        let transient = SqlitePoolOptions::new().max_connections(1).connect_with(options.synchronous(SqliteSynchronous::Normal)).await?;
        let store = Self { pool, transient, vault: Arc::new(crate::vault::Vault::new(provider)) };
        store.load_keys(mode).await?;
        Ok(store)
    }

    /// Whether a database file holds data keys (so only its own master key may open it). A
    /// missing file, or one from before encryption, does not.
    pub async fn holds_sealed_data(path: &Path) -> StoreResult<bool> {
        if !path.exists() {
            return Ok(false);
        }
        let options = SqliteConnectOptions::new().filename(path).read_only(true);
        let pool = SqlitePoolOptions::new().max_connections(1).connect_with(options).await?;
        let has_table: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'data_keys'").fetch_one(&pool).await?;
        let keys: i64 = if has_table > 0 { sqlx::query_scalar("SELECT COUNT(*) FROM data_keys").fetch_one(&pool).await? } else { 0 };
        pool.close().await;
        Ok(keys > 0)
    }

    /// A private in-memory database under a fresh master key, for tests.
    pub async fn in_memory() -> StoreResult<Self> {
        let keyring = gatehouse_crypto::MasterKeyring::generate(0).map_err(crate::vault::key_error)?;
        Self::in_memory_with(Arc::new(keyring)).await
    }

    pub async fn in_memory_with(provider: Arc<dyn gatehouse_crypto::KeyProvider>) -> StoreResult<Self> {
        let options = SqliteConnectOptions::new().in_memory(true).foreign_keys(true);
        // One connection: every connection to `:memory:` is its own database.
        let pool = SqlitePoolOptions::new().max_connections(1).connect_with(options).await?;
        migrations::run(&pool).await?;
        // The same connection: each connection to `:memory:` is its own database.
        let store = Self { transient: pool.clone(), pool, vault: Arc::new(crate::vault::Vault::new(provider)) };
        store.load_keys(OpenMode::ReadWrite).await?;
        Ok(store)
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// A write transaction that takes the write lock up front (`BEGIN IMMEDIATE`). A deferred
    /// transaction that reads before it writes fails with `SQLITE_BUSY` instead of waiting when
    /// another connection or process (an import beside the server) wrote in between.
    pub(crate) async fn write_tx(&self) -> StoreResult<sqlx::Transaction<'static, sqlx::Sqlite>> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }
}

/// Bumps the generation counter, so every server's caches reload.
pub(crate) const BUMP_GENERATION: &str = "UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) WHERE key = 'generation'";

pub(crate) fn ts(t: OffsetDateTime) -> i64 {
    t.unix_timestamp()
}

pub(crate) fn from_ts(secs: i64) -> StoreResult<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp(secs).map_err(|_| StoreError::Corrupt(format!("timestamp {secs} out of range")))
}

pub(crate) fn json_list(values: &[String]) -> String {
    serde_json::to_string(values).unwrap_or_else(|_| "[]".into())
}

pub(crate) fn parse_list(raw: &str) -> StoreResult<Vec<String>> {
    serde_json::from_str(raw).map_err(|_| StoreError::Corrupt(format!("list column holds `{raw}`")))
}

#[async_trait]
impl GenerationStore for SqliteStore {
    async fn generation(&self) -> StoreResult<i64> {
        let value: String = sqlx::query_scalar("SELECT value FROM meta WHERE key = 'generation'").fetch_one(&self.pool).await?;
        value.parse().map_err(|_| StoreError::Corrupt("meta.generation".into()))
    }

    async fn bump_generation(&self) -> StoreResult<i64> {
        let value: String = sqlx::query_scalar("UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) WHERE key = 'generation' RETURNING value")
            .fetch_one(&self.pool)
            .await?;
        value.parse().map_err(|_| StoreError::Corrupt("meta.generation".into()))
    }
}

#[async_trait]
impl crate::SnapshotStore for SqliteStore {
    fn snapshot_name(&self) -> &'static str {
        DATABASE_FILE
    }

    async fn snapshot_to(&self, path: &Path) -> StoreResult<()> {
        if path.exists() {
            return Err(StoreError::Conflict(format!("{} already exists", path.display())));
        }
        let target = path.to_str().ok_or_else(|| StoreError::Conflict("the snapshot path is not UTF-8".into()))?;
        // VACUUM INTO reads inside one transaction: a consistent snapshot beside live writers.
        sqlx::query("VACUUM INTO ?").bind(target).execute(&self.pool).await?;
        // Users' keys leave the copy; secure_delete overwrites their bytes with zeros.
        let options = SqliteConnectOptions::new().filename(path).pragma("secure_delete", "ON");
        let copy = SqlitePoolOptions::new().max_connections(1).connect_with(options).await?;
        let stripped = sqlx::query("DELETE FROM data_keys WHERE owner LIKE 'user:%'").execute(&copy).await.map(|_| ());
        copy.close().await;
        if let Err(e) = stripped {
            let _ = std::fs::remove_file(path);
            return Err(e.into());
        }
        Ok(())
    }

    async fn key_vault(&self) -> StoreResult<crate::KeyVault> {
        use sqlx::Row as _;
        let mut tx = self.pool.begin().await?;
        let instance: String = sqlx::query_scalar("SELECT value FROM meta WHERE key = 'instance_id'").fetch_one(&mut *tx).await?;
        let rows =
            sqlx::query("SELECT id, owner, wrapped_by, wrapped, created_at FROM data_keys WHERE owner LIKE 'user:%' ORDER BY id").fetch_all(&mut *tx).await?;
        let keys = rows
            .iter()
            .map(|row| {
                Ok(crate::WrappedKeyRecord {
                    id: row.try_get("id")?,
                    owner: row.try_get("owner")?,
                    wrapped_by: row.try_get("wrapped_by")?,
                    wrapped: row.try_get("wrapped")?,
                    created_at: row.try_get("created_at")?,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        let erased: Vec<String> = sqlx::query_scalar("SELECT user_id FROM erased_users ORDER BY user_id").fetch_all(&mut *tx).await?;
        tx.commit().await?;
        Ok(crate::KeyVault { instance, keys, erased })
    }

    async fn restore_user_keys(&self, vault: &crate::KeyVault) -> StoreResult<(u64, u64)> {
        let mut tx = self.write_tx().await?;
        let instance: String = sqlx::query_scalar("SELECT value FROM meta WHERE key = 'instance_id'").fetch_one(&mut *tx).await?;
        if instance != vault.instance {
            return Err(StoreError::Conflict("the target's key vault belongs to another installation; nothing was restored".into()));
        }
        let mut restored = 0;
        for key in &vault.keys {
            // Only the key a user of this database names: a key for someone created after the
            // snapshot has no row to open here.
            restored += sqlx::query(
                "INSERT OR IGNORE INTO data_keys (id, owner, wrapped_by, wrapped, created_at) \
                 SELECT ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM users WHERE id = ? AND key_id = ?)",
            )
            .bind(&key.id)
            .bind(&key.owner)
            .bind(&key.wrapped_by)
            .bind(&key.wrapped)
            .bind(key.created_at)
            // By the primary key: one look-up per key, whatever the number of users.
            .bind(key.owner.strip_prefix("user:").unwrap_or_default())
            .bind(&key.id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        }
        let keyless: Vec<String> =
            sqlx::query_scalar("SELECT id FROM users WHERE key_id IS NULL OR key_id NOT IN (SELECT id FROM data_keys)").fetch_all(&mut *tx).await?;
        let unexplained = keyless.iter().filter(|id| !vault.erased.contains(id)).count();
        if unexplained > 0 {
            return Err(StoreError::Conflict(format!(
                "the key vault lacks the keys of {unexplained} people who were never erased (it is older than the backup, or damaged); nothing was restored"
            )));
        }
        for id in &keyless {
            sqlx::query("DELETE FROM users WHERE id = ?").bind(id).execute(&mut *tx).await?;
            sqlx::query("INSERT OR IGNORE INTO erased_users (user_id, erased_at) SELECT ?, 0").bind(id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok((restored, keyless.len() as u64))
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn close(&self) {
        // Fold the WAL back into the main file so a copied data directory is self-contained
        // (the transient connection closed first, so the checkpoint waits on nobody).
        self.transient.close().await;
        let _ = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&self.pool).await;
        self.pool.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shared storage suite, one test per requirement, each on a fresh in-memory database.
    mod storage_suite {
        async fn fresh_store() -> crate::sqlite::SqliteStore {
            crate::sqlite::SqliteStore::in_memory().await.unwrap()
        }

        crate::storage_suite!(fresh_store);
    }

    #[tokio::test]
    async fn file_database_survives_reopen_and_read_only_open_works() {
        let dir = std::env::temp_dir().join(format!("gatehouse-store-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("gatehouse.db");
        let _ = std::fs::remove_file(&path);
        let keyring: Arc<dyn gatehouse_crypto::KeyProvider> = Arc::new(gatehouse_crypto::MasterKeyring::generate(0).unwrap());
        let store = SqliteStore::open(&path, OpenMode::ReadWrite, keyring.clone()).await.unwrap();
        store.bump_generation().await.unwrap();
        let reader = SqliteStore::open(&path, OpenMode::ReadOnly, keyring.clone()).await.unwrap();
        assert_eq!(reader.generation().await.unwrap(), 1);
        store.close().await;
        let reopened = SqliteStore::open(&path, OpenMode::ReadWrite, keyring).await.unwrap();
        assert_eq!(reopened.generation().await.unwrap(), 1);
        reopened.close().await;
        // Another master key does not open the database: a clear error, nothing changed.
        let other: Arc<dyn gatehouse_crypto::KeyProvider> = Arc::new(gatehouse_crypto::MasterKeyring::generate(0).unwrap());
        let refused = SqliteStore::open(&path, OpenMode::ReadWrite, other).await.unwrap_err();
        assert!(refused.to_string().contains("master key"), "{refused}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Parked requests (which a crash may lose: the browser starts again) are written without
    /// an fsync; everything else keeps `synchronous=FULL`. On a file, the two connections see
    /// each other's writes, and the completion answers a request parked on the other one.
    #[tokio::test]
    async fn parked_requests_skip_the_fsync_and_the_completion_keeps_it() {
        let (dir, path) = temp_db("transient");
        let keyring: Arc<dyn gatehouse_crypto::KeyProvider> = Arc::new(gatehouse_crypto::MasterKeyring::generate(0).unwrap());
        let store = SqliteStore::open(&path, OpenMode::ReadWrite, keyring).await.unwrap();
        let level = "PRAGMA synchronous";
        assert_eq!(sqlx::query_scalar::<_, i64>(level).fetch_one(&store.pool).await.unwrap(), 2, "FULL for durable writes");
        assert_eq!(sqlx::query_scalar::<_, i64>(level).fetch_one(&store.transient).await.unwrap(), 1, "NORMAL for parked requests");
        crate::suite::sign_in_completion_is_atomic(&store).await;
        store.close().await;
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn temp_db(name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("gatehouse-store-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("gatehouse.db");
        (dir, path)
    }

    /// Every byte of the database file (and its WAL) holds no test person's email, name, phone
    /// or TOTP secret in plaintext.
    #[tokio::test]
    async fn the_database_file_holds_no_personal_data_in_plaintext() {
        use crate::*;
        let (dir, path) = temp_db("scan");
        let keyring: Arc<dyn gatehouse_crypto::KeyProvider> = Arc::new(gatehouse_crypto::MasterKeyring::generate(0).unwrap());
        let store = SqliteStore::open(&path, OpenMode::ReadWrite, keyring.clone()).await.unwrap();
        crate::suite::seed_directory(&store).await;
        let alice = store.user_by_email(&gatehouse_core::Email::parse("Alice@ACME.test").unwrap()).await.unwrap().unwrap();
        assert_eq!((alice.email.as_str(), alice.name.as_str()), ("alice@acme.test", "Alice Example"), "reads open what writes sealed");
        store.rename_factor(&alice.id, &gatehouse_core::ids::FactorId::new("f-imported-sms"), "Alice's work phone").await.unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.extend(std::fs::read(dir.join("gatehouse.db-wal")).unwrap_or_default());
        store.close().await;
        bytes.extend(std::fs::read(&path).unwrap());
        let contains = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w.eq_ignore_ascii_case(needle));
        for needle in [&b"alice@acme.test"[..], b"Alice Example", b"+358401234567", b"358401234567", b"Alice's work phone", &[42u8; 20]] {
            assert!(!contains(needle), "the database holds {:?} in plaintext", String::from_utf8_lossy(needle));
        }
        assert!(contains(b"acme.test"), "the scan does see plaintext (tenant domains are not personal)");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// After an erasure, the person's wrapped data key is gone from every byte of the file and
    /// its WAL, so nothing left behind (free pages included) can be opened again.
    #[tokio::test]
    async fn an_erased_persons_data_key_leaves_no_bytes_behind() {
        use crate::*;
        let (dir, path) = temp_db("shred");
        let keyring: Arc<dyn gatehouse_crypto::KeyProvider> = Arc::new(gatehouse_crypto::MasterKeyring::generate(0).unwrap());
        let store = SqliteStore::open(&path, OpenMode::ReadWrite, keyring).await.unwrap();
        crate::suite::seed_directory(&store).await;
        let wrapped: Vec<u8> = sqlx::query_scalar("SELECT wrapped FROM data_keys WHERE owner = 'user:u-alice'").fetch_one(store.pool()).await.unwrap();
        let sealed_name: String = sqlx::query_scalar("SELECT name FROM users WHERE id = 'u-alice'").fetch_one(store.pool()).await.unwrap();
        // u-alice is the tenant's only admin: give the tenant another one first.
        sqlx::query("UPDATE users SET roles = '[]' WHERE id = 'u-alice'").execute(store.pool()).await.unwrap();
        store.erase_user(&gatehouse_core::ids::UserId::new("u-alice"), crate::suite::NOW, &crate::suite::audit_entry("user.erase")).await.unwrap().unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.extend(std::fs::read(dir.join("gatehouse.db-wal")).unwrap_or_default());
        let contains = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
        assert!(!contains(&wrapped), "the wrapped user key lingers in the file");
        assert!(!contains(sealed_name.as_bytes()), "the sealed name lingers in the file");
        store.close().await;
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A snapshot holds no user key; putting keys back refuses a vault of another installation
    /// or one lacking someone never erased, and leaves out exactly the people erased since.
    #[tokio::test]
    async fn snapshots_hold_no_user_key_and_restores_trust_only_a_complete_vault() {
        use crate::*;
        let (dir, path) = temp_db("snapshot");
        let keyring: Arc<dyn gatehouse_crypto::KeyProvider> = Arc::new(gatehouse_crypto::MasterKeyring::generate(0).unwrap());
        let store = SqliteStore::open(&path, OpenMode::ReadWrite, keyring.clone()).await.unwrap();
        crate::suite::seed_directory(&store).await;
        let copy = dir.join("copy.db");
        store.snapshot_to(&copy).await.unwrap();
        assert!(matches!(store.snapshot_to(&copy).await, Err(StoreError::Conflict(_))), "never over an existing file");
        let vault = store.key_vault().await.unwrap();
        assert_eq!(vault.keys.len(), 1);
        let restored = SqliteStore::open(&copy, OpenMode::ReadWrite, keyring.clone()).await.unwrap();
        let user_keys: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM data_keys WHERE owner LIKE 'user:%'").fetch_one(restored.pool()).await.unwrap();
        assert_eq!(user_keys, 0, "the snapshot holds no user key");
        let foreign = KeyVault { instance: "another".into(), ..vault.clone() };
        assert!(matches!(restored.restore_user_keys(&foreign).await, Err(StoreError::Conflict(_))));
        let incomplete = KeyVault { keys: vec![], ..vault.clone() };
        assert!(matches!(restored.restore_user_keys(&incomplete).await, Err(StoreError::Conflict(_))), "alice was never erased");
        assert!(restored.user(&gatehouse_core::ids::UserId::new("u-alice")).await.unwrap().is_none(), "unreadable without her key");
        let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(restored.pool()).await.unwrap();
        assert_eq!(rows, 1, "nothing changed: her sealed row is still there");
        assert_eq!(restored.restore_user_keys(&vault).await.unwrap(), (1, 0));
        assert_eq!(restored.user(&gatehouse_core::ids::UserId::new("u-alice")).await.unwrap().unwrap().name, "Alice Example");
        let erased = KeyVault { keys: vec![], erased: vec!["u-alice".into()], ..vault };
        let again = dir.join("copy2.db");
        store.snapshot_to(&again).await.unwrap();
        let second = SqliteStore::open(&again, OpenMode::ReadWrite, keyring).await.unwrap();
        assert_eq!(second.restore_user_keys(&erased).await.unwrap(), (0, 1), "erased since: left out");
        assert!(second.user(&gatehouse_core::ids::UserId::new("u-alice")).await.unwrap().is_none());
        for s in [store, restored, second] {
            s.close().await;
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Master-key rotation re-wraps every master-wrapped key; afterwards the new key alone opens
    /// the database and every sealed value still reads.
    #[tokio::test]
    async fn master_key_rotation_rewraps_and_the_old_key_is_no_longer_needed() {
        use crate::*;
        let (dir, path) = temp_db("rotate");
        let mut ring = gatehouse_crypto::MasterKeyring::generate(0).unwrap();
        let old = gatehouse_crypto::KeyProvider::current_id(&ring).unwrap();
        let store = SqliteStore::open(&path, OpenMode::ReadWrite, Arc::new(gatehouse_crypto::MasterKeyring::parse(&ring.to_text()).unwrap())).await.unwrap();
        crate::suite::seed_directory(&store).await;
        assert_eq!(store.master_keys_in_use().await.unwrap(), std::slice::from_ref(&old));
        store.close().await;

        let new = ring.rotate(100, 0, &[]).unwrap();
        let store = SqliteStore::open(&path, OpenMode::ReadWrite, Arc::new(gatehouse_crypto::MasterKeyring::parse(&ring.to_text()).unwrap())).await.unwrap();
        let report = store.rewrap_data_keys().await.unwrap();
        assert_eq!(
            (report.current_master.as_str(), report.previous_masters.clone(), report.rewrapped),
            (new.as_str(), vec![old.clone()], 2),
            "the instance key and one tenant key"
        );
        assert_eq!(store.master_keys_in_use().await.unwrap(), std::slice::from_ref(&new));
        assert_eq!(store.rewrap_data_keys().await.unwrap().rewrapped, 0, "idempotent");
        store.close().await;

        // Past the retention window the old key leaves the keyring; the database still opens.
        ring.rotate(200, 150, &[]).unwrap();
        assert!(!ring.has(&old));
        let store = SqliteStore::open(&path, OpenMode::ReadWrite, Arc::new(gatehouse_crypto::MasterKeyring::parse(&ring.to_text()).unwrap())).await.unwrap();
        let alice = store.user(&gatehouse_core::ids::UserId::new("u-alice")).await.unwrap().unwrap();
        assert_eq!(alice.email.as_str(), "alice@acme.test");
        assert_eq!(store.factors(&alice.id).await.unwrap().len(), 2);
        store.close().await;
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A database from before encryption is sealed when it is first opened.
    #[tokio::test]
    async fn plaintext_rows_from_before_encryption_are_sealed_on_open() {
        use crate::*;
        let (dir, path) = temp_db("legacy");
        let keyring: Arc<dyn gatehouse_crypto::KeyProvider> = Arc::new(gatehouse_crypto::MasterKeyring::generate(0).unwrap());
        let store = SqliteStore::open(&path, OpenMode::ReadWrite, keyring.clone()).await.unwrap();
        // Rows as a version before encryption wrote them.
        sqlx::query("INSERT INTO tenants (id, name, created_at) VALUES ('t-old', 'Old Oy', 0)").execute(store.pool()).await.unwrap();
        sqlx::query("INSERT INTO users (id, tenant_id, email, email_key, name, roles, email_verified, created_at, updated_at) VALUES ('u-old', 't-old', 'Olga@old.test', 'olga@old.test', 'Olga Old', '[]', 1, 0, 0)")
            .execute(store.pool())
            .await
            .unwrap();
        sqlx::query("INSERT INTO factors (id, user_id, kind, label, secret, created_at, confirmed_at) VALUES ('f-old', 'u-old', 'sms', 'Phone', CAST('+358409999999' AS BLOB), 0, 0)")
            .execute(store.pool())
            .await
            .unwrap();
        store.close().await;
        let store = SqliteStore::open(&path, OpenMode::ReadWrite, keyring).await.unwrap();
        let olga = store.user_by_email(&gatehouse_core::Email::parse("olga@old.test").unwrap()).await.unwrap().unwrap();
        assert_eq!((olga.email.as_str(), olga.name.as_str()), ("Olga@old.test", "Olga Old"));
        assert_eq!(store.factors(&olga.id).await.unwrap().len(), 1);
        let raw: String = sqlx::query_scalar("SELECT email FROM users WHERE id = 'u-old'").fetch_one(store.pool()).await.unwrap();
        assert!(!raw.contains("old.test"));
        store.close().await;
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
