//! The JSON endpoints `webauthn.js` calls during sign-in: options for presenting a security key
//! or passkey (`/login/factor/webauthn`) and for registering one in the enrollment wizard
//! (`/login/enroll/webauthn/options`). Each parks the ceremony state with the sign-in, so the
//! form that follows is checked against the challenge this browser was given.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use gatehouse_core::FactorKind;
use gatehouse_core::params::Params;
use serde_json::json;

use super::login::{check_csrf, expired};
use super::second_factor::{Step, failure, load_step};
use crate::error::PageError;
use crate::http::flow::policy::method_of;
use crate::http::flow::progress::Progress;
use crate::messages::Messages;
use crate::mfa::{MfaError, credentials};
use crate::state::{AppState, now};

/// The WebAuthn factor kind a form names, if the step offers it.
pub fn offered_kind(progress: &Progress, name: Option<&str>) -> Option<FactorKind> {
    let kind = FactorKind::parse(name?).filter(|k| k.is_webauthn())?;
    progress.offers(method_of(kind)).then_some(kind)
}

/// The reason, for `webauthn.js` to show on the page.
fn json_error(m: &Messages, error: &MfaError) -> Response {
    let (status, _, message) = failure(m, error);
    let status = if status == StatusCode::OK { StatusCode::BAD_REQUEST } else { status };
    (status, Json(json!({ "error": message }))).into_response()
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
    let Some(kind) = offered_kind(&step.progress, kind.as_deref()).filter(|_| step.progress.is_second_factor()) else {
        return Ok(json_error(step.m, &MfaError::NotAllowed));
    };
    match credentials::begin_sign_in(&state.factors, &step.user, kind, now).await {
        Ok((options, ceremony)) => {
            let progress = step.progress.with_ceremony(kind, ceremony);
            step.advance(&state, progress).await?;
            Ok(Json(options).into_response())
        }
        Err(error) => Ok(json_error(step.m, &error)),
    }
}

/// Options for registering a new security key or passkey in the enrollment wizard.
pub async fn enroll_options(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Response, PageError> {
    let (mut step, kind) = load(&state, &headers, &body).await?;
    let Some(kind) = offered_kind(&step.progress, kind.as_deref()).filter(|_| step.progress.is_enrolling_unconfirmed()) else {
        return Ok(json_error(step.m, &MfaError::NotAllowed));
    };
    let start = credentials::begin_registration(&state.factors, &step.user).await.and_then(|start| start.options(kind, &step.user));
    match start {
        Ok((options, ceremony)) => {
            let progress = step.progress.with_ceremony(kind, ceremony);
            step.advance(&state, progress).await?;
            Ok(Json(options).into_response())
        }
        Err(error) => Ok(json_error(step.m, &error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::flow::progress::{Owed, Stage};
    use gatehouse_policy::AuthLevel;

    fn progress(methods: &[&str]) -> Progress {
        let methods = methods.iter().filter_map(|m| gatehouse_policy::Method::parse(m)).collect();
        Progress {
            user_id: gatehouse_core::ids::UserId::new("u"),
            first_amr: vec!["pwd".into()],
            auth_time: 0,
            decision: serde_json::Value::Null,
            remember_device_days: 0,
            ceremony: None,
            stage: Stage::SecondFactor { owed: Owed { level: AuthLevel::Mfa, methods }, then_enroll: None, sms_challenge: None },
        }
    }

    #[test]
    fn only_offered_webauthn_kinds_are_accepted() {
        let p = progress(&["totp", "passkey"]);
        assert_eq!(offered_kind(&p, Some("passkey")), Some(FactorKind::Passkey));
        assert_eq!(offered_kind(&p, Some("security_key")), None, "not offered");
        assert_eq!(offered_kind(&p, Some("totp")), None, "not WebAuthn");
        assert_eq!(offered_kind(&p, None), None);
    }
}
