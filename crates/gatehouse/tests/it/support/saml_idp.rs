//! A company's own SAML 2.0 identity provider for the federation tests: pysaml2
//! (`tests/idp/saml_idp.py`), an implementation independent of Gatehouse's samael, signing
//! with the xmlsec1 tool, started on a loopback port beside a Gatehouse whose import file
//! names its metadata.
//!
//! The tests need `python3` with pysaml2 and the `xmlsec1` tool; without them they are
//! skipped, unless `GATEHOUSE_UPSTREAM_TESTS=1` (set by `.ci/run`), when they fail naming
//! what is missing.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::support::app::{SpawnOptions, TempDir, TestApp, spawn_with};
use crate::support::upstream::free_port;

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/idp/saml_idp.py")
}

/// Whether the SAML provider can run here; panics when `GATEHOUSE_UPSTREAM_TESTS=1` demands it.
pub fn available() -> bool {
    let ok = |program: &str, args: &[&str]| {
        std::process::Command::new(program).args(args).stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
    };
    let mut missing = Vec::new();
    if !ok("python3", &["-c", "import saml2"]) {
        missing.push("python3 with pysaml2 (pip install 'pysaml2==7.*')");
    }
    if !ok("xmlsec1", &["--version"]) {
        missing.push("the xmlsec1 tool (apt-get install xmlsec1)");
    }
    if missing.is_empty() {
        return true;
    }
    if std::env::var("GATEHOUSE_UPSTREAM_TESTS").as_deref() == Ok("1") {
        panic!("GATEHOUSE_UPSTREAM_TESTS=1 but the SAML identity provider cannot run; missing: {}", missing.join("; "));
    }
    println!("skipped: the SAML federation tests need python3 with pysaml2 and xmlsec1 (set up by .ci/run)");
    false
}

/// The running SAML provider.
pub struct SamlIdp {
    pub base: String,
    _child: Child,
}

impl SamlIdp {
    /// Starts the provider with Gatehouse at `gatehouse_issuer` as its service provider.
    pub async fn start(gatehouse_issuer: &str, accounts: &Value) -> Self {
        let port = free_port();
        let mut child = Command::new("python3")
            .arg(script())
            .env("PORT", port.to_string())
            .env("SP_ENTITY_ID", format!("{gatehouse_issuer}/saml/metadata"))
            .env("SP_ACS", format!("{gatehouse_issuer}/saml/acs"))
            .env("ACCOUNTS", accounts.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        loop {
            let line = tokio::time::timeout(std::time::Duration::from_secs(30), lines.next_line())
                .await
                .expect("the SAML provider did not start in time")
                .unwrap()
                .expect("the SAML provider exited before listening");
            if line.starts_with("listening ") {
                break;
            }
        }
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Self { base: format!("http://127.0.0.1:{port}"), _child: child }
    }

    pub async fn metadata(&self) -> String {
        reqwest::get(format!("{}/metadata", self.base)).await.unwrap().text().await.unwrap()
    }

    /// Every AuthnRequest the provider received, oldest first.
    pub async fn requests(&self) -> Vec<Value> {
        reqwest::get(format!("{}/test/requests", self.base)).await.unwrap().json().await.unwrap()
    }

    /// Makes the next answer wrong as `options` say (see `saml_idp.py`).
    pub async fn next(&self, options: &Value) {
        let response = reqwest::Client::new().put(format!("{}/test/next", self.base)).body(options.to_string()).send().await.unwrap();
        assert_eq!(response.status(), 204);
    }
}

/// Gatehouse with its import file built by `fixture` from the path of the provider's metadata
/// file, and the provider with `accounts`: both on loopback.
pub async fn spawn_saml_pair(accounts: &Value, fixture: impl Fn(&str) -> String) -> (TestApp, SamlIdp, TempDir) {
    let port = free_port();
    let issuer = format!("http://127.0.0.1:{port}");
    let idp = SamlIdp::start(&issuer, accounts).await;
    let dir = TempDir::new("saml-metadata");
    let metadata = dir.file("idp-metadata.xml", &idp.metadata().await);
    let listen = format!("127.0.0.1:{port}");
    let extra = ["--listen", listen.as_str(), "--issuer", issuer.as_str()];
    let text = fixture(&metadata.display().to_string());
    // Gatehouse's log beside the metadata: refusals that have no sign-in to record them in
    // (an unsolicited answer's) are read from it.
    let log = dir.path().join("gatehouse.log");
    let app = spawn_with(SpawnOptions { extra: &extra, fixture: &text, log_file: Some(&log), ..Default::default() }).await;
    (app, idp, dir)
}
