//! Text-message codes: 6 digits, valid 5 minutes, single use, at most 5 tries each, only to a
//! verified number (or, once, to the number being verified). Sending is throttled per user:
//! one message per 30 seconds, 5 per hour. SMS is a restricted authenticator (NIST SP
//! 800-63B §5.1.3.3): policies may refuse it, and it never meets phishing-resistant levels.

use crate::rate_limit::SMS_PER_ADDRESS;
use gatehouse_core::ids::FactorId;
use gatehouse_core::model::User;
use gatehouse_core::{Factor, FactorKind, FactorSecret, PhoneNumber};
use gatehouse_store::{SmsChallenge, SmsCheck};
use std::net::IpAddr;
use time::{Duration, OffsetDateTime};

use super::{MfaError, check_throttle, notify, record_failure};
use crate::delivery::{DeliveryError, NotificationKind};
use crate::state::AppState;

pub const CODE_LIFETIME: Duration = Duration::minutes(5);
pub const MAX_TRIES: u32 = 5;
const RESEND_INTERVAL: Duration = Duration::seconds(30);
const PER_HOUR: u32 = 5;

fn digest(state: &AppState, challenge_id: &str, code: &str) -> Vec<u8> {
    // Bound to the challenge: a code is worth nothing with another challenge id.
    state.digester.digest(&format!("sms:{challenge_id}:{}", code.trim()))
}

/// One text per 30 seconds and five an hour per user, and a ceiling per address (one place
/// asking texts for many accounts is SMS pumping). Every request counts toward flood
/// detection, refused or not: a flood is the asking.
async fn check_send_limits(state: &AppState, user: &User, origin: IpAddr, now: OffsetDateTime) -> Result<(), MfaError> {
    crate::monitor::code_requested(&state.monitor, user, origin, true, now);
    if let Some(retry_after) = state.sms_address_limiter.blocked_for(&origin.to_string(), SMS_PER_ADDRESS, now) {
        return Err(MfaError::Throttled { retry_after });
    }
    if state.store.sms_challenges_since(&user.id, now - RESEND_INTERVAL).await? > 0 {
        return Err(MfaError::Throttled { retry_after: RESEND_INTERVAL.whole_seconds() });
    }
    if state.store.sms_challenges_since(&user.id, now - Duration::hours(1)).await? >= PER_HOUR {
        return Err(MfaError::Throttled { retry_after: 3600 });
    }
    Ok(())
}

/// Without a gateway (and without the development outbox) no code can be sent: say so before
/// creating a factor or counting a request.
fn require_gateway(state: &AppState) -> Result<(), MfaError> {
    if state.mfa.sms.is_configured() { Ok(()) } else { Err(MfaError::SmsNotConfigured) }
}

/// Sends a code; the caller checked the limits first.
async fn send(state: &AppState, user: &User, factor_id: &FactorId, phone: &PhoneNumber, origin: IpAddr, now: OffsetDateTime) -> Result<String, MfaError> {
    state.sms_address_limiter.record_failure(&origin.to_string(), SMS_PER_ADDRESS, now);
    let id = gatehouse_crypto::random::id()?;
    let code = gatehouse_crypto::otp::numeric_code(6)?;
    let challenge = SmsChallenge {
        id: id.clone(),
        user_id: user.id.clone(),
        factor_id: factor_id.clone(),
        digest: digest(state, &id, &code),
        created_at: now,
        expires_at: now + CODE_LIFETIME,
        attempts: 0,
        used_at: None,
    };
    state.store.create_sms_challenge(&challenge).await?;
    // The last line is the WebOTP format, so phones can offer the code for this site.
    let text = format!("Your Gatehouse code is {code}. It expires in 5 minutes.\n\n@{} #{code}", state.mfa.totp_issuer);
    match state.mfa.sms.send(&id, &user.id, phone, &text, now.unix_timestamp()).await {
        Ok(()) => Ok(id),
        Err(DeliveryError::NotConfigured(_)) => Err(MfaError::SmsNotConfigured),
        Err(e) => Err(MfaError::SmsUnavailable(e)),
    }
}

/// Creates an unconfirmed SMS factor and sends a code to the number to verify it. The limits
/// are checked first, so a throttled attempt leaves no factor behind.
pub async fn begin(state: &AppState, user: &User, phone: PhoneNumber, label: &str, origin: IpAddr, now: OffsetDateTime) -> Result<(Factor, String), MfaError> {
    require_gateway(state)?;
    check_send_limits(state, user, origin, now).await?;
    let factor = Factor {
        id: FactorId::new(gatehouse_crypto::random::id()?),
        user_id: user.id.clone(),
        kind: FactorKind::Sms,
        label: label.to_owned(),
        secret: FactorSecret::Sms { phone: phone.clone() },
        created_at: now,
        confirmed_at: None,
        last_used_at: None,
    };
    state.store.add_factor(&factor).await?;
    let challenge = send(state, user, &factor.id, &phone, origin, now).await?;
    Ok((factor, challenge))
}

/// Sends a sign-in code to a confirmed SMS factor.
pub async fn send_sign_in_code(state: &AppState, user: &User, factor: &Factor, origin: IpAddr, now: OffsetDateTime) -> Result<String, MfaError> {
    require_gateway(state)?;
    check_throttle(state, user, now).await?;
    match &factor.secret {
        FactorSecret::Sms { phone } if factor.is_confirmed() && factor.user_id == user.id => {
            check_send_limits(state, user, origin, now).await?;
            send(state, user, &factor.id, phone, origin, now).await
        }
        _ => Err(MfaError::UnknownFactor),
    }
}

/// Checks a code for a challenge this user was sent; returns the factor it was sent to.
pub async fn check_code(state: &AppState, user: &User, challenge_id: &str, code: &str, now: OffsetDateTime) -> Result<FactorId, MfaError> {
    check_throttle(state, user, now).await?;
    let challenge = state.store.sms_challenge(challenge_id).await?.filter(|c| c.user_id == user.id).ok_or(MfaError::Expired)?;
    let well_formed = code.trim().len() == 6 && code.trim().bytes().all(|b| b.is_ascii_digit());
    let outcome = if well_formed {
        state.store.check_sms_challenge(challenge_id, &digest(state, challenge_id, code), MAX_TRIES, now).await?
    } else {
        SmsCheck::Wrong { tries_left: MAX_TRIES.saturating_sub(challenge.attempts) }
    };
    match outcome {
        SmsCheck::Accepted => {
            state.store.touch_factor(&challenge.factor_id, now).await?;
            Ok(challenge.factor_id)
        }
        SmsCheck::Wrong { tries_left } => {
            record_failure(state, user, now);
            Err(MfaError::WrongCode { tries_left: Some(tries_left) })
        }
        SmsCheck::Unusable => {
            record_failure(state, user, now);
            Err(MfaError::Expired)
        }
    }
}

/// Activates an enrolling SMS factor once its code came back.
pub async fn confirm(state: &AppState, user: &User, factor_id: &FactorId, challenge_id: &str, code: &str, now: OffsetDateTime) -> Result<(), MfaError> {
    let sent_to = check_code(state, user, challenge_id, code, now).await?;
    if sent_to != *factor_id || !state.store.confirm_factor(&user.id, factor_id, now).await? {
        return Err(MfaError::UnknownFactor);
    }
    let label = state.store.factor(factor_id).await?.map(|f| f.label).unwrap_or_default();
    notify(state, user, NotificationKind::FactorAdded { factor: factor_id.to_string(), label }, now);
    Ok(())
}
