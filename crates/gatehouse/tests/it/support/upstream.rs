//! A company's own identity provider for the federation tests: node's `oidc-provider`
//! (`tests/idp/oidc-upstream.mjs`), an implementation independent of Gatehouse, started on a
//! loopback port with Gatehouse registered as its client, and a Gatehouse beside it whose
//! import file names it.
//!
//! The tests need `node` and `npm ci` in `tests/idp`; without them they are skipped, unless
//! `GATEHOUSE_UPSTREAM_TESTS=1` (set by `.ci/run`), when they fail naming what is missing.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::support::app::{SpawnOptions, TestApp, spawn_with};

/// The client secret Gatehouse holds at the upstream.
pub const UPSTREAM_SECRET: &str = "upstream-secret-0123456789-abcdefghijklmnop";

fn idp_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/idp")
}

/// Whether the upstream can run here; panics when `GATEHOUSE_UPSTREAM_TESTS=1` demands it.
pub fn available() -> bool {
    let node = std::process::Command::new("node").arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status();
    let mut missing = Vec::new();
    if !node.is_ok_and(|s| s.success()) {
        missing.push("`node` on PATH (Node 20 or newer)");
    }
    if !idp_dir().join("node_modules/oidc-provider/package.json").is_file() {
        missing.push("tests/idp/node_modules/oidc-provider (run `npm ci` in tests/idp)");
    }
    if missing.is_empty() {
        return true;
    }
    if std::env::var("GATEHOUSE_UPSTREAM_TESTS").as_deref() == Ok("1") {
        panic!("GATEHOUSE_UPSTREAM_TESTS=1 but the upstream identity provider cannot run; missing: {}", missing.join("; "));
    }
    println!("skipped: the federation tests need node and `npm ci` in tests/idp (set by .ci/run)");
    false
}

/// A free loopback port (bound, then released for the process that takes it).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The running upstream provider.
pub struct Upstream {
    pub issuer: String,
    _child: Child,
}

impl Upstream {
    /// Starts the provider with Gatehouse's callback at `gatehouse_issuer` registered and these
    /// accounts (see `oidc-upstream.mjs`).
    pub async fn start(gatehouse_issuer: &str, accounts: &Value) -> Self {
        let port = free_port();
        let mut child = Command::new("node")
            .arg(idp_dir().join("oidc-upstream.mjs"))
            .env("PORT", port.to_string())
            .env("CLIENT_SECRET", UPSTREAM_SECRET)
            .env("REDIRECT_URI", format!("{gatehouse_issuer}/login/federated/callback"))
            .env("ACCOUNTS", accounts.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        loop {
            let line = tokio::time::timeout(std::time::Duration::from_secs(20), lines.next_line())
                .await
                .expect("the upstream provider did not start in time")
                .unwrap()
                .expect("the upstream provider exited before listening");
            if line.starts_with("listening ") {
                break;
            }
        }
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Self { issuer: format!("http://127.0.0.1:{port}"), _child: child }
    }

    /// Every authorization request the provider received, oldest first.
    pub async fn requests(&self) -> Vec<Value> {
        reqwest::get(format!("{}/test/requests", self.issuer)).await.unwrap().json().await.unwrap()
    }

    /// Replaces the provider's accounts (a person renamed upstream).
    pub async fn set_accounts(&self, accounts: &Value) {
        let response = reqwest::Client::new().put(format!("{}/test/accounts", self.issuer)).body(accounts.to_string()).send().await.unwrap();
        assert_eq!(response.status(), 204);
    }
}

/// Gatehouse with its import file built by `fixture` from the upstream's issuer, and the
/// upstream with `accounts`: both on loopback, each registered at the other.
pub async fn spawn_pair(accounts: &Value, fixture: impl Fn(&str) -> String) -> (TestApp, Upstream) {
    spawn_pair_with(accounts, fixture, &[]).await
}

/// As [`spawn_pair`], with more `gatehouse serve` flags.
pub async fn spawn_pair_with(accounts: &Value, fixture: impl Fn(&str) -> String, flags: &[&str]) -> (TestApp, Upstream) {
    let port = free_port();
    let issuer = format!("http://127.0.0.1:{port}");
    let upstream = Upstream::start(&issuer, accounts).await;
    let listen = format!("127.0.0.1:{port}");
    let mut extra = vec!["--listen", listen.as_str(), "--issuer", issuer.as_str()];
    extra.extend_from_slice(flags);
    let text = fixture(&upstream.issuer);
    let app = spawn_with(SpawnOptions { extra: &extra, fixture: &text, ..Default::default() }).await;
    (app, upstream)
}
