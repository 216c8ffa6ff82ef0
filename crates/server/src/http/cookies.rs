//! Cookies: the SSO session and the browser binding of a sign-in in progress. Both carry only a
//! random secret; the store keeps its keyed digest, so a tampered or guessed cookie matches
//! nothing.

use axum::http::{HeaderMap, HeaderValue, header};
use gatehouse_store::SessionRecord;
use time::OffsetDateTime;

use crate::error::ServerError;
use crate::state::AppState;

pub fn session_cookie_name(secure: bool) -> &'static str {
    // `__Host-` makes browsers refuse the cookie unless Secure, host-only and Path=/.
    if secure { "__Host-gatehouse_session" } else { "gatehouse_session" }
}

pub fn flow_cookie_name(secure: bool) -> &'static str {
    if secure { "__Host-gatehouse_flow" } else { "gatehouse_flow" }
}

/// The long-lived device cookie: names a browser so a sign-in from it is not "a new device",
/// and, after a second factor the user asked to remember, lowers an Adaptive sign-in's risk.
pub fn device_cookie_name(secure: bool) -> &'static str {
    if secure { "__Host-gatehouse_device" } else { "gatehouse_device" }
}

/// 400 days: the longest lifetime browsers keep a cookie.
pub const DEVICE_COOKIE_MAX_AGE: i64 = 400 * 86_400;

pub fn read(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.to_owned())
        .filter(|v| !v.is_empty() && v.len() <= 128)
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, Path=/, Secure under TLS. `max_age: None`
/// makes a browser-session cookie; `Some(0)` deletes it.
pub fn set(name: &str, value: &str, secure: bool, max_age: Option<i64>) -> HeaderValue {
    let mut cookie = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
    if secure {
        cookie.push_str("; Secure");
    }
    if let Some(age) = max_age {
        cookie.push_str(&format!("; Max-Age={age}"));
    }
    HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static("invalid=; Max-Age=0"))
}

/// The active SSO session named by the request's cookie, if any.
pub async fn current_session(state: &AppState, headers: &HeaderMap, now: OffsetDateTime) -> Result<Option<SessionRecord>, ServerError> {
    let Some(secret) = read(headers, session_cookie_name(state.config.secure_cookies())) else {
        return Ok(None);
    };
    let digest = state.digester.digest(&secret);
    let Some(session) = state.store.session_by_secret(&digest).await? else {
        return Ok(None);
    };
    let active = session.ended_at.is_none() && state.config.sessions.is_active(session.created_at, session.last_seen_at, now);
    Ok(active.then_some(session))
}

/// The browser-binding secret, creating one when the browser has none yet.
pub fn flow_secret(state: &AppState, headers: &HeaderMap) -> Result<(String, Option<HeaderValue>), ServerError> {
    let name = flow_cookie_name(state.config.secure_cookies());
    if let Some(existing) = read(headers, name) {
        return Ok((existing, None));
    }
    let fresh = gatehouse_crypto::random::token()?;
    let cookie = set(name, &fresh, state.config.secure_cookies(), None);
    Ok((fresh, Some(cookie)))
}

/// CSRF token for forms tied to an SSO session: a keyed digest of the session secret, so it
/// needs no storage and is useless without the session cookie.
pub fn session_csrf(state: &AppState, headers: &HeaderMap) -> Option<String> {
    let secret = read(headers, session_cookie_name(state.config.secure_cookies()))?;
    use base64::Engine as _;
    Some(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(state.digester.digest(&format!("csrf:{secret}"))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_named_cookie_among_others() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("a=1; gatehouse_session=abc; b=2"));
        assert_eq!(read(&h, "gatehouse_session").as_deref(), Some("abc"));
        assert_eq!(read(&h, "missing"), None);
    }

    #[test]
    fn cookie_attributes() {
        let c = set("__Host-x", "v", true, Some(0));
        let c = c.to_str().unwrap();
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Lax") && c.contains("Secure") && c.contains("Max-Age=0"));
        assert!(!set("x", "v", false, None).to_str().unwrap().contains("Secure"));
    }
}
