//! The sign-in walker: steps a [`Browser`] through `/authorize`, the password page and the
//! second-factor page of a server started with the two-factor fixture
//! ([`crate::support::fixtures::two_factor`]), redeems the code, and reads what the server
//! sent to the development outbox (codes, notices) the way the person's phone would.

use reqwest::{Client, Response, StatusCode};
use serde_json::Value;

use crate::support::api::id_claims;
use crate::support::app::TestApp;
use crate::support::browser::{Browser, location, query_param};
use crate::support::fixtures::two_factor::{PASSWORD, SECRET, callback_of};

/// An authorization query for `client` with the scopes `openid email`.
pub fn query(client: &str, extra: &str) -> String {
    query_scoped(client, "openid email", extra)
}

/// An authorization query for `client` with the given scopes, to its registered callback.
pub fn query_scoped(client: &str, scope: &str, extra: &str) -> String {
    let cb = url::form_urlencoded::byte_serialize(callback_of(client).as_bytes()).collect::<String>();
    let scope = url::form_urlencoded::byte_serialize(scope.as_bytes()).collect::<String>();
    format!("client_id={client}&redirect_uri={cb}&response_type=code&scope={scope}&state=st&nonce=n{extra}")
}

/// The code an authenticator app shows now (the test is the user's phone: it reads the clock).
#[allow(clippy::disallowed_methods)]
pub fn totp_now(secret: &str) -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    gatehouse_crypto::otp::TotpSecret::from_base32(secret).unwrap().code(now)
}

/// Starts a sign-in and submits the password; returns where the browser is sent next.
pub async fn password_step(app: &TestApp, browser: &Browser, client: &str, extra: &str, email: &str) -> String {
    browser.sign_in(app, &query(client, extra), (email, PASSWORD)).await
}

/// GETs a page and answers its HTML (asserting 200).
pub async fn page(app: &TestApp, browser: &Browser, path: &str) -> String {
    let response = browser.get(&app.url(path)).await;
    assert_eq!(response.status(), StatusCode::OK, "GET {path}");
    response.text().await.unwrap()
}

/// Presents a code on the second-factor page; returns the response.
pub async fn present(app: &TestApp, browser: &Browser, factor_page: &str, method: &str, code: &str) -> Response {
    let html = page(app, browser, factor_page).await;
    browser.post_step(app, "/login/factor", &html, &[("method", method), ("code", code)]).await
}

/// Redeems the code in a callback URL as `client`; returns the token response.
pub async fn redeem(app: &TestApp, client: &str, callback: &str) -> Value {
    let code = query_param(callback, "code").unwrap_or_else(|| panic!("no code in {callback}"));
    let response = Client::new()
        .post(app.url("/token"))
        .basic_auth(client, Some(SECRET))
        .form(&[("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", callback_of(client))])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

/// Redeems the code in a callback URL as `client`; returns the ID token's claims.
pub async fn id_token_claims(app: &TestApp, client: &str, callback: &str) -> Value {
    id_claims(&redeem(app, client, callback).await)
}

/// Asserts that `to` is `client`'s callback with a code.
pub fn assert_code_for(client: &str, to: &str) {
    assert!(to.starts_with(&format!("{}?code=", callback_of(client))), "expected a code for {client}, got {to}");
}

/// The newest code sent to `email` to confirm a new password (the notice is sent in the
/// background: waits for it).
pub async fn reset_code_for(app: &TestApp, email: &str) -> String {
    for _ in 0..100 {
        let code = outbox_lines(app, "notifications.jsonl")
            .iter()
            .rev()
            .find(|n| n["to"] == email && n["kind"] == "password_reset_code")
            .map(|n| n["code"].as_str().unwrap().to_owned());
        if let Some(code) = code {
            return code;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("no password reset code was sent to {email}");
}

/// The JSON lines of a development-outbox file (`sms.jsonl`, `notifications.jsonl`, ...).
pub fn outbox_lines(app: &TestApp, file: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(app.data_dir().join("outbox").join(file)).unwrap_or_default();
    text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// Follows redirects from `path` within the server, signing in with the password (and a TOTP
/// code when asked); returns the final page's status, path and HTML.
pub async fn visit(app: &TestApp, browser: &Browser, path: &str, email: &str, totp: Option<&str>) -> (StatusCode, String, String) {
    let mut to = path.to_owned();
    for _ in 0..10 {
        let url = if to.starts_with("http") { to.clone() } else { app.url(&to) };
        let response = browser.get(&url).await;
        if response.status() != StatusCode::SEE_OTHER {
            let status = response.status();
            return (status, to, response.text().await.unwrap());
        }
        let next = location(&response);
        let next = next.strip_prefix(&app.issuer).map(str::to_owned).unwrap_or(next);
        if next.starts_with("/login?request=") {
            let response = browser.submit_login(app, &next, email, PASSWORD).await;
            assert_eq!(response.status(), StatusCode::SEE_OTHER);
            to = location(&response);
            if to.starts_with("/login/factor") {
                let secret = totp.expect("a second factor was asked for");
                let response = present(app, browser, &to, "totp", &totp_now(secret)).await;
                to = location(&response);
            }
            to = to.strip_prefix(&app.issuer).map(str::to_owned).unwrap_or(to);
        } else {
            to = next;
        }
    }
    panic!("too many redirects from {path}");
}
