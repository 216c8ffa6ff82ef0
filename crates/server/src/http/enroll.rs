//! The enrollment wizard (`/login/enroll`): a user who must use 2FA but has no usable factor
//! sets one up in the middle of signing in — an authenticator app, shown as a QR code and as
//! text, activated by its first valid code — receives recovery codes once, and the original
//! authorization request then resumes. Only methods the domain allows are offered.

use askama::Template;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use gatehouse_core::FactorKind;
use gatehouse_core::ids::FactorId;
use gatehouse_core::params::Params;
use gatehouse_policy::Method;
use time::OffsetDateTime;

use super::login::{LoginQuery, check_csrf, expired};
use super::respond::see_other;
use super::second_factor::{Step, failure, flow_page, load_step, with_retry_after};
use crate::error::PageError;
use crate::mfa::{self, MfaError};
use crate::pages::{EnrollTotpPage, EnrollUnavailablePage, RecoveryCodesPage};
use super::ClientAddr;
use crate::signin::attempt::Attempt;
use crate::signin::complete::{Context, Proof, finish};
use crate::signin::progress::Progress;
use crate::state::{AppState, now};

/// Loads a wizard step; a request in the second-factor step is sent there instead.
async fn load_wizard(state: &AppState, headers: &HeaderMap, request_id: &str, now: OffsetDateTime) -> Result<Step, PageError> {
    let step = load_step(state, headers, request_id, now).await?;
    if step.progress.enroll { Ok(step) } else { Err(expired()) }
}

async fn save(state: &AppState, step: &Step, progress: &Progress) -> Result<(), PageError> {
    if state.store.update_pending_progress(&step.pending.id, step.pending.progress.as_deref(), &progress.encode()).await? {
        Ok(())
    } else {
        Err(PageError::bad_request("This sign-in page has expired", "The sign-in continued in another window. Return to the application and start again."))
    }
}

/// The authenticator-app step: creates the (unconfirmed) factor on first view, and shows it.
async fn render_totp(state: &AppState, step: Step, error: Option<&str>, status: StatusCode, now: OffsetDateTime) -> Result<Response, PageError> {
    let existing = match &step.progress.enrolling_factor {
        Some(id) => state.store.factor(&FactorId::new(id.clone())).await?.filter(|f| f.user_id == step.user.id && !f.is_confirmed()),
        None => None,
    };
    let enrollment = match existing {
        Some(factor) => mfa::totp::view(state, &step.user, &factor),
        None => {
            let enrollment = mfa::totp::begin(state, &step.user, FactorKind::Totp.label(), now).await.map_err(mfa_page_error)?;
            let progress = Progress { enrolling_factor: Some(enrollment.factor_id.as_str().to_owned()), ..step.progress.clone() };
            save(state, &step, &progress).await?;
            Ok(enrollment)
        }
    }
    .map_err(mfa_page_error)?;
    let client = state.client(&step.request.client_id).ok_or_else(expired)?;
    let page = EnrollTotpPage {
        title: "Set up two-step verification",
        client_name: &client.name,
        request_id: &step.pending.id,
        csrf_token: &step.pending.csrf_token,
        qr_data_uri: format!("data:image/svg+xml;base64,{}", STANDARD.encode(enrollment.qr_svg.as_bytes())),
        secret: enrollment.secret_text.as_str(),
        error,
    };
    Ok(flow_page(&step, page.render()?, status))
}

fn mfa_page_error(error: MfaError) -> PageError {
    tracing::warn!(%error, "enrollment failed");
    PageError::bad_request("Two-step verification is unavailable", "Setting up two-step verification failed; try again later.")
}

pub async fn page(State(state): State<AppState>, headers: HeaderMap, Query(query): Query<LoginQuery>) -> Result<Response, PageError> {
    let now = now();
    let step = load_step(&state, &headers, &query.request, now).await?;
    if !step.progress.enroll {
        return Ok(see_other(&format!("/login/factor?request={}", step.pending.id)));
    }
    if step.progress.enrolled {
        // The codes were shown once; the page only offers to continue.
        return render_codes(&step, &[]);
    }
    if step.progress.offers(Method::Totp) {
        return render_totp(&state, step, None, StatusCode::OK, now).await;
    }
    // The wizard here sets up authenticator apps; a domain allowing only text messages or
    // WebAuthn is told plainly rather than left stuck.
    let client = state.client(&step.request.client_id).ok_or_else(expired)?;
    let methods: Vec<&str> = step.progress.method_set().iter().map(method_label).collect();
    let page = EnrollUnavailablePage { title: "Set up two-step verification", client_name: &client.name, methods };
    Ok(flow_page(&step, page.render()?, StatusCode::OK))
}

fn method_label(method: Method) -> &'static str {
    match method {
        Method::Totp => "an authenticator app",
        Method::Sms => "text messages",
        Method::SecurityKey => "a security key",
        Method::Passkey => "a passkey",
        Method::RecoveryCode => "recovery codes",
    }
}

/// Activates the authenticator app with its first code, then shows fresh recovery codes.
pub async fn confirm(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Response, PageError> {
    let now = now();
    let form = Params::parse(&body).map_err(|_| expired())?;
    let step = load_wizard(&state, &headers, form.get("request").unwrap_or_default(), now).await?;
    check_csrf(&form, &step.pending)?;
    let Some(factor_id) = step.progress.enrolling_factor.clone().filter(|_| !step.progress.enrolled) else {
        return Err(expired());
    };
    let code = form.get("code").unwrap_or_default();
    if let Err(error) = mfa::totp::confirm(&state, &step.user, &FactorId::new(factor_id), code, now).await {
        let (status, retry_after, message) = failure(&error);
        let mut response = render_totp(&state, step, Some(&message), status, now).await?;
        with_retry_after(&mut response, retry_after);
        return Ok(response);
    }
    let codes = mfa::recovery::regenerate(&state, &step.user, now).await.map_err(mfa_page_error)?;
    save(&state, &step, &Progress { enrolled: true, ..step.progress.clone() }).await?;
    let codes: Vec<&str> = codes.iter().map(|c| c.as_str()).collect();
    render_codes(&step, &codes)
}

fn render_codes(step: &Step, codes: &[&str]) -> Result<Response, PageError> {
    let page = RecoveryCodesPage {
        title: "Save your recovery codes",
        request_id: &step.pending.id,
        csrf_token: &step.pending.csrf_token,
        codes,
    };
    Ok(flow_page(step, page.render()?, StatusCode::OK))
}

/// Resumes the authorization request once the new factor is active.
pub async fn done(State(state): State<AppState>, ClientAddr(addr): ClientAddr, headers: HeaderMap, body: Bytes) -> Result<Response, PageError> {
    let now = now();
    let form = Params::parse(&body).map_err(|_| expired())?;
    let step = load_wizard(&state, &headers, form.get("request").unwrap_or_default(), now).await?;
    check_csrf(&form, &step.pending)?;
    if !step.progress.enrolled {
        return Err(expired());
    }
    let first = step.progress.amr.first().map_or("pwd", String::as_str);
    // The new authenticator's first code was the second factor of this sign-in.
    let proof = Proof::with_second_factor(first, "otp", step.progress.level);
    let attempt = Attempt::new(&state, &headers, addr);
    let context = Context { attempt: &attempt, decision: Some(&step.progress.decision), remember_device: false };
    finish(&state, &headers, &step.pending, &step.request, &step.user, proof, context, now).await
}
