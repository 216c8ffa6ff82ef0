//! Token introspection (RFC 7662) and revocation (RFC 7009).

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use gatehouse_core::OAuthError;
use gatehouse_core::claims::AccessTokenClaims;
use serde_json::json;
use time::OffsetDateTime;

use super::ClientAddr;
use super::api_body::ApiBody;
use super::client_auth::{authenticate, form_params};
use crate::error::ApiError;
use crate::state::{AppState, now};
use crate::tokens;

fn inactive() -> Response {
    axum::Json(json!({ "active": false })).into_response()
}

/// Introspection is for confidential clients (resource servers): public clients cannot keep
/// the secret that would stop anyone from probing tokens. A token is described only to the
/// client it was issued to or to a resource server its audience names (RFC 7662 §4); to any
/// other client it is `active: false`, exactly like an unknown one, so one application cannot
/// learn who signed in to another, or how.
pub async fn introspect(State(state): State<AppState>, ClientAddr(addr): ClientAddr, headers: HeaderMap, ApiBody(body): ApiBody) -> Result<Response, ApiError> {
    let now = now();
    let params = form_params(&headers, &body)?;
    let caller = authenticate(&state, &headers, addr, &params, true, now)?;
    let caller = caller.client_id.as_str();
    let token = params.require("token")?;
    if let Ok(claims) = tokens::validate_access_token(&state, token, now) {
        if claims.client_id != caller && claims.aud != caller {
            return Ok(inactive());
        }
        return Ok(axum::Json(access_token_description(&claims)).into_response());
    }
    let digest = state.digester.digest(token);
    let Some(refresh) = state.store.refresh_token(&digest).await?.filter(|r| r.expires_at > now && r.client_id == caller) else {
        return Ok(inactive());
    };
    let Some(grant) = state.store.grant(&refresh.grant_id).await?.filter(|g| g.revoked_at.is_none()) else {
        return Ok(inactive());
    };
    Ok(axum::Json(json!({
        "active": true,
        "token_type": "refresh_token",
        "client_id": refresh.client_id,
        "sub": grant.user_id.as_str(),
        "scope": refresh.scope,
        "iat": refresh.created_at.unix_timestamp(),
        "exp": refresh.expires_at.unix_timestamp(),
        "iss": state.config.issuer,
    }))
    .into_response())
}

fn access_token_description(claims: &AccessTokenClaims) -> serde_json::Value {
    let mut value = json!({
        "active": true,
        "token_type": "Bearer",
        "client_id": claims.client_id,
        "sub": claims.sub,
        "aud": claims.aud,
        "iss": claims.iss,
        "exp": claims.exp,
        "iat": claims.iat,
        "jti": claims.jti,
        "scope": claims.scope,
    });
    if let (Some(obj), Some(auth_time)) = (value.as_object_mut(), claims.auth_time) {
        obj.insert("auth_time".into(), json!(auth_time));
        obj.insert("acr".into(), json!(claims.acr));
        obj.insert("amr".into(), json!(claims.amr));
    }
    value
}

/// Revocation answers 200 for unknown or already invalid tokens (RFC 7009 §2.2), so a client
/// learns nothing by probing; a token of another client is refused.
pub async fn revoke(State(state): State<AppState>, ClientAddr(addr): ClientAddr, headers: HeaderMap, ApiBody(body): ApiBody) -> Result<Response, ApiError> {
    let now = now();
    let params = form_params(&headers, &body)?;
    let client = authenticate(&state, &headers, addr, &params, false, now)?;
    let token = params.require("token")?;
    let keys = state.keys();
    if let Ok((_, claims)) = keys.set.verify::<AccessTokenClaims>(token) {
        if claims.client_id != client.client_id.as_str() {
            return Err(OAuthError::invalid_request("the token was not issued to this client").into());
        }
        revoke_access_token(&state, claims, now).await?;
        return Ok(axum::http::StatusCode::OK.into_response());
    }
    let digest = state.digester.digest(token);
    if let Some(refresh) = state.store.refresh_token(&digest).await? {
        if refresh.client_id != client.client_id.as_str() {
            return Err(OAuthError::invalid_request("the token was not issued to this client").into());
        }
        // Revoking a refresh token ends the grant: its access tokens and successors too.
        state.store.revoke_grant(&refresh.grant_id, now).await?;
        state.revocations.revoke_grant(refresh.grant_id);
    }
    Ok(axum::http::StatusCode::OK.into_response())
}

async fn revoke_access_token(state: &AppState, claims: AccessTokenClaims, now: OffsetDateTime) -> Result<(), ApiError> {
    let expires = OffsetDateTime::from_unix_timestamp(claims.exp).unwrap_or(now);
    if expires > now {
        state.store.revoke_access_token(&claims.jti, expires).await?;
        state.revocations.revoke_access_token(claims.jti);
    }
    Ok(())
}
