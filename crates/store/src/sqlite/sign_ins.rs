//! Sign-in history and devices in SQLite.

use async_trait::async_trait;
use gatehouse_core::ids::{TenantId, UserId};
use sqlx::Row;
use sqlx::SqliteExecutor;
use sqlx::sqlite::SqliteRow;
use time::OffsetDateTime;

use super::{SqliteStore, from_ts, json_list, parse_list, ts};
use crate::{DeviceRecord, SignInEvent, SignInFilter, SignInResult, SignInStore, StoreError, StoreResult};

const EVENT_COLUMNS: &str =
    "id, at, user_id, tenant_id, client_id, address, user_agent, device_id, result, amr, acr, decision, risky, staged_decision, reported_at, idp";

fn event_from_row(row: &SqliteRow) -> StoreResult<SignInEvent> {
    let result: String = row.try_get("result")?;
    let json = |column: &str| -> StoreResult<Option<serde_json::Value>> {
        row.try_get::<Option<String>, _>(column)?
            .map(|text| serde_json::from_str(&text).map_err(|_| StoreError::Corrupt(format!("sign_in_events.{column}"))))
            .transpose()
    };
    Ok(SignInEvent {
        id: row.try_get("id")?,
        at: from_ts(row.try_get("at")?)?,
        user_id: row.try_get::<Option<String>, _>("user_id")?.map(UserId::new),
        tenant_id: row.try_get::<Option<String>, _>("tenant_id")?.map(TenantId::new),
        client_id: row.try_get("client_id")?,
        address: row.try_get("address")?,
        user_agent: row.try_get("user_agent")?,
        device_id: row.try_get("device_id")?,
        result: SignInResult::parse(&result).ok_or_else(|| StoreError::Corrupt(format!("sign_in_events.result holds `{result}`")))?,
        amr: parse_list(&row.try_get::<String, _>("amr")?)?,
        acr: row.try_get("acr")?,
        decision: json("decision")?,
        risky: row.try_get::<i64, _>("risky")? != 0,
        staged_decision: json("staged_decision")?,
        reported_at: row.try_get::<Option<i64>, _>("reported_at")?.map(from_ts).transpose()?,
        idp: row.try_get("idp")?,
    })
}

fn device_from_row(row: &SqliteRow) -> StoreResult<DeviceRecord> {
    let optional = |column: &str| -> StoreResult<Option<OffsetDateTime>> { row.try_get::<Option<i64>, _>(column)?.map(from_ts).transpose() };
    Ok(DeviceRecord {
        id: row.try_get("id")?,
        user_id: UserId::new(row.try_get::<String, _>("user_id")?),
        created_at: from_ts(row.try_get("created_at")?)?,
        last_seen_at: from_ts(row.try_get("last_seen_at")?)?,
        second_factor_at: optional("second_factor_at")?,
        user_agent: row.try_get("user_agent")?,
        reported_at: optional("reported_at")?,
    })
}

/// Appends an event; also used inside the sign-in completion transaction.
pub(super) async fn insert_event<'e>(executor: impl SqliteExecutor<'e>, event: &SignInEvent) -> StoreResult<()> {
    sqlx::query(&format!("INSERT INTO sign_in_events ({EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"))
        .bind(&event.id)
        .bind(ts(event.at))
        .bind(event.user_id.as_ref().map(|u| u.as_str().to_owned()))
        .bind(event.tenant_id.as_ref().map(|t| t.as_str().to_owned()))
        .bind(&event.client_id)
        .bind(&event.address)
        .bind(&event.user_agent)
        .bind(&event.device_id)
        .bind(event.result.as_str())
        .bind(json_list(&event.amr))
        .bind(&event.acr)
        .bind(event.decision.as_ref().map(serde_json::Value::to_string))
        .bind(i64::from(event.risky))
        .bind(event.staged_decision.as_ref().map(serde_json::Value::to_string))
        .bind(event.reported_at.map(ts))
        .bind(&event.idp)
        .execute(executor)
        .await?;
    Ok(())
}

/// Creates or refreshes a device (a finished sign-in does it in its completion trigger).
async fn upsert_device_with<'e>(executor: impl SqliteExecutor<'e>, device: &DeviceRecord) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO devices (id, user_id, created_at, last_seen_at, second_factor_at, user_agent) VALUES (?, ?, ?, ?, ?, ?) \
         ON CONFLICT (id) DO UPDATE SET last_seen_at = excluded.last_seen_at, user_agent = excluded.user_agent, \
         second_factor_at = COALESCE(excluded.second_factor_at, devices.second_factor_at)",
    )
    .bind(&device.id)
    .bind(device.user_id.as_str())
    .bind(ts(device.created_at))
    .bind(ts(device.last_seen_at))
    .bind(device.second_factor_at.map(ts))
    .bind(&device.user_agent)
    .execute(executor)
    .await?;
    Ok(())
}

#[async_trait]
impl SignInStore for SqliteStore {
    async fn record_sign_in(&self, event: &SignInEvent) -> StoreResult<()> {
        insert_event(&self.pool, event).await
    }

    async fn address_seen(&self, user: &UserId, address: &str) -> StoreResult<bool> {
        let found: Option<i64> = sqlx::query_scalar("SELECT 1 FROM sign_in_events WHERE user_id = ? AND address = ? AND result = 'success' LIMIT 1")
            .bind(user.as_str())
            .bind(address)
            .fetch_optional(&self.pool)
            .await?;
        Ok(found.is_some())
    }

    async fn sign_ins(&self, user: &UserId, filter: &SignInFilter, before: Option<(OffsetDateTime, String)>, limit: u32) -> StoreResult<Vec<SignInEvent>> {
        let (at, id) = before.map_or((i64::MAX, String::new()), |(at, id)| (ts(at), id));
        let rows = sqlx::query(&format!(
            "SELECT {EVENT_COLUMNS} FROM sign_in_events WHERE user_id = ? AND (at < ? OR (at = ? AND id < ?) OR ? = '') \
             AND (? IS NULL OR result = ?) AND (? IS NULL OR client_id = ?) AND (? IS NULL OR at >= ?) AND (? IS NULL OR at < ?) \
             ORDER BY at DESC, id DESC LIMIT ?"
        ))
        .bind(user.as_str())
        .bind(at)
        .bind(at)
        .bind(&id)
        .bind(&id)
        .bind(filter.result.map(SignInResult::as_str))
        .bind(filter.result.map(SignInResult::as_str))
        .bind(&filter.client_id)
        .bind(&filter.client_id)
        .bind(filter.since.map(ts))
        .bind(filter.since.map(ts))
        .bind(filter.until.map(ts))
        .bind(filter.until.map(ts))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(event_from_row).collect()
    }

    async fn sign_in_event(&self, id: &str) -> StoreResult<Option<SignInEvent>> {
        let row = sqlx::query(&format!("SELECT {EVENT_COLUMNS} FROM sign_in_events WHERE id = ?")).bind(id).fetch_optional(&self.pool).await?;
        row.as_ref().map(event_from_row).transpose()
    }

    async fn sign_in_events_after(&self, after: i64, limit: u32) -> StoreResult<Vec<(i64, SignInEvent)>> {
        // The rowid: assigned under the write lock, so in commit order.
        let rows = sqlx::query(&format!("SELECT rowid AS position, {EVENT_COLUMNS} FROM sign_in_events WHERE rowid > ? ORDER BY rowid LIMIT ?"))
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|row| Ok((row.try_get::<i64, _>("position")?, event_from_row(row)?))).collect()
    }

    async fn address_signals(&self, user: &UserId, address: &str, now: OffsetDateTime) -> StoreResult<(bool, bool)> {
        let row = sqlx::query(
            "SELECT EXISTS (SELECT 1 FROM sign_in_events WHERE user_id = ? AND address = ? AND result = 'success') AS seen, \
             EXISTS (SELECT 1 FROM reported_addresses r JOIN users u ON u.tenant_id = r.tenant_id WHERE u.id = ? AND r.address = ? AND r.expires_at > ?) AS reported",
        )
        .bind(user.as_str())
        .bind(address)
        .bind(user.as_str())
        .bind(address)
        .bind(ts(now))
        .fetch_one(&self.pool)
        .await?;
        Ok((row.try_get::<i64, _>("seen")? != 0, row.try_get::<i64, _>("reported")? != 0))
    }

    async fn addresses_seen(&self, user: &UserId, except_event: &str, limit: u32) -> StoreResult<Vec<String>> {
        let rows: Vec<String> = sqlx::query_scalar(
            "SELECT address FROM sign_in_events WHERE user_id = ? AND result = 'success' AND id != ? GROUP BY address ORDER BY MAX(at) DESC LIMIT ?",
        )
        .bind(user.as_str())
        .bind(except_event)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }

    async fn prune_sign_ins(&self, before: OffsetDateTime) -> StoreResult<u64> {
        Ok(sqlx::query("DELETE FROM sign_in_events WHERE at < ?").bind(ts(before)).execute(&self.pool).await?.rows_affected())
    }

    async fn device(&self, id: &str) -> StoreResult<Option<DeviceRecord>> {
        let row = sqlx::query("SELECT id, user_id, created_at, last_seen_at, second_factor_at, user_agent, reported_at FROM devices WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(device_from_row).transpose()
    }

    async fn upsert_device(&self, device: &DeviceRecord) -> StoreResult<()> {
        upsert_device_with(&self.pool, device).await
    }
}

/// Every browser a user signed in from, most recently seen first (access reports).
pub(super) async fn devices_of(pool: &sqlx::SqlitePool, user: &UserId) -> StoreResult<Vec<DeviceRecord>> {
    let rows = sqlx::query(
        "SELECT id, user_id, created_at, last_seen_at, second_factor_at, user_agent, reported_at FROM devices WHERE user_id = ? ORDER BY last_seen_at DESC, id",
    )
    .bind(user.as_str())
    .fetch_all(pool)
    .await?;
    rows.iter().map(device_from_row).collect()
}
