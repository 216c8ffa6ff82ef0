//! The UserInfo endpoint (OIDC Core §5.3): bearer token in the header (GET or POST) or in a form
//! body (POST), never both (RFC 6750 §2). The claims are the token service's
//! (`gatehouse_oauth::userinfo`).

use axum::extract::State;
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use gatehouse_core::params::Params;
use gatehouse_core::{OAuthError, OAuthErrorCode};
use gatehouse_oauth::ServiceError;
use serde_json::Value;

use super::api_body::ApiBody;
use crate::error::ApiError;
use crate::state::{AppState, now};

pub(super) fn bearer_from_header(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    let only_one = super::authorization(headers).map_err(|_| ApiError::bearer(OAuthError::invalid_request("send one Authorization header")))?;
    let Some(value) = only_one else { return Ok(None) };
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
    let claims = gatehouse_oauth::userinfo::userinfo(&state.oauth(), token, now()).await.map_err(|e| match e {
        ServiceError::Rejected(error) => ApiError::bearer(error),
        other => other.into(),
    })?;
    Ok(axum::Json(Value::Object(claims)).into_response())
}
