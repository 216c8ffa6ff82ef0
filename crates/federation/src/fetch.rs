//! Bounded HTTP to an upstream: no redirects followed, a timeout on the whole exchange, a cap
//! on what is read. An upstream cannot make Gatehouse wait or buffer without limit.

use std::time::Duration;

use crate::UpstreamError;

/// The largest discovery document, JWKS or token response read.
pub const MAX_BODY: usize = 256 * 1024;

/// How every upstream client is built: no redirects followed, `timeout` for the whole call.
pub fn builder(timeout: Duration) -> reqwest::ClientBuilder {
    // reqwest's rustls is built without a provider of its own: aws-lc-rs, as the server's
    // listener uses (installing it again is a no-op), so a client works in any process.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .connect_timeout(timeout)
        .user_agent(concat!("Gatehouse/", env!("CARGO_PKG_VERSION")))
}

/// The client every upstream call of the operator's own providers goes through.
pub fn client(timeout: Duration) -> Result<reqwest::Client, UpstreamError> {
    builder(timeout).build().map_err(|e| UpstreamError::Unreachable(e.to_string()))
}

/// Reads a response's body up to [`MAX_BODY`] bytes, after checking its status is 200.
pub async fn body(what: &'static str, response: Result<reqwest::Response, reqwest::Error>) -> Result<Vec<u8>, UpstreamError> {
    let mut response = response.map_err(|e| UpstreamError::Unreachable(without_url(&e)))?;
    let status = response.status().as_u16();
    if response.content_length().is_some_and(|len| len > MAX_BODY as u64) {
        return Err(UpstreamError::TooLarge(what));
    }
    let mut out = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| UpstreamError::Unreachable(without_url(&e)))? {
        if out.len() + chunk.len() > MAX_BODY {
            return Err(UpstreamError::TooLarge(what));
        }
        out.extend_from_slice(&chunk);
    }
    if status != 200 {
        // A token endpoint's error body is read for its `error` code by the caller.
        return Err(UpstreamError::Status { what, status });
    }
    Ok(out)
}

/// The error's text without its URL (which may carry a code or a state in its query).
fn without_url(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "connection failed"
    } else if error.is_redirect() {
        "redirected"
    } else {
        "request failed"
    };
    kind.to_owned()
}
