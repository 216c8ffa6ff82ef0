//! The `webhook` SMS sender against a receiver on loopback that checks the HMAC-SHA256
//! signature the way a gateway would.

use reqwest::StatusCode;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::support::api::hmac_sha256;
use crate::support::app::{SpawnOptions, TempDir, spawn_with};
use crate::support::browser::{Browser, location};
use crate::support::fixtures::two_factor::FIXTURE;
use crate::support::walker::{assert_code_for, page, password_step, present};

const KEY: &str = "a webhook key of at least thirty-two bytes";

struct Received {
    headers: String,
    body: Vec<u8>,
}

/// A one-route HTTP/1.1 receiver: records each request and answers 200.
async fn receiver() -> (String, mpsc::UnboundedReceiver<Received>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/sms", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut data = Vec::new();
                let mut buf = [0u8; 4096];
                loop {
                    let n = socket.read(&mut buf).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    data.extend_from_slice(&buf[..n]);
                    let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") else { continue };
                    let headers = String::from_utf8_lossy(&data[..end]).to_lowercase();
                    let length: usize = headers.lines().find_map(|l| l.strip_prefix("content-length: ")).and_then(|v| v.trim().parse().ok()).unwrap_or(0);
                    if data.len() >= end + 4 + length {
                        let body = data[end + 4..end + 4 + length].to_vec();
                        let _ = tx.send(Received { headers, body });
                        let _ = socket.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").await;
                        return;
                    }
                }
            });
        }
    });
    (url, rx)
}

#[tokio::test]
async fn sms_codes_reach_the_gateway_signed_and_sign_the_user_in() {
    let (url, mut received) = receiver().await;
    let dir = TempDir::new("sms-webhook");
    let key_file = dir.file("sms.key", KEY);
    let key_path = key_file.display().to_string();
    let app = spawn_with(SpawnOptions {
        dir: Some(dir),
        fixture: FIXTURE,
        extra: &["--sms-webhook-url", &url, "--sms-webhook-secret-file", &key_path],
        ..Default::default()
    })
    .await;
    let browser = Browser::new();
    let to = password_step(&app, &browser, "vault", "", "alice@acme.test").await;
    let html = page(&app, &browser, &to).await;
    let sent = browser.post_step(&app, "/login/factor/sms", &html, &[]).await;
    assert_eq!(sent.status(), StatusCode::OK);

    let request = tokio::time::timeout(std::time::Duration::from_secs(5), received.recv()).await.unwrap().unwrap();
    let header = |name: &str| request.headers.lines().find_map(|l| l.strip_prefix(&format!("{name}: "))).unwrap_or_default().trim().to_owned();
    let timestamp = header("x-gatehouse-timestamp");
    let mut signed = timestamp.as_bytes().to_vec();
    signed.push(b'.');
    signed.extend_from_slice(&request.body);
    let expected: String = hmac_sha256(KEY.as_bytes(), &signed).iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(header("x-gatehouse-signature"), format!("sha256={expected}"), "signed over timestamp.body with the key");
    assert!(request.headers.starts_with("post /sms "));
    let message: Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(message["to"], "+358401234567");
    let code: String = message["text"].as_str().unwrap().split("code is ").nth(1).unwrap().chars().take(6).collect();
    assert!(!app.data_dir().join("outbox").join("sms.jsonl").exists(), "the webhook replaces the outbox");

    let response = present(&app, &browser, &to, "sms", &code).await;
    assert_code_for("vault", &location(&response));
}

#[tokio::test]
async fn a_gateway_that_is_down_is_a_clear_message_not_a_failed_sign_in_page() {
    // Nothing listens on this port: the sender cannot deliver.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}/sms");
    let dir = TempDir::new("sms-webhook-down");
    let key_path = dir.file("sms.key", KEY).display().to_string();
    let app = spawn_with(SpawnOptions {
        dir: Some(dir),
        fixture: FIXTURE,
        extra: &["--sms-webhook-url", &url, "--sms-webhook-secret-file", &key_path],
        ..Default::default()
    })
    .await;
    let browser = Browser::new();
    let to = password_step(&app, &browser, "vault", "", "alice@acme.test").await;
    let html = page(&app, &browser, &to).await;
    let sent = browser.post_step(&app, "/login/factor/sms", &html, &[]).await;
    assert_eq!(sent.status(), StatusCode::OK);
    assert!(sent.text().await.unwrap().contains("could not be sent"));
}
