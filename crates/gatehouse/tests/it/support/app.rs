//! The real `gatehouse` binary under test: [`spawn_app`] and [`spawn_with`] start it on port 0
//! with a fresh data directory and a fixture import, [`TestApp`] is the running server, and
//! [`cli`], [`read_only_db`] and [`db_fingerprint`] look at a data directory from outside.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::support::fixtures::basic::FIXTURE;

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A directory removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("gatehouse-it-{}-{tag}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
    pub fn file(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, contents).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_gatehouse")
}

/// Cheap Argon2 through configuration (never a test-only code path).
pub const CHEAP_ARGON: [&str; 4] = ["--password-memory-kib", "64", "--password-iterations", "1"];

pub struct TestApp {
    pub addr: SocketAddr,
    pub issuer: String,
    pub dir: TempDir,
    pub child: Child,
    pub stdout_first: String,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.issuer)
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Sends SIGTERM (unless the process already exited) and waits for the exit status.
    pub async fn terminate(&mut self) -> std::process::ExitStatus {
        if let Some(pid) = self.child.id() {
            std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status().unwrap();
        }
        tokio::time::timeout(std::time::Duration::from_secs(15), self.child.wait()).await.unwrap().unwrap()
    }

    /// Stops the server and hands back its directory, to start another server on it.
    pub async fn stop_keeping_data(mut self) -> TempDir {
        self.terminate().await;
        std::mem::replace(&mut self.dir, TempDir(PathBuf::new()))
    }
}

pub struct SpawnOptions<'a> {
    pub dir: Option<TempDir>,
    pub extra: &'a [&'a str],
    pub import: bool,
    /// Environment variables for the server process.
    pub env: &'a [(&'a str, &'a str)],
    /// Cheap Argon2 parameters (the default); off measures real costs.
    pub cheap_argon: bool,
    /// The import file's contents (default [`FIXTURE`]).
    pub fixture: &'a str,
    /// Arguments for the shell's `ulimit` before the server starts, e.g. `-n 400` (soft and hard
    /// open-file limits) or `-S -n 300` (soft only).
    pub ulimit: Option<&'a str>,
    /// The development outbox (`GATEHOUSE_DEV_OUTBOX=true`, on by default: tests read the codes
    /// and notices from `DATA_DIR/outbox`). `env` and `extra` can still turn it off.
    pub dev_outbox: bool,
    /// Append the server's log (stderr) to this file instead of the test's stderr.
    pub log_file: Option<&'a Path>,
}

impl Default for SpawnOptions<'_> {
    fn default() -> Self {
        Self { dir: None, extra: &[], import: true, env: &[], cheap_argon: true, fixture: FIXTURE, ulimit: None, dev_outbox: true, log_file: None }
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_with(SpawnOptions::default()).await
}

pub async fn spawn_with(options: SpawnOptions<'_>) -> TestApp {
    // reqwest's TLS (for the https tests) needs a process-wide rustls provider; every test
    // starts a server first, so installing it here covers every client the tests build.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let dir = options.dir.unwrap_or_else(|| TempDir::new("app"));
    let fixture = dir.file("fixture.toml", options.fixture);
    let data = dir.path().join("data");
    let mut args: Vec<String> = vec!["--data-dir".into(), data.display().to_string(), "serve".into()];
    if !options.extra.contains(&"--listen") {
        args.extend(["--listen".into(), "127.0.0.1:0".into()]);
    }
    if options.import {
        args.push("--import".into());
        args.push(fixture.display().to_string());
    }
    if options.cheap_argon {
        args.extend(CHEAP_ARGON.iter().map(|s| s.to_string()));
    }
    args.extend(options.extra.iter().map(|s| s.to_string()));
    let mut command = match options.ulimit {
        None => Command::new(binary()),
        Some(limits) => with_ulimit(limits),
    };
    if options.dev_outbox {
        command.env("GATEHOUSE_DEV_OUTBOX", "true");
    }
    let stderr = match options.log_file {
        Some(path) => Stdio::from(std::fs::OpenOptions::new().create(true).append(true).open(path).unwrap()),
        None => Stdio::inherit(),
    };
    let mut child = command
        .args(&args)
        .current_dir(dir.path())
        .env("GATEHOUSE_LOG", "warn")
        .envs(options.env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let mut first = String::new();
    let addr: SocketAddr = loop {
        let line = tokio::time::timeout(std::time::Duration::from_secs(30), lines.next_line())
            .await
            .expect("server did not start in time")
            .unwrap()
            .expect("server exited before listening");
        if let Some(rest) = line.strip_prefix("Gatehouse listening on ") {
            first = line.clone();
            break rest.split_whitespace().next().unwrap().parse().unwrap();
        }
        first.push_str(&line);
    };
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    // The demo's own issuer (`http://localhost:PORT`), so its pages and redirects stay on one
    // origin and its cookies; other issuers (https://id.example.com in settings tests) are
    // not reachable by that name, so the tests speak to the address.
    let issuer = first.split_once("(issuer ").and_then(|(_, tail)| tail.split_once(')')).map(|(issuer, _)| issuer.to_owned());
    let issuer = issuer.filter(|i| i.starts_with("http://localhost:")).unwrap_or_else(|| format!("http://{addr}"));
    TestApp { addr, issuer, dir, child, stdout_first: first }
}

/// The binary started by a shell that first sets `ulimit LIMITS`; `exec` keeps the process id,
/// so signals reach the server.
pub fn with_ulimit(limits: &str) -> Command {
    let mut command = Command::new("sh");
    command.arg("-c").arg(format!("ulimit {limits} && exec \"$0\" \"$@\"")).arg(binary());
    command
}

/// Runs a CLI subcommand against a data directory; returns (success, stdout, stderr).
pub fn cli(data: &Path, args: &[&str]) -> (bool, String, String) {
    let output = std::process::Command::new(binary()).arg("--data-dir").arg(data).args(args).output().unwrap();
    (output.status.success(), String::from_utf8_lossy(&output.stdout).into_owned(), String::from_utf8_lossy(&output.stderr).into_owned())
}

/// The data directory's database, opened read-only beside the running server.
pub async fn read_only_db(data: &Path) -> sqlx::SqlitePool {
    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(data.join("gatehouse.db")).read_only(true);
    sqlx::sqlite::SqlitePoolOptions::new().max_connections(1).connect_with(options).await.unwrap()
}

/// A digest of every row of every table in a data directory's database, to prove a refused
/// request changed nothing stored. Opened read-only beside the running server.
pub async fn db_fingerprint(data: &Path) -> String {
    use sha2::Digest as _;
    use sqlx::Row as _;
    let pool = read_only_db(data).await;
    // The start-up audit check signs its first checkpoint in the background: let it land, or
    // it would look like a change made by the request under test.
    for _ in 0..100 {
        let checkpoints: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_checkpoints").fetch_one(&pool).await.unwrap();
        if checkpoints > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '_sqlx%' AND name NOT LIKE 'sqlite_%' ORDER BY name")
            .fetch_all(&pool)
            .await
            .unwrap();
    let mut hasher = sha2::Sha256::new();
    for table in tables {
        let columns: Vec<String> =
            sqlx::query(&format!("PRAGMA table_info({table})")).fetch_all(&pool).await.unwrap().iter().map(|r| r.get::<String, _>("name")).collect();
        let row_text = columns.iter().map(|c| format!("quote({c})")).collect::<Vec<_>>().join(" || '|' || ");
        let rows: Vec<String> = sqlx::query_scalar(&format!("SELECT {row_text} FROM {table} ORDER BY 1")).fetch_all(&pool).await.unwrap();
        hasher.update(table.as_bytes());
        for row in rows {
            hasher.update(row.as_bytes());
            hasher.update(b"\n");
        }
    }
    pool.close().await;
    format!("{:x}", hasher.finalize())
}
