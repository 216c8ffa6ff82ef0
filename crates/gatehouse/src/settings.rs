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
    /// Create a demo tenant, user and application, and print how to try a sign-in.
    #[arg(long, env = "GATEHOUSE_DEMO")]
    pub demo: bool,
    /// PEM certificate chain: serve HTTPS (TLS 1.3 preferred, 1.2 minimum).
    #[arg(long, env = "GATEHOUSE_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(long, env = "GATEHOUSE_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    #[command(flatten)]
    pub password: PasswordArgs,
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
    #[serde(default)]
    pub demo: bool,
    pub tls: Option<FileTls>,
    #[serde(default)]
    pub password: FilePassword,
    #[serde(default)]
    pub sessions: FileSessions,
    #[serde(default)]
    pub tokens: FileTokens,
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
    pub idle_minutes: Option<i64>,
    pub absolute_hours: Option<i64>,
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
}
