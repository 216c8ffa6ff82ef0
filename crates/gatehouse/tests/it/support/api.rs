//! Clients of the server's APIs: tokens for people (through the sign-in walker) and for
//! clients (client credentials), calls to `/api/v1`, the operator's view of tenants and users,
//! and independent re-implementations the tests check the server against (an ID token's
//! claims, HMAC-SHA256 for signed webhooks, a self-signed certificate for TLS).

use reqwest::{Client, Method, Response, StatusCode};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::support::app::TestApp;
use crate::support::browser::{Browser, location};
use crate::support::fixtures::basic::MACHINE_SECRET;
use crate::support::fixtures::two_factor::{PASSWORD, SECRET};
use crate::support::walker::{present, query_scoped, redeem, totp_now};

/// Signs `email` in to a first-party `client` asking for Gatehouse's API scopes (with TOTP
/// when asked) and returns an access token.
pub async fn token_for(app: &TestApp, client: &str, email: &str, totp: Option<&str>) -> String {
    let browser = Browser::new();
    let query = query_scoped(client, "openid email gatehouse:account gatehouse:admin", "");
    let mut to = browser.sign_in(app, &query, (email, PASSWORD)).await;
    if let Some(secret) = totp {
        assert!(to.starts_with("/login/factor"), "{to}");
        to = location(&present(app, &browser, &to, "totp", &totp_now(secret)).await);
    }
    redeem(app, client, &to).await["access_token"].as_str().unwrap().to_owned()
}

/// A client-credentials token request as `client`.
pub async fn client_token(app: &TestApp, client: &str, scope: &str) -> Response {
    Client::new().post(app.url("/token")).basic_auth(client, Some(SECRET)).form(&[("grant_type", "client_credentials"), ("scope", scope)]).send().await.unwrap()
}

/// An API request with a bearer token (and a JSON body when given).
pub async fn call(app: &TestApp, method: Method, path: &str, token: &str, body: Option<Value>) -> Response {
    let mut request = Client::new().request(method, app.url(path)).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

/// An operator's access token: client credentials as `ops` (of the two-factor fixture) with `gatehouse:admin`.
pub async fn operator(app: &TestApp) -> String {
    let response = client_token(app, "ops", "gatehouse:admin").await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned()
}

/// The JSON body of a response, asserting 200.
pub async fn json_of(response: Response) -> Value {
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

/// A tenant's id by its name, through the admin API.
pub async fn ids_of_tenant(app: &TestApp, ops: &str, tenant: &str) -> String {
    let tenants = json_of(call(app, Method::GET, "/api/v1/tenants", ops, None).await).await;
    tenants["tenants"].as_array().unwrap().iter().find(|t| t["name"] == tenant).unwrap()["id"].as_str().unwrap().to_owned()
}

/// (tenant id, user id) of an email, through the admin API.
pub async fn ids(app: &TestApp, ops: &str, tenant: &str, email: &str) -> (String, String) {
    let tenants = json_of(call(app, Method::GET, "/api/v1/tenants", ops, None).await).await;
    let tenant_id = tenants["tenants"].as_array().unwrap().iter().find(|t| t["name"] == tenant).unwrap()["id"].as_str().unwrap().to_owned();
    let users = json_of(call(app, Method::GET, &format!("/api/v1/tenants/{tenant_id}/users"), ops, None).await).await;
    let user = users["users"].as_array().unwrap().iter().find(|u| u["email"] == email).unwrap()["id"].as_str().unwrap().to_owned();
    (tenant_id, user)
}

/// A client-credentials token for `machine` (of the default fixture), asserting the response.
pub async fn client_credentials(app: &TestApp) -> Value {
    let response = Client::new()
        .post(app.url("/token"))
        .basic_auth("machine", Some(MACHINE_SECRET))
        .form(&[("grant_type", "client_credentials"), ("scope", "reports:read")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    response.json().await.unwrap()
}

/// The claims of the ID token in a token response (the signature is not checked).
pub fn id_claims(tokens: &Value) -> Value {
    use base64::Engine as _;
    let token = tokens["id_token"].as_str().unwrap();
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// HMAC-SHA256 (RFC 2104), computed independently of the server's implementation.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut block = [0u8; 64];
    block[..key.len()].copy_from_slice(key);
    let inner: Vec<u8> = block.iter().map(|b| b ^ 0x36).collect();
    let outer: Vec<u8> = block.iter().map(|b| b ^ 0x5c).collect();
    let inner_hash = Sha256::new().chain_update(&inner).chain_update(message).finalize();
    Sha256::new().chain_update(&outer).chain_update(inner_hash).finalize().to_vec()
}

/// A self-signed certificate for `localhost` and `127.0.0.1`: (certificate PEM, key PEM, certificate DER).
pub fn self_signed() -> (String, String, rustls::pki_types::CertificateDer<'static>) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    (cert.cert.pem(), cert.key_pair.serialize_pem(), cert.cert.der().clone())
}
