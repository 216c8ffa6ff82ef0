//! Envelope encryption in SQLite: the `data_keys` table, unwrapping a row's key, sealing rows
//! written before encryption existed, and re-wrapping under a new master key.

use gatehouse_crypto::DataKey;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};
use std::sync::Arc;

use super::{OpenMode, SqliteStore};
use crate::vault::{INSTANCE_KEY_OWNER, key_error, new_key_id, open_text, seal_bytes, seal_text};
use crate::{RewrapReport, StoreError, StoreResult};

impl SqliteStore {
    /// Loads (or, in a new writable database, creates) the instance key, which proves the master
    /// key opens this database, then seals any rows written before encryption existed.
    pub(super) async fn load_keys(&self, mode: OpenMode) -> StoreResult<()> {
        let row = sqlx::query("SELECT id, wrapped_by, wrapped FROM data_keys WHERE owner = ?").bind(INSTANCE_KEY_OWNER).fetch_optional(&self.pool).await?;
        let instance = match row {
            Some(row) => self
                .vault
                .unwrap_master_wrapped(&row.try_get::<String, _>("id")?, &row.try_get::<String, _>("wrapped_by")?, &row.try_get::<Vec<u8>, _>("wrapped")?)
                .map_err(|e| StoreError::Key(format!("the configured master key does not open this database ({e})")))?,
            None if mode == OpenMode::ReadWrite => {
                let mut tx = self.write_tx().await?;
                let key = self.create_master_wrapped_key(&mut tx, INSTANCE_KEY_OWNER, 0).await?;
                tx.commit().await?;
                key
            }
            None => return Err(StoreError::Key("the database has no instance key (open it writable once to create one)".into())),
        };
        self.vault.set_instance_key(&instance)?;
        // Every tenant key opens now, or the command stops here (not at some request later).
        let tenants = sqlx::query("SELECT id, wrapped_by, wrapped FROM data_keys WHERE owner LIKE 'tenant:%'").fetch_all(&self.pool).await?;
        for row in tenants {
            let id: String = row.try_get("id")?;
            self.vault
                .unwrap_master_wrapped(&id, &row.try_get::<String, _>("wrapped_by")?, &row.try_get::<Vec<u8>, _>("wrapped")?)
                .map_err(|e| StoreError::Key(format!("the configured master key does not open this database ({e})")))?;
        }
        if mode == OpenMode::ReadWrite {
            self.seal_legacy_rows().await?;
        }
        Ok(())
    }

    /// A new data key wrapped by the master key (the instance's or a tenant's).
    pub(super) async fn create_master_wrapped_key(&self, tx: &mut SqliteConnection, owner: &str, now: i64) -> StoreResult<Arc<DataKey>> {
        let key = DataKey::generate(new_key_id()?).map_err(key_error)?;
        let (master_id, wrapped) = self.vault.wrap_with_master(&key)?;
        sqlx::query("INSERT INTO data_keys (id, owner, wrapped_by, wrapped, created_at) VALUES (?, ?, ?, ?, ?)")
            .bind(key.id())
            .bind(owner)
            .bind(master_id)
            .bind(wrapped)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        Ok(self.vault.remember(key))
    }

    /// A new user's data key, wrapped by their tenant's.
    pub(super) async fn create_user_key(&self, tx: &mut SqliteConnection, user_id: &str, tenant_key: &DataKey, now: i64) -> StoreResult<DataKey> {
        let key = DataKey::generate(new_key_id()?).map_err(key_error)?;
        sqlx::query("INSERT INTO data_keys (id, owner, wrapped_by, wrapped, created_at) VALUES (?, ?, ?, ?, ?)")
            .bind(key.id())
            .bind(format!("user:{user_id}"))
            .bind(tenant_key.id())
            .bind(tenant_key.wrap(&key).map_err(key_error)?)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        Ok(key)
    }

    /// A key wrapped by the master key, from the cache or the table.
    pub(super) async fn master_wrapped_key(&self, conn: &mut SqliteConnection, id: &str) -> StoreResult<Arc<DataKey>> {
        if let Some(key) = self.vault.cached(id) {
            return Ok(key);
        }
        let row = sqlx::query("SELECT wrapped_by, wrapped FROM data_keys WHERE id = ?")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?
            .ok_or_else(|| StoreError::Key(format!("data key `{id}` does not exist")))?;
        self.vault.unwrap_master_wrapped(id, &row.try_get::<String, _>("wrapped_by")?, &row.try_get::<Vec<u8>, _>("wrapped")?)
    }

    /// A tenant's data key.
    pub(super) async fn tenant_key(&self, conn: &mut SqliteConnection, tenant_id: &str) -> StoreResult<Arc<DataKey>> {
        let key_id: Option<String> = sqlx::query_scalar("SELECT key_id FROM tenants WHERE id = ?").bind(tenant_id).fetch_optional(&mut *conn).await?.flatten();
        let key_id = key_id.ok_or_else(|| StoreError::Key(format!("tenant `{tenant_id}` has no data key")))?;
        self.master_wrapped_key(conn, &key_id).await
    }

    /// Opens the user key joined into a row (`user_key_columns!()`).
    pub(super) async fn user_key_from_row(&self, row: &SqliteRow) -> StoreResult<DataKey> {
        let by: String = row.try_get("k_by")?;
        let tenant_key = match self.vault.cached(&by) {
            Some(key) => key,
            None => self.master_wrapped_key(&mut *self.pool.acquire().await?, &by).await?,
        };
        tenant_key.unwrap_key(&row.try_get::<String, _>("k_id")?, &row.try_get::<Vec<u8>, _>("k_wrapped")?).map_err(key_error)
    }

    /// A user's data key, by user id (writes that seal a new value).
    pub(super) async fn user_key(&self, conn: &mut SqliteConnection, user_id: &str) -> StoreResult<Option<DataKey>> {
        let row = sqlx::query(concat!("SELECT ", user_key_columns!(), " FROM users u JOIN data_keys k ON k.id = u.key_id WHERE u.id = ?"))
            .bind(user_id)
            .fetch_optional(&mut *conn)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let by: String = row.try_get("k_by")?;
        let tenant_key = self.master_wrapped_key(conn, &by).await?;
        Ok(Some(tenant_key.unwrap_key(&row.try_get::<String, _>("k_id")?, &row.try_get::<Vec<u8>, _>("k_wrapped")?).map_err(key_error)?))
    }

    /// Seals what a database from before encryption holds in plaintext: gives every tenant and
    /// user a key, seals names, emails and factors, and replaces email keys by blind indexes.
    async fn seal_legacy_rows(&self) -> StoreResult<()> {
        let pending: i64 = sqlx::query_scalar("SELECT (SELECT COUNT(*) FROM tenants WHERE key_id IS NULL) + (SELECT COUNT(*) FROM users WHERE key_id IS NULL)")
            .fetch_one(&self.pool)
            .await?;
        if pending == 0 {
            return Ok(());
        }
        let mut tx = self.write_tx().await?;
        let tenants: Vec<String> = sqlx::query_scalar("SELECT id FROM tenants WHERE key_id IS NULL").fetch_all(&mut *tx).await?;
        for tenant in tenants {
            let key = self.create_master_wrapped_key(&mut tx, &format!("tenant:{tenant}"), 0).await?;
            sqlx::query("UPDATE tenants SET key_id = ? WHERE id = ?").bind(key.id()).bind(&tenant).execute(&mut *tx).await?;
        }
        let users = sqlx::query("SELECT id, tenant_id, email, name FROM users WHERE key_id IS NULL").fetch_all(&mut *tx).await?;
        for row in users {
            let (id, tenant, email, name): (String, String, String, String) =
                (row.try_get("id")?, row.try_get("tenant_id")?, row.try_get("email")?, row.try_get("name")?);
            let tenant_key = self.tenant_key(&mut tx, &tenant).await?;
            let key = self.create_user_key(&mut tx, &id, &tenant_key, 0).await?;
            let parsed = gatehouse_core::Email::parse(&email).map_err(|_| StoreError::Corrupt(format!("users.email of {id} is not an email")))?;
            sqlx::query("UPDATE users SET key_id = ?, email = ?, email_key = ?, name = ? WHERE id = ?")
                .bind(key.id())
                .bind(seal_text(&key, "users.email", &id, parsed.as_str())?)
                .bind(self.vault.email_index(&parsed.key())?)
                .bind(seal_text(&key, "users.name", &id, &name)?)
                .bind(&id)
                .execute(&mut *tx)
                .await?;
            let factors = sqlx::query("SELECT id, label, secret FROM factors WHERE user_id = ?").bind(&id).fetch_all(&mut *tx).await?;
            for factor in factors {
                let factor_id: String = factor.try_get("id")?;
                sqlx::query("UPDATE factors SET label = ?, secret = ? WHERE id = ?")
                    .bind(seal_text(&key, "factors.label", &factor_id, &factor.try_get::<String, _>("label")?)?)
                    .bind(seal_bytes(&key, "factors.secret", &factor_id, &factor.try_get::<Vec<u8>, _>("secret")?)?)
                    .bind(&factor_id)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        // The plaintext's old page images leave the WAL too.
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&self.pool).await?;
        tracing::info!(rows = pending, "sealed personal data written before encryption at rest");
        Ok(())
    }

    /// Re-wraps every key the master key wraps under the current master key (rotation). Runs
    /// beside a live server: the data keys themselves do not change, only their wrapping, so
    /// nothing sealed under them needs touching and no cached key goes stale.
    pub(super) async fn rewrap_master_wrapped(&self) -> StoreResult<RewrapReport> {
        let current = self.vault.provider().current_id().map_err(key_error)?;
        let mut report = RewrapReport { current_master: current.clone(), ..RewrapReport::default() };
        let mut tx = self.write_tx().await?;
        let rows = sqlx::query("SELECT id, wrapped_by, wrapped FROM data_keys WHERE owner NOT LIKE 'user:%' AND wrapped_by != ?")
            .bind(&current)
            .fetch_all(&mut *tx)
            .await?;
        for row in rows {
            let id: String = row.try_get("id")?;
            let old: String = row.try_get("wrapped_by")?;
            let key = self
                .vault
                .provider()
                .unwrap(&old, &id, &row.try_get::<Vec<u8>, _>("wrapped")?)
                .map_err(|e| StoreError::Key(format!("cannot unwrap data key `{id}` under master key `{old}`: {e}")))?;
            let (master_id, wrapped) = self.vault.wrap_with_master(&key)?;
            sqlx::query("UPDATE data_keys SET wrapped_by = ?, wrapped = ? WHERE id = ?").bind(master_id).bind(wrapped).bind(&id).execute(&mut *tx).await?;
            if !report.previous_masters.contains(&old) {
                report.previous_masters.push(old);
            }
            report.rewrapped += 1;
        }
        tx.commit().await?;
        Ok(report)
    }

    /// Master keys some data key is still wrapped under.
    pub(super) async fn master_keys_in_use(&self) -> StoreResult<Vec<String>> {
        Ok(sqlx::query_scalar("SELECT DISTINCT wrapped_by FROM data_keys WHERE owner NOT LIKE 'user:%' ORDER BY wrapped_by").fetch_all(&self.pool).await?)
    }
}

/// Opens a sealed text column of a row.
pub(super) fn open_column(row: &SqliteRow, column: &str, field: &str, owner: &str, key: &DataKey) -> StoreResult<String> {
    open_text(key, field, owner, &row.try_get::<String, _>(column)?)
}
