//! Brute-force protection of accounts over the store (the rules are
//! `gatehouse_core::throttle`): failed passwords and failed second factors count together; a
//! lock is temporary, tells the user, and raises an alert for the tenant's admins. Reads take
//! the store alone; what may lock takes the [`Monitor`] (its store, rules, notifier and alerts).
//! Nothing here may make a sign-in wait for a notice or an alert.

use gatehouse_core::alert::AlertKind;
use gatehouse_core::model::User;
use gatehouse_core::throttle::{AccountThrottle, Admission, ThrottleRules};
use gatehouse_delivery::NotificationKind;
use gatehouse_store::{SecurityStore, StoreError};
use std::net::IpAddr;
use std::sync::Arc;
use time::OffsetDateTime;

use super::{Monitor, NewAlert};

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
pub async fn admission(store: &dyn SecurityStore, user: &User, now: OffsetDateTime) -> Result<Admission, StoreError> {
    let throttle = store.account_throttle(&user.id).await?;
    Ok(throttle.map_or(Admission::Allowed, |t| t.admission(now.unix_timestamp())))
}

/// Recent failures on the account (a risk signal for the policy).
pub async fn recent_failures(store: &dyn SecurityStore, rules: &ThrottleRules, user: &User, now: OffsetDateTime) -> Result<u32, StoreError> {
    let throttle = store.account_throttle(&user.id).await?;
    Ok(throttle.map_or(0, |t| t.recent_failures(now.unix_timestamp(), rules)))
}

/// The state after one more failure (for the caller to store). On the failure that locks the
/// account, the user is told and a brute-force alert raised, in the background.
pub fn after_failure(
    monitor: &Arc<Monitor>,
    user: &User,
    current: AccountThrottle,
    step: FailedStep,
    address: Option<IpAddr>,
    now: OffsetDateTime,
) -> AccountThrottle {
    let rules = monitor.settings.lockout;
    let (next, effect) = current.after_failure(now.unix_timestamp(), &rules);
    if effect.locked {
        let seconds = next.locked_until.map_or(rules.lock_seconds, |until| until - now.unix_timestamp());
        let minutes = (seconds + 59) / 60;
        gatehouse_delivery::notify_in_background(monitor.notifier(), user, NotificationKind::AccountLocked { minutes }, now);
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
        monitor.raise_in_background(alert, now);
    }
    next
}

/// Counts one failure and stores it (the second-factor steps). A read-modify-write: two
/// failures at the same instant may count once, which only delays the lock by one attempt.
pub async fn record_failure(monitor: &Arc<Monitor>, user: &User, step: FailedStep, address: Option<IpAddr>, now: OffsetDateTime) -> Result<(), StoreError> {
    let current = monitor.store().account_throttle(&user.id).await?.unwrap_or_default();
    let next = after_failure(monitor, user, current, step, address, now);
    monitor.store().save_account_throttle(&user.id, &next).await?;
    Ok(())
}

/// Forgets failures after a complete sign-in (only when there were any: no write otherwise).
pub async fn clear(store: &dyn SecurityStore, user: &User) -> Result<(), StoreError> {
    if store.account_throttle(&user.id).await?.is_some_and(|t: AccountThrottle| t.failures > 0) {
        store.clear_account_throttle(&user.id).await?;
    }
    Ok(())
}
