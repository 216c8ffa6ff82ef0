//! The new-password step after a reported sign-in ("this wasn't me"): once the user passed
//! every factor (including the fresh second factor the report requires), and before the
//! application gets its code, they choose a new password, behind a code from the account's
//! mailbox.
//!
//! The mailbox code: 8 digits sent to the account's email address, kept in the parked
//! request as its keyed digest, valid ten minutes, five tries, spent with the sign-in (the
//! parked request is answered once). At most six codes a user an hour are sent, and wrong
//! codes are limited per user and address, so neither guessing nor flooding the mailbox works
//! from where the intruder is. Without it, whoever knew the password (and, for an account
//! that had none, whatever second factor they enrolled with it) could finish the change the
//! victim's report forced, and keep the account.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gatehouse_core::audit::AuditEntry;
use gatehouse_core::model::User;
use gatehouse_delivery::NotificationKind;
use gatehouse_ops::rate_limit::{RESET_CODE_GUESSES, RESET_CODES_SENT, RateLimiter};
use gatehouse_policy::AuthLevel;
use gatehouse_store::Store;
use std::net::IpAddr;
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

use super::{Origin, Step, StepError};
use crate::factors::{self, Factors};
use crate::parked::ParkedSignIn;
use crate::progress::{EmailCode, PendingReset};
use crate::proof::Proof;

const DIGITS: u32 = 8;
const LIFETIME_MINUTES: i64 = 10;
const TRIES: u8 = 5;

/// Stops a sign-in that met every factor, for a password change: parks its new stage. An
/// account with a second factor proves a fresh one first (the policy's step-up); only an
/// account without any sets its new password after the password alone ([`StepError::Expired`]
/// otherwise).
pub async fn stop_for_new_password(
    store: &dyn Store,
    parked: &ParkedSignIn,
    user: &User,
    proof: &Proof,
    decision: Option<&serde_json::Value>,
    remember_device: bool,
    now: OffsetDateTime,
) -> Result<(), StepError> {
    let has_trusted_factor =
        proof.level == AuthLevel::Password && store.factors(&user.id).await?.iter().any(|f| f.is_confirmed() && user.trusts_factor_from(f.created_at));
    let progress = crate::next::awaiting_password_change(parked.progress().ok(), user, proof, decision, remember_device, has_trusted_factor, now)
        .ok_or(StepError::Expired)?;
    let mut parked = parked.clone();
    if parked.advance(store, progress).await? { Ok(()) } else { Err(StepError::Expired) }
}

/// The step's stage and what it owes, or [`StepError::Expired`] (another stage, or the account
/// no longer needs a new password).
pub fn pending(step: &Step) -> Result<PendingReset, StepError> {
    step.progress.pending_reset().cloned().filter(|_| step.user.credentials_reset_required).ok_or(StepError::Expired)
}

/// What the mailbox code uses.
pub struct Context<'a> {
    /// The digester (the server's pepper) and the notifier the code goes out by.
    pub factors: &'a Factors,
    /// Codes sent per user and wrong codes per user and address (keys `sent:USER`,
    /// `guess:USER:NETWORK`).
    pub limiter: &'a RateLimiter,
    /// Whether this server can deliver a code by email (SMTP, a webhook, or the development
    /// outbox).
    pub deliverable: bool,
}

/// What checking a presented code found.
#[derive(Debug, PartialEq, Eq)]
pub enum CodeCheck {
    Accepted,
    /// Wrong; this many tries are left on this code.
    Wrong {
        tries_left: u8,
    },
    /// No code is pending (never sent, expired or used up): a new one was sent.
    Resent,
    /// Too many wrong codes from this address, or too many codes sent: retry after so many
    /// seconds.
    Throttled {
        retry_after: i64,
    },
}

fn digest(cx: &Context<'_>, code: &str) -> String {
    URL_SAFE_NO_PAD.encode(cx.factors.digester.digest(&format!("password-reset:{code}")))
}

fn live(reset: &PendingReset, now: OffsetDateTime) -> Option<&EmailCode> {
    reset.email_code.as_ref().filter(|c| c.expires_at > now.unix_timestamp() && c.tries_left > 0)
}

/// Replaces the step's reset state (compare-and-set on the parked request: two tabs cannot
/// both spend a try or both send a code).
async fn store(cx: &Context<'_>, step: &mut Step, reset: PendingReset) -> Result<(), StepError> {
    let progress = step.progress.with_reset(reset).ok_or(StepError::Expired)?;
    step.advance_or_expire(cx.factors.store.as_ref(), progress).await
}

/// Sends a code unless one is still live; `Some(seconds)` when the user's hourly number of codes
/// is used up and none was sent.
pub async fn ensure_sent(cx: &Context<'_>, step: &mut Step, reset: &PendingReset, now: OffsetDateTime) -> Result<Option<i64>, StepError> {
    if live(reset, now).is_some() || !cx.deliverable {
        return Ok(None);
    }
    let sent_key = format!("sent:{}", step.user.id);
    if let Some(retry_after) = cx.limiter.blocked_for(sent_key.as_str(), RESET_CODES_SENT, now) {
        return Ok(Some(retry_after));
    }
    cx.limiter.record_failure(sent_key.as_str(), RESET_CODES_SENT, now);
    // Drawn like the second factors' codes (see `crate::factors` on randomness).
    let code = gatehouse_crypto::otp::numeric_code(DIGITS)?;
    let email_code = EmailCode { digest: digest(cx, &code), expires_at: (now + time::Duration::minutes(LIFETIME_MINUTES)).unix_timestamp(), tries_left: TRIES };
    store(cx, step, PendingReset { email_code: Some(email_code), ..reset.clone() }).await?;
    factors::notify(cx.factors, &step.user, NotificationKind::PasswordResetCode { code, minutes: LIFETIME_MINUTES }, now);
    Ok(None)
}

/// Checks a presented code from `address`; a wrong one spends a try (and counts toward the
/// limit for this user from this address), an absent or spent one sends a new code.
pub async fn check_code(
    cx: &Context<'_>,
    step: &mut Step,
    reset: &PendingReset,
    presented: &str,
    address: IpAddr,
    now: OffsetDateTime,
) -> Result<CodeCheck, StepError> {
    let guess_key = format!("guess:{}:{}", step.user.id, gatehouse_ops::monitor::host_network(address));
    if let Some(retry_after) = cx.limiter.blocked_for(guess_key.as_str(), RESET_CODE_GUESSES, now) {
        return Ok(CodeCheck::Throttled { retry_after });
    }
    let Some(pending) = live(reset, now) else {
        if let Some(retry_after) = ensure_sent(cx, step, &PendingReset { email_code: None, ..reset.clone() }, now).await? {
            return Ok(CodeCheck::Throttled { retry_after });
        }
        return Ok(CodeCheck::Resent);
    };
    let presented: String = presented.chars().filter(char::is_ascii_digit).take(16).collect();
    if bool::from(digest(cx, &presented).as_bytes().ct_eq(pending.digest.as_bytes())) {
        return Ok(CodeCheck::Accepted);
    }
    let tries_left = pending.tries_left.saturating_sub(1);
    let spent = EmailCode { tries_left, ..pending.clone() };
    store(cx, step, PendingReset { email_code: Some(spent), ..reset.clone() }).await?;
    cx.limiter.record_failure(guess_key.as_str(), RESET_CODE_GUESSES, now);
    Ok(CodeCheck::Wrong { tries_left })
}

/// Stores the new password's hash (the edge hashed it and checked it is not the old one) with
/// its audit record, and tells the user. Factors enrolled during this sign-in (the wizard)
/// stay; earlier suspect ones go. Returns the user as they are now and what the sign-in proved.
pub async fn set_password(
    cx: &Factors,
    step: &Step,
    reset: PendingReset,
    hash: String,
    origin: Origin<'_>,
    now: OffsetDateTime,
) -> Result<(User, Proof), StepError> {
    let user = &step.user;
    let audit = AuditEntry {
        reason: Some("required after a reported sign-in".into()),
        ..origin.audit_by(user, "user.password.change", format!("user:{}", user.id), now)
    };
    let sign_in_began = OffsetDateTime::from_unix_timestamp(step.progress.auth_time).unwrap_or(now);
    cx.store.set_password(&user.id, &hash, sign_in_began, now, &audit).await?;
    factors::notify(cx, user, NotificationKind::PasswordChanged, now);
    let user = User { password_hash: Some(hash), credentials_reset_required: false, ..(**user).clone() };
    Ok((user, Proof { level: reset.level, amr: reset.amr }))
}
