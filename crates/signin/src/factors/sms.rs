//! Text-message codes: 6 digits, valid 5 minutes, single use, at most 5 tries each, only to a
//! verified number (or, once, to the number being verified). Sending is throttled per user:
//! one message per 30 seconds, 5 per hour. SMS is a restricted authenticator (NIST SP
//! 800-63B §5.1.3.3): policies may refuse it, and it never meets phishing-resistant levels.

use gatehouse_core::ids::FactorId;
use gatehouse_core::model::User;
use gatehouse_core::{Factor, FactorKind, FactorSecret, PhoneNumber};
use gatehouse_ops::rate_limit::SMS_PER_ADDRESS;
use gatehouse_store::{SmsChallenge, SmsCheck};
use std::net::IpAddr;
use time::{Duration, OffsetDateTime};

use super::{Factors, MfaError, check_throttle, notify, record_failure};
use gatehouse_delivery::{DeliveryError, NotificationKind};

pub const CODE_LIFETIME: Duration = Duration::minutes(5);
pub const MAX_TRIES: u32 = 5;
const RESEND_INTERVAL: Duration = Duration::seconds(30);
const PER_HOUR: u32 = 5;

fn digest(cx: &Factors, challenge_id: &str, code: &str) -> Vec<u8> {
    // Bound to the challenge: a code is worth nothing with another challenge id.
    cx.digester.digest(&format!("sms:{challenge_id}:{}", code.trim()))
}

/// One text per 30 seconds and five an hour per user, and a ceiling per address (one place
/// asking texts for many accounts is SMS pumping). Every request counts toward flood
/// detection, refused or not: a flood is the asking.
async fn check_send_limits(cx: &Factors, user: &User, origin: IpAddr, now: OffsetDateTime) -> Result<(), MfaError> {
    gatehouse_ops::monitor::code_requested(&cx.monitor, user, origin, true, now);
    if let Some(retry_after) = cx.sms_address_limiter.blocked_for(&origin.to_string(), SMS_PER_ADDRESS, now) {
        return Err(MfaError::Throttled { retry_after });
    }
    if cx.store.sms_challenges_since(&user.id, now - RESEND_INTERVAL).await? > 0 {
        return Err(MfaError::Throttled { retry_after: RESEND_INTERVAL.whole_seconds() });
    }
    if cx.store.sms_challenges_since(&user.id, now - Duration::hours(1)).await? >= PER_HOUR {
        return Err(MfaError::Throttled { retry_after: 3600 });
    }
    Ok(())
}

/// Without a gateway (and without the development outbox) no code can be sent: say so before
/// creating a factor or counting a request.
fn require_gateway(cx: &Factors) -> Result<(), MfaError> {
    if cx.services.sms.is_configured() { Ok(()) } else { Err(MfaError::SmsNotConfigured) }
}

/// Sends a code; the caller checked the limits first.
async fn send(cx: &Factors, user: &User, factor_id: &FactorId, phone: &PhoneNumber, origin: IpAddr, now: OffsetDateTime) -> Result<String, MfaError> {
    cx.sms_address_limiter.record_failure(&origin.to_string(), SMS_PER_ADDRESS, now);
    let id = gatehouse_crypto::random::id()?;
    let code = gatehouse_crypto::otp::numeric_code(6)?;
    let challenge = SmsChallenge {
        id: id.clone(),
        user_id: user.id.clone(),
        factor_id: factor_id.clone(),
        digest: digest(cx, &id, &code),
        created_at: now,
        expires_at: now + CODE_LIFETIME,
        attempts: 0,
        used_at: None,
    };
    cx.store.create_sms_challenge(&challenge).await?;
    // The last line is the WebOTP format, so phones can offer the code for this site.
    let text = format!("Your Gatehouse code is {code}. It expires in 5 minutes.\n\n@{} #{code}", cx.services.totp_issuer);
    match cx.services.sms.send(&id, &user.id, phone, &text, now.unix_timestamp()).await {
        Ok(()) => Ok(id),
        Err(DeliveryError::NotConfigured(_)) => Err(MfaError::SmsNotConfigured),
        Err(e) => Err(MfaError::SmsUnavailable(e)),
    }
}

/// Creates an unconfirmed SMS factor and sends a code to the number to verify it. The limits
/// are checked first, so a throttled attempt leaves no factor behind.
pub async fn begin(cx: &Factors, user: &User, phone: PhoneNumber, label: &str, origin: IpAddr, now: OffsetDateTime) -> Result<(Factor, String), MfaError> {
    require_gateway(cx)?;
    check_send_limits(cx, user, origin, now).await?;
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
    cx.store.add_factor(&factor).await?;
    let challenge = send(cx, user, &factor.id, &phone, origin, now).await?;
    Ok((factor, challenge))
}

/// Sends a sign-in code to a confirmed SMS factor.
pub async fn send_sign_in_code(cx: &Factors, user: &User, factor: &Factor, origin: IpAddr, now: OffsetDateTime) -> Result<String, MfaError> {
    require_gateway(cx)?;
    check_throttle(cx, user, now).await?;
    match &factor.secret {
        FactorSecret::Sms { phone } if factor.is_confirmed() && factor.user_id == user.id => {
            check_send_limits(cx, user, origin, now).await?;
            send(cx, user, &factor.id, phone, origin, now).await
        }
        _ => Err(MfaError::UnknownFactor),
    }
}

/// Checks a code for a challenge this user was sent; returns the factor it was sent to.
pub async fn check_code(cx: &Factors, user: &User, challenge_id: &str, code: &str, now: OffsetDateTime) -> Result<FactorId, MfaError> {
    check_throttle(cx, user, now).await?;
    let challenge = cx.store.sms_challenge(challenge_id).await?.filter(|c| c.user_id == user.id).ok_or(MfaError::Expired)?;
    let well_formed = code.trim().len() == 6 && code.trim().bytes().all(|b| b.is_ascii_digit());
    let outcome = if well_formed {
        cx.store.check_sms_challenge(challenge_id, &digest(cx, challenge_id, code), MAX_TRIES, now).await?
    } else {
        SmsCheck::Wrong { tries_left: MAX_TRIES.saturating_sub(challenge.attempts) }
    };
    match outcome {
        SmsCheck::Accepted => {
            cx.store.touch_factor(&challenge.factor_id, now).await?;
            Ok(challenge.factor_id)
        }
        SmsCheck::Wrong { tries_left } => {
            record_failure(cx, user, now);
            Err(MfaError::WrongCode { tries_left: Some(tries_left) })
        }
        SmsCheck::Unusable => {
            record_failure(cx, user, now);
            Err(MfaError::Expired)
        }
    }
}

/// Activates an enrolling SMS factor once its code came back.
pub async fn confirm(cx: &Factors, user: &User, factor_id: &FactorId, challenge_id: &str, code: &str, now: OffsetDateTime) -> Result<(), MfaError> {
    let sent_to = check_code(cx, user, challenge_id, code, now).await?;
    if sent_to != *factor_id || !cx.store.confirm_factor(&user.id, factor_id, now).await? {
        return Err(MfaError::UnknownFactor);
    }
    let label = cx.store.factor(factor_id).await?.map(|f| f.label).unwrap_or_default();
    notify(cx, user, NotificationKind::FactorAdded { factor: factor_id.to_string(), label }, now);
    Ok(())
}
