//! Recovery codes: ten single-use codes, shown once when generated, stored as keyed digests.
//! Using one tells the user how many are left.

use gatehouse_core::model::User;
use time::OffsetDateTime;
use zeroize::Zeroizing;

use super::{MfaError, check_throttle, notify, record_failure};
use crate::delivery::NotificationKind;
use crate::state::AppState;

/// Replaces the user's codes with a fresh set and returns them (the only time they are seen).
pub async fn regenerate(state: &AppState, user: &User, now: OffsetDateTime) -> Result<Vec<Zeroizing<String>>, MfaError> {
    let fresh = gatehouse_crypto::recovery::generate(&state.digester)?;
    state.store.replace_recovery_codes(&user.id, &fresh.digests, now).await?;
    Ok(fresh.codes)
}

/// Spends one code; returns how many are left.
pub async fn redeem(state: &AppState, user: &User, code: &str, now: OffsetDateTime) -> Result<u32, MfaError> {
    check_throttle(state, user, now).await?;
    let digest = gatehouse_crypto::recovery::digest(&state.digester, code);
    if !state.store.use_recovery_code(&user.id, &digest, now).await? {
        record_failure(state, user, now);
        return Err(MfaError::WrongCode { tries_left: None });
    }
    let left = state.store.recovery_codes_left(&user.id).await?;
    tracing::info!(user = %user.id, codes_left = left, "recovery code used");
    notify(state, user, NotificationKind::RecoveryCodeUsed { codes_left: left }, now);
    Ok(left)
}
