//! The JSON endpoints `webauthn.js` calls during sign-in: options for presenting a security key
//! or passkey (`/login/factor/webauthn`) and for registering one in the enrollment wizard
//! (`/login/enroll/webauthn/options`). `gatehouse_signin::steps::ceremonies` starts each and
//! parks its state with the sign-in; this answers the options or the reason as JSON.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use gatehouse_core::params::Params;
use gatehouse_signin::steps::ceremonies;
use serde_json::{Value, json};

use super::login::{check_csrf, expired};
use super::second_factor::{Step, failure, load_step};
use crate::error::PageError;
use crate::messages::Messages;
use crate::mfa::MfaError;
use crate::state::{AppState, now};

/// The options, or the reason for `webauthn.js` to show on the page.
fn json_answer(m: &Messages, answer: Result<Value, MfaError>) -> Response {
    match answer {
        Ok(options) => Json(options).into_response(),
        Err(error) => {
            let (status, _, message) = failure(m, &error);
            let status = if status == StatusCode::OK { StatusCode::BAD_REQUEST } else { status };
            (status, Json(json!({ "error": message }))).into_response()
        }
    }
}

async fn load(state: &AppState, headers: &HeaderMap, body: &Bytes) -> Result<(Step, Option<String>), PageError> {
    let form = Params::parse(body).map_err(|_| expired())?;
    let step = load_step(state, headers, form.get("request").unwrap_or_default(), now()).await?;
    check_csrf(&form, &step.parked)?;
    Ok((step, form.get("kind").map(str::to_owned)))
}

/// Options for presenting a registered security key or passkey at the second-factor step.
pub async fn sign_in_options(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Response, PageError> {
    let now = now();
    let (mut step, kind) = load(&state, &headers, &body).await?;
    let answer = ceremonies::sign_in_options(&state.factors, &mut step, kind.as_deref(), now).await?;
    Ok(json_answer(step.m, answer))
}

/// Options for registering a new security key or passkey in the enrollment wizard.
pub async fn enroll_options(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Response, PageError> {
    let (mut step, kind) = load(&state, &headers, &body).await?;
    let answer = ceremonies::enroll_options(&state.factors, &mut step, kind.as_deref()).await?;
    Ok(json_answer(step.m, answer))
}
