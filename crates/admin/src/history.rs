//! Login history: a person's own and, for tenant admins and operators, any user of theirs.
//! Newest first, with an opaque cursor for the next page; each entry says when, which
//! application, from where and which device, the result, the methods used and the policy's
//! decision.

use gatehouse_api::sign_ins::{FederationRefusal, SignIn, SignInHistory, SignInPolicy};
use gatehouse_core::audit::AuditEntry;
use gatehouse_core::ids::UserId;
use gatehouse_store::{SignInEvent, SignInFilter, SignInResult};
use serde::Deserialize;
use serde_json::Value;
use time::OffsetDateTime;

use crate::caller::{Caller, Origin};
use crate::context::Admin;
use crate::error::{AdminError, Result};

const DEFAULT_PAGE: u32 = 50;
const MAX_PAGE: u32 = 200;

/// One page of a login history, and its filters.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Page {
    pub before: Option<String>,
    pub limit: Option<u32>,
    /// `success`, `failure`, `second_factor_failure` or `denied`.
    pub result: Option<String>,
    pub application: Option<String>,
    /// RFC 3339 times: `since` inclusive, `until` exclusive.
    pub since: Option<String>,
    pub until: Option<String>,
}

/// An optional RFC 3339 time given as the filter `name`.
pub fn parse_time(name: &str, value: Option<&str>) -> Result<Option<OffsetDateTime>> {
    value
        .map(|v| {
            OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339)
                .map_err(|_| AdminError::bad_request(format!("{name}: not an RFC 3339 time like 2026-01-31T00:00:00Z")))
        })
        .transpose()
}

impl Page {
    fn filter(&self) -> Result<SignInFilter> {
        let result = match self.result.as_deref() {
            None => None,
            Some(r) => Some(SignInResult::parse(r).ok_or_else(|| AdminError::bad_request("result: one of success, failure, second_factor_failure, denied"))?),
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
    let invalid = || AdminError::bad_request("before: not a cursor from a previous page");
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

/// A refused federated sign-in's record (`steps::federated::record_failure` writes it).
fn federation_refusal(decision: &Value) -> Option<FederationRefusal> {
    let refused = decision.get("federation")?;
    let text = |name: &str| refused.get(name).and_then(Value::as_str).map(str::to_owned);
    Some(FederationRefusal { check: text("refused")?, issuer: text("issuer"), subject: text("subject") })
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
        // A refused federated sign-in's record is not a policy decision.
        policy: event.decision.as_ref().filter(|d| d.get("federation").is_none()).map(policy_summary),
        risky: event.risky,
        reported_at: event.reported_at.map(OffsetDateTime::unix_timestamp),
        identity_provider: event.idp.clone(),
        federation_refusal: event.decision.as_ref().and_then(federation_refusal),
    }
}

impl Admin<'_> {
    /// A page of `user`'s login history (the person's own; the edge has checked whose token).
    pub async fn sign_in_history(&self, user: &UserId, page: &Page) -> Result<SignInHistory> {
        let before = page.before.as_deref().map(parse_cursor).transpose()?;
        let limit = page.limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE);
        let events = self.store.sign_ins(user, &page.filter()?, before, limit).await?;
        let next = (events.len() == limit as usize).then(|| events.last().map(|e| format!("{}.{}", e.at.unix_timestamp(), e.id))).flatten();
        Ok(SignInHistory { sign_ins: events.iter().map(entry).collect(), next })
    }

    /// Another person's login history (tenant admins for their users, operators for anyone).
    /// A read of personal data: audited. Who may read it is who may manage the user.
    pub async fn sign_in_history_of(&self, caller: &Caller, origin: &Origin, id: &str, page: &Page) -> Result<SignInHistory> {
        let user = self.user_for(caller, id).await?;
        let history = self.sign_in_history(&user.id, page).await?;
        let read = caller.audit(origin, self.now, "personal_data.read", format!("user:{}", user.id), None, None).in_tenant(user.tenant_id.as_str());
        self.audit.append(&AuditEntry { reason: Some("login history".into()), ..read }).await?;
        Ok(history)
    }
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

    #[test]
    fn filters_refuse_unknown_results_and_times() {
        let page = |result: Option<&str>, since: Option<&str>| Page { result: result.map(str::to_owned), since: since.map(str::to_owned), ..Page::default() };
        assert!(page(Some("success"), Some("2026-01-31T00:00:00Z")).filter().is_ok());
        assert!(matches!(page(Some("maybe"), None).filter(), Err(AdminError::BadRequest(_))));
        assert!(matches!(page(None, Some("yesterday")).filter(), Err(AdminError::BadRequest(_))));
    }
}
