//! Directory targets: upload, list, fetch, download checks and pruning. The S3 path is the
//! same code over another `ObjectStore` (see `s3.rs`).

use std::path::PathBuf;

use super::{TempDir, at, keyring, sample_files};
use crate::{BackupError, BackupTarget, Manifest, fetch, open_archive, seal_files};

const DAY: i64 = 86_400;
const NOW: i64 = 1_790_000_000;

/// Seals the sample files as of `created` and uploads them to `target`.
async fn backup_at(target: &BackupTarget, work: &TempDir, ring: &gatehouse_crypto::MasterKeyring, created: i64) -> (String, Manifest, PathBuf) {
    let out = work.join(&format!("local-{created}.ghbk"));
    let manifest = seal_files(&sample_files(work), ring, at(created), &out).unwrap();
    let info = target.upload(&out, &manifest).await.unwrap();
    assert_eq!((info.size, &info.sha256, info.created_at), (manifest.archive_size, &manifest.archive_sha256, at(created)));
    (info.name, manifest, out)
}

#[tokio::test]
async fn directory_target_lists_newest_first_and_fetch_picks_the_newest() {
    let work = TempDir::new("target-work");
    let store = TempDir::new("target-store");
    let dir = store.path().join("nested/backups");
    let spec = dir.to_str().unwrap().to_owned();
    let target = BackupTarget::parse(&spec).unwrap();
    assert!(dir.is_dir(), "a missing directory is created");
    assert!(target.describe().contains("nested/backups"));
    let ring = keyring();
    let (older, _, _) = backup_at(&target, &work, &ring, NOW - DAY).await;
    let (newer, newer_manifest, newer_local) = backup_at(&target, &work, &ring, NOW).await;
    assert!(older.starts_with("gatehouse-20260920T141320Z-") && older < newer, "{older} {newer}");
    assert!(dir.join(format!("{newer}.ghbk")).is_file() && dir.join(format!("{newer}.manifest.json")).is_file());

    let listed = target.list().await.unwrap();
    let names: Vec<_> = listed.iter().map(|b| b.name.clone()).collect();
    assert_eq!(names, [newer.clone(), older.clone()]);

    let scratch = work.subdir("scratch");
    let (path, manifest) = fetch(&spec, &scratch).await.unwrap();
    assert_eq!(manifest, newer_manifest);
    assert_eq!(std::fs::read(&path).unwrap(), std::fs::read(&newer_local).unwrap());
    let into = work.subdir("restored");
    assert_eq!(open_archive(&path, &ring, &into).unwrap(), newer_manifest);

    let file_spec = dir.join(format!("{older}.ghbk"));
    let (path, manifest) = fetch(file_spec.to_str().unwrap(), &scratch).await.unwrap();
    assert_eq!(path, file_spec, "a local backup file is used in place");
    assert_eq!(manifest.header.created_at, at(NOW - DAY));
    let url = format!("file://{}", std::fs::canonicalize(&dir).unwrap().display());
    assert_eq!(fetch(&url, &scratch).await.unwrap().1, newer_manifest);
}

#[tokio::test]
async fn a_damaged_archive_in_the_target_fails_its_checksum() {
    let work = TempDir::new("damaged-work");
    let store = TempDir::new("damaged-store");
    let spec = store.path().to_str().unwrap().to_owned();
    let target = BackupTarget::parse(&spec).unwrap();
    let (name, _, _) = backup_at(&target, &work, &keyring(), NOW).await;
    let archive = store.join(&format!("{name}.ghbk"));
    let mut bytes = std::fs::read(&archive).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    std::fs::write(&archive, &bytes).unwrap();

    let to = work.join("download.ghbk");
    let err = target.download(&name, &to).await.unwrap_err();
    assert!(matches!(err, BackupError::Corrupted { .. }), "{err}");
    assert!(!to.exists(), "a download that fails its check is removed");
    let scratch = work.subdir("scratch");
    assert!(matches!(fetch(&spec, &scratch).await, Err(BackupError::Corrupted { .. })));
    assert!(matches!(fetch(archive.to_str().unwrap(), &scratch).await, Err(BackupError::Corrupted { .. })));
    bytes.truncate(middle);
    std::fs::write(&archive, &bytes).unwrap();
    assert!(matches!(target.download(&name, &to).await, Err(BackupError::Corrupted { .. })));
    assert!(matches!(target.download("gatehouse-missing", &to).await, Err(BackupError::NotFound { .. })));
    assert!(matches!(target.download("../escape", &to).await, Err(BackupError::InvalidFileName { .. })));
}

#[tokio::test]
async fn prune_removes_old_backups_but_always_keeps_the_newest() {
    let work = TempDir::new("prune-work");
    let store = TempDir::new("prune-store");
    let target = BackupTarget::parse(store.path().to_str().unwrap()).unwrap();
    let ring = keyring();
    let (a, _, _) = backup_at(&target, &work, &ring, NOW - 10 * DAY).await;
    let (b, _, _) = backup_at(&target, &work, &ring, NOW - 9 * DAY).await;
    let (c, _, _) = backup_at(&target, &work, &ring, NOW - DAY).await;
    let mut removed = target.prune(at(NOW), time::Duration::days(7)).await.unwrap();
    removed.sort();
    assert_eq!(removed, [a.clone(), b]);
    let names: Vec<_> = target.list().await.unwrap().into_iter().map(|i| i.name).collect();
    assert_eq!(names, std::slice::from_ref(&c));
    assert!(!store.join(&format!("{a}.ghbk")).exists() && !store.join(&format!("{a}.manifest.json")).exists());

    // Long after the last backup, the newest still stays: it may be the only one left.
    let removed = target.prune(at(NOW + 100 * DAY), time::Duration::days(7)).await.unwrap();
    assert!(removed.is_empty(), "{removed:?}");
    assert_eq!(target.list().await.unwrap().len(), 1);
    let (d, _, _) = backup_at(&target, &work, &ring, NOW + 101 * DAY).await;
    assert_eq!(target.prune(at(NOW + 102 * DAY), time::Duration::days(7)).await.unwrap(), [c]);
    assert_eq!(target.list().await.unwrap().into_iter().map(|i| i.name).collect::<Vec<_>>(), [d]);
    assert!(target.prune(at(NOW), time::Duration::MAX).await.unwrap().is_empty(), "an unrepresentable cutoff deletes nothing");
}

#[test]
fn target_operations_can_run_on_spawned_tasks() {
    fn send<T: Send>(_: &T) {}
    let store = TempDir::new("send");
    let target = BackupTarget::parse(store.path().to_str().unwrap()).unwrap();
    let path = store.join("x");
    let manifest_text = br#"{"format_version":1,"gatehouse_version":"t","created_at":"2026-01-01T00:00:00Z","master_key_id":"mk","data_key_id":"dk","wrapped_key":"","chunk_size":1,"compression":"gzip","files":[],"archive_size":0,"archive_sha256":""}"#;
    let manifest = Manifest::parse("m", manifest_text).unwrap();
    send(&target.upload(&path, &manifest));
    send(&target.list());
    send(&target.download("x", &path));
    send(&target.prune(at(NOW), time::Duration::days(1)));
    send(&fetch("x", &path));
}

#[tokio::test]
async fn an_archive_without_a_manifest_is_not_a_backup() {
    let work = TempDir::new("incomplete-work");
    let store = TempDir::new("incomplete-store");
    let spec = store.path().to_str().unwrap().to_owned();
    let target = BackupTarget::parse(&spec).unwrap();
    let scratch = work.subdir("scratch");
    assert!(matches!(fetch(&spec, &scratch).await, Err(BackupError::NoBackups { .. })));

    let (name, manifest, _) = backup_at(&target, &work, &keyring(), NOW).await;
    // An interrupted upload of a newer backup: its archive is there, its manifest is not.
    let partial = store.join("gatehouse-20991231T000000Z-abcdef.ghbk");
    std::fs::copy(store.join(&format!("{name}.ghbk")), &partial).unwrap();
    let listed: Vec<_> = target.list().await.unwrap().into_iter().map(|i| i.name).collect();
    assert_eq!(listed, std::slice::from_ref(&name));
    assert_eq!(fetch(&spec, &scratch).await.unwrap().1, manifest);
    let err = fetch(partial.to_str().unwrap(), &scratch).await.unwrap_err();
    assert!(matches!(err, BackupError::BadManifest { .. }), "{err}");

    // Pruning cleans up the leftover once it is older than the retention window.
    let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_600_000_000);
    std::fs::File::options().write(true).open(&partial).unwrap().set_modified(old).unwrap();
    let removed = target.prune(at(NOW), time::Duration::days(7)).await.unwrap();
    assert_eq!(removed, ["gatehouse-20991231T000000Z-abcdef"]);
    assert!(!partial.exists() && store.join(&format!("{name}.ghbk")).exists());
}

#[test]
fn unusable_targets_are_refused_without_echoing_credentials() {
    for spec in ["", "ftp://host/x", "file://relative/x", "s3://", "s3:///prefix"] {
        assert!(matches!(BackupTarget::parse(spec), Err(BackupError::InvalidTarget { .. })), "{spec}");
    }
    let err = BackupTarget::parse("s3://AKIA123:sekrit@bucket/x").unwrap_err();
    assert!(matches!(err, BackupError::InvalidTarget { .. }));
    assert!(!err.to_string().contains("sekrit") && !err.to_string().contains("AKIA123"), "{err}");
}
