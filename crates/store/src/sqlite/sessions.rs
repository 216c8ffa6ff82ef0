use async_trait::async_trait;
use gatehouse_core::ids::{GrantId, SessionId, UserId};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use time::OffsetDateTime;

use super::{SqliteStore, from_ts, json_list, parse_list, ts};
use crate::{SessionRecord, SessionStore, SessionWrite, SignInCompletion, StoreError, StoreResult};
use sqlx::{Sqlite, Transaction};

const COLUMNS: &str = "id, secret_digest, user_id, created_at, last_seen_at, auth_time, acr, amr, ended_at, idp";

fn session_from_row(row: &SqliteRow) -> StoreResult<SessionRecord> {
    Ok(SessionRecord {
        id: SessionId::new(row.try_get::<String, _>("id")?),
        secret_digest: row.try_get("secret_digest")?,
        user_id: UserId::new(row.try_get::<String, _>("user_id")?),
        created_at: from_ts(row.try_get("created_at")?)?,
        last_seen_at: from_ts(row.try_get("last_seen_at")?)?,
        auth_time: from_ts(row.try_get("auth_time")?)?,
        acr: row.try_get("acr")?,
        amr: parse_list(&row.try_get::<String, _>("amr")?)?,
        ended_at: row.try_get::<Option<i64>, _>("ended_at")?.map(from_ts).transpose()?,
        idp: row.try_get("idp")?,
    })
}

async fn insert_session(tx: &mut Transaction<'_, Sqlite>, s: &SessionRecord) -> StoreResult<()> {
    sqlx::query(&format!("INSERT INTO sessions ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"))
        .bind(s.id.as_str())
        .bind(&s.secret_digest)
        .bind(s.user_id.as_str())
        .bind(ts(s.created_at))
        .bind(ts(s.last_seen_at))
        .bind(ts(s.auth_time))
        .bind(&s.acr)
        .bind(json_list(&s.amr))
        .bind(s.ended_at.map(ts))
        .bind(&s.idp)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

async fn end_session_in(tx: &mut Transaction<'_, Sqlite>, id: &SessionId, now: OffsetDateTime) -> StoreResult<Vec<GrantId>> {
    sqlx::query("UPDATE sessions SET ended_at = ? WHERE id = ? AND ended_at IS NULL").bind(ts(now)).bind(id.as_str()).execute(&mut **tx).await?;
    let revoked: Vec<String> = sqlx::query_scalar("UPDATE grants SET revoked_at = ? WHERE session_id = ? AND revoked_at IS NULL RETURNING id")
        .bind(ts(now))
        .bind(id.as_str())
        .fetch_all(&mut **tx)
        .await?;
    Ok(revoked.into_iter().map(GrantId::new).collect())
}

/// What the completion trigger (migration 0012) raises, and what each means to callers.
const ALREADY_ANSWERED: &str = "gatehouse: the sign-in request was already answered";
const SESSION_ENDED: &str = "gatehouse: the session ended while signing in";

fn completion_conflict(error: sqlx::Error) -> StoreError {
    match error.as_database_error().map(|e| e.message().to_owned()) {
        Some(message) if message.contains(ALREADY_ANSWERED) => StoreError::Conflict("the sign-in request was already answered".into()),
        Some(message) if message.contains(SESSION_ENDED) => StoreError::Conflict("the session ended while signing in".into()),
        _ => error.into(),
    }
}

/// The insert the completion trigger answers: one placeholder per column of the view (migration
/// 0013), a constant so the hot path builds no SQL text.
const COMPLETE_SIGN_IN: &str = "INSERT INTO sign_in_completions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

/// The common completion as one statement (an insert into the `sign_in_completions` view,
/// whose trigger writes every row): one round trip and one commit on the hot path.
async fn complete_in_one_statement<'e>(executor: impl sqlx::SqliteExecutor<'e>, c: &SignInCompletion) -> StoreResult<()> {
    let (renew, id, secret_digest, user_id, created_at, last_seen_at, auth_time, acr, amr, idp) = match &c.session {
        SessionWrite::Create(s) => {
            (0, &s.id, s.secret_digest.as_slice(), Some(&s.user_id), Some(s.created_at), Some(s.last_seen_at), s.auth_time, &s.acr, &s.amr, &s.idp)
        }
        SessionWrite::Reauthenticate { id, secret_digest, auth_time, acr, amr, idp } => {
            (1, id, secret_digest.as_slice(), None, None, None, *auth_time, acr, amr, idp)
        }
    };
    let (g, code) = (&c.grant, &c.code);
    let device = c.device.as_ref();
    let event = c.event.as_ref();
    let session = sqlx::query(COMPLETE_SIGN_IN)
        .bind(&c.pending_id)
        .bind(renew)
        .bind(id.as_str())
        .bind(secret_digest)
        .bind(user_id.map(UserId::as_str))
        .bind(created_at.map(ts))
        .bind(last_seen_at.map(ts))
        .bind(ts(auth_time))
        .bind(acr)
        .bind(json_list(amr))
        .bind(idp);
    super::grants::bind_grant(session, g)
        .bind(&code.digest)
        .bind(&code.client_id)
        .bind(&code.redirect_uri)
        .bind(&code.code_challenge)
        .bind(ts(code.expires_at))
        .bind(device.map(|d| d.id.as_str()))
        .bind(device.map(|d| d.user_id.as_str()))
        .bind(device.map(|d| ts(d.created_at)))
        .bind(device.map(|d| ts(d.last_seen_at)))
        .bind(device.and_then(|d| d.second_factor_at.map(ts)))
        .bind(device.map(|d| d.user_agent.as_str()))
        .bind(event.map(|e| e.id.as_str()))
        .bind(event.map(|e| ts(e.at)))
        .bind(event.and_then(|e| e.user_id.as_ref().map(UserId::as_str)))
        .bind(event.and_then(|e| e.tenant_id.as_ref().map(|t| t.as_str())))
        .bind(event.and_then(|e| e.client_id.as_deref()))
        .bind(event.map(|e| e.address.as_str()))
        .bind(event.map(|e| e.user_agent.as_str()))
        .bind(event.and_then(|e| e.device_id.as_deref()))
        .bind(event.map(|e| e.result.as_str()))
        .bind(event.map(|e| json_list(&e.amr)))
        .bind(event.and_then(|e| e.acr.as_deref()))
        .bind(event.and_then(|e| e.decision.as_ref().map(serde_json::Value::to_string)))
        .bind(event.map(|e| i64::from(e.risky)))
        .bind(event.and_then(|e| e.staged_decision.as_ref().map(serde_json::Value::to_string)))
        .bind(event.and_then(|e| e.reported_at.map(ts)))
        .bind(event.and_then(|e| e.idp.as_deref()))
        .execute(executor)
        .await
        .map_err(completion_conflict)?;
    Ok(())
}

/// A completion that first ends the session of another user on this browser: an explicit
/// transaction, since ending the session returns the grants it revoked.
async fn complete_ending_a_session(
    tx: &mut Transaction<'static, Sqlite>,
    ended: &SessionId,
    c: &SignInCompletion,
    now: OffsetDateTime,
) -> StoreResult<Vec<GrantId>> {
    let revoked = end_session_in(tx, ended, now).await?;
    complete_in_one_statement(&mut **tx, c).await?;
    Ok(revoked)
}

#[async_trait]
impl SessionStore for SqliteStore {
    async fn create_session(&self, s: &SessionRecord) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        insert_session(&mut tx, s).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn complete_sign_in(&self, c: &SignInCompletion, now: OffsetDateTime) -> StoreResult<Vec<GrantId>> {
        match &c.ended_session {
            None => complete_in_one_statement(&self.pool, c).await.map(|()| Vec::new()),
            Some(ended) => {
                let mut tx = self.write_tx().await?;
                let revoked = complete_ending_a_session(&mut tx, ended, c, now).await?;
                tx.commit().await?;
                Ok(revoked)
            }
        }
    }

    async fn session_by_secret(&self, secret_digest: &[u8]) -> StoreResult<Option<SessionRecord>> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM sessions WHERE secret_digest = ?")).bind(secret_digest).fetch_optional(&self.pool).await?;
        row.as_ref().map(session_from_row).transpose()
    }

    async fn session(&self, id: &SessionId) -> StoreResult<Option<SessionRecord>> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM sessions WHERE id = ?")).bind(id.as_str()).fetch_optional(&self.pool).await?;
        row.as_ref().map(session_from_row).transpose()
    }

    async fn touch_session(&self, id: &SessionId, now: OffsetDateTime) -> StoreResult<()> {
        sqlx::query("UPDATE sessions SET last_seen_at = ? WHERE id = ? AND ended_at IS NULL").bind(ts(now)).bind(id.as_str()).execute(&self.pool).await?;
        Ok(())
    }

    async fn reauthenticate_session(&self, id: &SessionId, auth_time: OffsetDateTime, acr: &str, amr: &[String]) -> StoreResult<()> {
        sqlx::query("UPDATE sessions SET auth_time = ?, last_seen_at = ?, acr = ?, amr = ? WHERE id = ? AND ended_at IS NULL")
            .bind(ts(auth_time))
            .bind(ts(auth_time))
            .bind(acr)
            .bind(json_list(amr))
            .bind(id.as_str())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn end_session(&self, id: &SessionId, now: OffsetDateTime) -> StoreResult<Vec<GrantId>> {
        let mut tx = self.write_tx().await?;
        let revoked = end_session_in(&mut tx, id, now).await?;
        tx.commit().await?;
        Ok(revoked)
    }
}

/// Every session of a user, newest first (access reports).
pub(super) async fn sessions_of(pool: &sqlx::SqlitePool, user: &UserId) -> StoreResult<Vec<SessionRecord>> {
    let rows =
        sqlx::query(&format!("SELECT {COLUMNS} FROM sessions WHERE user_id = ? ORDER BY created_at DESC, id")).bind(user.as_str()).fetch_all(pool).await?;
    rows.iter().map(session_from_row).collect()
}
