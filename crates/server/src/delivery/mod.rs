//! Messages that leave Gatehouse: text messages with one-time codes ([`SmsSender`]) and
//! notices to users about their account ([`Notifier`]). Each has an outbox sender that appends
//! JSON lines to a file (development and tests read it) and a webhook sender that posts signed
//! JSON to a gateway the operator runs.

mod notifier;
mod outbox;
mod sms;
mod webhook;

pub use notifier::{Notification, NotificationKind, Notifier, OutboxNotifier, SmtpNotifier, WebhookNotifier};
pub use outbox::Outbox;
pub use sms::{OutboxSms, SmsSender, WebhookSms};
pub use webhook::WebhookTarget;

#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("writing the outbox failed: {0}")]
    Outbox(#[from] std::io::Error),
    #[error("the webhook could not be reached: {0}")]
    Unreachable(String),
    #[error("the webhook answered {0}")]
    Rejected(u16),
}
