//! Client authentication for the token, introspection and revocation endpoints, once the edge
//! has read the credentials from the header or the form (`ClientAuthentication`): the
//! per-(client, address) lockout, the lookup, and the secret compared in constant time
//! against its HMAC digest.

use gatehouse_core::token_request::ClientAuthentication;
use gatehouse_core::{Client, OAuthError, OAuthErrorCode};
use gatehouse_ops::rate_limit::CLIENT_AUTH;
use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::Arc;
use time::OffsetDateTime;

use crate::context::OAuthContext;
use crate::error::ServiceError;

/// The error of every failed authentication, whatever failed: nothing to learn from it.
pub fn authentication_failed() -> OAuthError {
    OAuthError::new(OAuthErrorCode::InvalidClient, "client authentication failed")
}

/// Authenticates the calling client. Public clients identify themselves by `client_id` alone
/// unless `require_secret` is set.
pub fn authenticate(
    ctx: &OAuthContext<'_>,
    credentials: &ClientAuthentication,
    addr: IpAddr,
    require_secret: bool,
    now: OffsetDateTime,
) -> Result<Arc<Client>, ServiceError> {
    let limits = ctx.client_auth;
    let limit_key = limits.key_hasher.hash_one((credentials.client_id().as_str(), addr));
    if let Some(retry_after) = limits.failures.blocked_for(&limit_key, CLIENT_AUTH, now) {
        return Err(ServiceError::ClientLockedOut { retry_after });
    }
    let client = ctx.directory.client(credentials.client_id());
    let ok = match (&client, credentials) {
        (Some(client), ClientAuthentication::Secret { secret, .. }) => {
            client.secret_digest.as_deref().is_some_and(|digest| ctx.digester.matches(secret, digest))
        }
        (Some(client), ClientAuthentication::None { .. }) => client.is_public() && !require_secret,
        (None, _) => false,
    };
    match client {
        Some(client) if ok => Ok(client),
        _ => {
            limits.failures.record_failure(&limit_key, CLIENT_AUTH, now);
            Err(authentication_failed().into())
        }
    }
}
