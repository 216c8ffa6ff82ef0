//! What the operator configures for delivery: where text messages go and how notices reach
//! users. Resolved by the binary (defaults, `gatehouse.toml`, `GATEHOUSE_*`, flags) and re-exported
//! by the server's config. Plain data: nothing here connects anywhere, and `Debug` never prints
//! a secret.

/// Where text messages go. `Debug` never prints the webhook key.
#[derive(Clone)]
pub enum SmsSettings {
    /// No gateway: appended as JSON lines to `OUTBOX_DIR/sms.jsonl` when the server's
    /// `dev_outbox` is on (development and tests); otherwise codes cannot be sent and SMS
    /// enrollment and sign-in codes are refused.
    NoGateway,
    /// Posted as signed JSON to a gateway.
    Webhook { url: url::Url, secret: Vec<u8> },
}

impl std::fmt::Debug for SmsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NoGateway => f.write_str("NoGateway"),
            Self::Webhook { url, .. } => write!(f, "Webhook {{ url: {url}, secret: .. }}"),
        }
    }
}

/// How notices reach users (see [`crate::Notifier`]). With none (the monitoring settings'
/// `notifier` is `None`), notices go to `OUTBOX_DIR/notifications.jsonl` when the server's
/// `dev_outbox` is on, and are not sent otherwise.
#[derive(Clone)]
pub enum NotifierSettings {
    /// Email through an SMTP relay (STARTTLS when the relay offers it, or required).
    Smtp { host: String, port: u16, from: String, username: Option<String>, password: Option<String>, require_tls: bool },
    /// HMAC-signed JSON posted to a URL.
    Webhook { url: url::Url, secret: Vec<u8> },
}

impl std::fmt::Debug for NotifierSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Smtp { host, port, from, .. } => write!(f, "Smtp {{ {host}:{port}, from: {from}, credentials: .. }}"),
            Self::Webhook { url, .. } => write!(f, "Webhook {{ url: {url}, secret: .. }}"),
        }
    }
}
