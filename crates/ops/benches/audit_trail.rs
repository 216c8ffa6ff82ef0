//! The audit trail's two figures on a real, durable SQLite file (WAL, `synchronous=FULL`):
//! append throughput through the group-commit writer with many concurrent appenders (goal
//! ≥ 20,000 records/s), and `audit verify` over 1,000,000 records (goal < 10 s).
//! `cargo bench -p gatehouse-ops --bench audit_trail`; criterion prints records/s
//! ("thrpt") for appends and the time of one full verification.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use gatehouse_core::audit::AuditEntry;
use gatehouse_ops::monitor::audit_writer::AuditWriter;
use gatehouse_ops::monitor::trail;
use gatehouse_store::sqlite::{OpenMode, SqliteStore};
use gatehouse_store::{AuditStore, Store};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A record like the server writes: an admin reading a user's login history.
fn entry(i: u64) -> AuditEntry {
    AuditEntry {
        at: 1_780_000_000 + i64::try_from(i).unwrap(),
        actor: "user:Zq3xv0a9bH1cD2eF3gH4iJ".into(),
        on_behalf_of: None,
        action: "user.update".into(),
        target: format!("user:{i:022}"),
        tenant: Some("t-Acme0000000000000000".into()),
        before: Some(serde_json::json!({ "name": "Alice", "roles": [] })),
        after: Some(serde_json::json!({ "name": "Alice", "roles": ["admin"] })),
        address: Some("192.0.2.10".into()),
        user_agent: Some("Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0".into()),
        reason: None,
    }
}

fn keyring() -> Arc<dyn gatehouse_crypto::KeyProvider> {
    Arc::new(gatehouse_crypto::MasterKeyring::generate(0).unwrap())
}

fn fresh_db(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gatehouse-bench-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("gatehouse.db")
}

/// Records each appender writes per iteration, one after the other (each waits for its own
/// record to be durable, like a request handler).
const PER_APPENDER: u64 = 100;

fn append(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let path = fresh_db("append");
    let store: Arc<dyn Store> = Arc::new(runtime.block_on(SqliteStore::open(&path, OpenMode::ReadWrite, keyring())).unwrap());
    let writer = runtime.block_on(async { AuditWriter::start(store.clone()) });
    let mut group = c.benchmark_group("audit_append");
    group.sample_size(10).measurement_time(Duration::from_secs(20));
    // A batch holds at most one record per waiting appender, so throughput grows with the
    // number of requests appending at once: 256 and 1024 concurrent appenders.
    for appenders in [256_u64, 1024] {
        group.throughput(Throughput::Elements(appenders * PER_APPENDER));
        group.bench_function(format!("group_commit_{appenders}_concurrent_appenders"), |b| {
            b.iter_custom(|iters| {
                runtime.block_on(async {
                    let started = Instant::now();
                    for _ in 0..iters {
                        let tasks: Vec<_> = (0..appenders)
                            .map(|a| {
                                let writer = writer.clone();
                                tokio::spawn(async move {
                                    for i in 0..PER_APPENDER {
                                        writer.append(&entry(a * PER_APPENDER + i)).await.unwrap();
                                    }
                                })
                            })
                            .collect();
                        for task in tasks {
                            task.await.unwrap();
                        }
                    }
                    started.elapsed()
                })
            });
        });
    }
    group.finish();
    runtime.block_on(store.close());
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

const RECORDS: u64 = 1_000_000;

fn verify(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let path = fresh_db("verify");
    let store = runtime.block_on(SqliteStore::open(&path, OpenMode::ReadWrite, keyring())).unwrap();
    let started = Instant::now();
    runtime.block_on(async {
        for batch in 0..RECORDS / 10_000 {
            let entries: Vec<AuditEntry> = (0..10_000).map(|i| entry(batch * 10_000 + i)).collect();
            store.append_audit_batch(&entries).await.unwrap();
        }
    });
    eprintln!("wrote {RECORDS} records in {:.1} s", started.elapsed().as_secs_f64());
    let mut group = c.benchmark_group("audit_verify");
    group.sample_size(10).measurement_time(Duration::from_secs(60));
    group.throughput(Throughput::Elements(RECORDS));
    group.bench_function("1m_records", |b| {
        b.iter(|| {
            let report = runtime.block_on(trail::verify(&store, None)).unwrap();
            assert_eq!(report.records, RECORDS);
        });
    });
    group.finish();
    runtime.block_on(store.close());
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

criterion_group!(benches, append, verify);
criterion_main!(benches);
