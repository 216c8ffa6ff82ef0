//! The S3 path against a local S3 server (moto), active only when `GATEHOUSE_TEST_S3_ENDPOINT`
//! is set. The `AWS_*` variables must point at the same server (the test checks, so it can
//! never reach a real bucket by mistake), and the bucket `gatehouse-test` must exist.

use super::{TempDir, at, keyring, sample_files};
use crate::{BackupError, BackupTarget, fetch, open_archive, seal_files};

#[tokio::test]
async fn s3_target_uploads_lists_fetches_and_prunes() {
    let Ok(endpoint) = std::env::var("GATEHOUSE_TEST_S3_ENDPOINT") else {
        // `.ci/run` starts moto and sets it; say so when it is not run.
        eprintln!("skipped: GATEHOUSE_TEST_S3_ENDPOINT is not set (see .ci/run)");
        return;
    };
    assert_eq!(std::env::var("AWS_ENDPOINT").ok().as_deref(), Some(endpoint.as_str()), "set AWS_ENDPOINT to the test server too");
    let work = TempDir::new("s3");
    let prefix = format!("run-{}", gatehouse_crypto::random::id().unwrap().to_lowercase().replace(['-', '_'], "x"));
    let spec = format!("s3://gatehouse-test/{prefix}");
    let target = BackupTarget::parse(&spec).unwrap();
    assert_eq!(target.describe(), spec);
    let scratch = work.subdir("scratch");
    assert!(matches!(fetch(&spec, &scratch).await, Err(BackupError::NoBackups { .. })));

    let ring = keyring();
    let mut names = Vec::new();
    for (i, created) in [1_790_000_000, 1_790_086_400].into_iter().enumerate() {
        let out = work.join(&format!("b{i}.ghbk"));
        let mut files = sample_files(&work);
        if i == 0 {
            // Larger than two 8 MiB parts, so the upload goes up in several parts.
            let big = work.join("big");
            std::fs::write(&big, super::pseudo_random(17 << 20, 3)).unwrap();
            files.push(("big".to_owned(), big));
        }
        let manifest = seal_files(&files, &ring, at(created), &out).unwrap();
        names.push(target.upload(&out, &manifest).await.unwrap().name);
    }
    let listed: Vec<_> = target.list().await.unwrap().into_iter().map(|b| b.name).collect();
    assert_eq!(listed, [names[1].clone(), names[0].clone()]);

    let (path, manifest) = fetch(&spec, &scratch).await.unwrap();
    assert_eq!(manifest.header.created_at, at(1_790_086_400));
    assert!(path.starts_with(&scratch));
    open_archive(&path, &ring, &work.subdir("restored")).unwrap();
    let one = format!("{spec}/{}.ghbk", names[0]);
    let (path, manifest) = fetch(&one, &scratch).await.unwrap();
    assert_eq!(manifest.header.created_at, at(1_790_000_000));
    assert!(manifest.archive_size > 17 << 20);
    let restored = work.subdir("restored-multipart");
    open_archive(&path, &ring, &restored).unwrap();
    assert_eq!(std::fs::read(restored.join("big")).unwrap(), std::fs::read(work.join("big")).unwrap());

    assert_eq!(target.prune(at(1_790_086_400 + 30 * 86_400), time::Duration::days(7)).await.unwrap(), [names[0].clone()]);
    assert_eq!(target.list().await.unwrap().len(), 1);
    assert!(target.prune(at(1_790_086_400 + 30 * 86_400), time::Duration::days(7)).await.unwrap().is_empty());

    // The user-key vault: absent, then replaced in place.
    let vault = work.join("vault.ghbk");
    assert!(!target.get_key_vault(&vault).await.unwrap());
    target.put_key_vault(&one_archive(&work, &ring, 1)).await.unwrap();
    target.put_key_vault(&one_archive(&work, &ring, 2)).await.unwrap();
    assert!(target.get_key_vault(&vault).await.unwrap());
    let opened = work.subdir("vault-opened");
    assert_eq!(open_archive(&vault, &ring, &opened).unwrap().header.created_at, at(2), "the newest vault replaced the first");
}

fn one_archive(work: &TempDir, ring: &gatehouse_crypto::MasterKeyring, created: i64) -> std::path::PathBuf {
    let out = work.join(&format!("vault-{created}.ghbk"));
    seal_files(&sample_files(work), ring, at(created), &out).unwrap();
    out
}
