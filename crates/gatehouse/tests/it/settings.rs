//! Settings layering (defaults, `gatehouse.toml`, `GATEHOUSE_*` variables, flags) and the
//! session lifetimes they configure, observed on a running server.

use reqwest::StatusCode;
use serde_json::Value;

use crate::support::app::{SpawnOptions, TempDir, TestApp, cli, spawn_with};
use crate::support::browser::{Browser, location, payroll_query, query_param};
use crate::support::fixtures::basic::{ALICE, MACHINE_SECRET};

async fn discovered_issuer(app: &TestApp) -> String {
    let doc: Value = reqwest::get(format!("http://{}/.well-known/openid-configuration", app.addr)).await.unwrap().json().await.unwrap();
    doc["issuer"].as_str().unwrap().to_owned()
}

async fn client_credentials_lifetime(app: &TestApp) -> i64 {
    let body: Value = reqwest::Client::new()
        .post(format!("http://{}/token", app.addr))
        .basic_auth("machine", Some(MACHINE_SECRET))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["expires_in"].as_i64().unwrap()
}

const FILE: &str = "issuer = \"https://file.example\"\ndemo = true\n[tokens]\naccess_token_seconds = 77\n";

#[tokio::test]
async fn file_settings_apply() {
    let dir = TempDir::new("layers-file");
    let config = dir.file("gatehouse.toml", FILE).display().to_string();
    let app = spawn_with(SpawnOptions { dir: Some(dir), extra: &["--config", &config], ..Default::default() }).await;
    assert_eq!(discovered_issuer(&app).await, "https://file.example");
    assert_eq!(client_credentials_lifetime(&app).await, 77);
    let demo = reqwest::get(format!("http://{}/demo", app.addr)).await.unwrap();
    assert_eq!(demo.status(), StatusCode::OK, "demo = true in the file");
}

#[tokio::test]
async fn variables_override_the_file() {
    let dir = TempDir::new("layers-env");
    let config = dir.file("gatehouse.toml", FILE).display().to_string();
    let env = [("GATEHOUSE_ISSUER", "https://env.example"), ("GATEHOUSE_TOKENS__ACCESS_TOKEN_SECONDS", "88"), ("GATEHOUSE_DEMO", "false")];
    let app = spawn_with(SpawnOptions { dir: Some(dir), extra: &["--config", &config], env: &env, ..Default::default() }).await;
    assert_eq!(discovered_issuer(&app).await, "https://env.example");
    assert_eq!(client_credentials_lifetime(&app).await, 88);
    let demo = reqwest::get(format!("http://{}/demo", app.addr)).await.unwrap();
    assert_eq!(demo.status(), StatusCode::NOT_FOUND, "GATEHOUSE_DEMO=false beats demo = true");
}

#[tokio::test]
async fn flags_override_variables() {
    let dir = TempDir::new("layers-flag");
    let config = dir.file("gatehouse.toml", FILE).display().to_string();
    let env = [("GATEHOUSE_ISSUER", "https://env.example"), ("GATEHOUSE_TOKENS__ACCESS_TOKEN_SECONDS", "88")];
    let extra = ["--config", &config, "--issuer", "https://flag.example", "--access-token-seconds", "99"];
    let app = spawn_with(SpawnOptions { dir: Some(dir), extra: &extra, env: &env, ..Default::default() }).await;
    assert_eq!(discovered_issuer(&app).await, "https://flag.example");
    assert_eq!(client_credentials_lifetime(&app).await, 99);
}

#[tokio::test]
async fn out_of_range_lifetimes_are_a_clear_startup_error() {
    let dir = TempDir::new("layers-bad");
    let config = dir.file("gatehouse.toml", "[tokens]\naccess_token_seconds = 31536000\n");
    let (ok, _, err) = cli(&dir.path().join("data"), &["--config", config.to_str().unwrap(), "serve", "--listen", "127.0.0.1:0"]);
    assert!(!ok);
    assert!(err.contains("tokens.access_token_seconds") && err.contains("86400"), "{err}");
}

async fn prompt_none_gets_a_code(app: &TestApp, browser: &Browser) -> bool {
    let to = location(&browser.authorize(app, &payroll_query("&prompt=none")).await);
    query_param(&to, "code").is_some()
}

#[tokio::test]
async fn idle_sessions_expire() {
    // Two seconds, not one: on a loaded CI machine a sign-in and the next request can take
    // longer than a second, which made the "fresh session" step flaky.
    let app = spawn_with(SpawnOptions { extra: &["--session-idle-seconds", "2"], ..Default::default() }).await;
    let browser = Browser::new();
    browser.sign_in(&app, &payroll_query(""), ALICE).await;
    assert!(prompt_none_gets_a_code(&app, &browser).await, "fresh session");
    tokio::time::sleep(std::time::Duration::from_millis(3100)).await;
    assert!(!prompt_none_gets_a_code(&app, &browser).await, "idle for longer than 2 s: signed out");
}

#[tokio::test]
async fn sessions_end_at_the_absolute_limit_even_when_used() {
    // Stored times have one-second resolution: allow for it on both sides.
    let app = spawn_with(SpawnOptions { extra: &["--session-absolute-seconds", "3"], ..Default::default() }).await;
    let browser = Browser::new();
    browser.sign_in(&app, &payroll_query(""), ALICE).await;
    for _ in 0..3 {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        assert!(prompt_none_gets_a_code(&app, &browser).await, "in use, within the absolute limit");
    }
    tokio::time::sleep(std::time::Duration::from_millis(2700)).await;
    assert!(!prompt_none_gets_a_code(&app, &browser).await, "past the absolute limit");
}
