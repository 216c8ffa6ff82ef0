//! Server-rendered pages (askama templates, checked at compile time; HTML-escaped by default).

use askama::Template;

use crate::messages::Messages;

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage<'a> {
    pub m: &'static Messages,
    pub title: &'a str,
    pub message: &'a str,
}

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage<'a> {
    pub m: &'static Messages,
    pub client_name: &'a str,
    pub request_id: &'a str,
    pub csrf_token: &'a str,
    pub email: &'a str,
    pub error: Option<&'a str>,
    /// Offer "Sign in with a passkey" (WebAuthn is available on this server).
    pub passkeys: bool,
    /// The first step: the email alone, then the password or the organisation's own sign-in.
    pub identify: bool,
    /// Identity providers the application suggested (`idp_hint`), offered as buttons.
    pub providers: Vec<ProviderButton<'a>>,
}

/// A button starting a sign-in at an organisation's identity provider.
pub struct ProviderButton<'a> {
    /// `TENANT_ID/PROVIDER_ID`.
    pub key: String,
    pub name: &'a str,
}

#[derive(Template)]
#[template(path = "password_change.html")]
pub struct PasswordChangePage<'a> {
    pub m: &'static Messages,
    pub request_id: &'a str,
    pub csrf_token: &'a str,
    pub email: &'a str,
    pub min_length: usize,
    /// Whether a code can be sent to the mailbox (else the page says whom to ask).
    pub code_deliverable: bool,
    pub error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "form_post.html")]
pub struct FormPostPage<'a> {
    pub m: &'static Messages,
    pub action: &'a str,
    pub fields: Vec<(&'a str, String)>,
}

/// Leaving for an organisation's identity provider after a form: a link followed at once by a
/// script (a form's redirect to another origin would break the page's `form-action`).
#[derive(Template)]
#[template(path = "federation_redirect.html")]
pub struct FederationRedirectPage<'a> {
    pub m: &'static Messages,
    pub url: &'a str,
    pub name: &'a str,
}

#[derive(Template)]
#[template(path = "logout_confirm.html")]
pub struct LogoutConfirmPage<'a> {
    pub m: &'static Messages,
    pub csrf_token: &'a str,
    pub fields: Vec<(&'a str, String)>,
}

#[derive(Template)]
#[template(path = "logged_out.html")]
pub struct LoggedOutPage<'a> {
    pub m: &'static Messages,
    /// The company's provider the session came through and its sign-out address, offered as a
    /// link (Gatehouse's session is over; the provider's may not be).
    pub provider: Option<(&'a str, &'a str)>,
}

#[derive(Template)]
#[template(path = "demo_home.html")]
pub struct DemoHomePage {
    pub m: &'static Messages,
}

#[derive(Template)]
#[template(path = "demo_claims.html")]
pub struct DemoClaimsPage {
    pub m: &'static Messages,
    pub claims: Vec<(String, String)>,
    pub logout_url: String,
}

#[derive(Template)]
#[template(path = "factor.html")]
pub struct FactorPage<'a> {
    pub m: &'static Messages,
    pub client_name: &'a str,
    pub request_id: &'a str,
    pub csrf_token: &'a str,
    pub totp: bool,
    /// Where a text message would go (`Flow::phone_ending`: "your phone ending in 67"), when
    /// SMS is offered.
    pub sms_to: Option<String>,
    pub sms_sent: bool,
    pub recovery: bool,
    /// Security keys and passkeys the user can present: (kind, the button's text).
    pub webauthn: Vec<(&'static str, &'static str)>,
    /// Days a verified browser may be remembered (0: the checkbox is not offered).
    pub remember_days: u16,
    pub message: Option<&'a str>,
    pub error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "enroll.html")]
pub struct EnrollPage<'a> {
    pub m: &'static Messages,
    pub client_name: &'a str,
    pub request_id: &'a str,
    pub csrf_token: &'a str,
    /// An authenticator app to set up: the QR code as a `data:image/svg+xml` URI (the CSP
    /// allows `img-src data:`) and the key as text.
    pub totp: Option<(String, &'a str)>,
    /// Security keys and passkeys that may be registered: (kind, the button's text).
    pub webauthn: Vec<(&'static str, &'static str)>,
    /// A phone may be set up; `sms_sent` once a code went to it.
    pub sms: bool,
    pub sms_sent: bool,
    pub error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "recovery_codes.html")]
pub struct RecoveryCodesPage<'a> {
    pub m: &'static Messages,
    pub request_id: &'a str,
    pub csrf_token: &'a str,
    pub codes: &'a [&'a str],
}

#[derive(Template)]
#[template(path = "enroll_unavailable.html")]
pub struct EnrollUnavailablePage<'a> {
    pub m: &'static Messages,
    pub client_name: &'a str,
    /// The methods the organisation allows, as a list (`Flow::list`).
    pub methods: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_page_escapes_and_carries_autocomplete_hints() {
        let html = LoginPage {
            m: &crate::messages::EN,
            client_name: "<script>x</script>",
            request_id: "r1",
            csrf_token: "c1",
            email: "a\"b@acme.test",
            error: Some(crate::messages::EN.flow.bad_credentials),
            passkeys: false,
            identify: false,
            providers: vec![ProviderButton { key: "t/<corp>".into(), name: "<b>Corp</b>" }],
        }
        .render()
        .unwrap();
        assert!(!html.contains("<script>x</script>") && !html.contains("<b>Corp</b>") && !html.contains("t/<corp>"));
        assert!(html.contains("autocomplete=\"username\""));
        assert!(html.contains("autocomplete=\"current-password\""));
        assert!(html.contains("aria-describedby=\"form-error\""));
        assert!(!html.contains("a\"b@"));
    }

    #[test]
    fn the_first_step_asks_for_the_email_alone() {
        let html = LoginPage {
            m: &crate::messages::EN,
            client_name: "Payroll",
            request_id: "r1",
            csrf_token: "c1",
            email: "",
            error: None,
            passkeys: false,
            identify: true,
            providers: vec![],
        }
        .render()
        .unwrap();
        assert!(html.contains("name=\"email\"") && !html.contains("name=\"password\""));
        assert!(html.contains(crate::messages::EN.flow.identify_continue));
    }

    #[test]
    fn factor_page_offers_only_what_it_is_told_with_one_time_code_hints() {
        let html = FactorPage {
            m: &crate::messages::EN,
            client_name: "Payroll",
            request_id: "r1",
            csrf_token: "c1",
            totp: true,
            sms_to: None,
            sms_sent: false,
            recovery: true,
            webauthn: vec![],
            remember_days: 30,
            message: None,
            error: Some(crate::messages::EN.flow.wrong_code),
        }
        .render()
        .unwrap();
        assert!(html.contains("autocomplete=\"one-time-code\""));
        assert!(html.contains("value=\"totp\"") && html.contains("value=\"recovery_code\""));
        assert!(!html.contains("value=\"sms\""), "SMS is not offered");
        assert!(html.contains("aria-describedby=\"form-error\""));
    }
}
