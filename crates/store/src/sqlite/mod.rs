//! The embedded SQLite backend: one file in the data directory, WAL journal, `synchronous=FULL`
//! so a write acknowledged to a client survives a crash or power loss.

mod admin;
mod audit;
mod directory;
mod factors;
mod grants;
mod import;
mod keys;
mod monitoring;
mod migrations;
mod sessions;
mod sign_ins;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use std::path::Path;
use std::time::Duration;
use time::OffsetDateTime;

use crate::{GenerationStore, Store, StoreError, StoreResult};

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
}

impl SqliteStore {
    /// Opens (creating if needed, when writable) the database at `path` and applies pending
    /// migrations.
    pub async fn open(path: &Path, mode: OpenMode) -> StoreResult<Self> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(mode == OpenMode::ReadWrite)
            .read_only(mode == OpenMode::ReadOnly)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new().max_connections(4).min_connections(1).connect_with(options).await?;
        if mode == OpenMode::ReadWrite {
            migrations::run(&pool).await?;
        }
        Ok(Self { pool })
    }

    /// A private in-memory database, for tests.
    pub async fn in_memory() -> StoreResult<Self> {
        let options = SqliteConnectOptions::new().in_memory(true).foreign_keys(true);
        // One connection: every connection to `:memory:` is its own database.
        let pool = SqlitePoolOptions::new().max_connections(1).connect_with(options).await?;
        migrations::run(&pool).await?;
        Ok(Self { pool })
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
        let value: String = sqlx::query_scalar(
            "UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) WHERE key = 'generation' RETURNING value",
        )
        .fetch_one(&self.pool)
        .await?;
        value.parse().map_err(|_| StoreError::Corrupt("meta.generation".into()))
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn close(&self) {
        // Fold the WAL back into the main file so a copied data directory is self-contained.
        let _ = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&self.pool).await;
        self.pool.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn shared_store_suite_passes_on_sqlite() {
        let store = SqliteStore::in_memory().await.unwrap();
        crate::suite::run_all(&store).await;
    }

    #[tokio::test]
    async fn file_database_survives_reopen_and_read_only_open_works() {
        let dir = std::env::temp_dir().join(format!("gatehouse-store-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("gatehouse.db");
        let _ = std::fs::remove_file(&path);
        let store = SqliteStore::open(&path, OpenMode::ReadWrite).await.unwrap();
        store.bump_generation().await.unwrap();
        let reader = SqliteStore::open(&path, OpenMode::ReadOnly).await.unwrap();
        assert_eq!(reader.generation().await.unwrap(), 1);
        store.close().await;
        let reopened = SqliteStore::open(&path, OpenMode::ReadWrite).await.unwrap();
        assert_eq!(reopened.generation().await.unwrap(), 1);
        reopened.close().await;
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
