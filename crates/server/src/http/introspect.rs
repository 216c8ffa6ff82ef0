//! Token introspection (RFC 7662) and revocation (RFC 7009): the client's credentials and the
//! `token` parameter; the answers are the token service's (`gatehouse_oauth::introspection`).

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use gatehouse_oauth::introspection;

use super::ClientAddr;
use super::api_body::ApiBody;
use super::client_auth::{authenticate, form_params};
use crate::error::ApiError;
use crate::state::{AppState, now};

/// Introspection is for confidential clients (resource servers): public clients cannot keep
/// the secret that would stop anyone from probing tokens.
pub async fn introspect(State(state): State<AppState>, ClientAddr(addr): ClientAddr, headers: HeaderMap, ApiBody(body): ApiBody) -> Result<Response, ApiError> {
    let now = now();
    let params = form_params(&headers, &body)?;
    let caller = authenticate(&state, &headers, addr, &params, true, now)?;
    let token = params.require("token")?;
    let answer = introspection::introspect(&state.oauth(), &caller, token, now).await?;
    Ok(axum::Json(answer).into_response())
}

/// Revocation answers 200 for unknown or already invalid tokens (RFC 7009 §2.2).
pub async fn revoke(State(state): State<AppState>, ClientAddr(addr): ClientAddr, headers: HeaderMap, ApiBody(body): ApiBody) -> Result<Response, ApiError> {
    let now = now();
    let params = form_params(&headers, &body)?;
    let client = authenticate(&state, &headers, addr, &params, false, now)?;
    let token = params.require("token")?;
    introspection::revoke(&state.oauth(), &client, token, now).await?;
    Ok(axum::http::StatusCode::OK.into_response())
}
