use async_trait::async_trait;
use gatehouse_core::ids::{TenantId, UserId};
use gatehouse_core::model::{Tenant, User};
use gatehouse_core::{Client, ClientId, Email, EmailDomain, GrantType, RedirectUri, SigningAlg};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use super::protection::open_column;
use super::{SqliteStore, from_ts, parse_list};
use crate::{DirectoryCounts, DirectoryStore, StoreError, StoreResult};

const CLIENT_COLUMNS: &str = "client_id, name, secret_digest, redirect_uris, post_logout_redirect_uris, grant_types, id_token_alg, policy, operator, scopes";

/// A policy column: JSON in the policy crate's serialisation, NULL for the defaults.
pub(super) fn policy_from<T: serde::de::DeserializeOwned + Default>(column: &str, raw: Option<String>) -> StoreResult<T> {
    match raw {
        None => Ok(T::default()),
        Some(text) => serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("{column}: {e}"))),
    }
}

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("{what} holds `{value}`"))
}

/// A user from a row of `user_select!()`, its sealed columns opened with the user's key.
pub(super) fn user_from_row(row: &SqliteRow, key: &gatehouse_crypto::DataKey) -> StoreResult<User> {
    let id: String = row.try_get("id")?;
    let email = open_column(row, "email", "users.email", &id, key)?;
    Ok(User {
        email: Email::parse(&email).map_err(|_| StoreError::Corrupt(format!("users.email of {id} is not an email")))?,
        name: open_column(row, "name", "users.name", &id, key)?,
        id: UserId::new(id),
        tenant_id: TenantId::new(row.try_get::<String, _>("tenant_id")?),
        password_hash: row.try_get("password_hash")?,
        roles: parse_list(&row.try_get::<String, _>("roles")?)?,
        email_verified: row.try_get::<i64, _>("email_verified")? != 0,
        credentials_reset_required: row.try_get::<i64, _>("credentials_reset_required")? != 0,
        credentials_reset_since: row.try_get::<Option<i64>, _>("credentials_reset_since")?.map(from_ts).transpose()?,
    })
}

pub(super) fn client_from_row(row: &SqliteRow) -> StoreResult<Client> {
    let uris = |column: &str| -> StoreResult<Vec<RedirectUri>> {
        parse_list(&row.try_get::<String, _>(column)?)?.into_iter().map(|u| RedirectUri::parse(&u).map_err(|_| corrupt(column, &u))).collect()
    };
    let grants = parse_list(&row.try_get::<String, _>("grant_types")?)?
        .into_iter()
        .map(|g| GrantType::parse(&g).map_err(|_| corrupt("clients.grant_types", &g)))
        .collect::<StoreResult<Vec<_>>>()?;
    let client_id: String = row.try_get("client_id")?;
    let alg: String = row.try_get("id_token_alg")?;
    Ok(Client {
        client_id: ClientId::parse(&client_id).map_err(|_| corrupt("clients.client_id", &client_id))?,
        name: row.try_get("name")?,
        secret_digest: row.try_get("secret_digest")?,
        redirect_uris: uris("redirect_uris")?,
        post_logout_redirect_uris: uris("post_logout_redirect_uris")?,
        grant_types: grants,
        id_token_signed_response_alg: SigningAlg::parse(&alg).map_err(|_| corrupt("clients.id_token_alg", &alg))?,
        policy: policy_from("clients.policy", row.try_get("policy")?)?,
        operator: row.try_get::<i64, _>("operator")? != 0,
        scopes: parse_list(&row.try_get::<String, _>("scopes")?)?,
    })
}

impl SqliteStore {
    /// Opens a row of `user_select!()`.
    pub(super) async fn user_from_joined(&self, row: &SqliteRow) -> StoreResult<User> {
        let key = self.user_key_from_row(row).await?;
        user_from_row(row, &key)
    }

    pub(super) async fn tenant_by_id(&self, id: &str) -> StoreResult<Option<Tenant>> {
        let Some(row) = sqlx::query("SELECT id, name, policy, staged_policy, terminated_at, delete_after FROM tenants WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        let domains: Vec<String> =
            sqlx::query_scalar("SELECT domain FROM tenant_domains WHERE tenant_id = ? ORDER BY domain").bind(id).fetch_all(&self.pool).await?;
        Ok(Some(Tenant {
            id: TenantId::new(row.try_get::<String, _>("id")?),
            name: row.try_get("name")?,
            domains: domains.iter().map(|d| EmailDomain::parse(d).map_err(|_| corrupt("tenant_domains.domain", d))).collect::<StoreResult<_>>()?,
            policy: policy_from("tenants.policy", row.try_get("policy")?)?,
            staged_policy: row.try_get::<Option<String>, _>("staged_policy")?.map(|raw| policy_from("tenants.staged_policy", Some(raw))).transpose()?,
            termination: match (row.try_get::<Option<i64>, _>("terminated_at")?, row.try_get::<Option<i64>, _>("delete_after")?) {
                (Some(at), Some(due)) => Some(gatehouse_core::model::Termination { at: from_ts(at)?, deletion_due: from_ts(due)? }),
                _ => None,
            },
        }))
    }
}

#[async_trait]
impl DirectoryStore for SqliteStore {
    async fn user_by_email(&self, email: &Email) -> StoreResult<Option<User>> {
        let row = sqlx::query(concat!(user_select!(), " WHERE u.email_key = ?")).bind(self.vault.email_index(&email.key())?).fetch_optional(&self.pool).await?;
        match row {
            Some(row) => Ok(Some(self.user_from_joined(&row).await?)),
            None => Ok(None),
        }
    }

    async fn user(&self, id: &UserId) -> StoreResult<Option<User>> {
        let row = sqlx::query(concat!(user_select!(), " WHERE u.id = ?")).bind(id.as_str()).fetch_optional(&self.pool).await?;
        match row {
            Some(row) => Ok(Some(self.user_from_joined(&row).await?)),
            None => Ok(None),
        }
    }

    async fn tenant_for_domain(&self, domain: &EmailDomain) -> StoreResult<Option<Tenant>> {
        let id: Option<String> =
            sqlx::query_scalar("SELECT tenant_id FROM tenant_domains WHERE domain = ?").bind(domain.as_str()).fetch_optional(&self.pool).await?;
        match id {
            Some(id) => self.tenant_by_id(&id).await,
            None => Ok(None),
        }
    }

    async fn tenants(&self) -> StoreResult<Vec<Tenant>> {
        let ids: Vec<String> = sqlx::query_scalar("SELECT id FROM tenants ORDER BY name").fetch_all(&self.pool).await?;
        let mut tenants = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(t) = self.tenant_by_id(&id).await? {
                tenants.push(t);
            }
        }
        Ok(tenants)
    }

    async fn clients(&self) -> StoreResult<Vec<Client>> {
        let rows = sqlx::query(&format!("SELECT {CLIENT_COLUMNS} FROM clients ORDER BY client_id")).fetch_all(&self.pool).await?;
        rows.iter().map(client_from_row).collect()
    }

    async fn client(&self, id: &ClientId) -> StoreResult<Option<Client>> {
        let row = sqlx::query(&format!("SELECT {CLIENT_COLUMNS} FROM clients WHERE client_id = ?")).bind(id.as_str()).fetch_optional(&self.pool).await?;
        row.as_ref().map(client_from_row).transpose()
    }

    async fn counts(&self) -> StoreResult<DirectoryCounts> {
        let row = sqlx::query("SELECT (SELECT COUNT(*) FROM tenants) AS t, (SELECT COUNT(*) FROM users) AS u, (SELECT COUNT(*) FROM clients) AS c")
            .fetch_one(&self.pool)
            .await?;
        let n = |c: &str| -> StoreResult<u64> { Ok(u64::try_from(row.try_get::<i64, _>(c)?).unwrap_or(0)) };
        Ok(DirectoryCounts { tenants: n("t")?, users: n("u")?, clients: n("c")? })
    }
}
