//! Declarative import: upserts by natural key (tenant name, domain, email, client_id) in one
//! transaction, writing only what differs, so importing the same file twice changes nothing.

use async_trait::async_trait;
use gatehouse_core::{Client, ClientId, FactorKind};
use sqlx::{Row, Sqlite, Transaction};
use time::OffsetDateTime;

use super::directory::{client_from_row, policy_from, user_from_row};
use super::{SqliteStore, json_list, ts};
use crate::vault::{open_bytes, seal_bytes, seal_text};
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

async fn upsert_tenant(store: &SqliteStore, tx: &mut Transaction<'_, Sqlite>, plan: &TenantPlan, now: i64) -> StoreResult<(String, Change)> {
    let existing: Option<String> = sqlx::query_scalar("SELECT id FROM tenants WHERE name = ?").bind(&plan.name).fetch_optional(&mut **tx).await?;
    let (id, mut change) = match existing {
        Some(id) => (id, Change::Unchanged),
        None => {
            let key = store.create_master_wrapped_key(tx, &format!("tenant:{}", plan.new_id), now).await?;
            sqlx::query("INSERT INTO tenants (id, name, created_at, key_id) VALUES (?, ?, ?, ?)")
                .bind(plan.new_id.as_str())
                .bind(&plan.name)
                .bind(now)
                .bind(key.id())
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
        let owner: Option<String> =
            sqlx::query_scalar("SELECT tenant_id FROM tenant_domains WHERE domain = ?").bind(domain.as_str()).fetch_optional(&mut **tx).await?;
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

async fn upsert_user(store: &SqliteStore, tx: &mut Transaction<'_, Sqlite>, tenant_id: &str, plan: &UserPlan, now: i64) -> StoreResult<Change> {
    let email_index = store.vault.email_index(&plan.email.key())?;
    let row = sqlx::query(concat!(user_select!(), " WHERE u.email_key = ?")).bind(&email_index).fetch_optional(&mut **tx).await?;
    let roles = json_list(&plan.roles);
    let Some(row) = row else {
        let id = plan.new_id.as_str();
        let tenant_key = store.tenant_key(tx, tenant_id).await?;
        let key = store.create_user_key(tx, id, &tenant_key, now).await?;
        sqlx::query(
            "INSERT INTO users (id, tenant_id, email, email_key, name, password_hash, roles, email_verified, created_at, updated_at, key_id) \
             VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?)",
        )
        .bind(id)
        .bind(tenant_id)
        .bind(seal_text(&key, "users.email", id, plan.email.as_str())?)
        .bind(&email_index)
        .bind(seal_text(&key, "users.name", id, &plan.name)?)
        .bind(&plan.password_hash)
        .bind(&roles)
        .bind(now)
        .bind(now)
        .bind(key.id())
        .execute(&mut **tx)
        .await?;
        import_factors(tx, id, &key, plan, now).await?;
        return Ok(Change::Created);
    };
    let key = store.user_key(tx, &row.try_get::<String, _>("id")?).await?.ok_or_else(|| StoreError::Conflict("the user vanished during the import".into()))?;
    let current = user_from_row(&row, &key)?;
    if current.tenant_id.as_str() != tenant_id {
        return Err(StoreError::Conflict(format!("user `{}` belongs to another tenant", plan.email)));
    }
    let password_hash = plan.password_hash.clone().or(current.password_hash.clone());
    let factors_added = import_factors(tx, current.id.as_str(), &key, plan, now).await?;
    if current.name == plan.name && current.roles == plan.roles && current.password_hash == password_hash && current.email == plan.email {
        return Ok(if factors_added { Change::Updated } else { Change::Unchanged });
    }
    let id = current.id.as_str();
    sqlx::query("UPDATE users SET email = ?, name = ?, password_hash = ?, roles = ?, updated_at = ? WHERE id = ?")
        .bind(seal_text(&key, "users.email", id, plan.email.as_str())?)
        .bind(seal_text(&key, "users.name", id, &plan.name)?)
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
async fn import_factors(tx: &mut Transaction<'_, Sqlite>, user_id: &str, key: &gatehouse_crypto::DataKey, plan: &UserPlan, now: i64) -> StoreResult<bool> {
    let wanted = [
        (FactorKind::Totp, plan.totp_secret.clone(), "Authenticator app (imported)"),
        (FactorKind::Sms, plan.phone.as_ref().map(|p| p.as_str().as_bytes().to_vec()), "Phone (imported)"),
    ];
    let mut added = false;
    for ((kind, secret, label), new_id) in wanted.into_iter().zip(&plan.new_factor_ids) {
        let Some(secret) = secret else { continue };
        // Secrets are sealed with fresh nonces, so equality is checked on the opened values.
        let existing =
            sqlx::query("SELECT id, secret FROM factors WHERE user_id = ? AND kind = ?").bind(user_id).bind(kind.as_str()).fetch_all(&mut **tx).await?;
        let mut exists = false;
        for row in &existing {
            let factor_id: String = row.try_get("id")?;
            exists |= open_bytes(key, "factors.secret", &factor_id, &row.try_get::<Vec<u8>, _>("secret")?)? == secret;
        }
        if !exists {
            let factor_id = new_id.as_str();
            sqlx::query("INSERT INTO factors (id, user_id, kind, label, secret, created_at, confirmed_at) VALUES (?, ?, ?, ?, ?, ?, ?)")
                .bind(factor_id)
                .bind(user_id)
                .bind(kind.as_str())
                .bind(seal_text(key, "factors.label", factor_id, label)?)
                .bind(seal_bytes(key, "factors.secret", factor_id, &secret)?)
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
        "SELECT client_id, name, secret_digest, redirect_uris, post_logout_redirect_uris, grant_types, id_token_alg, policy, operator, scopes FROM clients WHERE client_id = ?",
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
        "INSERT INTO clients (client_id, name, secret_digest, redirect_uris, post_logout_redirect_uris, grant_types, id_token_alg, policy, operator, scopes, created_at, updated_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
         ON CONFLICT (client_id) DO UPDATE SET name = excluded.name, secret_digest = excluded.secret_digest, \
         redirect_uris = excluded.redirect_uris, post_logout_redirect_uris = excluded.post_logout_redirect_uris, \
         grant_types = excluded.grant_types, id_token_alg = excluded.id_token_alg, policy = excluded.policy, operator = excluded.operator, scopes = excluded.scopes, \
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
    .bind(json_list(&client.scopes))
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
            let (tenant_id, change) = upsert_tenant(self, &mut tx, tenant, now).await?;
            summary.record(change);
            for user in &tenant.users {
                summary.record(upsert_user(self, &mut tx, &tenant_id, user, now).await?);
            }
        }
        for provider in &plan.identity_providers {
            let tenant_id: Option<String> =
                sqlx::query_scalar("SELECT id FROM tenants WHERE name = ?").bind(&provider.tenant_name).fetch_optional(&mut *tx).await?;
            let tenant_id = tenant_id.ok_or_else(|| StoreError::Conflict(format!("no tenant named `{}`", provider.tenant_name)))?;
            let changed = super::federation::upsert_provider(self, &mut tx, &tenant_id, provider, now).await?;
            summary.record(if changed { Change::Updated } else { Change::Unchanged });
        }
        for client in &plan.clients {
            summary.record(upsert_client(&mut tx, client, now).await?);
        }
        if summary.created + summary.updated > 0 {
            sqlx::query(super::BUMP_GENERATION).execute(&mut *tx).await?;
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
        sqlx::query(super::BUMP_GENERATION).execute(&mut *tx).await?;
        if done.rows_affected() == 1 {
            super::audit::append_in(&mut tx, audit).await?;
        }
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }
}
