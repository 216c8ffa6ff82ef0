//! Backups against the real binary: an online backup while the server signs people in, a
//! restore with identical data and a verified audit chain that serves again, corrupted,
//! truncated and wrong-key backups refused with nothing written, restores that never overwrite
//! silently, and erasure reaching into a backup taken before it.

use reqwest::{Method, StatusCode};
use std::path::{Path, PathBuf};

use crate::support::api::{call, ids, operator, token_for};
use crate::support::app::{SpawnOptions, TempDir, cli, db_fingerprint, read_only_db, spawn_with};
use crate::support::browser::Browser;
use crate::support::fixtures::two_factor::{ALICE_TOTP, FIXTURE, PASSWORD, spawn};
use crate::support::walker::{assert_code_for, query};

fn newest_archive(target: &Path) -> PathBuf {
    let mut archives: Vec<PathBuf> =
        std::fs::read_dir(target).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "ghbk")).collect();
    archives.sort();
    archives.pop().expect("a backup archive")
}

#[tokio::test]
async fn an_online_backup_restores_identical_data_with_a_verified_chain_and_serves_again() {
    let app = spawn().await;
    let data = app.data_dir();
    let target = app.dir.path().join("backups");
    let target_arg = target.to_str().unwrap().to_owned();
    // Sign-ins go on while the backup is taken.
    let app = std::sync::Arc::new(app);
    let load = {
        let app = app.clone();
        tokio::spawn(async move {
            for _ in 0..6 {
                assert_code_for("wiki", &Browser::new().sign_in(&app, &query("wiki", ""), ("bob@acme.test", PASSWORD)).await);
            }
        })
    };
    let (backup_data, backup_target) = (data.clone(), target_arg.clone());
    let (ok, out, err) = tokio::task::spawn_blocking(move || cli(&backup_data, &["backup", "create", "--to", &backup_target])).await.unwrap();
    assert!(ok, "{err}");
    assert!(out.contains("written to"), "{out}");
    load.await.unwrap();
    let (ok, out, err) = cli(&data, &["backup", "list", "--from", &target_arg]);
    assert!(ok && out.lines().count() == 1, "{out}{err}");
    let (ok, out, err) = cli(&data, &["backup", "verify", "--from", &target_arg]);
    assert!(ok, "{err}");
    assert!(out.contains("audit chain intact"), "{out}");

    // Offline, a second backup is identical to the directory it came from, row for row.
    let app = std::sync::Arc::into_inner(app).unwrap();
    let dir = app.stop_keeping_data().await;
    let (ok, _, err) = cli(&data, &["backup", "create", "--to", &target_arg]);
    assert!(ok, "{err}");
    let restored_home = TempDir::new("restored");
    let restored = restored_home.path().join("data");
    let (ok, out, err) = cli(&data, &["backup", "restore", "--from", &target_arg, "--to", restored.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert!(out.contains("audit chain intact"), "{out}");
    assert_eq!(db_fingerprint(&restored).await, db_fingerprint(&data).await, "identical data");
    for file in ["pepper.key", "audit-checkpoint.key"] {
        assert_eq!(std::fs::read(restored.join(file)).unwrap(), std::fs::read(data.join(file)).unwrap(), "{file}");
    }
    assert!(!restored.join("master.key").exists(), "the master key is never in a backup");
    let key = data.join("master.key");
    let (ok, out, err) = cli(&restored, &["--master-key-file", key.to_str().unwrap(), "audit", "verify"]);
    assert!(ok, "{out}{err}");

    // A restore never overwrites: not without --force, never while a server uses it, and the
    // replaced directory is kept aside.
    let (ok, _, err) = cli(&data, &["backup", "restore", "--from", &target_arg, "--to", restored.to_str().unwrap()]);
    assert!(!ok && err.contains("--force"), "{err}");
    let key_arg = format!("--master-key-file={}", key.display());
    let app = spawn_with(SpawnOptions { dir: Some(restored_home), extra: &[&key_arg], import: false, fixture: FIXTURE, ..Default::default() }).await;
    let (ok, _, err) = cli(&data, &["backup", "restore", "--from", &target_arg, "--to", restored.to_str().unwrap(), "--force"]);
    assert!(!ok && err.contains("a server is using"), "{err}");
    // The restored instance serves: clients' secrets, accounts and factors all work.
    let token = token_for(&app, "vault", "alice@acme.test", Some(ALICE_TOTP)).await;
    assert_eq!(call(&app, Method::GET, "/api/v1/me/factors", &token, None).await.status(), StatusCode::OK);
    let restored_home = app.stop_keeping_data().await;
    let (ok, out, err) = cli(&data, &["backup", "restore", "--from", &target_arg, "--to", restored.to_str().unwrap(), "--force"]);
    assert!(ok, "{err}");
    assert!(out.contains("kept in"), "{out}");
    assert!(std::fs::read_dir(restored_home.path()).unwrap().any(|e| e.unwrap().file_name().to_string_lossy().starts_with("data.replaced-")));
    drop(dir);
}

#[tokio::test]
async fn corrupted_truncated_and_wrong_key_backups_are_refused_and_nothing_is_restored() {
    let app = spawn().await;
    let data = app.data_dir();
    let target = app.dir.path().join("backups");
    let (ok, _, err) = cli(&data, &["backup", "create", "--to", target.to_str().unwrap()]);
    assert!(ok, "{err}");
    let archive = newest_archive(&target);
    let manifest = archive.with_extension("manifest.json");
    let original = std::fs::read(&archive).unwrap();
    let scratch = TempDir::new("bad-backups");
    let to = scratch.path().join("restored");

    let mut flipped = original.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x40;
    std::fs::write(&archive, &flipped).unwrap();
    for command in [
        vec!["backup", "verify", "--from", archive.to_str().unwrap()],
        vec!["backup", "restore", "--from", archive.to_str().unwrap(), "--to", to.to_str().unwrap()],
    ] {
        let (ok, _, err) = cli(&data, &command);
        assert!(!ok && err.contains("does not match its manifest"), "the checksum catches a flipped byte: {err}");
    }
    assert!(!to.exists(), "nothing restored");
    // With a manifest that matches the damage, the authenticated encryption still catches it.
    let forged = std::fs::read_to_string(&manifest).unwrap();
    let mut doc: serde_json::Value = serde_json::from_str(&forged).unwrap();
    use sha2::Digest as _;
    doc["archive_sha256"] = serde_json::Value::String(sha2::Sha256::digest(&flipped).iter().map(|b| format!("{b:02x}")).collect());
    std::fs::write(&manifest, doc.to_string()).unwrap();
    let (ok, _, err) = cli(&data, &["backup", "verify", "--from", archive.to_str().unwrap()]);
    assert!(!ok && err.contains("corrupted"), "{err}");

    let truncated = &original[..original.len() * 2 / 3];
    std::fs::write(&archive, truncated).unwrap();
    doc["archive_sha256"] = serde_json::Value::String(sha2::Sha256::digest(truncated).iter().map(|b| format!("{b:02x}")).collect());
    doc["archive_size"] = serde_json::json!(truncated.len());
    std::fs::write(&manifest, doc.to_string()).unwrap();
    let (ok, _, err) = cli(&data, &["backup", "restore", "--from", archive.to_str().unwrap(), "--to", to.to_str().unwrap()]);
    assert!(!ok && err.contains("truncated"), "{err}");
    assert!(!to.exists(), "nothing restored");

    // Intact again, but opened with another master key.
    std::fs::write(&archive, &original).unwrap();
    std::fs::write(&manifest, forged).unwrap();
    let other = TempDir::new("other-key");
    let fixture = other.file("fixture.toml", FIXTURE);
    assert!(cli(&other.path().join("data"), &["import", fixture.to_str().unwrap(), "--password-memory-kib", "64", "--password-iterations", "1"]).0);
    let wrong = other.path().join("data").join("master.key");
    let (ok, _, err) = cli(&data, &["--master-key-file", wrong.to_str().unwrap(), "backup", "verify", "--from", archive.to_str().unwrap()]);
    assert!(!ok && err.contains("master key"), "{err}");
    let (ok, _, err) = cli(&data, &["backup", "verify", "--from", archive.to_str().unwrap()]);
    assert!(ok, "the intact backup verifies: {err}");
    let (ok, _, err) = cli(&data, &["backup", "verify", "--from", scratch.path().join("empty-target").to_str().unwrap()]);
    assert!(!ok && err.contains("holds no complete backup"), "{err}");
    let (ok, _, err) = cli(&data, &["backup", "create", "--to", data.join("inside").to_str().unwrap()]);
    assert!(!ok && err.contains("inside the data directory"), "{err}");
}

#[tokio::test]
async fn an_erased_person_is_unreadable_in_a_backup_taken_before_the_erasure() {
    let dir = TempDir::new("erase-backup");
    let target = dir.path().join("backups");
    let settings = dir.file("gatehouse.toml", &format!("[backup]\ntarget = {:?}\n", target.display().to_string()));
    let config = format!("--config={}", settings.display());
    let app = spawn_with(SpawnOptions { dir: Some(dir), extra: &[&config], fixture: FIXTURE, ..Default::default() }).await;
    let data = app.data_dir();
    let ops = operator(&app).await;
    let (_, bob_id) = ids(&app, &ops, "Acme Oy", "bob@acme.test").await;
    let (ok, _, err) = cli(&data, &[&config, "backup", "create"]);
    assert!(ok, "{err}");
    let before = newest_archive(&target);

    // Bob is erased after the backup (through the admin API: the server refreshes the vault).
    assert_eq!(call(&app, Method::DELETE, &format!("/api/v1/users/{bob_id}"), &ops, None).await.status(), StatusCode::OK);
    let restored = app.dir.path().join("restored");
    let (ok, out, err) = cli(&data, &[&config, "backup", "restore", "--from", before.to_str().unwrap(), "--to", restored.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert!(out.contains("1 people erased since the backup left out"), "{out}");
    let key = data.join("master.key");
    let (ok, out, err) = cli(&restored, &["--master-key-file", key.to_str().unwrap(), "gdpr", "export", "--email", "bob@acme.test"]);
    assert!(!ok && err.contains("no account"), "Bob does not come back: {out}{err}");
    let (ok, out, err) = cli(&restored, &["--master-key-file", key.to_str().unwrap(), "gdpr", "export", "--email", "alice@acme.test"]);
    assert!(ok && out.contains("alice@acme.test"), "everyone else restores: {err}");

    // The earlier archive itself holds Bob's sealed rows but no user key at all: nothing in it
    // opens Bob's data, and the vault that opens everyone else's no longer has his key.
    let unpacked = app.dir.path().join("unpacked");
    std::fs::create_dir(&unpacked).unwrap();
    let ring: std::sync::Arc<dyn gatehouse_crypto::KeyProvider> =
        std::sync::Arc::new(gatehouse_crypto::MasterKeyring::parse(&std::fs::read_to_string(&key).unwrap()).unwrap());
    gatehouse_backup::open_archive(&before, ring.as_ref(), &unpacked).unwrap();
    let pool = read_only_db(&unpacked).await;
    let user_keys: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM data_keys WHERE owner LIKE 'user:%'").fetch_one(&pool).await.unwrap();
    let bob_rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE id = ?").bind(&bob_id).fetch_one(&pool).await.unwrap();
    pool.close().await;
    assert_eq!((user_keys, bob_rows), (0, 1), "the snapshot has Bob's sealed row, and no user key");
    let vault = app.dir.path().join("vault");
    std::fs::create_dir(&vault).unwrap();
    gatehouse_backup::open_archive(&target.join("gatehouse-user-keys.ghkv"), ring.as_ref(), &vault).unwrap();
    let keys = std::fs::read_to_string(vault.join("user-keys.json")).unwrap();
    assert!(!keys.contains(&format!("user:{bob_id}")), "Bob's key left the vault");
    assert!(keys.contains("user:"), "the others' keys are there");
}

/// The same commands with an S3-compatible target (moto, started by `.ci/run`).
#[tokio::test]
async fn backups_go_to_an_s3_compatible_store_and_restore_from_it() {
    let Ok(_) = std::env::var("GATEHOUSE_TEST_S3_ENDPOINT") else {
        eprintln!("skipped: GATEHOUSE_TEST_S3_ENDPOINT is not set (see .ci/run)");
        return;
    };
    let app = spawn().await;
    let data = app.data_dir();
    let prefix = format!("s3://gatehouse-test/it-{}", std::process::id());
    let (ok, out, err) = cli(&data, &["backup", "create", "--to", &prefix]);
    assert!(ok, "{err}");
    assert!(out.contains(&prefix), "{out}");
    let (ok, out, err) = cli(&data, &["backup", "verify", "--from", &prefix]);
    assert!(ok && out.contains("audit chain intact"), "{out}{err}");
    let restored = app.dir.path().join("restored");
    let (ok, out, err) = cli(&data, &["backup", "restore", "--from", &prefix, "--to", restored.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert!(out.contains("0 people erased"), "{out}");
    let key = data.join("master.key");
    let (ok, out, err) = cli(&restored, &["--master-key-file", key.to_str().unwrap(), "gdpr", "export", "--email", "alice@acme.test"]);
    assert!(ok && out.contains("alice@acme.test"), "{err}");
}
