//! The browser behind a sign-in request, read from its headers and cookies, and recording an
//! attempt in the sign-in history (`gatehouse_signin::attempt` builds the entry).

use axum::http::HeaderMap;
use gatehouse_signin::SystemRandomness;
use std::net::IpAddr;
use time::OffsetDateTime;

pub use gatehouse_signin::attempt::{Attempt, Outcome};

use crate::error::ServerError;
use crate::http::cookies;
use crate::state::AppState;

/// The browser of this request: its address, user agent and device cookie.
pub fn of_request(state: &AppState, headers: &HeaderMap, address: IpAddr) -> Attempt {
    let user_agent = headers.get(axum::http::header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let device_token = cookies::read(headers, cookies::device_cookie_name(state.config.secure_cookies()));
    Attempt::new(address, user_agent, device_token)
}

/// Appends an attempt to the sign-in history.
pub async fn record(state: &AppState, attempt: &Attempt, outcome: Outcome<'_>, now: OffsetDateTime) -> Result<(), ServerError> {
    state.store.record_sign_in(&gatehouse_signin::attempt::event(&SystemRandomness, attempt, outcome, now)?).await?;
    Ok(())
}
