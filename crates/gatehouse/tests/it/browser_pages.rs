//! Real-browser tests: each scenario in `tests/browser/scenarios/<name>.mjs` drives Debian's
//! Chromium headless (playwright-core) through the sign-in pages of its own server, started
//! with `--demo` so every flow begins at the demo application as a real one would. Every page
//! visited is screenshotted, checked with axe-core and has its transferred size recorded (in
//! `target/browser-artifacts/`); a console error, CSP violation or page error fails it.
//! See `tests/browser/README.md`.
//!
//! The tests need `node`, Chromium (`/usr/bin/chromium` or `$CHROMIUM`) and `npm ci` in
//! `tests/browser`; without them they are skipped, unless `GATEHOUSE_BROWSER_TESTS=1` (set by
//! `.ci/run`), when they fail naming what is missing.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::json;
use tokio::sync::Semaphore;

use crate::support::app::{SpawnOptions, TestApp, spawn_with};

const SKIPPED: &str = "skipped: browser tests need node, chromium and `npm ci` in tests/browser (set by .ci/run)";

/// At most this many Chromiums at once: the machine has two cores and the other integration
/// tests run beside them.
static BROWSERS: Semaphore = Semaphore::const_new(2);

/// How long one scenario may take, server start included (run.mjs has its own, shorter limit).
const SCENARIO_LIMIT: Duration = Duration::from_secs(300);

const PASSWORD: &str = "a long test passphrase";
const DAVE_TOTP: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
const ALICE_TOTP: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";

/// acme.test: no policy (the demo application is Adaptive: Bob, with no factor, signs in with
/// a password alone; Alice is Acme's admin, with an authenticator app). globex.test: 2FA required, authenticator app or text message (Dave has
/// an authenticator app, Carol nothing yet). hooli.test: 2FA required, security keys and
/// passkeys only (Frank has none yet).
const FIXTURE: &str = r#"
[[tenant]]
name = "Acme Oy"
domains = ["acme.test"]
  [[tenant.user]]
  email = "alice@acme.test"
  name = "Alice Example"
  password = "a long test passphrase"
  roles = ["admin"]
  totp_secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
  [[tenant.user]]
  email = "bob@acme.test"
  name = "Bob Example"
  password = "a long test passphrase"

[[tenant]]
name = "Globex"
domains = ["globex.test"]
  [tenant.policy]
  two_factor = "required"
  allowed_methods = ["totp", "sms"]
  [[tenant.user]]
  email = "dave@globex.test"
  name = "Dave Example"
  password = "a long test passphrase"
  totp_secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
  [[tenant.user]]
  email = "carol@globex.test"
  name = "Carol Example"
  password = "a long test passphrase"

[[tenant]]
name = "Hooli"
domains = ["hooli.test"]
  [tenant.policy]
  two_factor = "required"
  allowed_methods = ["webauthn"]
  [[tenant.user]]
  email = "frank@hooli.test"
  name = "Frank Example"
  password = "a long test passphrase"
"#;

fn repo_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("..");
    root.canonicalize().unwrap_or(root)
}

fn chromium() -> PathBuf {
    std::env::var_os("CHROMIUM").map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from)
}

/// What the browser tests need and this machine lacks.
fn missing_prerequisites(root: &Path) -> Vec<String> {
    let mut missing = Vec::new();
    let node = std::process::Command::new("node").arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status();
    if !node.is_ok_and(|s| s.success()) {
        missing.push("`node` on PATH (apt-get install nodejs, Node 20 or newer)".to_owned());
    }
    let chromium = chromium();
    if !chromium.is_file() {
        missing.push(format!("Chromium at {} (apt-get install chromium, or set CHROMIUM)", chromium.display()));
    }
    for package in ["playwright-core", "axe-core"] {
        if !root.join("tests/browser/node_modules").join(package).join("package.json").is_file() {
            missing.push(format!("tests/browser/node_modules/{package} (run `npm ci` in tests/browser)"));
        }
    }
    missing
}

/// Whether the scenarios can run here; panics when `GATEHOUSE_BROWSER_TESTS=1` demands them.
fn browser_tests_available(root: &Path) -> bool {
    let missing = missing_prerequisites(root);
    if missing.is_empty() {
        return true;
    }
    if std::env::var("GATEHOUSE_BROWSER_TESTS").as_deref() == Ok("1") {
        panic!("GATEHOUSE_BROWSER_TESTS=1 but the browser tests cannot run; missing: {}", missing.join("; "));
    }
    println!("{SKIPPED}");
    false
}

/// The fixture's people as the scenarios know them (`ctx.user("dave")`), and the demo user
/// `serve --demo` created (an admin of the demo tenant).
fn users(app: &TestApp) -> serde_json::Value {
    let person = |email: &str| json!({ "email": email, "password": PASSWORD });
    let mut users = json!({
        "alice": { "email": "alice@acme.test", "password": PASSWORD, "totp": ALICE_TOTP },
        "bob": person("bob@acme.test"),
        "dave": { "email": "dave@globex.test", "password": PASSWORD, "totp": DAVE_TOTP },
        "carol": person("carol@globex.test"),
        "frank": person("frank@hooli.test"),
    });
    let credentials = std::fs::read_to_string(app.data_dir().join("demo-credentials.txt")).unwrap_or_default();
    let field = |name: &str| credentials.lines().find_map(|l| l.strip_prefix(name)).map(|v| v.trim().to_owned());
    if let (Some(email), Some(password)) = (field("email = "), field("password = ")) {
        users["demo"] = json!({ "email": email, "password": password });
    }
    users
}

/// Fed Oy (fed.test), whose people sign in through the company's own provider (node's
/// oidc-provider, `tests/idp`), creating their accounts at the first sign-in.
fn federated_tenant(upstream: &str) -> String {
    format!(
        r#"
[[tenant]]
name = "Fed Oy"
domains = ["fed.test"]
  [[tenant.identity_provider]]
  id = "corp"
  name = "Fed Oy staff"
  issuer = "{upstream}"
  client_id = "gatehouse"
  client_secret = "{}"
  domains = ["fed.test"]
  provisioning = "jit"
  algorithms = ["RS256"]
"#,
        crate::support::upstream::UPSTREAM_SECRET
    )
}

/// Starts a server for `scenario` and runs `node tests/browser/run.mjs <scenario>` against it.
async fn run_scenario(scenario: &str) {
    run_scenario_with(scenario, false).await;
}

/// As [`run_scenario`]; with `federated`, beside a company's own identity provider too.
async fn run_scenario_with(scenario: &str, federated: bool) {
    let root = repo_root();
    if !browser_tests_available(&root) || (federated && !crate::support::upstream::available()) {
        return;
    }
    let _permit = BROWSERS.acquire().await.unwrap();
    // WebAuthn needs a domain name (and `window.PublicKeyCredential` a secure context), so the
    // issuer is http://localhost:PORT.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let listen = format!("127.0.0.1:{port}");
    let issuer = format!("http://localhost:{port}");
    let nora = json!({ "nora@fed.test": { "claims": { "email": "nora@fed.test", "email_verified": true, "name": "Nora Example" }, "amr": ["pwd"] } });
    let upstream = if federated { Some(crate::support::upstream::Upstream::start(&issuer, &nora).await) } else { None };
    let fixture = match &upstream {
        Some(upstream) => format!("{FIXTURE}{}", federated_tenant(&upstream.issuer)),
        None => FIXTURE.to_owned(),
    };
    let app = spawn_with(SpawnOptions { fixture: &fixture, extra: &["--listen", &listen, "--issuer", &issuer, "--demo"], ..Default::default() }).await;
    let mut people = users(&app);
    people["nora"] = json!({ "email": "nora@fed.test" });
    let node = tokio::process::Command::new("node")
        .arg("tests/browser/run.mjs")
        .arg(scenario)
        .current_dir(&root)
        .env("GATEHOUSE_URL", &issuer)
        .env("GATEHOUSE_USERS", people.to_string())
        .env("CHROMIUM", chromium())
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(SCENARIO_LIMIT, node)
        .await
        .unwrap_or_else(|_| panic!("browser scenario {scenario} did not finish in {} s", SCENARIO_LIMIT.as_secs()))
        .expect("cannot run node");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("--- node tests/browser/run.mjs {scenario} ---\n{stdout}{stderr}");
    assert!(output.status.success(), "browser scenario {scenario} failed ({}); artefacts in target/browser-artifacts/{scenario}/\n{stderr}", output.status);
}

/// Password and authenticator-app code at the demo application, with a wrong password and a
/// wrong code on the way, then sign-out.
#[tokio::test]
async fn password_totp() {
    run_scenario("password_totp").await;
}

/// The enrollment wizard: QR code and key, the first code, recovery codes shown once.
#[tokio::test]
async fn enroll_totp() {
    run_scenario("enroll_totp").await;
}

/// A passkey registered in the wizard with a virtual authenticator, then used without a
/// password and as the second factor after one.
#[tokio::test]
async fn webauthn() {
    run_scenario("webauthn").await;
}

/// Double submission, the back button after signing in, and tampered hidden fields end on
/// pages a person can act on.
#[tokio::test]
async fn bad_input() {
    run_scenario("bad_input").await;
}

/// The account page: a passkey and an authenticator app added (with the step-up the API asks
/// for), renamed, new recovery codes, a method removed, "download my data", sign-out.
#[tokio::test]
async fn account_pages() {
    run_scenario("account_pages").await;
}

/// A tenant admin turns the domain's 2FA to Required in the admin console; the next sign-in of
/// a person without a factor goes to the enrollment wizard.
#[tokio::test]
async fn admin_requires_2fa() {
    run_scenario("admin_requires_2fa").await;
}

/// An operator switches an application to Bypass; the second-factor prompt disappears.
#[tokio::test]
async fn operator_bypass() {
    run_scenario("operator_bypass").await;
}

/// Through a company's own identity provider: the email step, the page that leaves for the
/// provider, back signed in with an account created just in time, the provider's sign-out.
#[tokio::test]
async fn federated() {
    run_scenario_with("federated", true).await;
}
