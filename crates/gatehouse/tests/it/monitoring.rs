//! Detection and alerts against the real server: brute force (progressive delay, a temporary
//! lock that tells the user and expires), password spraying, credential stuffing from many
//! addresses, SMS flooding and role escalation, each delivered to a test webhook receiver that
//! checks the HMAC signature (and retried when the receiver fails), or to a syslog collector.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::support::api::{call, client_token, hmac_sha256, token_for};
use crate::support::app::{SpawnOptions, TempDir, TestApp, cli, spawn_with};
use crate::support::browser::{Browser, location};
use crate::support::fixtures::two_factor::{ALICE_TOTP, FIXTURE, PASSWORD, spawn};
use crate::support::walker::{outbox_lines, page, password_step, query};

const KEY: &str = "an alert webhook key of at least thirty-two bytes";

/// A webhook receiver that answers 500 to the first `fail_first` requests, then 200, and
/// passes on each accepted alert after checking its signature.
async fn alert_receiver(fail_first: usize) -> (String, mpsc::UnboundedReceiver<Value>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/alerts", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut seen = 0;
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut data = Vec::new();
            let mut buf = [0u8; 8192];
            let (headers, body) = loop {
                let n = socket.read(&mut buf).await.unwrap_or(0);
                if n == 0 {
                    break (String::new(), Vec::new());
                }
                data.extend_from_slice(&buf[..n]);
                let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") else { continue };
                let headers = String::from_utf8_lossy(&data[..end]).to_lowercase();
                let length: usize = headers.lines().find_map(|l| l.strip_prefix("content-length: ")).and_then(|v| v.trim().parse().ok()).unwrap_or(0);
                if data.len() >= end + 4 + length {
                    break (headers, data[end + 4..end + 4 + length].to_vec());
                }
            };
            if headers.is_empty() {
                continue;
            }
            seen += 1;
            let status = if seen <= fail_first { "500 Internal Server Error" } else { "200 OK" };
            let _ = socket.write_all(format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").as_bytes()).await;
            if seen <= fail_first {
                continue;
            }
            let header = |name: &str| headers.lines().find_map(|l| l.strip_prefix(&format!("{name}: "))).unwrap_or_default().trim().to_owned();
            let mut signed = header("x-gatehouse-timestamp").into_bytes();
            signed.push(b'.');
            signed.extend_from_slice(&body);
            let expected: String = hmac_sha256(KEY.as_bytes(), &signed).iter().map(|b| format!("{b:02x}")).collect();
            assert_eq!(header("x-gatehouse-signature"), format!("sha256={expected}"), "every alert is signed over timestamp.body");
            let _ = tx.send(serde_json::from_slice::<Value>(&body).unwrap());
        }
    });
    (url, rx)
}

/// Waits for an alert of `kind` at the receiver.
async fn expect_alert(received: &mut mpsc::UnboundedReceiver<Value>, kind: &str) -> Value {
    expect_alert_about(received, kind, None).await
}

/// Waits for an alert of `kind` (about `subject`, when given) at the receiver.
async fn expect_alert_about(received: &mut mpsc::UnboundedReceiver<Value>, kind: &str, subject: Option<&str>) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let message = tokio::time::timeout_at(deadline, received.recv()).await.unwrap_or_else(|_| panic!("no {kind} alert arrived")).unwrap();
        assert_eq!(message["type"], "gatehouse.alert");
        if message["alert"]["kind"] == kind && subject.is_none_or(|s| message["alert"]["subject"] == s) {
            return message["alert"].clone();
        }
    }
}

async fn spawn_monitored(settings: &str, fail_first: usize) -> (TestApp, mpsc::UnboundedReceiver<Value>) {
    let (url, received) = alert_receiver(fail_first).await;
    let dir = TempDir::new("monitoring");
    let key = dir.file("alerts.key", KEY).display().to_string();
    let config = dir.file("gatehouse.toml", settings).display().to_string();
    let extra =
        ["--config", config.as_str(), "--alert-webhook-url", url.as_str(), "--alert-webhook-secret-file", key.as_str(), "--trusted-proxy", "127.0.0.1/32"];
    let app = spawn_with(SpawnOptions { dir: Some(dir), fixture: FIXTURE, extra: &extra, ..Default::default() }).await;
    (app, received)
}

async fn operator(app: &TestApp) -> String {
    let token: Value = client_token(app, "ops", "gatehouse:admin").await.json().await.unwrap();
    token["access_token"].as_str().unwrap().to_owned()
}

/// Submits a password on a fresh sign-in page; returns the status and the page or location.
async fn try_password(app: &TestApp, browser: &Browser, email: &str, password: &str) -> (StatusCode, String) {
    let login = location(&browser.authorize(app, &query("payroll", "")).await);
    let response = browser.submit_login(app, &login, email, password).await;
    let status = response.status();
    if status == StatusCode::SEE_OTHER {
        return (status, location(&response));
    }
    (status, response.text().await.unwrap())
}

#[tokio::test]
async fn brute_force_locks_the_account_for_a_while_alerts_admins_and_the_lock_expires() {
    // The receiver fails the first delivery: the alert must still arrive (retried), and the
    // failing sink must not hold up any sign-in.
    let settings = "[lockout]\ndelay_after = 50\nlock_after = 4\nlock_seconds = 2\n";
    let (app, mut received) = spawn_monitored(settings, 1).await;
    let browser = Browser::new();
    for _ in 0..4 {
        let (status, html) = try_password(&app, &browser, "bob@acme.test", "not bob's password").await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("The email address or password is incorrect."));
    }
    // Locked: the right password gets exactly the wrong password's answer.
    let (status, html) = try_password(&app, &browser, "bob@acme.test", PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("The email address or password is incorrect."), "a locked account looks like a wrong password");

    let alert = expect_alert(&mut received, "brute_force").await;
    assert_eq!(alert["severity"], "medium");
    assert_eq!(alert["details"]["failures"], 4);
    assert!(alert["tenant"].is_string(), "raised for the user's tenant");
    let told = outbox_lines(&app, "notifications.jsonl");
    assert!(told.iter().any(|n| n["kind"] == "account_locked" && n["to"] == "bob@acme.test"), "the user is told: {told:?}");

    tokio::time::sleep(Duration::from_millis(2300)).await;
    let (status, to) = try_password(&app, &browser, "bob@acme.test", PASSWORD).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "the lock expired by itself: {to}");

    // The alert is listed for the tenant's admin and operators, acknowledged once, and hidden
    // from another tenant's admin.
    let ops = operator(&app).await;
    let listed: Value = call(&app, Method::GET, "/api/v1/alerts?open=true", &ops, None).await.json().await.unwrap();
    let id = listed["alerts"].as_array().unwrap().iter().find(|a| a["kind"] == "brute_force").unwrap()["id"].as_str().unwrap().to_owned();
    let alice = token_for(&app, "vault", "alice@acme.test", Some(ALICE_TOTP)).await;
    let dave = token_for(&app, "vault", "dave@globex.test", Some("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ")).await;
    let theirs: Value = call(&app, Method::GET, "/api/v1/alerts", &dave, None).await.json().await.unwrap();
    assert!(theirs["alerts"].as_array().unwrap().iter().all(|a| a["id"] != id.as_str()), "another tenant's admin does not see it");
    let hidden = call(&app, Method::POST, &format!("/api/v1/alerts/{id}/acknowledge"), &dave, None).await;
    assert_eq!(hidden.status(), StatusCode::NOT_FOUND);
    let acked = call(&app, Method::POST, &format!("/api/v1/alerts/{id}/acknowledge"), &alice, None).await;
    assert_eq!(acked.status(), StatusCode::OK);
    let acked: Value = acked.json().await.unwrap();
    assert!(acked["acknowledged_by"].as_str().unwrap().starts_with("user:"));
    assert_eq!(call(&app, Method::POST, &format!("/api/v1/alerts/{id}/acknowledge"), &alice, None).await.status(), StatusCode::CONFLICT);
}

#[tokio::test]
async fn password_spraying_and_credential_stuffing_raise_alerts() {
    let settings = "[detection]\nspraying_accounts = 3\nstuffing_accounts = 5\nstuffing_addresses = 2\n";
    let (app, mut received) = spawn_monitored(settings, 0).await;
    // One address tries one password on many accounts, known and unknown alike.
    let sprayer = Browser::behind("127.0.0.1".parse().unwrap(), Some("203.0.113.7"));
    for account in ["alice@acme.test", "bob@acme.test", "nobody@acme.test"] {
        try_password(&app, &sprayer, account, "Summer2026!").await;
    }
    let spraying = expect_alert(&mut received, "password_spraying").await;
    assert_eq!(spraying["details"]["address"], "203.0.113.7");
    // Then more accounts from a second address: many accounts, many addresses.
    let second = Browser::behind("127.0.0.1".parse().unwrap(), Some("198.51.100.9"));
    for account in ["carol@globex.test", "dave@globex.test"] {
        try_password(&app, &second, account, "leaked password 1").await;
    }
    let stuffing = expect_alert(&mut received, "credential_stuffing").await;
    assert_eq!(stuffing["severity"], "high");
    assert!(stuffing["details"]["addresses"].as_u64().unwrap() >= 2);
}

#[tokio::test]
async fn a_flood_of_text_message_codes_raises_an_alert_and_is_refused_per_address() {
    let settings = "[detection]\notp_per_user_per_hour = 3\n";
    let (app, mut received) = spawn_monitored(settings, 0).await;
    let browser = Browser::new();
    let to = password_step(&app, &browser, "vault", "", "alice@acme.test").await;
    for _ in 0..3 {
        let html = page(&app, &browser, &to).await;
        browser.post_step(&app, "/login/factor/sms", &html, &[]).await;
    }
    let flood = expect_alert(&mut received, "otp_flooding").await;
    assert_eq!(flood["details"]["codes"], 3);
    assert_eq!(outbox_lines(&app, "sms.jsonl").len(), 1, "the resend limit still held: one text went out");
}

#[tokio::test]
async fn making_someone_an_admin_reaches_syslog_and_the_webhook() {
    let collector = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let syslog = format!("udp://{}", collector.local_addr().unwrap());
    let (url, mut received) = alert_receiver(0).await;
    let dir = TempDir::new("syslog");
    let key = dir.file("alerts.key", KEY).display().to_string();
    let extra = ["--alert-webhook-url", url.as_str(), "--alert-webhook-secret-file", key.as_str(), "--alert-syslog", syslog.as_str()];
    let app = spawn_with(SpawnOptions { dir: Some(dir), fixture: FIXTURE, extra: &extra, ..Default::default() }).await;
    let ops = operator(&app).await;
    let users: Value = call(&app, Method::GET, "/api/v1/tenants", &ops, None).await.json().await.unwrap();
    let acme = users["tenants"].as_array().unwrap().iter().find(|t| t["name"] == "Acme Oy").unwrap()["id"].as_str().unwrap().to_owned();
    let members: Value = call(&app, Method::GET, &format!("/api/v1/tenants/{acme}/users"), &ops, None).await.json().await.unwrap();
    let bob = members["users"].as_array().unwrap().iter().find(|u| u["email"] == "bob@acme.test").unwrap()["id"].as_str().unwrap().to_owned();
    let promoted = call(&app, Method::PATCH, &format!("/api/v1/users/{bob}"), &ops, Some(json!({ "roles": ["admin"] }))).await;
    assert_eq!(promoted.status(), StatusCode::OK);

    // The import that created Alice and Dave as admins raised one each too.
    let alert = expect_alert_about(&mut received, "role_escalation", Some(&format!("user:{bob}"))).await;
    assert!(alert["summary"].as_str().unwrap().contains("client:ops"), "says who: {alert}");
    let mut buf = vec![0u8; 4096];
    let message = loop {
        let (n, _) = tokio::time::timeout(Duration::from_secs(10), collector.recv_from(&mut buf)).await.expect("a syslog datagram").unwrap();
        let message = String::from_utf8_lossy(&buf[..n]).into_owned();
        if message.contains(&format!("subject=\"user:{bob}\"")) {
            break message;
        }
    };
    assert!(message.starts_with("<83>1 "), "authpriv.error, RFC 5424 version 1: {message}");
    assert!(message.contains(" gatehouse - role_escalation [gatehouse@32473 "), "{message}");
    assert!(message.contains(&format!("subject=\"user:{bob}\"")), "{message}");
}

#[test]
fn a_misconfigured_sink_or_unsafe_lockout_stops_the_server_at_start_up() {
    let dir = TempDir::new("bad-sink");
    let data = dir.path().join("data");
    let (ok, _, err) = cli(&data, &["serve", "--listen", "127.0.0.1:0", "--alert-syslog", "syslog.example.com"]);
    assert!(!ok && err.contains("udp://host:port or tcp://host:port"), "{err}");
    let config = dir.file("gatehouse.toml", "[lockout]\nlock_after = 500\nmax_delay_seconds = 1\n").display().to_string();
    let (ok, _, err) = cli(&data, &["--config", &config, "serve", "--listen", "127.0.0.1:0"]);
    assert!(!ok && err.contains("NIST SP 800-63B"), "{err}");
}

#[tokio::test]
async fn failed_token_requests_from_one_address_are_throttled_with_retry_after() {
    let app = spawn().await;
    let client = reqwest::Client::new();
    let mut last = None;
    for _ in 0..101 {
        let response =
            client.post(app.url("/token")).form(&[("grant_type", "authorization_code"), ("code", "guess"), ("client_id", "payroll")]).send().await.unwrap();
        last = Some(response);
    }
    let last = last.unwrap();
    assert_eq!(last.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(last.headers().get("retry-after").is_some());
    let body: Value = last.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");
}

#[tokio::test]
async fn alerts_reach_syslog_over_tcp_in_octet_counted_frames_and_notices_reach_a_signed_webhook() {
    let collector = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let syslog = format!("tcp://{}", collector.local_addr().unwrap());
    let (url, mut received) = alert_receiver(0).await;
    let dir = TempDir::new("syslog-tcp");
    let key = dir.file("notices.key", KEY).display().to_string();
    let settings = format!("[notifications]\nwebhook_url = \"{url}\"\nwebhook_secret_file = \"{key}\"\n");
    let config = dir.file("gatehouse.toml", &settings).display().to_string();
    let extra = ["--config", config.as_str(), "--alert-syslog", syslog.as_str()];
    let app = spawn_with(SpawnOptions { dir: Some(dir), fixture: FIXTURE, extra: &extra, ..Default::default() }).await;

    // The import made two admins: their role-escalation alerts arrive, each in its own frame
    // (after the start-up probe, a connection that sends nothing).
    let frame = loop {
        let (mut socket, _) = tokio::time::timeout(Duration::from_secs(10), collector.accept()).await.expect("a syslog connection").unwrap();
        let mut frame = Vec::new();
        socket.read_to_end(&mut frame).await.unwrap();
        if !frame.is_empty() {
            break String::from_utf8(frame).unwrap();
        }
    };
    let (length, message) = frame.split_once(' ').unwrap();
    assert_eq!(length.parse::<usize>().unwrap(), message.len(), "RFC 6587 octet counting: {frame}");
    assert!(message.starts_with("<83>1 ") && message.contains(" role_escalation "), "{message}");

    // Notices to users go to the webhook, signed like alerts.
    for _ in 0..2 {
        assert!(password_step(&app, &Browser::new(), "payroll", "", "bob@acme.test").await.contains("code="));
    }
    let notice = tokio::time::timeout(Duration::from_secs(10), received.recv()).await.expect("a notice").unwrap();
    assert_eq!(notice["type"], "gatehouse.notification");
    assert_eq!((notice["notification"]["kind"].as_str(), notice["notification"]["to"].as_str()), (Some("new_sign_in"), Some("bob@acme.test")));
}
