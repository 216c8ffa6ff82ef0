//! `gatehouse audit ...`: verify the chain and its signed checkpoints (read-only, safe beside
//! a running server), sign a checkpoint, print the checkpoint key's public half, and export
//! OCSF events for a SIEM.

use anyhow::{Context, Result, bail};
use gatehouse_crypto::Ed25519PublicKey;
use gatehouse_server::monitor::siem::{self, Cursor};
use gatehouse_server::monitor::trail::{self, TrailError};
use gatehouse_store::sqlite::OpenMode;
use gatehouse_store::{AuditStore, Store};
use std::io::Write;
use std::path::Path;

use crate::clock::now;
use crate::datadir::DataDir;
use crate::settings::{CommonArgs, FileSettings};

pub async fn verify(common: &CommonArgs, file: &FileSettings, public_key: Option<&Path>) -> Result<()> {
    let data_dir = DataDir::new(&common.data_dir(file));
    let key = match public_key {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("cannot read --public-key {}", path.display()))?;
            let jwk: serde_json::Value = serde_json::from_str(&text).with_context(|| format!("--public-key {} is not a JWK (JSON)", path.display()))?;
            Some(Ed25519PublicKey::from_jwk(&jwk).with_context(|| format!("--public-key {} is not an Ed25519 public JWK", path.display()))?)
        }
        // Without the key file the chain and the checkpoints' hashes are still checked, not
        // their signatures: say so rather than pass quietly.
        None => match data_dir.checkpoint_key(false) {
            Ok(pkcs8) => Some(trail::public_key(&trail::checkpoint_key(&pkcs8)?)?),
            Err(_) => {
                eprintln!("warning: no checkpoint key in {}; checkpoint signatures are not checked", data_dir.path().display());
                None
            }
        },
    };
    let store = data_dir.open_store(OpenMode::ReadOnly, crate::master_key::provider(common.master_key_file.as_deref(), &data_dir, false).await?).await?;
    let result = trail::verify(&store, key.as_ref()).await;
    store.close().await;
    match result {
        Ok(report) => {
            println!("audit chain intact: {} records checked, up to record {}; {} signed checkpoints", report.records, report.last_seq, report.checkpoints);
            Ok(())
        }
        Err(TrailError::Store(e)) => Err(e).context("reading the audit trail failed"),
        Err(broken) => bail!("{broken}"),
    }
}

pub async fn checkpoint(common: &CommonArgs, file: &FileSettings) -> Result<()> {
    let (data_dir, store) = common.open(file, OpenMode::ReadWrite, false).await?;
    let key = trail::checkpoint_key(&data_dir.checkpoint_key(true)?)?;
    let made = trail::checkpoint(&store, &key, now()).await;
    store.close().await;
    match made? {
        Some(c) => println!("signed checkpoint at record {} (key {})", c.seq, c.kid),
        None => println!("the newest checkpoint already covers the newest record"),
    }
    Ok(())
}

pub fn key(common: &CommonArgs, file: &FileSettings) -> Result<()> {
    let data_dir = DataDir::new(&common.data_dir(file));
    let key = trail::checkpoint_key(&data_dir.checkpoint_key(false)?)?;
    println!("{}", key.public_jwk());
    Ok(())
}

pub async fn export(common: &CommonArgs, file: &FileSettings, since: Option<&str>, format: &str) -> Result<()> {
    if format != "jsonl" {
        bail!("--format: only jsonl (OCSF 1.1.0 events, one per line) is supported");
    }
    let since = match since {
        Some(text) => time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
            .with_context(|| format!("--since `{text}` is not an RFC 3339 time like 2026-01-01T00:00:00Z"))?
            .unix_timestamp(),
        None => 0,
    };
    let data_dir = DataDir::new(&common.data_dir(file));
    // Writable: the export is a read of personal data, and is itself recorded.
    let store = data_dir.open_store(OpenMode::ReadWrite, crate::master_key::provider(common.master_key_file.as_deref(), &data_dir, false).await?).await?;
    let result = write_all(&store, since).await;
    if let Ok(count) = &result {
        let record = gatehouse_core::audit::AuditEntry {
            at: now().unix_timestamp(),
            actor: "cli:export".into(),
            on_behalf_of: std::env::var("USER").ok(),
            action: "audit.export".into(),
            target: "siem".into(),
            tenant: None,
            before: None,
            after: Some(serde_json::json!({ "events": count, "since": since, "format": "ocsf-jsonl" })),
            address: None,
            user_agent: None,
            reason: None,
        };
        if let Err(e) = store.append_audit(&record).await {
            store.close().await;
            return Err(e).context("recording the export in the audit trail failed");
        }
    }
    store.close().await;
    let count = result?;
    eprintln!("exported {count} events");
    Ok(())
}

async fn write_all(store: &dyn Store, since: i64) -> Result<u64> {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut cursor = Cursor::default();
    let mut count = 0;
    loop {
        let (events, next) = siem::page(store, &cursor, since, 5000).await?;
        if next == cursor {
            break;
        }
        for event in &events {
            serde_json::to_writer(&mut out, event)?;
            out.write_all(b"\n")?;
        }
        count += events.len() as u64;
        cursor = next;
    }
    out.flush()?;
    Ok(count)
}
