//! Security monitoring: detection rules, alerts (stored for admins, delivered to sinks with
//! retries), brute-force lockout of accounts, and the audit trail's checkpoints and retention.

pub mod audit_writer;
mod detect;
mod dispatch;
pub mod lockout;
pub mod siem;
pub mod sinks;
pub mod trail;

pub use detect::{DetectionThresholds, Detector, Finding, host_network, network_of};
pub use dispatch::{deliver_due, run as run_dispatcher};

use gatehouse_core::alert::{Alert, AlertKind};
use gatehouse_core::ids::TenantId;
use gatehouse_store::Store;
use std::collections::HashMap;
use std::sync::Mutex;
use time::OffsetDateTime;

use crate::config::MonitoringSettings;
use crate::error::ServerError;
use sinks::AlertSink;

/// The server's monitoring state.
pub struct Monitor {
    pub settings: MonitoringSettings,
    pub detector: Detector,
    pub sinks: Vec<Box<dyn AlertSink>>,
    /// Wakes the dispatcher when an alert is raised.
    pub wake: tokio::sync::Notify,
    /// When each (kind, subject) was last raised, so one attack raises one alert.
    recent: Mutex<HashMap<(AlertKind, String), i64>>,
}

/// What to raise.
pub struct NewAlert {
    pub kind: AlertKind,
    pub tenant: Option<TenantId>,
    pub subject: String,
    pub summary: String,
    pub details: serde_json::Value,
}

impl Monitor {
    pub fn new(settings: MonitoringSettings, issuer: &str) -> Result<Self, ServerError> {
        settings.lockout.validate().map_err(ServerError::Config)?;
        let sinks = sinks::build(&settings.sinks, issuer).map_err(|e| ServerError::Config(format!("alert sink: {e}")))?;
        Ok(Self { detector: Detector::new(settings.detection), settings, sinks, wake: tokio::sync::Notify::new(), recent: Mutex::new(HashMap::new()) })
    }

    /// Stores an alert (unless the same one was raised within the dedupe window) and wakes the
    /// dispatcher. Returns the stored alert.
    pub async fn raise(&self, store: &dyn Store, alert: NewAlert, now: OffsetDateTime) -> Result<Option<Alert>, ServerError> {
        let at = now.unix_timestamp();
        let dedupe = self.settings.detection.dedupe_seconds;
        {
            let Ok(mut recent) = self.recent.lock() else { return Ok(None) };
            if recent.len() > 10_000 {
                recent.retain(|_, last| at - *last < dedupe);
            }
            if recent.get(&(alert.kind, alert.subject.clone())).is_some_and(|last| at - *last < dedupe) {
                return Ok(None);
            }
        }
        let key = (alert.kind, alert.subject.clone());
        let stored = Alert {
            id: format!("{:020x}-{}", now.unix_timestamp_nanos().max(0), gatehouse_crypto::random::id()?),
            at,
            tenant: alert.tenant.map(|t| t.as_str().to_owned()),
            kind: alert.kind,
            severity: alert.kind.severity(),
            subject: alert.subject,
            summary: alert.summary,
            details: alert.details,
            acknowledged_at: None,
            acknowledged_by: None,
        };
        store.raise_alert(&stored, !self.sinks.is_empty()).await?;
        // Marked only once stored: a failed insert does not silence the next one.
        if let Ok(mut recent) = self.recent.lock() {
            recent.insert(key, at);
        }
        tracing::warn!(alert = %stored.id, kind = stored.kind.as_str(), subject = %stored.subject, "security alert: {}", stored.summary);
        self.wake.notify_one();
        Ok(Some(stored))
    }

    /// Raises without making the caller wait or fail: detection must never block a sign-in.
    pub fn raise_in_background(&self, state: &crate::AppState, alert: NewAlert, now: OffsetDateTime) {
        let state = state.clone();
        tokio::spawn(async move {
            if let Err(e) = state.monitor.raise(state.store.as_ref(), alert, now).await {
                tracing::error!(error = %e, "storing a security alert failed");
            }
        });
    }

    /// Reports sinks that cannot be reached (start-up).
    pub async fn probe_sinks(&self) {
        for sink in &self.sinks {
            match sink.probe().await {
                Ok(()) => tracing::info!(sink = sink.name(), "alert sink reachable"),
                Err(e) => tracing::error!(sink = sink.name(), error = %e, "alert sink misconfigured or unreachable: alerts will be retried"),
            }
        }
    }
}

/// A one-time code was asked for `user` from `address`: flood detection.
pub fn code_requested(state: &crate::AppState, user: &gatehouse_core::model::User, address: std::net::IpAddr, sms: bool, now: OffsetDateTime) {
    for finding in state.monitor.detector.code_requested(user.id.as_str(), address, sms, now.unix_timestamp()) {
        let mut alert = finding_alert(&finding);
        if matches!(finding, Finding::OtpFloodUser { .. }) {
            alert.tenant = Some(user.tenant_id.clone());
        }
        state.monitor.raise_in_background(state, alert, now);
    }
}

/// The alert a detection finding raises (instance-wide: these span accounts and tenants).
pub fn finding_alert(finding: &Finding) -> NewAlert {
    match finding {
        Finding::Spraying { address, accounts } => NewAlert {
            kind: AlertKind::PasswordSpraying,
            tenant: None,
            subject: format!("address:{address}"),
            summary: format!("{accounts} accounts failed to sign in from {address}"),
            details: serde_json::json!({ "address": address.to_string(), "accounts": accounts }),
        },
        Finding::Stuffing { accounts, addresses } => NewAlert {
            kind: AlertKind::CredentialStuffing,
            tenant: None,
            subject: "instance".into(),
            summary: format!("{accounts} accounts failed to sign in from {addresses} addresses"),
            details: serde_json::json!({ "accounts": accounts, "addresses": addresses }),
        },
        Finding::OtpFloodUser { user, codes } => NewAlert {
            kind: AlertKind::OtpFlooding,
            tenant: None,
            subject: format!("user:{user}"),
            summary: format!("{codes} one-time codes requested for one user within an hour"),
            details: serde_json::json!({ "user": user, "codes": codes }),
        },
        Finding::OtpFloodAddress { address, codes } => NewAlert {
            kind: AlertKind::OtpFlooding,
            tenant: None,
            subject: format!("address:{address}"),
            summary: format!("{codes} text messages requested from {address} within an hour"),
            details: serde_json::json!({ "address": address.to_string(), "codes": codes }),
        },
    }
}
