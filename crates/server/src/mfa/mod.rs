//! Second factors: enrolling and verifying TOTP, SMS codes, WebAuthn credentials and recovery
//! codes, with throttling of wrong codes and notices to the user. Used by the sign-in flow, the
//! enrolment wizard and the self-service API alike, so every path enforces the same rules.

pub mod ceremonies;
pub mod credentials;
pub mod qr;
pub mod recovery;
pub mod sms;
pub mod totp;
pub mod webauthn;

use gatehouse_core::model::User;
use gatehouse_crypto::CryptoError;
use gatehouse_store::StoreError;
use std::sync::Arc;
use time::OffsetDateTime;

use crate::delivery::{DeliveryError, DevOutbox, NotificationKind, Notifier, SmsSender};
use crate::rate_limit::SECOND_FACTOR;
use crate::state::AppState;

pub use webauthn::WebAuthnService;

#[derive(Debug, thiserror::Error)]
pub enum MfaError {
    #[error("the code is not correct")]
    WrongCode { tries_left: Option<u32> },
    #[error("this code was already used")]
    Reused,
    #[error("the code has expired or was already used; ask for a new one")]
    Expired,
    #[error("too many attempts; try again in {retry_after} seconds")]
    Throttled { retry_after: i64 },
    #[error("no such second factor")]
    UnknownFactor,
    #[error("no second factor of this kind is set up")]
    NotEnrolled,
    #[error("your organisation does not allow this method")]
    NotAllowed,
    #[error("this is not a WebAuthn method")]
    NotWebAuthn,
    #[error("security keys and passkeys need Gatehouse to run on a domain name")]
    WebAuthnUnavailable,
    #[error("this authenticator is not registered")]
    UnknownCredential,
    #[error("this authenticator is already registered")]
    AlreadyRegistered,
    #[error("the authenticator's signature counter went backwards: it may have been cloned")]
    ClonedAuthenticator,
    #[error("the security key or passkey check failed: {0}")]
    WebAuthn(String),
    #[error("the text message could not be sent; try again later")]
    SmsUnavailable(#[source] DeliveryError),
    /// No SMS gateway is configured: no text message can be sent, now or later.
    #[error("text messages are not available: no SMS gateway is configured on this server; choose another method or ask your administrator")]
    SmsNotConfigured,
    #[error("QR code: {0}")]
    Qr(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

impl MfaError {
    /// Failures a person (or an attacker) caused by presenting something wrong: these count
    /// toward throttling.
    pub fn counts_as_failure(&self) -> bool {
        matches!(self, Self::WrongCode { .. } | Self::Reused | Self::Expired | Self::UnknownCredential | Self::ClonedAuthenticator | Self::WebAuthn(_))
    }
}

/// The services second factors need from outside: WebAuthn (when the issuer allows it), the
/// SMS sender and the notifier.
pub struct MfaServices {
    pub webauthn: Option<WebAuthnService>,
    pub sms: Arc<dyn SmsSender>,
    pub notifier: Arc<dyn Notifier>,
    /// The development outbox directory, shared with its senders (when on) so erasure rewrites
    /// its files under the same locks; erasure rewrites it whether or not it is on.
    pub outbox: Arc<DevOutbox>,
    /// The label authenticator apps show (the issuer's host).
    pub totp_issuer: String,
    /// WebAuthn registrations started through the self-service API.
    pub ceremonies: ceremonies::Ceremonies,
}

/// Refuses a user who has failed second factors too often recently, or whose account is
/// locked (the user already proved the password, so saying so reveals nothing).
pub async fn check_throttle(state: &AppState, user: &User, now: OffsetDateTime) -> Result<(), MfaError> {
    if let Some(retry_after) = state.factor_limiter.blocked_for(user.id.as_str(), SECOND_FACTOR, now) {
        return Err(MfaError::Throttled { retry_after });
    }
    match crate::monitor::lockout::admission(state.store.as_ref(), user, now).await {
        Ok(gatehouse_core::throttle::Admission::Locked { seconds }) => Err(MfaError::Throttled { retry_after: seconds }),
        Ok(_) => Ok(()),
        Err(e) => {
            tracing::error!(error = %e, "reading the account's lockout state failed");
            Err(MfaError::Throttled { retry_after: 60 })
        }
    }
}

/// Counts a failed second factor, here and toward the account's lockout (where password
/// failures count too); the user hears about it when either locks.
pub fn record_failure(state: &AppState, user: &User, now: OffsetDateTime) {
    state.factor_limiter.record_failure(user.id.as_str(), SECOND_FACTOR, now);
    if state.factor_limiter.blocked_for(user.id.as_str(), SECOND_FACTOR, now).is_some() {
        notify(state, user, NotificationKind::SecondFactorLocked { minutes: SECOND_FACTOR.window.whole_minutes() }, now);
    }
    let (state, user) = (state.clone(), user.clone());
    tokio::spawn(async move {
        if let Err(e) = crate::monitor::lockout::record_failure(&state.monitor, &user, crate::monitor::lockout::FailedStep::SecondFactor, None, now).await {
            tracing::error!(error = %e, "counting a failed second factor toward the lockout failed");
        }
    });
}

/// Sends a notice to the user without waiting for it; failures are logged, never shown.
pub fn notify(state: &AppState, user: &User, kind: NotificationKind, now: OffsetDateTime) {
    crate::delivery::notify_in_background(&state.mfa.notifier, user, kind, now);
}
