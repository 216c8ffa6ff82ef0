//! Token introspection (RFC 7662) and revocation (RFC 7009), for an authenticated client.

use gatehouse_core::claims::AccessTokenClaims;
use gatehouse_core::{Client, OAuthError};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::context::OAuthContext;
use crate::error::ServiceError;
use crate::tokens;

/// What introspection tells about a token that is unknown, expired, revoked or not the
/// caller's to see.
pub fn inactive() -> Value {
    json!({ "active": false })
}

/// The introspection answer for `token`, asked by `caller`. A token is described only to the
/// client it was issued to or to a resource server its audience names (RFC 7662 §4); to any
/// other client it is `active: false`, exactly like an unknown one, so one application cannot
/// learn who signed in to another, or how.
pub async fn introspect(ctx: &OAuthContext<'_>, caller: &Client, token: &str, now: OffsetDateTime) -> Result<Value, ServiceError> {
    let caller = caller.client_id.as_str();
    if let Ok(claims) = tokens::validate_access_token(ctx, token, now) {
        if claims.client_id != caller && claims.aud != caller {
            return Ok(inactive());
        }
        return Ok(access_token_description(&claims));
    }
    let digest = ctx.digester.digest(token);
    let Some(refresh) = ctx.store().refresh_token(&digest).await?.filter(|r| r.expires_at > now && r.client_id == caller) else {
        return Ok(inactive());
    };
    let Some(grant) = ctx.store().grant(&refresh.grant_id).await?.filter(|g| g.revoked_at.is_none()) else {
        return Ok(inactive());
    };
    Ok(json!({
        "active": true,
        "token_type": "refresh_token",
        "client_id": refresh.client_id,
        "sub": grant.user_id.as_str(),
        "scope": refresh.scope,
        "iat": refresh.created_at.unix_timestamp(),
        "exp": refresh.expires_at.unix_timestamp(),
        "iss": ctx.issuer,
    }))
}

fn access_token_description(claims: &AccessTokenClaims) -> Value {
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

fn not_this_clients() -> ServiceError {
    OAuthError::invalid_request("the token was not issued to this client").into()
}

/// Revokes `token` for `client`. Unknown or already invalid tokens are no error (RFC 7009
/// §2.2), so a client learns nothing by probing; a token of another client is refused.
pub async fn revoke(ctx: &OAuthContext<'_>, client: &Client, token: &str, now: OffsetDateTime) -> Result<(), ServiceError> {
    let keys = ctx.directory.keys();
    if let Ok((_, claims)) = keys.set.verify::<AccessTokenClaims>(token) {
        if claims.client_id != client.client_id.as_str() {
            return Err(not_this_clients());
        }
        return revoke_access_token(ctx, claims, now).await;
    }
    let digest = ctx.digester.digest(token);
    if let Some(refresh) = ctx.store().refresh_token(&digest).await? {
        if refresh.client_id != client.client_id.as_str() {
            return Err(not_this_clients());
        }
        // Revoking a refresh token ends the grant: its access tokens and successors too.
        ctx.store().revoke_grant(&refresh.grant_id, now).await?;
        ctx.directory.revocations().revoke_grant(refresh.grant_id);
    }
    Ok(())
}

async fn revoke_access_token(ctx: &OAuthContext<'_>, claims: AccessTokenClaims, now: OffsetDateTime) -> Result<(), ServiceError> {
    let expires = OffsetDateTime::from_unix_timestamp(claims.exp).unwrap_or(now);
    if expires > now {
        ctx.store().revoke_access_token(&claims.jti, expires).await?;
        ctx.directory.revocations().revoke_access_token(claims.jti);
    }
    Ok(())
}
