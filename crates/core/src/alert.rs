//! Security alerts: what the detection rules raise, stored for admins and sent to the
//! configured sinks.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// Many failed attempts on one account; it was locked temporarily.
    BruteForce,
    /// One address failing against many accounts.
    PasswordSpraying,
    /// Failures against many accounts from many addresses.
    CredentialStuffing,
    /// Many one-time codes sent or refused for one user (2FA fatigue, SMS pumping).
    OtpFlooding,
    /// An admin signed in from a network never seen for them.
    AdminNewNetwork,
    /// Someone was given the admin role.
    RoleEscalation,
    /// `audit verify` or the daily check found the audit chain broken.
    AuditChainBroken,
    /// A user reported a sign-in as not theirs.
    SignInReported,
    /// The nightly backup could not be made or stored.
    BackupFailed,
}

impl AlertKind {
    pub const ALL: [Self; 9] = [
        Self::BruteForce,
        Self::PasswordSpraying,
        Self::CredentialStuffing,
        Self::OtpFlooding,
        Self::AdminNewNetwork,
        Self::RoleEscalation,
        Self::AuditChainBroken,
        Self::SignInReported,
        Self::BackupFailed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::BruteForce => "brute_force",
            Self::PasswordSpraying => "password_spraying",
            Self::CredentialStuffing => "credential_stuffing",
            Self::OtpFlooding => "otp_flooding",
            Self::AdminNewNetwork => "admin_new_network",
            Self::RoleEscalation => "role_escalation",
            Self::AuditChainBroken => "audit_chain_broken",
            Self::SignInReported => "sign_in_reported",
            Self::BackupFailed => "backup_failed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == text)
    }

    pub fn severity(self) -> Severity {
        match self {
            Self::AuditChainBroken => Severity::Critical,
            Self::CredentialStuffing | Self::RoleEscalation | Self::SignInReported | Self::AdminNewNetwork | Self::BackupFailed => Severity::High,
            Self::BruteForce | Self::PasswordSpraying | Self::OtpFlooding => Severity::Medium,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Critical => "critical",
        }
    }

    /// The RFC 5424 severity a syslog message carries.
    pub fn syslog(self) -> u8 {
        match self {
            Self::Low => 5,
            Self::Medium => 4,
            Self::High => 3,
            Self::Critical => 2,
        }
    }
}

/// One alert as stored and delivered. Never holds a secret: subjects are ids, addresses and
/// counts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub id: String,
    pub at: i64,
    /// The tenant whose admins see it; `None` for instance-wide alerts.
    pub tenant: Option<String>,
    pub kind: AlertKind,
    pub severity: Severity,
    /// What it is about: `user:<id>`, `address:<ip>`, `audit:<seq>`.
    pub subject: String,
    pub summary: String,
    pub details: serde_json::Value,
    pub acknowledged_at: Option<i64>,
    pub acknowledged_by: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_their_names() {
        for kind in AlertKind::ALL {
            assert_eq!(AlertKind::parse(kind.as_str()), Some(kind));
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
        assert_eq!(AlertKind::parse("nonsense"), None);
        assert!(AlertKind::AuditChainBroken.severity() > AlertKind::BruteForce.severity());
    }
}
