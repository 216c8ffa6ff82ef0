//! Brute-force protection of accounts over the store (the rules are
//! `gatehouse_core::throttle`): failed passwords and failed second factors count together; a
//! lock is temporary, tells the user, and raises an alert for the tenant's admins.

use gatehouse_core::alert::AlertKind;
use gatehouse_core::model::User;
use gatehouse_core::throttle::{AccountThrottle, Admission};
use std::net::IpAddr;
use time::OffsetDateTime;

use super::NewAlert;
use crate::delivery::NotificationKind;
use crate::error::ServerError;
use crate::state::AppState;

/// Which step failed.
#[derive(Clone, Copy, Debug)]
pub enum FailedStep {
    Password,
    SecondFactor,
}

impl FailedStep {
    fn as_str(self) -> &'static str {
        match self {
            Self::Password => "password",
            Self::SecondFactor => "second_factor",
        }
    }
}

/// Whether the account may try now.
pub async fn admission(state: &AppState, user: &User, now: OffsetDateTime) -> Result<Admission, ServerError> {
    let throttle = state.store.account_throttle(&user.id).await?;
    Ok(throttle.map_or(Admission::Allowed, |t| t.admission(now.unix_timestamp())))
}

/// Recent failures on the account (a risk signal for the policy).
pub async fn recent_failures(state: &AppState, user: &User, now: OffsetDateTime) -> Result<u32, ServerError> {
    let throttle = state.store.account_throttle(&user.id).await?;
    Ok(throttle.map_or(0, |t| t.recent_failures(now.unix_timestamp(), &state.monitor.settings.lockout)))
}

/// The state after one more failure (for the caller to store). On the failure that locks the
/// account, the user is told and a brute-force alert raised, in the background.
pub fn after_failure(
    state: &AppState,
    user: &User,
    current: AccountThrottle,
    step: FailedStep,
    address: Option<IpAddr>,
    now: OffsetDateTime,
) -> AccountThrottle {
    let rules = state.monitor.settings.lockout;
    let (next, effect) = current.after_failure(now.unix_timestamp(), &rules);
    if effect.locked {
        let seconds = next.locked_until.map_or(rules.lock_seconds, |until| until - now.unix_timestamp());
        let minutes = (seconds + 59) / 60;
        crate::mfa::notify(state, user, NotificationKind::AccountLocked { minutes }, now);
        let alert = NewAlert {
            kind: AlertKind::BruteForce,
            tenant: Some(user.tenant_id.clone()),
            subject: format!("user:{}", user.id),
            summary: format!("{} failed sign-in attempts on {}; locked for {minutes} minutes", effect.failures, format_args!("user:{}", user.id)),
            details: serde_json::json!({
                "user": user.id.as_str(),
                "failures": effect.failures,
                "last_step": step.as_str(),
                "last_address": address.map(|a| a.to_string()),
                "locked_until": next.locked_until,
            }),
        };
        state.monitor.raise_in_background(state, alert, now);
    }
    next
}

/// Counts one failure and stores it (the second-factor steps). A read-modify-write: two
/// failures at the same instant may count once, which only delays the lock by one attempt.
pub async fn record_failure(state: &AppState, user: &User, step: FailedStep, address: Option<IpAddr>, now: OffsetDateTime) -> Result<(), ServerError> {
    let current = state.store.account_throttle(&user.id).await?.unwrap_or_default();
    let next = after_failure(state, user, current, step, address, now);
    state.store.save_account_throttle(&user.id, &next).await?;
    Ok(())
}

/// Forgets failures after a complete sign-in (only when there were any: no write otherwise).
pub async fn clear(state: &AppState, user: &User) -> Result<(), ServerError> {
    if state.store.account_throttle(&user.id).await?.is_some_and(|t: AccountThrottle| t.failures > 0) {
        state.store.clear_account_throttle(&user.id).await?;
    }
    Ok(())
}
