//! Response headers every page and API answer carries: a strict CSP with `frame-ancestors
//! 'none'`, no referrer, no sniffing, no caching of personal data, HSTS under TLS.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use url::Url;

use crate::state::AppState;

/// The policy for every page; a page that posts a form elsewhere adds `form-action` itself.
pub const CSP_BASE: &str =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'";
/// The default policy: forms post only to this server.
const CSP_DEFAULT: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// A `form-action` source list allowing this server and the given URI's origin (navigations
/// after a form submission must stay within it).
pub fn form_target(uri: &str) -> String {
    match Url::parse(uri) {
        Ok(url) if matches!(url.scheme(), "http" | "https") => format!("'self' {}", url.origin().ascii_serialization()),
        Ok(url) => format!("'self' {}:", url.scheme()),
        Err(_) => "'self'".to_owned(),
    }
}

pub async fn headers(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let is_static = request.uri().path().starts_with("/static/");
    let mut response = next.run(request).await;
    state.metrics.record_status(response.status().as_u16());
    let h = response.headers_mut();
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP_DEFAULT));
    }
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if !is_static && !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if state.config.tls.is_some() {
        h.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=63072000"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_policy_extends_the_base() {
        assert_eq!(CSP_DEFAULT, format!("{CSP_BASE}; form-action 'self'"));
    }

    #[test]
    fn form_targets() {
        assert_eq!(form_target("http://127.0.0.1:9999/cb?x=1"), "'self' http://127.0.0.1:9999");
        assert_eq!(form_target("com.example.app:/cb"), "'self' com.example.app:");
    }
}
