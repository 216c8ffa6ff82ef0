//! The console: the account page (`/account`) and the admin console (`/admin`). It is a
//! first-party OpenID Connect client of this server (`gatehouse-console`, public, PKCE), like
//! Keycloak's account and admin consoles: a person signs in through `/authorize` (so the
//! domain and application policies, step-up and lockout all apply), and every page reads and
//! writes through the API with that person's access token ([`api`]). Pages are server-rendered;
//! forms carry a CSRF token bound to the console session and answer with Post/Redirect/Get.

pub mod account;
mod account_factors;
pub mod admin;
mod admin_monitor;
mod admin_operator;
mod admin_pages;
mod admin_simulate;
mod admin_users;
pub mod api;
mod pages;
/// The browser sessions live below the console (`gatehouse-console-sessions`): the server's
/// state holds them, and must not depend on the console.
pub use gatehouse_console_sessions as session;

use axum::Router;
use axum::extract::connect_info::ConnectInfo;
use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use gatehouse_admin::applications::{self, console_callback_uri as callback_uri};
use gatehouse_core::pkce::CodeChallenge;
use gatehouse_store::Store;
use serde::Deserialize;
use std::collections::HashMap;
use std::net::SocketAddr;
use time::{Duration, OffsetDateTime};
use url::Url;
use zeroize::Zeroizing;

use crate::error::{PageError, ServerError};
use crate::http::cookies;
use crate::http::respond::see_other;
use crate::messages::{Messages, messages_for};
use crate::state::{AppState, now};
use api::{Api, ApiFailure, ApiRouter};
use pages::RenderPage;
use session::{Flash, PendingSignIn, SignedIn, View};

pub use gatehouse_admin::applications::CONSOLE_CLIENT_ID;
/// What the console asks for: the person's self-service API and, for admins and operators,
/// the admin API (the API itself decides what each person may do).
const SCOPE: &str = "openid profile email gatehouse:account gatehouse:admin";

fn cookie_name(secure: bool) -> &'static str {
    if secure { "__Host-gatehouse_console" } else { "gatehouse_console" }
}

/// Registers the console at start-up (`gatehouse_admin::applications::register_console`).
pub async fn register(store: &dyn Store, issuer: &str, now: OffsetDateTime) -> Result<(), ServerError> {
    applications::register_console(store, issuer, now).await.map_err(|e| match e {
        gatehouse_admin::AdminError::Store(e) => ServerError::Store(e),
        other => ServerError::Config(other.to_string()),
    })
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console/callback", get(callback))
        .route("/console/sign-in", get(sign_in))
        .route("/console/sign-out", post(sign_out))
        .merge(account::routes())
        .merge(admin::routes())
}

#[derive(Deserialize)]
pub struct SignInQuery {
    login_hint: Option<String>,
}

/// `GET /console/sign-in?login_hint=...`: a sign-in to the account page for the person named,
/// which goes straight to their organisation's provider when their domain is bound to one.
/// Where an unsolicited SAML answer (IdP-initiated sign-in) sends the browser: the sign-in it
/// starts is this browser's own, so nobody is signed in by someone else's answer.
async fn sign_in(console: Console, Query(query): Query<SignInQuery>) -> Response {
    if console.view.access_token.is_some() {
        return console.finish(Ok(see_other("/account")));
    }
    // A hint is an email address at most; anything else starts a plain sign-in.
    let hint = query.login_hint.filter(|hint| hint.len() <= 254 && gatehouse_core::Email::parse(hint).is_ok());
    let started = console.sign_in_url_with_hint("/account", None, hint.as_deref()).map(|url| see_other(&url)).map_err(ConsoleError::from);
    console.finish(started)
}

/// Why a console request did not end in its page.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// Sign in (again, or more strongly), then come back to `return_to`.
    #[error("a sign-in is needed")]
    SignIn { return_to: String, step_up: Option<(String, Option<u32>)> },
    /// The form's CSRF token does not match this browser's console session.
    #[error("the form expired")]
    FormExpired,
    /// The API refused: the reason is shown on `back_to`.
    #[error("refused: {detail}")]
    Refused { back_to: String, detail: String },
    /// Input the console itself rejects before calling the API.
    #[error("not found")]
    NotFound,
    #[error("{}", .0.title)]
    Page(PageError),
}

impl From<PageError> for ConsoleError {
    fn from(e: PageError) -> Self {
        Self::Page(e)
    }
}

impl From<askama::Error> for ConsoleError {
    fn from(e: askama::Error) -> Self {
        Self::Page(PageError::from(e))
    }
}

/// One console request: the browser's console session, and what is needed to call the API.
pub struct Console {
    pub state: AppState,
    pub m: &'static Messages,
    key: Vec<u8>,
    /// A cookie to set: this browser had no console session.
    new_cookie: Option<String>,
    pub view: View,
    router: ApiRouter,
    peer: Option<ConnectInfo<SocketAddr>>,
    headers: HeaderMap,
    /// This page, to come back to after a sign-in.
    pub here: String,
}

impl FromRequestParts<AppState> for Console {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let now = now();
        let router = parts.extensions.get::<ApiRouter>().cloned().ok_or_else(|| StatusCode::INTERNAL_SERVER_ERROR.into_response())?;
        let secure = state.config.secure_cookies();
        let existing = cookies::read(&parts.headers, cookie_name(secure)).map(|secret| state.digester.digest(&secret));
        let (key, view, new_cookie) = match existing.and_then(|key| state.console.view(&key, now).map(|view| (key, view))) {
            Some((key, view)) => (key, view, None),
            None => {
                let secret = gatehouse_crypto::random::token().map_err(|e| PageError::from(ServerError::from(e)).into_response())?;
                let csrf = gatehouse_crypto::random::token().map_err(|e| PageError::from(ServerError::from(e)).into_response())?;
                let key = state.digester.digest(&secret);
                // Full of signed-in sessions: this visit gets a session that is not kept (its
                // sign-in will say so), and nobody already signed in is pushed out.
                let kept = state.console.create(key.clone(), csrf.clone(), now);
                let view = state.console.view(&key, now).filter(|_| kept).unwrap_or(View {
                    csrf_token: csrf,
                    access_token: None,
                    user_id: None,
                    flash: None,
                    codes: None,
                });
                (key, view, Some(secret))
            }
        };
        Ok(Self {
            state: state.clone(),
            m: messages_for(&parts.headers),
            key,
            new_cookie,
            view,
            router,
            peer: parts.extensions.get::<ConnectInfo<SocketAddr>>().copied(),
            headers: parts.headers.clone(),
            here: return_page(&parts.method, &parts.uri),
        })
    }
}

impl Console {
    /// The API, as the signed-in person; a sign-in first when there is none.
    pub fn api(&self) -> Result<Api<'_>, ConsoleError> {
        let token = self.view.access_token.as_deref().ok_or_else(|| ConsoleError::SignIn { return_to: self.here.clone(), step_up: None })?;
        Ok(Api::new(&self.router, token, self.peer, &self.headers))
    }

    /// Refuses a request another site started (`Sec-Fetch-Site: cross-site`): a link elsewhere
    /// must not make a signed-in person's browser export personal data (and leave an audit
    /// record in their name). Browsers without the header are let through; the CSRF token
    /// guards every write.
    pub fn require_same_site(&self) -> Result<(), ConsoleError> {
        match self.headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
            Some("cross-site") => Err(ConsoleError::FormExpired),
            _ => Ok(()),
        }
    }

    pub fn user_id(&self) -> &str {
        self.view.user_id.as_deref().unwrap_or_default()
    }

    /// Checks a posted form's CSRF token; a stale or forged form changes nothing.
    pub fn check_form(&self, form: &HashMap<String, String>) -> Result<(), ConsoleError> {
        match form.get("csrf_token") {
            Some(sent) if self.state.console.csrf_ok(&self.key, sent) => Ok(()),
            _ => Err(ConsoleError::FormExpired),
        }
    }

    /// What an API refusal means for this request, coming back to `back_to`.
    pub fn failed(&self, failure: ApiFailure, back_to: &str) -> ConsoleError {
        match failure {
            ApiFailure::SignIn => {
                self.state.console.drop_token(&self.key);
                ConsoleError::SignIn { return_to: back_to.to_owned(), step_up: None }
            }
            ApiFailure::StepUp { acr_values, max_age } => ConsoleError::SignIn { return_to: back_to.to_owned(), step_up: Some((acr_values, max_age)) },
            ApiFailure::Refused { status: StatusCode::NOT_FOUND, .. } => {
                ConsoleError::Refused { back_to: back_to.to_owned(), detail: self.m.common.not_found.to_owned() }
            }
            ApiFailure::Refused { detail, .. } => ConsoleError::Refused { back_to: back_to.to_owned(), detail },
            ApiFailure::Internal(reason) => {
                tracing::error!(%reason, "a console API call failed");
                ConsoleError::Page(PageError::from(ServerError::Internal("console API call failed")))
            }
        }
    }

    /// A JSON answer of the API as a download (an access report), never cached.
    pub fn download(body: bytes::Bytes, filename: &'static str) -> Response {
        let mut response = (StatusCode::OK, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Ok(disposition) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
            headers.insert(header::CONTENT_DISPOSITION, disposition);
        }
        response
    }

    /// Post/Redirect/Get with a message for the next page.
    pub fn done(&self, to: &str, text: impl Into<String>) -> Response {
        self.state.console.flash(&self.key, Flash { error: false, text: text.into() });
        see_other(to)
    }

    /// Shows recovery codes once, on the next page.
    pub fn show_codes(&self, codes: Vec<String>) {
        self.state.console.show_codes(&self.key, codes);
    }

    /// The response for a handler's result: the page, or a sign-in, an expired-form notice, a
    /// refusal shown on the page it came from.
    pub fn finish(&self, result: Result<Response, ConsoleError>) -> Response {
        let mut response = match result {
            Ok(response) => response,
            Err(ConsoleError::SignIn { return_to, step_up }) => self.start_sign_in(&return_to, step_up.as_ref()).unwrap_or_else(IntoResponse::into_response),
            Err(ConsoleError::FormExpired) => {
                let page = pages::NoticePage {
                    m: self.m,
                    chrome: None,
                    title: self.m.common.form_expired_title,
                    message: self.m.common.form_expired,
                    link: "/account",
                };
                page.render_page(StatusCode::BAD_REQUEST)
            }
            Err(ConsoleError::Refused { back_to, detail }) => {
                self.state.console.flash(&self.key, Flash { error: true, text: detail });
                see_other(&back_to)
            }
            Err(ConsoleError::NotFound) => {
                let page =
                    pages::NoticePage { m: self.m, chrome: None, title: self.m.common.not_found_title, message: self.m.common.not_found, link: "/account" };
                page.render_page(StatusCode::NOT_FOUND)
            }
            Err(ConsoleError::Page(error)) => error.into_response(),
        };
        if let Some(secret) = &self.new_cookie {
            response
                .headers_mut()
                .append(header::SET_COOKIE, cookies::set(cookie_name(self.state.config.secure_cookies()), secret, self.state.config.secure_cookies(), None));
        }
        response
    }

    /// Sends the browser through `/authorize`; back at [`callback`] it comes to `return_to`.
    fn start_sign_in(&self, return_to: &str, step_up: Option<&(String, Option<u32>)>) -> Result<Response, PageError> {
        Ok(see_other(&self.sign_in_url(return_to, step_up)?))
    }

    /// The `/authorize` address of a new sign-in for this browser's console session.
    pub fn sign_in_url(&self, return_to: &str, step_up: Option<&(String, Option<u32>)>) -> Result<String, PageError> {
        self.sign_in_url_with_hint(return_to, step_up, None)
    }

    /// As [`Self::sign_in_url`], with the `login_hint` the authorization request carries.
    fn sign_in_url_with_hint(&self, return_to: &str, step_up: Option<&(String, Option<u32>)>, login_hint: Option<&str>) -> Result<String, PageError> {
        let issuer = &self.state.config.issuer;
        let client_state = gatehouse_crypto::random::id()?;
        let verifier = Zeroizing::new(gatehouse_crypto::random::token()?);
        let mut url = Url::parse(&format!("{issuer}/authorize")).map_err(|_| PageError::bad_request("Console unavailable", "The issuer URL is invalid."))?;
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("client_id", CONSOLE_CLIENT_ID)
                .append_pair("redirect_uri", &callback_uri(issuer))
                .append_pair("response_type", "code")
                .append_pair("scope", SCOPE)
                .append_pair("state", &client_state)
                .append_pair("code_challenge", CodeChallenge::s256_of(&verifier).as_str())
                .append_pair("code_challenge_method", "S256");
            if let Some(hint) = login_hint {
                query.append_pair("login_hint", hint);
            }
            if let Some((acr_values, _)) = step_up {
                // A re-authentication now, at the level the API asked for.
                query.append_pair("acr_values", acr_values).append_pair("prompt", "login").append_pair("max_age", "0");
            }
        }
        let pending = PendingSignIn { state: client_state, verifier, return_to: safe_return(return_to).to_owned(), started_at: now() };
        self.state.console.start_sign_in(&self.key, pending);
        Ok(url.into())
    }
}

/// Where to come back to after a sign-in this request needs: the page itself for a GET; for a
/// form whose sign-in expired, the console's start page (the form is not re-sent: the person
/// repeats it, knowingly).
fn return_page(method: &axum::http::Method, uri: &axum::http::Uri) -> String {
    if method == axum::http::Method::GET {
        return uri.path_and_query().map_or_else(|| uri.path().to_owned(), |p| p.as_str().to_owned());
    }
    if uri.path().starts_with("/admin") { "/admin".to_owned() } else { "/account".to_owned() }
}

/// Only console pages are places to come back to (no open redirect).
fn safe_return(to: &str) -> &str {
    let ours = ["/account", "/admin"].iter().any(|p| to == *p || to.starts_with(&format!("{p}/")) || to.starts_with(&format!("{p}?")));
    if ours && !to.contains("//") && !to.contains('\\') { to } else { "/account" }
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    iss: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// `GET /console/callback`: checks the answer against the sign-in this browser started,
/// exchanges the code (PKCE) in-process and goes back to the console page.
async fn callback(console: Console, Query(query): Query<CallbackQuery>) -> Response {
    let result = async {
        let m = console.m;
        let notice = |message: String| -> Result<Response, ConsoleError> {
            Ok(pages::NoticePage { m, chrome: None, title: m.common.sign_in_failed_title, message: &message, link: "/account" }
                .render_page(StatusCode::BAD_REQUEST))
        };
        let Some(pending) = query.state.as_deref().and_then(|s| console.state.console.finish_sign_in(&console.key, s, now())) else {
            return notice(m.common.sign_in_stale.to_owned());
        };
        if let Some(error) = query.error {
            let reason = query.error_description.filter(|d| !d.is_empty()).unwrap_or(error);
            return notice(format!("{} {reason}", m.common.sign_in_refused));
        }
        if query.iss.as_deref() != Some(console.state.config.issuer.as_str()) {
            return notice(m.common.sign_in_stale.to_owned());
        }
        let Some(code) = query.code else { return notice(m.common.sign_in_stale.to_owned()) };
        let issuer = &console.state.config.issuer;
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "authorization_code")
            .append_pair("code", &code)
            .append_pair("redirect_uri", &callback_uri(issuer))
            .append_pair("client_id", CONSOLE_CLIENT_ID)
            .append_pair("code_verifier", &pending.verifier)
            .finish();
        let mut form = HeaderMap::new();
        form.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-www-form-urlencoded"));
        let address = console.peer.map_or(std::net::Ipv4Addr::LOCALHOST.into(), |c| c.0.ip());
        let now = now();
        let Ok(tokens) = crate::http::token::handle(&console.state, &form, address, body.as_bytes(), now).await else {
            return notice(m.common.sign_in_stale.to_owned());
        };
        let claims = gatehouse_oauth::tokens::validate_access_token(&console.state.oauth(), &tokens.access_token, now)
            .map_err(|_| PageError::bad_request("Sign-in failed", "The access token did not verify."))?;
        let signed_in =
            SignedIn { user_id: claims.sub.clone(), expires_at: now + Duration::seconds(tokens.expires_in), access_token: Zeroizing::new(tokens.access_token) };
        // A new session key and CSRF token for the signed-in session, so a console cookie
        // planted in this browser before the sign-in is worth nothing after it.
        let secret = gatehouse_crypto::random::token().map_err(|e| PageError::from(ServerError::from(e)))?;
        let csrf = gatehouse_crypto::random::token().map_err(|e| PageError::from(ServerError::from(e)))?;
        let key = console.state.digester.digest(&secret);
        console.state.console.rekey(&console.key, key.clone(), &claims.sub, csrf);
        console.state.console.sign_in(&key, signed_in);
        let mut response = see_other(&pending.return_to);
        let secure = console.state.config.secure_cookies();
        response.headers_mut().append(header::SET_COOKIE, cookies::set(cookie_name(secure), &secret, secure, None));
        Ok(response)
    }
    .await;
    console.finish(result)
}

/// `POST /console/sign-out`: forgets the console's token, then ends the SSO session through
/// RP-initiated logout (which asks the person to confirm).
async fn sign_out(console: Console, axum::Form(form): axum::Form<HashMap<String, String>>) -> Response {
    let result = console.check_form(&form).and_then(|()| {
        console.state.console.remove(&console.key);
        let issuer = &console.state.config.issuer;
        let mut url = Url::parse(&format!("{issuer}/logout")).map_err(|_| PageError::bad_request("Sign-out unavailable", "The issuer URL is invalid."))?;
        url.query_pairs_mut().append_pair("client_id", CONSOLE_CLIENT_ID).append_pair("post_logout_redirect_uri", &format!("{issuer}/account"));
        let mut response = see_other(url.as_str());
        let secure = console.state.config.secure_cookies();
        response.headers_mut().append(header::SET_COOKIE, cookies::set(cookie_name(secure), "", secure, Some(0)));
        Ok(response)
    });
    console.finish(result)
}

/// A posted console form, as text fields (each handler parses what it needs).
pub type Form = axum::Form<HashMap<String, String>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_form_whose_sign_in_expired_comes_back_to_the_start_page() {
        let uri = |s: &str| s.parse::<axum::http::Uri>().unwrap();
        assert_eq!(return_page(&axum::http::Method::GET, &uri("/admin/audit?actor=x")), "/admin/audit?actor=x");
        assert_eq!(return_page(&axum::http::Method::POST, &uri("/admin/tenants/t/policy")), "/admin");
        assert_eq!(return_page(&axum::http::Method::POST, &uri("/account/factors/f/rename")), "/account");
    }

    #[test]
    fn only_console_pages_are_returned_to() {
        assert_eq!(safe_return("/account"), "/account");
        assert_eq!(safe_return("/admin/tenants/t1?x=1"), "/admin/tenants/t1?x=1");
        assert_eq!(safe_return("/admin?tab=users"), "/admin?tab=users");
        assert_eq!(safe_return("https://evil.test/account"), "/account");
        assert_eq!(safe_return("//evil.test/account"), "/account");
        assert_eq!(safe_return("/account//evil.test"), "/account");
        assert_eq!(safe_return("/accounting"), "/account");
        assert_eq!(safe_return("/admin\\x"), "/account");
    }
}
