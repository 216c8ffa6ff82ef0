//! The second-factor page of sign-in (`/login/factor`): the form and its texts around
//! `gatehouse_signin::steps::second_factor`, which checks the factor presented (an
//! authenticator app, text-message or recovery code, a security key or passkey), throttles
//! wrong ones and says what follows; this turns its outcome into the page again, the wizard's
//! page or the finished sign-in.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use gatehouse_core::FactorKind;
use gatehouse_core::params::Params;
use gatehouse_signin::SystemRandomness;
use gatehouse_signin::steps::second_factor::{self as steps, FactorOutcome, Presented, SmsOutcome};
use std::ops::{Deref, DerefMut};
use time::OffsetDateTime;

use super::ClientAddr;
use super::login::{LoginQuery, check_csrf, expired, pending_for_browser};
use super::respond::see_other;
use super::security::{CSP_BASE, form_target};
use crate::error::PageError;
use crate::http::flow::attempt;
use crate::http::flow::complete::{Context, finish};
use crate::messages::{Messages, messages_for};
use crate::mfa::MfaError;
use crate::pages::FactorPage;
use crate::state::{AppState, now};

/// A parked request past its first factor (`gatehouse_signin::steps::Step`: the request, its
/// progress and its user), checked to belong to this browser, with the texts for its pages.
pub struct Step {
    pub flow: gatehouse_signin::steps::Step,
    pub m: &'static Messages,
}

impl Deref for Step {
    type Target = gatehouse_signin::steps::Step;
    fn deref(&self) -> &Self::Target {
        &self.flow
    }
}

impl DerefMut for Step {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.flow
    }
}

pub async fn load_step(state: &AppState, headers: &HeaderMap, request_id: &str, now: OffsetDateTime) -> Result<Step, PageError> {
    let parked = pending_for_browser(state, headers, request_id, now).await?;
    let progress = parked.progress().map_err(|_| expired())?.clone();
    let user = state.user(&progress.user_id).await?.ok_or_else(expired)?;
    Ok(Step { flow: gatehouse_signin::steps::Step { parked, progress, user }, m: messages_for(headers) })
}

/// Renders a flow page with a CSP that lets its final POST redirect to the application.
pub fn flow_page(step: &Step, html: String, status: StatusCode) -> Response {
    let mut response = (status, Html(html)).into_response();
    let csp = format!("{CSP_BASE}; form-action {}", form_target(step.parked.request.redirect_uri.as_str()));
    if let Ok(value) = HeaderValue::from_str(&csp) {
        response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, value);
    }
    response
}

/// The HTTP status and message for a failed second factor; throttling carries `Retry-After`.
/// (The API's problem details use `MfaError`'s own descriptions instead.)
pub fn failure(m: &Messages, error: &MfaError) -> (StatusCode, Option<i64>, String) {
    let f = &m.flow;
    let text = match error {
        MfaError::Throttled { retry_after } => return (StatusCode::TOO_MANY_REQUESTS, Some(*retry_after), f.throttled.with(retry_after)),
        // A QR code is only drawn for a new authenticator app, and failing to is ours.
        MfaError::Store(_) | MfaError::Crypto(_) | MfaError::Qr(_) => return (StatusCode::SERVICE_UNAVAILABLE, None, f.our_side.into()),
        MfaError::WrongCode { tries_left: Some(left) } => f.wrong_code_tries.with(left),
        MfaError::WrongCode { tries_left: None } => f.wrong_code.into(),
        MfaError::Reused => f.code_reused.into(),
        MfaError::Expired => f.code_expired.into(),
        MfaError::UnknownFactor => f.unknown_factor.into(),
        MfaError::NotEnrolled => f.not_enrolled.into(),
        MfaError::NotAllowed => f.method_not_allowed.into(),
        MfaError::NotWebAuthn => f.not_webauthn.into(),
        MfaError::WebAuthnUnavailable => f.webauthn_unavailable.into(),
        MfaError::UnknownCredential => f.unknown_credential.into(),
        MfaError::AlreadyRegistered => f.already_registered.into(),
        MfaError::ClonedAuthenticator => f.cloned_authenticator.into(),
        MfaError::WebAuthn(reason) => f.webauthn_check_failed.with(reason),
        MfaError::SmsUnavailable(_) => f.sms_unavailable.into(),
        MfaError::SmsNotConfigured => f.sms_not_configured.into(),
    };
    (StatusCode::OK, None, text)
}

async fn render(state: &AppState, step: &Step, message: Option<&str>, error: Option<&str>, status: StatusCode) -> Result<Response, PageError> {
    let client = state.client(&step.parked.request.client_id).ok_or_else(expired)?;
    let choices = steps::choices(&state.factors, step).await?;
    let m = step.m;
    let page = FactorPage {
        m,
        client_name: &client.name,
        request_id: &step.parked.id,
        csrf_token: &step.parked.csrf_token,
        totp: choices.totp,
        sms_to: choices.sms_to.map(|digits| m.flow.phone_ending.with(digits)),
        sms_sent: choices.sms_sent,
        recovery: choices.recovery,
        webauthn: choices
            .webauthn
            .into_iter()
            .map(|k| (k.as_str(), if k == FactorKind::Passkey { m.flow.use_passkey } else { m.flow.use_security_key }))
            .collect(),
        remember_days: choices.remember_days,
        message,
        error,
    };
    Ok(flow_page(step, page.render()?, status))
}

async fn render_failure(state: &AppState, step: &Step, error: &MfaError) -> Result<Response, PageError> {
    let (status, retry_after, message) = failure(step.m, error);
    let mut response = render(state, step, None, Some(&message), status).await?;
    with_retry_after(&mut response, retry_after);
    Ok(response)
}

pub fn with_retry_after(response: &mut Response, retry_after: Option<i64>) {
    if let Some(seconds) = retry_after {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
}

pub async fn page(State(state): State<AppState>, headers: HeaderMap, Query(query): Query<LoginQuery>) -> Result<Response, PageError> {
    let step = load_step(&state, &headers, &query.request, now()).await?;
    if step.progress.is_enrolling() {
        return Ok(see_other(&format!("/login/enroll?request={}", step.parked.id)));
    }
    if !step.progress.is_second_factor() {
        return Err(expired());
    }
    render(&state, &step, None, None, StatusCode::OK).await
}

/// Verifies a code: `method` is `totp`, `sms` or `recovery_code`, or a WebAuthn assertion.
pub async fn submit(State(state): State<AppState>, ClientAddr(addr): ClientAddr, headers: HeaderMap, body: Bytes) -> Result<Response, PageError> {
    let now = now();
    let form = Params::parse(&body).map_err(|_| expired())?;
    let mut step = load_step(&state, &headers, form.get("request").unwrap_or_default(), now).await?;
    check_csrf(&form, &step.parked)?;
    let attempt = attempt::of_request(&state, &headers, addr);
    let cx = steps::Context { factors: &state.factors, per_address: &state.limits.otp_address, rng: &SystemRandomness };
    let input = Presented {
        method: form.get("method"),
        code: form.get("code").unwrap_or_default(),
        credential: form.get("credential"),
        remember_device: form.get("remember_device") == Some("on"),
    };
    match steps::present(&cx, &mut step, input, &attempt, now).await? {
        FactorOutcome::Refuse(error) => render_failure(&state, &step, &error).await,
        FactorOutcome::Enroll => Ok(see_other(&format!("/login/enroll?request={}", step.parked.id))),
        FactorOutcome::Complete { proof, remember_device } => {
            let context = Context { attempt: &attempt, decision: Some(&step.progress.decision), remember_device, idp: step.progress.idp.as_deref() };
            finish(&state, &headers, &step.parked, &step.user, proof, context, now).await
        }
    }
}

/// Sends a text-message code to the user's verified number.
pub async fn send_sms(State(state): State<AppState>, ClientAddr(addr): ClientAddr, headers: HeaderMap, body: Bytes) -> Result<Response, PageError> {
    let now = now();
    let form = Params::parse(&body).map_err(|_| expired())?;
    let mut step = load_step(&state, &headers, form.get("request").unwrap_or_default(), now).await?;
    check_csrf(&form, &step.parked)?;
    match steps::send_sms(&state.factors, &mut step, addr, now).await? {
        SmsOutcome::NotOffered => render(&state, &step, None, Some(step.m.flow.method_not_allowed), StatusCode::OK).await,
        SmsOutcome::Sent(factor) => {
            let to = steps::phone_ending(&factor).map_or(String::new(), |digits| step.m.flow.phone_ending.with(digits));
            let message = step.m.flow.sms_sent.with(to);
            render(&state, &step, Some(&message), None, StatusCode::OK).await
        }
        SmsOutcome::Refuse(error) => render_failure(&state, &step, &error).await,
    }
}
