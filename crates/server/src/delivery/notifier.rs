//! Notices to users about their own account: a factor added or removed, a recovery code used,
//! a one-time code replayed, a sign-in from a new device. Delivery never blocks the request
//! that caused it; failures are logged.

use async_trait::async_trait;
use gatehouse_core::ids::UserId;
use serde::Serialize;

use super::{DeliveryError, Outbox};

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NotificationKind {
    FactorAdded { factor: String, label: String },
    FactorRemoved { factor: String, label: String },
    FactorRenamed { factor: String, label: String },
    RecoveryCodeUsed { codes_left: u32 },
    RecoveryCodesRegenerated,
    /// A code from the authenticator app was presented a second time: someone else may have
    /// seen it.
    TotpCodeReused,
    SecondFactorLocked { minutes: i64 },
    /// A security key or passkey presented a signature counter the server had already seen:
    /// a copy of the key may exist.
    ClonedAuthenticatorSuspected { factor: String },
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
}

pub struct OutboxNotifier(pub Outbox);

#[async_trait]
impl Notifier for OutboxNotifier {
    async fn notify(&self, notification: &Notification) -> Result<(), DeliveryError> {
        self.0.append(notification)
    }
}
