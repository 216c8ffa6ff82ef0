//! Authenticator apps (TOTP): enrolment shows a QR code and the text secret and activates only
//! after a valid code; a code is accepted once per time step, and a replay tells the user.

use gatehouse_core::ids::FactorId;
use gatehouse_core::model::User;
use gatehouse_core::{Factor, FactorKind, FactorSecret};
use gatehouse_crypto::otp::TotpSecret;
use time::OffsetDateTime;
use zeroize::Zeroizing;

use super::{Factors, MfaError, check_throttle, notify, qr, record_failure};
use gatehouse_delivery::NotificationKind;

/// What an enrolment page shows: the secret as text and as a QR code of the otpauth URI.
pub struct TotpEnrollment {
    pub factor_id: FactorId,
    pub secret_text: Zeroizing<String>,
    pub uri: Zeroizing<String>,
    pub qr_svg: String,
}

fn unix(now: OffsetDateTime) -> u64 {
    u64::try_from(now.unix_timestamp()).unwrap_or(0)
}

/// Creates an unconfirmed TOTP factor with a fresh secret.
pub async fn begin(cx: &Factors, user: &User, label: &str, now: OffsetDateTime) -> Result<TotpEnrollment, MfaError> {
    let secret = TotpSecret::generate()?;
    let factor = Factor {
        id: FactorId::new(gatehouse_crypto::random::id()?),
        user_id: user.id.clone(),
        kind: FactorKind::Totp,
        label: label.to_owned(),
        secret: FactorSecret::Totp { secret: secret.as_bytes().to_vec(), used_up_to: None },
        created_at: now,
        confirmed_at: None,
        last_used_at: None,
    };
    cx.store.add_factor(&factor).await?;
    view(cx, user, &factor)
}

/// The enrolment view of an unconfirmed factor (to show the page again).
pub fn view(cx: &Factors, user: &User, factor: &Factor) -> Result<TotpEnrollment, MfaError> {
    let FactorSecret::Totp { secret, .. } = &factor.secret else {
        return Err(MfaError::UnknownFactor);
    };
    let secret = TotpSecret::from_bytes(secret.clone());
    let uri = secret.otpauth_uri(&cx.services.totp_issuer, user.email.as_str());
    Ok(TotpEnrollment { factor_id: factor.id.clone(), secret_text: secret.to_base32(), qr_svg: qr::svg(&uri)?, uri })
}

/// Checks a code against one TOTP factor and spends its time step.
async fn check(cx: &Factors, factor: &Factor, code: &str, now: OffsetDateTime) -> Result<(), MfaError> {
    let FactorSecret::Totp { secret, used_up_to } = &factor.secret else {
        return Err(MfaError::UnknownFactor);
    };
    let secret = TotpSecret::from_bytes(secret.clone());
    match secret.verify(code, unix(now), *used_up_to) {
        Some(step) if cx.store.use_totp_step(&factor.id, step, now).await? => Ok(()),
        // Valid, but a concurrent request spent the step first.
        Some(_) => Err(MfaError::Reused),
        None if secret.verify(code, unix(now), None).is_some() => Err(MfaError::Reused),
        None => Err(MfaError::WrongCode { tries_left: None }),
    }
}

fn fail(cx: &Factors, user: &User, error: MfaError, now: OffsetDateTime) -> MfaError {
    if error.counts_as_failure() {
        record_failure(cx, user, now);
    }
    if matches!(error, MfaError::Reused) {
        notify(cx, user, NotificationKind::TotpCodeReused, now);
    }
    error
}

/// Activates an enrolling factor with its first valid code.
pub async fn confirm(cx: &Factors, user: &User, factor_id: &FactorId, code: &str, now: OffsetDateTime) -> Result<Factor, MfaError> {
    check_throttle(cx, user, now).await?;
    let factor =
        cx.store.factor(factor_id).await?.filter(|f| f.user_id == user.id && f.kind == FactorKind::Totp && !f.is_confirmed()).ok_or(MfaError::UnknownFactor)?;
    if let Err(e) = check(cx, &factor, code, now).await {
        return Err(fail(cx, user, e, now));
    }
    if !cx.store.confirm_factor(&user.id, &factor.id, now).await? {
        return Err(MfaError::UnknownFactor);
    }
    notify(cx, user, NotificationKind::FactorAdded { factor: factor.id.to_string(), label: factor.label.clone() }, now);
    Ok(Factor { confirmed_at: Some(now), ..factor })
}

/// Verifies a sign-in code against the user's confirmed TOTP factors.
pub async fn verify(cx: &Factors, user: &User, factors: &[Factor], code: &str, now: OffsetDateTime) -> Result<FactorId, MfaError> {
    check_throttle(cx, user, now).await?;
    let mut outcome = Err(MfaError::NotEnrolled);
    for factor in factors.iter().filter(|f| f.kind == FactorKind::Totp && f.is_confirmed()) {
        outcome = check(cx, factor, code, now).await.map(|()| factor.id.clone());
        if !matches!(outcome, Err(MfaError::WrongCode { .. })) {
            break;
        }
    }
    outcome.map_err(|e| fail(cx, user, e, now))
}
