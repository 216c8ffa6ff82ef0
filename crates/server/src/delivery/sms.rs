//! Sending text messages. Gatehouse never talks to a carrier itself: the `webhook` sender posts
//! signed JSON (`{"id", "to", "text"}`) to a gateway the operator runs, and the `outbox` sender
//! appends the same JSON as a line to a file for development and tests.

use async_trait::async_trait;
use gatehouse_core::PhoneNumber;
use serde::Serialize;

use super::{DeliveryError, Outbox, WebhookTarget};

#[derive(Serialize)]
struct SmsMessage<'a> {
    id: &'a str,
    to: &'a str,
    text: &'a str,
    at: i64,
}

#[async_trait]
pub trait SmsSender: Send + Sync {
    /// Sends one message; `id` is unique per message so a gateway can deduplicate retries.
    async fn send(&self, id: &str, to: &PhoneNumber, text: &str, at: i64) -> Result<(), DeliveryError>;
    /// What it sends to, for the start-up log.
    fn describe(&self) -> String;
}

pub struct OutboxSms(pub Outbox);

#[async_trait]
impl SmsSender for OutboxSms {
    async fn send(&self, id: &str, to: &PhoneNumber, text: &str, at: i64) -> Result<(), DeliveryError> {
        self.0.append(&SmsMessage { id, to: to.as_str(), text, at })
    }
    fn describe(&self) -> String {
        format!("outbox file {}", self.0.path().display())
    }
}

pub struct WebhookSms(pub WebhookTarget, pub String);

#[async_trait]
impl SmsSender for WebhookSms {
    async fn send(&self, id: &str, to: &PhoneNumber, text: &str, at: i64) -> Result<(), DeliveryError> {
        let body = serde_json::to_vec(&SmsMessage { id, to: to.as_str(), text, at }).map_err(std::io::Error::other)?;
        self.0.post(body, at).await
    }
    fn describe(&self) -> String {
        format!("webhook {}", self.1)
    }
}
