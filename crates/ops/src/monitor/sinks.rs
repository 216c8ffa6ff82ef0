//! Where alerts go besides the admin API: an HMAC-signed JSON webhook and syslog (RFC 5424,
//! over UDP, or over TCP with RFC 6587 octet-counted frames). A sink that fails is retried by
//! the dispatcher with backoff; it never holds up the request that raised the alert, and never
//! sends a secret (alerts hold none).

use async_trait::async_trait;
use gatehouse_core::alert::Alert;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

use crate::settings::AlertSinkSettings;
use gatehouse_delivery::{DeliveryError, WebhookTarget};

#[async_trait]
pub trait AlertSink: Send + Sync {
    /// A stable name, recorded with each alert once it reached this sink.
    fn name(&self) -> &str;
    async fn send(&self, alert: &Alert) -> Result<(), DeliveryError>;
    /// Checked once at start-up: a sink that cannot be reached is reported then.
    async fn probe(&self) -> Result<(), DeliveryError>;
}

pub struct WebhookSink {
    target: WebhookTarget,
    url: url::Url,
}

#[async_trait]
impl AlertSink for WebhookSink {
    fn name(&self) -> &str {
        "webhook"
    }

    async fn send(&self, alert: &Alert) -> Result<(), DeliveryError> {
        let body = serde_json::to_vec(&serde_json::json!({ "type": "gatehouse.alert", "alert": alert })).map_err(std::io::Error::other)?;
        self.target.post(body, alert.at).await
    }

    async fn probe(&self) -> Result<(), DeliveryError> {
        let host = self.url.host_str().unwrap_or_default().to_owned();
        let port = self.url.port_or_known_default().unwrap_or(443);
        connect_probe(&format!("{host}:{port}")).await
    }
}

async fn connect_probe(address: &str) -> Result<(), DeliveryError> {
    match tokio::time::timeout(Duration::from_secs(3), tokio::net::TcpStream::connect(address)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(DeliveryError::Unreachable(format!("{address}: {e}"))),
        Err(_) => Err(DeliveryError::Unreachable(format!("{address}: timed out"))),
    }
}

pub struct SyslogSink {
    tcp: bool,
    address: String,
    hostname: String,
    name: String,
}

/// `authpriv` (10): security and authorization messages.
const FACILITY_AUTHPRIV: u8 = 10;

/// Escapes an RFC 5424 structured-data parameter value (`"`, `\` and `]`).
fn sd_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
        }
        // Control characters would break a line-oriented collector.
        out.push(if c.is_control() { ' ' } else { c });
    }
    out
}

/// One RFC 5424 message: `<PRI>1 TIMESTAMP HOST gatehouse - KIND [gatehouse@32473 ...] SUMMARY`.
pub fn syslog_message(alert: &Alert, hostname: &str) -> String {
    let pri = u16::from(FACILITY_AUTHPRIV) * 8 + u16::from(alert.severity.syslog());
    let timestamp = time::OffsetDateTime::from_unix_timestamp(alert.at)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| "-".into());
    let tenant = alert.tenant.as_deref().unwrap_or("-");
    format!(
        "<{pri}>1 {timestamp} {hostname} gatehouse - {kind} [gatehouse@32473 id=\"{id}\" kind=\"{kind}\" severity=\"{severity}\" tenant=\"{tenant}\" subject=\"{subject}\"] {summary}",
        kind = alert.kind.as_str(),
        id = sd_escape(&alert.id),
        severity = alert.severity.as_str(),
        tenant = sd_escape(tenant),
        subject = sd_escape(&alert.subject),
        summary = alert.summary.replace(['\n', '\r'], " "),
    )
}

#[async_trait]
impl AlertSink for SyslogSink {
    fn name(&self) -> &str {
        &self.name
    }

    async fn send(&self, alert: &Alert) -> Result<(), DeliveryError> {
        let message = syslog_message(alert, &self.hostname);
        let io = |e: std::io::Error| DeliveryError::Unreachable(format!("{}: {e}", self.address));
        let send = async {
            if self.tcp {
                let mut stream = tokio::net::TcpStream::connect(&self.address).await.map_err(io)?;
                stream.write_all(format!("{} {message}", message.len()).as_bytes()).await.map_err(io)?;
                stream.shutdown().await.map_err(io)
            } else {
                let socket = tokio::net::UdpSocket::bind(if self.address.starts_with('[') { "[::]:0" } else { "0.0.0.0:0" }).await.map_err(io)?;
                socket.send_to(message.as_bytes(), &self.address).await.map_err(io).map(|_| ())
            }
        };
        tokio::time::timeout(Duration::from_secs(5), send).await.map_err(|_| DeliveryError::Unreachable(format!("{}: timed out", self.address)))?
    }

    async fn probe(&self) -> Result<(), DeliveryError> {
        if self.tcp {
            connect_probe(&self.address).await
        } else {
            tokio::net::lookup_host(&self.address).await.map(|_| ()).map_err(|e| DeliveryError::Unreachable(format!("{}: {e}", self.address)))
        }
    }
}

/// Builds the configured sinks.
pub fn build(settings: &[AlertSinkSettings], issuer: &str) -> Result<Vec<Box<dyn AlertSink>>, DeliveryError> {
    let hostname = url::Url::parse(issuer).ok().and_then(|u| u.host_str().map(str::to_owned)).unwrap_or_else(|| "gatehouse".into());
    settings
        .iter()
        .map(|s| -> Result<Box<dyn AlertSink>, DeliveryError> {
            Ok(match s {
                AlertSinkSettings::Webhook { url, secret } => Box::new(WebhookSink { target: WebhookTarget::new(url.clone(), secret)?, url: url.clone() }),
                AlertSinkSettings::Syslog { tcp, address } => Box::new(SyslogSink {
                    tcp: *tcp,
                    address: address.clone(),
                    hostname: hostname.clone(),
                    name: format!("syslog-{}", if *tcp { "tcp" } else { "udp" }),
                }),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_core::alert::AlertKind;

    #[test]
    fn syslog_messages_follow_rfc_5424_and_escape_structured_data() {
        let alert = Alert {
            id: "a1".into(),
            at: 1_700_000_000,
            tenant: Some("t\"]x".into()),
            kind: AlertKind::BruteForce,
            severity: AlertKind::BruteForce.severity(),
            subject: "user:u1".into(),
            summary: "10 failures\nin a row".into(),
            details: serde_json::json!({}),
            acknowledged_at: None,
            acknowledged_by: None,
        };
        let message = syslog_message(&alert, "id.example.com");
        assert_eq!(
            message,
            "<84>1 2023-11-14T22:13:20Z id.example.com gatehouse - brute_force [gatehouse@32473 id=\"a1\" kind=\"brute_force\" severity=\"medium\" tenant=\"t\\\"\\]x\" subject=\"user:u1\"] 10 failures in a row"
        );
    }
}
