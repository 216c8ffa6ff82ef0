//! Notices to users about their own account: a factor added or removed, a recovery code used,
//! a one-time code replayed, the account locked, a sign-in from a new device or network.
//! Delivery never blocks the request that caused it; failures are logged. Three notifiers:
//! email over SMTP (`lettre`), a signed webhook, and the development outbox file (only when the
//! operator opts in). With none configured, [`DroppedNotices`] sends nothing.

use async_trait::async_trait;
use gatehouse_core::ids::UserId;
use gatehouse_core::model::User;
use serde::Serialize;
use std::sync::Arc;
use time::OffsetDateTime;

use super::{DeliveryError, Outbox, WebhookTarget};

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NotificationKind {
    FactorAdded {
        factor: String,
        label: String,
    },
    FactorRemoved {
        factor: String,
        label: String,
    },
    FactorRenamed {
        factor: String,
        label: String,
    },
    RecoveryCodeUsed {
        codes_left: u32,
    },
    RecoveryCodesRegenerated,
    /// A code from the authenticator app was presented a second time: someone else may have
    /// seen it.
    TotpCodeReused,
    SecondFactorLocked {
        minutes: i64,
    },
    /// A security key or passkey presented a signature counter the server had already seen:
    /// a copy of the key may exist.
    ClonedAuthenticatorSuspected {
        factor: String,
    },
    /// Too many failed sign-in attempts: the account is locked for a while.
    AccountLocked {
        minutes: i64,
    },
    /// A successful sign-in from a browser or network not seen before for this account.
    NewSignIn {
        address: String,
        user_agent: String,
        new_device: bool,
        new_network: bool,
        sign_in: String,
    },
    /// The user reported a sign-in: sessions ended, a new password and fresh 2FA are required.
    SignInReported {
        sign_in: String,
    },
    PasswordChanged,
    /// The one-time code that proves the mailbox before a new password is set after a
    /// reported sign-in. The only notice that carries a secret: delivering it is its purpose.
    PasswordResetCode {
        code: String,
        minutes: i64,
    },
}

impl NotificationKind {
    /// The `kind` field's value, e.g. `factor_added` (never personal data).
    pub fn name(&self) -> &'static str {
        match self {
            Self::FactorAdded { .. } => "factor_added",
            Self::FactorRemoved { .. } => "factor_removed",
            Self::FactorRenamed { .. } => "factor_renamed",
            Self::RecoveryCodeUsed { .. } => "recovery_code_used",
            Self::RecoveryCodesRegenerated => "recovery_codes_regenerated",
            Self::TotpCodeReused => "totp_code_reused",
            Self::SecondFactorLocked { .. } => "second_factor_locked",
            Self::ClonedAuthenticatorSuspected { .. } => "cloned_authenticator_suspected",
            Self::AccountLocked { .. } => "account_locked",
            Self::NewSignIn { .. } => "new_sign_in",
            Self::SignInReported { .. } => "sign_in_reported",
            Self::PasswordChanged => "password_changed",
            Self::PasswordResetCode { .. } => "password_reset_code",
        }
    }

    /// A subject line and a plain-text body (for email); never a secret but the reset code.
    pub fn message(&self) -> (String, String) {
        let (subject, body) = match self {
            Self::FactorAdded { label, .. } => ("A sign-in method was added".into(), format!("\"{label}\" was added to your account.")),
            Self::FactorRemoved { label, .. } => ("A sign-in method was removed".into(), format!("\"{label}\" was removed from your account.")),
            Self::FactorRenamed { label, .. } => ("A sign-in method was renamed".into(), format!("A sign-in method is now called \"{label}\".")),
            Self::RecoveryCodeUsed { codes_left } => {
                ("A recovery code was used".into(), format!("A recovery code was used to sign in. {codes_left} codes are left."))
            }
            Self::RecoveryCodesRegenerated => ("New recovery codes".into(), "New recovery codes were created; the old ones no longer work.".into()),
            Self::TotpCodeReused => {
                ("A code was used twice".into(), "A code from your authenticator app was presented twice. Someone may have seen it.".into())
            }
            Self::SecondFactorLocked { minutes } => ("Two-step verification paused".into(), format!("Too many wrong codes. Try again in {minutes} minutes.")),
            Self::ClonedAuthenticatorSuspected { .. } => {
                ("A security key may have been copied".into(), "A security key or passkey behaved like a copy. The sign-in was refused.".into())
            }
            Self::AccountLocked { minutes } => (
                "Your account is locked for a while".into(),
                format!("After many failed sign-in attempts, your account is locked for {minutes} minutes. If this was not you, change your password."),
            ),
            Self::NewSignIn { address, user_agent, .. } => (
                "New sign-in to your account".into(),
                format!("Someone signed in from {address} ({user_agent}). If this was not you, report it from your sign-in history."),
            ),
            Self::SignInReported { .. } => {
                ("You reported a sign-in".into(), "Your sessions were ended. Sign in again with two-step verification and choose a new password.".into())
            }
            Self::PasswordChanged => ("Your password was changed".into(), "Your password was changed. If this was not you, contact your administrator.".into()),
            Self::PasswordResetCode { code, minutes } => (
                "Your code to choose a new password".into(),
                format!(
                    "Enter {code} to choose a new password. It works for {minutes} minutes. If you did not ask for it, someone knows your password: contact your administrator."
                ),
            ),
        };
        (subject, body)
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Notification {
    pub user_id: UserId,
    /// Where to reach the user (the account's email address).
    pub to: String,
    #[serde(flatten)]
    pub kind: NotificationKind,
    pub at: i64,
}

#[async_trait]
pub trait Notifier: Send + Sync {
    async fn notify(&self, notification: &Notification) -> Result<(), DeliveryError>;
    fn describe(&self) -> String;
}

/// Sends a notice to the user without waiting for it; failures are logged, never shown. Needs a
/// Tokio runtime (the caller's).
pub fn notify_in_background(notifier: &Arc<dyn Notifier>, user: &User, kind: NotificationKind, now: OffsetDateTime) {
    let notification = Notification { user_id: user.id.clone(), to: user.email.as_str().to_owned(), kind, at: now.unix_timestamp() };
    let notifier = Arc::clone(notifier);
    tokio::spawn(async move {
        if let Err(e) = notifier.notify(&notification).await {
            tracing::warn!(error = %e, user = %notification.user_id, "notifying the user failed");
        }
    });
}

/// Development only: appends each notice to `DATA_DIR/outbox/notifications.jsonl`.
pub struct OutboxNotifier(pub Arc<Outbox>);

#[async_trait]
impl Notifier for OutboxNotifier {
    async fn notify(&self, notification: &Notification) -> Result<(), DeliveryError> {
        self.0.append(notification)
    }

    fn describe(&self) -> String {
        format!("development outbox {}", self.0.path().display())
    }
}

/// No relay, no webhook and no development outbox: notices are not sent (logged at debug by
/// kind only, never whom they were for).
pub struct DroppedNotices;

#[async_trait]
impl Notifier for DroppedNotices {
    async fn notify(&self, notification: &Notification) -> Result<(), DeliveryError> {
        tracing::debug!(kind = notification.kind.name(), "no notifier is configured: a notice to a user was not sent");
        Ok(())
    }

    fn describe(&self) -> String {
        "none: notices are not sent".into()
    }
}

/// Posts each notice as signed JSON (see [`WebhookTarget`]).
pub struct WebhookNotifier(pub WebhookTarget, pub String);

#[async_trait]
impl Notifier for WebhookNotifier {
    async fn notify(&self, notification: &Notification) -> Result<(), DeliveryError> {
        let body = serde_json::to_vec(&serde_json::json!({ "type": "gatehouse.notification", "notification": notification })).map_err(std::io::Error::other)?;
        self.0.post(body, notification.at).await
    }

    fn describe(&self) -> String {
        format!("webhook {}", self.1)
    }
}

/// Sends each notice as a plain-text email through an SMTP relay.
pub struct SmtpNotifier {
    transport: lettre::AsyncSmtpTransport<lettre::Tokio1Executor>,
    from: lettre::message::Mailbox,
    relay: String,
}

impl SmtpNotifier {
    /// `require_tls`: STARTTLS or refuse; otherwise STARTTLS when offered (a local relay).
    pub fn new(host: &str, port: u16, from: &str, credentials: Option<(String, String)>, require_tls: bool) -> Result<Self, DeliveryError> {
        use lettre::transport::smtp::client::{Tls, TlsParameters};
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let from = from.parse().map_err(|e| DeliveryError::Unreachable(format!("smtp from address: {e}")))?;
        let tls = TlsParameters::new(host.to_owned()).map_err(|e| DeliveryError::Unreachable(format!("smtp TLS: {e}")))?;
        let mut builder = lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::builder_dangerous(host)
            .port(port)
            .tls(if require_tls { Tls::Required(tls) } else { Tls::Opportunistic(tls) })
            .timeout(Some(std::time::Duration::from_secs(10)));
        if let Some((user, password)) = credentials {
            builder = builder.credentials(lettre::transport::smtp::authentication::Credentials::new(user, password));
        }
        Ok(Self { transport: builder.build(), from, relay: format!("{host}:{port}") })
    }
}

#[async_trait]
impl Notifier for SmtpNotifier {
    async fn notify(&self, notification: &Notification) -> Result<(), DeliveryError> {
        use lettre::AsyncTransport;
        let (subject, body) = notification.kind.message();
        let to = notification.to.parse().map_err(|e| DeliveryError::Unreachable(format!("recipient: {e}")))?;
        let email = lettre::Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .header(lettre::message::header::ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(|e| DeliveryError::Unreachable(format!("building the email: {e}")))?;
        self.transport.send(email).await.map_err(|e| DeliveryError::Unreachable(format!("smtp {}: {e}", self.relay)))?;
        Ok(())
    }

    fn describe(&self) -> String {
        format!("smtp {}", self.relay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_names_are_the_serialised_tags() {
        let kinds = [
            NotificationKind::FactorAdded { factor: "f".into(), label: "l".into() },
            NotificationKind::FactorRemoved { factor: "f".into(), label: "l".into() },
            NotificationKind::FactorRenamed { factor: "f".into(), label: "l".into() },
            NotificationKind::RecoveryCodeUsed { codes_left: 1 },
            NotificationKind::RecoveryCodesRegenerated,
            NotificationKind::TotpCodeReused,
            NotificationKind::SecondFactorLocked { minutes: 1 },
            NotificationKind::ClonedAuthenticatorSuspected { factor: "f".into() },
            NotificationKind::AccountLocked { minutes: 1 },
            NotificationKind::NewSignIn { address: "a".into(), user_agent: "u".into(), new_device: true, new_network: true, sign_in: "s".into() },
            NotificationKind::SignInReported { sign_in: "s".into() },
            NotificationKind::PasswordChanged,
            NotificationKind::PasswordResetCode { code: "12345678".into(), minutes: 10 },
        ];
        for kind in kinds {
            assert_eq!(serde_json::to_value(&kind).unwrap()["kind"], kind.name());
        }
    }
}
