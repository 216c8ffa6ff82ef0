//! Security keys and passkeys over HTTP with a software authenticator: registration in the
//! enrollment wizard, sign-in with the registered credential, and the rejections (a replayed
//! assertion, another origin, a ceremony never started, a kind the policy does not allow).
//! WebAuthn needs a domain name, so these servers use `http://localhost:PORT` as issuer.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use serde_json::Value;
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::prelude::{CreationChallengeResponse, RequestChallengeResponse, Url};
use webauthn_authenticator_rs::softpasskey::SoftPasskey;

use crate::browser::{Browser, hidden, location};
use crate::helpers::{SpawnOptions, TestApp, spawn_with};
use crate::two_factor::{FIXTURE, assert_code_for, id_token_claims, page, password_step};

struct WebAuthnApp {
    app: TestApp,
    origin: Url,
}

async fn spawn() -> WebAuthnApp {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let listen = format!("127.0.0.1:{port}");
    let issuer = format!("http://localhost:{port}");
    let app = spawn_with(SpawnOptions { fixture: FIXTURE, extra: &["--listen", &listen, "--issuer", &issuer], ..Default::default() }).await;
    WebAuthnApp { app, origin: Url::parse(&issuer).unwrap() }
}

/// Posts a flow page's form fields plus `fields` to a JSON options endpoint.
async fn options(app: &TestApp, browser: &Browser, path: &str, html: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    browser.post_step(app, path, html, fields).await
}

/// Frank (domain Required, WebAuthn only) enrolls a passkey in the wizard; returns the
/// authenticator holding it.
async fn enroll_passkey(w: &WebAuthnApp) -> SoftPasskey {
    let app = &w.app;
    let browser = Browser::new();
    let to = password_step(app, &browser, "payroll", "", "frank@hooli.test").await;
    assert!(to.starts_with("/login/enroll?request="), "{to}");
    let html = page(app, &browser, &to).await;
    assert!(html.contains("Set up a passkey") && html.contains("Set up a security key"), "{html}");
    assert!(!html.contains("totp-secret"), "the domain does not allow authenticator apps");
    let reply = options(app, &browser, "/login/enroll/webauthn/options", &html, &[("kind", "passkey")]).await;
    assert_eq!(reply.status(), StatusCode::OK);
    let challenge: CreationChallengeResponse = reply.json().await.unwrap();
    // A passkey: user verification (the soft token asserts it), discoverable where possible.
    let mut authenticator = SoftPasskey::new(true);
    let credential = authenticator.do_registration(w.origin.clone(), challenge).unwrap();
    let credential = serde_json::to_string(&credential).unwrap();
    let codes = browser.post_step(app, "/login/enroll/webauthn", &html, &[("credential", &credential)]).await;
    assert_eq!(codes.status(), StatusCode::OK);
    let codes_html = codes.text().await.unwrap();
    assert_eq!(codes_html.matches("<li><code>").count(), 10, "recovery codes after the first factor");
    let done = browser.post_step(app, "/login/enroll/done", &codes_html, &[]).await;
    let callback = location(&done);
    assert_code_for("payroll", &callback);
    let claims = id_token_claims(app, "payroll", &callback).await;
    assert_eq!(claims["acr"], "phrh", "a soft token's key is not backup-eligible: hardware-bound level");
    assert_eq!(claims["amr"], serde_json::json!(["pwd", "hwk", "mfa"]));
    authenticator
}

/// Starts a sign-in to the second-factor page and fetches passkey options; returns the
/// browser, the page and the challenge.
async fn passkey_challenge(w: &WebAuthnApp, extra: &str) -> (Browser, String, RequestChallengeResponse) {
    let browser = Browser::new();
    let to = password_step(&w.app, &browser, "payroll", extra, "frank@hooli.test").await;
    assert!(to.starts_with("/login/factor?request="), "{to}");
    let html = page(&w.app, &browser, &to).await;
    assert!(html.contains("Use your passkey"), "{html}");
    let reply = options(&w.app, &browser, "/login/factor/webauthn", &html, &[("kind", "passkey")]).await;
    assert_eq!(reply.status(), StatusCode::OK);
    (browser, html, reply.json().await.unwrap())
}

#[tokio::test]
async fn a_passkey_enrolled_in_the_wizard_signs_in_as_a_second_factor() {
    let w = spawn().await;
    let mut authenticator = enroll_passkey(&w).await;
    let (browser, html, challenge) = passkey_challenge(&w, "").await;
    let assertion = serde_json::to_string(&authenticator.do_authentication(w.origin.clone(), challenge).unwrap()).unwrap();
    let response = browser.post_step(&w.app, "/login/factor", &html, &[("method", "passkey"), ("credential", &assertion)]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let callback = location(&response);
    assert_code_for("payroll", &callback);
    let claims = id_token_claims(&w.app, "payroll", &callback).await;
    assert_eq!(claims["acr"], "phrh");

    // A step-up to `phr` is met by the passkey, not refused.
    let (browser, html, challenge) = passkey_challenge(&w, "&acr_values=phr").await;
    let assertion = serde_json::to_string(&authenticator.do_authentication(w.origin.clone(), challenge).unwrap()).unwrap();
    let response = browser.post_step(&w.app, "/login/factor", &html, &[("method", "passkey"), ("credential", &assertion)]).await;
    assert_code_for("payroll", &location(&response));
}

#[tokio::test]
async fn webauthn_rejections_change_nothing_and_count_as_failures() {
    let w = spawn().await;
    let mut authenticator = enroll_passkey(&w).await;

    // An assertion whose client data names another origin (what a phishing page relaying the
    // challenge would produce).
    let (browser, html, challenge) = passkey_challenge(&w, "").await;
    let mut phished: Value = serde_json::to_value(authenticator.do_authentication(w.origin.clone(), challenge).unwrap()).unwrap();
    let client_data = phished["response"]["clientDataJSON"].as_str().unwrap().to_owned();
    let decoded = String::from_utf8(URL_SAFE_NO_PAD.decode(client_data.trim_end_matches('=')).unwrap()).unwrap();
    let evil = decoded.replace(w.origin.as_str().trim_end_matches('/'), "http://evil.example");
    assert_ne!(evil, decoded);
    phished["response"]["clientDataJSON"] = Value::from(URL_SAFE_NO_PAD.encode(evil));
    let phished = phished.to_string();
    let refused = browser.post_step(&w.app, "/login/factor", &html, &[("method", "passkey"), ("credential", &phished)]).await;
    assert_eq!(refused.status(), StatusCode::OK, "refused on the page");
    assert!(refused.text().await.unwrap().contains("check failed"));

    // The ceremony is used once: the same options cannot be answered twice.
    let (browser, html, challenge) = passkey_challenge(&w, "").await;
    let good = serde_json::to_string(&authenticator.do_authentication(w.origin.clone(), challenge).unwrap()).unwrap();
    let garbage = browser.post_step(&w.app, "/login/factor", &html, &[("method", "passkey"), ("credential", "{not json")]).await;
    assert!(garbage.text().await.unwrap().contains("malformed"), "a malformed message is a clear error");
    let late = browser.post_step(&w.app, "/login/factor", &html, &[("method", "passkey"), ("credential", &good)]).await;
    assert_eq!(late.status(), StatusCode::OK, "the challenge was spent by the failed attempt");
    assert!(late.text().await.unwrap().contains("expired"));

    // An assertion replayed into a new sign-in answers the wrong challenge.
    let (browser, html, _) = passkey_challenge(&w, "").await;
    let replayed = browser.post_step(&w.app, "/login/factor", &html, &[("method", "passkey"), ("credential", &good)]).await;
    assert_eq!(replayed.status(), StatusCode::OK);

    // A kind the policy allows but the user never registered gets no options.
    let reply = options(&w.app, &browser, "/login/factor/webauthn", &html, &[("kind", "security_key")]).await;
    assert_eq!(reply.status(), StatusCode::BAD_REQUEST);
    let error: Value = reply.json().await.unwrap();
    assert!(error["error"].is_string());
    // And one the policy does not allow at all.
    let reply = options(&w.app, &browser, "/login/factor/webauthn", &html, &[("kind", "totp")]).await;
    assert_eq!(reply.status(), StatusCode::BAD_REQUEST);
    // Without the form's CSRF token nothing is parked.
    let request = hidden(&html, "request").unwrap();
    let forged = browser.http.post(w.app.url("/login/factor/webauthn")).form(&[("request", request.as_str()), ("csrf_token", "x"), ("kind", "passkey")]).send().await.unwrap();
    assert_eq!(forged.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_webauthn_script_is_served_as_a_file_under_the_strict_csp() {
    let w = spawn().await;
    let script = Browser::new().get(&w.app.url("/static/webauthn.js")).await;
    assert_eq!(script.status(), StatusCode::OK);
    assert_eq!(script.headers()["content-type"], "text/javascript; charset=utf-8");
    assert!(script.text().await.unwrap().contains("navigator.credentials.get"));
    let browser = Browser::new();
    let to = password_step(&w.app, &browser, "payroll", "", "frank@hooli.test").await;
    let response = browser.get(&w.app.url(&to)).await;
    let csp = response.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "{csp}");
    assert!(response.text().await.unwrap().contains("<script src=\"/static/webauthn.js\" defer></script>"));
}
