use async_trait::async_trait;
use gatehouse_core::SigningAlg;
use sqlx::Row;
use time::OffsetDateTime;

use super::{SqliteStore, from_ts, ts};
use crate::{KeyStore, StoreError, StoreResult, StoredKey};

#[async_trait]
impl KeyStore for SqliteStore {
    async fn signing_keys(&self) -> StoreResult<Vec<StoredKey>> {
        let rows = sqlx::query("SELECT kid, alg, pkcs8, created_at, activates_at, retired_at FROM signing_keys ORDER BY activates_at, created_at, kid")
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter()
            .map(|row| {
                let alg: String = row.try_get("alg")?;
                Ok(StoredKey {
                    kid: row.try_get("kid")?,
                    alg: SigningAlg::parse(&alg).map_err(|_| StoreError::Corrupt(format!("signing key alg `{alg}`")))?,
                    pkcs8: row.try_get("pkcs8")?,
                    created_at: from_ts(row.try_get("created_at")?)?,
                    activates_at: from_ts(row.try_get("activates_at")?)?,
                    retired_at: row.try_get::<Option<i64>, _>("retired_at")?.map(from_ts).transpose()?,
                })
            })
            .collect()
    }

    async fn rotate_signing_keys(&self, new_keys: &[StoredKey], audit: &gatehouse_core::audit::AuditEntry) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        for key in new_keys {
            // The keys it replaces (the signing one, and any still pending) retire as it activates.
            sqlx::query("UPDATE signing_keys SET retired_at = ? WHERE alg = ? AND (retired_at IS NULL OR retired_at > ?)")
                .bind(ts(key.activates_at))
                .bind(key.alg.as_str())
                .bind(ts(key.activates_at))
                .execute(&mut *tx)
                .await?;
            sqlx::query("INSERT INTO signing_keys (kid, alg, pkcs8, created_at, activates_at, retired_at) VALUES (?, ?, ?, ?, ?, NULL)")
                .bind(&key.kid)
                .bind(key.alg.as_str())
                .bind(&key.pkcs8)
                .bind(ts(key.created_at))
                .bind(ts(key.activates_at))
                .execute(&mut *tx)
                .await?;
        }
        super::audit::append_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn prune_signing_keys(&self, retired_before: OffsetDateTime) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM signing_keys WHERE retired_at IS NOT NULL AND retired_at < ?").bind(ts(retired_before)).execute(&self.pool).await?;
        Ok(done.rows_affected())
    }
}
