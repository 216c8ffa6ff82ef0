//! The sign-in pages in-process (`tower::ServiceExt::oneshot`, no socket): the refusals of the
//! flow's typed states, which need no loopback server. The whole browser journey, against the
//! real binary, is in `crates/gatehouse/tests/it`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::response::Response;
use gatehouse_crypto::PasswordParams;
use gatehouse_store::GrantStore;
use gatehouse_store::sqlite::SqliteStore;
use std::net::SocketAddr;
use std::sync::Arc;
use tower::ServiceExt;

mod support;

const PASSWORD: &str = "a long test passphrase";
const CHEAP: PasswordParams = PasswordParams { memory_kib: 64, iterations: 1, parallelism: 1 };
const AUTHORIZE: &str = "/authorize?client_id=app&redirect_uri=http%3A%2F%2F127.0.0.1%3A9999%2Fcb&response_type=code&scope=openid&state=s&nonce=n";

struct App {
    router: axum::Router,
    store: Arc<SqliteStore>,
}

async fn app() -> App {
    let (state, store, _) = support::seeded::seeded(PASSWORD, CHEAP, |_| {}).await;
    App { router: gatehouse_server::router(state), store }
}

async fn send(app: &App, request: Request<Body>) -> Response {
    let mut request = request;
    request.extensions_mut().insert(axum::extract::ConnectInfo(SocketAddr::from(([192, 0, 2, 1], 40000))));
    app.router.clone().oneshot(request).await.unwrap()
}

async fn text(response: Response) -> String {
    String::from_utf8(axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap().to_vec()).unwrap()
}

fn value_after<'a>(html: &'a str, marker: &str) -> &'a str {
    let start = html.find(marker).unwrap() + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    &html[start..end]
}

/// A parked request: its id, the browser's flow cookie and the form's CSRF token.
struct Parked {
    id: String,
    cookie: String,
    csrf: String,
}

async fn park(app: &App) -> Parked {
    let response = send(app, Request::get(AUTHORIZE).body(Body::empty()).unwrap()).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let login = response.headers()[header::LOCATION].to_str().unwrap().to_owned();
    let cookie = response.headers()[header::SET_COOKIE].to_str().unwrap().split(';').next().unwrap().to_owned();
    let page = send(app, Request::get(&login).header(header::COOKIE, &cookie).body(Body::empty()).unwrap()).await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = text(page).await;
    Parked { id: value_after(&html, "name=\"request\" value=\"").to_owned(), cookie, csrf: value_after(&html, "name=\"csrf_token\" value=\"").to_owned() }
}

fn post(path: &str, cookie: &str, form: &str) -> Request<Body> {
    Request::post(path)
        .header(header::COOKIE, cookie)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form.to_owned()))
        .unwrap()
}

#[tokio::test]
async fn a_parked_request_signs_in_with_its_typed_parameters() {
    let app = app().await;
    let parked = park(&app).await;
    let form = format!("request={}&csrf_token={}&email=user%40example.test&password=a+long+test+passphrase", parked.id, parked.csrf);
    let response = send(&app, post("/login", &parked.cookie, &form)).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let to = response.headers()[header::LOCATION].to_str().unwrap();
    assert!(to.starts_with("http://127.0.0.1:9999/cb?code=") && to.contains("state=s"), "{to}");
    let now = time::OffsetDateTime::UNIX_EPOCH + time::Duration::days(365 * 60);
    assert_eq!(app.store.pending(&parked.id, now).await.unwrap(), None, "the answered request is gone");
}

#[tokio::test]
async fn another_browser_cannot_continue_a_parked_sign_in() {
    let app = app().await;
    let parked = park(&app).await;
    let other = park(&app).await;
    let form = format!("request={}&csrf_token={}&email=user%40example.test&password=a+long+test+passphrase", parked.id, parked.csrf);
    let response = send(&app, post("/login", &other.cookie, &form)).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(text(response).await.contains("expired"));
}

#[tokio::test]
async fn a_form_without_its_csrf_token_is_refused() {
    let app = app().await;
    let parked = park(&app).await;
    let form = format!("request={}&csrf_token=forged&email=user%40example.test&password=a+long+test+passphrase", parked.id);
    let response = send(&app, post("/login", &parked.cookie, &form)).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn later_steps_refuse_a_request_that_proved_nothing_yet() {
    let app = app().await;
    let parked = park(&app).await;
    for path in ["/login/factor", "/login/enroll", "/login/password"] {
        let page = send(&app, Request::get(format!("{path}?request={}", parked.id)).header(header::COOKIE, &parked.cookie).body(Body::empty()).unwrap()).await;
        assert_eq!(page.status(), StatusCode::BAD_REQUEST, "{path} before the first factor");
    }
    let form = format!("request={}&csrf_token={}&method=totp&code=123456", parked.id, parked.csrf);
    assert_eq!(send(&app, post("/login/factor", &parked.cookie, &form)).await.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_request_parked_in_an_older_format_has_expired() {
    let app = app().await;
    let parked = park(&app).await;
    // What an older version stored: the request as a query string.
    let now = time::OffsetDateTime::UNIX_EPOCH;
    let mut record = app.store.pending(&parked.id, now).await.unwrap().unwrap();
    record.id = "older".into();
    record.request = "client_id=app&redirect_uri=http%3A%2F%2F127.0.0.1%3A9999%2Fcb&response_type=code&scope=openid".into();
    app.store.save_pending(&record).await.unwrap();
    let page = send(&app, Request::get("/login?request=older").header(header::COOKIE, &parked.cookie).body(Body::empty()).unwrap()).await;
    assert_eq!(page.status(), StatusCode::BAD_REQUEST);
    assert!(text(page).await.contains("expired"));
}

#[tokio::test]
async fn an_unknown_client_gets_an_error_page_and_no_redirect() {
    let app = app().await;
    let response = send(&app, Request::get(AUTHORIZE.replace("client_id=app", "client_id=nobody")).body(Body::empty()).unwrap()).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.headers().get(header::LOCATION).is_none());
}
