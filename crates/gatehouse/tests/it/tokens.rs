//! Client credentials, RFC 9068 access tokens, introspection (RFC 7662), revocation (RFC 7009).

use base64::Engine as _;
use reqwest::StatusCode;
use serde_json::Value;

use crate::support::api::client_credentials;
use crate::support::app::spawn_app;
use crate::support::browser::{Browser, payroll_query, query_param, redeem_payroll};
use crate::support::fixtures::basic::{ALICE, MACHINE_SECRET, PAYROLL_SECRET};

fn decode(token: &str, part: usize) -> Value {
    let segment = token.split('.').nth(part).unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(segment).unwrap()).unwrap()
}

#[tokio::test]
async fn client_credentials_issues_rfc9068_es256_access_tokens() {
    let app = spawn_app().await;
    let body = client_credentials(&app).await;
    assert_eq!(body["token_type"], "Bearer");
    assert!(body.get("refresh_token").is_none() && body.get("id_token").is_none());
    let token = body["access_token"].as_str().unwrap();
    let header = decode(token, 0);
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(header["alg"], "ES256");
    let claims = decode(token, 1);
    for claim in ["iss", "exp", "aud", "sub", "client_id", "iat", "jti"] {
        assert!(claims.get(claim).is_some(), "missing {claim}");
    }
    assert_eq!(claims["client_id"], "machine");
    assert_eq!(claims["scope"], "reports:read");
    let jwks: Value = reqwest::get(app.url("/jwks")).await.unwrap().json().await.unwrap();
    assert!(jwks["keys"].as_array().unwrap().iter().any(|k| k["kid"] == header["kid"] && k["alg"] == "ES256"));
}

#[tokio::test]
async fn client_credentials_token_is_rejected_at_userinfo_with_insufficient_scope() {
    let app = spawn_app().await;
    let token = client_credentials(&app).await["access_token"].as_str().unwrap().to_owned();
    let response = reqwest::Client::new().get(app.url("/userinfo")).bearer_auth(&token).send().await.unwrap();
    // RFC 6750 §3.1: a valid token without the needed scope is 403 insufficient_scope.
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let challenge = response.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(challenge.starts_with("Bearer ") && challenge.contains("error=\"insufficient_scope\""), "{challenge}");
}

#[tokio::test]
async fn introspection_needs_a_confidential_client_and_reports_revocation() {
    let app = spawn_app().await;
    let http = reqwest::Client::new();
    let token = client_credentials(&app).await["access_token"].as_str().unwrap().to_owned();
    let introspect = |who: &'static str, secret: Option<&'static str>, token: String| {
        let http = http.clone();
        let url = app.url("/introspect");
        async move {
            let mut req = http.post(url);
            req = match secret {
                Some(s) => req.basic_auth(who, Some(s)),
                None => req,
            };
            req.form(&[("token", token.as_str()), ("client_id", who)]).send().await.unwrap()
        }
    };
    // RFC 7662 §4: described to the client it was issued to, and to nobody else.
    let active: Value = introspect("machine", Some(MACHINE_SECRET), token.clone()).await.json().await.unwrap();
    assert_eq!(active["active"], true);
    assert_eq!(active["client_id"], "machine");
    let other: Value = introspect("payroll", Some(PAYROLL_SECRET), token.clone()).await.json().await.unwrap();
    assert_eq!(other, serde_json::json!({"active": false}));
    assert_eq!(introspect("spa", None, token.clone()).await.status(), StatusCode::UNAUTHORIZED, "public clients cannot introspect");
    assert_eq!(introspect("payroll", Some("wrong"), token.clone()).await.status(), StatusCode::UNAUTHORIZED);
    let garbage: Value = introspect("payroll", Some(PAYROLL_SECRET), "garbage".into()).await.json().await.unwrap();
    assert_eq!(garbage, serde_json::json!({"active": false}));

    // Revocation of the access token by its owner.
    let other = http.post(app.url("/revoke")).basic_auth("payroll", Some(PAYROLL_SECRET)).form(&[("token", token.as_str())]).send().await.unwrap();
    assert_eq!(other.status(), StatusCode::BAD_REQUEST, "a client cannot revoke another client's token");
    let revoked = http.post(app.url("/revoke")).basic_auth("machine", Some(MACHINE_SECRET)).form(&[("token", token.as_str())]).send().await.unwrap();
    assert_eq!(revoked.status(), StatusCode::OK);
    let after: Value = introspect("machine", Some(MACHINE_SECRET), token).await.json().await.unwrap();
    assert_eq!(after["active"], false);
    let unknown = http.post(app.url("/revoke")).basic_auth("machine", Some(MACHINE_SECRET)).form(&[("token", "unknown")]).send().await.unwrap();
    assert_eq!(unknown.status(), StatusCode::OK, "RFC 7009: unknown tokens answer 200");
}

#[tokio::test]
async fn refresh_token_introspection_and_revocation_end_the_grant() {
    let app = spawn_app().await;
    let code = query_param(&Browser::new().sign_in(&app, &payroll_query(""), ALICE).await, "code").unwrap();
    let tokens: Value = redeem_payroll(&app, &code).await.json().await.unwrap();
    let rt = tokens["refresh_token"].as_str().unwrap();
    let at = tokens["access_token"].as_str().unwrap();
    let http = reqwest::Client::new();
    let info: Value =
        http.post(app.url("/introspect")).basic_auth("payroll", Some(PAYROLL_SECRET)).form(&[("token", rt)]).send().await.unwrap().json().await.unwrap();
    assert_eq!(info["active"], true);
    assert_eq!(info["token_type"], "refresh_token");
    let user_at: Value =
        http.post(app.url("/introspect")).basic_auth("payroll", Some(PAYROLL_SECRET)).form(&[("token", at)]).send().await.unwrap().json().await.unwrap();
    assert_eq!(user_at["acr"], "urn:gatehouse:acr:pwd");
    assert_eq!(http.post(app.url("/revoke")).basic_auth("payroll", Some(PAYROLL_SECRET)).form(&[("token", rt)]).send().await.unwrap().status(), StatusCode::OK);
    assert_eq!(http.get(app.url("/userinfo")).bearer_auth(at).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
}
