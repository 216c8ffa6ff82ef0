//! What the operator configures for the operations: alert sinks, retention periods, the audit
//! checkpoint key and the monitoring thresholds. Resolved by the binary and re-exported by the
//! server's config. Plain data: nothing here connects or reads files, and `Debug` never prints
//! a secret.

/// Where alerts go besides the admin API (see [`crate::monitor::sinks`]).
#[derive(Clone)]
pub enum AlertSinkSettings {
    /// HMAC-signed JSON posted to a URL.
    Webhook { url: url::Url, secret: Vec<u8> },
    /// RFC 5424 syslog over UDP or TCP (octet-counted frames).
    Syslog { tcp: bool, address: String },
}

impl std::fmt::Debug for AlertSinkSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Webhook { url, .. } => write!(f, "Webhook {{ url: {url}, secret: .. }}"),
            Self::Syslog { tcp, address } => write!(f, "Syslog {{ {}://{address} }}", if *tcp { "tcp" } else { "udp" }),
        }
    }
}

/// How long data is kept (defaults: login history 1 year, audit records 7 years, a terminated
/// tenant's data six months, backups 30 days).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionSettings {
    pub login_history_days: u32,
    pub audit_days: u32,
    /// Days from a tenant's termination to the deletion of its data.
    pub terminated_tenant_days: u32,
    /// Days a backup is kept before the nightly job prunes it.
    pub backup_days: u32,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        Self { login_history_days: 365, audit_days: 7 * 365, terminated_tenant_days: 183, backup_days: 30 }
    }
}

/// The instance key that signs audit checkpoints (Ed25519, PKCS#8). `Debug` never prints it.
#[derive(Clone)]
pub struct CheckpointKey(pub Vec<u8>);

impl std::fmt::Debug for CheckpointKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CheckpointKey(..)")
    }
}

/// Security monitoring: brute-force thresholds, detection rules, alert sinks, notices,
/// retention and audit checkpoints.
#[derive(Clone, Debug, Default)]
pub struct MonitoringSettings {
    pub lockout: gatehouse_core::throttle::ThrottleRules,
    pub detection: DetectionThresholds,
    pub sinks: Vec<AlertSinkSettings>,
    pub notifier: Option<gatehouse_delivery::NotifierSettings>,
    pub retention: RetentionSettings,
    pub checkpoint_key: Option<CheckpointKey>,
}

/// Thresholds of the detection rules (documented in `docs/detection.md`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DetectionThresholds {
    /// Distinct accounts failing from one address within the window: password spraying.
    pub spraying_accounts: u32,
    /// Distinct accounts and distinct addresses failing within the window: credential stuffing.
    pub stuffing_accounts: u32,
    pub stuffing_addresses: u32,
    pub window_seconds: i64,
    /// One-time codes (texts sent or requested) for one user within an hour.
    pub otp_per_user_per_hour: u32,
    /// Texts requested from one address within an hour (SMS pumping).
    pub sms_per_address_per_hour: u32,
    /// Alert when an admin signs in from a network (/24 or /48) never seen for them.
    pub admin_new_network: bool,
    /// The same alert (kind and subject) is not raised again within this many seconds.
    pub dedupe_seconds: i64,
    /// How long an address someone reported ("this wasn't me") counts as risky for their
    /// tenant, unless a tenant admin clears it sooner.
    pub reported_address_days: i64,
}

impl Default for DetectionThresholds {
    fn default() -> Self {
        Self {
            spraying_accounts: 10,
            stuffing_accounts: 50,
            stuffing_addresses: 10,
            window_seconds: 600,
            otp_per_user_per_hour: 5,
            sms_per_address_per_hour: 10,
            admin_new_network: true,
            dedupe_seconds: 900,
            reported_address_days: 30,
        }
    }
}
