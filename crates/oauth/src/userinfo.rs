//! The claims of the UserInfo endpoint (OIDC Core §5.3) for a bearer token, released by scope
//! as in the ID token. Reading the token from the request is the edge's.

use gatehouse_core::ids::UserId;
use gatehouse_core::{OAuthError, OAuthErrorCode};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use crate::context::OAuthContext;
use crate::error::ServiceError;
use crate::tokens;

/// The user's claims for `token`. Every rejection is answered with a Bearer challenge.
pub async fn userinfo(ctx: &OAuthContext<'_>, token: &str, now: OffsetDateTime) -> Result<Map<String, Value>, ServiceError> {
    let claims = tokens::validate_access_token(ctx, token, now)?;
    if claims.is_client_token() || !claims.has_scope("openid") {
        return Err(OAuthError::new(OAuthErrorCode::InsufficientScope, "the token was not issued for the openid scope").into());
    }
    let user = ctx
        .directory
        .user(&UserId::new(claims.sub.clone()))
        .await?
        .ok_or_else(|| OAuthError::new(OAuthErrorCode::InvalidToken, "the user no longer exists"))?;
    let mut body = Map::new();
    body.insert("sub".into(), json!(user.id.as_str()));
    if claims.has_scope("profile") {
        body.insert("name".into(), json!(user.name));
    }
    if claims.has_scope("email") {
        body.insert("email".into(), json!(user.email.as_str()));
        body.insert("email_verified".into(), json!(user.email_verified));
    }
    Ok(body)
}
