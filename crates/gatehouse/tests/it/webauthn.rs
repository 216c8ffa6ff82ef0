//! Security keys and passkeys over HTTP with a software authenticator: registration in the
//! enrollment wizard, sign-in with the registered credential, and the rejections (a replayed
//! assertion, another origin, a ceremony never started, a kind the policy does not allow).
//! WebAuthn needs a domain name, so these servers use `http://localhost:PORT` as issuer.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use serde_json::{Value, json};
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::prelude::{CreationChallengeResponse, RequestChallengeResponse, Url};
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_authenticator_rs::softtoken::SoftToken;

use crate::support::app::{SpawnOptions, TestApp, spawn_with};
use crate::support::browser::{Browser, hidden, location};
use crate::support::fixtures::two_factor::{ALICE_TOTP, FIXTURE};
use crate::support::walker::{assert_code_for, id_token_claims, outbox_lines, page, password_step, present, query, totp_now};

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

/// A passkey as the test's "browser" knows it.
struct Enrolled {
    authenticator: SoftPasskey,
    /// base64url, as in the registration.
    credential_id: String,
    /// The WebAuthn user handle the server gave Frank (base64url).
    user_handle: String,
}

/// Frank (domain Required, WebAuthn only) enrolls a passkey in the wizard.
async fn enroll_passkey(w: &WebAuthnApp) -> Enrolled {
    // A passkey: user verification (the soft token asserts it), discoverable where possible.
    let mut authenticator = SoftPasskey::new(true);
    let (credential_id, user_handle) = enroll_with(w, &mut authenticator).await;
    Enrolled { authenticator, credential_id, user_handle }
}

/// Enrolls `authenticator` as Frank's passkey in the wizard; returns its credential id and
/// Frank's user handle (both base64url).
async fn enroll_with<A: WebauthnAuthenticator>(w: &WebAuthnApp, authenticator: &mut A) -> (String, String) {
    let app = &w.app;
    let browser = Browser::new();
    let to = password_step(app, &browser, "payroll", "", "frank@hooli.test").await;
    assert!(to.starts_with("/login/enroll?request="), "{to}");
    let html = page(app, &browser, &to).await;
    assert!(html.contains("Set up a passkey") && html.contains("Set up a security key"), "{html}");
    assert!(!html.contains("totp-secret"), "the domain does not allow authenticator apps");
    let reply = options(app, &browser, "/login/enroll/webauthn/options", &html, &[("kind", "passkey")]).await;
    assert_eq!(reply.status(), StatusCode::OK);
    let challenge: Value = reply.json().await.unwrap();
    let user_handle = challenge["publicKey"]["user"]["id"].as_str().unwrap().to_owned();
    let challenge: CreationChallengeResponse = serde_json::from_value(challenge).unwrap();
    let credential = authenticator.do_registration(w.origin.clone(), challenge).unwrap();
    let credential_id = serde_json::to_value(&credential).unwrap()["rawId"].as_str().unwrap().to_owned();
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
    (credential_id, user_handle)
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
    let mut authenticator = enroll_passkey(&w).await.authenticator;
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
    let mut authenticator = enroll_passkey(&w).await.authenticator;

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
    let forged = browser
        .http
        .post(w.app.url("/login/factor/webauthn"))
        .form(&[("request", request.as_str()), ("csrf_token", "x"), ("kind", "passkey")])
        .send()
        .await
        .unwrap();
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

/// Answers passwordless options as a browser holding a discoverable credential would: the
/// authenticator picks its credential and returns the user handle with the assertion.
fn discoverable_assertion(enrolled: &mut Enrolled, origin: &Url, options: Value, user_handle: &str) -> String {
    let mut options = options;
    assert_eq!(options["publicKey"]["allowCredentials"].as_array().map_or(0, Vec::len), 0, "no user named, no credentials listed");
    // The soft token keeps no resident credentials: tell it which one it holds.
    options["publicKey"]["allowCredentials"] = json!([{ "type": "public-key", "id": enrolled.credential_id }]);
    let options: RequestChallengeResponse = serde_json::from_value(options).unwrap();
    let assertion = enrolled.authenticator.do_authentication(origin.clone(), options).unwrap();
    let mut assertion = serde_json::to_value(assertion).unwrap();
    // The user handle is not signed: it only names the account the credential belongs to.
    assertion["response"]["userHandle"] = Value::from(user_handle);
    assertion.to_string()
}

#[tokio::test]
async fn a_passkey_signs_in_without_a_password() {
    let w = spawn().await;
    let mut enrolled = enroll_passkey(&w).await;
    let browser = Browser::new();
    let login = location(&browser.authorize(&w.app, &query("payroll", "")).await);
    let html = page(&w.app, &browser, &login).await;
    assert!(html.contains("Sign in with a passkey"));
    let reply = options(&w.app, &browser, "/login/passkey/options", &html, &[]).await;
    assert_eq!(reply.status(), StatusCode::OK);
    let handle = enrolled.user_handle.clone();
    let assertion = discoverable_assertion(&mut enrolled, &w.origin, reply.json().await.unwrap(), &handle);
    let response = browser.post_step(&w.app, "/login/passkey", &html, &[("credential", &assertion)]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "{}", response.text().await.unwrap_or_default());
    let callback = location(&response);
    assert_code_for("payroll", &callback);
    let claims = id_token_claims(&w.app, "payroll", &callback).await;
    assert_eq!(claims["acr"], "phrh", "user verification on a device-bound key: phishing-resistant, hardware");
    assert_eq!(claims["amr"], json!(["hwk", "mfa"]));

    // A user handle naming nobody, and a replay of the spent ceremony, are refused on the page.
    let browser = Browser::new();
    let login = location(&browser.authorize(&w.app, &query("payroll", "")).await);
    let html = page(&w.app, &browser, &login).await;
    let reply = options(&w.app, &browser, "/login/passkey/options", &html, &[]).await;
    let stranger = URL_SAFE_NO_PAD.encode([7u8; 16]);
    let forged = discoverable_assertion(&mut enrolled, &w.origin, reply.json().await.unwrap(), &stranger);
    let refused = browser.post_step(&w.app, "/login/passkey", &html, &[("credential", &forged)]).await;
    assert_eq!(refused.status(), StatusCode::OK);
    assert!(refused.text().await.unwrap().contains("not registered"));
    let replay = browser.post_step(&w.app, "/login/passkey", &html, &[("credential", &assertion)]).await;
    assert_eq!(replay.status(), StatusCode::BAD_REQUEST, "the ceremony was spent");
}

/// Signs Frank in with `authenticator` at the second-factor step; returns the response.
async fn second_factor_with<A: WebauthnAuthenticator>(w: &WebAuthnApp, authenticator: &mut A) -> reqwest::Response {
    let (browser, html, challenge) = passkey_challenge(w, "").await;
    let assertion = serde_json::to_string(&authenticator.do_authentication(w.origin.clone(), challenge).unwrap()).unwrap();
    browser.post_step(&w.app, "/login/factor", &html, &[("method", "passkey"), ("credential", &assertion)]).await
}

#[tokio::test]
async fn a_cloned_authenticator_is_refused_when_its_counter_goes_back() {
    let w = spawn().await;
    let (mut original, _certificate) = SoftToken::new(true).unwrap();
    enroll_with(&w, &mut original).await;
    let copy = original.to_cbor().unwrap();
    let response = second_factor_with(&w, &mut original).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "the original signs in");
    // A copy of the key made before that sign-in presents a counter the server has seen.
    let mut clone = SoftToken::from_cbor(&copy).unwrap();
    let response = second_factor_with(&w, &mut clone).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.text().await.unwrap().contains("cloned"));
    let mut told = false;
    for _ in 0..50 {
        told = outbox_lines(&w.app, "notifications.jsonl").iter().any(|n| n["kind"] == "cloned_authenticator_suspected");
        if told {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(told, "the user is told a copy of their key may exist");
    let response = second_factor_with(&w, &mut original).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "the original still works");
}

#[tokio::test]
async fn a_security_key_is_registered_through_the_self_service_api() {
    use crate::support::api::{call, token_for};
    let w = spawn().await;
    let token = token_for(&w.app, "vault", "alice@acme.test", Some(ALICE_TOTP)).await;
    let started = call(&w.app, reqwest::Method::POST, "/api/v1/me/factors", &token, Some(json!({ "kind": "security_key", "label": "Blue key" }))).await;
    assert_eq!(started.status(), StatusCode::CREATED);
    let started: Value = started.json().await.unwrap();
    let creation: CreationChallengeResponse = serde_json::from_value(started["options"].clone()).unwrap();
    let mut key = SoftPasskey::new(false);
    let credential = serde_json::to_value(key.do_registration(w.origin.clone(), creation).unwrap()).unwrap();
    let body = json!({ "ceremony": started["ceremony"], "credential": credential });
    let registered = call(&w.app, reqwest::Method::POST, "/api/v1/me/factors/webauthn", &token, Some(body.clone())).await;
    assert_eq!(registered.status(), StatusCode::CREATED);
    let factor: Value = registered.json().await.unwrap();
    assert_eq!((factor["kind"].as_str(), factor["label"].as_str(), factor["confirmed"].as_bool()), (Some("security_key"), Some("Blue key"), Some(true)));
    let again = call(&w.app, reqwest::Method::POST, "/api/v1/me/factors/webauthn", &token, Some(body)).await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST, "a ceremony is answered once");
    let bogus = json!({ "ceremony": "nope", "credential": {} });
    assert_eq!(call(&w.app, reqwest::Method::POST, "/api/v1/me/factors/webauthn", &token, Some(bogus)).await.status(), StatusCode::BAD_REQUEST);

    // The new key signs Alice in at the second-factor step.
    let browser = Browser::new();
    let to = password_step(&w.app, &browser, "vault", "", "alice@acme.test").await;
    let html = page(&w.app, &browser, &to).await;
    assert!(html.contains("Use your security key"), "{html}");
    let reply = options(&w.app, &browser, "/login/factor/webauthn", &html, &[("kind", "security_key")]).await;
    let challenge: RequestChallengeResponse = reply.json().await.unwrap();
    let assertion = serde_json::to_string(&key.do_authentication(w.origin.clone(), challenge).unwrap()).unwrap();
    let response = browser.post_step(&w.app, "/login/factor", &html, &[("method", "security_key"), ("credential", &assertion)]).await;
    assert_code_for("vault", &location(&response));
}

#[tokio::test]
async fn a_password_alone_never_reaches_the_wizard_of_an_account_that_has_a_factor() {
    let w = spawn().await;
    // Alice has TOTP, which cannot meet `phr`: she must present it before adding a passkey.
    let browser = Browser::new();
    let to = password_step(&w.app, &browser, "payroll", "&acr_values=phr", "alice@acme.test").await;
    assert!(to.starts_with("/login/factor?request="), "an existing factor first, not the wizard: {to}");
    let request = to.trim_start_matches("/login/factor?request=");
    let early = browser.get(&w.app.url(&format!("/login/enroll?request={request}"))).await;
    assert_eq!(location(&early), to, "the wizard sends back to the factor step");
    let wizard = present(&w.app, &browser, &to, "totp", &totp_now(ALICE_TOTP)).await;
    assert_eq!(wizard.status(), StatusCode::SEE_OTHER);
    let wizard = location(&wizard);
    assert!(wizard.starts_with("/login/enroll?request="), "{wizard}");
    let html = page(&w.app, &browser, &wizard).await;
    assert!(html.contains("Set up a passkey") && !html.contains("totp-secret"), "only methods that reach phr");
    let reply = options(&w.app, &browser, "/login/enroll/webauthn/options", &html, &[("kind", "passkey")]).await;
    let creation: CreationChallengeResponse = reply.json().await.unwrap();
    let mut authenticator = SoftPasskey::new(true);
    let credential = serde_json::to_string(&authenticator.do_registration(w.origin.clone(), creation).unwrap()).unwrap();
    let codes = browser.post_step(&w.app, "/login/enroll/webauthn", &html, &[("credential", &credential)]).await.text().await.unwrap();
    let done = browser.post_step(&w.app, "/login/enroll/done", &codes, &[]).await;
    let callback = location(&done);
    assert_code_for("payroll", &callback);
    assert_eq!(id_token_claims(&w.app, "payroll", &callback).await["acr"], "phrh");
}
