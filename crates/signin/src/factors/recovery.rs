//! Recovery codes: ten single-use codes, shown once when generated, stored as keyed digests.
//! Using one tells the user how many are left.

use gatehouse_core::model::User;
use time::OffsetDateTime;
use zeroize::Zeroizing;

use super::{Factors, MfaError, check_throttle, notify, record_failure};
use gatehouse_delivery::NotificationKind;

/// Replaces the user's codes with a fresh set and returns them (the only time they are seen).
pub async fn regenerate(cx: &Factors, user: &User, now: OffsetDateTime) -> Result<Vec<Zeroizing<String>>, MfaError> {
    let fresh = gatehouse_crypto::recovery::generate(&cx.digester)?;
    cx.store.replace_recovery_codes(&user.id, &fresh.digests, now).await?;
    Ok(fresh.codes)
}

/// Spends one code; returns how many are left.
pub async fn redeem(cx: &Factors, user: &User, code: &str, now: OffsetDateTime) -> Result<u32, MfaError> {
    check_throttle(cx, user, now).await?;
    let digest = gatehouse_crypto::recovery::digest(&cx.digester, code);
    if !cx.store.use_recovery_code(&user.id, &digest, now).await? {
        record_failure(cx, user, now);
        return Err(MfaError::WrongCode { tries_left: None });
    }
    let left = cx.store.recovery_codes_left(&user.id).await?;
    tracing::info!(user = %user.id, codes_left = left, "recovery code used");
    notify(cx, user, NotificationKind::RecoveryCodeUsed { codes_left: left }, now);
    Ok(left)
}
