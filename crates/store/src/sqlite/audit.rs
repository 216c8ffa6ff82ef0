//! The audit trail in SQLite. Appends run inside the caller's write transaction (which holds
//! the write lock from its start), so the record and the change it describes land together and
//! two appends never chain to the same predecessor.

use async_trait::async_trait;
use gatehouse_core::audit::{AuditEntry, ChainedRecord, GENESIS, chain_hash};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, Sqlite, Transaction};

use super::SqliteStore;
use crate::{AuditStore, StoreError, StoreResult};

fn json(value: Option<&serde_json::Value>) -> Option<String> {
    value.map(serde_json::Value::to_string)
}

/// Appends `entry` after the current last record; returns its sequence number.
pub(super) async fn append_in(tx: &mut Transaction<'_, Sqlite>, entry: &AuditEntry) -> StoreResult<u64> {
    let last = sqlx::query("SELECT seq, hash FROM audit_records ORDER BY seq DESC LIMIT 1").fetch_optional(&mut **tx).await?;
    let (seq, prev) = match last {
        Some(row) => (u64::try_from(row.try_get::<i64, _>("seq")?).unwrap_or(0) + 1, row.try_get::<Vec<u8>, _>("hash")?),
        None => (1, GENESIS.to_vec()),
    };
    let hash = chain_hash(&prev, seq, entry);
    sqlx::query(
        "INSERT INTO audit_records (seq, at, actor, on_behalf_of, action, target, before, after, address, user_agent, reason, prev_hash, hash) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(i64::try_from(seq).map_err(|_| StoreError::Corrupt("audit sequence overflow".into()))?)
    .bind(entry.at)
    .bind(&entry.actor)
    .bind(&entry.on_behalf_of)
    .bind(&entry.action)
    .bind(&entry.target)
    .bind(json(entry.before.as_ref()))
    .bind(json(entry.after.as_ref()))
    .bind(&entry.address)
    .bind(&entry.user_agent)
    .bind(&entry.reason)
    .bind(prev)
    .bind(hash.as_slice())
    .execute(&mut **tx)
    .await?;
    Ok(seq)
}

fn record_from_row(row: &SqliteRow) -> StoreResult<ChainedRecord> {
    // A value that does not parse is kept as a string: the hash check then names the record.
    let json = |column: &str| -> StoreResult<Option<serde_json::Value>> {
        Ok(row.try_get::<Option<String>, _>(column)?.map(|text| serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text))))
    };
    Ok(ChainedRecord {
        seq: u64::try_from(row.try_get::<i64, _>("seq")?).unwrap_or(0),
        entry: AuditEntry {
            at: row.try_get("at")?,
            actor: row.try_get("actor")?,
            on_behalf_of: row.try_get("on_behalf_of")?,
            action: row.try_get("action")?,
            target: row.try_get("target")?,
            before: json("before")?,
            after: json("after")?,
            address: row.try_get("address")?,
            user_agent: row.try_get("user_agent")?,
            reason: row.try_get("reason")?,
        },
        prev_hash: row.try_get("prev_hash")?,
        hash: row.try_get("hash")?,
    })
}

#[async_trait]
impl AuditStore for SqliteStore {
    async fn append_audit(&self, entry: &AuditEntry) -> StoreResult<u64> {
        let mut tx = self.write_tx().await?;
        let seq = append_in(&mut tx, entry).await?;
        tx.commit().await?;
        Ok(seq)
    }

    async fn audit_records(&self, after_seq: u64, limit: u32) -> StoreResult<Vec<ChainedRecord>> {
        let rows = sqlx::query("SELECT * FROM audit_records WHERE seq > ? ORDER BY seq LIMIT ?")
            .bind(i64::try_from(after_seq).unwrap_or(i64::MAX))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(record_from_row).collect()
    }
}
