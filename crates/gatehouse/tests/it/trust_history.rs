//! "This wasn't me", change history, the SIEM export and notices to users, against the real
//! server: a reported sign-in ends the user's sessions and tokens, forces a fresh second factor
//! (even in a Bypass application) and a new password; admins query and download the change
//! history of their own tenant only; operators export OCSF events with a resumable cursor.

use reqwest::{Method, StatusCode};
use serde_json::Value;
use std::collections::HashSet;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

use crate::support::api::{call, client_token, token_for};
use crate::support::app::{SpawnOptions, TempDir, TestApp, cli, spawn_with};
use crate::support::browser::{Browser, location};
use crate::support::fixtures::two_factor::{ALICE_TOTP, DAVE_TOTP, FIXTURE, PASSWORD, spawn};
use crate::support::walker::{assert_code_for, outbox_lines, page, password_step, query, reset_code_for};

async fn operator(app: &TestApp) -> String {
    let token: Value = client_token(app, "ops", "gatehouse:admin").await.json().await.unwrap();
    token["access_token"].as_str().unwrap().to_owned()
}

async fn json(response: reqwest::Response) -> Value {
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

#[tokio::test]
async fn a_reported_sign_in_ends_every_session_and_forces_fresh_2fa_and_a_new_password() {
    let app = spawn().await;
    // Factors created in the second of the reported sign-in or later are removed with it (they
    // may be the intruder's): let the imported ones be clearly older.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let alice = token_for(&app, "vault", "alice@acme.test", Some(ALICE_TOTP)).await;
    let history = json(call(&app, Method::GET, "/api/v1/me/sign-ins?result=success", &alice, None).await).await;
    let entry = history["sign_ins"][0].clone();
    assert_eq!(entry["result"], "success");
    let missing = call(&app, Method::POST, "/api/v1/me/sign-ins/not-an-entry/report", &alice, None).await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);

    let id = entry["id"].as_str().unwrap();
    let report = json(call(&app, Method::POST, &format!("/api/v1/me/sign-ins/{id}/report"), &alice, None).await).await;
    assert!(report["sessions_ended"].as_u64().unwrap() >= 1 && report["grants_revoked"].as_u64().unwrap() >= 1, "{report}");
    assert_eq!(call(&app, Method::GET, "/api/v1/me/factors", &alice, None).await.status(), StatusCode::UNAUTHORIZED, "its tokens stopped working");

    let ops = operator(&app).await;
    let alerts = json(call(&app, Method::GET, "/api/v1/alerts", &ops, None).await).await;
    let alert = alerts["alerts"].as_array().unwrap().iter().find(|a| a["kind"] == "sign_in_reported").expect("an alert for the admins").clone();
    assert_eq!(alert["details"]["sign_in"], id);

    // The next sign-in, to an application that never asks for 2FA: a fresh second factor first.
    let browser = Browser::new();
    let to = password_step(&app, &browser, "wiki", "", "alice@acme.test").await;
    assert!(to.starts_with("/login/factor"), "a reported sign-in requires a fresh second factor even in a Bypass app: {to}");
    let html = page(&app, &browser, &to).await;
    assert_eq!(browser.post_step(&app, "/login/factor/sms", &html, &[]).await.status(), StatusCode::OK);
    let sms = outbox_lines(&app, "sms.jsonl");
    let code: String = sms.last().unwrap()["text"].as_str().unwrap().split("code is ").nth(1).unwrap().chars().take(6).collect();
    let html = page(&app, &browser, &to).await;
    let after_factor = location(&browser.post_step(&app, "/login/factor", &html, &[("method", "sms"), ("code", &code)]).await);
    assert!(after_factor.starts_with("/login/password?request="), "then a new password: {after_factor}");

    let html = page(&app, &browser, &after_factor).await;
    assert!(html.contains("autocomplete=\"new-password\""));
    let code = reset_code_for(&app, "alice@acme.test").await;
    let code = code.as_str();
    let mismatch = browser
        .post_step(
            &app,
            "/login/password",
            &html,
            &[("email_code", code), ("new_password", "a brand new passphrase"), ("confirm_password", "another passphrase!")],
        )
        .await;
    assert!(mismatch.text().await.unwrap().contains("not the same"));
    let reused = browser.post_step(&app, "/login/password", &html, &[("email_code", code), ("new_password", PASSWORD), ("confirm_password", PASSWORD)]).await;
    assert!(reused.text().await.unwrap().contains("not used for this account"), "the old password is refused");
    let done = browser
        .post_step(
            &app,
            "/login/password",
            &html,
            &[("email_code", code), ("new_password", "a brand new passphrase"), ("confirm_password", "a brand new passphrase")],
        )
        .await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_code_for("wiki", &location(&done));

    // The old password no longer works; the new one does, with no more detours.
    let fresh = Browser::new();
    let login = location(&fresh.authorize(&app, &query("wiki", "")).await);
    assert_eq!(fresh.submit_login(&app, &login, "alice@acme.test", PASSWORD).await.status(), StatusCode::OK);
    let again = fresh.sign_in(&app, &query("wiki", ""), ("alice@acme.test", "a brand new passphrase")).await;
    assert_code_for("wiki", &again);

    let told: Vec<String> =
        outbox_lines(&app, "notifications.jsonl").iter().filter(|n| n["to"] == "alice@acme.test").map(|n| n["kind"].as_str().unwrap().to_owned()).collect();
    assert!(told.contains(&"sign_in_reported".to_owned()) && told.contains(&"password_changed".to_owned()), "{told:?}");
    // The reported address feeds the risk engine, and the entry remembers it was reported.
    let history = json(call(&app, Method::GET, &format!("/api/v1/users/{}/sign-ins", alert["details"]["user"].as_str().unwrap()), &ops, None).await).await;
    let latest = &history["sign_ins"][0];
    assert!(latest["policy"]["reasons"].to_string().contains("reported_address"), "{latest}");
    assert!(history["sign_ins"].as_array().unwrap().iter().any(|e| e["id"] == id && e["reported_at"].is_i64()));
}

#[tokio::test]
async fn admins_query_and_download_their_tenants_change_history_and_reads_are_audited() {
    let app = spawn().await;
    let ops = operator(&app).await;
    let tenants = json(call(&app, Method::GET, "/api/v1/tenants", &ops, None).await).await;
    let id_of = |name: &str| tenants["tenants"].as_array().unwrap().iter().find(|t| t["name"] == name).unwrap()["id"].as_str().unwrap().to_owned();
    let (acme, globex) = (id_of("Acme Oy"), id_of("Globex"));
    for policy in [r#"{"policy":{"two_factor":"required"}}"#, r#"{"policy":{"two_factor":"optional"}}"#] {
        let body: Value = serde_json::from_str(policy).unwrap();
        assert_eq!(call(&app, Method::PUT, &format!("/api/v1/tenants/{acme}/policy"), &ops, Some(body)).await.status(), StatusCode::OK);
    }
    let alice = token_for(&app, "vault", "alice@acme.test", Some(ALICE_TOTP)).await;
    let dave = token_for(&app, "vault", "dave@globex.test", Some(DAVE_TOTP)).await;

    let mine = json(call(&app, Method::GET, "/api/v1/audit?action=tenant.policy.", &alice, None).await).await;
    let records = mine["records"].as_array().unwrap();
    assert_eq!(records.len(), 2, "{mine}");
    assert!(records.iter().all(|r| r["tenant"] == acme.as_str() && r["actor"] == "client:ops"));
    assert!(records[0]["seq"].as_u64() > records[1]["seq"].as_u64(), "newest first");
    let theirs = json(call(&app, Method::GET, "/api/v1/audit", &dave, None).await).await;
    assert!(theirs["records"].as_array().unwrap().iter().all(|r| r["tenant"] == globex.as_str()), "another tenant's admin sees only theirs: {theirs}");

    let first = json(call(&app, Method::GET, "/api/v1/audit?action=tenant.policy.&limit=1", &alice, None).await).await;
    let before = first["next"].as_u64().unwrap();
    let second = json(call(&app, Method::GET, &format!("/api/v1/audit?action=tenant.policy.&limit=1&before={before}"), &alice, None).await).await;
    assert_eq!(second["records"][0]["seq"], records[1]["seq"], "the cursor continues");
    let window = json(call(&app, Method::GET, "/api/v1/audit?since=2000-01-01T00:00:00Z&until=2001-01-01T00:00:00Z", &ops, None).await).await;
    assert!(window["records"].as_array().unwrap().is_empty());
    for bad in ["/api/v1/audit?since=yesterday", "/api/v1/audit?format=xml", "/api/v1/audit?colour=red"] {
        assert_eq!(call(&app, Method::GET, bad, &alice, None).await.status(), StatusCode::BAD_REQUEST, "{bad}");
    }

    let csv = call(&app, Method::GET, "/api/v1/audit?format=csv&actor=client:ops", &alice, None).await;
    assert_eq!(csv.status(), StatusCode::OK);
    assert!(csv.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    assert!(csv.headers()["content-disposition"].to_str().unwrap().contains("attachment"));
    let text = csv.text().await.unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("seq,at,actor,on_behalf_of,action,target,tenant,address,user_agent,reason,before,after"));
    assert!(lines.all(|l| l.contains("\"client:ops\"")), "{text}");

    // Reading someone's login history, and reading the change history, are themselves audited.
    let users = json(call(&app, Method::GET, &format!("/api/v1/tenants/{acme}/users"), &ops, None).await).await;
    let bob = users["users"].as_array().unwrap().iter().find(|u| u["email"] == "bob@acme.test").unwrap()["id"].as_str().unwrap().to_owned();
    json(call(&app, Method::GET, &format!("/api/v1/users/{bob}/sign-ins?result=failure&since=2020-01-01T00:00:00Z"), &alice, None).await).await;
    let reads = json(call(&app, Method::GET, &format!("/api/v1/audit?action=personal_data.read&target=user:{bob}"), &ops, None).await).await;
    assert_eq!(reads["records"][0]["reason"], "login history");
    assert!(reads["records"][0]["actor"].as_str().unwrap().starts_with("user:"));
    let audit_reads = json(call(&app, Method::GET, "/api/v1/audit?action=audit.read", &ops, None).await).await;
    assert!(audit_reads["records"].as_array().unwrap().len() >= 5, "{audit_reads}");
}

#[tokio::test]
async fn operators_export_ocsf_events_with_a_resumable_cursor_and_the_cli_exports_too() {
    let app = spawn().await;
    let browser = Browser::new();
    let login = location(&browser.authorize(&app, &query("payroll", "")).await);
    browser.submit_login(&app, &login, "bob@acme.test", "wrong password").await;
    assert_code_for("payroll", &password_step(&app, &Browser::new(), "payroll", "", "bob@acme.test").await);
    let ops = operator(&app).await;

    let mut cursor = String::new();
    let mut seen = HashSet::new();
    let mut classes = HashSet::new();
    loop {
        let path = if cursor.is_empty() { "/api/v1/siem/events?limit=2".to_owned() } else { format!("/api/v1/siem/events?limit=2&cursor={cursor}") };
        let response = call(&app, Method::GET, &path, &ops, None).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-type"], "application/x-ndjson");
        let next = response.headers()["x-next-cursor"].to_str().unwrap().to_owned();
        let body = response.text().await.unwrap();
        for line in body.lines() {
            let event: Value = serde_json::from_str(line).unwrap();
            assert!(seen.insert(event["metadata"]["uid"].as_str().unwrap().to_owned()), "no event twice across pages: {line}");
            assert_eq!(event["metadata"]["version"], "1.1.0");
            classes.insert(event["class_uid"].as_u64().unwrap());
            if event["class_uid"] == 3002 {
                assert!(event["status_id"] == 1 || event["status_id"] == 2);
                assert_eq!(event["src_endpoint"]["ip"], "127.0.0.1");
            }
        }
        if body.is_empty() {
            assert_eq!(next, cursor, "an empty page keeps the cursor");
            break;
        }
        cursor = next;
    }
    assert!(classes.contains(&3002) && classes.contains(&3004), "{classes:?}");
    let exports = json(call(&app, Method::GET, "/api/v1/audit?action=audit.export", &ops, None).await).await;
    assert!(!exports["records"].as_array().unwrap().is_empty(), "an export is a read of personal data, and is audited");
    assert!(seen.len() >= 3);
    assert_eq!(call(&app, Method::GET, "/api/v1/siem/events?cursor=junk", &ops, None).await.status(), StatusCode::BAD_REQUEST);
    let alice = token_for(&app, "vault", "alice@acme.test", Some(ALICE_TOTP)).await;
    assert_eq!(call(&app, Method::GET, "/api/v1/siem/events", &alice, None).await.status(), StatusCode::FORBIDDEN, "operators only");

    let (ok, out, err) = cli(&app.data_dir(), &["audit", "export", "--since", "2020-01-01T00:00:00Z", "--format", "jsonl"]);
    assert!(ok, "{err}");
    let exported: Vec<Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(exported.len() >= seen.len(), "{} exported, {} seen over HTTP", exported.len(), seen.len());
    let (ok, _, err) = cli(&app.data_dir(), &["audit", "export", "--format", "csv"]);
    assert!(!ok && err.contains("jsonl"), "{err}");
    let (ok, out, _) = cli(&app.data_dir(), &["audit", "export", "--since", "2999-01-01T00:00:00Z"]);
    assert!(ok && out.is_empty());
}

/// A minimal SMTP server: accepts one conversation per connection and passes on each message.
async fn smtp_receiver() -> (u16, mpsc::UnboundedReceiver<String>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read).lines();
                write.write_all(b"220 test ESMTP\r\n").await.unwrap();
                let mut conversation = String::new();
                let mut in_data = false;
                while let Ok(Some(line)) = lines.next_line().await {
                    conversation.push_str(&line);
                    conversation.push('\n');
                    let reply: &[u8] = if in_data {
                        if line != "." {
                            continue;
                        }
                        in_data = false;
                        b"250 queued\r\n"
                    } else if line.starts_with("EHLO") {
                        b"250-test\r\n250 8BITMIME\r\n"
                    } else if line == "DATA" {
                        in_data = true;
                        b"354 go ahead\r\n"
                    } else if line == "QUIT" {
                        let _ = write.write_all(b"221 bye\r\n").await;
                        break;
                    } else {
                        b"250 ok\r\n"
                    };
                    write.write_all(reply).await.unwrap();
                }
                let _ = tx.send(conversation);
            });
        }
    });
    (port, rx)
}

#[tokio::test]
async fn a_sign_in_from_a_new_browser_is_emailed_to_the_user_over_smtp() {
    let (port, mut mail) = smtp_receiver().await;
    let dir = TempDir::new("smtp");
    let settings =
        format!("[notifications]\nsmtp_host = \"127.0.0.1\"\nsmtp_port = {port}\nsmtp_from = \"Gatehouse <id@acme.test>\"\nsmtp_require_tls = false\n");
    let config = dir.file("gatehouse.toml", &settings).display().to_string();
    let app = spawn_with(SpawnOptions { dir: Some(dir), fixture: FIXTURE, extra: &["--config", &config], ..Default::default() }).await;
    // The first sign-in ever tells nobody anything; the second, from another browser, does.
    assert_code_for("payroll", &password_step(&app, &Browser::new(), "payroll", "", "bob@acme.test").await);
    assert_code_for("payroll", &password_step(&app, &Browser::new(), "payroll", "", "bob@acme.test").await);
    let conversation = tokio::time::timeout(std::time::Duration::from_secs(10), mail.recv()).await.expect("an email").unwrap();
    assert!(conversation.contains("RCPT TO:<bob@acme.test>"), "{conversation}");
    assert!(conversation.contains("Subject: New sign-in to your account"), "{conversation}");
    assert!(!conversation.contains(PASSWORD), "never a secret");
    assert!(!app.data_dir().join("outbox").join("notifications.jsonl").exists(), "SMTP replaces the outbox");
}
