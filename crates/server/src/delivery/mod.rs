//! Messages that leave Gatehouse: text messages with one-time codes ([`SmsSender`]) and
//! notices to users about their account ([`Notifier`]). Each has a webhook sender that posts
//! signed JSON to a gateway the operator runs (and notices an SMTP notifier), a sender that
//! appends JSON lines to the development outbox ([`DevOutbox`], only when the operator opts in:
//! development and tests read it), and one for when nothing is configured, which sends nothing.

mod notifier;
mod outbox;
mod sms;
mod webhook;

pub use notifier::{DroppedNotices, Notification, NotificationKind, Notifier, OutboxNotifier, SmtpNotifier, WebhookNotifier};
pub use outbox::{DevOutbox, NOTIFICATIONS_FILE, Outbox, Recipient, SMS_FILE};
pub use sms::{NoSmsGateway, OutboxSms, SmsSender, WebhookSms};
pub use webhook::WebhookTarget;

#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("writing the outbox failed: {0}")]
    Outbox(#[from] std::io::Error),
    #[error("the webhook could not be reached: {0}")]
    Unreachable(String),
    #[error("the webhook answered {0}")]
    Rejected(u16),
    /// Nothing is configured to deliver this kind of message.
    #[error("{0}")]
    NotConfigured(&'static str),
}
