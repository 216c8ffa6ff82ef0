//! The enrollment wizard's pages (`/login/enroll`): the forms and texts around
//! `gatehouse_signin::steps::enrollment`. An authenticator app is shown as a QR code and as
//! text, security keys and passkeys as buttons for `webauthn.js`, a phone as a form
//! (`enroll_sms`); the new factor's recovery codes are shown once, and the original
//! authorization request then resumes. Only methods the domain allows are offered.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use gatehouse_core::FactorKind;
use gatehouse_core::params::Params;
use gatehouse_policy::Method;
use gatehouse_signin::steps::Origin;
use gatehouse_signin::steps::enrollment::{self as steps, EnrollOutcome};
use gatehouse_signin::steps::webauthn_kinds;
use time::OffsetDateTime;

use super::ClientAddr;
use super::login::{LoginQuery, check_csrf, expired};
use super::respond::see_other;
use super::second_factor::{Step, failure, flow_page, load_step, with_retry_after};
use crate::error::PageError;
use crate::http::flow::attempt;
use crate::http::flow::complete::{Context, finish};
use crate::messages::Messages;
use crate::pages::{EnrollPage, EnrollUnavailablePage, RecoveryCodesPage};
use crate::state::{AppState, now};

/// Loads a wizard step; a request in another stage has expired here.
pub(super) async fn load_wizard(state: &AppState, headers: &HeaderMap, request_id: &str, now: OffsetDateTime) -> Result<Step, PageError> {
    let step = load_step(state, headers, request_id, now).await?;
    steps::wizard(&step)?;
    Ok(step)
}

/// What the wizard needs from the server.
pub(super) fn context(state: &AppState) -> steps::Context<'_> {
    steps::Context { factors: &state.factors, audit: &state.audit }
}

/// The wizard's page: an authenticator app (its unconfirmed factor created on first view and
/// shown again on reload) and/or security keys and passkeys, as the policy allows.
pub(super) async fn render(state: &AppState, mut step: Step, error: Option<&str>, status: StatusCode, now: OffsetDateTime) -> Result<Response, PageError> {
    let m = step.m;
    let webauthn: Vec<_> = webauthn_kinds(state.factors.webauthn_available(), &step.progress)
        .into_iter()
        .map(|k| (k.as_str(), if k == FactorKind::Passkey { m.flow.set_up_passkey } else { m.flow.set_up_security_key }))
        .collect();
    let totp = if step.progress.offers(Method::Totp) { Some(steps::app(&state.factors, &mut step, now).await?) } else { None };
    let client = state.client(&step.parked.request.client_id).ok_or_else(expired)?;
    let sms = step.progress.offers(Method::Sms);
    if totp.is_none() && webauthn.is_empty() && !sms {
        // WebAuthn needs a domain name: say so plainly rather than leave the user stuck.
        let methods: Vec<&str> = step.progress.method_set().iter().map(|method| method_label(m, method)).collect();
        let page = EnrollUnavailablePage { m, client_name: &client.name, methods: m.flow.list(&methods) };
        return Ok(flow_page(&step, page.render()?, StatusCode::OK));
    }
    let page = EnrollPage {
        m,
        client_name: &client.name,
        request_id: &step.parked.id,
        csrf_token: &step.parked.csrf_token,
        totp: totp.as_ref().map(|t| (format!("data:image/svg+xml;base64,{}", STANDARD.encode(t.qr_svg.as_bytes())), t.secret_text.as_str())),
        webauthn,
        sms,
        sms_sent: step.progress.enrolling_phone().is_some(),
        error,
    };
    Ok(flow_page(&step, page.render()?, status))
}

pub async fn page(State(state): State<AppState>, headers: HeaderMap, Query(query): Query<LoginQuery>) -> Result<Response, PageError> {
    let now = now();
    let step = load_step(&state, &headers, &query.request, now).await?;
    if step.progress.is_second_factor() {
        return Ok(see_other(&format!("/login/factor?request={}", step.parked.id)));
    }
    steps::wizard(&step)?;
    if step.progress.enrolled().is_some() {
        // The codes were shown once; the page only offers to continue.
        return render_codes(&step, &[]);
    }
    render(&state, step, None, StatusCode::OK, now).await
}

fn method_label(m: &'static Messages, method: Method) -> &'static str {
    match method {
        Method::Totp => m.flow.method_totp,
        Method::Sms => m.flow.method_sms,
        Method::SecurityKey => m.flow.method_security_key,
        Method::Passkey => m.flow.method_passkey,
        Method::RecoveryCode => m.flow.method_recovery,
    }
}

/// Shows what confirming a factor led to: the wizard again with why, or the recovery codes.
pub(super) async fn answer(state: &AppState, step: Step, outcome: EnrollOutcome, now: OffsetDateTime) -> Result<Response, PageError> {
    match outcome {
        EnrollOutcome::Refuse(error) => {
            let (status, retry_after, message) = failure(step.m, &error);
            let mut response = render(state, step, Some(&message), status, now).await?;
            with_retry_after(&mut response, retry_after);
            Ok(response)
        }
        // Kept as a factor, but it cannot answer this request: a synced passkey asked for
        // where the application wants a key bound to its hardware.
        EnrollOutcome::TooWeak => {
            let message = step.m.flow.synced_passkey;
            render(state, step, Some(message), StatusCode::OK, now).await
        }
        EnrollOutcome::Enrolled { recovery_codes } => {
            let codes: Vec<&str> = recovery_codes.iter().map(|c| c.as_str()).collect();
            render_codes(&step, &codes)
        }
    }
}

/// Activates the authenticator app with its first code, then shows fresh recovery codes.
pub async fn confirm(State(state): State<AppState>, ClientAddr(addr): ClientAddr, headers: HeaderMap, body: Bytes) -> Result<Response, PageError> {
    let now = now();
    let form = Params::parse(&body).map_err(|_| expired())?;
    let mut step = load_wizard(&state, &headers, form.get("request").unwrap_or_default(), now).await?;
    check_csrf(&form, &step.parked)?;
    let origin = Origin { address: addr, user_agent: &super::user_agent(&headers) };
    let outcome = steps::confirm_app(&context(&state), &mut step, form.get("code").unwrap_or_default(), origin, now).await?;
    answer(&state, step, outcome, now).await
}

/// Registers the security key or passkey of the ceremony parked for this wizard.
pub async fn register_webauthn(State(state): State<AppState>, ClientAddr(addr): ClientAddr, headers: HeaderMap, body: Bytes) -> Result<Response, PageError> {
    let now = now();
    let form = Params::parse(&body).map_err(|_| expired())?;
    let mut step = load_wizard(&state, &headers, form.get("request").unwrap_or_default(), now).await?;
    check_csrf(&form, &step.parked)?;
    let origin = Origin { address: addr, user_agent: &super::user_agent(&headers) };
    let outcome = steps::register_webauthn(&context(&state), &mut step, form.get("credential").unwrap_or_default(), origin, now).await?;
    answer(&state, step, outcome, now).await
}

fn render_codes(step: &Step, codes: &[&str]) -> Result<Response, PageError> {
    let page = RecoveryCodesPage { m: step.m, request_id: &step.parked.id, csrf_token: &step.parked.csrf_token, codes };
    Ok(flow_page(step, page.render()?, StatusCode::OK))
}

/// Resumes the authorization request once the new factor is active.
pub async fn done(State(state): State<AppState>, ClientAddr(addr): ClientAddr, headers: HeaderMap, body: Bytes) -> Result<Response, PageError> {
    let now = now();
    let form = Params::parse(&body).map_err(|_| expired())?;
    let step = load_wizard(&state, &headers, form.get("request").unwrap_or_default(), now).await?;
    check_csrf(&form, &step.parked)?;
    let Some(proof) = steps::done(&step)? else {
        return Err(PageError::bad_request(step.m.flow.stronger_needed_title, step.m.flow.stronger_needed));
    };
    let attempt = attempt::of_request(&state, &headers, addr);
    let context = Context { attempt: &attempt, decision: Some(&step.progress.decision), remember_device: false, idp: step.progress.idp.as_deref() };
    finish(&state, &headers, &step.parked, &step.user, proof, context, now).await
}
