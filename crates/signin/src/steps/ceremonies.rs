//! Starting the WebAuthn ceremonies of a sign-in past its first factor: options for
//! presenting a security key or passkey at the second-factor step, and for registering one in
//! the wizard. Each parks the ceremony's state with the sign-in, so the form that follows is
//! checked against the challenge this browser was given.

use serde_json::Value;
use time::OffsetDateTime;

use super::{Step, StepError, offered_kind};
use crate::factors::{Factors, MfaError, credentials};

/// Options for presenting a registered security key or passkey of `kind` (the form's name)
/// at the second-factor step; `Err` (inside) when it is not offered or cannot start.
pub async fn sign_in_options(cx: &Factors, step: &mut Step, kind: Option<&str>, now: OffsetDateTime) -> Result<Result<Value, MfaError>, StepError> {
    let Some(kind) = offered_kind(&step.progress, kind).filter(|_| step.progress.is_second_factor()) else {
        return Ok(Err(MfaError::NotAllowed));
    };
    match credentials::begin_sign_in(cx, &step.user, kind, now).await {
        Ok((options, ceremony)) => {
            let progress = step.progress.with_ceremony(kind, ceremony);
            step.advance(cx.store.as_ref(), progress).await?;
            Ok(Ok(options))
        }
        Err(error) => Ok(Err(error)),
    }
}

/// Options for registering a new security key or passkey of `kind` in the wizard.
pub async fn enroll_options(cx: &Factors, step: &mut Step, kind: Option<&str>) -> Result<Result<Value, MfaError>, StepError> {
    let Some(kind) = offered_kind(&step.progress, kind).filter(|_| step.progress.is_enrolling_unconfirmed()) else {
        return Ok(Err(MfaError::NotAllowed));
    };
    let start = credentials::begin_registration(cx, &step.user).await.and_then(|start| start.options(kind, &step.user));
    match start {
        Ok((options, ceremony)) => {
            let progress = step.progress.with_ceremony(kind, ceremony);
            step.advance(cx.store.as_ref(), progress).await?;
            Ok(Ok(options))
        }
        Err(error) => Ok(Err(error)),
    }
}
