//! One shape for every error a machine reads. axum answers a request its extractors cannot take
//! (a query with an unknown field, a path segment of the wrong type, a body over the limit, a
//! method the route lacks) in plain text; clients of the OAuth endpoints parse RFC 6749 JSON
//! and clients of `/api` parse RFC 9457 problem documents. This layer rewrites those plain-text
//! answers, whichever extractor produced them, so no handler has to remember to.

use axum::body::to_bytes;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::problem::Problem;

/// What the rewritten answer looks like, by path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Surface {
    /// Token, introspection, revocation, userinfo and the metadata endpoints: RFC 6749 §5.2.
    OAuth,
    /// `/api/...`: RFC 9457.
    Api,
    /// Pages and everything else: left as they are.
    Other,
}

fn surface(path: &str) -> Surface {
    match path {
        "/token" | "/introspect" | "/revoke" | "/userinfo" | "/jwks" | "/.well-known/openid-configuration" => Surface::OAuth,
        _ if path.starts_with("/api/") => Surface::Api,
        _ => Surface::Other,
    }
}

/// Whether this is axum's own plain-text (or empty) refusal rather than a handler's answer.
fn is_framework_refusal(response: &Response) -> bool {
    let status = response.status();
    let plain = response.headers().get(header::CONTENT_TYPE).is_none_or(|v| v.as_bytes().starts_with(b"text/plain"));
    (status.is_client_error() || status == StatusCode::INTERNAL_SERVER_ERROR) && plain
}

pub async fn uniform(request: Request, next: Next) -> Response {
    let surface = surface(request.uri().path());
    let response = next.run(request).await;
    if surface == Surface::Other || !is_framework_refusal(&response) {
        return response;
    }
    let (parts, body) = response.into_parts();
    // axum's refusal texts are short; anything longer is not one of them.
    let detail = match to_bytes(body, 4096).await {
        Ok(bytes) if !bytes.is_empty() => String::from_utf8_lossy(&bytes).into_owned(),
        _ => parts.status.canonical_reason().unwrap_or("refused").to_lowercase(),
    };
    let mut rewritten = match surface {
        Surface::OAuth => {
            let body = json!({ "error": "invalid_request", "error_description": detail });
            let mut response = (parts.status, axum::Json(body)).into_response();
            response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        _ => Problem::new(parts.status, title(parts.status), detail).into_response(),
    };
    // Keep what the refusal said about the method (`Allow` on a 405).
    if let Some(allow) = parts.headers.get(header::ALLOW) {
        rewritten.headers_mut().insert(header::ALLOW, allow.clone());
    }
    rewritten
}

fn title(status: StatusCode) -> &'static str {
    match status {
        StatusCode::NOT_FOUND => "Not found",
        StatusCode::METHOD_NOT_ALLOWED => "Method not allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "Request too large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "Unsupported media type",
        StatusCode::UNPROCESSABLE_ENTITY | StatusCode::BAD_REQUEST => "Invalid request",
        _ => "Refused",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::body::Body;
    use axum::extract::{Path, Query};
    use axum::routing::get;
    use tower::ServiceExt;

    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Page {
        #[allow(dead_code)]
        limit: Option<u32>,
    }

    async fn listed(Query(_): Query<Page>) -> &'static str {
        "ok"
    }

    async fn numbered(Path(_): Path<u32>) -> &'static str {
        "ok"
    }

    fn app() -> Router {
        Router::new()
            .route("/api/v1/things", get(listed))
            .route("/api/v1/things/{n}", get(numbered))
            .route("/token", axum::routing::post(|| async { "ok" }))
            .route("/login", get(listed))
            .layer(axum::middleware::from_fn(uniform))
    }

    async fn call(method: &str, uri: &str) -> (StatusCode, String, serde_json::Value) {
        let request = Request::builder().method(method).uri(uri).body(Body::empty()).unwrap();
        let response = app().oneshot(request).await.unwrap();
        let status = response.status();
        let kind = response.headers().get(header::CONTENT_TYPE).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
        let bytes = to_bytes(response.into_body(), 1 << 16).await.unwrap();
        (status, kind, serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null))
    }

    #[tokio::test]
    async fn extractor_rejections_on_the_api_are_problem_documents() {
        let (status, kind, body) = call("GET", "/api/v1/things?colour=red").await;
        assert_eq!((status, kind.as_str()), (StatusCode::BAD_REQUEST, "application/problem+json"));
        assert!(body["detail"].as_str().unwrap().contains("colour"), "{body}");
        let (status, kind, body) = call("GET", "/api/v1/things/not-a-number").await;
        assert_eq!((status, kind.as_str(), body["status"].as_u64()), (StatusCode::BAD_REQUEST, "application/problem+json", Some(400)));
        let (status, kind, _) = call("DELETE", "/api/v1/things").await;
        assert_eq!((status, kind.as_str()), (StatusCode::METHOD_NOT_ALLOWED, "application/problem+json"));
        let (status, kind, _) = call("GET", "/api/v1/nothing-here").await;
        assert_eq!((status, kind.as_str()), (StatusCode::NOT_FOUND, "application/problem+json"));
    }

    #[tokio::test]
    async fn extractor_rejections_on_oauth_endpoints_are_rfc6749_json() {
        let (status, kind, body) = call("GET", "/token").await;
        assert_eq!((status, kind.as_str()), (StatusCode::METHOD_NOT_ALLOWED, "application/json"));
        assert_eq!(body["error"], "invalid_request");
    }

    #[tokio::test]
    async fn pages_and_handler_answers_are_left_alone() {
        let (status, kind, _) = call("GET", "/login?colour=red").await;
        assert_eq!((status, kind.starts_with("text/plain")), (StatusCode::BAD_REQUEST, true));
        let (status, _, _) = call("GET", "/api/v1/things?limit=3").await;
        assert_eq!(status, StatusCode::OK);
    }
}
