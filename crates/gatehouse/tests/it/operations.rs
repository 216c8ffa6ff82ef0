//! Running Gatehouse: health, metrics, the data directory lock, restarts, graceful shutdown,
//! import, key rotation, read-only inspection, TLS and the demo.

use reqwest::StatusCode;
use serde_json::Value;
use std::sync::Arc;

use crate::support::api::self_signed;
use crate::support::app::{CHEAP_ARGON, SpawnOptions, TempDir, TestApp, binary, cli, spawn_app, spawn_with};
use crate::support::browser::{Browser, hidden, location, payroll_query, query_param, redeem_payroll};
use crate::support::fixtures::basic::{ALICE, FIXTURE, MACHINE_SECRET};

#[tokio::test]
async fn health_readiness_metrics_and_discovery() {
    let app = spawn_app().await;
    assert_eq!(reqwest::get(app.url("/healthz")).await.unwrap().text().await.unwrap(), "ok");
    assert_eq!(reqwest::get(app.url("/readyz")).await.unwrap().status(), StatusCode::OK);
    let metrics = reqwest::get(app.url("/metrics")).await.unwrap().text().await.unwrap();
    assert!(metrics.contains("# TYPE gatehouse_tokens_issued_total counter"));
    assert!(metrics.contains("process_resident_memory_bytes"));
    let discovery: Value = reqwest::get(app.url("/.well-known/openid-configuration")).await.unwrap().json().await.unwrap();
    assert_eq!(discovery["issuer"], app.issuer);
    assert_eq!(discovery["code_challenge_methods_supported"], serde_json::json!(["S256"]));
    assert_eq!(discovery["authorization_response_iss_parameter_supported"], true);
    assert!(discovery["acr_values_supported"].as_array().unwrap().iter().any(|v| v == "urn:gatehouse:acr:mfa"));
}

#[tokio::test]
async fn a_second_server_on_the_same_data_dir_is_refused() {
    let app = spawn_app().await;
    let data = app.data_dir();
    let output = std::process::Command::new(binary()).arg("--data-dir").arg(&data).args(["serve", "--listen", "127.0.0.1:0"]).output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("another Gatehouse server is already running"), "{stderr}");
}

#[tokio::test]
async fn sigterm_drains_and_sessions_and_keys_survive_a_restart() {
    let app = spawn_app().await;
    let browser = Browser::new();
    let code = query_param(&browser.sign_in(&app, &payroll_query(""), ALICE).await, "code").unwrap();
    let tokens: Value = redeem_payroll(&app, &code).await.json().await.unwrap();
    let old_port = app.addr.port();
    let dir = app.stop_keeping_data().await;
    // Same port so the issuer, and so the tokens, stay valid.
    let listen = format!("127.0.0.1:{old_port}");
    let restarted = spawn_with(SpawnOptions { dir: Some(dir), extra: &["--listen", &listen], import: false, ..Default::default() }).await;
    let at = tokens["access_token"].as_str().unwrap();
    let info = reqwest::Client::new().get(restarted.url("/userinfo")).bearer_auth(at).send().await.unwrap();
    assert_eq!(info.status(), StatusCode::OK, "signing keys persisted");
    let to = location(&browser.authorize(&restarted, &payroll_query("&prompt=none")).await);
    assert!(query_param(&to, "code").is_some(), "the acknowledged session write survived SIGTERM: {to}");
}

#[tokio::test]
async fn sigterm_during_sign_ins_keeps_every_acknowledged_write() {
    // Real Argon2 cost, so sign-ins are still running when SIGTERM arrives.
    let mut app = spawn_with(SpawnOptions { cheap_argon: false, ..Default::default() }).await;
    let mut forms = Vec::new();
    for _ in 0..16 {
        let browser = Browser::new();
        let login = location(&browser.authorize(&app, &payroll_query("")).await);
        let page = browser.get(&app.url(&login)).await.text().await.unwrap();
        let request = hidden(&page, "request").unwrap();
        let csrf = hidden(&page, "csrf_token").unwrap();
        forms.push((browser, request, csrf));
    }
    let url = app.url("/login");
    let mut in_flight = Vec::new();
    for (browser, request, csrf) in forms {
        let url = url.clone();
        in_flight.push(tokio::spawn(async move {
            let form = [("request", request.as_str()), ("csrf_token", csrf.as_str()), ("email", ALICE.0), ("password", ALICE.1)];
            browser.http.post(url).form(&form).send().await.ok().filter(|r| r.status() == StatusCode::SEE_OTHER).map(|r| location(&r))
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(40)).await;
    let status = app.terminate().await;
    assert!(status.success(), "{status:?}");
    let mut acknowledged = Vec::new();
    for task in in_flight {
        if let Some(callback) = task.await.unwrap() {
            acknowledged.push(query_param(&callback, "code").unwrap());
        }
    }
    assert!(!acknowledged.is_empty(), "requests in flight at SIGTERM were drained, not dropped");
    let port = app.addr.port();
    let dir = app.stop_keeping_data().await;
    let listen = format!("127.0.0.1:{port}");
    let restarted = spawn_with(SpawnOptions { dir: Some(dir), extra: &["--listen", &listen], import: false, ..Default::default() }).await;
    for code in acknowledged {
        assert_eq!(redeem_payroll(&restarted, &code).await.status(), StatusCode::OK, "an acknowledged code survived the shutdown");
    }
}

#[tokio::test]
async fn sigterm_exits_cleanly() {
    let mut app = spawn_app().await;
    let status = app.terminate().await;
    assert!(status.success(), "{status:?}");
}

#[tokio::test]
async fn import_is_idempotent_and_errors_name_field_and_line() {
    let dir = TempDir::new("import");
    let data = dir.path().join("data");
    let fixture = dir.file("fixture.toml", FIXTURE);
    let mut args = vec!["import", fixture.to_str().unwrap()];
    args.extend(CHEAP_ARGON);
    let (ok, first, err) = cli(&data, &args);
    assert!(ok, "{err}");
    assert!(first.contains("8 created, 0 updated, 0 unchanged"), "{first}");
    let (ok, second, _) = cli(&data, &args);
    assert!(ok);
    assert!(second.contains("0 created, 0 updated, 8 unchanged"), "importing twice changes nothing: {second}");

    let bad = dir.file("bad.toml", &FIXTURE.replace("email = \"bob@acme.test\"", "email = \"bob@other.test\"").replace("Alice Example", "Alice Changed"));
    let (ok, _, err) = cli(&data, &["import", bad.to_str().unwrap(), "--password-memory-kib", "64", "--password-iterations", "1"]);
    assert!(!ok);
    assert!(err.contains("line 11") && err.contains("tenant.user.email") && err.contains("other.test"), "{err}");
    let unknown = dir.file("unknown.toml", "[[tenant]]\nname = \"X\"\ndomains = [\"x.test\"]\ncolour = \"blue\"\n");
    let (ok, _, err) = cli(&data, &["import", unknown.to_str().unwrap()]);
    assert!(!ok && err.contains("line 4") && err.contains("unknown field `colour`"), "{err}");
    let (ok, status, _) = cli(&data, &["status"]);
    assert!(ok && status.contains("users: 2"), "nothing half-applied: {status}");
}

#[tokio::test]
async fn key_rotation_while_running_keeps_old_tokens_valid() {
    let app = spawn_app().await;
    let code = query_param(&Browser::new().sign_in(&app, &payroll_query(""), ALICE).await, "code").unwrap();
    let before: Value = redeem_payroll(&app, &code).await.json().await.unwrap();
    let jwks_before: Value = reqwest::get(app.url("/jwks")).await.unwrap().json().await.unwrap();
    let (ok, out, err) = cli(&app.data_dir(), &["keys", "rotate", "--activate-in", "0"]);
    assert!(ok, "{err}");
    assert!(out.contains("new ES256 key"));
    let mut rotated = false;
    for _ in 0..50 {
        let jwks: Value = reqwest::get(app.url("/jwks")).await.unwrap().json().await.unwrap();
        if jwks["keys"].as_array().unwrap().len() == 2 * jwks_before["keys"].as_array().unwrap().len() {
            rotated = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(rotated, "the running server publishes new and old keys");
    let at = before["access_token"].as_str().unwrap();
    assert_eq!(reqwest::Client::new().get(app.url("/userinfo")).bearer_auth(at).send().await.unwrap().status(), StatusCode::OK);
    let fresh: Value = reqwest::Client::new()
        .post(app.url("/token"))
        .basic_auth("machine", Some(MACHINE_SECRET))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kid = |t: &str| {
        use base64::Engine as _;
        let h: Value = serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(t.split('.').next().unwrap()).unwrap()).unwrap();
        h["kid"].as_str().unwrap().to_owned()
    };
    assert_ne!(kid(fresh["access_token"].as_str().unwrap()), kid(at), "new tokens use the new key");
}

#[tokio::test]
async fn rotated_keys_are_published_before_they_sign() {
    let app = spawn_app().await;
    let token = |app: &TestApp| {
        let url = app.url("/token");
        async move {
            let body: Value = reqwest::Client::new()
                .post(url)
                .basic_auth("machine", Some(MACHINE_SECRET))
                .form(&[("grant_type", "client_credentials")])
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            body["access_token"].as_str().unwrap().to_owned()
        }
    };
    let kid = |t: &str| {
        use base64::Engine as _;
        let h: Value = serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(t.split('.').next().unwrap()).unwrap()).unwrap();
        h["kid"].as_str().unwrap().to_owned()
    };
    let old_kid = kid(&token(&app).await);
    let (ok, out, err) = cli(&app.data_dir(), &["keys", "rotate"]);
    assert!(ok && out.contains("signing from"), "{err}");
    let new_kid = out.lines().find(|l| l.starts_with("new ES256 key")).unwrap().split_whitespace().nth(3).unwrap().to_owned();
    let mut published = false;
    for _ in 0..50 {
        let jwks: Value = reqwest::get(app.url("/jwks")).await.unwrap().json().await.unwrap();
        if jwks["keys"].as_array().unwrap().iter().any(|k| k["kid"] == new_kid.as_str()) {
            published = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(published, "the new key is in the JWKS");
    assert_eq!(kid(&token(&app).await), old_kid, "the old key keeps signing until the new one activates");
    let (ok, list, _) = cli(&app.data_dir(), &["keys", "list"]);
    assert!(ok && list.contains("pending, signing from"), "{list}");
}

#[tokio::test]
async fn read_only_commands_work_beside_a_running_server() {
    let app = spawn_app().await;
    let (ok, out, err) = cli(&app.data_dir(), &["status"]);
    assert!(ok, "{err}");
    // Five from the fixture and the console, registered at start-up.
    assert!(out.contains("tenants: 1") && out.contains("applications: 6"), "{out}");
    let (ok, out, _) = cli(&app.data_dir(), &["keys", "list"]);
    assert!(ok && out.matches("active").count() == 3, "{out}");
}

#[tokio::test]
async fn rotated_client_secret_replaces_the_old_one() {
    let app = spawn_app().await;
    let (ok, secret, err) = cli(&app.data_dir(), &["app", "rotate-secret", "--client-id", "machine"]);
    assert!(ok, "{err}");
    let secret = secret.trim().to_owned();
    assert_eq!(secret.len(), 43);
    let try_secret = |s: String| {
        let url = app.url("/token");
        async move { reqwest::Client::new().post(url).basic_auth("machine", Some(s)).form(&[("grant_type", "client_credentials")]).send().await.unwrap().status() }
    };
    let mut ok_now = false;
    for _ in 0..50 {
        if try_secret(secret.clone()).await == StatusCode::OK {
            ok_now = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(ok_now);
    assert_eq!(try_secret(MACHINE_SECRET.into()).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn demo_runs_a_whole_sign_in_ending_on_the_claims_page() {
    let dir = TempDir::new("demo");
    let app = spawn_with(SpawnOptions { dir: Some(dir), extra: &["--demo"], import: false, ..Default::default() }).await;
    let creds = std::fs::read_to_string(app.data_dir().join("demo-credentials.txt")).unwrap();
    let password = creds.lines().find_map(|l| l.strip_prefix("password = ")).unwrap().to_owned();
    let browser = Browser::new();
    let start = browser.get(&app.url("/demo/start")).await;
    let authorize = location(&start);
    let login = location(&browser.get(&authorize).await);
    let callback = location(&browser.submit_login(&app, &login, "demo@demo.test", &password).await);
    assert!(callback.starts_with(&app.url("/demo/callback")));
    let page = browser.get(&callback).await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("ID token claims") && html.contains("demo@demo.test") && html.contains("urn:gatehouse:acr:pwd"), "{html}");
}

async fn tls_get(
    addr: std::net::SocketAddr,
    root: rustls::pki_types::CertificateDer<'static>,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Result<(String, rustls::ProtocolVersion), std::io::Error> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut roots = rustls::RootCertStore::empty();
    roots.add(root).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config =
        rustls::ClientConfig::builder_with_provider(provider).with_protocol_versions(versions).unwrap().with_root_certificates(roots).with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let mut tls = connector.connect(rustls::pki_types::ServerName::try_from("localhost").unwrap(), tcp).await?;
    let version = tls.get_ref().1.protocol_version().unwrap();
    tls.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await?;
    let mut response = String::new();
    tls.read_to_string(&mut response).await?;
    Ok((response, version))
}

#[tokio::test]
async fn tls_prefers_1_3_accepts_1_2_and_marks_cookies_secure() {
    let dir = TempDir::new("tls");
    let (cert, key, der) = self_signed();
    let cert_path = dir.file("cert.pem", &cert).display().to_string();
    let key_path = dir.file("key.pem", &key).display().to_string();
    let app = spawn_with(SpawnOptions { dir: Some(dir), extra: &["--tls-cert", &cert_path, "--tls-key", &key_path], import: true, ..Default::default() }).await;
    assert!(app.stdout_first.contains("issuer https://"), "{}", app.stdout_first);
    let (body, version) = tls_get(app.addr, der.clone(), &[&rustls::version::TLS13, &rustls::version::TLS12]).await.unwrap();
    assert_eq!(version, rustls::ProtocolVersion::TLSv1_3);
    assert!(body.starts_with("HTTP/1.1 200") && body.contains("strict-transport-security"), "{body}");
    let (_, version) = tls_get(app.addr, der, &[&rustls::version::TLS12]).await.unwrap();
    assert_eq!(version, rustls::ProtocolVersion::TLSv1_2);
    // Plain HTTP on the TLS port gets nothing useful.
    let plain = reqwest::Client::new().get(format!("http://{}/healthz", app.addr)).send().await;
    assert!(plain.is_err() || plain.unwrap().status() != StatusCode::OK);
}

#[tokio::test]
async fn bad_tls_files_are_a_clear_startup_error() {
    let dir = TempDir::new("badtls");
    let cert = dir.file("cert.pem", "not a certificate");
    let key = dir.file("key.pem", "not a key");
    let (ok, _, err) =
        cli(&dir.path().join("data"), &["serve", "--listen", "127.0.0.1:0", "--tls-cert", cert.to_str().unwrap(), "--tls-key", key.to_str().unwrap()]);
    assert!(!ok);
    assert!(err.contains("TLS configuration") && err.contains("cert.pem"), "{err}");
}

#[test]
fn every_subcommand_has_help() {
    for args in [
        &["--help"][..],
        &["serve", "--help"],
        &["import", "--help"],
        &["keys", "rotate", "--help"],
        &["keys", "list", "--help"],
        &["app", "rotate-secret", "--help"],
        &["status", "--help"],
        &["policy", "explain", "--help"],
        &["audit", "verify", "--help"],
    ] {
        let output = std::process::Command::new(binary()).args(args).output().unwrap();
        assert!(output.status.success(), "{args:?}");
        assert!(String::from_utf8_lossy(&output.stdout).contains("Usage:"), "{args:?}");
    }
    let output = std::process::Command::new(binary()).args(["serve", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&output.stdout);
    for flag in [
        "--listen",
        "--data-dir",
        "--issuer",
        "--import",
        "--demo",
        "--tls-cert",
        "--tls-key",
        "GATEHOUSE_LISTEN",
        "--trusted-proxy",
        "--sms-webhook-url",
        "--dev-outbox",
        "GATEHOUSE_DEV_OUTBOX",
    ] {
        assert!(help.contains(flag), "serve --help lacks {flag}");
    }
}
