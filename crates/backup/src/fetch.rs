//! Finding the one backup a restore should use, from what the operator typed: a backup file,
//! a backup in a bucket, or a target whose newest complete backup is meant.

use std::path::{Path, PathBuf};

use crate::hashing::hash_file;
use crate::{BackupError, BackupTarget, Manifest};

/// Resolves `spec` to a local archive and its manifest:
/// - a local `.ghbk` file (a path or `file:///…`): that file, checked against the sibling
///   `.manifest.json`;
/// - `s3://bucket/prefix/<name>.ghbk`: that backup, downloaded into `scratch_dir`;
/// - a target (directory or `s3://bucket/prefix`): its newest complete backup, downloaded into
///   `scratch_dir` ([`BackupError::NoBackups`] if it has none).
///
/// The archive's size and SHA-256 are checked against the manifest in every case.
pub async fn fetch(spec: &str, scratch_dir: &Path) -> Result<(PathBuf, Manifest), BackupError> {
    if let Some(object) = spec.strip_prefix("s3://").and_then(|rest| rest.strip_suffix(".ghbk")) {
        let (parent, name) =
            object.rsplit_once('/').ok_or_else(|| BackupError::InvalidTarget { spec: spec.to_owned(), reason: "the bucket name is missing".to_owned() })?;
        let target = BackupTarget::parse(&format!("s3://{parent}"))?;
        return download_into(&target, name, scratch_dir).await;
    }
    let local = spec.strip_prefix("file://").unwrap_or(spec);
    if let Some(stem) = local.strip_suffix(".ghbk") {
        return check_local(PathBuf::from(local), PathBuf::from(format!("{stem}.manifest.json"))).await;
    }
    let target = BackupTarget::parse(spec)?;
    let newest = target.list().await?.into_iter().next().ok_or_else(|| BackupError::NoBackups { target: target.describe().to_owned() })?;
    download_into(&target, &newest.name, scratch_dir).await
}

async fn download_into(target: &BackupTarget, name: &str, scratch_dir: &Path) -> Result<(PathBuf, Manifest), BackupError> {
    let to = scratch_dir.join(format!("{name}.ghbk"));
    let manifest = target.download(name, &to).await?;
    Ok((to, manifest))
}

async fn check_local(archive: PathBuf, manifest_path: PathBuf) -> Result<(PathBuf, Manifest), BackupError> {
    let text = match tokio::fs::read(&manifest_path).await {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(BackupError::BadManifest {
                name: manifest_path.display().to_string(),
                detail: "it does not exist (an upload that did not finish leaves no manifest)".to_owned(),
            });
        }
        Err(e) => return Err(BackupError::io(format!("cannot read `{}`", manifest_path.display()))(e)),
    };
    let manifest = Manifest::parse(&manifest_path.display().to_string(), &text)?;
    let path = archive.clone();
    let (size, sha256) = tokio::task::spawn_blocking(move || hash_file(&path))
        .await
        .map_err(|e| BackupError::Io { context: format!("cannot check `{}`", archive.display()), source: std::io::Error::other(e.to_string()) })??;
    if size != manifest.archive_size || sha256 != manifest.archive_sha256 {
        return Err(BackupError::corrupted(format!(
            "`{}` does not match its manifest ({size} bytes, expected {}; or a different SHA-256)",
            archive.display(),
            manifest.archive_size
        )));
    }
    Ok((archive, manifest))
}

/// The target a backup `spec` (as [`fetch`] takes it) lives in: where its user-key vault is.
pub fn target_of(spec: &str) -> Result<BackupTarget, BackupError> {
    if let Some(object) = spec.strip_prefix("s3://").and_then(|rest| rest.strip_suffix(".ghbk")) {
        let (parent, _) =
            object.rsplit_once('/').ok_or_else(|| BackupError::InvalidTarget { spec: spec.to_owned(), reason: "the bucket name is missing".to_owned() })?;
        return BackupTarget::parse(&format!("s3://{parent}"));
    }
    let local = spec.strip_prefix("file://").unwrap_or(spec);
    if local.ends_with(".ghbk") {
        let parent = Path::new(local).parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        return BackupTarget::parse(&parent.display().to_string());
    }
    BackupTarget::parse(spec)
}
