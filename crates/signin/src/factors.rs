//! Second factors: enrolling and verifying TOTP, SMS codes, WebAuthn credentials and recovery
//! codes, with throttling of wrong codes and notices to the user. Used by the sign-in flow, the
//! enrolment wizard and the self-service API alike, so every path enforces the same rules.
//!
//! Every step takes a [`Factors`] context naming what second factors use (the store, the
//! digester, the two limiters, the services, the monitor), not the server's state, so the
//! server keeps only the HTTP edge: it builds one `Factors` at start and passes it in.
//!
//! Time comes in as `now`, as everywhere in this crate. Randomness does not yet: factor ids,
//! TOTP secrets and text-message codes still come from `gatehouse_crypto` directly, as they
//! did in the server; taking them through [`crate::Randomness`] is a separate change.

pub mod ceremonies;
pub mod credentials;
pub mod qr;
pub mod recovery;
pub mod sms;
pub mod totp;
pub mod webauthn;

use gatehouse_core::model::User;
use gatehouse_crypto::{CryptoError, SecretDigester};
use gatehouse_delivery::{DeliveryError, DevOutbox, NotificationKind, Notifier, SmsSender};
use gatehouse_ops::monitor::{Monitor, lockout};
use gatehouse_ops::rate_limit::{RateLimiter, SECOND_FACTOR};
use gatehouse_store::{Store, StoreError};
use std::sync::Arc;
use time::OffsetDateTime;

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

impl From<crate::SignInError> for MfaError {
    /// A step that lost its parked sign-in (answered, expired, or advanced by another request)
    /// reads as an expired challenge: the user asks for a new one.
    fn from(error: crate::SignInError) -> Self {
        match error {
            crate::SignInError::Store(e) => Self::Store(e),
            crate::SignInError::Crypto(e) => Self::Crypto(e),
            crate::SignInError::Expired => Self::Expired,
        }
    }
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

/// What second factors use, and nothing else the server holds: the context every step here
/// takes. One per server, built at start; its limiters are the server's only ones of their kind.
pub struct Factors {
    /// Factors, SMS challenges, recovery codes, WebAuthn handles, and the account's lockout
    /// state (read by [`check_throttle`]).
    pub store: Arc<dyn Store>,
    /// Keyed digests of SMS and recovery codes (the server's pepper).
    pub digester: Arc<SecretDigester>,
    /// Failed second factors per user (see [`SECOND_FACTOR`]).
    pub limiter: RateLimiter,
    /// Texts asked for per client address (see [`gatehouse_ops::rate_limit::SMS_PER_ADDRESS`]).
    pub sms_address_limiter: RateLimiter,
    pub services: MfaServices,
    /// Flood detection for codes asked for, and the account lockout failures count toward.
    pub monitor: Arc<Monitor>,
}

impl Factors {
    /// Whether security keys and passkeys are available (the issuer is on a domain name).
    pub fn webauthn_available(&self) -> bool {
        self.services.webauthn.is_some()
    }
}

/// Refuses a user who has failed second factors too often recently, or whose account is
/// locked (the user already proved the password, so saying so reveals nothing).
pub async fn check_throttle(cx: &Factors, user: &User, now: OffsetDateTime) -> Result<(), MfaError> {
    if let Some(retry_after) = cx.limiter.blocked_for(user.id.as_str(), SECOND_FACTOR, now) {
        return Err(MfaError::Throttled { retry_after });
    }
    match lockout::admission(cx.store.as_ref(), user, now).await {
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
pub fn record_failure(cx: &Factors, user: &User, now: OffsetDateTime) {
    cx.limiter.record_failure(user.id.as_str(), SECOND_FACTOR, now);
    if cx.limiter.blocked_for(user.id.as_str(), SECOND_FACTOR, now).is_some() {
        notify(cx, user, NotificationKind::SecondFactorLocked { minutes: SECOND_FACTOR.window.whole_minutes() }, now);
    }
    let (monitor, user) = (Arc::clone(&cx.monitor), user.clone());
    tokio::spawn(async move {
        if let Err(e) = lockout::record_failure(&monitor, &user, lockout::FailedStep::SecondFactor, None, now).await {
            tracing::error!(error = %e, "counting a failed second factor toward the lockout failed");
        }
    });
}

/// Sends a notice to the user without waiting for it; failures are logged, never shown.
pub fn notify(cx: &Factors, user: &User, kind: NotificationKind, now: OffsetDateTime) {
    gatehouse_delivery::notify_in_background(&cx.services.notifier, user, kind, now);
}
