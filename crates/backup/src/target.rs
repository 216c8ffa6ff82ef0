//! Where backups are kept: a local directory or an S3-compatible bucket, both behind one
//! `ObjectStore`, so every operation has a single code path. A backup is two objects,
//! `<name>.ghbk` and `<name>.manifest.json`; the manifest is written after the archive and
//! deleted before it, so a backup is listed only while it is complete.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::{StreamExt as _, TryStreamExt as _};
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, PutPayload, WriteMultipart};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::BackupError;
use crate::manifest::{Manifest, check_file_name, hex};

const ARCHIVE_SUFFIX: &str = ".ghbk";
/// The one object holding users' data keys (see `gatehouse_store::SnapshotStore`): replaced,
/// never versioned, so a key deleted from it is gone from every backup of the target. Do not
/// enable object versioning on it.
const KEY_VAULT: &str = "gatehouse-user-keys.ghkv";
const MANIFEST_SUFFIX: &str = ".manifest.json";
/// S3 parts must be at least 5 MiB; larger parts mean fewer requests for a big database.
const PART_SIZE: usize = 8 << 20;
const UPLOAD_CONCURRENCY: usize = 2;
const LIST_CONCURRENCY: usize = 8;

/// A complete backup in a target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupInfo {
    /// The backup's name (its objects are `<name>.ghbk` and `<name>.manifest.json`).
    pub name: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Archive size in bytes.
    pub size: u64,
    /// Archive SHA-256, lowercase hex.
    pub sha256: String,
}

/// A place backups are written to and read from.
pub struct BackupTarget {
    store: Arc<dyn ObjectStore>,
    prefix: StorePath,
    description: String,
}

impl std::fmt::Debug for BackupTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackupTarget").field("description", &self.description).finish_non_exhaustive()
    }
}

impl BackupTarget {
    /// Parses a target: `s3://bucket[/prefix]` (credentials, region and endpoint come from the
    /// `AWS_*` environment variables), `file:///absolute/path`, or a local directory path. A
    /// local directory is created if missing.
    pub fn parse(spec: &str) -> Result<Self, BackupError> {
        let invalid = |reason: &str| BackupError::InvalidTarget { spec: spec.to_owned(), reason: reason.to_owned() };
        if let Some(rest) = spec.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(invalid("the bucket name is missing"));
            }
            if let Some((_, host)) = bucket.rsplit_once('@') {
                // Not echoed back: what precedes the `@` is probably a secret.
                return Err(BackupError::InvalidTarget {
                    spec: format!("s3://…@{host}"),
                    reason: "credentials do not belong in the target; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY".to_owned(),
                });
            }
            let prefix = StorePath::parse(prefix.trim_end_matches('/')).map_err(|e| invalid(&format!("bad prefix: {e}")))?;
            let store = AmazonS3Builder::from_env().with_bucket_name(bucket).build().map_err(|e| invalid(&format!("cannot configure S3 access: {e}")))?;
            let description = if prefix.as_ref().is_empty() { format!("s3://{bucket}") } else { format!("s3://{bucket}/{prefix}") };
            return Ok(Self { store: Arc::new(store), prefix, description });
        }
        let dir = match spec.strip_prefix("file://") {
            Some(path) if path.starts_with('/') => PathBuf::from(path),
            Some(_) => return Err(invalid("a file:// target needs an absolute path (file:///path)")),
            None if spec.contains("://") => return Err(invalid("supported targets are a directory, file:///path and s3://bucket/prefix")),
            None if spec.is_empty() => return Err(invalid("the target is empty")),
            None => PathBuf::from(spec),
        };
        std::fs::create_dir_all(&dir).map_err(BackupError::io(format!("cannot create the backup directory `{}`", dir.display())))?;
        let store = LocalFileSystem::new_with_prefix(&dir).map_err(|e| invalid(&e.to_string()))?;
        Ok(Self { store: Arc::new(store), prefix: StorePath::default(), description: format!("directory `{}`", dir.display()) })
    }

    /// Names the target for messages; never includes credentials.
    pub fn describe(&self) -> &str {
        &self.description
    }

    fn object(&self, file_name: &str) -> StorePath {
        self.prefix.child(file_name)
    }

    /// Uploads an archive made by [`crate::seal_files`] (streamed in parts), then its manifest,
    /// which marks the backup complete.
    pub async fn upload(&self, archive: &Path, manifest: &Manifest) -> Result<BackupInfo, BackupError> {
        let name = backup_name(manifest.header.created_at)?;
        let archive_object = self.object(&format!("{name}{ARCHIVE_SUFFIX}"));
        let context = format!("cannot upload `{archive_object}` to {}", self.description);
        let upload = self.store.put_multipart(&archive_object).await.map_err(BackupError::store(context.clone()))?;
        let mut upload = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
        match send_file(archive, &mut upload, &context).await {
            Ok(()) => {
                upload.finish().await.map_err(BackupError::store(context))?;
            }
            Err(e) => {
                let _ = upload.abort().await;
                return Err(e);
            }
        }
        let manifest_object = self.object(&format!("{name}{MANIFEST_SUFFIX}"));
        self.store
            .put(&manifest_object, PutPayload::from(manifest.to_json()?))
            .await
            .map_err(BackupError::store(format!("cannot upload `{manifest_object}` to {}", self.description)))?;
        Ok(info(name, manifest))
    }

    /// The complete backups (those with a manifest and an archive), newest first.
    pub async fn list(&self) -> Result<Vec<BackupInfo>, BackupError> {
        let listing = self.listing().await?;
        let complete: Vec<String> = listing
            .iter()
            .filter_map(|f| f.strip_suffix(MANIFEST_SUFFIX))
            .filter(|name| listing.contains(&format!("{name}{ARCHIVE_SUFFIX}")))
            .map(str::to_owned)
            .collect();
        // A few manifests at a time: one round trip each to a remote bucket.
        let mut backups: Vec<BackupInfo> = futures::stream::iter(complete)
            .map(|name| async move { self.manifest(&name).await.map(|m| info(name, &m)) })
            .buffer_unordered(LIST_CONCURRENCY)
            .try_collect()
            .await?;
        backups.sort_by(|a, b| (b.created_at, &b.name).cmp(&(a.created_at, &a.name)));
        Ok(backups)
    }

    /// File names directly under the prefix.
    async fn listing(&self) -> Result<Vec<String>, BackupError> {
        let prefix = (!self.prefix.as_ref().is_empty()).then_some(&self.prefix);
        let result = self.store.list_with_delimiter(prefix).await.map_err(BackupError::store(format!("cannot list {}", self.description)))?;
        Ok(result.objects.iter().filter_map(|o| o.location.filename().map(str::to_owned)).collect())
    }

    async fn manifest(&self, name: &str) -> Result<Manifest, BackupError> {
        let object = self.object(&format!("{name}{MANIFEST_SUFFIX}"));
        let bytes = match self.store.get(&object).await {
            Ok(got) => got.bytes().await,
            Err(e) => Err(e),
        };
        let bytes = match bytes {
            Ok(bytes) => bytes,
            Err(object_store::Error::NotFound { .. }) => return Err(BackupError::NotFound { target: self.description.clone(), name: name.to_owned() }),
            Err(e) => return Err(BackupError::store(format!("cannot read `{object}` from {}", self.description))(e)),
        };
        Manifest::parse(&format!("{name}{MANIFEST_SUFFIX}"), &bytes)
    }

    /// Streams backup `name` into the local file `to` and checks it against its manifest's size
    /// and SHA-256 (a mismatch is [`BackupError::Corrupted`], and `to` is removed).
    pub async fn download(&self, name: &str, to: &Path) -> Result<Manifest, BackupError> {
        check_file_name(name)?;
        let manifest = self.manifest(name).await?;
        let object = self.object(&format!("{name}{ARCHIVE_SUFFIX}"));
        let result = receive_file(self.store.as_ref(), &object, to, &self.description).await;
        let checked = result.and_then(|(size, sha256)| {
            if size != manifest.archive_size || sha256 != manifest.archive_sha256 {
                return Err(BackupError::corrupted(format!(
                    "`{object}` in {} does not match its manifest ({size} bytes, expected {}; or a different SHA-256)",
                    self.description, manifest.archive_size
                )));
            }
            Ok(())
        });
        if let Err(e) = checked {
            let _ = tokio::fs::remove_file(to).await;
            return Err(e);
        }
        Ok(manifest)
    }

    /// Deletes the backups created before `now - keep` (a `keep` reaching before the earliest
    /// representable time deletes nothing), except the newest complete backup,
    /// which is always kept; also removes archives left without a manifest (interrupted
    /// uploads) last modified before then. Returns the names removed.
    pub async fn prune(&self, now: OffsetDateTime, keep: time::Duration) -> Result<Vec<String>, BackupError> {
        let Some(cutoff) = now.checked_sub(keep) else {
            return Ok(Vec::new());
        };
        let backups = self.list().await?;
        let mut removed = Vec::new();
        for backup in backups.iter().skip(1).filter(|b| b.created_at < cutoff) {
            // Manifest first: an interrupted prune leaves an incomplete backup, never a listed
            // backup without its archive.
            self.delete(&format!("{}{MANIFEST_SUFFIX}", backup.name)).await?;
            self.delete(&format!("{}{ARCHIVE_SUFFIX}", backup.name)).await?;
            removed.push(backup.name.clone());
        }
        let prefix = (!self.prefix.as_ref().is_empty()).then_some(&self.prefix);
        let listing = self.store.list_with_delimiter(prefix).await.map_err(BackupError::store(format!("cannot list {}", self.description)))?;
        let files: Vec<_> = listing.objects.iter().filter_map(|o| o.location.filename()).collect();
        for object in &listing.objects {
            let Some(name) = object.location.filename().and_then(|f| f.strip_suffix(ARCHIVE_SUFFIX)) else { continue };
            let orphan = !files.contains(&format!("{name}{MANIFEST_SUFFIX}").as_str());
            if orphan && object.last_modified.timestamp() < cutoff.unix_timestamp() {
                self.delete(&format!("{name}{ARCHIVE_SUFFIX}")).await?;
                removed.push(name.to_owned());
            }
        }
        Ok(removed)
    }

    /// Replaces the target's user-key vault with `archive` (an archive made by
    /// [`crate::seal_files`]; small: about 150 bytes a user).
    pub async fn put_key_vault(&self, archive: &Path) -> Result<(), BackupError> {
        let bytes = tokio::fs::read(archive).await.map_err(BackupError::io(format!("cannot read `{}`", archive.display())))?;
        let object = self.object(KEY_VAULT);
        self.store.put(&object, PutPayload::from(bytes)).await.map_err(BackupError::store(format!("cannot upload `{object}` to {}", self.description)))?;
        Ok(())
    }

    /// Downloads the user-key vault into `to`; false when the target has none.
    pub async fn get_key_vault(&self, to: &Path) -> Result<bool, BackupError> {
        let object = self.object(KEY_VAULT);
        match self.store.head(&object).await {
            Ok(_) => {}
            Err(object_store::Error::NotFound { .. }) => return Ok(false),
            Err(e) => return Err(BackupError::store(format!("cannot read `{object}` from {}", self.description))(e)),
        }
        receive_file(self.store.as_ref(), &object, to, &self.description).await?;
        Ok(true)
    }

    async fn delete(&self, file_name: &str) -> Result<(), BackupError> {
        let object = self.object(file_name);
        match self.store.delete(&object).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(BackupError::store(format!("cannot delete `{object}` from {}", self.description))(e)),
        }
    }
}

fn info(name: String, manifest: &Manifest) -> BackupInfo {
    BackupInfo { name, created_at: manifest.header.created_at, size: manifest.archive_size, sha256: manifest.archive_sha256.clone() }
}

/// `gatehouse-20261124T031500Z-<6 hex>`: names sort by creation time, and the random suffix
/// keeps two backups in the same second apart.
fn backup_name(created_at: OffsetDateTime) -> Result<String, BackupError> {
    let t = created_at.to_offset(time::UtcOffset::UTC);
    let suffix = hex(&gatehouse_crypto::random::bytes::<3>()?);
    Ok(format!("gatehouse-{:04}{:02}{:02}T{:02}{:02}{:02}Z-{suffix}", t.year(), u8::from(t.month()), t.day(), t.hour(), t.minute(), t.second()))
}

async fn send_file(path: &Path, upload: &mut WriteMultipart, context: &str) -> Result<(), BackupError> {
    let read_err = || BackupError::io(format!("cannot read `{}`", path.display()));
    let mut file = tokio::fs::File::open(path).await.map_err(read_err())?;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).await.map_err(read_err())?;
        if n == 0 {
            return Ok(());
        }
        // Bounds memory to a few parts in flight, whatever the archive's size.
        upload.wait_for_capacity(UPLOAD_CONCURRENCY).await.map_err(BackupError::store(context))?;
        upload.write(buf.get(..n).unwrap_or_default());
    }
}

/// Streams an object into a local file; returns its size and SHA-256.
async fn receive_file(store: &dyn ObjectStore, object: &StorePath, to: &Path, target: &str) -> Result<(u64, String), BackupError> {
    use sha2::{Digest, Sha256};
    let context = format!("cannot download `{object}` from {target}");
    let got = store.get(object).await.map_err(BackupError::store(context.clone()))?;
    let write_err = || BackupError::io(format!("cannot write `{}`", to.display()));
    let mut file = tokio::fs::File::create(to).await.map_err(write_err())?;
    let mut stream = got.into_stream();
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    while let Some(bytes) = stream.next().await {
        let bytes = bytes.map_err(BackupError::store(context.clone()))?;
        hasher.update(&bytes);
        size += bytes.len() as u64;
        file.write_all(&bytes).await.map_err(write_err())?;
    }
    file.flush().await.map_err(write_err())?;
    file.sync_all().await.map_err(write_err())?;
    Ok((size, hex(&hasher.finalize())))
}
