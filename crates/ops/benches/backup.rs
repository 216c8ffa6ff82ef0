//! Backup and restore of a large instance: 100,000 users (each with a TOTP factor) and
//! 1,000,000 audit records in a durable SQLite file. Measures `backups::create` (online
//! snapshot, gzip, AES-256-GCM, written to a directory target with its user-key vault) and a
//! full restore (download, decrypt, unpack, user keys back, database opened, audit chain of a
//! million records verified), and prints the database and archive sizes.
//! `cargo bench -p gatehouse-ops --bench backup` (several minutes; needs ~2 GB of disk).
#![allow(clippy::expect_used, clippy::unwrap_used)]

use criterion::{Criterion, criterion_group, criterion_main};
use gatehouse_backup::BackupTarget;
use gatehouse_core::audit::AuditEntry;
use gatehouse_core::ids::{FactorId, TenantId, UserId};
use gatehouse_core::{Email, EmailDomain};
use gatehouse_crypto::KeyProvider;
use gatehouse_ops::backups;
use gatehouse_store::sqlite::{OpenMode, SqliteOpener, SqliteStore};
use gatehouse_store::{AuditStore, ImportPlan, ImportStore, Store, TenantPlan, UserPlan};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

const USERS: usize = 100_000;
const AUDIT_RECORDS: u64 = 1_000_000;

fn dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gatehouse-bench-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn entry(i: u64) -> AuditEntry {
    AuditEntry {
        at: 1_780_000_000 + i64::try_from(i).unwrap(),
        actor: "user:Zq3xv0a9bH1cD2eF3gH4iJ".into(),
        on_behalf_of: None,
        action: "user.update".into(),
        target: format!("user:{:022}", i % USERS as u64),
        tenant: Some("t-bench".into()),
        before: Some(serde_json::json!({ "roles": [] })),
        after: Some(serde_json::json!({ "roles": ["admin"] })),
        address: Some("192.0.2.10".into()),
        user_agent: Some("Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0".into()),
        reason: None,
    }
}

async fn populate(store: &SqliteStore) {
    let users = (0..USERS)
        .map(|i| UserPlan {
            new_id: UserId::new(format!("{i:022}")),
            email: Email::parse(&format!("person{i}@bench.test")).unwrap(),
            name: format!("Person Number {i}"),
            password_hash: Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g".into()),
            roles: vec![],
            totp_secret: Some(i.to_be_bytes().repeat(3).into_iter().take(20).collect()),
            phone: None,
            new_factor_ids: [FactorId::new(format!("t{i}")), FactorId::new(format!("s{i}"))],
        })
        .collect();
    let plan = ImportPlan {
        identity_providers: vec![],
        audit: vec![],
        tenants: vec![TenantPlan {
            new_id: TenantId::new("t-bench"),
            name: "Bench".into(),
            domains: vec![EmailDomain::parse("bench.test").unwrap()],
            users,
            policy: None,
        }],
        clients: vec![],
    };
    store.apply_import(&plan, time::OffsetDateTime::UNIX_EPOCH).await.unwrap();
    let mut next = 0;
    while next < AUDIT_RECORDS {
        let batch: Vec<AuditEntry> = (next..(next + 5_000).min(AUDIT_RECORDS)).map(entry).collect();
        next += batch.len() as u64;
        store.append_audit_batch(&batch).await.unwrap();
    }
}

fn size(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

fn backup_and_restore(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let data = dir("backup-data");
    let provider: Arc<dyn KeyProvider> = Arc::new(gatehouse_crypto::MasterKeyring::generate(0).unwrap());
    let store = runtime.block_on(SqliteStore::open(&data.join("gatehouse.db"), OpenMode::ReadWrite, Arc::clone(&provider))).unwrap();
    let started = Instant::now();
    runtime.block_on(populate(&store));
    runtime.block_on(async { sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(store.pool()).await.unwrap() });
    eprintln!("populated {USERS} users and {AUDIT_RECORDS} audit records in {:.1?}; database {} MB", started.elapsed(), size(&data.join("gatehouse.db")) >> 20);
    let target_dir = dir("backup-target");
    let target = BackupTarget::parse(target_dir.to_str().unwrap()).unwrap();

    let mut group = c.benchmark_group("backup_100k_users_1m_audit_records");
    group.sample_size(10).warm_up_time(Duration::from_millis(1)).measurement_time(Duration::from_secs(1));
    let mut reported = false;
    let mut taken = time::macros::datetime!(2026-11-24 03:00 UTC);
    group.bench_function("create", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                for old in std::fs::read_dir(&target_dir).unwrap() {
                    std::fs::remove_file(old.unwrap().path()).unwrap();
                }
                let started = Instant::now();
                taken += time::Duration::minutes(1);
                let made = runtime.block_on(backups::create(&store, Arc::clone(&provider), &data, &target, taken)).unwrap();
                total += started.elapsed();
                if !reported {
                    eprintln!(
                        "archive {} MB (database {} MB), user-key vault {} KB",
                        made.size >> 20,
                        size(&data.join("gatehouse.db")) >> 20,
                        size(&target_dir.join("gatehouse-user-keys.ghkv")) >> 10
                    );
                    reported = true;
                }
            }
            total
        })
    });
    // The restore measures one backup, whether or not `create` ran (a filter may skip it).
    if runtime.block_on(target.list()).unwrap().is_empty() {
        runtime.block_on(backups::create(&store, Arc::clone(&provider), &data, &target, taken)).unwrap();
    }
    group.bench_function("restore_and_verify", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let scratch = dir("backup-restore");
                let started = Instant::now();
                runtime.block_on(async {
                    let (archive, _) = gatehouse_backup::fetch(target_dir.to_str().unwrap(), &scratch).await.unwrap();
                    let into = scratch.join("data");
                    std::fs::create_dir(&into).unwrap();
                    let opener = Arc::clone(&provider);
                    let unpack_to = into.clone();
                    tokio::task::spawn_blocking(move || gatehouse_backup::open_archive(&archive, opener.as_ref(), &unpack_to)).await.unwrap().unwrap();
                    let (keys, _) = backups::restore_key_vault(&SqliteOpener, &into, Arc::clone(&provider), &target).await.unwrap();
                    assert_eq!(keys, USERS as u64);
                    let (counts, trail) = backups::check_restored(&SqliteOpener, &into, Arc::clone(&provider)).await.unwrap();
                    assert_eq!((counts.users, trail.records), (USERS as u64, AUDIT_RECORDS));
                });
                total += started.elapsed();
                std::fs::remove_dir_all(&scratch).unwrap();
            }
            total
        })
    });
    group.finish();
    runtime.block_on(store.close());
    let _ = std::fs::remove_dir_all(&data);
    let _ = std::fs::remove_dir_all(&target_dir);
}

criterion_group!(benches, backup_and_restore);
criterion_main!(benches);
