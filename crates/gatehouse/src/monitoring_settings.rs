//! Settings of security monitoring: lockout thresholds (`[lockout]`), detection rules
//! (`[detection]`), alert sinks (`[alerts]` or `--alert-*` flags), how users are notified
//! (`[notifications]`) and retention (`[retention]`). Defaults are in `docs/detection.md`.

use anyhow::{Context, Result, bail};
use clap::Args;
use gatehouse_server::{AlertSinkSettings, NotifierSettings};
use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Args, Debug, Clone, Default)]
#[command(next_help_heading = "Security alerts")]
pub struct AlertArgs {
    /// URL that receives each alert as HMAC-signed JSON.
    #[arg(long, env = "GATEHOUSE_ALERTS__WEBHOOK_URL", requires = "alert_webhook_secret_file")]
    pub alert_webhook_url: Option<String>,
    /// File holding the alert webhook's HMAC-SHA256 key (at least 32 bytes).
    #[arg(long, env = "GATEHOUSE_ALERTS__WEBHOOK_SECRET_FILE")]
    pub alert_webhook_secret_file: Option<PathBuf>,
    /// Syslog collector for alerts (RFC 5424): udp://host:514 or tcp://host:601.
    #[arg(long, env = "GATEHOUSE_ALERTS__SYSLOG")]
    pub alert_syslog: Option<String>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct FileAlerts {
    pub webhook_url: Option<String>,
    pub webhook_secret_file: Option<PathBuf>,
    pub syslog: Option<String>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct FileNotifications {
    pub webhook_url: Option<String>,
    pub webhook_secret_file: Option<PathBuf>,
    pub smtp_host: Option<String>,
    pub smtp_port: Option<u16>,
    pub smtp_from: Option<String>,
    pub smtp_username: Option<String>,
    pub smtp_password_file: Option<PathBuf>,
    /// Refuse to send without STARTTLS (default true; false only for a relay on this host).
    pub smtp_require_tls: Option<bool>,
}

/// Reads a signing secret: at least 32 bytes, surrounding white space trimmed.
pub fn read_secret(name: &str, path: &Path) -> Result<Vec<u8>> {
    let secret = std::fs::read(path).with_context(|| format!("cannot read {name} {}", path.display()))?;
    let secret = secret.trim_ascii().to_vec();
    if secret.len() < 32 {
        bail!("{name} must hold at least 32 bytes");
    }
    Ok(secret)
}

pub fn http_url(name: &str, url: &str) -> Result<url::Url> {
    let parsed = url::Url::parse(url).with_context(|| format!("{name} `{url}` is not a URL"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        bail!("{name} must be an http(s) URL");
    }
    Ok(parsed)
}

/// `udp://host:port` or `tcp://host:port`.
pub fn parse_syslog(value: &str) -> Result<AlertSinkSettings> {
    let (tcp, rest) = match value.split_once("://") {
        Some(("udp", rest)) => (false, rest),
        Some(("tcp", rest)) => (true, rest),
        _ => bail!("alerts.syslog `{value}` must be udp://host:port or tcp://host:port"),
    };
    let port_ok = rest.rsplit_once(':').is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0));
    if !port_ok || rest.contains('/') {
        bail!("alerts.syslog `{value}` must name a host and a port, like udp://logs.example.com:514");
    }
    Ok(AlertSinkSettings::Syslog { tcp, address: rest.to_owned() })
}

impl AlertArgs {
    pub fn resolve(&self, file: &FileAlerts) -> Result<Vec<AlertSinkSettings>> {
        let mut sinks = Vec::new();
        let url = self.alert_webhook_url.clone().or(file.webhook_url.clone());
        let secret_file = self.alert_webhook_secret_file.clone().or(file.webhook_secret_file.clone());
        match (url, secret_file) {
            (None, None) => {}
            (Some(url), Some(secret_file)) => {
                sinks.push(AlertSinkSettings::Webhook {
                    url: http_url("alerts.webhook_url", &url)?,
                    secret: read_secret("alerts.webhook_secret_file", &secret_file)?,
                });
            }
            _ => bail!("alerts.webhook_url and alerts.webhook_secret_file go together"),
        }
        if let Some(syslog) = self.alert_syslog.clone().or(file.syslog.clone()) {
            sinks.push(parse_syslog(&syslog)?);
        }
        Ok(sinks)
    }
}

impl FileNotifications {
    pub fn resolve(&self) -> Result<Option<NotifierSettings>> {
        match (&self.webhook_url, &self.smtp_host) {
            (Some(_), Some(_)) => bail!("notifications: choose a webhook or SMTP, not both"),
            (Some(url), None) => {
                let secret_file = self.webhook_secret_file.as_ref().context("notifications.webhook_url needs notifications.webhook_secret_file")?;
                Ok(Some(NotifierSettings::Webhook {
                    url: http_url("notifications.webhook_url", url)?,
                    secret: read_secret("notifications.webhook_secret_file", secret_file)?,
                }))
            }
            (None, Some(host)) => {
                let from = self.smtp_from.clone().context("notifications.smtp_host needs notifications.smtp_from")?;
                let password = match &self.smtp_password_file {
                    Some(path) => Some(
                        std::fs::read_to_string(path)
                            .with_context(|| format!("cannot read notifications.smtp_password_file {}", path.display()))?
                            .trim()
                            .to_owned(),
                    ),
                    None => None,
                };
                if password.is_some() != self.smtp_username.is_some() {
                    bail!("notifications.smtp_username and notifications.smtp_password_file go together");
                }
                Ok(Some(NotifierSettings::Smtp {
                    host: host.clone(),
                    port: self.smtp_port.unwrap_or(587),
                    from,
                    username: self.smtp_username.clone(),
                    password,
                    require_tls: self.smtp_require_tls.unwrap_or(true),
                }))
            }
            (None, None) => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syslog_targets_parse_or_explain() {
        assert!(matches!(parse_syslog("udp://127.0.0.1:514").unwrap(), AlertSinkSettings::Syslog { tcp: false, .. }));
        assert!(matches!(parse_syslog("tcp://logs.example.com:601").unwrap(), AlertSinkSettings::Syslog { tcp: true, .. }));
        for bad in ["127.0.0.1:514", "http://x:1", "udp://x", "udp://:514", "tcp://x:0", "udp://x:514/path"] {
            assert!(parse_syslog(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn alert_webhooks_need_both_halves_and_notifiers_one_kind() {
        let half = FileAlerts { webhook_url: Some("https://hooks.example/a".into()), ..Default::default() };
        assert!(AlertArgs::default().resolve(&half).unwrap_err().to_string().contains("go together"));
        assert!(AlertArgs::default().resolve(&FileAlerts::default()).unwrap().is_empty());
        let both = FileNotifications { webhook_url: Some("https://x".into()), smtp_host: Some("smtp".into()), ..Default::default() };
        assert!(both.resolve().is_err());
        let smtp = FileNotifications { smtp_host: Some("smtp.example.com".into()), smtp_from: Some("id@example.com".into()), ..Default::default() };
        assert!(matches!(smtp.resolve().unwrap(), Some(NotifierSettings::Smtp { port: 587, require_tls: true, .. })));
        let no_from = FileNotifications { smtp_host: Some("smtp.example.com".into()), ..Default::default() };
        assert!(no_from.resolve().is_err());
    }
}
