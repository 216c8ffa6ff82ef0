//! Client authentication for the token, introspection and revocation endpoints.

use axum::http::{HeaderMap, header};
use gatehouse_core::params::Params;
use gatehouse_core::token_request::ClientAuthentication;
use gatehouse_core::{Client, OAuthError, OAuthErrorCode};
use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::Arc;
use time::OffsetDateTime;

use crate::error::{ApiError, Challenge};
use crate::rate_limit::CLIENT_AUTH;
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
    let raw_authorization = headers.get(header::AUTHORIZATION);
    let challenge = if raw_authorization.is_some() { Challenge::Basic } else { Challenge::None };
    let failed =
        |description: &'static str| ApiError::OAuth { error: OAuthError::new(OAuthErrorCode::InvalidClient, description), challenge, retry_after: None };
    // A header that is not visible ASCII is malformed credentials, not "no header".
    let authorization = raw_authorization.map(|v| v.to_str().map_err(|_| failed("client authentication failed"))).transpose()?;
    let credentials = ClientAuthentication::from_request(authorization, params).map_err(|e| match e.code {
        OAuthErrorCode::InvalidClient => failed("client authentication failed"),
        _ => ApiError::oauth(e),
    })?;
    // A hash of (client id, address): no allocation on the token endpoint's hot path.
    let limit_key = state.limits.key_hasher.hash_one((credentials.client_id().as_str(), addr));
    if let Some(seconds) = state.limits.client_auth.blocked_for(&limit_key, CLIENT_AUTH, now) {
        return Err(ApiError::OAuth {
            error: OAuthError::new(OAuthErrorCode::InvalidClient, "too many failed authentications; retry later"),
            challenge,
            retry_after: Some(seconds),
        });
    }
    let client = state.client(credentials.client_id());
    let ok = match (&client, &credentials) {
        (Some(client), ClientAuthentication::Secret { secret, .. }) => {
            client.secret_digest.as_deref().is_some_and(|digest| state.digester.matches(secret, digest))
        }
        (Some(client), ClientAuthentication::None { .. }) => client.is_public() && !require_secret,
        (None, _) => false,
    };
    match client {
        Some(client) if ok => Ok(client),
        _ => {
            state.limits.client_auth.record_failure(&limit_key, CLIENT_AUTH, now);
            Err(failed("client authentication failed"))
        }
    }
}
