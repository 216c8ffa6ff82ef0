//! Settings the server needs, already resolved from defaults, `gatehouse.toml`, `GATEHOUSE_*`
//! variables and flags by the binary.

use gatehouse_core::session::SessionTimeouts;
use gatehouse_crypto::PasswordParams;
use std::net::SocketAddr;
use std::path::PathBuf;
use time::Duration;

// Delivery's settings live with delivery; named here so the binary's layering is unchanged.
pub use gatehouse_delivery::{NotifierSettings, SmsSettings};
// Likewise the operations' settings live with the operations.
pub use gatehouse_ops::{AlertSinkSettings, CheckpointKey, MonitoringSettings, RetentionSettings};
// And the token lifetimes with the token service.
pub use gatehouse_oauth::TokenLifetimes;

// The listener's settings live with the listener (`gatehouse-listener`).
pub use gatehouse_listener::{ConnectionLimits, TlsFiles};

#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// Public base URL without a trailing slash, e.g. `https://id.example.com`.
    pub issuer: String,
    pub tls: Option<TlsFiles>,
    pub sessions: SessionTimeouts,
    pub tokens: TokenLifetimes,
    pub password: PasswordParams,
    /// At most this many Argon2 computations run at once (memory stays bounded).
    pub max_concurrent_hashes: usize,
    /// Mount the built-in demo relying party at `/demo`.
    pub demo: bool,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// How often the server checks for changes made by other processes (import, key rotation).
    pub reload_interval: std::time::Duration,
    /// Development only: text messages without a gateway and notices without a notifier go to
    /// JSON-lines files in `outbox_dir` (mode 0600), phone numbers and emails in plaintext. Off,
    /// they are refused (text messages) or not sent (notices).
    pub dev_outbox: bool,
    /// Where the development outbox writes (`sms.jsonl`, `notifications.jsonl`); erasure
    /// rewrites its files whether or not `dev_outbox` is on.
    pub outbox_dir: PathBuf,
    /// Where the retention job writes a report of each tenant it deletes.
    pub reports_dir: PathBuf,
    /// The nightly backup, when a target is configured.
    pub backups: Option<gatehouse_ops::backups::NightlyBackups>,
    pub sms: SmsSettings,
    /// Reverse proxies whose `X-Forwarded-For` is believed; from anyone else it is ignored.
    pub trusted_proxies: Vec<gatehouse_policy::Cidr>,
    pub monitoring: MonitoringSettings,
    pub connections: ConnectionLimits,
    /// Identity providers set up through the admin API may reach private networks
    /// (`[federation] allow_private_networks`); off, only public addresses.
    pub federation_allow_private_networks: bool,
}

impl ServerConfig {
    pub fn new(listen: SocketAddr, issuer: String) -> Self {
        Self {
            listen,
            issuer,
            tls: None,
            sessions: SessionTimeouts::default(),
            tokens: TokenLifetimes::default(),
            password: PasswordParams::default(),
            max_concurrent_hashes: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2),
            demo: false,
            max_body_bytes: 64 * 1024,
            reload_interval: std::time::Duration::from_secs(2),
            dev_outbox: false,
            outbox_dir: PathBuf::from("outbox"),
            reports_dir: PathBuf::from("reports"),
            backups: None,
            sms: SmsSettings::NoGateway,
            trusted_proxies: Vec::new(),
            monitoring: MonitoringSettings::default(),
            connections: ConnectionLimits::default(),
            federation_allow_private_networks: false,
        }
    }

    /// Cookies are `Secure` (and `__Host-` prefixed) when this server speaks TLS or sits behind
    /// a TLS-terminating proxy (an `https` issuer).
    pub fn secure_cookies(&self) -> bool {
        self.tls.is_some() || self.issuer.starts_with("https://")
    }

    /// Issuer derived from a listen address when none is configured. A wildcard address
    /// (`0.0.0.0`, `::`) is not reachable: the loopback address of its family stands in.
    pub fn default_issuer(listen: SocketAddr, tls: bool) -> String {
        let scheme = if tls { "https" } else { "http" };
        let mut reachable = listen;
        if listen.ip().is_unspecified() {
            reachable.set_ip(match listen.ip() {
                std::net::IpAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                std::net::IpAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
            });
        }
        format!("{scheme}://{reachable}")
    }

    /// The demo's issuer when none is configured: `localhost` for a loopback or wildcard
    /// listener, because WebAuthn needs a domain name as its relying-party ID (a newcomer on an
    /// IP-address issuer would never see passkeys); otherwise as [`Self::default_issuer`].
    pub fn demo_issuer(listen: SocketAddr, tls: bool) -> String {
        if listen.ip().is_loopback() || listen.ip().is_unspecified() {
            let scheme = if tls { "https" } else { "http" };
            return format!("{scheme}://localhost:{}", listen.port());
        }
        Self::default_issuer(listen, tls)
    }

    /// How long a retired signing key stays published: until every token it signed expired.
    pub fn key_publication_grace(&self) -> Duration {
        self.tokens.key_publication_grace()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_issuer_replaces_wildcard_addresses() {
        assert_eq!(ServerConfig::default_issuer("0.0.0.0:8080".parse().unwrap(), false), "http://127.0.0.1:8080");
        assert_eq!(ServerConfig::default_issuer("[::]:8443".parse().unwrap(), true), "https://[::1]:8443");
        assert_eq!(ServerConfig::default_issuer("192.0.2.1:80".parse().unwrap(), false), "http://192.0.2.1:80");
    }

    #[test]
    fn the_demo_defaults_to_a_localhost_issuer_so_passkeys_work() {
        assert_eq!(ServerConfig::demo_issuer("127.0.0.1:8080".parse().unwrap(), false), "http://localhost:8080");
        assert_eq!(ServerConfig::demo_issuer("0.0.0.0:8443".parse().unwrap(), true), "https://localhost:8443");
        assert_eq!(ServerConfig::demo_issuer("[::1]:8080".parse().unwrap(), false), "http://localhost:8080");
        assert_eq!(ServerConfig::demo_issuer("192.0.2.1:80".parse().unwrap(), false), "http://192.0.2.1:80", "a public address stays as it is");
    }

    #[test]
    fn cookies_are_secure_under_tls_even_with_an_http_issuer() {
        let mut config = ServerConfig::new("127.0.0.1:1".parse().unwrap(), "http://127.0.0.1:1".into());
        assert!(!config.secure_cookies());
        config.tls = Some(TlsFiles { cert: "c".into(), key: "k".into() });
        assert!(config.secure_cookies());
        assert!(ServerConfig::new("127.0.0.1:1".parse().unwrap(), "https://id.example.com".into()).secure_cookies());
    }
}
