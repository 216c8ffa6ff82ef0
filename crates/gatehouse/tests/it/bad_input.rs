//! Malformed, oversized, forged and replayed input: each gets the standard error and changes
//! nothing stored.

use reqwest::StatusCode;
use serde_json::Value;

use crate::browser::{Browser, hidden, location, payroll_query, query_param, redeem_payroll};
use crate::helpers::{ALICE, PAYROLL_SECRET, spawn_app};

/// (form body, client credentials, expected status, expected error code)
type Case<'a> = (&'a str, Option<(&'a str, &'a str)>, StatusCode, &'a str);

async fn token(app: &crate::helpers::TestApp, body: &str, auth: Option<(&str, &str)>) -> (StatusCode, Value) {
    let mut req = reqwest::Client::new().post(app.url("/token")).header("content-type", "application/x-www-form-urlencoded").body(body.to_owned());
    if let Some((id, secret)) = auth {
        req = req.basic_auth(id, Some(secret));
    }
    let response = req.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn token_endpoint_rejections_use_rfc6749_errors() {
    let app = spawn_app().await;
    let payroll = Some(("payroll", PAYROLL_SECRET));
    let cases: [Case; 9] = [
        ("grant_type=client_credentials", Some(("payroll", "wrong")), StatusCode::UNAUTHORIZED, "invalid_client"),
        ("grant_type=client_credentials", Some(("nobody", "x")), StatusCode::UNAUTHORIZED, "invalid_client"),
        ("grant_type=client_credentials&client_id=payroll", None, StatusCode::UNAUTHORIZED, "invalid_client"),
        ("scope=x", payroll, StatusCode::BAD_REQUEST, "invalid_request"),
        ("grant_type=password&username=a&password=b", payroll, StatusCode::BAD_REQUEST, "unsupported_grant_type"),
        ("grant_type=authorization_code", payroll, StatusCode::BAD_REQUEST, "invalid_request"),
        ("grant_type=authorization_code&code=forged&redirect_uri=http%3A%2F%2F127.0.0.1%3A9999%2Fcb", payroll, StatusCode::BAD_REQUEST, "invalid_grant"),
        ("grant_type=client_credentials&grant_type=client_credentials", payroll, StatusCode::BAD_REQUEST, "invalid_request"),
        ("grant_type=client_credentials&scope=openid", payroll, StatusCode::BAD_REQUEST, "invalid_scope"),
    ];
    for (body, auth, status, error) in cases {
        let (got, json) = token(&app, body, auth).await;
        assert_eq!((got, json["error"].as_str()), (status, Some(error)), "{body}");
    }
    let (status, json) = token(&app, "grant_type=client_credentials&client_id=spa", None).await;
    assert_eq!((status, json["error"].as_str()), (StatusCode::BAD_REQUEST, Some("unauthorized_client")), "spa may not use client_credentials");
    let json_body = reqwest::Client::new().post(app.url("/token")).basic_auth("payroll", Some(PAYROLL_SECRET)).json(&serde_json::json!({"grant_type": "client_credentials"})).send().await.unwrap();
    assert_eq!(json_body.status(), StatusCode::BAD_REQUEST, "only form bodies are accepted");
}

#[tokio::test]
async fn wrong_client_secret_is_401_with_basic_challenge() {
    let app = spawn_app().await;
    let response = reqwest::Client::new().post(app.url("/token")).basic_auth("payroll", Some("nope")).form(&[("grant_type", "client_credentials")]).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.headers()["www-authenticate"].to_str().unwrap().starts_with("Basic"));
}

#[tokio::test]
async fn client_secret_guessing_is_rate_limited() {
    let app = spawn_app().await;
    let http = reqwest::Client::new();
    let mut last = None;
    for _ in 0..25 {
        let r = http.post(app.url("/token")).basic_auth("payroll", Some("guess")).form(&[("grant_type", "client_credentials")]).send().await.unwrap();
        last = Some(r);
    }
    let last = last.unwrap();
    assert!(last.headers().get("retry-after").is_some(), "after 20 failures the client is told to wait");
    let right = http.post(app.url("/token")).basic_auth("payroll", Some(PAYROLL_SECRET)).form(&[("grant_type", "client_credentials")]).send().await.unwrap();
    assert_eq!(right.status(), StatusCode::UNAUTHORIZED, "even the right secret waits out the window");
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let app = spawn_app().await;
    let body = format!("grant_type=client_credentials&pad={}", "x".repeat(200_000));
    let response = reqwest::Client::new().post(app.url("/token")).basic_auth("payroll", Some(PAYROLL_SECRET)).header("content-type", "application/x-www-form-urlencoded").body(body).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn duplicated_authorization_parameters_are_not_redirected() {
    let app = spawn_app().await;
    let response = Browser::new().authorize(&app, &payroll_query("&client_id=payroll")).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.headers().get("location").is_none());
}

#[tokio::test]
async fn tampered_session_cookie_is_just_no_session() {
    let app = spawn_app().await;
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let response = http.get(app.url(&format!("/authorize?{}", payroll_query("")))).header("cookie", "gatehouse_session=forged-value").send().await.unwrap();
    assert!(location(&response).starts_with("/login"), "a forged cookie grants nothing");
    let response = http.get(app.url(&format!("/authorize?{}", payroll_query("&prompt=none")))).header("cookie", "gatehouse_session=forged").send().await.unwrap();
    assert_eq!(query_param(&location(&response), "error").as_deref(), Some("login_required"));
}

#[tokio::test]
async fn login_form_rejects_bad_csrf_and_other_browsers_and_stores_no_session() {
    let app = spawn_app().await;
    let browser = Browser::new();
    let login = location(&browser.authorize(&app, &payroll_query("")).await);
    let page = browser.get(&app.url(&login)).await.text().await.unwrap();
    let request = hidden(&page, "request").unwrap();
    let bad_csrf = browser.http.post(app.url("/login")).form(&[("request", request.as_str()), ("csrf_token", "forged"), ("email", ALICE.0), ("password", ALICE.1)]).send().await.unwrap();
    assert_eq!(bad_csrf.status(), StatusCode::BAD_REQUEST);
    // Another browser (no flow cookie) cannot use this sign-in request.
    let csrf = hidden(&page, "csrf_token").unwrap();
    let other = Browser::new();
    let stolen = other.http.post(app.url("/login")).form(&[("request", request.as_str()), ("csrf_token", csrf.as_str()), ("email", ALICE.0), ("password", ALICE.1)]).send().await.unwrap();
    assert_eq!(stolen.status(), StatusCode::BAD_REQUEST);
    // Nothing was signed in: prompt=none still says login_required.
    let to = location(&browser.authorize(&app, &payroll_query("&prompt=none")).await);
    assert_eq!(query_param(&to, "error").as_deref(), Some("login_required"));
    // The genuine submission still works.
    assert_eq!(browser.submit_login(&app, &login, ALICE.0, ALICE.1).await.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn unknown_user_and_wrong_password_look_the_same_and_lockout_throttles() {
    let app = spawn_app().await;
    let browser = Browser::new();
    let login = location(&browser.authorize(&app, &payroll_query("")).await);
    let unknown = browser.submit_login(&app, &login, "nobody@acme.test", "whatever password").await;
    let wrong = browser.submit_login(&app, &login, ALICE.0, "wrong password!").await;
    assert_eq!(unknown.status(), wrong.status());
    let (a, b) = (unknown.text().await.unwrap(), wrong.text().await.unwrap());
    assert!(a.contains("The email address or password is incorrect."));
    assert!(b.contains("The email address or password is incorrect."));
    for _ in 0..9 {
        browser.submit_login(&app, &login, ALICE.0, "wrong password!").await;
    }
    let throttled = browser.submit_login(&app, &login, ALICE.0, ALICE.1).await;
    assert_eq!(throttled.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(throttled.headers().get("retry-after").is_some());
    // Another account from the same address is still served.
    let bob = browser.submit_login(&app, &login, crate::helpers::BOB.0, crate::helpers::BOB.1).await;
    assert_eq!(bob.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn expired_or_unknown_sign_in_requests_get_a_friendly_page() {
    let app = spawn_app().await;
    let response = Browser::new().get(&app.url("/login?request=does-not-exist")).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.text().await.unwrap().contains("This sign-in page has expired"));
}

#[tokio::test]
async fn replayed_code_from_another_session_is_refused() {
    let app = spawn_app().await;
    let code = query_param(&Browser::new().sign_in(&app, &payroll_query(""), ALICE).await, "code").unwrap();
    assert_eq!(redeem_payroll(&app, &code).await.status(), StatusCode::OK);
    assert_eq!(redeem_payroll(&app, &code).await.status(), StatusCode::BAD_REQUEST);
}
