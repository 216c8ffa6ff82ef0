use async_trait::async_trait;
use gatehouse_core::ids::{GrantId, SessionId, UserId};
use sqlx::Row;
use sqlx::query::Query;
use sqlx::sqlite::{SqliteArguments, SqliteRow};
use sqlx::{Sqlite, Transaction};
use time::OffsetDateTime;

use super::{SqliteStore, from_ts, json_list, parse_list, ts};
use crate::{CodeRecord, CodeRedemption, GrantRecord, GrantStore, PendingAuthorization, RefreshRecord, RefreshRotation, Revocations, StoreResult};

// The column lists are macros so every statement below is a `concat!` constant: the token
// endpoint's hot paths build no SQL text per request.
macro_rules! grant_columns {
    () => {
        "id, client_id, user_id, session_id, scope, nonce, auth_time, acr, amr, requested_acr, created_at, revoked_at, idp"
    };
}
macro_rules! code_columns {
    () => {
        "digest, grant_id, client_id, redirect_uri, code_challenge, expires_at"
    };
}
macro_rules! refresh_columns {
    () => {
        "digest, grant_id, client_id, scope, created_at, expires_at"
    };
}

fn grant_from_row(row: &SqliteRow) -> StoreResult<GrantRecord> {
    Ok(GrantRecord {
        id: GrantId::new(row.try_get::<String, _>("id")?),
        client_id: row.try_get("client_id")?,
        user_id: UserId::new(row.try_get::<String, _>("user_id")?),
        session_id: row.try_get::<Option<String>, _>("session_id")?.map(SessionId::new),
        scope: row.try_get("scope")?,
        nonce: row.try_get("nonce")?,
        auth_time: from_ts(row.try_get("auth_time")?)?,
        acr: row.try_get("acr")?,
        amr: parse_list(&row.try_get::<String, _>("amr")?)?,
        requested_acr: parse_list(&row.try_get::<String, _>("requested_acr")?)?,
        created_at: from_ts(row.try_get("created_at")?)?,
        revoked_at: row.try_get::<Option<i64>, _>("revoked_at")?.map(from_ts).transpose()?,
        idp: row.try_get("idp")?,
    })
}

fn code_from_row(row: &SqliteRow) -> StoreResult<CodeRecord> {
    Ok(CodeRecord {
        digest: row.try_get("digest")?,
        grant_id: GrantId::new(row.try_get::<String, _>("grant_id")?),
        client_id: row.try_get("client_id")?,
        redirect_uri: row.try_get("redirect_uri")?,
        code_challenge: row.try_get("code_challenge")?,
        expires_at: from_ts(row.try_get("expires_at")?)?,
    })
}

fn refresh_from_row(row: &SqliteRow) -> StoreResult<RefreshRecord> {
    Ok(RefreshRecord {
        digest: row.try_get("digest")?,
        grant_id: GrantId::new(row.try_get::<String, _>("grant_id")?),
        client_id: row.try_get("client_id")?,
        scope: row.try_get("scope")?,
        created_at: from_ts(row.try_get("created_at")?)?,
        expires_at: from_ts(row.try_get("expires_at")?)?,
    })
}

/// Binds a grant's columns in `grant_columns!` order: its own insert and the sign-in
/// completion (`sessions.rs`) share it.
pub(super) fn bind_grant<'q>(query: Query<'q, Sqlite, SqliteArguments<'q>>, g: &'q GrantRecord) -> Query<'q, Sqlite, SqliteArguments<'q>> {
    query
        .bind(g.id.as_str())
        .bind(&g.client_id)
        .bind(g.user_id.as_str())
        .bind(g.session_id.as_ref().map(SessionId::as_str))
        .bind(&g.scope)
        .bind(&g.nonce)
        .bind(ts(g.auth_time))
        .bind(&g.acr)
        .bind(json_list(&g.amr))
        .bind(json_list(&g.requested_acr))
        .bind(ts(g.created_at))
        .bind(g.revoked_at.map(ts))
        .bind(&g.idp)
}

async fn insert_grant(tx: &mut Transaction<'_, Sqlite>, g: &GrantRecord) -> StoreResult<()> {
    let sql = concat!("INSERT INTO grants (", grant_columns!(), ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    bind_grant(sqlx::query(sql), g).execute(&mut **tx).await?;
    Ok(())
}

async fn insert_code(tx: &mut Transaction<'_, Sqlite>, c: &CodeRecord) -> StoreResult<()> {
    sqlx::query(concat!("INSERT INTO authorization_codes (", code_columns!(), ", used_at) VALUES (?, ?, ?, ?, ?, ?, NULL)"))
        .bind(&c.digest)
        .bind(c.grant_id.as_str())
        .bind(&c.client_id)
        .bind(&c.redirect_uri)
        .bind(&c.code_challenge)
        .bind(ts(c.expires_at))
        .execute(&mut **tx)
        .await?;
    Ok(())
}

#[async_trait]
impl GrantStore for SqliteStore {
    async fn save_pending(&self, p: &PendingAuthorization) -> StoreResult<()> {
        sqlx::query("INSERT INTO pending_authorizations (id, browser_digest, csrf_token, request, expires_at, progress) VALUES (?, ?, ?, ?, ?, ?)")
            .bind(&p.id)
            .bind(&p.browser_digest)
            .bind(&p.csrf_token)
            .bind(&p.request)
            .bind(ts(p.expires_at))
            .bind(&p.progress)
            .execute(&self.transient)
            .await?;
        Ok(())
    }

    async fn pending(&self, id: &str, now: OffsetDateTime) -> StoreResult<Option<PendingAuthorization>> {
        let row =
            sqlx::query("SELECT id, browser_digest, csrf_token, request, expires_at, progress FROM pending_authorizations WHERE id = ? AND expires_at > ?")
                .bind(id)
                .bind(ts(now))
                .fetch_optional(&self.pool)
                .await?;
        row.map(|row| {
            Ok(PendingAuthorization {
                id: row.try_get("id")?,
                browser_digest: row.try_get("browser_digest")?,
                csrf_token: row.try_get("csrf_token")?,
                request: row.try_get("request")?,
                expires_at: from_ts(row.try_get("expires_at")?)?,
                progress: row.try_get("progress")?,
            })
        })
        .transpose()
    }

    async fn update_pending_progress(&self, id: &str, expected: Option<&str>, progress: &str) -> StoreResult<bool> {
        // Compare-and-set: two tabs racing through the same step cannot both advance it.
        let done = sqlx::query("UPDATE pending_authorizations SET progress = ? WHERE id = ? AND progress IS ?")
            .bind(progress)
            .bind(id)
            .bind(expected)
            .execute(&self.transient)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_pending(&self, id: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM pending_authorizations WHERE id = ?").bind(id).execute(&self.transient).await?;
        Ok(())
    }

    async fn create_grant_with_code(&self, g: &GrantRecord, c: &CodeRecord) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        insert_grant(&mut tx, g).await?;
        insert_code(&mut tx, c).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn code(&self, digest: &[u8]) -> StoreResult<Option<(CodeRecord, bool)>> {
        let row = sqlx::query(concat!("SELECT ", code_columns!(), ", used_at FROM authorization_codes WHERE digest = ?"))
            .bind(digest)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| Ok((code_from_row(&row)?, row.try_get::<Option<i64>, _>("used_at")?.is_some()))).transpose()
    }

    async fn redeem_code(&self, digest: &[u8], client_id: &str, now: OffsetDateTime) -> StoreResult<CodeRedemption> {
        let mut tx = self.write_tx().await?;
        let redeemed = sqlx::query(concat!(
            "UPDATE authorization_codes SET used_at = ? WHERE digest = ? AND client_id = ? AND used_at IS NULL RETURNING ",
            code_columns!()
        ))
        .bind(ts(now))
        .bind(digest)
        .bind(client_id)
        .fetch_optional(&mut *tx)
        .await?;
        let outcome = match redeemed {
            Some(row) => CodeRedemption::Redeemed(code_from_row(&row)?),
            None => {
                let existing: Option<(String, String, Option<i64>)> =
                    sqlx::query_as("SELECT grant_id, client_id, used_at FROM authorization_codes WHERE digest = ?")
                        .bind(digest)
                        .fetch_optional(&mut *tx)
                        .await?;
                match existing {
                    Some((_, owner, _)) if owner != client_id => CodeRedemption::WrongClient,
                    Some((grant, _, Some(_))) => CodeRedemption::AlreadyUsed { grant_id: GrantId::new(grant) },
                    Some(_) | None => CodeRedemption::NotFound,
                }
            }
        };
        tx.commit().await?;
        Ok(outcome)
    }

    async fn grant(&self, id: &GrantId) -> StoreResult<Option<GrantRecord>> {
        let row = sqlx::query(concat!("SELECT ", grant_columns!(), " FROM grants WHERE id = ?")).bind(id.as_str()).fetch_optional(&self.pool).await?;
        row.as_ref().map(grant_from_row).transpose()
    }

    async fn revoke_grant(&self, id: &GrantId, now: OffsetDateTime) -> StoreResult<bool> {
        let done =
            sqlx::query("UPDATE grants SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL").bind(ts(now)).bind(id.as_str()).execute(&self.pool).await?;
        Ok(done.rows_affected() == 1)
    }

    async fn create_refresh_token(&self, r: &RefreshRecord) -> StoreResult<()> {
        sqlx::query(concat!("INSERT INTO refresh_tokens (", refresh_columns!(), ", used_at) VALUES (?, ?, ?, ?, ?, ?, NULL)"))
            .bind(&r.digest)
            .bind(r.grant_id.as_str())
            .bind(&r.client_id)
            .bind(&r.scope)
            .bind(ts(r.created_at))
            .bind(ts(r.expires_at))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn rotate_refresh_token(&self, digest: &[u8], successor: &RefreshRecord, now: OffsetDateTime) -> StoreResult<RefreshRotation> {
        let mut tx = self.write_tx().await?;
        let used = sqlx::query(concat!(
            "UPDATE refresh_tokens SET used_at = ? WHERE digest = ? AND used_at IS NULL AND expires_at > ? RETURNING ",
            refresh_columns!()
        ))
        .bind(ts(now))
        .bind(digest)
        .bind(ts(now))
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = used else {
            let reused: Option<(String, Option<i64>)> =
                sqlx::query_as("SELECT grant_id, used_at FROM refresh_tokens WHERE digest = ?").bind(digest).fetch_optional(&mut *tx).await?;
            tx.commit().await?;
            return Ok(match reused {
                Some((grant_id, Some(_))) => RefreshRotation::Reused { grant_id: GrantId::new(grant_id) },
                _ => RefreshRotation::Invalid,
            });
        };
        let previous = refresh_from_row(&row)?;
        let grant_row = sqlx::query(concat!("SELECT ", grant_columns!(), " FROM grants WHERE id = ? AND revoked_at IS NULL"))
            .bind(previous.grant_id.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        let Some(grant_row) = grant_row else {
            tx.rollback().await?;
            return Ok(RefreshRotation::Invalid);
        };
        let grant = grant_from_row(&grant_row)?;
        sqlx::query(concat!("INSERT INTO refresh_tokens (", refresh_columns!(), ", used_at) VALUES (?, ?, ?, ?, ?, ?, NULL)"))
            .bind(&successor.digest)
            .bind(previous.grant_id.as_str())
            .bind(&successor.client_id)
            // An empty successor scope means "the same scope as before".
            .bind(if successor.scope.is_empty() { &previous.scope } else { &successor.scope })
            .bind(ts(successor.created_at))
            .bind(ts(successor.expires_at))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(RefreshRotation::Rotated { previous, grant })
    }

    async fn refresh_token(&self, digest: &[u8]) -> StoreResult<Option<RefreshRecord>> {
        let row = sqlx::query(concat!("SELECT ", refresh_columns!(), " FROM refresh_tokens WHERE digest = ? AND used_at IS NULL"))
            .bind(digest)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(refresh_from_row).transpose()
    }

    async fn revocations(&self, now: OffsetDateTime) -> StoreResult<Revocations> {
        let tokens: Vec<(String, i64)> =
            sqlx::query_as("SELECT jti, expires_at FROM revoked_tokens WHERE expires_at > ?").bind(ts(now)).fetch_all(&self.pool).await?;
        // Access tokens live at most a day, so older revoked grants need not be remembered.
        let grants: Vec<String> =
            sqlx::query_scalar("SELECT id FROM grants WHERE revoked_at IS NOT NULL AND revoked_at > ?").bind(ts(now) - 86_400).fetch_all(&self.pool).await?;
        Ok(Revocations {
            access_token_ids: tokens.into_iter().map(|(j, e)| Ok((j, from_ts(e)?))).collect::<StoreResult<_>>()?,
            grant_ids: grants.into_iter().map(GrantId::new).collect(),
        })
    }

    async fn revoke_access_token(&self, jti: &str, expires_at: OffsetDateTime) -> StoreResult<()> {
        sqlx::query("INSERT INTO revoked_tokens (jti, expires_at) VALUES (?, ?) ON CONFLICT (jti) DO NOTHING")
            .bind(jti)
            .bind(ts(expires_at))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn purge_expired(&self, now: OffsetDateTime) -> StoreResult<u64> {
        let now = ts(now);
        let mut removed = 0;
        // Used codes are kept for a day so a replay is still recognised and revokes its grant.
        for (sql, cutoff) in [
            ("DELETE FROM pending_authorizations WHERE expires_at <= ?", now),
            ("DELETE FROM authorization_codes WHERE expires_at <= ?", now - 86_400),
            ("DELETE FROM refresh_tokens WHERE expires_at <= ?", now),
            ("DELETE FROM revoked_tokens WHERE expires_at <= ?", now),
            ("DELETE FROM sms_challenges WHERE expires_at <= ?", now - 86_400),
            ("DELETE FROM reported_addresses WHERE expires_at <= ?", now),
            // Enrolments abandoned before their first valid code or ceremony.
            ("DELETE FROM factors WHERE confirmed_at IS NULL AND created_at <= ?", now - 3_600),
        ] {
            removed += sqlx::query(sql).bind(cutoff).execute(&self.pool).await?.rows_affected();
        }
        Ok(removed)
    }
}
