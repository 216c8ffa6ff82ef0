//! `gatehouse backup create|list|verify|restore`, and the nightly plan `serve` runs.

use anyhow::{Context, Result, bail};
use gatehouse_backup::BackupTarget;
use gatehouse_crypto::KeyProvider;
use gatehouse_server::backups::{self, NightlyBackups};
use gatehouse_store::Store;
use gatehouse_store::sqlite::{OpenMode, SqliteOpener};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::clock::now;
use crate::datadir::DataDir;
use crate::master_key;
use crate::settings::{CommonArgs, FileSettings};

fn keep(file: &FileSettings) -> time::Duration {
    time::Duration::days(i64::from(file.retention.backup_days))
}

/// Parses a target and refuses one inside the data directory: a backup must survive the loss
/// of the directory it protects.
fn target(spec: &str, data_dir: &DataDir) -> Result<BackupTarget> {
    let target = BackupTarget::parse(spec).with_context(|| format!("backup target {spec:?}"))?;
    if !spec.contains("://") || spec.starts_with("file://") {
        // Both exist by now (parsing creates a local target): compare real paths, links and
        // `..` resolved.
        let local = PathBuf::from(spec.trim_start_matches("file://"));
        let real = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| std::path::absolute(p).unwrap_or_else(|_| p.to_owned()));
        if real(&local).starts_with(real(data_dir.path())) {
            bail!("backup target {spec:?} is inside the data directory {}; choose a place that survives its loss", data_dir.path().display());
        }
    }
    Ok(target)
}

/// The nightly backup `serve` runs, when a target is configured.
pub fn nightly(spec: Option<&str>, file: &FileSettings, data_dir: &DataDir, provider: Arc<dyn KeyProvider>) -> Result<Option<NightlyBackups>> {
    let Some(spec) = spec else {
        tracing::warn!("no backup target configured ([backup] target or --backup-target): nightly backups are off");
        return Ok(None);
    };
    if file.backup.hour_utc > 23 {
        bail!("[backup] hour_utc must be 0 to 23, not {}", file.backup.hour_utc);
    }
    let target = target(spec, data_dir)?;
    Ok(Some(NightlyBackups {
        spec: spec.to_owned(),
        target: Arc::new(target),
        provider,
        data_dir: data_dir.path().to_owned(),
        hour_utc: file.backup.hour_utc,
        keep: keep(file),
    }))
}

fn configured<'a>(flag: Option<&'a str>, file: &'a FileSettings) -> Result<&'a str> {
    flag.or(file.backup.target.as_deref()).context("no backup target: give one, or set [backup] target in the settings file")
}

/// `gatehouse backup create [--to TARGET]`: a backup now (safe beside a running server), then
/// pruning past retention.
pub async fn create(common: &CommonArgs, file: &FileSettings, to: Option<&str>) -> Result<()> {
    let data_dir = DataDir::new(&common.data_dir(file));
    let spec = configured(to, file)?;
    let target = target(spec, &data_dir)?;
    let provider = master_key::provider(common.master_key_file.as_deref(), &data_dir, false).await?;
    let store = data_dir.open_store(OpenMode::ReadOnly, provider.clone()).await?;
    backups::remember_target(data_dir.path(), spec)?;
    let now = now();
    let made = backups::create(&store, provider, data_dir.path(), &target, now).await;
    store.close().await;
    let made = made?;
    let pruned = target.prune(now, keep(file)).await?;
    println!("Backup {} written to {} ({} bytes, sha256 {}).", made.name, target.describe(), made.size, made.sha256);
    if !pruned.is_empty() {
        println!("Pruned {} backups older than {} days: {}", pruned.len(), file.retention.backup_days, pruned.join(", "));
    }
    Ok(())
}

/// `gatehouse backup list [--from TARGET]`.
pub async fn list(common: &CommonArgs, file: &FileSettings, from: Option<&str>) -> Result<()> {
    let data_dir = DataDir::new(&common.data_dir(file));
    let target = target(configured(from, file)?, &data_dir)?;
    for backup in target.list().await? {
        println!("{}  {}  {} bytes  sha256 {}", backup.name, backup.created_at, backup.size, backup.sha256);
    }
    Ok(())
}

/// A private temporary directory, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Result<Self> {
        use std::os::unix::fs::DirBuilderExt;
        let path = std::env::temp_dir().join(format!("gatehouse-{tag}-{}", gatehouse_crypto::random::id()?));
        std::fs::DirBuilder::new().mode(0o700).create(&path).with_context(|| format!("cannot create {}", path.display()))?;
        Ok(Self(path))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `gatehouse backup verify --from BACKUP`: decrypts, checks every file, opens the database
/// and verifies the audit chain. Exits non-zero on any failure.
pub async fn verify(common: &CommonArgs, file: &FileSettings, from: &str) -> Result<()> {
    let data_dir = DataDir::new(&common.data_dir(file));
    let provider = master_key::provider(common.master_key_file.as_deref(), &data_dir, false).await?;
    let scratch = Scratch::new("verify")?;
    let (archive, _) = gatehouse_backup::fetch(from, &scratch.0).await.with_context(|| format!("backup {from}"))?;
    let target = gatehouse_backup::target_of(from)?;
    let verified = backups::verify(&SqliteOpener, &archive, provider, &target, &scratch.0).await.with_context(|| format!("backup {from} does not verify"))?;
    let header = &verified.manifest.header;
    println!(
        "Backup of {} verified: {} files intact, database opens under master key {}, every person's key is in the target's key vault ({} erased since), audit chain intact ({} records, {} checkpoints); {} tenants, {} users, {} applications.",
        header.created_at,
        header.files.len(),
        header.master_key_id,
        verified.erased_since,
        verified.audit_records,
        verified.checkpoints,
        verified.counts.tenants,
        verified.counts.users,
        verified.counts.clients
    );
    Ok(())
}

/// `gatehouse backup restore --from BACKUP --to DIR [--force]`: restores into a new data
/// directory. An existing one is never overwritten without `--force`, never while a server
/// uses it, and even then is kept aside (renamed), not deleted.
pub async fn restore(common: &CommonArgs, file: &FileSettings, from: &str, to: &Path, force: bool) -> Result<()> {
    let data_dir = DataDir::new(&common.data_dir(file));
    let provider = master_key::provider(common.master_key_file.as_deref(), &data_dir, false).await?;
    let existing =
        to.exists() && std::fs::read_dir(to).with_context(|| format!("cannot read {}", to.display()))?.any(|e| e.is_ok_and(|e| e.file_name() != LOCK_FILE));
    if existing && !force {
        bail!("{} is not empty; restoring never overwrites a data directory without --force", to.display());
    }
    // The destination's server lock, held to the end: no server starts on it meanwhile, and
    // one already running on it stops the restore here.
    let destination = DataDir::new(to);
    let created = !to.exists();
    destination.create()?;
    let lock = match destination.lock_for_server() {
        Ok(lock) => lock,
        Err(e) => return Err(e.context("a server is using the directory; stop it first")),
    };
    let restored = restore_into(to, existing, from, provider).await;
    drop(lock);
    if restored.is_err() && created {
        // Nothing of a failed restore stays behind.
        let _ = std::fs::remove_dir_all(to);
    }
    restored
}

async fn restore_into(to: &Path, existing: bool, from: &str, provider: Arc<dyn KeyProvider>) -> Result<()> {
    let parent = std::path::absolute(to)?.parent().map(Path::to_owned).context("--to has no parent directory")?;
    let scratch = Scratch::new("restore")?;
    let (archive, _) = gatehouse_backup::fetch(from, &scratch.0).await.with_context(|| format!("backup {from}"))?;
    // Unpacked next to the destination (same file system, so the last step is renames).
    let staging = Staging::new(&parent)?;
    let (opening, into, opener) = (archive.clone(), staging.0.clone(), provider.clone());
    let unpacked = tokio::task::spawn_blocking(move || gatehouse_backup::open_archive(&opening, opener.as_ref(), &into)).await?;
    let checked = match unpacked {
        Ok(manifest) => finish(&staging.0, provider, from).await.map(|(keys, found)| (manifest, keys, found)),
        Err(e) => Err(e.into()),
    };
    let (manifest, (keys, erased), (counts, trail)) = checked.with_context(|| format!("backup {from} was not restored; {} is unchanged", to.display()))?;
    if existing {
        let aside = parent.join(format!("{}.replaced-{}", to.file_name().and_then(|n| n.to_str()).unwrap_or("data"), now().unix_timestamp()));
        std::fs::create_dir(&aside)?;
        for entry in std::fs::read_dir(to)? {
            let entry = entry?;
            if entry.file_name() != LOCK_FILE {
                std::fs::rename(entry.path(), aside.join(entry.file_name())).with_context(|| format!("cannot move {} aside", entry.path().display()))?;
            }
        }
        println!("The previous contents of {} are kept in {}.", to.display(), aside.display());
    }
    // The backup's own files (the check's SQLite side files stay in staging).
    for name in manifest.header.files.iter().map(|f| f.name.as_str()) {
        std::fs::rename(staging.0.join(name), to.join(name)).with_context(|| format!("cannot move the restored {name} into {}", to.display()))?;
    }
    println!(
        "Restored the backup of {} into {}: {} tenants, {} users ({keys} keys from the target's key vault; {erased} people erased since the backup left out), audit chain intact ({} records). Start it with the same master key: gatehouse --data-dir {} --master-key-file <key> serve",
        manifest.header.created_at,
        to.display(),
        counts.tenants,
        counts.users,
        trail.records,
        to.display()
    );
    Ok(())
}

const LOCK_FILE: &str = "server.lock";

/// A private staging directory beside the destination, removed unless emptied into it.
struct Staging(PathBuf);

impl Staging {
    fn new(parent: &Path) -> Result<Self> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::create_dir_all(parent)?;
        let path = parent.join(format!(".gatehouse-restore-{}", gatehouse_crypto::random::id()?));
        std::fs::DirBuilder::new().mode(0o700).create(&path).with_context(|| format!("cannot create {}", path.display()))?;
        Ok(Self(path))
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The users' keys from the target's vault, then the database opened and its trail verified.
async fn finish(
    dir: &Path,
    provider: Arc<dyn KeyProvider>,
    from: &str,
) -> Result<((u64, u64), (gatehouse_store::DirectoryCounts, gatehouse_server::monitor::trail::TrailReport))> {
    let target = gatehouse_backup::target_of(from)?;
    let keys = backups::restore_key_vault(&SqliteOpener, dir, provider.clone(), &target).await?;
    Ok((keys, backups::check_restored(&SqliteOpener, dir, provider).await?))
}
