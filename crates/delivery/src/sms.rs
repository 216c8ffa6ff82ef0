//! Sending text messages. Gatehouse never talks to a carrier itself: the `webhook` sender posts
//! signed JSON (`{"id", "to", "text", "at"}`) to a gateway the operator runs. For development,
//! the `outbox` sender appends the same JSON, with the user's id, as a line to a file; it is on
//! only when the operator opts in (`dev_outbox`). With neither, [`NoSmsGateway`] refuses every
//! message, so no phone number or code is ever written beside the database.

use async_trait::async_trait;
use gatehouse_core::PhoneNumber;
use gatehouse_core::ids::UserId;
use serde::Serialize;
use std::sync::Arc;

use super::{DeliveryError, Outbox, WebhookTarget};

#[derive(Serialize)]
struct SmsMessage<'a> {
    id: &'a str,
    to: &'a str,
    text: &'a str,
    at: i64,
}

/// An outbox line: the message and whom it was for, so erasure finds it.
#[derive(Serialize)]
struct OutboxLine<'a> {
    user_id: &'a str,
    #[serde(flatten)]
    message: SmsMessage<'a>,
}

#[async_trait]
pub trait SmsSender: Send + Sync {
    /// Sends one message to `user`'s number; `id` is unique per message so a gateway can
    /// deduplicate retries.
    async fn send(&self, id: &str, user: &UserId, to: &PhoneNumber, text: &str, at: i64) -> Result<(), DeliveryError>;
    /// What it sends to, for the start-up log.
    fn describe(&self) -> String;
    /// False when no message can ever be sent (nothing is configured): callers refuse before
    /// creating anything.
    fn is_configured(&self) -> bool {
        true
    }
}

/// Development only: appends each message to `DATA_DIR/outbox/sms.jsonl`.
pub struct OutboxSms(pub Arc<Outbox>);

#[async_trait]
impl SmsSender for OutboxSms {
    async fn send(&self, id: &str, user: &UserId, to: &PhoneNumber, text: &str, at: i64) -> Result<(), DeliveryError> {
        self.0.append(&OutboxLine { user_id: user.as_str(), message: SmsMessage { id, to: to.as_str(), text, at } })
    }
    fn describe(&self) -> String {
        format!("development outbox {}", self.0.path().display())
    }
}

pub struct WebhookSms(pub WebhookTarget, pub String);

#[async_trait]
impl SmsSender for WebhookSms {
    async fn send(&self, id: &str, _user: &UserId, to: &PhoneNumber, text: &str, at: i64) -> Result<(), DeliveryError> {
        let body = serde_json::to_vec(&SmsMessage { id, to: to.as_str(), text, at }).map_err(std::io::Error::other)?;
        self.0.post(body, at).await
    }
    fn describe(&self) -> String {
        format!("webhook {}", self.1)
    }
}

/// No gateway and no development outbox: every message is refused.
pub struct NoSmsGateway;

#[async_trait]
impl SmsSender for NoSmsGateway {
    async fn send(&self, _id: &str, _user: &UserId, _to: &PhoneNumber, _text: &str, _at: i64) -> Result<(), DeliveryError> {
        Err(DeliveryError::NotConfigured("no SMS gateway is configured"))
    }
    fn describe(&self) -> String {
        "none: no SMS gateway is configured".into()
    }
    fn is_configured(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_outbox_line_names_the_user_and_the_gateway_body_does_not() {
        let dir = std::env::temp_dir().join(format!("gatehouse-sms-outbox-{}", std::process::id()));
        let outbox = crate::DevOutbox::new(&dir);
        let phone = PhoneNumber::parse("+358401234567").unwrap();
        OutboxSms(outbox.sms()).send("m1", &UserId::new("u-1"), &phone, "code", 7).await.unwrap();
        let line: serde_json::Value = serde_json::from_str(std::fs::read_to_string(outbox.sms().path()).unwrap().trim()).unwrap();
        assert_eq!(line, serde_json::json!({ "user_id": "u-1", "id": "m1", "to": "+358401234567", "text": "code", "at": 7 }));
        let body = serde_json::to_value(SmsMessage { id: "m1", to: "+358401234567", text: "code", at: 7 }).unwrap();
        assert!(body.get("user_id").is_none(), "the gateway's contract is unchanged");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn without_a_gateway_nothing_is_sent() {
        let phone = PhoneNumber::parse("+358401234567").unwrap();
        let error = NoSmsGateway.send("m1", &UserId::new("u-1"), &phone, "code", 7).await.unwrap_err();
        assert_eq!(error.to_string(), "no SMS gateway is configured");
        assert!(!NoSmsGateway.is_configured());
    }
}
