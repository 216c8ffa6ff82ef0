//! Alerts (and their delivery state), per-account brute-force state, and "this wasn't me" in
//! SQLite.

use async_trait::async_trait;
use gatehouse_core::alert::{Alert, AlertKind, Severity};
use gatehouse_core::audit::AuditEntry;
use gatehouse_core::ids::{GrantId, TenantId, UserId};
use gatehouse_core::throttle::AccountThrottle;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteExecutor};
use time::OffsetDateTime;

use super::{SqliteStore, from_ts, json_list, parse_list, ts};
use crate::{DeliveryReport, PendingAlert, ReportedAddress, ReportedSignIn, SecurityStore, SignInEvent, SignInReport, SignInStore, StoreError, StoreResult};

const ALERT_COLUMNS: &str = "id, at, tenant_id, kind, severity, subject, summary, details, acknowledged_at, acknowledged_by, delivered_to, attempts";

fn alert_from_row(row: &SqliteRow) -> StoreResult<Alert> {
    let kind: String = row.try_get("kind")?;
    let severity: String = row.try_get("severity")?;
    let details: String = row.try_get("details")?;
    Ok(Alert {
        id: row.try_get("id")?,
        at: row.try_get("at")?,
        tenant: row.try_get("tenant_id")?,
        kind: AlertKind::parse(&kind).ok_or_else(|| StoreError::Corrupt(format!("alerts.kind holds `{kind}`")))?,
        severity: serde_json::from_value(serde_json::Value::String(severity.clone()))
            .map_err(|_| StoreError::Corrupt(format!("alerts.severity holds `{severity}`")))?,
        subject: row.try_get("subject")?,
        summary: row.try_get("summary")?,
        details: serde_json::from_str(&details).map_err(|_| StoreError::Corrupt("alerts.details".into()))?,
        acknowledged_at: row.try_get("acknowledged_at")?,
        acknowledged_by: row.try_get("acknowledged_by")?,
    })
}

fn severity_name(severity: Severity) -> &'static str {
    severity.as_str()
}

async fn upsert_throttle<'e>(executor: impl SqliteExecutor<'e>, user: &UserId, throttle: &AccountThrottle) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO account_throttles (user_id, failures, window_start, next_attempt_at, locked_until) VALUES (?, ?, ?, ?, ?) \
         ON CONFLICT (user_id) DO UPDATE SET failures = excluded.failures, window_start = excluded.window_start, \
         next_attempt_at = excluded.next_attempt_at, locked_until = excluded.locked_until",
    )
    .bind(user.as_str())
    .bind(i64::from(throttle.failures))
    .bind(throttle.window_start)
    .bind(throttle.next_attempt_at)
    .bind(throttle.locked_until)
    .execute(executor)
    .await?;
    Ok(())
}

#[async_trait]
impl SecurityStore for SqliteStore {
    async fn raise_alert(&self, alert: &Alert, deliver: bool) -> StoreResult<()> {
        sqlx::query("INSERT INTO alerts (id, at, tenant_id, kind, severity, subject, summary, details, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
            .bind(&alert.id)
            .bind(alert.at)
            .bind(&alert.tenant)
            .bind(alert.kind.as_str())
            .bind(severity_name(alert.severity))
            .bind(&alert.subject)
            .bind(&alert.summary)
            .bind(alert.details.to_string())
            .bind(deliver.then_some(alert.at))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn alerts(&self, tenant: Option<&TenantId>, open_only: bool, before: Option<&str>, limit: u32) -> StoreResult<Vec<Alert>> {
        let tenant = tenant.map(|t| t.as_str().to_owned());
        let rows = sqlx::query(&format!(
            "SELECT {ALERT_COLUMNS} FROM alerts WHERE (? IS NULL OR tenant_id = ?) AND (? = 0 OR acknowledged_at IS NULL) \
             AND (? IS NULL OR id < ?) ORDER BY id DESC LIMIT ?"
        ))
        .bind(&tenant)
        .bind(&tenant)
        .bind(i64::from(open_only))
        .bind(before)
        .bind(before)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(alert_from_row).collect()
    }

    async fn alert(&self, id: &str) -> StoreResult<Option<Alert>> {
        let row = sqlx::query(&format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE id = ?")).bind(id).fetch_optional(&self.pool).await?;
        row.as_ref().map(alert_from_row).transpose()
    }

    async fn acknowledge_alert(&self, id: &str, by: &str, now: OffsetDateTime, audit: &AuditEntry) -> StoreResult<bool> {
        let mut tx = self.write_tx().await?;
        let changed = sqlx::query("UPDATE alerts SET acknowledged_at = ?, acknowledged_by = ? WHERE id = ? AND acknowledged_at IS NULL")
            .bind(ts(now))
            .bind(by)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            == 1;
        if changed {
            super::audit::append_in(&mut tx, audit).await?;
        }
        tx.commit().await?;
        Ok(changed)
    }

    async fn alerts_due(&self, now: OffsetDateTime, limit: u32) -> StoreResult<Vec<PendingAlert>> {
        let rows = sqlx::query(&format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE next_attempt_at IS NOT NULL AND next_attempt_at <= ? ORDER BY id LIMIT ?"))
            .bind(ts(now))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(PendingAlert {
                    alert: alert_from_row(row)?,
                    delivered_to: parse_list(&row.try_get::<String, _>("delivered_to")?)?,
                    attempts: u32::try_from(row.try_get::<i64, _>("attempts")?).unwrap_or(u32::MAX),
                })
            })
            .collect()
    }

    async fn record_delivery(&self, id: &str, report: &DeliveryReport) -> StoreResult<()> {
        sqlx::query("UPDATE alerts SET delivered_to = ?, attempts = attempts + 1, next_attempt_at = ?, last_error = ? WHERE id = ?")
            .bind(json_list(&report.delivered_to))
            .bind(report.next_attempt_at.map(ts))
            .bind(&report.last_error)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn prune_alerts(&self, before: OffsetDateTime) -> StoreResult<u64> {
        Ok(sqlx::query("DELETE FROM alerts WHERE at < ?").bind(ts(before)).execute(&self.pool).await?.rows_affected())
    }

    async fn account_throttle(&self, user: &UserId) -> StoreResult<Option<AccountThrottle>> {
        let row = sqlx::query("SELECT failures, window_start, next_attempt_at, locked_until FROM account_throttles WHERE user_id = ?")
            .bind(user.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| {
            Ok(AccountThrottle {
                failures: u32::try_from(row.try_get::<i64, _>("failures")?).unwrap_or(u32::MAX),
                window_start: row.try_get("window_start")?,
                next_attempt_at: row.try_get("next_attempt_at")?,
                locked_until: row.try_get("locked_until")?,
            })
        })
        .transpose()
    }

    async fn user_with_throttle(&self, email: &gatehouse_core::Email) -> StoreResult<(Option<gatehouse_core::model::User>, AccountThrottle)> {
        let row = sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            ", t.failures, t.window_start, t.next_attempt_at, t.locked_until \
             FROM users u JOIN data_keys k ON k.id = u.key_id LEFT JOIN account_throttles t ON t.user_id = u.id WHERE u.email_key = ?"
        ))
        .bind(self.vault.email_index(&email.key())?)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok((None, AccountThrottle::default())) };
        let throttle = match row.try_get::<Option<i64>, _>("failures")? {
            Some(failures) => AccountThrottle {
                failures: u32::try_from(failures).unwrap_or(u32::MAX),
                window_start: row.try_get("window_start")?,
                next_attempt_at: row.try_get("next_attempt_at")?,
                locked_until: row.try_get("locked_until")?,
            },
            None => AccountThrottle::default(),
        };
        Ok((Some(self.user_from_joined(&row).await?), throttle))
    }

    async fn record_failed_sign_in(&self, event: &SignInEvent, throttle: Option<(&UserId, &AccountThrottle)>) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        super::sign_ins::insert_event(&mut *tx, event).await?;
        if let Some((user, throttle)) = throttle {
            upsert_throttle(&mut *tx, user, throttle).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn save_account_throttle(&self, user: &UserId, throttle: &AccountThrottle) -> StoreResult<()> {
        upsert_throttle(&self.pool, user, throttle).await
    }

    async fn clear_account_throttle(&self, user: &UserId) -> StoreResult<()> {
        sqlx::query("DELETE FROM account_throttles WHERE user_id = ?").bind(user.as_str()).execute(&self.pool).await?;
        Ok(())
    }

    async fn address_reported(&self, tenant: &TenantId, address: &str, now: OffsetDateTime) -> StoreResult<bool> {
        let found: Option<i64> = sqlx::query_scalar("SELECT 1 FROM reported_addresses WHERE tenant_id = ? AND address = ? AND expires_at > ?")
            .bind(tenant.as_str())
            .bind(address)
            .bind(ts(now))
            .fetch_optional(&self.pool)
            .await?;
        Ok(found.is_some())
    }

    async fn reported_addresses(&self, tenant: &TenantId, now: OffsetDateTime) -> StoreResult<Vec<ReportedAddress>> {
        let rows = sqlx::query("SELECT address, reported_at, expires_at FROM reported_addresses WHERE tenant_id = ? AND expires_at > ? ORDER BY reported_at DESC, address LIMIT 1000")
            .bind(tenant.as_str())
            .bind(ts(now))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(ReportedAddress {
                    address: row.try_get("address")?,
                    reported_at: from_ts(row.try_get("reported_at")?)?,
                    expires_at: from_ts(row.try_get("expires_at")?)?,
                })
            })
            .collect()
    }

    async fn clear_reported_address(&self, tenant: &TenantId, address: &str, audit: &AuditEntry) -> StoreResult<bool> {
        let mut tx = self.write_tx().await?;
        let cleared = sqlx::query("DELETE FROM reported_addresses WHERE tenant_id = ? AND address = ?")
            .bind(tenant.as_str())
            .bind(address)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            == 1;
        if cleared {
            super::audit::append_in(&mut tx, audit).await?;
        }
        tx.commit().await?;
        Ok(cleared)
    }

    async fn report_sign_in(&self, user: &UserId, report: &SignInReport<'_>, now: OffsetDateTime, audit: &AuditEntry) -> StoreResult<Option<ReportedSignIn>> {
        let event_id = report.event_id;
        let Some(mut event) = self.sign_in_event(event_id).await?.filter(|e| e.user_id.as_ref() == Some(user)) else {
            return Ok(None);
        };
        let mut tx = self.write_tx().await?;
        let at = ts(now);
        sqlx::query("UPDATE sign_in_events SET reported_at = COALESCE(reported_at, ?) WHERE id = ?").bind(at).bind(event_id).execute(&mut *tx).await?;
        if let Some(device) = &event.device_id {
            sqlx::query("UPDATE devices SET reported_at = COALESCE(reported_at, ?), second_factor_at = NULL WHERE id = ?")
                .bind(at)
                .bind(device)
                .execute(&mut *tx)
                .await?;
        }
        // Risky for this person's tenant only, and for a while: another tenant's people behind
        // the same address (a shared office, a carrier's NAT) are not affected.
        sqlx::query(
            "INSERT INTO reported_addresses (tenant_id, address, reported_at, expires_at, user_id) SELECT tenant_id, ?, ?, ?, id FROM users WHERE id = ? \
             ON CONFLICT (tenant_id, address) DO UPDATE SET reported_at = excluded.reported_at, expires_at = MAX(expires_at, excluded.expires_at), user_id = excluded.user_id",
        )
        .bind(&event.address)
        .bind(at)
        .bind(ts(report.address_reported_until))
        .bind(user.as_str())
        .execute(&mut *tx)
        .await?;
        // No remembered browser may skip the fresh second factor.
        sqlx::query("UPDATE devices SET second_factor_at = NULL WHERE user_id = ?").bind(user.as_str()).execute(&mut *tx).await?;
        let sessions_ended = sqlx::query("UPDATE sessions SET ended_at = ? WHERE user_id = ? AND ended_at IS NULL")
            .bind(at)
            .bind(user.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let revoked: Vec<String> = sqlx::query_scalar("UPDATE grants SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL RETURNING id")
            .bind(at)
            .bind(user.as_str())
            .fetch_all(&mut *tx)
            .await?;
        // Whatever second factor or recovery code appeared since that sign-in may be the
        // intruder's way back in; only a sign-in that used a second factor may remove them.
        let (mut factors_removed, mut recovery_codes_removed) = (0, 0);
        if report.remove_later_factors {
            let since = ts(event.at);
            factors_removed = sqlx::query("DELETE FROM factors WHERE user_id = ? AND created_at >= ?")
                .bind(user.as_str())
                .bind(since)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            recovery_codes_removed = sqlx::query("DELETE FROM recovery_codes WHERE user_id = ? AND created_at >= ?")
                .bind(user.as_str())
                .bind(since)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        // The earliest reported sign-in bounds what is suspect until the reset completes.
        sqlx::query("UPDATE users SET credentials_reset_required = 1, credentials_reset_since = MIN(COALESCE(credentials_reset_since, ?1), ?1), updated_at = ?2 WHERE id = ?3")
            .bind(ts(event.at))
            .bind(at)
            .bind(user.as_str())
            .execute(&mut *tx)
            .await?;
        super::audit::append_in(&mut tx, audit).await?;
        tx.commit().await?;
        event.reported_at = event.reported_at.or(Some(now));
        Ok(Some(ReportedSignIn {
            event,
            revoked_grants: revoked.into_iter().map(GrantId::new).collect(),
            sessions_ended,
            factors_removed,
            recovery_codes_removed,
        }))
    }

    async fn set_password(&self, user: &UserId, hash: &str, keep_from: OffsetDateTime, now: OffsetDateTime, audit: &AuditEntry) -> StoreResult<bool> {
        let mut tx = self.write_tx().await?;
        let since: Option<Option<i64>> = sqlx::query_scalar("SELECT credentials_reset_since FROM users WHERE id = ? AND credentials_reset_required = 1")
            .bind(user.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        let changed = sqlx::query("UPDATE users SET password_hash = ?, credentials_reset_required = 0, credentials_reset_since = NULL, updated_at = ? WHERE id = ? AND credentials_reset_required = 1")
            .bind(hash)
            .bind(ts(now))
            .bind(user.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected()
            == 1;
        if changed && let Some(Some(since)) = since {
            // The person proved their mailbox: what appeared since the reported sign-in, and
            // before this sign-in began, goes (a factor enrolled during this sign-in stays).
            let before = ts(keep_from);
            for table in ["factors", "recovery_codes"] {
                sqlx::query(&format!("DELETE FROM {table} WHERE user_id = ? AND created_at >= ? AND created_at < ?"))
                    .bind(user.as_str())
                    .bind(since)
                    .bind(before)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        if changed {
            super::audit::append_in(&mut tx, audit).await?;
            sqlx::query("DELETE FROM account_throttles WHERE user_id = ?").bind(user.as_str()).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(changed)
    }
}
