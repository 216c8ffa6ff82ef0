//! Subcommand implementations.

use anyhow::{Context, Result, bail};
use gatehouse_core::{ClientId, SigningAlg};
use gatehouse_crypto::{PasswordHasher, SecretDigester};
use gatehouse_server::{Server, ServerConfig, TlsFiles};
use gatehouse_store::sqlite::OpenMode;
use gatehouse_store::{DirectoryStore, GenerationStore, ImportStore, KeyStore, Store};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;
use url::Url;

use crate::clock::now;
use crate::datadir::DataDir;
use crate::settings::{CommonArgs, DEFAULT_LISTEN, FileSettings, PasswordArgs, ServeArgs};
use crate::{demo, import};

pub async fn serve(common: &CommonArgs, file: &FileSettings, args: ServeArgs) -> Result<()> {
    let started = Instant::now();
    let data_dir = DataDir::new(&common.data_dir(file));
    data_dir.create()?;
    let _lock = data_dir.lock_for_server()?;
    let provider = crate::master_key::provider(common.master_key_file.as_deref(), &data_dir, true).await?;
    let store: Arc<dyn Store> = Arc::new(data_dir.open_store(OpenMode::ReadWrite, provider.clone()).await?);
    let pepper = data_dir.pepper(true)?;

    let tls = match (args.tls_cert, args.tls_key, &file.tls) {
        (Some(cert), Some(key), _) => Some(TlsFiles { cert, key }),
        (None, None, Some(t)) => Some(TlsFiles { cert: t.cert.clone(), key: t.key.clone() }),
        _ => None,
    };
    let listen = match args.listen.or(file.listen) {
        Some(l) => l,
        None => DEFAULT_LISTEN.parse()?,
    };
    let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
    let bound = listener.local_addr()?;
    let demo = args.demo.or(file.demo).unwrap_or(false);
    let derived = if demo { ServerConfig::demo_issuer } else { ServerConfig::default_issuer };
    let issuer = args.issuer.or(file.issuer.clone()).unwrap_or_else(|| derived(bound, tls.is_some()));
    let issuer = issuer.trim_end_matches('/').to_owned();
    let parsed = Url::parse(&issuer).with_context(|| format!("issuer `{issuer}` is not a URL"))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.query().is_some() || parsed.fragment().is_some() {
        bail!("issuer `{issuer}` must be an http(s) URL without query or fragment");
    }

    let mut config = ServerConfig::new(bound, issuer.clone());
    config.tls = tls;
    config.demo = demo;
    config.dev_outbox = crate::settings::dev_outbox(args.dev_outbox, file.dev_outbox, config.demo);
    config.password = args.password.resolve(&file.password);
    (config.sessions, config.tokens) = args.lifetimes.resolve(&file.sessions, &file.tokens)?;
    config.sms = args.sms.resolve(&file.sms)?;
    config.connections = args.connections.resolve(&file.connections)?;
    config.federation_allow_private_networks = args.federation_allow_private_networks.or(file.federation.allow_private_networks).unwrap_or(false);
    let proxies = if args.trusted_proxies.is_empty() { &file.trusted_proxies } else { &args.trusted_proxies };
    config.trusted_proxies =
        proxies.iter().map(|p| gatehouse_policy::Cidr::parse(p).map_err(|e| anyhow::anyhow!("trusted_proxies: {p:?}: {e}"))).collect::<Result<_>>()?;
    config.outbox_dir = data_dir.path().join("outbox");
    config.reports_dir = data_dir.path().join("reports");
    file.lockout.validate().map_err(|e| anyhow::anyhow!("lockout: {e}"))?;
    if !(1..=365).contains(&file.detection.reported_address_days) {
        bail!("detection.reported_address_days must be between 1 and 365, not {}", file.detection.reported_address_days);
    }
    config.monitoring = gatehouse_server::MonitoringSettings {
        lockout: file.lockout,
        detection: file.detection,
        sinks: args.alerts.resolve(&file.alerts)?,
        notifier: file.notifications.resolve()?,
        retention: file.retention,
        checkpoint_key: Some(gatehouse_server::CheckpointKey(data_dir.checkpoint_key(true)?)),
    };
    config.backups = crate::backup::nightly(args.backup_target.as_deref().or(file.backup.target.as_deref()), file, &data_dir, provider)?;

    let import_file = args.import.or(file.import.clone());
    let mut demo_credentials = None;
    if import_file.is_some() || config.demo {
        let hasher = PasswordHasher::new(config.password)?;
        if let Some(path) = import_file {
            run_import(store.as_ref(), &hasher, &SecretDigester::new(&pepper), &path).await?;
        }
        if config.demo {
            demo_credentials = Some(demo::ensure(store.as_ref(), &hasher, data_dir.path(), &issuer, now()).await?);
        }
    }

    let server = Server::with_listener(listener, config, store, &pepper).await?;
    // Install the signal handlers before announcing readiness, so a SIGTERM sent as soon as
    // the server says it listens is a graceful stop, not the default kill.
    let shutdown = shutdown_signal()?;
    println!("Gatehouse listening on {bound} (issuer {issuer}); ready in {} ms", started.elapsed().as_millis());
    if let Some(creds) = demo_credentials {
        println!("Demo: open {issuer}/demo in a browser and sign in as {} with password {}", creds.email, creds.password);
    }
    server.run(shutdown).await;
    println!("Gatehouse stopped");
    Ok(())
}

/// Resolves on SIGTERM or Ctrl-C. The handlers are registered when this is called.
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("cannot install the SIGTERM handler")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot install the SIGINT handler")?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = interrupt.recv() => {}
        }
        tracing::info!("shutdown requested; draining connections");
    })
}

async fn run_import(store: &dyn Store, hasher: &PasswordHasher, digester: &SecretDigester, path: &Path) -> Result<()> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read import file {}", path.display()))?;
    let mut warnings = Vec::new();
    let ctx = import::PlanContext { hasher, digester, store, warnings: &mut warnings };
    let mut plan = import::plan(&path.display().to_string(), &text, ctx).await?;
    // Recorded only if the import changes something (in the same transaction). What the file
    // names, never its secrets.
    let after = serde_json::json!({
        "tenants": plan.tenants.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
        // People by count only: the trail outlives an erasure and must hold no personal data.
        "users": plan.tenants.iter().map(|t| t.users.len()).sum::<usize>(),
        "applications": plan.clients.iter().map(|c| c.client_id.as_str()).collect::<Vec<_>>(),
    });
    plan.audit.push(gatehouse_core::audit::AuditEntry {
        at: now().unix_timestamp(),
        actor: "cli:import".into(),
        on_behalf_of: std::env::var("USER").ok(),
        action: "import.apply".into(),
        target: format!("file:{}", path.display()),
        tenant: None,
        before: None,
        after: Some(after),
        address: None,
        user_agent: None,
        reason: None,
    });
    for warning in &warnings {
        eprintln!("warning: {warning}");
    }
    // Who the file makes an admin that was not one: each raises a role-escalation alert.
    let mut escalated = Vec::new();
    for user in plan.tenants.iter().flat_map(|t| t.users.iter()).filter(|u| u.roles.iter().any(|r| r == "admin")) {
        if !store.user_by_email(&user.email).await?.is_some_and(|existing| existing.roles.iter().any(|r| r == "admin")) {
            escalated.push(user.email.clone());
        }
    }
    let summary = store.apply_import(&plan, now()).await.with_context(|| format!("import of {} failed; nothing was changed", path.display()))?;
    for email in escalated {
        let Some(user) = store.user_by_email(&email).await? else { continue };
        let at = now();
        let alert = gatehouse_core::alert::Alert {
            id: format!("{:020x}-{}", at.unix_timestamp_nanos().max(0), gatehouse_crypto::random::id()?),
            at: at.unix_timestamp(),
            tenant: Some(user.tenant_id.as_str().to_owned()),
            kind: gatehouse_core::alert::AlertKind::RoleEscalation,
            severity: gatehouse_core::alert::AlertKind::RoleEscalation.severity(),
            subject: format!("user:{}", user.id),
            summary: format!("user:{} was made an admin by an import of {}", user.id, path.display()),
            details: serde_json::json!({ "user": user.id.as_str(), "by": "cli:import", "file": path.display().to_string() }),
            acknowledged_at: None,
            acknowledged_by: None,
        };
        // Delivered by the running server's dispatcher, which picks up stored alerts.
        store.raise_alert(&alert, true).await?;
    }
    println!("Imported {}: {}", path.display(), import::describe(&summary));
    Ok(())
}

pub async fn import(common: &CommonArgs, file: &FileSettings, path: &Path, password: &PasswordArgs) -> Result<()> {
    let (data_dir, store) = common.open(file, OpenMode::ReadWrite, true).await?;
    let pepper = data_dir.pepper(true)?;
    let hasher = PasswordHasher::new(password.resolve(&file.password))?;
    let result = run_import(&store, &hasher, &SecretDigester::new(&pepper), path).await;
    store.close().await;
    result
}

pub async fn keys_rotate(common: &CommonArgs, file: &FileSettings, activate_in: u32) -> Result<()> {
    let (_, store) = common.open(file, OpenMode::ReadWrite, false).await?;
    let now = now();
    let activates_at = now + time::Duration::seconds(i64::from(activate_in));
    let fresh = SigningAlg::ALL.iter().map(|alg| gatehouse_server::state::new_stored_key(*alg, now, activates_at)).collect::<Result<Vec<_>, _>>()?;
    let keys = serde_json::json!(
        fresh.iter().map(|k| serde_json::json!({ "kid": k.kid, "alg": k.alg.as_str(), "activates_at": k.activates_at.unix_timestamp() })).collect::<Vec<_>>()
    );
    store.rotate_signing_keys(&fresh, &cli_audit("key.rotate", "keys".into(), Some(keys))).await?;
    store.bump_generation().await?;
    for key in &fresh {
        println!("new {} key {} (published now, signing from {})", key.alg.as_str(), key.kid, key.activates_at);
    }
    println!(
        "A running server publishes the new keys within seconds. Previous keys sign until then and stay published until the tokens they signed have expired."
    );
    store.close().await;
    Ok(())
}

/// An audit record of a change made with the CLI by the operating-system user running it.
fn cli_audit(action: &str, target: String, after: Option<serde_json::Value>) -> gatehouse_core::audit::AuditEntry {
    gatehouse_core::audit::AuditEntry {
        at: now().unix_timestamp(),
        actor: format!("cli:{}", action.split('.').next().unwrap_or("admin")),
        on_behalf_of: std::env::var("USER").ok(),
        action: action.to_owned(),
        target,
        tenant: None,
        before: None,
        after,
        address: None,
        user_agent: None,
        reason: None,
    }
}

pub async fn keys_list(common: &CommonArgs, file: &FileSettings) -> Result<()> {
    let (_, store) = common.open(file, OpenMode::ReadOnly, false).await?;
    for key in store.signing_keys().await? {
        let now = now();
        let state = match key.retired_at {
            _ if key.signs_at(now) => "active".to_owned(),
            _ if key.is_pending(now) => format!("pending, signing from {}", key.activates_at),
            Some(at) => format!("retired {at}"),
            None => "inactive".to_owned(),
        };
        println!("{:<6} {} created {} {state}", key.alg.as_str(), key.kid, key.created_at);
    }
    Ok(())
}

pub async fn rotate_secret(common: &CommonArgs, file: &FileSettings, client_id: &str) -> Result<()> {
    let client_id = ClientId::parse(client_id).map_err(|e| anyhow::anyhow!("--client-id: {e}"))?;
    let (data_dir, store) = common.open(file, OpenMode::ReadWrite, false).await?;
    let pepper = data_dir.pepper(true)?;
    let secret = gatehouse_crypto::random::token()?;
    let digest = SecretDigester::new(&pepper).digest(&secret);
    let audit = cli_audit("application.secret.rotate", format!("client:{client_id}"), None);
    let updated = store.set_client_secret(&client_id, &digest, now(), &audit).await?;
    store.close().await;
    if !updated {
        bail!("no application with client_id `{client_id}`");
    }
    println!("{secret}");
    eprintln!("This is the only time the secret is shown; store it in the application's configuration.");
    Ok(())
}

pub async fn status(common: &CommonArgs, file: &FileSettings) -> Result<()> {
    let (data_dir, store) = common.open(file, OpenMode::ReadOnly, false).await?;
    let counts = store.counts().await?;
    let keys = store.signing_keys().await?;
    println!("data directory: {}", data_dir.path().display());
    println!("tenants: {}\nusers: {}\napplications: {}", counts.tenants, counts.users, counts.clients);
    let now = now();
    let active = keys.iter().filter(|k| k.signs_at(now)).count();
    let pending = keys.iter().filter(|k| k.is_pending(now)).count();
    println!("signing keys: {active} active, {pending} pending, {} retired", keys.len() - active - pending);
    println!("generation: {}", store.generation().await?);
    Ok(())
}
