//! RP-Initiated Logout 1.0.

use reqwest::StatusCode;
use serde_json::Value;

use crate::support::app::{TestApp, spawn_app};
use crate::support::browser::{Browser, hidden, location, payroll_query, query_param, redeem_payroll, spa_query};
use crate::support::fixtures::basic::ALICE;

async fn signed_in(app: &TestApp) -> (Browser, Value) {
    let browser = Browser::new();
    let code = query_param(&browser.sign_in(app, &payroll_query(""), ALICE).await, "code").unwrap();
    let tokens = redeem_payroll(app, &code).await.json().await.unwrap();
    (browser, tokens)
}

#[tokio::test]
async fn rp_initiated_logout_redirects_with_state_and_ends_sso_everywhere() {
    let app = spawn_app().await;
    let (browser, tokens) = signed_in(&app).await;
    let hint = tokens["id_token"].as_str().unwrap();
    let url = format!("/logout?id_token_hint={hint}&post_logout_redirect_uri=http%3A%2F%2F127.0.0.1%3A9999%2Fsigned-out&state=bye");
    let response = browser.get(&app.url(&url)).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "http://127.0.0.1:9999/signed-out?state=bye");
    // The SSO session is over for every application.
    let to = location(&browser.authorize(&app, &spa_query("&prompt=none")).await);
    assert_eq!(query_param(&to, "error").as_deref(), Some("login_required"));
    // Tokens of the session are revoked.
    let at = tokens["access_token"].as_str().unwrap();
    assert_eq!(reqwest::Client::new().get(app.url("/userinfo")).bearer_auth(at).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn logout_with_bad_post_logout_redirect_uri_does_not_redirect() {
    let app = spawn_app().await;
    let (browser, tokens) = signed_in(&app).await;
    let hint = tokens["id_token"].as_str().unwrap();
    let url = format!("/logout?id_token_hint={hint}&post_logout_redirect_uri=http%3A%2F%2Fevil.test%2F&state=bye");
    let response = browser.get(&app.url(&url)).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.headers().get("location").is_none());
    let to = location(&browser.authorize(&app, &payroll_query("&prompt=none")).await);
    assert!(query_param(&to, "code").is_some(), "a refused logout leaves the session alone");
}

#[tokio::test]
async fn logout_with_bad_id_token_hint_does_not_redirect() {
    let app = spawn_app().await;
    let (browser, tokens) = signed_in(&app).await;
    let hint = tokens["id_token"].as_str().unwrap();
    let tampered = format!("{}x", hint);
    let url = format!("/logout?id_token_hint={tampered}&post_logout_redirect_uri=http%3A%2F%2F127.0.0.1%3A9999%2Fsigned-out");
    let response = browser.get(&app.url(&url)).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.headers().get("location").is_none());
}

#[tokio::test]
async fn logout_without_hint_asks_for_confirmation_with_csrf() {
    let app = spawn_app().await;
    let (browser, _) = signed_in(&app).await;
    let page = browser.get(&app.url("/logout")).await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("Sign out?"));
    let forged = browser.http.post(app.url("/logout")).form(&[("confirm", "yes"), ("csrf_token", "forged")]).send().await.unwrap();
    assert!(forged.text().await.unwrap().contains("Sign out?"), "a forged confirmation only shows the page again");
    let still = location(&browser.authorize(&app, &payroll_query("&prompt=none")).await);
    assert!(query_param(&still, "code").is_some());
    let csrf = hidden(&html, "csrf_token").unwrap();
    let done = browser.http.post(app.url("/logout")).form(&[("confirm", "yes"), ("csrf_token", csrf.as_str())]).send().await.unwrap();
    assert!(done.text().await.unwrap().contains("You have signed out"));
    let after = location(&browser.authorize(&app, &payroll_query("&prompt=none")).await);
    assert_eq!(query_param(&after, "error").as_deref(), Some("login_required"));
}

#[tokio::test]
async fn cross_site_logout_post_without_cookie_ends_the_hinted_session() {
    let app = spawn_app().await;
    let (browser, tokens) = signed_in(&app).await;
    let hint = tokens["id_token"].as_str().unwrap();
    // A cross-site form POST: SameSite=Lax keeps the session cookie out of it.
    let cookieless = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let response = cookieless
        .post(app.url("/logout"))
        .form(&[("id_token_hint", hint), ("post_logout_redirect_uri", "http://127.0.0.1:9999/signed-out")])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&response), "http://127.0.0.1:9999/signed-out");
    let to = location(&browser.authorize(&app, &payroll_query("&prompt=none")).await);
    assert_eq!(query_param(&to, "error").as_deref(), Some("login_required"), "the browser's session ended");
    let at = tokens["access_token"].as_str().unwrap();
    assert_eq!(reqwest::Client::new().get(app.url("/userinfo")).bearer_auth(at).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
}
