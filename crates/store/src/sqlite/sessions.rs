use async_trait::async_trait;
use gatehouse_core::ids::{GrantId, SessionId, UserId};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use time::OffsetDateTime;

use super::grants::{insert_code, insert_grant};
use super::{SqliteStore, from_ts, json_list, parse_list, ts};
use crate::{SessionRecord, SessionStore, SessionWrite, SignInCompletion, StoreError, StoreResult};
use sqlx::{Sqlite, Transaction};

const COLUMNS: &str = "id, secret_digest, user_id, created_at, last_seen_at, auth_time, acr, amr, ended_at";

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
    })
}

async fn insert_session(tx: &mut Transaction<'_, Sqlite>, s: &SessionRecord) -> StoreResult<()> {
    sqlx::query(&format!("INSERT INTO sessions ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"))
        .bind(s.id.as_str())
        .bind(&s.secret_digest)
        .bind(s.user_id.as_str())
        .bind(ts(s.created_at))
        .bind(ts(s.last_seen_at))
        .bind(ts(s.auth_time))
        .bind(&s.acr)
        .bind(json_list(&s.amr))
        .bind(s.ended_at.map(ts))
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

#[async_trait]
impl SessionStore for SqliteStore {
    async fn create_session(&self, s: &SessionRecord) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        insert_session(&mut tx, s).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn complete_sign_in(&self, c: &SignInCompletion, now: OffsetDateTime) -> StoreResult<Vec<GrantId>> {
        let mut tx = self.write_tx().await?;
        let revoked = match &c.ended_session {
            Some(id) => end_session_in(&mut tx, id, now).await?,
            None => Vec::new(),
        };
        match &c.session {
            SessionWrite::Create(session) => insert_session(&mut tx, session).await?,
            SessionWrite::Reauthenticate { id, secret_digest, auth_time, acr, amr } => {
                let done =
                    sqlx::query("UPDATE sessions SET secret_digest = ?, auth_time = ?, last_seen_at = ?, acr = ?, amr = ? WHERE id = ? AND ended_at IS NULL")
                        .bind(secret_digest.as_slice())
                        .bind(ts(*auth_time))
                        .bind(ts(*auth_time))
                        .bind(acr)
                        .bind(json_list(amr))
                        .bind(id.as_str())
                        .execute(&mut *tx)
                        .await?;
                // A logout in another tab ended the session between the check and this write:
                // issuing a code under an ended session would hand out tokens nobody can revoke
                // by logging out, so the whole sign-in is refused and nothing is written.
                if done.rows_affected() != 1 {
                    return Err(StoreError::Conflict("the session ended while signing in".into()));
                }
            }
        }
        // The parked request is answered once: a second completion racing this one (a double
        // submit) finds it gone and writes nothing.
        let answered = sqlx::query("DELETE FROM pending_authorizations WHERE id = ?").bind(&c.pending_id).execute(&mut *tx).await?;
        if answered.rows_affected() != 1 {
            return Err(StoreError::Conflict("the sign-in request was already answered".into()));
        }
        insert_grant(&mut tx, &c.grant).await?;
        insert_code(&mut tx, &c.code).await?;
        if let Some(device) = &c.device {
            super::sign_ins::upsert_device_with(&mut *tx, device).await?;
        }
        if let Some(event) = &c.event {
            super::sign_ins::insert_event(&mut *tx, event).await?;
        }
        tx.commit().await?;
        Ok(revoked)
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
