//! The second-factor step of sign-in (`/login/factor`): after the password, when the policy
//! asks for 2FA, the user presents one of the enrolled methods it allows — an authenticator
//! app code, a text-message code, or a recovery code. Wrong codes are counted per user and
//! throttled; a replayed code is refused and the user told.

use crate::rate_limit::OTP_FAILURES_PER_ADDRESS;
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use gatehouse_core::model::User;
use gatehouse_core::params::Params;
use gatehouse_core::{Factor, FactorKind, FactorSecret};
use gatehouse_policy::{AuthLevel, Method};
use gatehouse_signin::parked::ParkedSignIn;
use gatehouse_signin::proof::Proof;
use gatehouse_store::SignInResult;
use std::sync::Arc;
use time::OffsetDateTime;

use super::ClientAddr;
use super::login::{LoginQuery, check_csrf, expired, pending_for_browser};
use super::respond::see_other;
use super::security::{CSP_BASE, form_target};
use super::webauthn_step::offered_kind;
use crate::error::PageError;
use crate::http::flow::attempt;
use crate::http::flow::complete::{Context, finish};
use crate::http::flow::progress::Progress;
use crate::messages::{Messages, messages_for};
use crate::mfa::{self, MfaError};
use crate::pages::FactorPage;
use crate::state::{AppState, now};

/// A parked request in the second-factor step or the enrollment wizard, checked to belong to
/// this browser.
pub struct Step {
    pub parked: ParkedSignIn,
    /// The parked progress (a step is past the first factor).
    pub progress: Progress,
    pub user: Arc<User>,
    /// The texts for this browser's pages.
    pub m: &'static Messages,
}

impl Step {
    /// Stores the step's next progress if nobody advanced it meanwhile (another tab, a racing
    /// request); otherwise the page has expired.
    pub async fn advance(&mut self, state: &AppState, progress: Progress) -> Result<(), PageError> {
        if self.parked.advance(state.store.as_ref(), progress.clone()).await? {
            self.progress = progress;
            Ok(())
        } else {
            Err(PageError::bad_request(self.m.flow.page_expired_title, self.m.flow.continued_elsewhere))
        }
    }
}

pub async fn load_step(state: &AppState, headers: &HeaderMap, request_id: &str, now: OffsetDateTime) -> Result<Step, PageError> {
    let parked = pending_for_browser(state, headers, request_id, now).await?;
    let progress = parked.progress().map_err(|_| expired())?.clone();
    let user = state.user(&progress.user_id).await?.ok_or_else(expired)?;
    Ok(Step { parked, progress, user, m: messages_for(headers) })
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

fn sms_factor(factors: &[Factor]) -> Option<&Factor> {
    factors.iter().find(|f| f.kind == FactorKind::Sms && f.is_confirmed())
}

/// The last digits of a phone number, so the user recognises it without it being shown.
fn masked(m: &Messages, factor: &Factor) -> String {
    match &factor.secret {
        FactorSecret::Sms { phone } => {
            let digits: String = phone.as_str().chars().rev().take(2).collect::<Vec<_>>().into_iter().rev().collect();
            m.flow.phone_ending.with(digits)
        }
        _ => String::new(),
    }
}

async fn render(state: &AppState, step: &Step, message: Option<&str>, error: Option<&str>, status: StatusCode) -> Result<Response, PageError> {
    let client = state.client(&step.parked.request.client_id).ok_or_else(expired)?;
    let factors = state.store.factors(&step.user.id).await?;
    let sms = sms_factor(&factors).filter(|_| step.progress.offers(Method::Sms));
    let m = step.m;
    let page = FactorPage {
        m,
        client_name: &client.name,
        request_id: &step.parked.id,
        csrf_token: &step.parked.csrf_token,
        totp: step.progress.offers(Method::Totp),
        sms_to: sms.map(|f| masked(m, f)),
        sms_sent: step.progress.sms_challenge().is_some(),
        recovery: step.progress.offers(Method::RecoveryCode),
        webauthn: [FactorKind::SecurityKey, FactorKind::Passkey]
            .into_iter()
            .filter(|k| state.factors.webauthn_available() && offered_kind(&step.progress, Some(k.as_str())).is_some())
            .filter(|k| factors.iter().any(|f| f.kind == *k && f.is_confirmed()))
            .map(|k| (k.as_str(), if k == FactorKind::Passkey { m.flow.use_passkey } else { m.flow.use_security_key }))
            .collect(),
        // Not offered where the factor only opens the wizard: that step remembers nothing.
        remember_days: if step.progress.then_enroll().is_some() { 0 } else { step.progress.remember_device_days },
        message,
        error,
    };
    Ok(flow_page(step, page.render()?, status))
}

/// An existing factor was presented; now the wizard may add one that meets the level asked.
async fn continue_to_wizard(state: &AppState, step: &mut Step) -> Result<Response, PageError> {
    let wizard = step.progress.into_wizard().ok_or_else(expired)?;
    if !step.parked.advance(state.store.as_ref(), wizard).await? {
        return Err(expired());
    }
    Ok(see_other(&format!("/login/enroll?request={}", step.parked.id)))
}

/// Verifies a security key or passkey against the ceremony parked for this sign-in (used
/// once: a failed assertion needs new options). Returns the method reference and the level
/// the credential proved, which must meet the level asked.
async fn present_webauthn(
    state: &AppState,
    step: &mut Step,
    method: Method,
    credential: Option<&str>,
    now: OffsetDateTime,
) -> Result<(&'static str, AuthLevel), MfaError> {
    let kind = if method == Method::Passkey { FactorKind::Passkey } else { FactorKind::SecurityKey };
    let Some((ceremony, rest)) = step.progress.take_ceremony(kind) else {
        return Err(MfaError::Expired);
    };
    // Spent before it is checked: a failed assertion needs new options.
    if !step.parked.advance(state.store.as_ref(), rest.clone()).await? {
        return Err(MfaError::Expired);
    }
    step.progress = rest;
    let presented = mfa::credentials::finish_sign_in(&state.factors, &step.user, kind, &ceremony, credential.unwrap_or_default(), now).await?;
    if presented.level < step.progress.level() {
        return Err(MfaError::NotAllowed);
    }
    Ok((presented.amr, presented.level))
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

/// Verifies a code: `method` is `totp`, `sms` or `recovery_code`.
pub async fn submit(State(state): State<AppState>, ClientAddr(addr): ClientAddr, headers: HeaderMap, body: Bytes) -> Result<Response, PageError> {
    let now = now();
    let form = Params::parse(&body).map_err(|_| expired())?;
    let mut step = load_step(&state, &headers, form.get("request").unwrap_or_default(), now).await?;
    check_csrf(&form, &step.parked)?;
    if !step.progress.is_second_factor() {
        return Err(expired());
    }
    // Per address as well as per account: one place guessing codes for many accounts stops.
    let address_key = addr.to_string();
    if let Some(retry_after) = state.limits.otp_address.blocked_for(&address_key, OTP_FAILURES_PER_ADDRESS, now) {
        return render_failure(&state, &step, &MfaError::Throttled { retry_after }).await;
    }
    let code = form.get("code").unwrap_or_default();
    let method = form.get("method").and_then(Method::parse).filter(|m| step.progress.offers(*m));
    let level = step.progress.level();
    let result = match method {
        Some(Method::Totp) => {
            let factors = state.store.factors(&step.user.id).await?;
            mfa::totp::verify(&state.factors, &step.user, &factors, code, now).await.map(|_| ("otp", level))
        }
        Some(Method::Sms) => match step.progress.sms_challenge() {
            Some(challenge) => mfa::sms::check_code(&state.factors, &step.user, challenge, code, now).await.map(|_| ("sms", level)),
            None => Err(MfaError::Expired),
        },
        Some(Method::RecoveryCode) => mfa::recovery::redeem(&state.factors, &step.user, code, now).await.map(|_| ("otp", level)),
        Some(webauthn @ (Method::SecurityKey | Method::Passkey)) => present_webauthn(&state, &mut step, webauthn, form.get("credential"), now).await,
        None => Err(MfaError::NotAllowed),
    };
    let attempt = attempt::of_request(&state, &headers, addr);
    match result {
        Ok((amr, achieved)) => {
            let proof = Proof::with_second_factor(step.progress.first_method(), amr, achieved);
            if proof.level < step.progress.level() {
                // The same method as the first factor (a passkey sign-in presenting the
                // passkey again) is one factor, not two.
                return render_failure(&state, &step, &MfaError::NotAllowed).await;
            }
            tracing::info!(user = %step.user.id, method = method.map_or("", Method::as_str), "second factor accepted");
            if step.progress.then_enroll().is_some() {
                return continue_to_wizard(&state, &mut step).await;
            }
            let remember_device = step.progress.remember_device_days > 0 && form.get("remember_device") == Some("on");
            let context = Context { attempt: &attempt, decision: Some(&step.progress.decision), remember_device };
            finish(&state, &headers, &step.parked, &step.user, proof, context, now).await
        }
        Err(error) => {
            if error.counts_as_failure() {
                state.limits.otp_address.record_failure(&address_key, OTP_FAILURES_PER_ADDRESS, now);
                let outcome = attempt::Outcome {
                    user: Some(&step.user),
                    client_id: Some(step.parked.request.client_id.as_str()),
                    result: SignInResult::SecondFactorFailure,
                    amr: step.progress.first_amr.clone(),
                    acr: None,
                    decision: Some(&step.progress.decision),
                    device_id: attempt.device_id(&state.digester, &step.user),
                };
                attempt::record(&state, &attempt, outcome, now).await?;
            }
            render_failure(&state, &step, &error).await
        }
    }
}

/// Sends a text-message code to the user's verified number.
pub async fn send_sms(State(state): State<AppState>, ClientAddr(addr): ClientAddr, headers: HeaderMap, body: Bytes) -> Result<Response, PageError> {
    let now = now();
    let form = Params::parse(&body).map_err(|_| expired())?;
    let mut step = load_step(&state, &headers, form.get("request").unwrap_or_default(), now).await?;
    check_csrf(&form, &step.parked)?;
    let factors = state.store.factors(&step.user.id).await?;
    let Some(factor) = sms_factor(&factors).filter(|_| step.progress.offers(Method::Sms) && step.progress.is_second_factor()) else {
        return render(&state, &step, None, Some(step.m.flow.method_not_allowed), StatusCode::OK).await;
    };
    match mfa::sms::send_sign_in_code(&state.factors, &step.user, factor, addr, now).await {
        Ok(challenge) => {
            let progress = step.progress.with_sms_challenge(challenge).ok_or_else(expired)?;
            step.advance(&state, progress).await?;
            let message = step.m.flow.sms_sent.with(masked(step.m, factor));
            render(&state, &step, Some(&message), None, StatusCode::OK).await
        }
        Err(error) => render_failure(&state, &step, &error).await,
    }
}
