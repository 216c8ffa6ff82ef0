//! Text messages in the enrollment wizard: the user gives a mobile number, a code is sent to
//! it, and the number becomes a factor once the code comes back (so SMS only ever goes to a
//! number that proved it receives them).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use gatehouse_core::params::Params;
use gatehouse_core::{FactorKind, PhoneNumber};
use gatehouse_policy::{AuthLevel, Method};

use super::ClientAddr;
use super::enroll::{Origin, enrolled, load_wizard, render};
use super::login::{check_csrf, expired};
use super::second_factor::{Step, failure, with_retry_after};
use crate::error::PageError;
use crate::http::flow::progress::EnrolledProof;
use crate::mfa::{self, MfaError};
use crate::state::{AppState, now};

async fn load(state: &AppState, headers: &HeaderMap, body: &Bytes) -> Result<(Step, Params), PageError> {
    let form = Params::parse(body).map_err(|_| expired())?;
    let step = load_wizard(state, headers, form.get("request").unwrap_or_default(), now()).await?;
    check_csrf(&form, &step.parked)?;
    if !step.progress.offers(Method::Sms) || !step.progress.is_enrolling_unconfirmed() {
        return Err(expired());
    }
    Ok((step, form))
}

async fn render_error(state: &AppState, step: Step, error: &MfaError) -> Result<Response, PageError> {
    let (status, retry_after, message) = failure(step.m, error);
    let mut response = render(state, step, Some(&message), status, now()).await?;
    with_retry_after(&mut response, retry_after);
    Ok(response)
}

/// `POST /login/enroll/sms`: sends a code to the number given.
pub async fn send(State(state): State<AppState>, ClientAddr(addr): ClientAddr, headers: HeaderMap, body: Bytes) -> Result<Response, PageError> {
    let now = now();
    let (mut step, form) = load(&state, &headers, &body).await?;
    let phone = match PhoneNumber::parse(form.get("phone").unwrap_or_default()) {
        Ok(phone) => phone,
        Err(e) => {
            let message = step.m.flow.phone_invalid.with(e.0);
            return render(&state, step, Some(&message), StatusCode::OK, now).await;
        }
    };
    match mfa::sms::begin(&state.factors, &step.user, phone, FactorKind::Sms.label(), addr, now).await {
        Ok((factor, challenge)) => {
            let progress = step.progress.with_enrolling_phone(factor.id.clone(), challenge).ok_or_else(expired)?;
            step.advance(&state, progress).await?;
            render(&state, step, None, StatusCode::OK, now).await
        }
        Err(error) => render_error(&state, step, &error).await,
    }
}

/// `POST /login/enroll/sms/confirm`: the code that came back activates the number.
pub async fn confirm(State(state): State<AppState>, ClientAddr(addr): ClientAddr, headers: HeaderMap, body: Bytes) -> Result<Response, PageError> {
    let now = now();
    let (mut step, form) = load(&state, &headers, &body).await?;
    let Some((factor, challenge)) = step.progress.enrolling_phone().cloned() else { return Err(expired()) };
    let code = form.get("code").unwrap_or_default();
    match mfa::sms::confirm(&state.factors, &step.user, &factor, &challenge, code, now).await {
        Ok(()) => {
            enrolled(
                &state,
                &mut step,
                &factor,
                EnrolledProof { amr: "sms".to_owned(), level: AuthLevel::Mfa },
                Origin { address: addr, headers: &headers },
                now,
            )
            .await
        }
        Err(error) => render_error(&state, step, &error).await,
    }
}
