//! The first factor by password, around the hash check the edge runs (Argon2id on the
//! blocking pool, under its permits). Unknown accounts, wrong passwords and locked accounts
//! get the same answer after the same work; failures are throttled per address and per
//! account (progressive delay, then a temporary lock: `gatehouse_ops::monitor::lockout`),
//! and feed the spraying and stuffing detectors. The policy's risk signals (failures, the
//! browser's device) are gathered here for [`crate::decide`].

use gatehouse_core::authorize::AuthorizationRequest;
use gatehouse_core::model::{Tenant, User};
use gatehouse_core::throttle::AccountThrottle;
use gatehouse_core::{Client, Email};
use gatehouse_crypto::SecretDigester;
use gatehouse_ops::monitor::lockout::{self, FailedStep};
use gatehouse_ops::monitor::{Monitor, finding_alert};
use gatehouse_ops::rate_limit::{LOGIN_PER_ACCOUNT, LOGIN_PER_ADDRESS, RateLimiter};
use gatehouse_store::{SessionRecord, SignInResult, Store, StoreError};
use std::sync::Arc;
use time::OffsetDateTime;

use super::StepError;
use crate::Randomness;
use crate::attempt::{self, Attempt, Outcome};
use crate::decide::{Ask, Observed, Verdict, decide_with, device_of, session_state};
use crate::parked::ParkedSignIn;

/// What the password step uses.
pub struct Context<'a> {
    pub store: &'a dyn Store,
    /// Lockout, alerts and the spraying and stuffing detectors.
    pub monitor: &'a Arc<Monitor>,
    /// Failed passwords per account (keyed by the email's key).
    pub per_account: &'a RateLimiter,
    /// Failed passwords per client address.
    pub per_address: &'a RateLimiter,
    /// Device ids (the server's pepper).
    pub digester: &'a SecretDigester,
    pub rng: &'a dyn Randomness,
}

/// Seconds to wait when this address failed too often: spraying from one place is slowed for
/// everyone it targets (per account, the persistent lockout applies instead).
pub fn address_blocked(cx: &Context<'_>, attempt: &Attempt, now: OffsetDateTime) -> Option<i64> {
    cx.per_address.blocked_for(&attempt.address.to_string(), LOGIN_PER_ADDRESS, now)
}

/// A refused password (or an unknown or locked account, `admitted` false for a delayed or
/// locked one): counted per account and address, toward the account's lockout, and by the
/// detectors; the history entry and an existing account's new lockout state are stored in one
/// transaction, so a failure costs the same whether the account exists or not.
#[allow(clippy::too_many_arguments)]
pub async fn refuse(
    cx: &Context<'_>,
    parked: &ParkedSignIn,
    email: &Email,
    user: Option<&User>,
    throttle: AccountThrottle,
    admitted: bool,
    attempt: &Attempt,
    now: OffsetDateTime,
) -> Result<(), StepError> {
    let address = attempt.address;
    cx.per_account.record_failure(&email.key(), LOGIN_PER_ACCOUNT, now);
    cx.per_address.record_failure(&address.to_string(), LOGIN_PER_ADDRESS, now);
    tracing::info!(addr = %address, admitted, "password sign-in failed");
    let counted = user.filter(|_| admitted).map(|u| (u, lockout::after_failure(cx.monitor, u, throttle, FailedStep::Password, Some(address), now)));
    for finding in cx.monitor.detector.password_failure(&email.key(), address, now.unix_timestamp()) {
        cx.monitor.raise_in_background(finding_alert(&finding), now);
    }
    let outcome = Outcome {
        user,
        client_id: Some(parked.request.client_id.as_str()),
        result: SignInResult::Failure,
        amr: vec![],
        acr: None,
        decision: None,
        device_id: user.and_then(|u| attempt.device_id(cx.digester, u)),
        idp: None,
    };
    let event = attempt::event(cx.rng, attempt, outcome, now)?;
    cx.store.record_failed_sign_in(&event, counted.as_ref().map(|(u, t)| (&u.id, t))).await?;
    Ok(())
}

/// The password was right: the account's failures are forgotten. Called after the policy
/// decided, for which recent failures are a risk signal.
pub async fn accepted(cx: &Context<'_>, email: &Email, user: &User, throttle: &AccountThrottle) -> Result<(), StepError> {
    cx.per_account.clear(&email.key());
    if throttle.failures > 0 {
        cx.store.clear_account_throttle(&user.id).await?;
    }
    Ok(())
}

/// Decides what `user` must still present to answer `request` from the browser of `attempt`,
/// with the risk signals of this process (failure counts, the browser's device row).
/// `session` is the SSO session standing in for the first factor, or `None` for a fresh one.
#[allow(clippy::too_many_arguments)]
pub async fn decide(
    cx: &Context<'_>,
    tenant: Option<&Tenant>,
    user: &User,
    client: &Client,
    request: &AuthorizationRequest,
    session: Option<&SessionRecord>,
    attempt: &Attempt,
    now: OffsetDateTime,
) -> Result<Verdict, StoreError> {
    let ask = Ask::for_request(request, session.map(session_state));
    decide_with(cx.store, tenant, user, client, &ask, &observed(cx, user, attempt, now).await?, now).await
}

/// The risk signals of this process for `user` signing in from the browser of `attempt`:
/// recent failures (per account and address) and the browser's device row.
pub(crate) async fn observed(cx: &Context<'_>, user: &User, attempt: &Attempt, now: OffsetDateTime) -> Result<Observed, StoreError> {
    Ok(Observed {
        address: attempt.address,
        device: device_of(cx.store, cx.digester, attempt, user).await?,
        failures_for_user: cx.per_account.failures(&user.email.key(), LOGIN_PER_ACCOUNT, now),
        failures_for_address: cx.per_address.failures(&attempt.address.to_string(), LOGIN_PER_ADDRESS, now),
    })
}
