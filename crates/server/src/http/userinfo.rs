//! The UserInfo endpoint (OIDC Core §5.3): bearer token in the header (GET or POST) or in a form
//! body (POST), never both (RFC 6750 §2).

use axum::extract::State;
use axum::http::{HeaderMap, Method, header};
use axum::response::{IntoResponse, Response};
use gatehouse_core::ids::UserId;
use gatehouse_core::params::Params;
use gatehouse_core::{OAuthError, OAuthErrorCode};
use serde_json::{Map, Value, json};

use super::api_body::ApiBody;
use crate::error::ApiError;
use crate::state::{AppState, now};
use crate::tokens;

pub(super) fn bearer_from_header(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else { return Ok(None) };
    let value = value.to_str().map_err(|_| ApiError::bearer(OAuthError::invalid_request("malformed Authorization header")))?;
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() => Ok(Some(token.trim())),
        _ => Err(ApiError::bearer(OAuthError::new(OAuthErrorCode::InvalidToken, "use the Bearer scheme"))),
    }
}

pub async fn userinfo(State(state): State<AppState>, method: Method, headers: HeaderMap, ApiBody(body): ApiBody) -> Result<Response, ApiError> {
    let from_header = bearer_from_header(&headers)?;
    let form_token = if method == Method::POST && !body.is_empty() {
        let params = Params::parse(&body).map_err(ApiError::bearer)?;
        params.get("access_token").map(str::to_owned)
    } else {
        None
    };
    let token = match (from_header, form_token.as_deref()) {
        (Some(_), Some(_)) => return Err(ApiError::bearer(OAuthError::invalid_request("send the token once, not in both header and body"))),
        (Some(t), None) | (None, Some(t)) => t,
        (None, None) => return Err(ApiError::bearer(OAuthError::new(OAuthErrorCode::InvalidToken, "an access token is required"))),
    };
    let claims = tokens::validate_access_token(&state, token, now()).map_err(ApiError::bearer)?;
    if claims.is_client_token() || !claims.has_scope("openid") {
        return Err(ApiError::OAuth {
            error: OAuthError::new(OAuthErrorCode::InsufficientScope, "the token was not issued for the openid scope"),
            challenge: crate::error::Challenge::Bearer,
            retry_after: None,
        });
    }
    let user = state
        .user(&UserId::new(claims.sub.clone()))
        .await?
        .ok_or_else(|| ApiError::bearer(OAuthError::new(OAuthErrorCode::InvalidToken, "the user no longer exists")))?;
    let mut body = Map::new();
    body.insert("sub".into(), json!(user.id.as_str()));
    if claims.has_scope("profile") {
        body.insert("name".into(), json!(user.name));
    }
    if claims.has_scope("email") {
        body.insert("email".into(), json!(user.email.as_str()));
        body.insert("email_verified".into(), json!(user.email_verified));
    }
    Ok(axum::Json(Value::Object(body)).into_response())
}
