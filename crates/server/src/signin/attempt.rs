//! What the server knows about the browser making a sign-in attempt (address, user agent,
//! device cookie), and recording attempts in the sign-in history that login history and the
//! risk signals read.

use std::net::IpAddr;

use axum::http::{HeaderMap, HeaderValue};
use gatehouse_core::model::User;
use gatehouse_store::{DeviceRecord, SignInEvent, SignInResult};
use time::OffsetDateTime;

use crate::error::ServerError;
use crate::http::cookies;
use crate::state::AppState;

/// The browser behind one request.
#[derive(Clone, Debug)]
pub struct Attempt {
    pub address: IpAddr,
    /// Truncated to 256 characters: a header is attacker-controlled.
    pub user_agent: String,
    /// The device cookie's secret, when the browser sent one.
    pub device_token: Option<String>,
}

impl Attempt {
    pub fn new(state: &AppState, headers: &HeaderMap, address: IpAddr) -> Self {
        let user_agent = crate::http::user_agent(headers);
        let device_token = cookies::read(headers, cookies::device_cookie_name(state.config.secure_cookies()));
        Self { address, user_agent, device_token }
    }

    /// The device row of this browser for `user` (a keyed digest of the cookie and the user,
    /// so one browser shared by two people is two devices, and the cookie alone names nothing).
    pub fn device_id(&self, state: &AppState, user: &User) -> Option<String> {
        let token = self.device_token.as_deref()?;
        Some(device_id(state, user, token))
    }
}

fn device_id(state: &AppState, user: &User, token: &str) -> String {
    state.digester.digest(&format!("device:{}:{token}", user.id)).iter().map(|b| format!("{b:02x}")).collect()
}

/// The device row to write after a successful sign-in, and the device cookie to set when the
/// browser had none; `second_factor` marks a 2FA the user asked to remember.
pub fn device_after_sign_in(
    state: &AppState,
    attempt: &Attempt,
    user: &User,
    second_factor: bool,
    now: OffsetDateTime,
) -> Result<(DeviceRecord, Option<HeaderValue>), ServerError> {
    let (token, cookie) = match &attempt.device_token {
        Some(token) => (token.clone(), None),
        None => {
            let token = gatehouse_crypto::random::token()?;
            let secure = state.config.secure_cookies();
            let cookie = cookies::set(cookies::device_cookie_name(secure), &token, secure, Some(cookies::DEVICE_COOKIE_MAX_AGE));
            (token, Some(cookie))
        }
    };
    let device = DeviceRecord {
        id: device_id(state, user, &token),
        user_id: user.id.clone(),
        created_at: now,
        last_seen_at: now,
        second_factor_at: second_factor.then_some(now),
        user_agent: attempt.user_agent.clone(),
        reported_at: None,
    };
    Ok((device, cookie))
}

/// The key of a decision's report-only companion (see `policy::decide_with`).
pub const REPORT_ONLY: &str = "report_only";

/// What to record about an attempt beyond the browser.
pub struct Outcome<'a> {
    pub user: Option<&'a User>,
    pub client_id: Option<&'a str>,
    pub result: SignInResult,
    pub amr: Vec<String>,
    pub acr: Option<String>,
    pub decision: Option<&'a serde_json::Value>,
    pub device_id: Option<String>,
}

/// Appends an attempt to the sign-in history.
pub async fn record(state: &AppState, attempt: &Attempt, outcome: Outcome<'_>, now: OffsetDateTime) -> Result<(), ServerError> {
    state.store.record_sign_in(&event(attempt, outcome, now)?).await?;
    Ok(())
}

/// The history entry for an attempt.
pub fn event(attempt: &Attempt, outcome: Outcome<'_>, now: OffsetDateTime) -> Result<SignInEvent, ServerError> {
    let risky = outcome.decision.and_then(|d| d.get("risky_single_factor")).and_then(serde_json::Value::as_bool).unwrap_or(false);
    // A report-only decision rides inside the decision until it is stored in its own column.
    let mut decision = outcome.decision.cloned();
    let staged_decision = decision.as_mut().and_then(serde_json::Value::as_object_mut).and_then(|d| d.remove(REPORT_ONLY));
    let event = SignInEvent {
        // Time first, so entries of one second still sort in the order they happened.
        id: format!("{:020x}-{}", now.unix_timestamp_nanos().max(0), gatehouse_crypto::random::id()?),
        at: now,
        user_id: outcome.user.map(|u| u.id.clone()),
        tenant_id: outcome.user.map(|u| u.tenant_id.clone()),
        client_id: outcome.client_id.map(str::to_owned),
        address: attempt.address.to_string(),
        user_agent: attempt.user_agent.clone(),
        device_id: outcome.device_id,
        result: outcome.result,
        amr: outcome.amr,
        acr: outcome.acr,
        decision,
        risky,
        staged_decision,
        reported_at: None,
    };
    Ok(event)
}
