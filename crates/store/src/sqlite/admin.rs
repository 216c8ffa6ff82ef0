//! The admin API's writes in SQLite: both policy layers, each bumping the generation.

use async_trait::async_trait;
use gatehouse_core::ClientId;
use gatehouse_core::ids::TenantId;
use gatehouse_core::model::{Tenant, User};
use gatehouse_policy::{AppPolicy, DomainPolicy};
use sqlx::Row;
use time::OffsetDateTime;

use super::{SqliteStore, ts};
use crate::{AdminStore, StagedOutcome, StoreError, StoreResult};
use gatehouse_core::audit::AuditEntry;

fn json(value: &impl serde::Serialize) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

impl SqliteStore {
    /// Runs one update, bumps the generation and appends the audit record in one transaction;
    /// false when no row matched (nothing is written then).
    async fn update_and_bump(&self, sql: &str, value: Option<String>, id: &str, audit: &AuditEntry) -> StoreResult<bool> {
        let mut tx = self.write_tx().await?;
        let done = sqlx::query(sql).bind(value).bind(audit.at).bind(id).execute(&mut *tx).await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query(super::BUMP_GENERATION).execute(&mut *tx).await?;
        super::audit::append_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(true)
    }
}

#[async_trait]
impl AdminStore for SqliteStore {
    async fn tenant(&self, id: &TenantId) -> StoreResult<Option<Tenant>> {
        self.tenant_by_id(id.as_str()).await
    }

    async fn tenant_users(&self, id: &TenantId) -> StoreResult<Vec<User>> {
        let rows = sqlx::query(concat!(user_select!(), " WHERE u.tenant_id = ?")).bind(id.as_str()).fetch_all(&self.pool).await?;
        let mut users = Vec::with_capacity(rows.len());
        for row in &rows {
            users.push(self.user_from_joined(row).await?);
        }
        // Sorted here: the stored emails are sealed.
        users.sort_by(|a, b| a.email.as_str().cmp(b.email.as_str()));
        Ok(users)
    }

    async fn set_domain_policy(&self, id: &TenantId, policy: &DomainPolicy, audit: &AuditEntry) -> StoreResult<bool> {
        self.update_and_bump("UPDATE tenants SET policy = ?, staged_policy = NULL, updated_at = ? WHERE id = ?", Some(json(policy)?), id.as_str(), audit).await
    }

    async fn set_staged_policy(&self, id: &TenantId, policy: Option<&DomainPolicy>, audit: &AuditEntry) -> StoreResult<bool> {
        let value = policy.map(json).transpose()?;
        self.update_and_bump("UPDATE tenants SET staged_policy = ?, updated_at = ? WHERE id = ?", value, id.as_str(), audit).await
    }

    async fn set_app_policy(&self, id: &ClientId, policy: &AppPolicy, audit: &AuditEntry) -> StoreResult<bool> {
        self.update_and_bump("UPDATE clients SET policy = ?, updated_at = ? WHERE client_id = ?", Some(json(policy)?), id.as_str(), audit).await
    }

    async fn staged_outcomes(&self, id: &TenantId, since: OffsetDateTime) -> StoreResult<Vec<StagedOutcome>> {
        let rows = sqlx::query(
            "SELECT user_id, client_id, json_extract(decision, '$.outcome.kind') AS enforced, \
             json_extract(staged_decision, '$.outcome.kind') AS staged FROM sign_in_events \
             WHERE tenant_id = ? AND at >= ? AND staged_decision IS NOT NULL AND decision IS NOT NULL AND user_id IS NOT NULL \
             ORDER BY at",
        )
        .bind(id.as_str())
        .bind(ts(since))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(StagedOutcome {
                    user_id: gatehouse_core::ids::UserId::new(row.try_get::<String, _>("user_id")?),
                    client_id: row.try_get("client_id")?,
                    enforced: row.try_get::<Option<String>, _>("enforced")?.unwrap_or_default(),
                    staged: row.try_get::<Option<String>, _>("staged")?.unwrap_or_default(),
                })
            })
            .collect()
    }
}
