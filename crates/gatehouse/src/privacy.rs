//! Data-protection subcommands: `keys rotate-master`, `gdpr export`, `gdpr erase` and
//! `analytics export`. Each is safe beside a running server (SQLite WAL; the server notices the
//! generation change and reloads).

use anyhow::{Context, Result, bail};
use gatehouse_core::Email;
use gatehouse_core::audit::AuditEntry;
use gatehouse_crypto::MasterKeyring;
use gatehouse_server::privacy::{analytics, report};
use gatehouse_store::sqlite::OpenMode;
use gatehouse_store::{AdminStore, AuditStore, KeyManagementStore, Store, StoreError};
use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;

use crate::clock::now;
use crate::datadir::DataDir;
use crate::master_key;
use crate::settings::{CommonArgs, FileSettings};

fn cli_audit(action: &str, target: String, reason: &str) -> AuditEntry {
    AuditEntry {
        at: now().unix_timestamp(),
        actor: "cli:gatehouse".into(),
        on_behalf_of: std::env::var("USER").ok(),
        action: action.into(),
        target,
        tenant: None,
        before: None,
        after: None,
        address: None,
        user_agent: None,
        reason: Some(reason.into()),
    }
}

/// `gatehouse keys rotate-master`: a new master key in the keyring file, every master-wrapped
/// data key re-wrapped under it, retired keys dropped once older than the backup retention.
pub async fn rotate_master(common: &CommonArgs, file: &FileSettings) -> Result<()> {
    let data_dir = DataDir::new(&common.data_dir(file));
    let (path, _) = master_key::location(common.master_key_file.as_deref(), &data_dir);
    // One rotation at a time: two at once could each drop the key the other re-wrapped under.
    let lock = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(path.with_extension("key.lock"))?;
    lock.try_lock().map_err(|_| anyhow::anyhow!("another master-key rotation is running"))?;
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read master key file {}", path.display()))?;
    let mut ring = MasterKeyring::parse(&text).with_context(|| format!("master key file {} is not valid", path.display()))?;
    let store = data_dir.open_store(OpenMode::ReadWrite, std::sync::Arc::new(master_key::FileKeyProvider::load(&path)?)).await?;
    let in_use = store.master_keys_in_use().await?;
    let now = now();
    // Backups taken before the rotation carry keys wrapped under the old key: keep it for as
    // long as they are (and a day's margin).
    let keep_days = i64::from(file.retention.backup_days) + 1;
    let drop_before = now.checked_sub(time::Duration::days(keep_days)).map_or(i64::MIN, |t| t.unix_timestamp());
    let new_id = ring.rotate(now.unix_timestamp(), drop_before, &in_use)?;
    master_key::write(&path, &ring)?;
    // A provider that reads the new file: the running server picks it up the same way.
    let provider = std::sync::Arc::new(master_key::FileKeyProvider::load(&path)?);
    store.close().await;
    let store = data_dir.open_store(OpenMode::ReadWrite, provider).await?;
    let report = store.rewrap_data_keys().await?;
    let missing: Vec<String> = store.master_keys_in_use().await?.into_iter().filter(|id| !ring.has(id)).collect();
    if !missing.is_empty() {
        bail!("data keys are still wrapped under master keys missing from {}: {}", path.display(), missing.join(", "));
    }
    let mut audit = cli_audit("keys.rotate_master", format!("master_key:{new_id}"), "master-key rotation");
    audit.after = Some(serde_json::json!({ "previous": report.previous_masters, "rewrapped": report.rewrapped }));
    store.append_audit(&audit).await?;
    store.close().await;
    drop(lock);
    println!("New master key {new_id}; {} data keys re-wrapped (from {}).", report.rewrapped, report.previous_masters.join(", "));
    for (id, retired) in ring.ids() {
        if retired {
            println!("  {id} is retired; it stays in {} for {keep_days} days so older backups still open", path.display());
        }
    }
    Ok(())
}

async fn person(store: &dyn Store, email: &str) -> Result<std::sync::Arc<gatehouse_core::model::User>> {
    let email = Email::parse(email).map_err(|e| anyhow::anyhow!("--email: {e}"))?;
    match store.user_by_email(&email).await? {
        Some(user) => Ok(std::sync::Arc::new(user)),
        None => bail!("no account has the email {email}"),
    }
}

/// `gatehouse gdpr export --email E`: the access report, as JSON (stdout or `--out FILE`) or as
/// CSV tables (`--format csv --out DIR`, a new or empty directory).
pub async fn export(common: &CommonArgs, file: &FileSettings, email: &str, format: &str, out: Option<&Path>) -> Result<()> {
    let (_, store) = common.open(file, OpenMode::ReadWrite, false).await?;
    let user = person(&store, email).await?;
    let tenant = store.tenant(&user.tenant_id).await?;
    let document = report::access_report(&store, &user, tenant.as_ref(), &file.retention, now()).await?;
    match (format, out) {
        ("json", None) => println!("{}", serde_json::to_string_pretty(&document)?),
        ("json", Some(path)) => write_private(path, serde_json::to_string_pretty(&document)?.as_bytes())?,
        ("csv", Some(dir)) => {
            if dir.exists() && std::fs::read_dir(dir)?.next().is_some() {
                bail!("--out {} is not empty; choose a new directory", dir.display());
            }
            std::fs::create_dir_all(dir)?;
            for (name, csv) in report::csv_tables(&document) {
                write_private(&dir.join(format!("{name}.csv")), csv.as_bytes())?;
            }
        }
        ("csv", None) => bail!("--format csv writes one file per table: give --out DIR"),
        (other, _) => bail!("--format must be json or csv, not {other}"),
    }
    let mut audit = cli_audit("personal_data.export", format!("user:{}", user.id), "access request").in_tenant(user.tenant_id.as_str());
    audit.after = Some(serde_json::json!({ "format": format }));
    store.append_audit(&audit).await?;
    store.close().await;
    Ok(())
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .create_new(true)
        .write(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {} (it must not exist)", path.display()))?;
    f.write_all(bytes)?;
    Ok(())
}

/// `gatehouse gdpr erase --email E`: crypto-shredding erasure, after confirmation.
pub async fn erase(common: &CommonArgs, file: &FileSettings, email: &str, yes: bool) -> Result<()> {
    let (_, store) = common.open(file, OpenMode::ReadWrite, false).await?;
    let user = person(&store, email).await?;
    if !yes {
        if !std::io::stdin().is_terminal() {
            bail!("erasure cannot be undone: confirm with --yes when not at a terminal");
        }
        eprint!("Erase {} ({}) for good? Their data becomes unreadable everywhere, backups included. Type the email again to confirm: ", user.email, user.id);
        std::io::stderr().flush()?;
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if Email::parse(answer.trim()).ok().as_ref() != Some(&user.email) {
            bail!("not confirmed; nothing was erased");
        }
    }
    let audit = cli_audit("user.erase", format!("user:{}", user.id), "erasure request").in_tenant(user.tenant_id.as_str());
    let data_dir = DataDir::new(&common.data_dir(file));
    // The same directory a server on this data directory writes to (its locks keep a line it
    // appends meanwhile from being lost or brought back).
    let outbox = gatehouse_server::delivery::DevOutbox::new(&data_dir.path().join("outbox"));
    let erased = match gatehouse_server::privacy::erasure::erase_user(&store, &outbox, &user, now(), &audit).await {
        Ok(Some(erased)) => erased,
        Ok(None) => bail!("no account has the email {email}"),
        Err(StoreError::Conflict(reason)) => bail!("{reason}"),
        Err(e) => return Err(e.into()),
    };
    // Their key leaves the backups' key vaults: backups taken earlier cannot open them either.
    let provider = master_key::provider(common.master_key_file.as_deref(), &data_dir, false).await?;
    let configured = std::env::var("GATEHOUSE_BACKUP_TARGET").ok().or(file.backup.target.clone());
    let failed = gatehouse_server::backups::refresh_all_key_vaults(&store, provider, data_dir.path(), configured.as_deref(), now()).await;
    store.close().await;
    let mut incomplete = Vec::new();
    if let Err(e) = &erased.outbox {
        incomplete.push(format!("the development outbox in {} still holds the person's lines ({e}); remove them by hand", outbox.dir().display()));
    }
    if !failed.is_empty() {
        let list = failed.iter().map(|(spec, e)| format!("{spec}: {e}")).collect::<Vec<_>>().join("; ");
        incomplete.push(format!("the key vault of these backup targets still holds the person's key until their next backup: {list}"));
    }
    if !incomplete.is_empty() {
        bail!("erased, but {}", incomplete.join("; and "));
    }
    let erasure = &erased.erasure;
    println!(
        "Erased user:{}: their data key is destroyed; {} factors, {} sign-ins and {} devices removed, {} sessions ended. Audit records keep the pseudonymous id user:{}.",
        erasure.user, erasure.factors, erasure.sign_ins, erasure.devices, erasure.sessions, erasure.user
    );
    if let Ok(lines) = erased.outbox
        && lines > 0
    {
        println!("{lines} lines about them were removed from the development outbox.");
    }
    Ok(())
}

/// `gatehouse analytics export --key-file K`: pseudonymised statistics as JSON. The key file (32
/// random bytes, created when missing) keeps pseudonyms stable across exports.
pub async fn analytics_export(common: &CommonArgs, file: &FileSettings, key_file: &Path, since: Option<&str>, out: Option<&Path>) -> Result<()> {
    let since = since
        .map(|s| time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).with_context(|| format!("--since {s}: not an RFC 3339 time")))
        .transpose()?;
    let key = match std::fs::read(key_file) {
        Ok(bytes) if bytes.len() == 32 => bytes,
        Ok(_) => bail!("{} is not an export key (32 bytes)", key_file.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = gatehouse_crypto::random::bytes::<32>()?.to_vec();
            write_private(key_file, &key)?;
            eprintln!("created export key {}; keep it to relate later exports to this one", key_file.display());
            key
        }
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", key_file.display())),
    };
    let (_, store) = common.open(file, OpenMode::ReadOnly, false).await?;
    let document = analytics::export(&store, &key, since, now()).await?;
    store.close().await;
    let text = serde_json::to_string_pretty(&document)?;
    match out {
        Some(path) => write_private(path, text.as_bytes()),
        None => {
            println!("{text}");
            Ok(())
        }
    }
}
