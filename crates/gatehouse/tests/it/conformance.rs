//! Black-box equivalents of the OpenID Foundation conformance suite's Basic OP and Form Post
//! test plans (names follow the suite's modules).

use reqwest::StatusCode;
use serde_json::Value;

use crate::support::api::id_claims;
use crate::support::app::{TestApp, spawn_app};
use crate::support::browser::{Browser, hidden, location, payroll_query, query_param, redeem_payroll, spa_query};
use crate::support::fixtures::basic::{ALICE, BOB, PAYROLL_CB, PAYROLL_SECRET};

async fn tokens_for(app: &TestApp, callback: &str) -> Value {
    let code = query_param(callback, "code").expect("a code");
    let response = redeem_payroll(app, &code).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

#[tokio::test]
async fn oidcc_server_code_flow_and_sso_second_app_reuses_session() {
    let app = spawn_app().await;
    let browser = Browser::new();
    let callback = browser.sign_in(&app, &payroll_query(""), ALICE).await;
    let tokens = tokens_for(&app, &callback).await;
    let claims = id_claims(&tokens);
    for claim in ["sub", "email", "email_verified", "name", "auth_time", "acr", "amr", "sid", "nonce", "iss", "aud", "exp", "iat"] {
        assert!(claims.get(claim).is_some(), "ID token lacks {claim}: {claims}");
    }
    assert_eq!(claims["nonce"], "n-1");
    // A second application: no password, same session.
    let second = browser.authorize(&app, &spa_query("")).await;
    assert_eq!(second.status(), StatusCode::SEE_OTHER);
    let to_spa = location(&second);
    assert!(to_spa.starts_with("http://127.0.0.1:9998/cb?code="), "SSO must not ask again: {to_spa}");
}

#[tokio::test]
async fn oidcc_response_type_missing_is_reported_to_the_client() {
    let app = spawn_app().await;
    let query = "client_id=payroll&redirect_uri=http%3A%2F%2F127.0.0.1%3A9999%2Fcb&scope=openid&state=xyz";
    let response = Browser::new().authorize(&app, query).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let to = location(&response);
    assert_eq!(query_param(&to, "error").as_deref(), Some("invalid_request"));
    assert_eq!(query_param(&to, "state").as_deref(), Some("xyz"));
    assert_eq!(query_param(&to, "iss").as_deref(), Some(app.issuer.as_str()));
}

#[tokio::test]
async fn oidcc_userinfo_get_post_header_and_post_body() {
    let app = spawn_app().await;
    let callback = Browser::new().sign_in(&app, &payroll_query(""), ALICE).await;
    let at = tokens_for(&app, &callback).await["access_token"].as_str().unwrap().to_owned();
    let http = reqwest::Client::new();
    let get: Value = http.get(app.url("/userinfo")).bearer_auth(&at).send().await.unwrap().json().await.unwrap();
    let post_header: Value = http.post(app.url("/userinfo")).bearer_auth(&at).send().await.unwrap().json().await.unwrap();
    let post_body: Value = http.post(app.url("/userinfo")).form(&[("access_token", at.as_str())]).send().await.unwrap().json().await.unwrap();
    assert_eq!(get["email"], ALICE.0);
    assert_eq!(get, post_header);
    assert_eq!(get, post_body);
    let both = http.post(app.url("/userinfo")).bearer_auth(&at).form(&[("access_token", at.as_str())]).send().await.unwrap();
    assert_eq!(both.status(), StatusCode::BAD_REQUEST, "a token in header and body is refused");
    let none = http.get(app.url("/userinfo")).send().await.unwrap();
    assert_eq!(none.status(), StatusCode::UNAUTHORIZED);
    assert!(none.headers()["www-authenticate"].to_str().unwrap().starts_with("Bearer"));
}

#[tokio::test]
async fn oidcc_ensure_request_without_nonce_succeeds_for_code_flow() {
    let app = spawn_app().await;
    let query = payroll_query("").replace("&nonce=n-1", "");
    let callback = Browser::new().sign_in(&app, &query, ALICE).await;
    let claims = id_claims(&tokens_for(&app, &callback).await);
    assert!(claims.get("nonce").is_none());
}

#[tokio::test]
async fn oidcc_scope_profile_email_phone_address() {
    let app = spawn_app().await;
    let query = payroll_query("").replace("scope=openid%20profile%20email", "scope=openid%20profile%20email%20phone%20address");
    let callback = Browser::new().sign_in(&app, &query, ALICE).await;
    let tokens = tokens_for(&app, &callback).await;
    // `address` is not supported (no postal addresses are held) and `phone` is not released
    // (the only numbers held are second factors), so neither is granted or advertised.
    assert_eq!(tokens["scope"], "openid profile email");
    let at = tokens["access_token"].as_str().unwrap();
    let info: Value = reqwest::Client::new().get(app.url("/userinfo")).bearer_auth(at).send().await.unwrap().json().await.unwrap();
    assert_eq!(info["name"], "Alice Example");
    assert_eq!(info["email"], ALICE.0);
    assert_eq!(info["email_verified"], true);

    // Without the profile and email scopes userinfo returns only `sub`.
    let browser = Browser::new();
    let query = payroll_query("").replace("scope=openid%20profile%20email", "scope=openid");
    let callback = browser.sign_in(&app, &query, BOB).await;
    let at = tokens_for(&app, &callback).await["access_token"].as_str().unwrap().to_owned();
    let info: Value = reqwest::Client::new().get(app.url("/userinfo")).bearer_auth(&at).send().await.unwrap().json().await.unwrap();
    assert!(info.get("sub").is_some() && info.get("email").is_none() && info.get("name").is_none(), "{info}");
}

#[tokio::test]
async fn oidcc_prompt_login_forces_a_new_authentication() {
    let app = spawn_app().await;
    let browser = Browser::new();
    let first = id_claims(&tokens_for(&app, &browser.sign_in(&app, &payroll_query(""), ALICE).await).await);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let response = browser.authorize(&app, &payroll_query("&prompt=login")).await;
    let login = location(&response);
    assert!(login.starts_with("/login"), "prompt=login must show the sign-in page, got {login}");
    let callback = location(&browser.submit_login(&app, &login, ALICE.0, ALICE.1).await);
    let second = id_claims(&tokens_for(&app, &callback).await);
    assert!(second["auth_time"].as_i64() > first["auth_time"].as_i64());
    assert_eq!(second["sid"], first["sid"], "re-authentication keeps the SSO session");
}

#[tokio::test]
async fn oidcc_prompt_none_not_logged_in_returns_login_required() {
    let app = spawn_app().await;
    let response = Browser::new().authorize(&app, &payroll_query("&prompt=none")).await;
    let to = location(&response);
    assert!(to.starts_with("http://127.0.0.1:9999/cb?"));
    assert_eq!(query_param(&to, "error").as_deref(), Some("login_required"));
    assert_eq!(query_param(&to, "state").as_deref(), Some("st-1"));
}

#[tokio::test]
async fn oidcc_prompt_none_logged_in_returns_a_code() {
    let app = spawn_app().await;
    let browser = Browser::new();
    browser.sign_in(&app, &payroll_query(""), ALICE).await;
    let to = location(&browser.authorize(&app, &payroll_query("&prompt=none")).await);
    assert!(query_param(&to, "code").is_some(), "{to}");
}

#[tokio::test]
async fn oidcc_max_age_1_requires_login_after_a_second() {
    let app = spawn_app().await;
    let browser = Browser::new();
    let first = id_claims(&tokens_for(&app, &browser.sign_in(&app, &payroll_query(""), ALICE).await).await);
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let response = browser.authorize(&app, &payroll_query("&max_age=1")).await;
    let login = location(&response);
    assert!(login.starts_with("/login"), "max_age=1 after 2 s must re-authenticate, got {login}");
    let callback = location(&browser.submit_login(&app, &login, ALICE.0, ALICE.1).await);
    let second = id_claims(&tokens_for(&app, &callback).await);
    assert!(second["auth_time"].as_i64().unwrap() >= first["auth_time"].as_i64().unwrap() + 2);
}

#[tokio::test]
async fn oidcc_ensure_request_with_unknown_parameter_succeeds() {
    let app = spawn_app().await;
    let callback = Browser::new().sign_in(&app, &payroll_query("&extra=foobar&display=popup"), ALICE).await;
    assert!(query_param(&callback, "code").is_some());
}

#[tokio::test]
async fn oidcc_id_token_hint_with_prompt_none() {
    let app = spawn_app().await;
    let browser = Browser::new();
    let tokens = tokens_for(&app, &browser.sign_in(&app, &payroll_query(""), ALICE).await).await;
    let hint = tokens["id_token"].as_str().unwrap();
    let to = location(&browser.authorize(&app, &payroll_query(&format!("&prompt=none&id_token_hint={hint}"))).await);
    assert!(query_param(&to, "code").is_some(), "matching hint: {to}");
    let to = location(&browser.authorize(&app, &payroll_query("&prompt=none&id_token_hint=not.a.jwt")).await);
    assert_eq!(query_param(&to, "error").as_deref(), Some("invalid_request"));
}

#[tokio::test]
async fn oidcc_codereuse_fails_and_revokes_the_first_tokens() {
    let app = spawn_app().await;
    let callback = Browser::new().sign_in(&app, &payroll_query(""), ALICE).await;
    let code = query_param(&callback, "code").unwrap();
    let first: Value = redeem_payroll(&app, &code).await.json().await.unwrap();
    let at = first["access_token"].as_str().unwrap();
    let http = reqwest::Client::new();
    assert_eq!(http.get(app.url("/userinfo")).bearer_auth(at).send().await.unwrap().status(), StatusCode::OK);
    let replay = redeem_payroll(&app, &code).await;
    assert_eq!(replay.status(), StatusCode::BAD_REQUEST);
    assert_eq!(replay.json::<Value>().await.unwrap()["error"], "invalid_grant");
    assert_eq!(http.get(app.url("/userinfo")).bearer_auth(at).send().await.unwrap().status(), StatusCode::UNAUTHORIZED, "access token revoked");
    let refresh = http
        .post(app.url("/token"))
        .basic_auth("payroll", Some(PAYROLL_SECRET))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", first["refresh_token"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    assert_eq!(refresh.status(), StatusCode::BAD_REQUEST, "refresh token revoked too");
}

#[tokio::test]
async fn oidcc_ensure_registered_redirect_uri_never_redirects() {
    let app = spawn_app().await;
    for bad in
        ["http%3A%2F%2F127.0.0.1%3A9999%2Fcb%2F", "http%3A%2F%2F127.0.0.1%3A9999%2FCB", "http%3A%2F%2Fevil.test%2Fcb", "http%3A%2F%2Fx%40127.0.0.1%3A9999%2Fcb"]
    {
        let query = format!("client_id=payroll&redirect_uri={bad}&response_type=code&scope=openid&state=s");
        let response = Browser::new().authorize(&app, &query).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad}");
        assert!(response.headers().get("location").is_none());
    }
    let unknown = Browser::new().authorize(&app, "client_id=nobody&redirect_uri=http%3A%2F%2F127.0.0.1%3A9999%2Fcb&response_type=code&scope=openid").await;
    assert_eq!(unknown.status(), StatusCode::BAD_REQUEST);
    assert!(unknown.headers().get("location").is_none());
}

#[tokio::test]
async fn oidcc_ensure_post_request_succeeds() {
    let app = spawn_app().await;
    let browser = Browser::new();
    let response =
        browser.http.post(app.url("/authorize")).header("content-type", "application/x-www-form-urlencoded").body(payroll_query("")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let callback = location(&browser.submit_login(&app, &location(&response), ALICE.0, ALICE.1).await);
    assert!(query_param(&callback, "code").is_some());
}

#[tokio::test]
async fn oidcc_refresh_token_rotates_and_reuse_revokes_the_family() {
    let app = spawn_app().await;
    let tokens = tokens_for(&app, &Browser::new().sign_in(&app, &payroll_query(""), ALICE).await).await;
    let http = reqwest::Client::new();
    let refresh = |token: String| {
        let http = http.clone();
        let url = app.url("/token");
        async move {
            http.post(url)
                .basic_auth("payroll", Some(PAYROLL_SECRET))
                .form(&[("grant_type", "refresh_token"), ("refresh_token", token.as_str())])
                .send()
                .await
                .unwrap()
        }
    };
    let first_rt = tokens["refresh_token"].as_str().unwrap().to_owned();
    let rotated: Value = refresh(first_rt.clone()).await.json().await.unwrap();
    let second_rt = rotated["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(first_rt, second_rt);
    assert!(id_claims(&rotated).get("sub").is_some(), "a refresh returns a new ID token");
    let reuse = refresh(first_rt).await;
    assert_eq!(reuse.status(), StatusCode::BAD_REQUEST);
    assert_eq!(refresh(second_rt).await.status(), StatusCode::BAD_REQUEST, "reuse revokes the whole family");
    let at = rotated["access_token"].as_str().unwrap();
    assert_eq!(http.get(app.url("/userinfo")).bearer_auth(at).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn form_post_response_mode_posts_the_code_to_the_client() {
    let app = spawn_app().await;
    let browser = Browser::new();
    let response = browser.authorize(&app, &payroll_query("&response_mode=form_post")).await;
    let login = location(&response);
    let page = browser.get(&app.url(&login)).await.text().await.unwrap();
    let posted = browser
        .http
        .post(app.url("/login"))
        .form(&[
            ("request", hidden(&page, "request").unwrap().as_str()),
            ("csrf_token", hidden(&page, "csrf_token").unwrap().as_str()),
            ("email", ALICE.0),
            ("password", ALICE.1),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), StatusCode::OK);
    let csp = posted.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("form-action 'self' http://127.0.0.1:9999"), "{csp}");
    let html = posted.text().await.unwrap();
    assert!(html.contains("action=\"http://127.0.0.1:9999/cb\""));
    assert!(html.contains("src=\"/static/form_post.js\""), "no inline script");
    let code = hidden(&html, "code").unwrap();
    assert_eq!(hidden(&html, "state").as_deref(), Some("st-1"));
    assert_eq!(hidden(&html, "iss").as_deref(), Some(app.issuer.as_str()));
    assert_eq!(redeem_payroll(&app, &code).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn acr_values_are_accepted_and_the_achieved_acr_is_reported() {
    let app = spawn_app().await;
    let query = payroll_query("&acr_values=urn%3Agatehouse%3Aacr%3Apwd%20urn%3Agatehouse%3Aacr%3Amfa");
    let callback = Browser::new().sign_in(&app, &query, ALICE).await;
    let claims = id_claims(&tokens_for(&app, &callback).await);
    // Second factors arrive with a later issue; until then the honest answer is one factor.
    assert_eq!(claims["acr"], "urn:gatehouse:acr:pwd");
    assert_eq!(claims["amr"], serde_json::json!(["pwd"]));
}

#[tokio::test]
async fn form_post_errors_are_posted_to_the_client_too() {
    let app = spawn_app().await;
    // No response_type: the error goes back to the client, by the mode it asked for.
    let query = "client_id=payroll&redirect_uri=http%3A%2F%2F127.0.0.1%3A9999%2Fcb&scope=openid&state=xyz&response_mode=form_post";
    let response = Browser::new().authorize(&app, query).await;
    assert_eq!(response.status(), StatusCode::OK);
    let html = response.text().await.unwrap();
    assert!(html.contains("action=\"http://127.0.0.1:9999/cb\""), "{html}");
    assert_eq!(hidden(&html, "error").as_deref(), Some("invalid_request"));
    assert_eq!(hidden(&html, "state").as_deref(), Some("xyz"));
    assert_eq!(hidden(&html, "iss").as_deref(), Some(app.issuer.as_str()));
}

#[tokio::test]
async fn login_hint_prefills_the_email_field() {
    let app = spawn_app().await;
    let browser = Browser::new();
    let login = location(&browser.authorize(&app, &payroll_query("&login_hint=bob%40acme.test")).await);
    let page = browser.get(&app.url(&login)).await.text().await.unwrap();
    assert!(page.contains("value=\"bob@acme.test\""), "{page}");
}

#[tokio::test]
async fn client_secret_post_authenticates_at_the_token_endpoint() {
    let app = spawn_app().await;
    let callback = Browser::new().sign_in(&app, &payroll_query(""), ALICE).await;
    let code = query_param(&callback, "code").unwrap();
    let response = reqwest::Client::new()
        .post(app.url("/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", PAYROLL_CB),
            ("client_id", "payroll"),
            ("client_secret", PAYROLL_SECRET),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let tokens: Value = response.json().await.unwrap();
    assert!(tokens["id_token"].is_string());
    // Both methods at once is refused.
    let both = reqwest::Client::new()
        .post(app.url("/token"))
        .basic_auth("payroll", Some(PAYROLL_SECRET))
        .form(&[("grant_type", "client_credentials"), ("client_secret", PAYROLL_SECRET)])
        .send()
        .await
        .unwrap();
    assert_eq!(both.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn id_token_hint_for_another_user_does_not_reuse_the_session() {
    let app = spawn_app().await;
    // An ID token for Bob, from another browser.
    let bob_tokens = tokens_for(&app, &Browser::new().sign_in(&app, &payroll_query(""), BOB).await).await;
    let bob_hint = bob_tokens["id_token"].as_str().unwrap().to_owned();
    // Alice is signed in here; a request naming Bob must not get Alice's code.
    let browser = Browser::new();
    browser.sign_in(&app, &payroll_query(""), ALICE).await;
    let response = browser.authorize(&app, &payroll_query(&format!("&id_token_hint={bob_hint}"))).await;
    assert!(location(&response).starts_with("/login"), "signs in again as the hinted user");
    let to = location(&browser.authorize(&app, &payroll_query(&format!("&prompt=none&id_token_hint={bob_hint}"))).await);
    assert_eq!(query_param(&to, "error").as_deref(), Some("login_required"));
}
