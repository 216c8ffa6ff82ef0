//! Security monitoring: detection rules, alerts (stored for admins, delivered to sinks with
//! retries), brute-force lockout of accounts, and the audit trail's checkpoints and retention.
//! [`Monitor`] is the service the sign-in code and the handlers hold; it must never block or
//! fail a sign-in because an alert could not be raised or sent.

pub mod audit_writer;
mod detect;
mod dispatch;
pub mod lockout;
pub mod siem;
pub mod sinks;
pub mod trail;

pub use detect::{DetectionThresholds, Detector, Finding, host_network, network_of};
pub use dispatch::{DispatchJob, deliver_due, run as run_dispatcher};

use gatehouse_core::alert::{Alert, AlertKind};
use gatehouse_core::ids::TenantId;
use gatehouse_delivery::Notifier;
use gatehouse_store::SecurityStore;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use time::OffsetDateTime;

use crate::error::OpsError;
use crate::settings::MonitoringSettings;
use sinks::AlertSink;

/// The monitoring service: its settings, the detectors' counts, the sinks, where alerts and
/// lockout state are stored, and who tells users their account locked.
pub struct Monitor {
    pub settings: MonitoringSettings,
    pub detector: Detector,
    pub sinks: Vec<Box<dyn AlertSink>>,
    /// Wakes the dispatcher when an alert is raised.
    pub wake: tokio::sync::Notify,
    /// When each (kind, subject) was last raised, so one attack raises one alert.
    recent: Mutex<HashMap<(AlertKind, String), i64>>,
    /// Alerts, their deliveries and accounts' lockout state.
    store: Arc<dyn SecurityStore>,
    /// Notices to users (an account locked).
    notifier: Arc<dyn Notifier>,
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
    pub fn new(settings: MonitoringSettings, issuer: &str, store: Arc<dyn SecurityStore>, notifier: Arc<dyn Notifier>) -> Result<Self, OpsError> {
        settings.lockout.validate().map_err(OpsError::Config)?;
        let sinks = sinks::build(&settings.sinks, issuer).map_err(|e| OpsError::Config(format!("alert sink: {e}")))?;
        Ok(Self {
            detector: Detector::new(settings.detection),
            settings,
            sinks,
            wake: tokio::sync::Notify::new(),
            recent: Mutex::new(HashMap::new()),
            store,
            notifier,
        })
    }

    /// Where alerts and lockout state are stored.
    pub fn store(&self) -> &dyn SecurityStore {
        self.store.as_ref()
    }

    /// Who tells users about their account.
    pub fn notifier(&self) -> &Arc<dyn Notifier> {
        &self.notifier
    }

    /// Stores an alert (unless the same one was raised within the dedupe window) and wakes the
    /// dispatcher. Returns the stored alert.
    pub async fn raise(&self, alert: NewAlert, now: OffsetDateTime) -> Result<Option<Alert>, OpsError> {
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
        self.store.raise_alert(&stored, !self.sinks.is_empty()).await?;
        // Marked only once stored: a failed insert does not silence the next one.
        if let Ok(mut recent) = self.recent.lock() {
            recent.insert(key, at);
        }
        tracing::warn!(alert = %stored.id, kind = stored.kind.as_str(), subject = %stored.subject, "security alert: {}", stored.summary);
        self.wake.notify_one();
        Ok(Some(stored))
    }

    /// Raises without making the caller wait or fail: detection must never block a sign-in.
    pub fn raise_in_background(self: &Arc<Self>, alert: NewAlert, now: OffsetDateTime) {
        let monitor = Arc::clone(self);
        tokio::spawn(async move {
            if let Err(e) = monitor.raise(alert, now).await {
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
pub fn code_requested(monitor: &Arc<Monitor>, user: &gatehouse_core::model::User, address: std::net::IpAddr, sms: bool, now: OffsetDateTime) {
    for finding in monitor.detector.code_requested(user.id.as_str(), address, sms, now.unix_timestamp()) {
        let mut alert = finding_alert(&finding);
        if matches!(finding, Finding::OtpFloodUser { .. }) {
            alert.tenant = Some(user.tenant_id.clone());
        }
        monitor.raise_in_background(alert, now);
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
