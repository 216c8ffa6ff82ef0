//! The token endpoint (RFC 6749 §3.2). The grants are the token service's
//! (`gatehouse_oauth::grants`); here: the body and headers, the per-address limit, the metrics
//! and the no-store headers.

use crate::rate_limit::TOKEN_FAILURES_PER_ADDRESS;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use gatehouse_core::{GrantType, OAuthErrorCode};
use gatehouse_oauth::{Replay, ServiceError, TokenResponse};
use time::OffsetDateTime;

use super::ClientAddr;
use super::api_body::ApiBody;
use super::client_auth::{authenticate, form_params};
use crate::error::ApiError;
use crate::state::{AppState, now};
use std::net::IpAddr;

fn token_response(tokens: TokenResponse) -> Response {
    let mut response = axum::Json(tokens).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response.headers_mut().insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

pub async fn token(State(state): State<AppState>, ClientAddr(addr): ClientAddr, headers: HeaderMap, ApiBody(body): ApiBody) -> Result<Response, ApiError> {
    let now = now();
    if let Some(retry_after) = state.limits.token_failure.blocked_for(&addr, TOKEN_FAILURES_PER_ADDRESS, now) {
        state.metrics.token_errors.inc();
        return Err(ApiError::Throttled { retry_after });
    }
    let result = handle(&state, &headers, addr, &body, now).await;
    if let Err(error) = &result {
        state.metrics.token_errors.inc();
        // Only guesses count (a code, a refresh token, a client secret), not malformed requests.
        if let ApiError::OAuth { error, .. } = error
            && matches!(error.code, OAuthErrorCode::InvalidGrant | OAuthErrorCode::InvalidClient)
        {
            state.limits.token_failure.record_failure(&addr, TOKEN_FAILURES_PER_ADDRESS, now);
        }
    }
    result.map(token_response)
}

/// A token request from its body and headers: also the console's and the demo's own sign-in,
/// in-process.
pub(crate) async fn handle(state: &AppState, headers: &HeaderMap, addr: IpAddr, body: &[u8], now: OffsetDateTime) -> Result<TokenResponse, ApiError> {
    let params = form_params(headers, body)?;
    let client = authenticate(state, headers, addr, &params, false, now)?;
    match gatehouse_oauth::grants::exchange(&state.oauth(), &client, &params, now).await {
        Ok(issued) => {
            match issued.grant_type {
                GrantType::AuthorizationCode => state.metrics.tokens_authorization_code.inc(),
                GrantType::RefreshToken => state.metrics.tokens_refresh.inc(),
                GrantType::ClientCredentials => state.metrics.tokens_client_credentials.inc(),
            }
            Ok(issued.response)
        }
        Err(error) => {
            if let ServiceError::Replayed { replay, .. } = &error {
                match replay {
                    Replay::Code => state.metrics.code_replays.inc(),
                    Replay::RefreshToken => state.metrics.refresh_replays.inc(),
                }
            }
            Err(error.into())
        }
    }
}
