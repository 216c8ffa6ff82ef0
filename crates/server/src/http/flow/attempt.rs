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
    let device_token = cookies::read(headers, cookies::device_cookie_name(state.config.secure_cookies()));
    Attempt::new(address, &crate::http::user_agent(headers), device_token)
}

/// Appends an attempt to the sign-in history.
pub async fn record(state: &AppState, attempt: &Attempt, outcome: Outcome<'_>, now: OffsetDateTime) -> Result<(), ServerError> {
    state.store.record_sign_in(&gatehouse_signin::attempt::event(&SystemRandomness, attempt, outcome, now)?).await?;
    Ok(())
}
