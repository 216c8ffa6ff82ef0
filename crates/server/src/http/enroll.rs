//! The enrollment wizard (`/login/enroll`): a user who must use 2FA but has no usable factor
//! sets one up in the middle of signing in — an authenticator app, shown as a QR code and as
//! text, activated by its first valid code — receives recovery codes once, and the original
//! authorization request then resumes. Only methods the domain allows are offered.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use gatehouse_core::FactorKind;
use gatehouse_core::ids::FactorId;
use gatehouse_core::params::Params;
use gatehouse_policy::{AuthLevel, Method};
use time::OffsetDateTime;

use super::ClientAddr;
use super::login::{LoginQuery, check_csrf, expired};
use super::respond::see_other;
use super::second_factor::{Step, failure, flow_page, load_step, with_retry_after};
use super::webauthn_step::offered_kind;
use crate::error::PageError;
use crate::http::flow::attempt;
use crate::http::flow::complete::{Context, finish};
use crate::http::flow::progress::{EnrolledProof, Progress};
use crate::messages::{EN, Messages};
use crate::mfa::{self, MfaError};
use crate::pages::{EnrollPage, EnrollUnavailablePage, RecoveryCodesPage};
use crate::state::{AppState, now};
use gatehouse_core::audit::AuditEntry;
use gatehouse_signin::proof::Proof;
use std::net::IpAddr;

/// Loads a wizard step; a request in the second-factor step is sent there instead.
pub(super) async fn load_wizard(state: &AppState, headers: &HeaderMap, request_id: &str, now: OffsetDateTime) -> Result<Step, PageError> {
    let step = load_step(state, headers, request_id, now).await?;
    if step.progress.is_enrolling() { Ok(step) } else { Err(expired()) }
}

/// WebAuthn kinds the wizard may register (allowed by the policy and possible on this server),
/// with their buttons' texts.
fn webauthn_kinds(state: &AppState, m: &'static Messages, progress: &Progress) -> Vec<(&'static str, &'static str)> {
    [FactorKind::SecurityKey, FactorKind::Passkey]
        .into_iter()
        .filter(|k| state.factors.webauthn_available() && offered_kind(progress, Some(k.as_str())).is_some())
        .map(|k| (k.as_str(), if k == FactorKind::Passkey { m.flow.set_up_passkey } else { m.flow.set_up_security_key }))
        .collect()
}

/// The wizard's page: an authenticator app (its unconfirmed factor created on first view and
/// shown again on reload) and/or security keys and passkeys, as the policy allows.
pub(super) async fn render(state: &AppState, mut step: Step, error: Option<&str>, status: StatusCode, now: OffsetDateTime) -> Result<Response, PageError> {
    let m = step.m;
    let webauthn = webauthn_kinds(state, m, &step.progress);
    let totp = if step.progress.offers(Method::Totp) { Some(totp_enrollment(state, &mut step, now).await?) } else { None };
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

async fn totp_enrollment(state: &AppState, step: &mut Step, now: OffsetDateTime) -> Result<mfa::totp::TotpEnrollment, PageError> {
    let existing = match step.progress.enrolling_app() {
        Some(id) => match state.store.factor(id).await?.filter(|f| f.user_id == step.user.id) {
            // Another request of this sign-in (a second tab, a double submit) confirmed it and
            // is moving the wizard on: this one must not start a new app behind its back.
            Some(factor) if factor.is_confirmed() => {
                return Err(PageError::bad_request(step.m.flow.page_expired_title, step.m.flow.continued_elsewhere));
            }
            other => other,
        },
        None => None,
    };
    match existing {
        Some(factor) => mfa::totp::view(&state.factors, &step.user, &factor).map_err(mfa_page_error),
        None => {
            let enrollment = mfa::totp::begin(&state.factors, &step.user, FactorKind::Totp.label(), now).await.map_err(mfa_page_error)?;
            let progress = step.progress.with_enrolling_app(enrollment.factor_id.clone()).ok_or_else(expired)?;
            step.advance(state, progress).await?;
            Ok(enrollment)
        }
    }
}

fn mfa_page_error(error: MfaError) -> PageError {
    tracing::warn!(%error, "enrollment failed");
    PageError::bad_request(EN.flow.enroll_failed_title, EN.flow.enroll_failed)
}

pub async fn page(State(state): State<AppState>, headers: HeaderMap, Query(query): Query<LoginQuery>) -> Result<Response, PageError> {
    let now = now();
    let step = load_step(&state, &headers, &query.request, now).await?;
    if step.progress.is_second_factor() {
        return Ok(see_other(&format!("/login/factor?request={}", step.parked.id)));
    }
    if !step.progress.is_enrolling() {
        return Err(expired());
    }
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

/// Activates the authenticator app with its first code, then shows fresh recovery codes.
pub async fn confirm(State(state): State<AppState>, ClientAddr(addr): ClientAddr, headers: HeaderMap, body: Bytes) -> Result<Response, PageError> {
    let now = now();
    let form = Params::parse(&body).map_err(|_| expired())?;
    let mut step = load_wizard(&state, &headers, form.get("request").unwrap_or_default(), now).await?;
    check_csrf(&form, &step.parked)?;
    let Some(factor_id) = step.progress.enrolling_app().cloned() else {
        return Err(expired());
    };
    let code = form.get("code").unwrap_or_default();
    if let Err(error) = mfa::totp::confirm(&state.factors, &step.user, &factor_id, code, now).await {
        let (status, retry_after, message) = failure(step.m, &error);
        let mut response = render(&state, step, Some(&message), status, now).await?;
        with_retry_after(&mut response, retry_after);
        return Ok(response);
    }
    enrolled(&state, &mut step, &factor_id, EnrolledProof { amr: "otp".to_owned(), level: AuthLevel::Mfa }, Origin { address: addr, headers: &headers }, now)
        .await
}

/// Registers the security key or passkey of the ceremony parked for this wizard.
pub async fn register_webauthn(State(state): State<AppState>, ClientAddr(addr): ClientAddr, headers: HeaderMap, body: Bytes) -> Result<Response, PageError> {
    let now = now();
    let form = Params::parse(&body).map_err(|_| expired())?;
    let mut step = load_wizard(&state, &headers, form.get("request").unwrap_or_default(), now).await?;
    check_csrf(&form, &step.parked)?;
    let ceremony = step.progress.ceremony.clone().filter(|_| step.progress.is_enrolling_unconfirmed());
    let Some(kind) = ceremony.as_ref().and_then(|c| offered_kind(&step.progress, Some(c.kind.as_str()))) else {
        return Err(expired());
    };
    let Some((ceremony, rest)) = step.progress.take_ceremony(kind) else { return Err(expired()) };
    step.advance(&state, rest).await?;
    let credential = form.get("credential").unwrap_or_default();
    match mfa::credentials::finish_registration(&state.factors, &step.user, kind, &ceremony, credential, kind.label(), now).await {
        Ok(factor) => {
            let (amr, level) = mfa::credentials::registered_proof(&factor);
            if level < step.progress.level() {
                // Kept as a factor, but it cannot answer this request: a synced passkey asked
                // for where the application wants a key bound to its hardware.
                let message = step.m.flow.synced_passkey;
                return render(&state, step, Some(message), StatusCode::OK, now).await;
            }
            enrolled(&state, &mut step, &factor.id, EnrolledProof { amr: amr.to_owned(), level }, Origin { address: addr, headers: &headers }, now).await
        }
        Err(error) => {
            let (status, retry_after, message) = failure(step.m, &error);
            let mut response = render(&state, step, Some(&message), status, now).await?;
            with_retry_after(&mut response, retry_after);
            Ok(response)
        }
    }
}

/// The new factor is active: fresh recovery codes, shown once, then the user continues.
/// Where a wizard request came from, for the audit trail.
pub(super) struct Origin<'a> {
    pub address: IpAddr,
    pub headers: &'a HeaderMap,
}

pub(super) async fn enrolled(
    state: &AppState,
    step: &mut Step,
    factor: &FactorId,
    proof: EnrolledProof,
    origin: Origin<'_>,
    now: OffsetDateTime,
) -> Result<Response, PageError> {
    let entry = AuditEntry {
        after: Some(serde_json::json!({ "method": proof.amr, "during": "sign-in enrollment wizard" })),
        reason: Some(format!("the sign-in required {}", step.progress.level())),
        ..super::audit_entry(format!("user:{}", step.user.id), "factor.add", format!("factor:{factor}"), origin.address, origin.headers)
    }
    .in_tenant(step.user.tenant_id.as_str());
    // The wizard's step is claimed first (compare-and-set): of two racing confirmations only
    // one records the new factor and makes the recovery codes it shows.
    let progress = step.progress.with_enrolled(proof).ok_or_else(expired)?;
    step.advance(state, progress).await?;
    state.audit.append(&entry).await?;
    let codes = mfa::recovery::regenerate(&state.factors, &step.user, now).await.map_err(mfa_page_error)?;
    let codes: Vec<&str> = codes.iter().map(|c| c.as_str()).collect();
    render_codes(step, &codes)
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
    // Using the new factor (its first code, or the registration ceremony) was the second
    // factor of this sign-in.
    let Some(enrolled) = step.progress.enrolled() else { return Err(expired()) };
    let proof = Proof::with_second_factor(step.progress.first_method(), &enrolled.amr, enrolled.level);
    if proof.level < step.progress.level() {
        return Err(PageError::bad_request(step.m.flow.stronger_needed_title, step.m.flow.stronger_needed));
    }
    let attempt = attempt::of_request(&state, &headers, addr);
    let context = Context { attempt: &attempt, decision: Some(&step.progress.decision), remember_device: false };
    finish(&state, &headers, &step.parked, &step.user, proof, context, now).await
}
