use async_trait::async_trait;
use gatehouse_core::ids::{FactorId, UserId};
use gatehouse_core::{Factor, FactorKind, FactorSecret, PhoneNumber};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use time::OffsetDateTime;

use super::protection::open_column;
use super::{SqliteStore, from_ts, ts};
use crate::vault::{open_bytes, seal_bytes, seal_text};
use crate::{FactorStore, SmsChallenge, SmsCheck, StoreError, StoreResult};

const COLUMNS: &str = "id, user_id, kind, label, secret, credential_id, device_bound, totp_used_up_to, created_at, confirmed_at, last_used_at";

/// A factor's columns and its user's data key (label and secret are sealed under it).
macro_rules! factor_select {
    () => {
        concat!(
            "SELECT f.id, f.user_id, f.kind, f.label, f.secret, f.credential_id, f.device_bound, f.totp_used_up_to, f.created_at, f.confirmed_at, f.last_used_at, ",
            user_key_columns!(),
            " FROM factors f JOIN users u ON u.id = f.user_id JOIN data_keys k ON k.id = u.key_id"
        )
    };
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("factors.{what}"))
}

fn optional_ts(row: &SqliteRow, column: &str) -> StoreResult<Option<OffsetDateTime>> {
    row.try_get::<Option<i64>, _>(column)?.map(from_ts).transpose()
}

fn factor_from_row(row: &SqliteRow, key: &gatehouse_crypto::DataKey) -> StoreResult<Factor> {
    let id: String = row.try_get("id")?;
    let kind_text: String = row.try_get("kind")?;
    let kind = FactorKind::parse(&kind_text).ok_or_else(|| corrupt("kind"))?;
    let secret_bytes = open_bytes(key, "factors.secret", &id, &row.try_get::<Vec<u8>, _>("secret")?)?;
    let secret = match kind {
        FactorKind::Totp => {
            FactorSecret::Totp { secret: secret_bytes, used_up_to: row.try_get::<Option<i64>, _>("totp_used_up_to")?.map(|s| u64::try_from(s).unwrap_or(0)) }
        }
        FactorKind::Sms => {
            let text = String::from_utf8(secret_bytes).map_err(|_| corrupt("secret"))?;
            FactorSecret::Sms { phone: PhoneNumber::parse(&text).map_err(|_| corrupt("secret"))? }
        }
        FactorKind::SecurityKey | FactorKind::Passkey => FactorSecret::WebAuthn {
            credential: String::from_utf8(secret_bytes).map_err(|_| corrupt("secret"))?,
            credential_id: row.try_get::<Option<Vec<u8>>, _>("credential_id")?.ok_or_else(|| corrupt("credential_id"))?,
            device_bound: row.try_get::<i64, _>("device_bound")? != 0,
        },
    };
    Ok(Factor {
        label: open_column(row, "label", "factors.label", &id, key)?,
        id: FactorId::new(id),
        user_id: UserId::new(row.try_get::<String, _>("user_id")?),
        kind,
        secret,
        created_at: from_ts(row.try_get("created_at")?)?,
        confirmed_at: optional_ts(row, "confirmed_at")?,
        last_used_at: optional_ts(row, "last_used_at")?,
    })
}

/// The columns a factor's secret is spread over: (secret, credential_id, device_bound,
/// totp_used_up_to).
fn secret_columns(secret: &FactorSecret) -> (Vec<u8>, Option<Vec<u8>>, bool, Option<i64>) {
    match secret {
        FactorSecret::Totp { secret, used_up_to } => (secret.clone(), None, false, used_up_to.and_then(|s| i64::try_from(s).ok())),
        FactorSecret::Sms { phone } => (phone.as_str().as_bytes().to_vec(), None, false, None),
        FactorSecret::WebAuthn { credential, credential_id, device_bound } => {
            (credential.as_bytes().to_vec(), Some(credential_id.clone()), *device_bound, None)
        }
    }
}

fn sms_from_row(row: &SqliteRow) -> StoreResult<SmsChallenge> {
    Ok(SmsChallenge {
        id: row.try_get("id")?,
        user_id: UserId::new(row.try_get::<String, _>("user_id")?),
        factor_id: FactorId::new(row.try_get::<String, _>("factor_id")?),
        digest: row.try_get("digest")?,
        created_at: from_ts(row.try_get("created_at")?)?,
        expires_at: from_ts(row.try_get("expires_at")?)?,
        attempts: u32::try_from(row.try_get::<i64, _>("attempts")?).unwrap_or(u32::MAX),
        used_at: optional_ts(row, "used_at")?,
    })
}

fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.is_unique_violation())
}

impl SqliteStore {
    async fn one_factor(&self, row: Option<SqliteRow>) -> StoreResult<Option<Factor>> {
        match row {
            Some(row) => Ok(Some(factor_from_row(&row, &self.user_key_from_row(&row).await?)?)),
            None => Ok(None),
        }
    }

    /// The data key of the user a write seals a value for.
    async fn sealing_key(&self, user: &str) -> StoreResult<gatehouse_crypto::DataKey> {
        self.user_key(&mut *self.pool.acquire().await?, user).await?.ok_or_else(|| StoreError::Conflict("no such user".into()))
    }
}

#[async_trait]
impl FactorStore for SqliteStore {
    async fn factors(&self, user: &UserId) -> StoreResult<Vec<Factor>> {
        let rows = sqlx::query(concat!(factor_select!(), " WHERE f.user_id = ? ORDER BY f.created_at, f.id")).bind(user.as_str()).fetch_all(&self.pool).await?;
        let Some(first) = rows.first() else { return Ok(Vec::new()) };
        let key = self.user_key_from_row(first).await?;
        rows.iter().map(|row| factor_from_row(row, &key)).collect()
    }

    async fn factor(&self, id: &FactorId) -> StoreResult<Option<Factor>> {
        let row = sqlx::query(concat!(factor_select!(), " WHERE f.id = ?")).bind(id.as_str()).fetch_optional(&self.pool).await?;
        self.one_factor(row).await
    }

    async fn factor_by_credential_id(&self, credential_id: &[u8]) -> StoreResult<Option<Factor>> {
        let row = sqlx::query(concat!(factor_select!(), " WHERE f.credential_id = ?")).bind(credential_id).fetch_optional(&self.pool).await?;
        self.one_factor(row).await
    }

    async fn add_factor(&self, f: &Factor) -> StoreResult<()> {
        let (secret, credential_id, device_bound, used_up_to) = secret_columns(&f.secret);
        let key = self.sealing_key(f.user_id.as_str()).await?;
        let result = sqlx::query(&format!("INSERT INTO factors ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"))
            .bind(f.id.as_str())
            .bind(f.user_id.as_str())
            .bind(f.kind.as_str())
            .bind(seal_text(&key, "factors.label", f.id.as_str(), &f.label)?)
            .bind(seal_bytes(&key, "factors.secret", f.id.as_str(), &secret)?)
            .bind(credential_id)
            .bind(i64::from(device_bound))
            .bind(used_up_to)
            .bind(ts(f.created_at))
            .bind(f.confirmed_at.map(ts))
            .bind(f.last_used_at.map(ts))
            .execute(&self.pool)
            .await;
        match result {
            Err(e) if is_unique_violation(&e) => Err(StoreError::Conflict("this authenticator is already registered".into())),
            other => other.map(|_| ()).map_err(Into::into),
        }
    }

    async fn confirm_factor(&self, user: &UserId, id: &FactorId, now: OffsetDateTime) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE factors SET confirmed_at = ? WHERE id = ? AND user_id = ? AND confirmed_at IS NULL")
            .bind(ts(now))
            .bind(id.as_str())
            .bind(user.as_str())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn rename_factor(&self, user: &UserId, id: &FactorId, label: &str) -> StoreResult<bool> {
        let Some(key) = self.user_key(&mut *self.pool.acquire().await?, user.as_str()).await? else { return Ok(false) };
        let sealed = seal_text(&key, "factors.label", id.as_str(), label)?;
        let done = sqlx::query("UPDATE factors SET label = ? WHERE id = ? AND user_id = ?")
            .bind(sealed)
            .bind(id.as_str())
            .bind(user.as_str())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn remove_factor(&self, user: &UserId, id: &FactorId) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM factors WHERE id = ? AND user_id = ?").bind(id.as_str()).bind(user.as_str()).execute(&self.pool).await?;
        Ok(done.rows_affected() == 1)
    }

    async fn use_totp_step(&self, id: &FactorId, step: u64, now: OffsetDateTime) -> StoreResult<bool> {
        let step = i64::try_from(step).map_err(|_| StoreError::Conflict("time step out of range".into()))?;
        let done = sqlx::query("UPDATE factors SET totp_used_up_to = ?, last_used_at = ? WHERE id = ? AND (totp_used_up_to IS NULL OR totp_used_up_to < ?)")
            .bind(step)
            .bind(ts(now))
            .bind(id.as_str())
            .bind(step)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn update_webauthn_credential(&self, id: &FactorId, credential: &str, now: OffsetDateTime) -> StoreResult<()> {
        let user: Option<String> = sqlx::query_scalar("SELECT user_id FROM factors WHERE id = ?").bind(id.as_str()).fetch_optional(&self.pool).await?;
        let Some(user) = user else { return Ok(()) };
        let sealed = seal_bytes(&self.sealing_key(&user).await?, "factors.secret", id.as_str(), credential.as_bytes())?;
        sqlx::query("UPDATE factors SET secret = ?, last_used_at = ? WHERE id = ?").bind(sealed).bind(ts(now)).bind(id.as_str()).execute(&self.pool).await?;
        Ok(())
    }

    async fn touch_factor(&self, id: &FactorId, now: OffsetDateTime) -> StoreResult<()> {
        sqlx::query("UPDATE factors SET last_used_at = ? WHERE id = ?").bind(ts(now)).bind(id.as_str()).execute(&self.pool).await?;
        Ok(())
    }

    async fn webauthn_handle(&self, user: &UserId, fresh: &str) -> StoreResult<String> {
        sqlx::query("UPDATE users SET webauthn_handle = ? WHERE id = ? AND webauthn_handle IS NULL")
            .bind(fresh)
            .bind(user.as_str())
            .execute(&self.pool)
            .await?;
        let handle: Option<String> =
            sqlx::query_scalar("SELECT webauthn_handle FROM users WHERE id = ?").bind(user.as_str()).fetch_optional(&self.pool).await?.flatten();
        handle.ok_or_else(|| StoreError::Conflict("no such user".into()))
    }

    async fn user_by_webauthn_handle(&self, handle: &str) -> StoreResult<Option<UserId>> {
        let id: Option<String> = sqlx::query_scalar("SELECT id FROM users WHERE webauthn_handle = ?").bind(handle).fetch_optional(&self.pool).await?;
        Ok(id.map(UserId::new))
    }

    async fn replace_recovery_codes(&self, user: &UserId, digests: &[Vec<u8>], now: OffsetDateTime) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = ?").bind(user.as_str()).execute(&mut *tx).await?;
        for digest in digests {
            sqlx::query("INSERT INTO recovery_codes (user_id, digest, created_at) VALUES (?, ?, ?)")
                .bind(user.as_str())
                .bind(digest)
                .bind(ts(now))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn use_recovery_code(&self, user: &UserId, digest: &[u8], now: OffsetDateTime) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE recovery_codes SET used_at = ? WHERE user_id = ? AND digest = ? AND used_at IS NULL")
            .bind(ts(now))
            .bind(user.as_str())
            .bind(digest)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn recovery_codes_left(&self, user: &UserId) -> StoreResult<u32> {
        let left: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM recovery_codes WHERE user_id = ? AND used_at IS NULL").bind(user.as_str()).fetch_one(&self.pool).await?;
        Ok(u32::try_from(left).unwrap_or(0))
    }

    async fn create_sms_challenge(&self, c: &SmsChallenge) -> StoreResult<()> {
        sqlx::query("INSERT INTO sms_challenges (id, user_id, factor_id, digest, created_at, expires_at, attempts, used_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
            .bind(&c.id)
            .bind(c.user_id.as_str())
            .bind(c.factor_id.as_str())
            .bind(&c.digest)
            .bind(ts(c.created_at))
            .bind(ts(c.expires_at))
            .bind(i64::from(c.attempts))
            .bind(c.used_at.map(ts))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn sms_challenge(&self, id: &str) -> StoreResult<Option<SmsChallenge>> {
        let row = sqlx::query("SELECT id, user_id, factor_id, digest, created_at, expires_at, attempts, used_at FROM sms_challenges WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(sms_from_row).transpose()
    }

    async fn sms_challenges_since(&self, user: &UserId, since: OffsetDateTime) -> StoreResult<u32> {
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sms_challenges WHERE user_id = ? AND created_at >= ?")
            .bind(user.as_str())
            .bind(ts(since))
            .fetch_one(&self.pool)
            .await?;
        Ok(u32::try_from(count).unwrap_or(u32::MAX))
    }

    async fn check_sms_challenge(&self, id: &str, digest: &[u8], max_attempts: u32, now: OffsetDateTime) -> StoreResult<SmsCheck> {
        let mut tx = self.write_tx().await?;
        let row = sqlx::query("SELECT id, user_id, factor_id, digest, created_at, expires_at, attempts, used_at FROM sms_challenges WHERE id = ?")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(challenge) = row.as_ref().map(sms_from_row).transpose()? else {
            return Ok(SmsCheck::Unusable);
        };
        if challenge.used_at.is_some() || challenge.expires_at <= now || challenge.attempts >= max_attempts {
            return Ok(SmsCheck::Unusable);
        }
        let matches = subtle::ConstantTimeEq::ct_eq(challenge.digest.as_slice(), digest).into();
        let check = if matches {
            sqlx::query("UPDATE sms_challenges SET used_at = ? WHERE id = ?").bind(ts(now)).bind(id).execute(&mut *tx).await?;
            SmsCheck::Accepted
        } else {
            sqlx::query("UPDATE sms_challenges SET attempts = attempts + 1 WHERE id = ?").bind(id).execute(&mut *tx).await?;
            SmsCheck::Wrong { tries_left: max_attempts.saturating_sub(challenge.attempts + 1) }
        };
        tx.commit().await?;
        Ok(check)
    }
}
