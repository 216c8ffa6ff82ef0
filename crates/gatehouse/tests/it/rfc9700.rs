//! RFC 9700 (OAuth 2.0 Security Best Current Practice) and PKCE rules.

use reqwest::StatusCode;
use serde_json::Value;

use crate::support::app::{SpawnOptions, TempDir, TestApp, spawn_app, spawn_with};
use crate::support::browser::{Browser, CHALLENGE, VERIFIER, header, location, payroll_query, query_param, redeem_payroll, spa_query};
use crate::support::fixtures::basic::{ALICE, MACHINE_SECRET, PAYROLL_SECRET, SPA_CB};

async fn spa_token(app: &TestApp, code: &str, verifier: Option<&str>) -> reqwest::Response {
    let mut form = vec![("grant_type", "authorization_code"), ("code", code), ("redirect_uri", SPA_CB), ("client_id", "spa")];
    if let Some(v) = verifier {
        form.push(("code_verifier", v));
    }
    reqwest::Client::new().post(app.url("/token")).form(&form).send().await.unwrap()
}

#[tokio::test]
async fn rfc9207_iss_and_rfc9700_303_and_no_referrer() {
    let app = spawn_app().await;
    let browser = Browser::new();
    let response = browser.authorize(&app, &payroll_query("")).await;
    assert_eq!(header(response.headers(), "referrer-policy"), Some("no-referrer"));
    let login = location(&response);
    let page = browser.get(&app.url(&login)).await;
    assert_eq!(header(page.headers(), "referrer-policy"), Some("no-referrer"));
    let csp = header(page.headers(), "content-security-policy").unwrap().to_owned();
    assert!(csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "{csp}");
    let posted = browser.submit_login(&app, &login, ALICE.0, ALICE.1).await;
    assert_eq!(posted.status(), StatusCode::SEE_OTHER, "303 after a credential POST");
    assert_eq!(query_param(&location(&posted), "iss").as_deref(), Some(app.issuer.as_str()));
}

#[tokio::test]
async fn pkce_public_client_round_trip_and_every_rejection() {
    let app = spawn_app().await;
    let browser = Browser::new();
    // A public client without PKCE, or with plain, is refused at the authorization endpoint.
    let no_pkce =
        location(&browser.authorize(&app, "client_id=spa&redirect_uri=http%3A%2F%2F127.0.0.1%3A9998%2Fcb&response_type=code&scope=openid&state=s").await);
    assert_eq!(query_param(&no_pkce, "error").as_deref(), Some("invalid_request"));
    let plain = spa_query("").replace("code_challenge_method=S256", "code_challenge_method=plain");
    assert_eq!(query_param(&location(&browser.authorize(&app, &plain).await), "error").as_deref(), Some("invalid_request"));

    let code = query_param(&browser.sign_in(&app, &spa_query(""), ALICE).await, "code").unwrap();
    assert_eq!(spa_token(&app, &code, None).await.status(), StatusCode::BAD_REQUEST, "verifier missing");
    let wrong = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXj";
    let mismatch = spa_token(&app, &code, Some(wrong)).await;
    assert_eq!(mismatch.json::<Value>().await.unwrap()["error"], "invalid_grant");
    // Failed attempts consumed nothing: the right verifier still works, once.
    assert_eq!(spa_token(&app, &code, Some(VERIFIER)).await.status(), StatusCode::OK);
    assert_eq!(spa_token(&app, &code, Some(VERIFIER)).await.status(), StatusCode::BAD_REQUEST);
    let _ = CHALLENGE;
}

#[tokio::test]
async fn rfc9700_pkce_downgrade_rejected() {
    let app = spawn_app().await;
    let code = query_param(&Browser::new().sign_in(&app, &payroll_query(""), ALICE).await, "code").unwrap();
    let response = reqwest::Client::new()
        .post(app.url("/token"))
        .basic_auth("payroll", Some(PAYROLL_SECRET))
        .form(&[("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", "http://127.0.0.1:9999/cb"), ("code_verifier", VERIFIER)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(response.json::<Value>().await.unwrap()["error"], "invalid_grant");
}

#[tokio::test]
async fn codes_are_bound_to_their_client_and_redirect_uri() {
    let app = spawn_app().await;
    let code = query_param(&Browser::new().sign_in(&app, &payroll_query(""), ALICE).await, "code").unwrap();
    let other_client = reqwest::Client::new()
        .post(app.url("/token"))
        .basic_auth("machine", Some(MACHINE_SECRET))
        .form(&[("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", "http://127.0.0.1:9999/cb")])
        .send()
        .await
        .unwrap();
    assert_eq!(other_client.status(), StatusCode::BAD_REQUEST, "machine may not redeem payroll's code");
    let wrong_redirect = reqwest::Client::new()
        .post(app.url("/token"))
        .basic_auth("payroll", Some(PAYROLL_SECRET))
        .form(&[("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", "http://127.0.0.1:9999/cb/")])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_redirect.json::<Value>().await.unwrap()["error"], "invalid_grant");
    assert_eq!(redeem_payroll(&app, &code).await.status(), StatusCode::OK, "the rightful client still redeems it");
}

#[tokio::test]
async fn codes_are_short_lived() {
    let dir = TempDir::new("code-ttl");
    let config = dir.file("gatehouse.toml", "[tokens]\nauthorization_code_seconds = 1\n");
    let config = config.display().to_string();
    let app = spawn_with(SpawnOptions { dir: Some(dir), extra: &["--config", &config], import: true, ..Default::default() }).await;
    let code = query_param(&Browser::new().sign_in(&app, &payroll_query(""), ALICE).await, "code").unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let response = redeem_payroll(&app, &code).await;
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");
    assert!(body["error_description"].as_str().unwrap().contains("expired"));
}

#[tokio::test]
async fn authorization_endpoint_sends_no_cors_headers() {
    let app = spawn_app().await;
    let response = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(app.url(&format!("/authorize?{}", payroll_query(""))))
        .header("Origin", "http://evil.test")
        .send()
        .await
        .unwrap();
    assert!(response.headers().get("access-control-allow-origin").is_none());
    let preflight = reqwest::Client::new().request(reqwest::Method::OPTIONS, app.url("/authorize")).header("Origin", "http://evil.test").send().await.unwrap();
    assert!(preflight.headers().get("access-control-allow-origin").is_none());
}
