//! The console calls Gatehouse's own API in-process, with the signed-in person's access token,
//! through the same router a remote client reaches: every write a page makes is the API's
//! write, with its checks, its errors and its audit record. The browser's address, forwarding
//! header and user agent are passed on, so the trail records where the change came from.

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::connect_info::ConnectInfo;
use axum::http::{HeaderMap, HeaderValue, Method, Request, StatusCode, header};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use tower::ServiceExt;

/// The API router, handed to the console's handlers as an extension.
#[derive(Clone)]
pub struct ApiRouter(pub Router);

/// No request body (`None` needs a type to stand for).
pub const NO_BODY: Option<&()> = None;

/// The largest API answer the console reads (an access report can be large).
const MAX_ANSWER: usize = 16 * 1024 * 1024;

/// Why an API call did not succeed, as the console acts on it.
#[derive(Debug, thiserror::Error)]
pub enum ApiFailure {
    /// The token was refused (expired, revoked, the session ended): sign in again.
    #[error("the access token was refused")]
    SignIn,
    /// The API wants a fresher or stronger sign-in first (RFC 9470).
    #[error("a step-up to {acr_values} is needed")]
    StepUp { acr_values: String, max_age: Option<u32> },
    /// A refusal to show the person: a validation error, a conflict, not found, forbidden.
    #[error("{status}: {detail}")]
    Refused { status: StatusCode, detail: String },
    #[error("the API call failed: {0}")]
    Internal(String),
}

/// One person's calls, from one browser request.
pub struct Api<'a> {
    router: &'a Router,
    token: &'a str,
    peer: Option<ConnectInfo<SocketAddr>>,
    passed_on: Vec<(header::HeaderName, HeaderValue)>,
}

impl<'a> Api<'a> {
    pub fn new(router: &'a ApiRouter, token: &'a str, peer: Option<ConnectInfo<SocketAddr>>, browser: &HeaderMap) -> Self {
        let passed_on = [header::USER_AGENT, header::HeaderName::from_static("x-forwarded-for")]
            .into_iter()
            .flat_map(|name| browser.get_all(&name).iter().map(move |v| (name.clone(), v.clone())).collect::<Vec<_>>())
            .collect();
        Self { router: &router.0, token, peer, passed_on }
    }

    /// Sends one request; the body is JSON when given (one of `gatehouse_api`'s request bodies).
    pub async fn call<B: Serialize + ?Sized>(&self, method: Method, path: &str, body: Option<&B>) -> Result<(HeaderMap, bytes::Bytes), ApiFailure> {
        let mut request = Request::builder().method(method).uri(path);
        for (name, value) in &self.passed_on {
            request = request.header(name, value);
        }
        let bearer = HeaderValue::from_str(&format!("Bearer {}", self.token)).map_err(|_| ApiFailure::SignIn)?;
        request = request.header(header::AUTHORIZATION, bearer);
        let body = match body {
            Some(json) => {
                request = request.header(header::CONTENT_TYPE, "application/json");
                Body::from(serde_json::to_vec(json).map_err(|e| ApiFailure::Internal(e.to_string()))?)
            }
            None => Body::empty(),
        };
        let mut request = request.body(body).map_err(|e| ApiFailure::Internal(e.to_string()))?;
        if let Some(peer) = self.peer {
            request.extensions_mut().insert(peer);
        }
        let response = self.router.clone().oneshot(request).await.map_err(|e| ApiFailure::Internal(e.to_string()))?;
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = to_bytes(response.into_body(), MAX_ANSWER).await.map_err(|e| ApiFailure::Internal(e.to_string()))?;
        if status.is_success() {
            return Ok((headers, bytes));
        }
        Err(failure(status, &headers, &bytes))
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ApiFailure> {
        let (_, bytes) = self.call(Method::GET, path, NO_BODY).await?;
        serde_json::from_slice(&bytes).map_err(|e| ApiFailure::Internal(format!("{path}: {e}")))
    }

    /// A write whose answer the console reads, as the `gatehouse_api` struct the API sends.
    pub async fn send<B: Serialize + ?Sized, T: DeserializeOwned>(&self, method: Method, path: &str, body: Option<&B>) -> Result<T, ApiFailure> {
        let (_, bytes) = self.call(method, path, body).await?;
        serde_json::from_slice(&bytes).map_err(|e| ApiFailure::Internal(format!("{path}: {e}")))
    }

    /// A write whose answer (often none: 204) the console does not read; only success counts.
    pub async fn send_only<B: Serialize + ?Sized>(&self, method: Method, path: &str, body: Option<&B>) -> Result<(), ApiFailure> {
        self.call(method, path, body).await.map(|_| ())
    }
}

/// What the console shows of a refusal: an RFC 9457 problem's `detail`, or an RFC 6749
/// error's `error_description` (the API's bearer checks answer in that format).
#[derive(Default, Deserialize)]
struct Refusal {
    detail: Option<String>,
    error_description: Option<String>,
}

/// Reads an API refusal: a bearer challenge (RFC 6750, RFC 9470) or an RFC 9457 problem.
fn failure(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> ApiFailure {
    if let Some(challenge) = headers.get(header::WWW_AUTHENTICATE).and_then(|v| v.to_str().ok()) {
        let param = |name: &str| {
            let marker = format!("{name}=\"");
            let start = challenge.find(&marker)? + marker.len();
            let end = challenge[start..].find('"')? + start;
            Some(challenge[start..end].to_owned())
        };
        match param("error").as_deref() {
            Some("insufficient_user_authentication") => {
                return ApiFailure::StepUp { acr_values: param("acr_values").unwrap_or_default(), max_age: param("max_age").and_then(|v| v.parse().ok()) };
            }
            Some("invalid_token") | None if status == StatusCode::UNAUTHORIZED => return ApiFailure::SignIn,
            _ => {}
        }
    }
    let refusal: Refusal = serde_json::from_slice(body).unwrap_or_default();
    let detail = refusal.detail.or(refusal.error_description).unwrap_or_else(|| status.canonical_reason().unwrap_or("refused").to_owned());
    if status.is_server_error() { ApiFailure::Internal(detail) } else { ApiFailure::Refused { status, detail } }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn challenge(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn refusals_are_read_as_the_console_acts_on_them() {
        let step_up = failure(
            StatusCode::UNAUTHORIZED,
            &challenge(r#"Bearer error="insufficient_user_authentication", error_description="x", acr_values="urn:gatehouse:acr:mfa", max_age="600""#),
            b"",
        );
        assert!(matches!(step_up, ApiFailure::StepUp { ref acr_values, max_age: Some(600) } if acr_values == "urn:gatehouse:acr:mfa"));
        assert!(matches!(failure(StatusCode::UNAUTHORIZED, &challenge(r#"Bearer error="invalid_token""#), b""), ApiFailure::SignIn));
        let problem = failure(StatusCode::CONFLICT, &HeaderMap::new(), br#"{"title":"Conflict","detail":"already acknowledged"}"#);
        assert!(matches!(problem, ApiFailure::Refused { status: StatusCode::CONFLICT, ref detail } if detail == "already acknowledged"));
        assert!(matches!(failure(StatusCode::FORBIDDEN, &challenge(r#"Bearer error="insufficient_scope""#), b""), ApiFailure::Refused { .. }));
        assert!(matches!(failure(StatusCode::INTERNAL_SERVER_ERROR, &HeaderMap::new(), b"{}"), ApiFailure::Internal(_)));
    }
}
