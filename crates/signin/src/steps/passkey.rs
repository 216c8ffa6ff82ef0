//! Passkey sign-in without a password: the browser offers a discoverable credential, its
//! user handle names the account, and an assertion with user verification proves two factors
//! at once (the device, and the PIN or biometric that unlocked it). The 2FA policy then
//! decides as for any sign-in, with the passkey's level already achieved; where it asks for
//! more (a device-bound key asked of a synced passkey), the second-factor step continues with
//! the passkey as the first factor.

use gatehouse_core::Client;
use gatehouse_core::authorize::AuthorizationRequest;
use gatehouse_core::model::{Tenant, User};
use gatehouse_policy::SessionState;
use gatehouse_store::StoreError;
use serde_json::Value;
use time::OffsetDateTime;

use super::StepError;
use crate::attempt::Attempt;
use crate::decide::{Ask, Observed, Verdict, decide_with, device_of};
use crate::factors::credentials::{self, Passwordless, Presented};
use crate::factors::{Factors, MfaError};
use crate::parked::{FlowState, ParkedSignIn};

/// Options for a discoverable-credential sign-in, before anyone is known; the ceremony is
/// parked with the sign-in (`FlowState::Started`). `Err` inside when none can start.
pub async fn options(cx: &Factors, parked: &mut ParkedSignIn) -> Result<Result<Value, MfaError>, StepError> {
    if parked.progress().is_ok() {
        return Err(StepError::Expired);
    }
    let (options, ceremony) = match credentials::begin_passwordless(cx) {
        Ok(started) => started,
        Err(error) => return Ok(Err(error)),
    };
    if !parked.advance_to(cx.store.as_ref(), FlowState::Started { passkey_login: Some(ceremony), federated: None }).await? {
        return Err(StepError::Expired);
    }
    Ok(Ok(options))
}

/// Verifies the assertion against the parked ceremony, which is used once whatever the
/// outcome. `Err` inside when the assertion is refused.
pub async fn verify(cx: &Factors, parked: &mut ParkedSignIn, credential: &str, now: OffsetDateTime) -> Result<Result<Passwordless, MfaError>, StepError> {
    let ceremony = parked.passkey_login().map(str::to_owned).ok_or(StepError::Expired)?;
    if !parked.advance_to(cx.store.as_ref(), FlowState::fresh()).await? {
        return Err(StepError::Expired);
    }
    Ok(credentials::finish_passwordless(cx, &ceremony, credential, now).await)
}

/// The policy's verdict for a passkey sign-in from the browser of `attempt`: the passkey's
/// level counts as achieved just now; no password failed.
#[allow(clippy::too_many_arguments)]
pub async fn decide(
    cx: &Factors,
    tenant: Option<&Tenant>,
    user: &User,
    client: &Client,
    request: &AuthorizationRequest,
    presented: &Presented,
    attempt: &Attempt,
    now: OffsetDateTime,
) -> Result<Verdict, StoreError> {
    let ask = Ask::for_request(request, Some(SessionState { level: presented.level, second_factor_at: Some(now) }));
    let device = device_of(cx.store.as_ref(), &cx.digester, attempt, user).await?;
    let observed = Observed { address: attempt.address, device, failures_for_user: 0, failures_for_address: 0 };
    decide_with(cx.store.as_ref(), tenant, user, client, &ask, &observed, now).await
}
