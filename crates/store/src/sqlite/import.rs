//! Declarative import: upserts by natural key (tenant name, domain, email, client_id) in one
//! transaction, writing only what differs, so importing the same file twice changes nothing.

use async_trait::async_trait;
use gatehouse_core::{Client, ClientId, FactorKind};
use sqlx::{Sqlite, Transaction};
use time::OffsetDateTime;

use super::directory::{client_from_row, policy_from, user_from_row};
use super::{SqliteStore, json_list, ts};
use crate::{ImportPlan, ImportStore, ImportSummary, StoreError, StoreResult, TenantPlan, UserPlan};

#[derive(Clone, Copy)]
enum Change {
    Created,
    Updated,
    Unchanged,
}

impl ImportSummary {
    fn record(&mut self, change: Change) {
        match change {
            Change::Created => self.created += 1,
            Change::Updated => self.updated += 1,
            Change::Unchanged => self.unchanged += 1,
        }
    }
}

fn uris(list: &[gatehouse_core::RedirectUri]) -> String {
    json_list(&list.iter().map(|u| u.as_str().to_owned()).collect::<Vec<_>>())
}

async fn upsert_tenant(tx: &mut Transaction<'_, Sqlite>, plan: &TenantPlan, now: i64) -> StoreResult<(String, Change)> {
    let existing: Option<String> = sqlx::query_scalar("SELECT id FROM tenants WHERE name = ?").bind(&plan.name).fetch_optional(&mut **tx).await?;
    let (id, mut change) = match existing {
        Some(id) => (id, Change::Unchanged),
        None => {
            sqlx::query("INSERT INTO tenants (id, name, created_at) VALUES (?, ?, ?)")
                .bind(plan.new_id.as_str())
                .bind(&plan.name)
                .bind(now)
                .execute(&mut **tx)
                .await?;
            (plan.new_id.as_str().to_owned(), Change::Created)
        }
    };
    if let Some(policy) = &plan.policy {
        let stored: Option<String> = sqlx::query_scalar("SELECT policy FROM tenants WHERE id = ?").bind(&id).fetch_one(&mut **tx).await?;
        let current: gatehouse_policy::DomainPolicy = policy_from("tenants.policy", stored)?;
        if current != *policy {
            let json = serde_json::to_string(policy).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            sqlx::query("UPDATE tenants SET policy = ? WHERE id = ?").bind(json).bind(&id).execute(&mut **tx).await?;
            if matches!(change, Change::Unchanged) {
                change = Change::Updated;
            }
        }
    }
    for domain in &plan.domains {
        let owner: Option<String> = sqlx::query_scalar("SELECT tenant_id FROM tenant_domains WHERE domain = ?")
            .bind(domain.as_str())
            .fetch_optional(&mut **tx)
            .await?;
        match owner {
            Some(owner) if owner == id => {}
            Some(_) => return Err(StoreError::Conflict(format!("domain `{domain}` already belongs to another tenant"))),
            None => {
                sqlx::query("INSERT INTO tenant_domains (domain, tenant_id) VALUES (?, ?)").bind(domain.as_str()).bind(&id).execute(&mut **tx).await?;
                if matches!(change, Change::Unchanged) {
                    change = Change::Updated;
                }
            }
        }
    }
    Ok((id, change))
}

async fn upsert_user(tx: &mut Transaction<'_, Sqlite>, tenant_id: &str, plan: &UserPlan, now: i64) -> StoreResult<Change> {
    let row = sqlx::query(&format!("SELECT {} FROM users WHERE email_key = ?", super::directory::USER_COLUMNS))
        .bind(plan.email.key())
        .fetch_optional(&mut **tx)
        .await?;
    let roles = json_list(&plan.roles);
    let Some(row) = row else {
        sqlx::query(
            "INSERT INTO users (id, tenant_id, email, email_key, name, password_hash, roles, email_verified, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?)",
        )
        .bind(plan.new_id.as_str())
        .bind(tenant_id)
        .bind(plan.email.as_str())
        .bind(plan.email.key())
        .bind(&plan.name)
        .bind(&plan.password_hash)
        .bind(&roles)
        .bind(now)
        .bind(now)
        .execute(&mut **tx)
        .await?;
        import_factors(tx, plan.new_id.as_str(), plan, now).await?;
        return Ok(Change::Created);
    };
    let current = user_from_row(&row)?;
    if current.tenant_id.as_str() != tenant_id {
        return Err(StoreError::Conflict(format!("user `{}` belongs to another tenant", plan.email)));
    }
    let password_hash = plan.password_hash.clone().or(current.password_hash.clone());
    let factors_added = import_factors(tx, current.id.as_str(), plan, now).await?;
    if current.name == plan.name && current.roles == plan.roles && current.password_hash == password_hash && current.email == plan.email {
        return Ok(if factors_added { Change::Updated } else { Change::Unchanged });
    }
    sqlx::query("UPDATE users SET email = ?, name = ?, password_hash = ?, roles = ?, updated_at = ? WHERE id = ?")
        .bind(plan.email.as_str())
        .bind(&plan.name)
        .bind(&password_hash)
        .bind(&roles)
        .bind(now)
        .bind(current.id.as_str())
        .execute(&mut **tx)
        .await?;
    Ok(Change::Updated)
}

/// Enrols an imported TOTP secret or phone number unless the user already has that factor;
/// returns whether anything was added.
async fn import_factors(tx: &mut Transaction<'_, Sqlite>, user_id: &str, plan: &UserPlan, now: i64) -> StoreResult<bool> {
    let wanted = [
        (FactorKind::Totp, plan.totp_secret.clone(), "Authenticator app (imported)"),
        (FactorKind::Sms, plan.phone.as_ref().map(|p| p.as_str().as_bytes().to_vec()), "Phone (imported)"),
    ];
    let mut added = false;
    for ((kind, secret, label), new_id) in wanted.into_iter().zip(&plan.new_factor_ids) {
        let Some(secret) = secret else { continue };
        let exists: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM factors WHERE user_id = ? AND kind = ? AND secret = ?")
            .bind(user_id)
            .bind(kind.as_str())
            .bind(&secret)
            .fetch_one(&mut **tx)
            .await?;
        if exists == 0 {
            sqlx::query("INSERT INTO factors (id, user_id, kind, label, secret, created_at, confirmed_at) VALUES (?, ?, ?, ?, ?, ?, ?)")
                .bind(new_id.as_str())
                .bind(user_id)
                .bind(kind.as_str())
                .bind(label)
                .bind(&secret)
                .bind(now)
                .bind(now)
                .execute(&mut **tx)
                .await?;
            added = true;
        }
    }
    Ok(added)
}

async fn upsert_client(tx: &mut Transaction<'_, Sqlite>, client: &Client, now: i64) -> StoreResult<Change> {
    let row = sqlx::query(
        "SELECT client_id, name, secret_digest, redirect_uris, post_logout_redirect_uris, grant_types, id_token_alg, policy, operator FROM clients WHERE client_id = ?",
    )
    .bind(client.client_id.as_str())
    .fetch_optional(&mut **tx)
    .await?;
    let grants = json_list(&client.grant_types.iter().map(|g| g.as_str().to_owned()).collect::<Vec<_>>());
    let change = match row {
        Some(row) if client_from_row(&row)? == *client => return Ok(Change::Unchanged),
        Some(_) => Change::Updated,
        None => Change::Created,
    };
    sqlx::query(
        "INSERT INTO clients (client_id, name, secret_digest, redirect_uris, post_logout_redirect_uris, grant_types, id_token_alg, policy, operator, created_at, updated_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
         ON CONFLICT (client_id) DO UPDATE SET name = excluded.name, secret_digest = excluded.secret_digest, \
         redirect_uris = excluded.redirect_uris, post_logout_redirect_uris = excluded.post_logout_redirect_uris, \
         grant_types = excluded.grant_types, id_token_alg = excluded.id_token_alg, policy = excluded.policy, operator = excluded.operator, \
         updated_at = excluded.updated_at",
    )
    .bind(client.client_id.as_str())
    .bind(&client.name)
    .bind(&client.secret_digest)
    .bind(uris(&client.redirect_uris))
    .bind(uris(&client.post_logout_redirect_uris))
    .bind(grants)
    .bind(client.id_token_signed_response_alg.as_str())
    .bind(serde_json::to_string(&client.policy).map_err(|e| StoreError::Corrupt(e.to_string()))?)
    .bind(i64::from(client.operator))
    .bind(now)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(change)
}

#[async_trait]
impl ImportStore for SqliteStore {
    async fn apply_import(&self, plan: &ImportPlan, now: OffsetDateTime) -> StoreResult<ImportSummary> {
        let now = ts(now);
        let mut summary = ImportSummary::default();
        let mut tx = self.write_tx().await?;
        for tenant in &plan.tenants {
            let (tenant_id, change) = upsert_tenant(&mut tx, tenant, now).await?;
            summary.record(change);
            for user in &tenant.users {
                summary.record(upsert_user(&mut tx, &tenant_id, user, now).await?);
            }
        }
        for client in &plan.clients {
            summary.record(upsert_client(&mut tx, client, now).await?);
        }
        if summary.created + summary.updated > 0 {
            sqlx::query("UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) WHERE key = 'generation'").execute(&mut *tx).await?;
            for entry in &plan.audit {
                super::audit::append_in(&mut tx, entry).await?;
            }
        }
        tx.commit().await?;
        Ok(summary)
    }

    async fn set_client_secret(&self, id: &ClientId, digest: &[u8], now: OffsetDateTime, audit: &gatehouse_core::audit::AuditEntry) -> StoreResult<bool> {
        let mut tx = self.write_tx().await?;
        let done = sqlx::query("UPDATE clients SET secret_digest = ?, updated_at = ? WHERE client_id = ?")
            .bind(digest)
            .bind(ts(now))
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) WHERE key = 'generation'").execute(&mut *tx).await?;
        if done.rows_affected() == 1 {
            super::audit::append_in(&mut tx, audit).await?;
        }
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }
}
