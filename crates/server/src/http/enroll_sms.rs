//! Text messages in the enrollment wizard: the user gives a mobile number, a code is sent to
//! it, and the number becomes a factor once the code comes back (so SMS only ever goes to a
//! number that proved it receives them). The steps are `gatehouse_signin::steps::enrollment`'s.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use gatehouse_core::PhoneNumber;
use gatehouse_core::params::Params;
use gatehouse_signin::steps::Origin;
use gatehouse_signin::steps::enrollment::{self as steps, EnrollOutcome};

use super::ClientAddr;
use super::enroll::{answer, context, load_wizard, render};
use super::login::{check_csrf, expired};
use super::second_factor::Step;
use crate::error::PageError;
use crate::state::{AppState, now};

async fn load(state: &AppState, headers: &HeaderMap, body: &Bytes) -> Result<(Step, Params), PageError> {
    let form = Params::parse(body).map_err(|_| expired())?;
    let step = load_wizard(state, headers, form.get("request").unwrap_or_default(), now()).await?;
    check_csrf(&form, &step.parked)?;
    steps::phone_allowed(&step)?;
    Ok((step, form))
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
    match steps::send_phone_code(&state.factors, &mut step, phone, addr, now).await? {
        None => render(&state, step, None, StatusCode::OK, now).await,
        Some(error) => answer(&state, step, EnrollOutcome::Refuse(error), now).await,
    }
}

/// `POST /login/enroll/sms/confirm`: the code that came back activates the number.
pub async fn confirm(State(state): State<AppState>, ClientAddr(addr): ClientAddr, headers: HeaderMap, body: Bytes) -> Result<Response, PageError> {
    let now = now();
    let (mut step, form) = load(&state, &headers, &body).await?;
    let origin = Origin { address: addr, user_agent: &super::user_agent(&headers) };
    let outcome = steps::confirm_phone(&context(&state), &mut step, form.get("code").unwrap_or_default(), origin, now).await?;
    answer(&state, step, outcome, now).await
}
