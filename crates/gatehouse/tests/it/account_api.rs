//! The self-service API (`/api/v1/me`) with users' own access tokens: listing, adding,
//! confirming, renaming and removing second factors and regenerating recovery codes, and the
//! step-up challenge a password-only or stale sign-in gets.

use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

use crate::support::api::{call, client_token, token_for};
use crate::support::browser::Browser;
use crate::support::fixtures::two_factor::{ALICE_TOTP, PASSWORD, spawn};
use crate::support::walker::{outbox_lines, password_step, present, query_scoped, redeem, totp_now};

#[tokio::test]
async fn the_user_lists_adds_confirms_renames_and_removes_factors() {
    let app = spawn().await;
    let token = token_for(&app, "vault", "alice@acme.test", Some(ALICE_TOTP)).await;
    let listed: Value = call(&app, reqwest::Method::GET, "/api/v1/me/factors", &token, None).await.json().await.unwrap();
    let kinds: Vec<&str> = listed["factors"].as_array().unwrap().iter().map(|f| f["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds.len(), 2, "{listed}");
    assert!(kinds.contains(&"totp") && kinds.contains(&"sms"));
    let text = listed.to_string();
    assert!(!text.contains("401234567") && !text.contains("secret"), "no secrets or numbers: {text}");

    let added = call(&app, reqwest::Method::POST, "/api/v1/me/factors", &token, Some(json!({ "kind": "totp", "label": "Work phone" }))).await;
    assert_eq!(added.status(), StatusCode::CREATED);
    let added: Value = added.json().await.unwrap();
    let id = added["factor"].as_str().unwrap().to_owned();
    assert!(added["otpauth_uri"].as_str().unwrap().starts_with("otpauth://totp/"));
    assert!(added["qr_code"].as_str().unwrap().starts_with("data:image/svg+xml;base64,"));
    let wrong = call(&app, reqwest::Method::POST, &format!("/api/v1/me/factors/{id}/confirm"), &token, Some(json!({ "code": "000000x" }))).await;
    assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
    assert_eq!(wrong.headers()["content-type"], "application/problem+json");
    let code = totp_now(added["secret"].as_str().unwrap());
    let confirmed = call(&app, reqwest::Method::POST, &format!("/api/v1/me/factors/{id}/confirm"), &token, Some(json!({ "code": code }))).await;
    assert_eq!(confirmed.status(), StatusCode::OK);
    assert_eq!(confirmed.json::<Value>().await.unwrap()["confirmed"], true);

    let renamed = call(&app, reqwest::Method::PATCH, &format!("/api/v1/me/factors/{id}"), &token, Some(json!({ "label": "Old phone" }))).await;
    assert_eq!(renamed.json::<Value>().await.unwrap()["label"], "Old phone");
    let codes: Value = call(&app, reqwest::Method::POST, "/api/v1/me/recovery-codes", &token, None).await.json().await.unwrap();
    assert_eq!(codes["codes"].as_array().unwrap().len(), 10);
    let removed = call(&app, reqwest::Method::DELETE, &format!("/api/v1/me/factors/{id}"), &token, None).await;
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    let again = call(&app, reqwest::Method::DELETE, &format!("/api/v1/me/factors/{id}"), &token, None).await;
    assert_eq!(again.status(), StatusCode::NOT_FOUND);

    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let notices: Vec<String> = outbox_lines(&app, "notifications.jsonl").iter().map(|n| n["kind"].as_str().unwrap().to_owned()).collect();
    for kind in ["factor_added", "factor_renamed", "recovery_codes_regenerated", "factor_removed"] {
        assert!(notices.iter().any(|n| n == kind), "{kind} notified: {notices:?}");
    }
}

#[tokio::test]
async fn a_password_only_sign_in_can_never_change_second_factors() {
    let app = spawn().await;
    // Wiki is a Bypass app: Alice's token there proves only her password.
    let weak = token_for(&app, "wiki", "alice@acme.test", None).await;
    let listed: Value = call(&app, reqwest::Method::GET, "/api/v1/me/factors", &weak, None).await.json().await.unwrap();
    let id = listed["factors"][0]["id"].as_str().unwrap().to_owned();
    for (method, path, body) in [
        (reqwest::Method::DELETE, format!("/api/v1/me/factors/{id}"), None),
        (reqwest::Method::POST, "/api/v1/me/factors".to_owned(), Some(json!({ "kind": "totp" }))),
        (reqwest::Method::POST, "/api/v1/me/recovery-codes".to_owned(), None),
    ] {
        let response = call(&app, method, &path, &weak, body).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{path}");
        let challenge = response.headers()["www-authenticate"].to_str().unwrap().to_owned();
        assert!(challenge.contains("error=\"insufficient_user_authentication\""), "{challenge}");
        assert!(challenge.contains("acr_values=\"urn:gatehouse:acr:mfa\"") && challenge.contains("max_age=\"600\""), "{challenge}");
    }
    let after: Value = call(&app, reqwest::Method::GET, "/api/v1/me/factors", &weak, None).await.json().await.unwrap();
    assert_eq!(after["factors"], listed["factors"], "nothing changed");
}

#[tokio::test]
async fn enrollment_through_the_api_follows_the_domain_policy_and_refuses_bad_input() {
    let app = spawn().await;
    // Bob has no factor yet: a fresh password sign-in may add the first.
    let bob = token_for(&app, "wiki", "bob@acme.test", None).await;
    let post = |body: Value| call(&app, reqwest::Method::POST, "/api/v1/me/factors", &bob, Some(body));
    // This server's issuer is an IP address: no WebAuthn, and it says so.
    let unavailable = post(json!({ "kind": "passkey" })).await;
    assert_eq!(unavailable.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(unavailable.text().await.unwrap().contains("domain name"));
    for bad in [
        json!({ "kind": "passkey", "phone": "+358401234567" }),
        json!({ "kind": "sms" }),
        json!({ "kind": "sms", "phone": "0401234567" }),
        json!({ "kind": "totp", "phone": "+358401234567" }),
        json!({ "kind": "totp", "label": "" }),
        json!({ "kind": "fax" }),
        json!({ "kind": "totp", "colour": "blue" }),
    ] {
        let response = post(bad.clone()).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(response.headers()["content-type"], "application/problem+json");
    }
    let sms = post(json!({ "kind": "sms", "phone": "+358409876543", "label": "Bob's phone" })).await;
    assert_eq!(sms.status(), StatusCode::CREATED);
    let sms: Value = sms.json().await.unwrap();
    let text = outbox_lines(&app, "sms.jsonl").last().unwrap()["text"].as_str().unwrap().to_owned();
    let code: String = text.split("code is ").nth(1).unwrap().chars().take(6).collect();
    let path = format!("/api/v1/me/factors/{}/confirm", sms["factor"].as_str().unwrap());
    let confirmed = call(&app, reqwest::Method::POST, &path, &bob, Some(json!({ "code": code, "challenge": sms["challenge"] }))).await;
    assert_eq!(confirmed.status(), StatusCode::OK);

    // Another user's factor is not found, not forbidden: ids tell nothing.
    let alice = token_for(&app, "vault", "alice@acme.test", Some(ALICE_TOTP)).await;
    let gone = call(&app, reqwest::Method::DELETE, &format!("/api/v1/me/factors/{}", sms["factor"].as_str().unwrap()), &alice, None).await;
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);

    // Frank's domain allows only WebAuthn.
    let frank = token_for(&app, "wiki", "frank@hooli.test", None).await;
    let refused = call(&app, reqwest::Method::POST, "/api/v1/me/factors", &frank, Some(json!({ "kind": "totp" }))).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);

    // No token, a bad token, a client's own token.
    assert_eq!(Client::new().get(app.url("/api/v1/me/factors")).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    assert_eq!(call(&app, reqwest::Method::GET, "/api/v1/me/factors", "not-a-token", None).await.status(), StatusCode::UNAUTHORIZED);
    let machine: Value = client_token(&app, "payroll", "reports").await.json().await.unwrap();
    let machine = machine["access_token"].as_str().expect("a client-credentials token");
    assert_eq!(call(&app, reqwest::Method::GET, "/api/v1/me/factors", machine, None).await.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_recovery_code_presented_twice_at_once_succeeds_once() {
    let app = spawn().await;
    let token = token_for(&app, "vault", "alice@acme.test", Some(ALICE_TOTP)).await;
    let codes: Value = call(&app, reqwest::Method::POST, "/api/v1/me/recovery-codes", &token, None).await.json().await.unwrap();
    let code = codes["codes"][0].as_str().unwrap().to_owned();
    let (first, second) = (Browser::new(), Browser::new());
    let to_first = password_step(&app, &first, "vault", "", "alice@acme.test").await;
    let to_second = password_step(&app, &second, "vault", "", "alice@acme.test").await;
    let (a, b) = tokio::join!(present(&app, &first, &to_first, "recovery_code", &code), present(&app, &second, &to_second, "recovery_code", &code));
    let statuses = [a.status(), b.status()];
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::SEE_OTHER).count(), 1, "exactly one sign-in: {statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::OK).count(), 1, "the other is refused on the page: {statuses:?}");
}

#[tokio::test]
async fn only_first_party_tokens_with_the_account_scope_reach_the_api() {
    let app = spawn().await;
    // Payroll is a third-party application: asking for gatehouse:account gets it nothing.
    let browser = Browser::new();
    let to = browser.sign_in(&app, &query_scoped("payroll", "openid gatehouse:account", ""), ("bob@acme.test", PASSWORD)).await;
    let tokens = redeem(&app, "payroll", &to).await;
    assert_eq!(tokens["scope"], "openid", "the scope is dropped, not granted");
    let third_party = tokens["access_token"].as_str().unwrap();
    let refused = call(&app, reqwest::Method::GET, "/api/v1/me/factors", third_party, None).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(refused.headers()["www-authenticate"].to_str().unwrap().contains("insufficient_scope"));
    // A first-party application's token without the scope is refused too.
    let to = password_step(&app, &Browser::new(), "wiki", "", "bob@acme.test").await;
    let plain = redeem(&app, "wiki", &to).await;
    assert_eq!(call(&app, reqwest::Method::GET, "/api/v1/me/factors", plain["access_token"].as_str().unwrap(), None).await.status(), StatusCode::FORBIDDEN);
}

/// Confirming a factor is what adds it, so it meets the rule of adding as it stands then: a
/// factor left pending while the account had none cannot be confirmed by a password-only
/// sign-in once another factor is confirmed (found by the black-box review of issue 16).
#[tokio::test]
async fn a_factor_left_pending_cannot_be_confirmed_without_the_second_factor_added_since() {
    let app = spawn().await;
    let bob = token_for(&app, "wiki", "bob@acme.test", None).await;
    let start = |label: &'static str| call(&app, reqwest::Method::POST, "/api/v1/me/factors", &bob, Some(json!({ "kind": "totp", "label": label })));
    let left: Value = start("Left pending").await.json().await.unwrap();
    let first: Value = start("First").await.json().await.unwrap();
    let confirm = async |factor: &Value| {
        let path = format!("/api/v1/me/factors/{}/confirm", factor["factor"].as_str().unwrap());
        call(&app, reqwest::Method::POST, &path, &bob, Some(json!({ "code": totp_now(factor["secret"].as_str().unwrap()) }))).await
    };
    assert_eq!(confirm(&first).await.status(), StatusCode::OK, "the first factor, while Bob had none");
    let late = confirm(&left).await;
    assert_eq!(late.status(), StatusCode::UNAUTHORIZED, "now Bob has a factor: a password-only token adds no other");
    let challenge = late.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(challenge.contains("error=\"insufficient_user_authentication\""), "{challenge}");
    let listed: Value = call(&app, reqwest::Method::GET, "/api/v1/me/factors", &bob, None).await.json().await.unwrap();
    let left_pending = listed["factors"].as_array().unwrap().iter().find(|f| f["label"] == "Left pending").cloned();
    assert!(left_pending.is_none_or(|f| f["confirmed"] == false), "{listed}");
}
