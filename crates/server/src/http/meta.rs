//! Discovery, JWKS, health, readiness, metrics and static files.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::state::AppState;

fn json_bytes(body: bytes::Bytes, cache: &'static str) -> Response {
    let mut response = body.into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    // Public metadata: browsers' single-page apps may read it.
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    response
}

pub async fn discovery(State(state): State<AppState>) -> Response {
    json_bytes(state.discovery.clone(), "public, max-age=300")
}

pub async fn jwks(State(state): State<AppState>) -> Response {
    // Short caching: a rotated key must reach relying parties before it signs anything.
    json_bytes(state.keys().jwks.clone(), "public, max-age=60")
}

pub async fn healthz() -> &'static str {
    "ok"
}

pub async fn readyz(State(state): State<AppState>) -> Response {
    match state.store.ping().await {
        Ok(()) => (StatusCode::OK, "ready").into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "store unavailable").into_response()
        }
    }
}

pub async fn metrics(State(state): State<AppState>) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics.render()).into_response()
}

fn static_file(body: &'static str, content_type: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "public, max-age=3600")], body).into_response()
}

pub async fn stylesheet() -> Response {
    static_file(include_str!("../../static/gatehouse.css"), "text/css; charset=utf-8")
}

pub async fn form_post_script() -> Response {
    static_file(include_str!("../../static/form_post.js"), "text/javascript; charset=utf-8")
}

/// Keeps a sign-in form from being sent twice by a double press.
pub async fn once_script() -> Response {
    static_file(include_str!("../../static/once.js"), "text/javascript; charset=utf-8")
}

/// Follows the link of the page that leaves for an organisation's identity provider.
pub async fn continue_script() -> Response {
    static_file(include_str!("../../static/continue.js"), "text/javascript; charset=utf-8")
}

pub async fn webauthn_script() -> Response {
    static_file(include_str!("../../static/webauthn.js"), "text/javascript; charset=utf-8")
}
