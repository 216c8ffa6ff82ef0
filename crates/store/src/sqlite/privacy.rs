//! Erasure, access-report reads, the tenant lifecycle and master-key rotation in SQLite.

use async_trait::async_trait;
use gatehouse_core::FactorKind;
use gatehouse_core::audit::AuditEntry;
use gatehouse_core::ids::{GrantId, TenantId, UserId};
use gatehouse_core::model::Tenant;
use sqlx::{Row, SqliteConnection};
use time::OffsetDateTime;

use super::{SqliteStore, ts};
use crate::{DeviceRecord, Erasure, KeyManagementStore, PrivacyStore, RewrapReport, SessionRecord, StoreError, StoreResult, TenantDeletion};

/// Ends the sessions and revokes the grants of the given users (a subquery over `users`).
async fn stop_access(tx: &mut SqliteConnection, users: &str, bind: &str, at: i64) -> StoreResult<(u64, Vec<GrantId>)> {
    let ended = sqlx::query(&format!("UPDATE sessions SET ended_at = ? WHERE ended_at IS NULL AND user_id IN ({users})"))
        .bind(at)
        .bind(bind)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    let revoked: Vec<String> = sqlx::query_scalar(&format!("UPDATE grants SET revoked_at = ? WHERE revoked_at IS NULL AND user_id IN ({users}) RETURNING id"))
        .bind(at)
        .bind(bind)
        .fetch_all(&mut *tx)
        .await?;
    Ok((ended, revoked.into_iter().map(GrantId::new).collect()))
}

async fn count(tx: &mut SqliteConnection, sql: &str, bind: &str) -> StoreResult<u64> {
    let n: i64 = sqlx::query_scalar(sql).bind(bind).fetch_one(&mut *tx).await?;
    Ok(u64::try_from(n).unwrap_or(0))
}

impl SqliteStore {
    /// Folds the WAL into the file and truncates it, so earlier images of pages that held a
    /// destroyed key do not stay in the WAL until it happens to be overwritten. Best effort: a
    /// busy reader only delays it to the next checkpoint.
    async fn fold_wal(&self) {
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&self.pool).await {
            tracing::warn!(error = %e, "checkpoint after an erasure failed");
        }
    }
}

#[async_trait]
impl PrivacyStore for SqliteStore {
    async fn erase_user(&self, user: &UserId, now: OffsetDateTime, audit: &AuditEntry) -> StoreResult<Option<Erasure>> {
        let id = user.as_str();
        let mut tx = self.write_tx().await?;
        let Some(row) = sqlx::query("SELECT tenant_id, roles FROM users WHERE id = ?").bind(id).fetch_optional(&mut *tx).await? else {
            return Ok(None);
        };
        let tenant: String = row.try_get("tenant_id")?;
        let is_admin = super::parse_list(&row.try_get::<String, _>("roles")?)?.iter().any(|r| r == "admin");
        if is_admin {
            let admins: Vec<String> =
                sqlx::query_scalar("SELECT roles FROM users WHERE tenant_id = ? AND id != ?").bind(&tenant).bind(id).fetch_all(&mut *tx).await?;
            let others = admins.iter().filter_map(|r| super::parse_list(r).ok()).filter(|roles| roles.iter().any(|r| r == "admin")).count();
            if others == 0 {
                return Err(StoreError::Conflict("this person is the tenant's last admin; make someone else an admin first".into()));
            }
        }
        let (sessions, revoked_grants) = stop_access(&mut tx, "SELECT ?", id, ts(now)).await?;
        let erasure = Erasure {
            user: id.to_owned(),
            tenant: tenant.clone(),
            factors: count(&mut tx, "SELECT COUNT(*) FROM factors WHERE user_id = ?", id).await?,
            sessions,
            sign_ins: count(&mut tx, "SELECT COUNT(*) FROM sign_in_events WHERE user_id = ?", id).await?,
            devices: count(&mut tx, "SELECT COUNT(*) FROM devices WHERE user_id = ?", id).await?,
            revoked_grants,
        };
        // The key first: whatever copy of the rows survives anywhere stays sealed under it.
        sqlx::query("DELETE FROM data_keys WHERE owner = ?").bind(format!("user:{id}")).execute(&mut *tx).await?;
        sqlx::query("INSERT OR REPLACE INTO erased_users (user_id, erased_at) VALUES (?, ?)").bind(id).bind(ts(now)).execute(&mut *tx).await?;
        // Sign-ins in flight name the person in their progress.
        sqlx::query("DELETE FROM pending_authorizations WHERE instr(COALESCE(progress, ''), ?) > 0").bind(format!("\"{id}\"")).execute(&mut *tx).await?;
        // Alerts stay (security records, named by id), without the person's addresses and browsers.
        sqlx::query("UPDATE alerts SET details = '{\"redacted\":\"erasure\"}' WHERE subject = ?").bind(format!("user:{id}")).execute(&mut *tx).await?;
        sqlx::query("UPDATE reported_addresses SET user_id = NULL WHERE user_id = ?").bind(id).execute(&mut *tx).await?;
        // Factors, sessions, sign-in history, devices, recovery codes, SMS challenges and
        // lockout state go with the row (ON DELETE CASCADE).
        sqlx::query("DELETE FROM users WHERE id = ?").bind(id).execute(&mut *tx).await?;
        sqlx::query(super::BUMP_GENERATION).execute(&mut *tx).await?;
        super::audit::append_in(&mut tx, audit).await?;
        tx.commit().await?;
        self.fold_wal().await;
        Ok(Some(erasure))
    }

    async fn user_sessions(&self, user: &UserId) -> StoreResult<Vec<SessionRecord>> {
        super::sessions::sessions_of(&self.pool, user).await
    }

    async fn user_devices(&self, user: &UserId) -> StoreResult<Vec<DeviceRecord>> {
        super::sign_ins::devices_of(&self.pool, user).await
    }

    async fn terminate_tenant(&self, id: &TenantId, now: OffsetDateTime, deletion_due: OffsetDateTime, audit: &AuditEntry) -> StoreResult<bool> {
        let mut tx = self.write_tx().await?;
        let done = sqlx::query("UPDATE tenants SET terminated_at = ?, delete_after = ? WHERE id = ? AND terminated_at IS NULL")
            .bind(ts(now))
            .bind(ts(deletion_due))
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        stop_access(&mut tx, "SELECT id FROM users WHERE tenant_id = ?", id.as_str(), ts(now)).await?;
        sqlx::query(super::BUMP_GENERATION).execute(&mut *tx).await?;
        super::audit::append_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn reinstate_tenant(&self, id: &TenantId, audit: &AuditEntry) -> StoreResult<bool> {
        let mut tx = self.write_tx().await?;
        let done = sqlx::query("UPDATE tenants SET terminated_at = NULL, delete_after = NULL WHERE id = ? AND terminated_at IS NOT NULL")
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query(super::BUMP_GENERATION).execute(&mut *tx).await?;
        super::audit::append_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn tenants_due_for_deletion(&self, now: OffsetDateTime) -> StoreResult<Vec<Tenant>> {
        let ids: Vec<String> = sqlx::query_scalar("SELECT id FROM tenants WHERE delete_after IS NOT NULL AND delete_after <= ? ORDER BY delete_after")
            .bind(ts(now))
            .fetch_all(&self.pool)
            .await?;
        let mut tenants = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(tenant) = self.tenant_by_id(&id).await? {
                tenants.push(tenant);
            }
        }
        Ok(tenants)
    }

    async fn delete_tenant(&self, id: &TenantId, audit: &AuditEntry) -> StoreResult<Option<TenantDeletion>> {
        let Some(tenant) = self.tenant_by_id(id.as_str()).await? else { return Ok(None) };
        let t = id.as_str();
        let users = "SELECT id FROM users WHERE tenant_id = ?";
        let mut tx = self.write_tx().await?;
        // Checked inside the transaction: a tenant reinstated since it was listed stays.
        let due: Option<Option<i64>> =
            sqlx::query_scalar("SELECT delete_after FROM tenants WHERE id = ? AND terminated_at IS NOT NULL").bind(t).fetch_optional(&mut *tx).await?;
        if due.flatten().is_none_or(|due| due > audit.at) {
            return Err(StoreError::Conflict("only a terminated tenant whose deletion is due can be deleted".into()));
        }
        sqlx::query("INSERT OR REPLACE INTO erased_users (user_id, erased_at) SELECT id, ? FROM users WHERE tenant_id = ?")
            .bind(audit.at)
            .bind(t)
            .execute(&mut *tx)
            .await?;
        let key_id: Option<String> = sqlx::query_scalar("SELECT key_id FROM tenants WHERE id = ?").bind(t).fetch_one(&mut *tx).await?;
        let mut report = TenantDeletion {
            tenant: t.to_owned(),
            name: tenant.name.clone(),
            domains: tenant.domains.iter().map(|d| d.as_str().to_owned()).collect(),
            users: count(&mut tx, "SELECT COUNT(*) FROM users WHERE tenant_id = ?", t).await?,
            factors: count(&mut tx, &format!("SELECT COUNT(*) FROM factors WHERE user_id IN ({users})"), t).await?,
            sessions: count(&mut tx, &format!("SELECT COUNT(*) FROM sessions WHERE user_id IN ({users})"), t).await?,
            sign_ins: count(&mut tx, "SELECT COUNT(*) FROM sign_in_events WHERE tenant_id = ?", t).await?,
            grants: count(&mut tx, &format!("SELECT COUNT(*) FROM grants WHERE user_id IN ({users})"), t).await?,
            alerts: count(&mut tx, "SELECT COUNT(*) FROM alerts WHERE tenant_id = ?", t).await?,
            data_keys_destroyed: 0,
        };
        // Keys first (the tenant's, and its users' which it wraps): every copy of the tenant's
        // personal data, backups included, becomes unreadable.
        report.data_keys_destroyed = sqlx::query("DELETE FROM data_keys WHERE owner IN (SELECT 'user:' || id FROM users WHERE tenant_id = ?) OR id = ?")
            .bind(t)
            .bind(&key_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query(&format!("DELETE FROM grants WHERE user_id IN ({users})")).bind(t).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM sign_in_events WHERE tenant_id = ?").bind(t).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM alerts WHERE tenant_id = ?").bind(t).execute(&mut *tx).await?;
        sqlx::query(&format!("UPDATE reported_addresses SET user_id = NULL WHERE user_id IN ({users})")).bind(t).execute(&mut *tx).await?;
        // Users (and with them factors, sessions, devices, codes, lockouts) and domains cascade.
        sqlx::query("DELETE FROM tenants WHERE id = ?").bind(t).execute(&mut *tx).await?;
        sqlx::query(super::BUMP_GENERATION).execute(&mut *tx).await?;
        let audit = AuditEntry { after: Some(serde_json::to_value(&report).map_err(|e| StoreError::Corrupt(e.to_string()))?), ..audit.clone() };
        super::audit::append_in(&mut tx, &audit).await?;
        tx.commit().await?;
        if let Some(key_id) = key_id {
            self.vault.forget(&key_id);
        }
        self.fold_wal().await;
        Ok(Some(report))
    }

    async fn factor_adoption(&self) -> StoreResult<Vec<(TenantId, UserId, FactorKind)>> {
        let rows = sqlx::query("SELECT DISTINCT u.tenant_id, f.user_id, f.kind FROM factors f JOIN users u ON u.id = f.user_id WHERE f.confirmed_at IS NOT NULL ORDER BY u.tenant_id, f.user_id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                let kind: String = row.try_get("kind")?;
                Ok((
                    TenantId::new(row.try_get::<String, _>("tenant_id")?),
                    UserId::new(row.try_get::<String, _>("user_id")?),
                    FactorKind::parse(&kind).ok_or_else(|| StoreError::Corrupt(format!("factors.kind holds `{kind}`")))?,
                ))
            })
            .collect()
    }
}

#[async_trait]
impl KeyManagementStore for SqliteStore {
    async fn rewrap_data_keys(&self) -> StoreResult<RewrapReport> {
        self.rewrap_master_wrapped().await
    }

    async fn master_keys_in_use(&self) -> StoreResult<Vec<String>> {
        SqliteStore::master_keys_in_use(self).await
    }
}
