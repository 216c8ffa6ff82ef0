//! The password sign-in page. Unknown accounts, wrong passwords and locked accounts get the
//! same message and the same Argon2 cost (hashed here, on the blocking pool under its
//! permits); what a failure counts toward (the address and account limits, the lockout, the
//! spraying and stuffing detectors, the history) is `gatehouse_signin::steps::password`'s.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use gatehouse_core::Email;
use gatehouse_core::params::Params;
use gatehouse_signin::parked::ParkedSignIn;
use gatehouse_signin::proof::FirstFactor;
use gatehouse_signin::steps::password;
use serde::Deserialize;
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

use super::security::{CSP_BASE, form_target};
use super::{ClientAddr, cookies};
use crate::error::PageError;
use crate::http::flow::attempt;
use crate::http::flow::{next, policy};
use crate::messages::{EN, Messages, messages_for};
use crate::pages::{LoginPage, ProviderButton};
use crate::state::{AppState, now};
use gatehouse_core::throttle::Admission;

pub(super) fn expired() -> PageError {
    PageError::bad_request(EN.flow.page_expired_title, EN.flow.page_expired)
}

#[derive(Deserialize)]
pub struct LoginQuery {
    pub request: String,
    /// `email`: back to the first step ("use another email address").
    pub step: Option<String>,
}

/// Loads the parked request (one read, decoded once) and checks it belongs to this browser.
pub(super) async fn pending_for_browser(state: &AppState, headers: &HeaderMap, id: &str, now: OffsetDateTime) -> Result<ParkedSignIn, PageError> {
    let pending = state.store.pending(id, now).await?.ok_or_else(expired)?;
    let secret = cookies::read(headers, cookies::flow_cookie_name(state.config.secure_cookies())).ok_or_else(expired)?;
    if !state.digester.matches(&secret, &pending.browser_digest) {
        return Err(expired());
    }
    ParkedSignIn::open(pending).map_err(|_| expired())
}

/// The password page belongs to a sign-in that has proved nothing yet: once a first factor
/// passed, a password posted again would restart the policy and wipe the later step's state
/// (a text-message challenge, a wizard's factor, a password change's code tries).
fn before_first_factor(parked: ParkedSignIn) -> Result<ParkedSignIn, PageError> {
    if parked.progress().is_ok() { Err(expired()) } else { Ok(parked) }
}

/// The sign-in page again with a message (a failed passkey sign-in).
pub(super) fn render_with_error(state: &AppState, m: &'static Messages, pending: &ParkedSignIn, error: &str) -> Result<Response, PageError> {
    render(state, m, pending, "", Some(error), StatusCode::OK)
}

/// The sign-in page: without an email, its first step (the email alone: home-realm
/// discovery, with the providers the application suggested); with one, the password step
/// carrying it.
pub(super) fn render(
    state: &AppState,
    m: &'static Messages,
    pending: &ParkedSignIn,
    email: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Result<Response, PageError> {
    login_page(state, m, pending, email, error, status, Step { identify: email.is_empty(), suggest_providers: true })
}

/// Which step the page shows, and whether it offers the suggested providers.
struct Step {
    identify: bool,
    suggest_providers: bool,
}

fn login_page(
    state: &AppState,
    m: &'static Messages,
    pending: &ParkedSignIn,
    email: &str,
    error: Option<&str>,
    status: StatusCode,
    step: Step,
) -> Result<Response, PageError> {
    let request = &pending.request;
    let client = state.client(&request.client_id).ok_or_else(expired)?;
    // The application may suggest providers (`idp_hint`): each one that exists is a button.
    let hinted = if step.suggest_providers { request.idp_hint.as_deref().unwrap_or_default() } else { "" };
    let suggested: Vec<_> = hinted.split(' ').filter_map(|key| state.federation.providers.get(key)).collect();
    let page = LoginPage {
        m,
        client_name: &client.name,
        request_id: &pending.id,
        csrf_token: &pending.csrf_token,
        email,
        error,
        passkeys: state.factors.webauthn_available(),
        identify: step.identify,
        providers: suggested.iter().map(|p| ProviderButton { key: p.config.key(), name: &p.config.name }).collect(),
    };
    let mut response = (status, Html(page.render()?)).into_response();
    // The successful POST redirects to the application: allow that origin as a form target.
    let csp = format!("{CSP_BASE}; form-action {}", form_target(request.redirect_uri.as_str()));
    if let Ok(value) = HeaderValue::from_str(&csp) {
        response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, value);
    }
    Ok(response)
}

pub async fn page(State(state): State<AppState>, headers: HeaderMap, Query(query): Query<LoginQuery>) -> Result<Response, PageError> {
    let pending = before_first_factor(pending_for_browser(&state, &headers, &query.request, now()).await?)?;
    // A hint that is an email skips the first step; `step=email` goes back to it.
    let hint = pending.request.login_hint.as_deref().filter(|h| Email::parse(h).is_ok()).filter(|_| query.step.as_deref() != Some("email"));
    render(&state, messages_for(&headers), &pending, hint.unwrap_or_default(), None, StatusCode::OK)
}

pub async fn submit(State(state): State<AppState>, ClientAddr(addr): ClientAddr, headers: HeaderMap, body: Bytes) -> Result<Response, PageError> {
    let now = now();
    let m = messages_for(&headers);
    let form = Params::parse(&body).map_err(|_| expired())?;
    let mut pending = before_first_factor(pending_for_browser(&state, &headers, form.get("request").unwrap_or_default(), now).await?)?;
    check_csrf(&form, &pending)?;
    let email_input = form.get("email").unwrap_or_default().trim().to_owned();
    let Ok(email) = Email::parse(&email_input) else {
        // Back to the first step, with what was typed.
        return render_identify_error(&state, m, &pending, &email_input);
    };
    // Home-realm discovery: an email on a domain bound to its organisation's provider signs in
    // there (with a password too, when the provider is required for the account). What decides
    // is the domain, never whether an account exists.
    let password = form.get("password");
    if let Some(provider) = super::federated::provider_for(&state, &email, password.is_some()) {
        return super::federated::for_email(&state, &headers, &mut pending, &provider, email.as_str(), super::federated::Leave::Page).await;
    }
    // The first step done: the password step, carrying the email.
    let Some(password) = password else {
        return render(&state, m, &pending, email.as_str(), None, StatusCode::OK);
    };
    if !gatehouse_core::password::acceptable_at_sign_in(password) {
        return render(&state, m, &pending, &email_input, Some(m.flow.bad_credentials), StatusCode::OK);
    }

    let attempt = attempt::of_request(&state, &headers, addr);
    let cx = policy::password_context(&state);
    if let Some(seconds) = password::address_blocked(&cx, &attempt, now) {
        state.metrics.logins_throttled.inc();
        let message = m.flow.too_many_attempts.with(seconds);
        let mut response = render(&state, m, &pending, &email_input, Some(&message), StatusCode::TOO_MANY_REQUESTS)?;
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        return Ok(response);
    }

    // One read for the account and its lockout state, whether the account exists or not. A
    // delayed or locked account gets the same answer as a wrong password, after the same
    // Argon2 work, so neither the lock nor the account's existence shows.
    let (user, throttle) = state.store.user_with_throttle(&email).await?;
    let admitted = throttle.admission(now.unix_timestamp()) == Admission::Allowed;
    let verified = verify_password(&state, password, user.as_ref().and_then(|u| u.password_hash.clone())).await? && admitted;
    let Some(user) = user.as_ref().filter(|_| verified) else {
        state.metrics.logins_failed.inc();
        password::refuse(&cx, &pending, &email, user.as_ref(), throttle, admitted, &attempt, now).await?;
        return render(&state, m, &pending, &email_input, Some(m.flow.bad_credentials), StatusCode::OK);
    };
    state.metrics.logins_succeeded.inc();

    let client = state.client(&pending.request.client_id).ok_or_else(expired)?;
    let tenant = state.tenant_for_domain(&user.email.domain());
    if gatehouse_signin::next::tenant_closed(tenant.as_deref()) {
        state.store.delete_pending(&pending.id).await?;
        return next::account_closed(&state, &pending.request);
    }
    // Decided before the failure counters are cleared: recent failures are a risk signal.
    let verdict = password::decide(&cx, tenant.as_deref(), user, &client, &pending.request, None, &attempt, now).await?;
    password::accepted(&cx, &email, user, &throttle).await?;
    tracing::info!(user = %user.id, rule = verdict.rule.code(), outcome = verdict.outcome.kind(), "password accepted; 2FA policy decided");
    next::after_first_factor(&state, &headers, pending, user, &verdict, FirstFactor::password(), &attempt, now).await
}

/// The first step again: the email was not one.
fn render_identify_error(state: &AppState, m: &'static Messages, pending: &ParkedSignIn, typed: &str) -> Result<Response, PageError> {
    login_page(state, m, pending, typed, Some(m.flow.email_invalid), StatusCode::OK, Step { identify: true, suggest_providers: false })
}

/// Refuses a form whose CSRF token is not the parked request's (compared in constant time).
pub(super) fn check_csrf(form: &Params, pending: &ParkedSignIn) -> Result<(), PageError> {
    let csrf_ok = form.get("csrf_token").is_some_and(|t| bool::from(t.as_bytes().ct_eq(pending.csrf_token.as_bytes())));
    if csrf_ok { Ok(()) } else { Err(PageError::bad_request(EN.flow.form_expired_title, EN.flow.form_expired)) }
}

/// Runs Argon2 off the async workers, at most `max_concurrent_hashes` at once.
async fn verify_password(state: &AppState, password: &str, hash: Option<String>) -> Result<bool, PageError> {
    let _permit = state.passwords.permits.acquire().await.map_err(|_| PageError::bad_request(EN.flow.unavailable_title, EN.flow.shutting_down))?;
    // Only the hasher goes to the blocking pool, not the server's whole state.
    let passwords = std::sync::Arc::clone(&state.passwords);
    let password = zeroize::Zeroizing::new(password.to_owned());
    let result = tokio::task::spawn_blocking(move || passwords.hasher.verify(&password, hash.as_deref())).await;
    result.map_err(|_| PageError::bad_request(EN.flow.unavailable_title, EN.flow.password_check_failed))
}
