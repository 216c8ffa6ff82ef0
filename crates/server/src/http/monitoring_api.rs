//! Security monitoring over the management APIs: alerts (list, acknowledge), change history
//! (filter, page, download as JSON or CSV), the SIEM export (OCSF, resumable cursor) and a
//! user's "this wasn't me" on an entry of their login history. Tenant admins see their own
//! tenant; operators see everything. Reading the change history or exporting is itself a read
//! of personal data, and is audited.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gatehouse_api::monitoring::{AlertList, AuditRecord, ChangeHistory};
use gatehouse_api::sign_ins::SignInReported;
use gatehouse_core::alert::AlertKind;
use gatehouse_core::audit::{AuditEntry, ChainedRecord};
use gatehouse_store::{AuditFilter, SignInReport};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

use super::admin_api::{Caller, caller};
use super::api_body::ApiBody;
use super::problem::{ManagementError, Problem};
use super::sign_in_history::parse_time;
use super::{ClientAddr, account_api, audit_entry};
use crate::delivery::NotificationKind;
use crate::monitor::NewAlert;
use crate::monitor::siem::{self, Cursor};
use crate::state::{AppState, now};

type Result<T> = std::result::Result<T, ManagementError>;

const MAX_PAGE: u32 = 500;

fn not_found(what: &'static str) -> ManagementError {
    Problem::new(StatusCode::NOT_FOUND, "Not found", what).into()
}

/// The tenant a caller is confined to (`None`: an operator, who sees every tenant).
fn scope_of(caller: &Caller) -> Option<gatehouse_core::ids::TenantId> {
    match caller {
        Caller::TenantAdmin(user) => Some(user.tenant_id.clone()),
        Caller::Operator { .. } => None,
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertQuery {
    /// Only unacknowledged alerts.
    open: Option<bool>,
    before: Option<String>,
    limit: Option<u32>,
}

/// `GET /api/v1/alerts`
pub async fn alerts(State(state): State<AppState>, headers: HeaderMap, Query(query): Query<AlertQuery>) -> Result<Response> {
    let caller = caller(&state, &headers).await?;
    let limit = query.limit.unwrap_or(50).clamp(1, MAX_PAGE);
    let tenant = scope_of(&caller);
    let found = state.store.alerts(tenant.as_ref(), query.open.unwrap_or(false), query.before.as_deref(), limit).await?;
    let next = (found.len() == limit as usize).then(|| found.last().map(|a| a.id.clone())).flatten();
    Ok(Json(AlertList { alerts: found, next }).into_response())
}

/// `POST /api/v1/alerts/{id}/acknowledge`
pub async fn acknowledge(State(state): State<AppState>, ClientAddr(addr): ClientAddr, headers: HeaderMap, Path(id): Path<String>) -> Result<Response> {
    let caller = caller(&state, &headers).await?;
    let scope = scope_of(&caller);
    let alert = state
        .store
        .alert(&id)
        .await?
        .filter(|a| scope.as_ref().is_none_or(|t| a.tenant.as_deref() == Some(t.as_str())))
        .ok_or_else(|| not_found("no such alert"))?;
    let mut audit = caller.audit(addr, &headers, "alert.acknowledge", format!("alert:{}", alert.id), None, None);
    audit.tenant = alert.tenant.clone();
    if !state.store.acknowledge_alert(&alert.id, &caller.actor(), now(), &audit).await? {
        return Err(Problem::new(StatusCode::CONFLICT, "Already acknowledged", "this alert was acknowledged before").into());
    }
    let alert = state.store.alert(&id).await?.ok_or_else(|| not_found("no such alert"))?;
    Ok(Json(alert).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    actor: Option<String>,
    target: Option<String>,
    action: Option<String>,
    since: Option<String>,
    until: Option<String>,
    before: Option<u64>,
    limit: Option<u32>,
    /// `json` (default) or `csv`.
    format: Option<String>,
}

fn audit_record(record: &ChainedRecord) -> AuditRecord {
    let e = record.entry.clone();
    AuditRecord {
        seq: record.seq,
        at: e.at,
        actor: e.actor,
        on_behalf_of: e.on_behalf_of,
        action: e.action,
        target: e.target,
        tenant: e.tenant,
        before: e.before,
        after: e.after,
        address: e.address,
        user_agent: e.user_agent,
        reason: e.reason,
    }
}

use gatehouse_ops::csv_field;

fn csv(records: &[ChainedRecord]) -> String {
    let mut out = String::from("seq,at,actor,on_behalf_of,action,target,tenant,address,user_agent,reason,before,after\r\n");
    for r in records {
        let e = &r.entry;
        let time = time::OffsetDateTime::from_unix_timestamp(e.at)
            .ok()
            .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
            .unwrap_or_default();
        let json_text = |v: &Option<Value>| v.as_ref().map(Value::to_string).unwrap_or_default();
        let fields = [
            r.seq.to_string(),
            time,
            e.actor.clone(),
            e.on_behalf_of.clone().unwrap_or_default(),
            e.action.clone(),
            e.target.clone(),
            e.tenant.clone().unwrap_or_default(),
            e.address.clone().unwrap_or_default(),
            e.user_agent.clone().unwrap_or_default(),
            e.reason.clone().unwrap_or_default(),
            json_text(&e.before),
            json_text(&e.after),
        ];
        out.push_str(&fields.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(","));
        out.push_str("\r\n");
    }
    out
}

/// `GET /api/v1/audit`: change history, newest first.
pub async fn change_history(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    Query(query): Query<HistoryQuery>,
) -> Result<Response> {
    let caller = caller(&state, &headers).await?;
    let csv_wanted = match query.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(_) => return Err(Problem::bad_request("format: json or csv").into()),
    };
    let too_long = |v: &Option<String>| v.as_ref().is_some_and(|s| s.len() > 200);
    if too_long(&query.actor) || too_long(&query.target) || too_long(&query.action) {
        return Err(Problem::bad_request("filters are at most 200 characters").into());
    }
    let filter = AuditFilter {
        tenant: scope_of(&caller),
        actor: query.actor.clone(),
        target: query.target.clone(),
        action: query.action.clone(),
        since: parse_time("since", query.since.as_deref())?.map(time::OffsetDateTime::unix_timestamp),
        until: parse_time("until", query.until.as_deref())?.map(time::OffsetDateTime::unix_timestamp),
    };
    let limit = query.limit.unwrap_or(100).clamp(1, MAX_PAGE);
    let records = state.store.audit_query(&filter, query.before, limit).await?;
    let next = (records.len() == limit as usize).then(|| records.last().map(|r| r.seq)).flatten();
    let read = caller.audit(
        addr,
        &headers,
        "audit.read",
        "audit".into(),
        None,
        Some(json!({ "records": records.len(), "format": if csv_wanted { "csv" } else { "json" } })),
    );
    let read = AuditEntry { tenant: filter.tenant.as_ref().map(|t| t.as_str().to_owned()), ..read };
    state.audit.append(&read).await?;
    if csv_wanted {
        let mut response = csv(&records).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
        headers.insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("attachment; filename=\"gatehouse-change-history.csv\""));
        if let Some(next) = next.and_then(|n| HeaderValue::from_str(&n.to_string()).ok()) {
            headers.insert("x-next-before", next);
        }
        return Ok(response);
    }
    Ok(Json(ChangeHistory { records: records.iter().map(audit_record).collect(), next }).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    cursor: Option<String>,
    since: Option<String>,
    limit: Option<u32>,
}

/// `GET /api/v1/siem/events`: OCSF events as JSON lines, oldest first; `X-Next-Cursor` resumes.
/// Operators only: the export spans every tenant.
pub async fn siem_export(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    Query(query): Query<ExportQuery>,
) -> Result<Response> {
    let caller = caller(&state, &headers).await?;
    caller.require_operator()?;
    let cursor = match query.cursor.as_deref() {
        Some(text) => Cursor::parse(text).ok_or_else(|| Problem::bad_request("cursor: not a cursor from a previous page"))?,
        None => Cursor::default(),
    };
    let since = parse_time("since", query.since.as_deref())?.map_or(0, time::OffsetDateTime::unix_timestamp);
    let limit = query.limit.unwrap_or(1000).clamp(1, 5000);
    let (events, next) = siem::page(state.store.as_ref(), &cursor, since, limit).await?;
    // A page holding only the records of earlier exports is not recorded again: otherwise each
    // page would add the record the next page reads, and the export would never end.
    if events.iter().any(|e| e.pointer("/unmapped/action").and_then(Value::as_str) != Some("audit.export")) {
        let export = caller.audit(
            addr,
            &headers,
            "audit.export",
            "siem".into(),
            None,
            Some(json!({ "events": events.len(), "from": cursor.encode(), "to": next.encode() })),
        );
        state.audit.append(&export).await?;
    }
    let mut body = String::new();
    for event in &events {
        body.push_str(&event.to_string());
        body.push('\n');
    }
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-ndjson"));
    if let Ok(value) = HeaderValue::from_str(&next.encode()) {
        headers.insert("x-next-cursor", value);
    }
    Ok(response)
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Report {
    /// No longer accepted: a report never sets the password (see `report_sign_in`). Named
    /// here only so that a client still sending it gets a clear refusal, not "unknown field".
    new_password: Option<serde::de::IgnoredAny>,
    /// Also remove the second factors and recovery codes created since the reported sign-in.
    /// Needs a sign-in within the freshness window that used a second factor (otherwise the
    /// RFC 9470 challenge); such a sign-in removes them without asking.
    remove_factors: Option<bool>,
}

/// How long a reported address counts as risky in the reporter's tenant, unless an admin
/// clears it sooner.
fn address_reported_until(state: &AppState, now: time::OffsetDateTime) -> time::OffsetDateTime {
    now + time::Duration::days(state.config.monitoring.detection.reported_address_days)
}

/// `POST /api/v1/me/sign-ins/{id}/report`: "this wasn't me".
///
/// What a genuine victim needs is open to any sign-in, password-only included: every session
/// ends, every token is revoked, the admins are alerted, and the next sign-in must change the
/// password (after a fresh second factor where the account has one). What an intruder who
/// knows only the password would want is not: the password is never set here, and second
/// factors are removed only by a sign-in that used one recently, as for `DELETE /me/factors`.
pub async fn report_sign_in(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    Path(id): Path<String>,
    ApiBody(body): ApiBody,
) -> Result<Response> {
    let now = now();
    let me = account_api::me(&state, &headers).await?;
    let user = Arc::clone(&me.user);
    let request: Report = if body.is_empty() { Report::default() } else { super::admin_api::parse_body(&body)? };
    if request.new_password.is_some() {
        return Err(Problem::bad_request(
            "new_password: a report no longer sets the password; your next sign-in asks for a new one (after a second factor, where your account has one)",
        )
        .into());
    }
    let event = state.store.sign_in_event(&id).await?.filter(|e| e.user_id.as_ref() == Some(&user.id)).ok_or_else(|| not_found("no such sign-in"))?;
    let factors = state.store.factors(&user.id).await?;
    let later = factors.iter().filter(|f| f.created_at >= event.at).count();
    let has_factor = factors.iter().any(|f| f.is_confirmed());
    let fresh = me.require_fresh(true, now);
    let fresh_second_factor = fresh.is_ok();
    if request.remove_factors == Some(true) {
        // Refused before anything changed, so the caller can sign in again and repeat it.
        fresh?;
    }
    let remove_later_factors = fresh_second_factor && request.remove_factors != Some(false);
    let factors_kept = if remove_later_factors { 0 } else { later };
    let audit = AuditEntry {
        reason: Some("the user reported this sign-in as not theirs".into()),
        after: Some(json!({ "sign_in": id, "factors_removed": remove_later_factors })),
        ..audit_entry(format!("user:{}", user.id), "sign_in.report", format!("user:{}", user.id), addr, &headers).in_tenant(user.tenant_id.as_str())
    };
    let ask = SignInReport { event_id: &id, remove_later_factors, address_reported_until: address_reported_until(&state, now) };
    let report = state.store.report_sign_in(&user.id, &ask, now, &audit).await?.ok_or_else(|| not_found("no such sign-in"))?;
    for grant in &report.revoked_grants {
        state.revocations.revoke_grant(grant.clone());
    }
    state.forget_user(&user.id);
    crate::mfa::notify(&state.factors, &user, NotificationKind::SignInReported { sign_in: id.clone() }, now);
    let event = &report.event;
    let alert = NewAlert {
        kind: AlertKind::SignInReported,
        tenant: Some(user.tenant_id.clone()),
        subject: format!("user:{}", user.id),
        summary: format!("user:{} reported a sign-in from {} as not theirs", user.id, event.address),
        details: json!({
            "user": user.id.as_str(), "sign_in": event.id, "address": event.address, "user_agent": event.user_agent,
            "device": event.device_id, "at": event.at.unix_timestamp(), "sessions_ended": report.sessions_ended,
            "grants_revoked": report.revoked_grants.len(), "factors_removed": report.factors_removed,
            "recovery_codes_removed": report.recovery_codes_removed,
            "factors_kept": factors_kept,
        }),
    };
    state.monitor.raise(alert, now).await?;
    let next_sign_in = if has_factor { "requires a fresh second factor and a new password" } else { "requires a new password" };
    Ok(Json(SignInReported {
        sign_in: id,
        sessions_ended: report.sessions_ended,
        grants_revoked: report.revoked_grants.len() as u64,
        factors_removed: report.factors_removed,
        recovery_codes_removed: report.recovery_codes_removed,
        factors_kept: factors_kept as u64,
        next_sign_in: next_sign_in.to_owned(),
    })
    .into_response())
}
