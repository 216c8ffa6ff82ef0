//! A tenant's identity providers (their client secrets sealed under the tenant's key) and the
//! external identities linked to accounts.

use async_trait::async_trait;
use gatehouse_core::Email;
use gatehouse_core::audit::AuditEntry;
use gatehouse_core::federation::IdentityProvider;
use gatehouse_core::ids::UserId;
use sqlx::{Row, Sqlite, Transaction};
use time::OffsetDateTime;

use super::{SqliteStore, from_ts, ts};
use crate::vault::{open_text, seal_text};
use crate::{ExternalIdentity, FederationStore, NewLinkedUser, ProviderPlan, SamlSpKey, StoreError, StoreResult, StoredProvider};

const SECRET_FIELD: &str = "identity_providers.client_secret";

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("identity_providers.config: {e}"))
}

/// Creates or updates the provider of an import (its tenant already upserted as `tenant_id`);
/// returns whether anything changed. An absent secret keeps the stored one.
pub(super) async fn upsert_provider(
    store: &SqliteStore,
    tx: &mut Transaction<'_, Sqlite>,
    tenant_id: &str,
    plan: &ProviderPlan,
    now: i64,
) -> StoreResult<bool> {
    let mut provider = plan.provider.clone();
    provider.tenant_id = gatehouse_core::ids::TenantId::new(tenant_id);
    let config = serde_json::to_string(&provider).map_err(corrupt)?;
    let owner = provider.key();
    let key = store.tenant_key(tx, tenant_id).await?;
    let row = sqlx::query("SELECT config, client_secret FROM identity_providers WHERE tenant_id = ? AND provider_id = ?")
        .bind(tenant_id)
        .bind(provider.id.as_str())
        .fetch_optional(&mut **tx)
        .await?;
    let sealed = plan.client_secret.as_deref().map(|s| seal_text(&key, SECRET_FIELD, &owner, s)).transpose()?;
    // A domain signs in at one provider: another of the tenant's providers must not hold it.
    let others: Vec<String> = sqlx::query_scalar("SELECT config FROM identity_providers WHERE tenant_id = ? AND provider_id != ?")
        .bind(tenant_id)
        .bind(provider.id.as_str())
        .fetch_all(&mut **tx)
        .await?;
    for other in others {
        let other: IdentityProvider = serde_json::from_str(&other).map_err(corrupt)?;
        if let Some(shared) = provider.domains.iter().find(|d| other.domains.contains(d)) {
            return Err(StoreError::Conflict(format!("domain `{shared}` is bound to the tenant's provider `{}`", other.id)));
        }
    }
    match row {
        None => {
            sqlx::query("INSERT INTO identity_providers (tenant_id, provider_id, config, client_secret, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)")
                .bind(tenant_id)
                .bind(provider.id.as_str())
                .bind(&config)
                .bind(sealed)
                .bind(now)
                .bind(now)
                .execute(&mut **tx)
                .await?;
            Ok(true)
        }
        Some(row) => {
            let stored_config: String = row.try_get("config")?;
            let stored_secret: Option<String> = row.try_get("client_secret")?;
            let current_secret = stored_secret.as_deref().map(|s| open_text(&key, SECRET_FIELD, &owner, s)).transpose()?;
            let secret_changed = plan.client_secret.is_some() && plan.client_secret != current_secret;
            // A SAML provider has no client secret: one kept from an OpenID Connect past goes.
            let clear_secret = provider.saml().is_some() && stored_secret.is_some();
            if stored_config == config && !secret_changed && !clear_secret {
                return Ok(false);
            }
            if plan.client_secret.is_none() && !clear_secret {
                // A kept secret goes only where it was given: the same issuer and client id,
                // checked here under the write lock (a racing replacement cannot slip between).
                let stored: IdentityProvider = serde_json::from_str(&stored_config).map_err(corrupt)?;
                let owner = |p: &IdentityProvider| p.oidc().map(|o| (o.issuer.clone(), o.client_id.clone()));
                if stored_secret.is_some() && owner(&stored) != owner(&provider) {
                    return Err(StoreError::Conflict("a new issuer or client_id needs the client secret again".into()));
                }
            }
            sqlx::query(
                "UPDATE identity_providers SET config = ?, client_secret = CASE WHEN ? THEN NULL ELSE COALESCE(?, client_secret) END, updated_at = ? \
                 WHERE tenant_id = ? AND provider_id = ?",
            )
            .bind(&config)
            .bind(clear_secret)
            .bind(sealed)
            .bind(now)
            .bind(tenant_id)
            .bind(provider.id.as_str())
            .execute(&mut **tx)
            .await?;
            Ok(true)
        }
    }
}

async fn insert_link(tx: &mut Transaction<'_, Sqlite>, identity: &ExternalIdentity, user: &str, now: i64) -> StoreResult<()> {
    let inserted = match sqlx::query(
        "INSERT INTO external_identities (provider, issuer, subject, user_id, created_at, last_used_at) VALUES (?, ?, ?, ?, ?, ?) \
         ON CONFLICT (provider, issuer, subject) DO NOTHING",
    )
    .bind(&identity.provider)
    .bind(&identity.issuer)
    .bind(&identity.subject)
    .bind(user)
    .bind(now)
    .bind(now)
    .execute(&mut **tx)
    .await
    {
        // The account has an identity of this provider already (migration 0014).
        Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
            return Err(StoreError::Conflict("the account is already linked to an identity of this provider".into()));
        }
        other => other?,
    };
    if inserted.rows_affected() == 0 {
        return Err(StoreError::Conflict("this external identity is already linked to an account".into()));
    }
    Ok(())
}

#[async_trait]
impl FederationStore for SqliteStore {
    async fn identity_providers(&self) -> StoreResult<Vec<StoredProvider>> {
        let rows = sqlx::query("SELECT tenant_id, config, client_secret FROM identity_providers ORDER BY tenant_id, provider_id").fetch_all(&self.pool).await?;
        let mut conn = self.pool.acquire().await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let provider: IdentityProvider = serde_json::from_str(&row.try_get::<String, _>("config")?).map_err(corrupt)?;
            let tenant_id: String = row.try_get("tenant_id")?;
            let sealed: Option<String> = row.try_get("client_secret")?;
            let client_secret = match sealed {
                Some(sealed) => {
                    let key = self.tenant_key(&mut conn, &tenant_id).await?;
                    Some(open_text(&key, SECRET_FIELD, &provider.key(), &sealed)?)
                }
                None => None,
            };
            out.push(StoredProvider { provider, client_secret });
        }
        Ok(out)
    }

    async fn linked_user(&self, identity: &ExternalIdentity) -> StoreResult<Option<UserId>> {
        let user: Option<String> = sqlx::query_scalar("SELECT user_id FROM external_identities WHERE provider = ? AND issuer = ? AND subject = ?")
            .bind(&identity.provider)
            .bind(&identity.issuer)
            .bind(&identity.subject)
            .fetch_optional(&self.pool)
            .await?;
        Ok(user.map(UserId::new))
    }

    async fn has_linked_identity(&self, user: &UserId) -> StoreResult<bool> {
        let found: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM external_identities WHERE user_id = ? LIMIT 1").bind(user.as_str()).fetch_optional(&self.pool).await?;
        Ok(found.is_some())
    }

    async fn linked_identities(&self, user: &UserId) -> StoreResult<Vec<ExternalIdentity>> {
        let rows = sqlx::query("SELECT provider, issuer, subject FROM external_identities WHERE user_id = ? ORDER BY created_at, provider, issuer, subject")
            .bind(user.as_str())
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| Ok(ExternalIdentity { provider: row.try_get("provider")?, issuer: row.try_get("issuer")?, subject: row.try_get("subject")? }))
            .collect()
    }

    async fn unlink_identities(&self, user: &UserId, provider: &str, audit: &AuditEntry) -> StoreResult<u64> {
        let mut tx = self.write_tx().await?;
        let gone = sqlx::query("DELETE FROM external_identities WHERE user_id = ? AND provider = ?")
            .bind(user.as_str())
            .bind(provider)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if gone > 0 {
            super::audit::append_in(&mut tx, audit).await?;
        }
        tx.commit().await?;
        Ok(gone)
    }

    async fn link_identity(&self, identity: &ExternalIdentity, user: &UserId, now: OffsetDateTime, audit: &AuditEntry) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        let exists: Option<i64> = sqlx::query_scalar("SELECT 1 FROM users WHERE id = ?").bind(user.as_str()).fetch_optional(&mut *tx).await?;
        if exists.is_none() {
            return Err(StoreError::Conflict("no such account".into()));
        }
        insert_link(&mut tx, identity, user.as_str(), ts(now)).await?;
        super::audit::append_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn create_linked_user(&self, user: &NewLinkedUser, identity: &ExternalIdentity, now: OffsetDateTime, audit: &AuditEntry) -> StoreResult<()> {
        let now = ts(now);
        let id = user.id.as_str();
        let mut tx = self.write_tx().await?;
        let email_index = self.vault.email_index(&user.email.key())?;
        let taken: Option<i64> = sqlx::query_scalar("SELECT 1 FROM users WHERE email_key = ?").bind(&email_index).fetch_optional(&mut *tx).await?;
        if taken.is_some() {
            return Err(StoreError::Conflict("an account with this email exists".into()));
        }
        let tenant_key = self.tenant_key(&mut tx, user.tenant_id.as_str()).await?;
        let key = self.create_user_key(&mut tx, id, &tenant_key, now).await?;
        sqlx::query(
            "INSERT INTO users (id, tenant_id, email, email_key, name, password_hash, roles, email_verified, created_at, updated_at, key_id) \
             VALUES (?, ?, ?, ?, ?, NULL, '[]', ?, ?, ?, ?)",
        )
        .bind(id)
        .bind(user.tenant_id.as_str())
        .bind(seal_text(&key, "users.email", id, user.email.as_str())?)
        .bind(&email_index)
        .bind(seal_text(&key, "users.name", id, &user.name)?)
        .bind(i64::from(user.email_verified))
        .bind(now)
        .bind(now)
        .bind(key.id())
        .execute(&mut *tx)
        .await?;
        insert_link(&mut tx, identity, id, now).await?;
        sqlx::query(super::BUMP_GENERATION).execute(&mut *tx).await?;
        super::audit::append_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn refresh_linked_profile(&self, user: &UserId, email: &Email, name: &str, now: OffsetDateTime) -> StoreResult<bool> {
        let id = user.as_str();
        let mut tx = self.write_tx().await?;
        let Some(key) = self.user_key(&mut tx, id).await? else { return Ok(false) };
        let email_index = self.vault.email_index(&email.key())?;
        let holder: Option<String> = sqlx::query_scalar("SELECT id FROM users WHERE email_key = ?").bind(&email_index).fetch_optional(&mut *tx).await?;
        // Another account holds the new address: the name still follows, the email does not.
        let email_free = holder.as_deref().is_none_or(|h| h == id);
        let sealed_email = if email_free { Some(seal_text(&key, "users.email", id, email.as_str())?) } else { None };
        let done = sqlx::query(
            "UPDATE users SET name = ?, email = COALESCE(?, email), email_key = CASE WHEN ? THEN ? ELSE email_key END, \
             email_verified = CASE WHEN ? AND email_key != ? THEN 1 ELSE email_verified END, updated_at = ? WHERE id = ?",
        )
        .bind(seal_text(&key, "users.name", id, name)?)
        .bind(sealed_email)
        .bind(email_free)
        .bind(&email_index)
        .bind(email_free)
        .bind(&email_index)
        .bind(ts(now))
        .bind(id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(super::BUMP_GENERATION).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    async fn first_use_of_assertion(&self, provider: &str, assertion_id: &str, valid_until: OffsetDateTime, now: OffsetDateTime) -> StoreResult<bool> {
        sqlx::query("DELETE FROM saml_assertions_seen WHERE expires_at < ?").bind(ts(now)).execute(&self.pool).await?;
        let inserted = sqlx::query("INSERT INTO saml_assertions_seen (provider, assertion_id, expires_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING")
            .bind(provider)
            .bind(assertion_id)
            .bind(ts(valid_until))
            .execute(&self.pool)
            .await?;
        Ok(inserted.rows_affected() == 1)
    }

    async fn saml_sp_keys(&self) -> StoreResult<Vec<SamlSpKey>> {
        let rows =
            sqlx::query("SELECT kid, pkcs8, certificate, created_at, retired_at FROM saml_sp_keys ORDER BY created_at, kid").fetch_all(&self.pool).await?;
        rows.into_iter()
            .map(|row| {
                Ok(SamlSpKey {
                    kid: row.try_get("kid")?,
                    pkcs8: row.try_get("pkcs8")?,
                    certificate: row.try_get("certificate")?,
                    created_at: from_ts(row.try_get("created_at")?)?,
                    retired_at: row.try_get::<Option<i64>, _>("retired_at")?.map(from_ts).transpose()?,
                })
            })
            .collect()
    }

    async fn add_saml_sp_key(&self, key: &SamlSpKey, audit: &AuditEntry) -> StoreResult<bool> {
        let mut tx = self.write_tx().await?;
        // The index allows one active key: a racing node's insert does nothing.
        let done = sqlx::query("INSERT INTO saml_sp_keys (kid, pkcs8, certificate, created_at, retired_at) VALUES (?, ?, ?, ?, NULL) ON CONFLICT DO NOTHING")
            .bind(&key.kid)
            .bind(&key.pkcs8)
            .bind(&key.certificate)
            .bind(ts(key.created_at))
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        super::audit::append_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn save_identity_provider(
        &self,
        provider: &IdentityProvider,
        client_secret: Option<&str>,
        now: OffsetDateTime,
        audit: &AuditEntry,
    ) -> StoreResult<bool> {
        let tenant_id = provider.tenant_id.as_str();
        let mut tx = self.write_tx().await?;
        let existed: Option<i64> = sqlx::query_scalar("SELECT 1 FROM identity_providers WHERE tenant_id = ? AND provider_id = ?")
            .bind(tenant_id)
            .bind(provider.id.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        let plan = ProviderPlan { tenant_name: String::new(), provider: provider.clone(), client_secret: client_secret.map(str::to_owned) };
        upsert_provider(self, &mut tx, tenant_id, &plan, ts(now)).await?;
        super::audit::append_in(&mut tx, audit).await?;
        sqlx::query(super::BUMP_GENERATION).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(existed.is_none())
    }

    async fn delete_identity_provider(&self, provider_key: &str, audit: &AuditEntry) -> StoreResult<bool> {
        let Some((tenant_id, provider_id)) = provider_key.split_once('/') else { return Ok(false) };
        let mut tx = self.write_tx().await?;
        let gone = sqlx::query("DELETE FROM identity_providers WHERE tenant_id = ? AND provider_id = ?")
            .bind(tenant_id)
            .bind(provider_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if gone == 0 {
            return Ok(false);
        }
        // The links meant "this person at that provider": with the provider gone they mean nothing
        // (a provider created again under the same id starts without them).
        sqlx::query("DELETE FROM external_identities WHERE provider = ?").bind(provider_key).execute(&mut *tx).await?;
        super::audit::append_in(&mut tx, audit).await?;
        sqlx::query(super::BUMP_GENERATION).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(true)
    }
}
