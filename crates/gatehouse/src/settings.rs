//! Settings, layered: built-in defaults, then `gatehouse.toml`, then `GATEHOUSE_*` variables,
//! then command-line flags (clap reads the variables and flags; later layers win).

use anyhow::{Context, Result};
use clap::Args;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_DATA_DIR: &str = "./gatehouse-data";
pub const DEFAULT_CONFIG: &str = "gatehouse.toml";

/// Options every data subcommand shares.
#[derive(Args, Debug, Clone)]
pub struct CommonArgs {
    /// Data directory holding the database and keys.
    #[arg(long, env = "GATEHOUSE_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// Settings file (default: ./gatehouse.toml when it exists).
    #[arg(long, env = "GATEHOUSE_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// The master keyring that wraps every data key [default: DATA_DIR/master.key, created by
    /// the first `serve` or `import`; production keeps it elsewhere].
    #[arg(long, env = "GATEHOUSE_MASTER_KEY_FILE", global = true)]
    pub master_key_file: Option<PathBuf>,
}

#[derive(Args, Debug, Clone, Default)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "GATEHOUSE_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Public base URL (issuer) [default: derived from --listen].
    #[arg(long, env = "GATEHOUSE_ISSUER")]
    pub issuer: Option<String>,
    /// Import this file before serving (idempotent).
    #[arg(long, env = "GATEHOUSE_IMPORT")]
    pub import: Option<PathBuf>,
    /// Create a demo tenant, user and application, and print how to try a sign-in
    /// (`--demo=false` overrides `demo = true` in the settings file).
    #[arg(long, env = "GATEHOUSE_DEMO", num_args = 0..=1, default_missing_value = "true", value_parser = clap::builder::BoolishValueParser::new())]
    pub demo: Option<bool>,
    /// Development only: text messages without an SMS gateway and notices without a notifier
    /// are written to DATA_DIR/outbox/*.jsonl (mode 0600), phone numbers and emails in plaintext.
    /// Off, text-message codes are refused and notices are not sent. On with --demo unless
    /// --dev-outbox=false.
    #[arg(long, env = "GATEHOUSE_DEV_OUTBOX", num_args = 0..=1, default_missing_value = "true", value_parser = clap::builder::BoolishValueParser::new())]
    pub dev_outbox: Option<bool>,
    /// PEM certificate chain: serve HTTPS (TLS 1.3 preferred, 1.2 minimum).
    #[arg(long, env = "GATEHOUSE_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(long, env = "GATEHOUSE_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    #[command(flatten)]
    pub password: PasswordArgs,
    #[command(flatten)]
    pub lifetimes: LifetimeArgs,
    #[command(flatten)]
    pub sms: SmsArgs,
    #[command(flatten)]
    pub connections: ConnectionArgs,
    /// A reverse proxy (CIDR) whose X-Forwarded-For is believed; repeatable. Without one the
    /// TCP peer is the client address.
    #[arg(long = "trusted-proxy", env = "GATEHOUSE_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<String>,
    /// Let identity providers set up through the admin API reach private networks (loopback,
    /// RFC 1918, link-local). Off: their URLs must resolve to public addresses.
    #[arg(long, env = "GATEHOUSE_FEDERATION__ALLOW_PRIVATE_NETWORKS", num_args = 0..=1, default_missing_value = "true", value_parser = clap::builder::BoolishValueParser::new())]
    pub federation_allow_private_networks: Option<bool>,
    #[command(flatten)]
    pub alerts: crate::monitoring_settings::AlertArgs,
    /// Nightly backups to this target: a directory outside the data directory, or
    /// s3://bucket/prefix (credentials from AWS_* variables). Off when unset.
    #[arg(long, env = "GATEHOUSE_BACKUP_TARGET")]
    pub backup_target: Option<String>,
}

/// Where text-message codes go: by default appended to `DATA_DIR/outbox/sms.jsonl`
/// (development); with a webhook URL, posted as HMAC-signed JSON to your SMS gateway.
#[derive(Args, Debug, Clone, Default)]
#[command(next_help_heading = "Text messages")]
pub struct SmsArgs {
    /// Gateway URL that receives `{"id","to","text","at"}` as signed JSON.
    #[arg(long, env = "GATEHOUSE_SMS__WEBHOOK_URL", requires = "sms_webhook_secret_file")]
    pub sms_webhook_url: Option<String>,
    /// File holding the webhook's HMAC-SHA256 key (at least 32 bytes).
    #[arg(long, env = "GATEHOUSE_SMS__WEBHOOK_SECRET_FILE")]
    pub sms_webhook_secret_file: Option<PathBuf>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct FileSms {
    pub webhook_url: Option<String>,
    pub webhook_secret_file: Option<PathBuf>,
}

impl SmsArgs {
    pub fn resolve(&self, file: &FileSms) -> Result<gatehouse_server::SmsSettings> {
        let url = self.sms_webhook_url.clone().or(file.webhook_url.clone());
        let secret_file = self.sms_webhook_secret_file.clone().or(file.webhook_secret_file.clone());
        match (url, secret_file) {
            (None, None) => Ok(gatehouse_server::SmsSettings::NoGateway),
            (Some(url), Some(secret_file)) => Ok(gatehouse_server::SmsSettings::Webhook {
                url: crate::monitoring_settings::http_url("sms.webhook_url", &url)?,
                secret: crate::monitoring_settings::read_secret("sms.webhook_secret_file", &secret_file)?,
            }),
            _ => anyhow::bail!("sms.webhook_url and sms.webhook_secret_file go together"),
        }
    }
}

/// Session and token lifetimes (defaults: 30 min idle and 10 h absolute sessions; 60 s codes;
/// 10 min access and ID tokens; 30-day refresh tokens).
#[derive(Args, Debug, Clone, Default)]
#[command(next_help_heading = "Lifetimes")]
pub struct LifetimeArgs {
    #[arg(long, env = "GATEHOUSE_SESSIONS__IDLE_SECONDS")]
    pub session_idle_seconds: Option<i64>,
    #[arg(long, env = "GATEHOUSE_SESSIONS__ABSOLUTE_SECONDS")]
    pub session_absolute_seconds: Option<i64>,
    #[arg(long, env = "GATEHOUSE_TOKENS__AUTHORIZATION_CODE_SECONDS")]
    pub authorization_code_seconds: Option<i64>,
    #[arg(long, env = "GATEHOUSE_TOKENS__ACCESS_TOKEN_SECONDS")]
    pub access_token_seconds: Option<i64>,
    #[arg(long, env = "GATEHOUSE_TOKENS__ID_TOKEN_SECONDS")]
    pub id_token_seconds: Option<i64>,
    #[arg(long, env = "GATEHOUSE_TOKENS__REFRESH_TOKEN_DAYS")]
    pub refresh_token_days: Option<i64>,
}

/// Client connections (defaults: at most 10 000 open, fewer when the open-file limit is lower;
/// 10 s to send a request's headers, 60 s idle between requests, 30 s per request).
#[derive(Args, Debug, Clone, Default)]
#[command(next_help_heading = "Connections")]
pub struct ConnectionArgs {
    /// The most client connections open at once; at the cap the oldest idle one is closed for
    /// a new one. Must fit under the open-file limit with 256 files to spare.
    #[arg(long, env = "GATEHOUSE_CONNECTIONS__MAX")]
    pub max_connections: Option<u64>,
    /// Seconds from accepting a connection (TLS handshake included), or from the first byte of
    /// a later request, to that request's complete headers.
    #[arg(long, env = "GATEHOUSE_CONNECTIONS__HEADER_READ_TIMEOUT_SECONDS")]
    pub header_read_timeout_seconds: Option<u64>,
    /// Seconds a connection with no request in flight stays open after its last response.
    #[arg(long, env = "GATEHOUSE_CONNECTIONS__IDLE_TIMEOUT_SECONDS")]
    pub idle_timeout_seconds: Option<u64>,
    /// Seconds from a request's headers to its response (a slow body or handler gets 408).
    #[arg(long, env = "GATEHOUSE_CONNECTIONS__REQUEST_TIMEOUT_SECONDS")]
    pub request_timeout_seconds: Option<u64>,
}

/// `[connections]`.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct FileConnections {
    pub max: Option<u64>,
    pub header_read_timeout_seconds: Option<u64>,
    pub idle_timeout_seconds: Option<u64>,
    pub request_timeout_seconds: Option<u64>,
}

/// The largest connection cap accepted: beyond Linux's default per-process file limit
/// (`fs.nr_open`, 1 048 576) it can never be met.
pub const MAX_CONNECTIONS: u64 = 1_000_000;

/// One connection setting: flag or variable, else file, else default; 0 (which would close
/// every connection, or none) and absurd values are refused.
fn bounded(name: &str, flag: Option<u64>, file: Option<u64>, default: u64, max: u64) -> Result<u64> {
    let value = flag.or(file).unwrap_or(default);
    if !(1..=max).contains(&value) {
        anyhow::bail!("{name} must be between 1 and {max}, not {value}");
    }
    Ok(value)
}

impl ConnectionArgs {
    pub fn resolve(&self, file: &FileConnections) -> Result<gatehouse_server::ConnectionLimits> {
        use std::time::Duration;
        let defaults = gatehouse_server::ConnectionLimits::default();
        let seconds = |name, flag, file, default: Duration, max| bounded(name, flag, file, default.as_secs(), max).map(Duration::from_secs);
        let max_connections = match self.max_connections.or(file.max) {
            // Unset: the server's default, lowered to fit the open-file limit.
            None => None,
            Some(max) => Some(usize::try_from(bounded("connections.max", Some(max), None, 0, MAX_CONNECTIONS)?)?),
        };
        Ok(gatehouse_server::ConnectionLimits {
            max_connections,
            header_read_timeout: seconds(
                "connections.header_read_timeout_seconds",
                self.header_read_timeout_seconds,
                file.header_read_timeout_seconds,
                defaults.header_read_timeout,
                300,
            )?,
            idle_timeout: seconds("connections.idle_timeout_seconds", self.idle_timeout_seconds, file.idle_timeout_seconds, defaults.idle_timeout, 3600)?,
            request_timeout: seconds(
                "connections.request_timeout_seconds",
                self.request_timeout_seconds,
                file.request_timeout_seconds,
                defaults.request_timeout,
                600,
            )?,
        })
    }
}

/// Argon2id cost (defaults: OWASP's m=19456 KiB, t=2, p=1).
#[derive(Args, Debug, Clone, Default)]
pub struct PasswordArgs {
    #[arg(long, env = "GATEHOUSE_PASSWORD__MEMORY_KIB")]
    pub password_memory_kib: Option<u32>,
    #[arg(long, env = "GATEHOUSE_PASSWORD__ITERATIONS")]
    pub password_iterations: Option<u32>,
    #[arg(long, env = "GATEHOUSE_PASSWORD__PARALLELISM")]
    pub password_parallelism: Option<u32>,
}

/// `gatehouse.toml`. Unknown keys are an error, so a typo never silently does nothing.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct FileSettings {
    pub listen: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
    pub issuer: Option<String>,
    pub import: Option<PathBuf>,
    pub demo: Option<bool>,
    /// The development outbox (see [`ServeArgs::dev_outbox`]).
    pub dev_outbox: Option<bool>,
    pub tls: Option<FileTls>,
    #[serde(default)]
    pub password: FilePassword,
    #[serde(default)]
    pub sessions: FileSessions,
    #[serde(default)]
    pub tokens: FileTokens,
    #[serde(default)]
    pub sms: FileSms,
    #[serde(default)]
    pub connections: FileConnections,
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    #[serde(default)]
    pub lockout: gatehouse_core::throttle::ThrottleRules,
    #[serde(default)]
    pub detection: gatehouse_server::monitor::DetectionThresholds,
    #[serde(default)]
    pub alerts: crate::monitoring_settings::FileAlerts,
    #[serde(default)]
    pub notifications: crate::monitoring_settings::FileNotifications,
    #[serde(default)]
    pub retention: gatehouse_server::RetentionSettings,
    #[serde(default)]
    pub backup: FileBackup,
    #[serde(default)]
    pub federation: FileFederation,
}

/// `[federation]`: third-party sign-in.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct FileFederation {
    /// Whether providers set up through the admin API may reach private networks.
    pub allow_private_networks: Option<bool>,
}

/// `[backup]`: where nightly backups go and when (their retention is `[retention] backup_days`).
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields, default)]
pub struct FileBackup {
    pub target: Option<String>,
    /// The hour (UTC, 0-23) the nightly backup starts.
    pub hour_utc: u8,
}

impl Default for FileBackup {
    fn default() -> Self {
        Self { target: None, hour_utc: 3 }
    }
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct FileTls {
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct FilePassword {
    pub memory_kib: Option<u32>,
    pub iterations: Option<u32>,
    pub parallelism: Option<u32>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct FileSessions {
    pub idle_seconds: Option<i64>,
    pub absolute_seconds: Option<i64>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct FileTokens {
    pub authorization_code_seconds: Option<i64>,
    pub access_token_seconds: Option<i64>,
    pub id_token_seconds: Option<i64>,
    pub refresh_token_days: Option<i64>,
}

impl FileSettings {
    /// Reads the named file, or `./gatehouse.toml` when present, or nothing.
    pub fn load(explicit: Option<&Path>) -> Result<Self> {
        let path = match explicit {
            Some(p) => p.to_owned(),
            None if Path::new(DEFAULT_CONFIG).exists() => PathBuf::from(DEFAULT_CONFIG),
            None => return Ok(Self::default()),
        };
        let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read settings file {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("settings file {} is invalid", path.display()))
    }
}

impl CommonArgs {
    pub fn data_dir(&self, file: &FileSettings) -> PathBuf {
        self.data_dir.clone().or_else(|| file.data_dir.clone()).unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR))
    }

    /// The data directory and its store, opened under the master key. `create` allows a new
    /// installation to create both (serve, import).
    pub async fn open(
        &self,
        file: &FileSettings,
        mode: gatehouse_store::sqlite::OpenMode,
        create: bool,
    ) -> Result<(crate::datadir::DataDir, gatehouse_store::sqlite::SqliteStore)> {
        let data_dir = crate::datadir::DataDir::new(&self.data_dir(file));
        let provider = crate::master_key::provider(self.master_key_file.as_deref(), &data_dir, create).await?;
        let store = data_dir.open_store(mode, provider).await?;
        Ok((data_dir, store))
    }
}

/// The development outbox: the flag or variable, else the file, else on exactly when the demo is.
pub fn dev_outbox(flag: Option<bool>, file: Option<bool>, demo: bool) -> bool {
    flag.or(file).unwrap_or(demo)
}

/// One lifetime setting: flag or variable, else file, else default; bounded, so a typo cannot
/// make tokens live for years (revocation lists only cover a bounded window).
fn lifetime(name: &str, flag: Option<i64>, file: Option<i64>, default: i64, max: i64, unit: fn(i64) -> time::Duration) -> Result<time::Duration> {
    let value = flag.or(file).unwrap_or(default);
    if !(1..=max).contains(&value) {
        anyhow::bail!("{name} must be between 1 and {max}, not {value}");
    }
    Ok(unit(value))
}

impl LifetimeArgs {
    pub fn resolve(
        &self,
        sessions: &FileSessions,
        tokens: &FileTokens,
    ) -> Result<(gatehouse_core::session::SessionTimeouts, gatehouse_server::TokenLifetimes)> {
        use time::Duration;
        let defaults = gatehouse_server::TokenLifetimes::default();
        let session_defaults = gatehouse_core::session::SessionTimeouts::default();
        let sessions = gatehouse_core::session::SessionTimeouts {
            idle: lifetime(
                "sessions.idle_seconds",
                self.session_idle_seconds,
                sessions.idle_seconds,
                session_defaults.idle.whole_seconds(),
                30 * 86_400,
                Duration::seconds,
            )?,
            absolute: lifetime(
                "sessions.absolute_seconds",
                self.session_absolute_seconds,
                sessions.absolute_seconds,
                session_defaults.absolute.whole_seconds(),
                90 * 86_400,
                Duration::seconds,
            )?,
        };
        let tokens = gatehouse_server::TokenLifetimes {
            authorization_code: lifetime(
                "tokens.authorization_code_seconds",
                self.authorization_code_seconds,
                tokens.authorization_code_seconds,
                defaults.authorization_code.whole_seconds(),
                600,
                Duration::seconds,
            )?,
            access_token: lifetime(
                "tokens.access_token_seconds",
                self.access_token_seconds,
                tokens.access_token_seconds,
                defaults.access_token.whole_seconds(),
                86_400,
                Duration::seconds,
            )?,
            id_token: lifetime(
                "tokens.id_token_seconds",
                self.id_token_seconds,
                tokens.id_token_seconds,
                defaults.id_token.whole_seconds(),
                86_400,
                Duration::seconds,
            )?,
            refresh_token: lifetime(
                "tokens.refresh_token_days",
                self.refresh_token_days,
                tokens.refresh_token_days,
                defaults.refresh_token.whole_days(),
                365,
                Duration::days,
            )?,
            ..defaults
        };
        Ok((sessions, tokens))
    }
}

impl PasswordArgs {
    pub fn resolve(&self, file: &FilePassword) -> gatehouse_crypto::PasswordParams {
        let d = gatehouse_crypto::PasswordParams::default();
        gatehouse_crypto::PasswordParams {
            memory_kib: self.password_memory_kib.or(file.memory_kib).unwrap_or(d.memory_kib),
            iterations: self.password_iterations.or(file.iterations).unwrap_or(d.iterations),
            parallelism: self.password_parallelism.or(file.parallelism).unwrap_or(d.parallelism),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_settings_are_rejected() {
        assert!(toml::from_str::<FileSettings>("listen = \"127.0.0.1:1\"\nlisten_port = 3").is_err());
        let ok: FileSettings = toml::from_str("[password]\nmemory_kib = 64\n").unwrap();
        assert_eq!(ok.password.memory_kib, Some(64));
    }

    #[test]
    fn flags_override_file_which_overrides_defaults() {
        let file = FilePassword { memory_kib: Some(1024), iterations: Some(3), parallelism: None };
        let flags = PasswordArgs { password_memory_kib: Some(64), ..Default::default() };
        let p = flags.resolve(&file);
        assert_eq!((p.memory_kib, p.iterations, p.parallelism), (64, 3, 1));
    }

    #[test]
    fn the_development_outbox_is_opt_in_and_on_with_the_demo_unless_turned_off() {
        assert!(!dev_outbox(None, None, false), "off by default");
        assert!(dev_outbox(None, None, true), "the demo turns it on");
        assert!(!dev_outbox(Some(false), None, true) && !dev_outbox(None, Some(false), true), "unless turned off");
        assert!(dev_outbox(Some(true), Some(false), false), "the flag or variable wins over the file");
        let file: FileSettings = toml::from_str("dev_outbox = true\n").unwrap();
        assert_eq!(file.dev_outbox, Some(true));
    }

    #[test]
    fn sms_sender_defaults_to_no_gateway_and_checks_the_webhook() {
        assert!(matches!(SmsArgs::default().resolve(&FileSms::default()).unwrap(), gatehouse_server::SmsSettings::NoGateway));
        let half = FileSms { webhook_url: Some("https://sms.example/hook".into()), webhook_secret_file: None };
        assert!(SmsArgs::default().resolve(&half).unwrap_err().to_string().contains("go together"));
        let dir = std::env::temp_dir().join(format!("gatehouse-sms-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let short = dir.join("short");
        std::fs::write(&short, "too short").unwrap();
        let file = FileSms { webhook_url: Some("https://sms.example/hook".into()), webhook_secret_file: Some(short) };
        assert!(SmsArgs::default().resolve(&file).unwrap_err().to_string().contains("at least 32 bytes"));
        let good = dir.join("good");
        std::fs::write(&good, "0123456789abcdef0123456789abcdef\n").unwrap();
        let flags = SmsArgs { sms_webhook_url: Some("ftp://x".into()), sms_webhook_secret_file: Some(good.clone()) };
        assert!(flags.resolve(&FileSms::default()).is_err(), "not http(s)");
        let flags = SmsArgs { sms_webhook_url: Some("https://sms.example/hook".into()), sms_webhook_secret_file: Some(good) };
        match flags.resolve(&FileSms::default()).unwrap() {
            gatehouse_server::SmsSettings::Webhook { url, secret } => {
                assert_eq!(url.as_str(), "https://sms.example/hook");
                assert_eq!(secret.len(), 32, "surrounding white space is trimmed");
            }
            other => panic!("{other:?}"),
        }
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn lifetimes_layer_and_are_bounded() {
        let file_sessions = FileSessions { idle_seconds: Some(60), absolute_seconds: None };
        let file_tokens = FileTokens { access_token_seconds: Some(300), ..Default::default() };
        let flags = LifetimeArgs { access_token_seconds: Some(120), ..Default::default() };
        let (sessions, tokens) = flags.resolve(&file_sessions, &file_tokens).unwrap();
        assert_eq!(sessions.idle, time::Duration::seconds(60));
        assert_eq!(sessions.absolute, time::Duration::hours(10));
        assert_eq!(tokens.access_token, time::Duration::seconds(120));
        assert_eq!(tokens.refresh_token, time::Duration::days(30));
        let too_long = LifetimeArgs { access_token_seconds: Some(86_401), ..Default::default() };
        let err = too_long.resolve(&FileSessions::default(), &FileTokens::default()).unwrap_err().to_string();
        assert!(err.contains("tokens.access_token_seconds"), "{err}");
        let zero = FileTokens { authorization_code_seconds: Some(0), ..Default::default() };
        assert!(LifetimeArgs::default().resolve(&FileSessions::default(), &zero).is_err());
    }

    #[test]
    fn connection_limits_layer_default_and_are_bounded() {
        let limits = ConnectionArgs::default().resolve(&FileConnections::default()).unwrap();
        assert_eq!(limits, gatehouse_server::ConnectionLimits::default());
        assert_eq!(limits.max_connections, None, "unset: the server's default, fitted to the open-file limit");
        assert_eq!(limits.header_read_timeout, std::time::Duration::from_secs(10));
        assert_eq!(limits.idle_timeout, std::time::Duration::from_secs(60));
        assert_eq!(limits.request_timeout, std::time::Duration::from_secs(30));

        let file: FileSettings = toml::from_str("[connections]\nmax = 500\nheader_read_timeout_seconds = 5\nidle_timeout_seconds = 20\n").unwrap();
        let flags = ConnectionArgs { idle_timeout_seconds: Some(7), request_timeout_seconds: Some(9), ..Default::default() };
        let limits = flags.resolve(&file.connections).unwrap();
        assert_eq!(limits.max_connections, Some(500));
        assert_eq!(limits.header_read_timeout, std::time::Duration::from_secs(5));
        assert_eq!(limits.idle_timeout, std::time::Duration::from_secs(7), "the flag wins over the file");
        assert_eq!(limits.request_timeout, std::time::Duration::from_secs(9));
        let flags = ConnectionArgs { max_connections: Some(64), ..Default::default() };
        assert_eq!(flags.resolve(&file.connections).unwrap().max_connections, Some(64));

        for (flags, name) in [
            (ConnectionArgs { max_connections: Some(0), ..Default::default() }, "connections.max"),
            (ConnectionArgs { max_connections: Some(MAX_CONNECTIONS + 1), ..Default::default() }, "connections.max"),
            (ConnectionArgs { header_read_timeout_seconds: Some(0), ..Default::default() }, "connections.header_read_timeout_seconds"),
            (ConnectionArgs { header_read_timeout_seconds: Some(301), ..Default::default() }, "connections.header_read_timeout_seconds"),
            (ConnectionArgs { idle_timeout_seconds: Some(0), ..Default::default() }, "connections.idle_timeout_seconds"),
            (ConnectionArgs { idle_timeout_seconds: Some(86_400), ..Default::default() }, "connections.idle_timeout_seconds"),
            (ConnectionArgs { request_timeout_seconds: Some(0), ..Default::default() }, "connections.request_timeout_seconds"),
            (ConnectionArgs { request_timeout_seconds: Some(601), ..Default::default() }, "connections.request_timeout_seconds"),
        ] {
            let err = flags.resolve(&FileConnections::default()).unwrap_err().to_string();
            assert!(err.contains(name) && err.contains("between 1 and"), "{err}");
        }
        let zero_in_file = FileConnections { max: Some(0), ..Default::default() };
        assert!(ConnectionArgs::default().resolve(&zero_in_file).is_err());
        assert!(toml::from_str::<FileSettings>("[connections]\nmax_connections = 5\n").is_err(), "unknown keys are refused");
    }
}
