//! The console's templates (askama, checked at compile time, HTML-escaped).

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use super::session::Flash;
use crate::error::PageError;
use crate::messages::Messages;

/// The frame around a signed-in page: navigation, sign-out form and the flash message.
pub struct Chrome<'a> {
    pub csrf_token: &'a str,
    pub admin: bool,
    /// `account` or `admin`: the navigation marks it current.
    pub section: &'static str,
    pub flash: Option<Flash>,
}

/// Renders any console template as a page with `status`.
pub trait RenderPage: Template {
    fn render_page(&self, status: StatusCode) -> Response {
        match self.render() {
            Ok(html) => (status, Html(html)).into_response(),
            Err(e) => PageError::from(e).into_response(),
        }
    }
}

impl<T: Template> RenderPage for T {}

#[derive(Template)]
#[template(path = "console/notice.html")]
pub struct NoticePage<'a> {
    pub m: &'static Messages,
    /// Always `None`: the person may not be signed in.
    pub chrome: Option<Chrome<'a>>,
    pub title: &'a str,
    pub message: &'a str,
    pub link: &'a str,
}

pub struct FactorRow {
    pub id: String,
    pub kind: String,
    pub label: String,
    pub confirmed: bool,
    pub added: String,
    pub last_used: String,
}

pub struct SessionRow {
    pub id: String,
    pub started: String,
    pub seen: String,
    pub methods: String,
    pub current: bool,
}

pub struct HistoryRow {
    pub at: String,
    pub application: String,
    pub address: String,
    pub result: String,
}

#[derive(Template)]
#[template(path = "console/account.html")]
pub struct AccountPage<'a> {
    pub m: &'static Messages,
    pub chrome: Option<Chrome<'a>>,
    pub csrf_token: &'a str,
    pub name: String,
    pub email: String,
    pub factors: Vec<FactorRow>,
    pub has_factor: bool,
    pub allowed_totp: bool,
    pub allowed_sms: bool,
    /// Security keys and passkeys that may be added: (kind, button text).
    pub webauthn: Vec<(&'static str, &'static str)>,
    pub recovery_left: u64,
    pub new_codes: Option<&'a [String]>,
    pub sessions: Vec<SessionRow>,
    pub history: Vec<HistoryRow>,
}

#[derive(Template)]
#[template(path = "console/account_totp.html")]
pub struct TotpSetupPage<'a> {
    pub m: &'static Messages,
    pub chrome: Option<Chrome<'a>>,
    pub csrf_token: &'a str,
    pub factor: &'a str,
    pub secret: &'a str,
    pub qr_code: &'a str,
}

#[derive(Template)]
#[template(path = "console/account_sms.html")]
pub struct SmsConfirmPage<'a> {
    pub m: &'static Messages,
    pub chrome: Option<Chrome<'a>>,
    pub csrf_token: &'a str,
    pub factor: &'a str,
    pub challenge: &'a str,
}

#[derive(Template)]
#[template(path = "console/account_remove.html")]
pub struct RemoveFactorPage<'a> {
    pub m: &'static Messages,
    pub chrome: Option<Chrome<'a>>,
    pub csrf_token: &'a str,
    pub id: &'a str,
    pub label: &'a str,
    pub kind: &'a str,
}

/// A Unix time as people read it (UTC, to the minute).
pub fn when(unix: Option<i64>, never: &str) -> String {
    let Some(t) = unix.and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok()) else { return never.to_owned() };
    format!("{}-{:02}-{:02} {:02}:{:02} UTC", t.year(), u8::from(t.month()), t.day(), t.hour(), t.minute())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_utc_minutes() {
        assert_eq!(when(Some(1_800_000_000), "never"), "2027-01-15 08:00 UTC");
        assert_eq!(when(None, "never"), "never");
    }
}
