//! Reading client credentials for the token, introspection and revocation endpoints: the form
//! body and the Authorization header. Checking them is the token service's
//! (`gatehouse_oauth::authenticate`).

use axum::http::{HeaderMap, header};
use gatehouse_core::params::Params;
use gatehouse_core::token_request::ClientAuthentication;
use gatehouse_core::{Client, OAuthError, OAuthErrorCode};
use std::net::IpAddr;
use std::sync::Arc;
use time::OffsetDateTime;

use crate::error::ApiError;
use crate::state::AppState;

/// Parses a form body, requiring the form content type (RFC 6749 §3.2).
pub fn form_params(headers: &HeaderMap, body: &[u8]) -> Result<Params, ApiError> {
    let is_form = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(OAuthError::invalid_request("the body must be application/x-www-form-urlencoded").into());
    }
    Ok(Params::parse(body)?)
}

/// Authenticates the calling client. Public clients identify themselves by `client_id` alone
/// unless `require_secret` is set.
pub fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    addr: IpAddr,
    params: &Params,
    require_secret: bool,
    now: OffsetDateTime,
) -> Result<Arc<Client>, ApiError> {
    let failed = || ApiError::oauth(gatehouse_oauth::authentication_failed());
    // A header that is not visible ASCII is malformed credentials, not "no header".
    let authorization = super::authorization(headers).map_err(|_| OAuthError::invalid_request("send one Authorization header"))?;
    let authorization = authorization.map(|v| v.to_str().map_err(|_| failed())).transpose()?;
    let credentials = ClientAuthentication::from_request(authorization, params).map_err(|e| match e.code {
        OAuthErrorCode::InvalidClient => failed(),
        _ => ApiError::oauth(e),
    })?;
    Ok(gatehouse_oauth::authenticate(&state.oauth(), &credentials, addr, require_secret, now)?)
}
