//! The audit trail in SQLite. Appends run inside the caller's write transaction (which holds
//! the write lock from its start), so the record and the change it describes land together and
//! two appends never chain to the same predecessor.

use async_trait::async_trait;
use gatehouse_core::audit::{AuditEntry, ChainedRecord, Checkpoint, GENESIS, chain_hash};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, Sqlite, Transaction};

use super::SqliteStore;
use crate::{AuditFilter, AuditStore, StoreError, StoreResult};

fn json(value: Option<&serde_json::Value>) -> Option<String> {
    value.map(serde_json::Value::to_string)
}

async fn head_in(tx: &mut Transaction<'_, Sqlite>) -> StoreResult<(u64, Vec<u8>)> {
    let last = sqlx::query("SELECT seq, hash FROM audit_records ORDER BY seq DESC LIMIT 1").fetch_optional(&mut **tx).await?;
    Ok(match last {
        Some(row) => (u64::try_from(row.try_get::<i64, _>("seq")?).unwrap_or(0), row.try_get::<Vec<u8>, _>("hash")?),
        // Everything pruned: the chain continues from the newest checkpoint.
        None => match sqlx::query("SELECT seq, hash FROM audit_checkpoints ORDER BY seq DESC LIMIT 1").fetch_optional(&mut **tx).await? {
            Some(row) => (u64::try_from(row.try_get::<i64, _>("seq")?).unwrap_or(0), row.try_get::<Vec<u8>, _>("hash")?),
            None => (0, GENESIS.to_vec()),
        },
    })
}

/// Appends `entry` after the current last record; returns its sequence number.
pub(super) async fn append_in(tx: &mut Transaction<'_, Sqlite>, entry: &AuditEntry) -> StoreResult<u64> {
    let (last, prev) = head_in(tx).await?;
    insert_record(tx, last + 1, &prev, entry).await.map(|_| last + 1)
}

/// Inserts the record at `seq` chained to `prev`; returns its hash.
async fn insert_record(tx: &mut Transaction<'_, Sqlite>, seq: u64, prev: &[u8], entry: &AuditEntry) -> StoreResult<[u8; 32]> {
    let hash = chain_hash(prev, seq, entry);
    sqlx::query(
        "INSERT INTO audit_records (seq, at, actor, on_behalf_of, action, target, tenant_id, before, after, address, user_agent, reason, prev_hash, hash) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(i64::try_from(seq).map_err(|_| StoreError::Corrupt("audit sequence overflow".into()))?)
    .bind(entry.at)
    .bind(&entry.actor)
    .bind(&entry.on_behalf_of)
    .bind(&entry.action)
    .bind(&entry.target)
    .bind(&entry.tenant)
    .bind(json(entry.before.as_ref()))
    .bind(json(entry.after.as_ref()))
    .bind(&entry.address)
    .bind(&entry.user_agent)
    .bind(&entry.reason)
    .bind(prev)
    .bind(hash.as_slice())
    .execute(&mut **tx)
    .await?;
    Ok(hash)
}

/// Records per multi-row INSERT (14 parameters each; SQLite allows 32,766 per statement).
const INSERT_CHUNK: usize = 128;

fn seq_param(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

fn checkpoint_from_row(row: &SqliteRow) -> StoreResult<Checkpoint> {
    Ok(Checkpoint {
        seq: u64::try_from(row.try_get::<i64, _>("seq")?).unwrap_or(0),
        hash: row.try_get("hash")?,
        at: row.try_get("at")?,
        kid: row.try_get("kid")?,
        signature: row.try_get("signature")?,
    })
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
            tenant: row.try_get("tenant_id")?,
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
            .bind(seq_param(after_seq))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(record_from_row).collect()
    }

    async fn append_audit_batch(&self, entries: &[AuditEntry]) -> StoreResult<u64> {
        let mut tx = self.write_tx().await?;
        let (mut seq, mut prev) = head_in(&mut tx).await?;
        // Hashes first (each needs the one before), then multi-row INSERTs: one statement per
        // chunk instead of one per record is most of a batch's cost saved.
        let mut rows = Vec::with_capacity(entries.len());
        for entry in entries {
            seq += 1;
            let hash = chain_hash(&prev, seq, entry).to_vec();
            rows.push((seq, std::mem::replace(&mut prev, hash.clone()), hash, entry));
        }
        let mut rest = &rows[..];
        while !rest.is_empty() {
            // Chunks of 128, 64, ... 1 records: a handful of distinct statements, each prepared
            // once and cached, whatever the batch size.
            let size = INSERT_CHUNK.min(1 << rest.len().ilog2());
            let (chunk, tail) = rest.split_at(size);
            rest = tail;
            let mut insert = sqlx::QueryBuilder::<Sqlite>::new(
                "INSERT INTO audit_records (seq, at, actor, on_behalf_of, action, target, tenant_id, before, after, address, user_agent, reason, prev_hash, hash) ",
            );
            insert.push_values(chunk, |mut row, (seq, prev, hash, entry)| {
                row.push_bind(seq_param(*seq))
                    .push_bind(entry.at)
                    .push_bind(&entry.actor)
                    .push_bind(&entry.on_behalf_of)
                    .push_bind(&entry.action)
                    .push_bind(&entry.target)
                    .push_bind(&entry.tenant)
                    .push_bind(json(entry.before.as_ref()))
                    .push_bind(json(entry.after.as_ref()))
                    .push_bind(&entry.address)
                    .push_bind(&entry.user_agent)
                    .push_bind(&entry.reason)
                    .push_bind(prev.as_slice())
                    .push_bind(hash.as_slice());
            });
            insert.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(seq)
    }

    async fn audit_head(&self) -> StoreResult<Option<(u64, Vec<u8>)>> {
        let row = sqlx::query("SELECT seq, hash FROM audit_records ORDER BY seq DESC LIMIT 1").fetch_optional(&self.pool).await?;
        row.map(|row| Ok((u64::try_from(row.try_get::<i64, _>("seq")?).unwrap_or(0), row.try_get::<Vec<u8>, _>("hash")?))).transpose()
    }

    async fn audit_query(&self, filter: &AuditFilter, before_seq: Option<u64>, limit: u32) -> StoreResult<Vec<ChainedRecord>> {
        // A family (`user.`) matches by prefix; the pattern escapes LIKE's wildcards.
        let action_pattern = filter.action.as_ref().map(|a| {
            let escaped = a.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
            if a.ends_with('.') { format!("{escaped}%") } else { escaped }
        });
        let rows = sqlx::query(
            "SELECT * FROM audit_records WHERE seq < ? \
             AND (? IS NULL OR tenant_id = ?) AND (? IS NULL OR actor = ?) AND (? IS NULL OR target = ?) \
             AND (? IS NULL OR action LIKE ? ESCAPE '\\') AND (? IS NULL OR at >= ?) AND (? IS NULL OR at < ?) \
             ORDER BY seq DESC LIMIT ?",
        )
        .bind(before_seq.map_or(i64::MAX, seq_param))
        .bind(filter.tenant.as_ref().map(|t| t.as_str().to_owned()))
        .bind(filter.tenant.as_ref().map(|t| t.as_str().to_owned()))
        .bind(&filter.actor)
        .bind(&filter.actor)
        .bind(&filter.target)
        .bind(&filter.target)
        .bind(&action_pattern)
        .bind(&action_pattern)
        .bind(filter.since)
        .bind(filter.since)
        .bind(filter.until)
        .bind(filter.until)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(record_from_row).collect()
    }

    async fn add_checkpoint(&self, checkpoint: &Checkpoint) -> StoreResult<()> {
        sqlx::query("INSERT INTO audit_checkpoints (seq, hash, at, kid, signature) VALUES (?, ?, ?, ?, ?) ON CONFLICT (seq) DO NOTHING")
            .bind(seq_param(checkpoint.seq))
            .bind(&checkpoint.hash)
            .bind(checkpoint.at)
            .bind(&checkpoint.kid)
            .bind(&checkpoint.signature)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn checkpoints(&self) -> StoreResult<Vec<Checkpoint>> {
        let rows = sqlx::query("SELECT seq, hash, at, kid, signature FROM audit_checkpoints ORDER BY seq").fetch_all(&self.pool).await?;
        rows.iter().map(checkpoint_from_row).collect()
    }

    async fn prune_audit(&self, through_seq: u64) -> StoreResult<u64> {
        let mut tx = self.write_tx().await?;
        let anchored: Option<i64> =
            sqlx::query_scalar("SELECT seq FROM audit_checkpoints WHERE seq = ?").bind(seq_param(through_seq)).fetch_optional(&mut *tx).await?;
        if anchored.is_none() {
            return Err(StoreError::Conflict(format!("no checkpoint at record {through_seq}: the audit trail is pruned only at a checkpoint")));
        }
        let deleted = sqlx::query("DELETE FROM audit_records WHERE seq <= ?").bind(seq_param(through_seq)).execute(&mut *tx).await?.rows_affected();
        sqlx::query("DELETE FROM audit_checkpoints WHERE seq < ?").bind(seq_param(through_seq)).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(deleted)
    }
}
