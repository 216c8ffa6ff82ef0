//! Messages that leave Gatehouse: text messages with one-time codes ([`SmsSender`]) and
//! notices to users about their account ([`Notifier`]). Each has a webhook sender that posts
//! signed JSON to a gateway the operator runs (and notices an SMTP notifier), a sender that
//! appends JSON lines to the development outbox ([`DevOutbox`], only when the operator opts in:
//! development and tests read it), and one for when nothing is configured, which sends nothing.
//! [`settings`] holds what the operator configures and [`senders`] builds the senders from it.
//!
//! This crate must not know HTTP serving, pages or the store: it only sends, and callers decide
//! when (the sign-in code and the operations jobs alike).

mod notifier;
mod outbox;
pub mod senders;
pub mod settings;
mod sms;
mod webhook;

pub use notifier::{DroppedNotices, Notification, NotificationKind, Notifier, OutboxNotifier, SmtpNotifier, WebhookNotifier, notify_in_background};
pub use outbox::{DevOutbox, NOTIFICATIONS_FILE, Outbox, Recipient, SMS_FILE};
pub use settings::{NotifierSettings, SmsSettings};
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
