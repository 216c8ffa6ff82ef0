//! `gatehouse`: the identity provider's one binary.

mod audit;
mod backup;
mod clock;
mod commands;
mod datadir;
mod demo;
mod explain;
mod import;
mod import_providers;
mod import_spans;
mod master_key;
mod monitoring_settings;
mod privacy;
mod settings;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

use settings::{CommonArgs, ServeArgs};

#[derive(Parser, Debug)]
#[command(name = "gatehouse", version, about = "A self-hostable OpenID Connect identity provider")]
struct Cli {
    #[command(flatten)]
    common: CommonArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the server.
    Serve(Box<ServeArgs>),
    /// Apply a declarative TOML file of tenants, users and applications (idempotent).
    Import {
        /// The file to import.
        file: std::path::PathBuf,
        #[command(flatten)]
        password: settings::PasswordArgs,
    },
    /// Token signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Registered applications.
    #[command(subcommand)]
    App(AppCommand),
    /// Show what the data directory holds (read-only; safe beside a running server).
    Status,
    /// The two-factor policy.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// The tamper-evident audit trail.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Individuals' rights: access reports and erasure.
    #[command(subcommand)]
    Gdpr(GdprCommand),
    /// Pseudonymised statistics.
    #[command(subcommand)]
    Analytics(AnalyticsCommand),
    /// Encrypted backups: create, list, verify, restore.
    #[command(subcommand)]
    Backup(BackupCommand),
}

#[derive(Subcommand, Debug)]
enum BackupCommand {
    /// Back up now (safe while the server runs), then prune backups past retention.
    Create {
        /// Target: a directory outside the data directory, or s3://bucket/prefix
        /// [default: [backup] target].
        #[arg(long)]
        to: Option<String>,
    },
    /// List a target's complete backups, newest first.
    List {
        #[arg(long)]
        from: Option<String>,
    },
    /// Decrypt one backup, check every file, open its database and verify its audit chain.
    Verify {
        /// One backup (a .ghbk file or s3://.../NAME.ghbk), or a target meaning its newest.
        #[arg(long)]
        from: String,
    },
    /// Restore one backup into a new data directory.
    Restore {
        /// One backup, or a target meaning its newest.
        #[arg(long)]
        from: String,
        /// The data directory to create.
        #[arg(long)]
        to: std::path::PathBuf,
        /// Replace a non-empty directory (kept aside, renamed; never one a server is using).
        #[arg(long)]
        force: bool,
    },
}

#[derive(Subcommand, Debug)]
enum GdprCommand {
    /// Everything held about one person (their factors' metadata, never secrets; sessions,
    /// login history, audit records about them), with each kind's retention rule.
    Export {
        #[arg(long)]
        email: String,
        /// `json` (one document) or `csv` (one file per table into --out DIR).
        #[arg(long, default_value = "json")]
        format: String,
        /// A new file (json) or a new or empty directory (csv); json defaults to stdout.
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
    /// Erase one person by destroying their data key (also unreadable in earlier backups).
    Erase {
        #[arg(long)]
        email: String,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Subcommand, Debug)]
enum AnalyticsCommand {
    /// Sign-in, factor-adoption and policy-outcome statistics per tenant and application, people
    /// replaced by keyed pseudonyms (read-only).
    Export {
        /// The pseudonym key (32 bytes; created when missing). The same key gives the same
        /// pseudonyms.
        #[arg(long)]
        key_file: std::path::PathBuf,
        /// Only sign-ins at or after this RFC 3339 time.
        #[arg(long)]
        since: Option<String>,
        /// Write to this new file instead of stdout.
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
enum AuditCommand {
    /// Check the whole hash chain and its signed checkpoints; name the first changed, deleted,
    /// inserted or reordered record (read-only; exits non-zero when the chain is broken).
    Verify {
        /// Check checkpoint signatures with this public key (the JWK `gatehouse audit key`
        /// printed, kept elsewhere) instead of the key in the data directory.
        #[arg(long)]
        public_key: Option<std::path::PathBuf>,
    },
    /// Sign a checkpoint at the newest record now (the server also does so every hour).
    Checkpoint,
    /// Print the public key that verifies checkpoints (a JWK), to keep somewhere else.
    Key,
    /// Export sign-ins and audit records as OCSF events, one JSON object per line.
    Export {
        /// Only events at or after this RFC 3339 time, e.g. 2026-01-01T00:00:00Z.
        #[arg(long)]
        since: Option<String>,
        /// Output format; `jsonl` (OCSF 1.1.0 events) is the only one.
        #[arg(long, default_value = "jsonl")]
        format: String,
    },
}

#[derive(Subcommand, Debug)]
enum PolicyCommand {
    /// What would happen if this person signed in to this application from this address: the
    /// outcome, the rule that won and every reason (read-only; the server's own decision code).
    Explain(explain::ExplainArgs),
}

#[derive(Subcommand, Debug)]
enum KeysCommand {
    /// Generate new signing keys: published at once, signing after --activate-in; the old
    /// ones stay published until their tokens expire.
    Rotate {
        /// Seconds before the new keys start signing, so relying parties that cache the JWKS
        /// (the server allows 60 s) learn them first. 0 switches at once.
        #[arg(long, default_value_t = 120)]
        activate_in: u32,
    },
    /// List signing keys (read-only).
    List,
    /// Generate a new master key and re-wrap every data key under it (safe while the server
    /// runs); the old key stays for the backup retention period so older backups still open.
    RotateMaster,
}

#[derive(Subcommand, Debug)]
enum AppCommand {
    /// Generate a new high-entropy client secret and print it once.
    RotateSecret {
        #[arg(long)]
        client_id: String,
    },
}

fn main() -> ExitCode {
    std::thread::spawn(gatehouse_crypto::random::warm_up);
    let cli = Cli::parse();
    init_tracing();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        let file = settings::FileSettings::load(cli.common.config.as_deref())?;
        match cli.command {
            Command::Serve(args) => commands::serve(&cli.common, &file, *args).await,
            Command::Import { file: path, password } => commands::import(&cli.common, &file, &path, &password).await,
            Command::Keys(KeysCommand::Rotate { activate_in }) => commands::keys_rotate(&cli.common, &file, activate_in).await,
            Command::Keys(KeysCommand::List) => commands::keys_list(&cli.common, &file).await,
            Command::Keys(KeysCommand::RotateMaster) => privacy::rotate_master(&cli.common, &file).await,
            Command::Gdpr(GdprCommand::Export { email, format, out }) => privacy::export(&cli.common, &file, &email, &format, out.as_deref()).await,
            Command::Gdpr(GdprCommand::Erase { email, yes }) => privacy::erase(&cli.common, &file, &email, yes).await,
            Command::Backup(BackupCommand::Create { to }) => backup::create(&cli.common, &file, to.as_deref()).await,
            Command::Backup(BackupCommand::List { from }) => backup::list(&cli.common, &file, from.as_deref()).await,
            Command::Backup(BackupCommand::Verify { from }) => backup::verify(&cli.common, &file, &from).await,
            Command::Backup(BackupCommand::Restore { from, to, force }) => backup::restore(&cli.common, &file, &from, &to, force).await,
            Command::Analytics(AnalyticsCommand::Export { key_file, since, out }) => {
                privacy::analytics_export(&cli.common, &file, &key_file, since.as_deref(), out.as_deref()).await
            }
            Command::App(AppCommand::RotateSecret { client_id }) => commands::rotate_secret(&cli.common, &file, &client_id).await,
            Command::Status => commands::status(&cli.common, &file).await,
            Command::Policy(PolicyCommand::Explain(args)) => explain::explain(&cli.common, &file, &args).await,
            Command::Audit(AuditCommand::Verify { public_key }) => audit::verify(&cli.common, &file, public_key.as_deref()).await,
            Command::Audit(AuditCommand::Checkpoint) => audit::checkpoint(&cli.common, &file).await,
            Command::Audit(AuditCommand::Key) => audit::key(&cli.common, &file),
            Command::Audit(AuditCommand::Export { since, format }) => audit::export(&cli.common, &file, since.as_deref(), &format).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs to stderr; `GATEHOUSE_LOG` takes a filter such as `info` or `gatehouse_server=debug`.
fn init_tracing() {
    use tracing_subscriber::filter::Targets;
    use tracing_subscriber::prelude::*;
    let filter: Targets = std::env::var("GATEHOUSE_LOG")
        .ok()
        .and_then(|f| f.parse().ok())
        .unwrap_or_else(|| Targets::new().with_default(tracing::Level::INFO).with_target("sqlx", tracing::Level::WARN));
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_target(false);
    tracing_subscriber::registry().with(fmt).with(filter).init();
}
