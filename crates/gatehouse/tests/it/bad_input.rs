//! Malformed, oversized, forged and replayed input: each gets the standard error and changes
//! nothing stored.

use reqwest::StatusCode;
use serde_json::Value;

use crate::support::app::{TestApp, db_fingerprint, spawn_app};
use crate::support::browser::{Browser, hidden, location, payroll_query, query_param, redeem_payroll};
use crate::support::fixtures::basic::{ALICE, BOB, PAYROLL_SECRET};

/// (form body, client credentials, expected status, expected error code)
type Case<'a> = (&'a str, Option<(&'a str, &'a str)>, StatusCode, &'a str);
/// Basic credentials (client id, secret), if any.
type Credentials<'a> = Option<(&'a str, &'a str)>;

async fn token(app: &TestApp, body: &str, auth: Option<(&str, &str)>) -> (StatusCode, Value) {
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
    let json_body = reqwest::Client::new()
        .post(app.url("/token"))
        .basic_auth("payroll", Some(PAYROLL_SECRET))
        .json(&serde_json::json!({"grant_type": "client_credentials"}))
        .send()
        .await
        .unwrap();
    assert_eq!(json_body.status(), StatusCode::BAD_REQUEST, "only form bodies are accepted");
}

#[tokio::test]
async fn wrong_client_secret_is_401_with_basic_challenge() {
    let app = spawn_app().await;
    let response =
        reqwest::Client::new().post(app.url("/token")).basic_auth("payroll", Some("nope")).form(&[("grant_type", "client_credentials")]).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.headers()["www-authenticate"].to_str().unwrap().starts_with("Basic"));
}

#[tokio::test]
async fn client_secret_guessing_is_rate_limited_per_client_and_address() {
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
    assert_eq!(right.status(), StatusCode::UNAUTHORIZED, "even the right secret waits out the window from the guessing address");
    // The application itself, calling from another address, is not locked out by the guesser.
    let elsewhere = reqwest::Client::builder().local_address(std::net::IpAddr::from([127, 0, 0, 2])).build().unwrap();
    let ok = elsewhere.post(app.url("/token")).basic_auth("payroll", Some(PAYROLL_SECRET)).form(&[("grant_type", "client_credentials")]).send().await.unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
}

#[tokio::test]
async fn oversized_bodies_get_a_json_invalid_request_at_every_api_endpoint() {
    let app = spawn_app().await;
    let body = format!("grant_type=client_credentials&pad={}", "x".repeat(200_000));
    for path in ["/token", "/introspect", "/revoke", "/userinfo"] {
        let response = reqwest::Client::new()
            .post(app.url(path))
            .basic_auth("payroll", Some(PAYROLL_SECRET))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE, "{path}");
        let json: Value = response.json().await.unwrap();
        assert_eq!(json["error"], "invalid_request", "{path}");
    }
}

#[tokio::test]
async fn malformed_credentials_and_bodies_are_rfc6749_errors() {
    let app = spawn_app().await;
    let http = reqwest::Client::new();
    // A non-ASCII Authorization header is bad credentials, not "no credentials".
    let header = reqwest::header::HeaderValue::from_bytes(b"Basic \xff\xfe").unwrap();
    let r =
        http.post(app.url("/token")).header("authorization", header).form(&[("grant_type", "client_credentials"), ("client_id", "spa")]).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_client");
    for body in ["grant_type=client_credentials&scope=%ZZ", "grant_type=client_%ff%fecredentials"] {
        let (status, json) = token(&app, body, Some(("payroll", PAYROLL_SECRET))).await;
        assert_eq!((status, json["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_request")), "{body}");
    }
    for path in ["/introspect", "/revoke"] {
        let r = http
            .post(app.url(path))
            .basic_auth("payroll", Some(PAYROLL_SECRET))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("token=a&token=b")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{path}: duplicated parameter");
        assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_request");
    }
}

#[tokio::test]
async fn refused_token_requests_change_nothing_stored() {
    let app = spawn_app().await;
    let browser = Browser::new();
    let code = query_param(&browser.sign_in(&app, &payroll_query(""), ALICE).await, "code").unwrap();
    let before = db_fingerprint(&app.data_dir()).await;
    let payroll = Some(("payroll", PAYROLL_SECRET));
    let cb = "redirect_uri=http%3A%2F%2F127.0.0.1%3A9999%2Fcb";
    let refused: [(String, Credentials, &str); 7] = [
        (format!("grant_type=authorization_code&code={code}&{cb}"), Some(("payroll", "wrong secret")), "invalid_client"),
        (format!("grant_type=authorization_code&code={code}&{cb}"), Some(("reports", "reports-secret-0123456789-abcdefghijklmnopqrstuv")), "invalid_grant"),
        (format!("grant_type=authorization_code&code={code}"), payroll, "invalid_request"),
        (format!("grant_type=authorization_code&code={code}&redirect_uri=http%3A%2F%2F127.0.0.1%3A9999%2FCB"), payroll, "invalid_grant"),
        (format!("grant_type=authorization_code&code={code}&{cb}&code_verifier=dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"), payroll, "invalid_grant"),
        (format!("grant_type=authorization_code&code={code}&code={code}&{cb}"), payroll, "invalid_request"),
        (format!("grant_type=refresh_token&refresh_token=forged-{code}"), payroll, "invalid_grant"),
    ];
    for (body, auth, error) in &refused {
        let (_, json) = token(&app, body, *auth).await;
        assert_eq!(json["error"].as_str(), Some(*error), "{body}");
    }
    let oversized = format!("grant_type=authorization_code&code={code}&{cb}&pad={}", "x".repeat(100_000));
    assert_eq!(token(&app, &oversized, payroll).await.0, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(db_fingerprint(&app.data_dir()).await, before, "no refused request wrote anything");
    assert_eq!(redeem_payroll(&app, &code).await.status(), StatusCode::OK, "the code is still good after every refusal");
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
    let response =
        http.get(app.url(&format!("/authorize?{}", payroll_query("&prompt=none")))).header("cookie", "gatehouse_session=forged").send().await.unwrap();
    assert_eq!(query_param(&location(&response), "error").as_deref(), Some("login_required"));

    // A real session cookie with one character changed matches nothing either.
    let browser = Browser::new();
    let login = location(&browser.authorize(&app, &payroll_query("")).await);
    let signed_in = browser.submit_login(&app, &login, ALICE.0, ALICE.1).await;
    let cookie =
        signed_in.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_owned()).find(|c| c.starts_with("gatehouse_session=")).unwrap();
    let value = cookie.split(';').next().unwrap().trim_start_matches("gatehouse_session=").to_owned();
    let genuine = http
        .get(app.url(&format!("/authorize?{}", payroll_query("&prompt=none"))))
        .header("cookie", format!("gatehouse_session={value}"))
        .send()
        .await
        .unwrap();
    assert!(query_param(&location(&genuine), "code").is_some(), "the untouched cookie is a session");
    let mut tampered = value.into_bytes();
    let last = tampered.len() - 1;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let before = db_fingerprint(&app.data_dir()).await;
    let response = http
        .get(app.url(&format!("/authorize?{}", payroll_query("&prompt=none"))))
        .header("cookie", format!("gatehouse_session={tampered}"))
        .send()
        .await
        .unwrap();
    assert_eq!(query_param(&location(&response), "error").as_deref(), Some("login_required"));
    assert_eq!(db_fingerprint(&app.data_dir()).await, before);
}

#[tokio::test]
async fn login_form_rejects_bad_csrf_and_other_browsers_and_stores_no_session() {
    let app = spawn_app().await;
    let browser = Browser::new();
    let login = location(&browser.authorize(&app, &payroll_query("")).await);
    let page = browser.get(&app.url(&login)).await.text().await.unwrap();
    let request = hidden(&page, "request").unwrap();
    let bad_csrf = browser
        .http
        .post(app.url("/login"))
        .form(&[("request", request.as_str()), ("csrf_token", "forged"), ("email", ALICE.0), ("password", ALICE.1)])
        .send()
        .await
        .unwrap();
    assert_eq!(bad_csrf.status(), StatusCode::BAD_REQUEST);
    // Another browser (no flow cookie) cannot use this sign-in request.
    let csrf = hidden(&page, "csrf_token").unwrap();
    let other = Browser::new();
    let stolen = other
        .http
        .post(app.url("/login"))
        .form(&[("request", request.as_str()), ("csrf_token", csrf.as_str()), ("email", ALICE.0), ("password", ALICE.1)])
        .send()
        .await
        .unwrap();
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
    // Past a few failures every attempt must wait: even the right password gets the same
    // answer as a wrong one meanwhile, so the delay shows nothing about the account.
    let throttled = browser.submit_login(&app, &login, ALICE.0, ALICE.1).await;
    assert_eq!(throttled.status(), StatusCode::OK);
    assert!(throttled.text().await.unwrap().contains("The email address or password is incorrect."));
    // Another account from the same address is still served.
    let bob = browser.submit_login(&app, &login, BOB.0, BOB.1).await;
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

/// Two Authorization headers: the field is single-valued (RFC 9110 §11.6.2), and a proxy that
/// reads the other one must not be able to disagree with us about who is calling.
#[tokio::test]
async fn a_request_with_two_authorization_headers_is_refused_whichever_comes_first() {
    let app = crate::support::fixtures::two_factor::spawn().await;
    let ops = crate::support::api::operator(&app).await;
    let valid = format!("Bearer {ops}");
    for (first, second) in [(valid.as_str(), "Bearer not-a-token"), ("Bearer not-a-token", valid.as_str())] {
        for path in ["/api/v1/tenants", "/userinfo"] {
            let response = reqwest::Client::new().get(app.url(path)).header("authorization", first).header("authorization", second).send().await.unwrap();
            assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{path}");
            assert!(response.headers()["www-authenticate"].to_str().unwrap().contains("invalid_request"), "{path}");
        }
    }
    let basic = |secret: &str| format!("Basic {}", base64_of(&format!("ops:{secret}")));
    let right = basic(crate::support::fixtures::two_factor::SECRET);
    let response = reqwest::Client::new()
        .post(app.url("/token"))
        .header("authorization", right.as_str())
        .header("authorization", basic("wrong").as_str())
        .form(&[("grant_type", "client_credentials"), ("scope", "gatehouse:admin")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(response.json::<Value>().await.unwrap()["error"], "invalid_request");
    let once = reqwest::Client::new().get(app.url("/api/v1/tenants")).header("authorization", valid.as_str()).send().await.unwrap();
    assert_eq!(once.status(), StatusCode::OK, "one header is still fine");
}

fn base64_of(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(text)
}
