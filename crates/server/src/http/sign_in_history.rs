//! Login history over the management APIs: a user's own (`GET /api/v1/me/sign-ins`) and, for
//! tenant admins and operators, any user of theirs (`GET /api/v1/users/{id}/sign-ins`). Newest
//! first, with an opaque cursor for the next page; each entry says when, which application,
//! from where and which device, the result, the methods used and the policy's decision.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use gatehouse_api::sign_ins::{SignIn, SignInHistory, SignInPolicy};
use gatehouse_core::ids::UserId;
use gatehouse_store::{SignInEvent, SignInFilter, SignInResult};
use serde::Deserialize;
use serde_json::Value;
use time::OffsetDateTime;

use super::admin_api::caller;
use super::problem::{ManagementError, Problem};
use super::{ClientAddr, account_api};
use crate::state::AppState;
use gatehouse_core::audit::AuditEntry;

type Result<T> = std::result::Result<T, ManagementError>;

const DEFAULT_PAGE: u32 = 50;
const MAX_PAGE: u32 = 200;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Page {
    before: Option<String>,
    limit: Option<u32>,
    /// `success`, `failure`, `second_factor_failure` or `denied`.
    result: Option<String>,
    application: Option<String>,
    /// RFC 3339 times: `since` inclusive, `until` exclusive.
    since: Option<String>,
    until: Option<String>,
}

pub(super) fn parse_time(name: &str, value: Option<&str>) -> Result<Option<OffsetDateTime>> {
    value
        .map(|v| {
            OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339)
                .map_err(|_| Problem::bad_request(format!("{name}: not an RFC 3339 time like 2026-01-31T00:00:00Z")).into())
        })
        .transpose()
}

impl Page {
    fn filter(&self) -> Result<SignInFilter> {
        let result = match self.result.as_deref() {
            None => None,
            Some(r) => Some(SignInResult::parse(r).ok_or_else(|| Problem::bad_request("result: one of success, failure, second_factor_failure, denied"))?),
        };
        Ok(SignInFilter {
            result,
            client_id: self.application.clone(),
            since: parse_time("since", self.since.as_deref())?,
            until: parse_time("until", self.until.as_deref())?,
        })
    }
}

/// `<unix seconds>.<event id>` of the last entry shown.
fn parse_cursor(cursor: &str) -> Result<(OffsetDateTime, String)> {
    let invalid = || -> ManagementError { Problem::bad_request("before: not a cursor from a previous page").into() };
    let (at, id) = cursor.split_once('.').ok_or_else(invalid)?;
    let at = at.parse::<i64>().ok().and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok()).ok_or_else(invalid)?;
    if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Err(invalid());
    }
    Ok((at, id.to_owned()))
}

/// The recorded decision, summarised. The decision is stored as JSON (records outlive the
/// engine's types), so its parts are picked out by where the engine writes them.
fn policy_summary(decision: &Value) -> SignInPolicy {
    let text = |pointer: &str| decision.pointer(pointer).and_then(Value::as_str).map(str::to_owned);
    SignInPolicy { outcome: text("/outcome/kind"), rule: text("/winning_rule/code"), reasons: decision.get("reasons").cloned() }
}

fn entry(event: &SignInEvent) -> SignIn {
    SignIn {
        id: event.id.clone(),
        at: event.at.unix_timestamp(),
        application: event.client_id.clone(),
        address: event.address.clone(),
        user_agent: event.user_agent.clone(),
        device: event.device_id.clone(),
        result: event.result.as_str().to_owned(),
        methods: event.amr.clone(),
        acr: event.acr.clone(),
        policy: event.decision.as_ref().map(policy_summary),
        risky: event.risky,
        reported_at: event.reported_at.map(OffsetDateTime::unix_timestamp),
    }
}

async fn history(state: &AppState, user: &UserId, page: &Page) -> Result<Response> {
    let before = page.before.as_deref().map(parse_cursor).transpose()?;
    let limit = page.limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE);
    let events = state.store.sign_ins(user, &page.filter()?, before, limit).await?;
    let next = (events.len() == limit as usize).then(|| events.last().map(|e| format!("{}.{}", e.at.unix_timestamp(), e.id))).flatten();
    Ok(Json(SignInHistory { sign_ins: events.iter().map(entry).collect(), next }).into_response())
}

/// `GET /api/v1/me/sign-ins`
pub async fn mine(State(state): State<AppState>, headers: HeaderMap, Query(page): Query<Page>) -> Result<Response> {
    let user = account_api::signed_in_user(&state, &headers).await?;
    history(&state, &user, &page).await
}

/// `GET /api/v1/users/{id}/sign-ins` (tenant admins for their users, operators for anyone).
/// Reading someone else's history is a read of personal data: it is audited. Who may read it
/// is who may manage the user: an operator in a tenant admin's tenant is "not found" here as
/// in every other read or write of the admin API.
pub async fn of_user(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(page): Query<Page>,
) -> Result<Response> {
    let caller = caller(&state, &headers).await?;
    let user = state
        .store
        .user(&UserId::new(id))
        .await?
        .filter(|u| caller.may_manage(u))
        .ok_or_else(|| Problem::new(axum::http::StatusCode::NOT_FOUND, "Not found", "no such user"))?;
    let response = history(&state, &user.id, &page).await?;
    let read = caller.audit(addr, &headers, "personal_data.read", format!("user:{}", user.id), None, None).in_tenant(user.tenant_id.as_str());
    state.audit.append(&AuditEntry { reason: Some("login history".into()), ..read }).await?;
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_parse_only_as_issued() {
        let (at, id) = parse_cursor("1700000000.abc-DEF_1").unwrap();
        assert_eq!((at.unix_timestamp(), id.as_str()), (1_700_000_000, "abc-DEF_1"));
        for bad in ["", "1700000000", "x.abc", "1700000000.", "1700000000.a b", "1700000000.'; DROP"] {
            assert!(parse_cursor(bad).is_err(), "{bad:?}");
        }
    }
}
