//! The mailbox proof of the forced password change after "this wasn't me": an 8-digit code
//! sent to the account's email address, kept in the parked request as its keyed digest, valid
//! ten minutes, five tries, spent with the sign-in (the parked request is answered once). At
//! most six codes a user an hour are sent, and wrong codes are limited per user and address,
//! so neither guessing nor flooding the mailbox works from where the intruder is.
//! Without it, whoever knew the password (and, for an account that had none, whatever second
//! factor they enrolled with it) could finish the change the victim's report forced, and keep
//! the account.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::net::IpAddr;
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

use super::second_factor::Step;
use crate::delivery::NotificationKind;
use crate::error::PageError;
use crate::http::flow::progress::{EmailCode, PendingReset};
use crate::state::AppState;

const DIGITS: u32 = 8;
const LIFETIME_MINUTES: i64 = 10;
const TRIES: u8 = 5;

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

/// Whether this server can deliver a code by email (SMTP, a webhook, or the development outbox).
pub fn deliverable(state: &AppState) -> bool {
    state.config.monitoring.notifier.is_some() || state.config.dev_outbox
}

fn digest(state: &AppState, code: &str) -> String {
    URL_SAFE_NO_PAD.encode(state.digester.digest(&format!("password-reset:{code}")))
}

fn live(reset: &PendingReset, now: OffsetDateTime) -> Option<&EmailCode> {
    reset.email_code.as_ref().filter(|c| c.expires_at > now.unix_timestamp() && c.tries_left > 0)
}

/// Replaces the step's reset state (compare-and-set on the parked request: two tabs cannot
/// both spend a try or both send a code).
async fn store(state: &AppState, step: &mut Step, reset: PendingReset) -> Result<(), PageError> {
    let progress = step.progress.with_reset(reset).ok_or_else(super::login::expired)?;
    if !step.parked.advance(state.store.as_ref(), progress.clone()).await? {
        return Err(super::login::expired());
    }
    step.progress = progress;
    Ok(())
}

/// Sends a code unless one is still live; `Some(seconds)` when the user's hourly number of codes
/// is used up and none was sent.
pub async fn ensure_sent(state: &AppState, step: &mut Step, reset: &PendingReset, now: OffsetDateTime) -> Result<Option<i64>, PageError> {
    if live(reset, now).is_some() || !deliverable(state) {
        return Ok(None);
    }
    let sent_key = format!("sent:{}", step.user.id);
    if let Some(retry_after) = state.limits.reset_code.blocked_for(sent_key.as_str(), crate::rate_limit::RESET_CODES_SENT, now) {
        return Ok(Some(retry_after));
    }
    state.limits.reset_code.record_failure(sent_key.as_str(), crate::rate_limit::RESET_CODES_SENT, now);
    let code = gatehouse_crypto::otp::numeric_code(DIGITS)?;
    let email_code =
        EmailCode { digest: digest(state, &code), expires_at: (now + time::Duration::minutes(LIFETIME_MINUTES)).unix_timestamp(), tries_left: TRIES };
    store(state, step, PendingReset { email_code: Some(email_code), ..reset.clone() }).await?;
    crate::mfa::notify(&state.factors, &step.user, NotificationKind::PasswordResetCode { code, minutes: LIFETIME_MINUTES }, now);
    Ok(None)
}

/// Checks a presented code from `address`; a wrong one spends a try (and counts toward the
/// limit for this user from this address), an absent or spent one sends a new code.
pub async fn check(
    state: &AppState,
    step: &mut Step,
    reset: &PendingReset,
    presented: &str,
    address: IpAddr,
    now: OffsetDateTime,
) -> Result<CodeCheck, PageError> {
    let guess_key = format!("guess:{}:{}", step.user.id, crate::monitor::host_network(address));
    if let Some(retry_after) = state.limits.reset_code.blocked_for(guess_key.as_str(), crate::rate_limit::RESET_CODE_GUESSES, now) {
        return Ok(CodeCheck::Throttled { retry_after });
    }
    let Some(pending) = live(reset, now) else {
        if let Some(retry_after) = ensure_sent(state, step, &PendingReset { email_code: None, ..reset.clone() }, now).await? {
            return Ok(CodeCheck::Throttled { retry_after });
        }
        return Ok(CodeCheck::Resent);
    };
    let presented: String = presented.chars().filter(char::is_ascii_digit).take(16).collect();
    if bool::from(digest(state, &presented).as_bytes().ct_eq(pending.digest.as_bytes())) {
        return Ok(CodeCheck::Accepted);
    }
    let tries_left = pending.tries_left.saturating_sub(1);
    let spent = EmailCode { tries_left, ..pending.clone() };
    store(state, step, PendingReset { email_code: Some(spent), ..reset.clone() }).await?;
    state.limits.reset_code.record_failure(guess_key.as_str(), crate::rate_limit::RESET_CODE_GUESSES, now);
    Ok(CodeCheck::Wrong { tries_left })
}
