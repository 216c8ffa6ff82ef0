//! Minting and validating tokens. Access tokens are ES256 JWTs in the RFC 9068 profile so
//! resource servers can check them locally; ID tokens use the client's chosen algorithm.
//! Everything here works from memory (the context's directory): no database round trip.

use gatehouse_core::claims::{AccessTokenClaims, IdTokenClaims};
use gatehouse_core::model::User;
use gatehouse_core::{Client, OAuthError, OAuthErrorCode, SigningAlg};
use gatehouse_crypto::{CryptoError, jws};
use gatehouse_store::GrantRecord;
use std::sync::Arc;
use time::OffsetDateTime;

use crate::context::OAuthContext;

/// The `typ` of access tokens (RFC 9068 §2.1).
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

fn no_key(alg: SigningAlg) -> CryptoError {
    CryptoError::KeyRejected { kid: format!("no active {} key", alg.as_str()) }
}

/// Access token for a user's grant.
pub fn mint_user_access_token(
    ctx: &OAuthContext<'_>,
    grant: &GrantRecord,
    scope: &str,
    now: OffsetDateTime,
) -> Result<(String, AccessTokenClaims), CryptoError> {
    let claims = AccessTokenClaims {
        iss: ctx.issuer.to_owned(),
        exp: (now + ctx.lifetimes.access_token).unix_timestamp(),
        aud: grant.client_id.clone(),
        sub: grant.user_id.as_str().to_owned(),
        client_id: grant.client_id.clone(),
        iat: now.unix_timestamp(),
        jti: gatehouse_crypto::random::id()?,
        scope: scope.to_owned(),
        auth_time: Some(grant.auth_time.unix_timestamp()),
        acr: Some(grant.acr.clone()),
        amr: grant.amr.clone(),
        sid: grant.session_id.as_ref().map(|s| s.as_str().to_owned()),
        gid: Some(grant.id.as_str().to_owned()),
        idp: grant.idp.clone(),
    };
    sign_access_token(ctx, claims)
}

/// Access token for a client acting on its own behalf (client credentials).
pub fn mint_client_access_token(ctx: &OAuthContext<'_>, client: &Client, scope: &str, now: OffsetDateTime) -> Result<(String, AccessTokenClaims), CryptoError> {
    let client_id = client.client_id.as_str();
    let claims = AccessTokenClaims {
        iss: ctx.issuer.to_owned(),
        exp: (now + ctx.lifetimes.access_token).unix_timestamp(),
        aud: client_id.to_owned(),
        sub: client_id.to_owned(),
        client_id: client_id.to_owned(),
        iat: now.unix_timestamp(),
        jti: gatehouse_crypto::random::id()?,
        scope: scope.to_owned(),
        auth_time: None,
        acr: None,
        amr: Vec::new(),
        sid: None,
        gid: None,
        idp: None,
    };
    sign_access_token(ctx, claims)
}

fn sign_access_token(ctx: &OAuthContext<'_>, claims: AccessTokenClaims) -> Result<(String, AccessTokenClaims), CryptoError> {
    let keys = ctx.directory.keys();
    let key = keys.set.active(SigningAlg::ES256).ok_or_else(|| no_key(SigningAlg::ES256))?;
    let token = jws::sign(key, ACCESS_TOKEN_TYP, &claims)?;
    Ok((token, claims))
}

/// An ID token for the user's grant, releasing claims by the granted scope.
pub fn mint_id_token(
    ctx: &OAuthContext<'_>,
    client: &Client,
    user: &User,
    grant: &GrantRecord,
    access_token: &str,
    now: OffsetDateTime,
) -> Result<String, CryptoError> {
    let alg = client.id_token_signed_response_alg;
    // Claims are released by scope, as at `/userinfo` (OIDC Core §5.4): `openid` alone gives
    // the subject and what the sign-in proved, nothing about the person.
    let granted = |wanted: &str| grant.scope.split(' ').any(|s| s == wanted);
    let (email, profile) = (granted("email"), granted("profile"));
    let claims = IdTokenClaims {
        iss: ctx.issuer.to_owned(),
        sub: user.id.as_str().to_owned(),
        aud: client.client_id.as_str().to_owned(),
        exp: (now + ctx.lifetimes.id_token).unix_timestamp(),
        iat: now.unix_timestamp(),
        auth_time: grant.auth_time.unix_timestamp(),
        nonce: grant.nonce.clone(),
        acr: grant.acr.clone(),
        amr: grant.amr.clone(),
        sid: grant.session_id.as_ref().map(|s| s.as_str().to_owned()),
        azp: client.client_id.as_str().to_owned(),
        email: email.then(|| user.email.as_str().to_owned()),
        email_verified: email.then_some(user.email_verified),
        name: profile.then(|| user.name.clone()),
        at_hash: Some(jws::at_hash(alg, access_token)),
        idp: grant.idp.clone(),
    };
    let keys = ctx.directory.keys();
    let key = keys.set.active(alg).ok_or_else(|| no_key(alg))?;
    jws::sign(key, "JWT", &claims)
}

fn invalid_token(description: &'static str) -> OAuthError {
    OAuthError::new(OAuthErrorCode::InvalidToken, description)
}

/// Checks an access token's signature, type, issuer, expiry and revocation. A token whose
/// signature was verified before is found in the cache by its full text, so repeated calls
/// (a resource server asking userinfo or introspection for the same token) skip the ~70 µs
/// P-256 verification; expiry and revocation are still checked every time.
pub fn validate_access_token(ctx: &OAuthContext<'_>, token: &str, now: OffsetDateTime) -> Result<Arc<AccessTokenClaims>, OAuthError> {
    let cache = ctx.directory.verified_tokens();
    let claims = match cache.get(token) {
        Some(claims) => claims,
        None => {
            let keys = ctx.directory.keys();
            let (header, claims) = keys.set.verify::<AccessTokenClaims>(token).map_err(|_| invalid_token("the access token is not valid"))?;
            if header.typ.as_deref() != Some(ACCESS_TOKEN_TYP) {
                return Err(invalid_token("the token is not an access token"));
            }
            if claims.iss != ctx.issuer {
                return Err(invalid_token("the access token was issued by someone else"));
            }
            let claims = Arc::new(claims);
            cache.insert(token, Arc::clone(&claims), now);
            claims
        }
    };
    if claims.exp <= now.unix_timestamp() {
        return Err(invalid_token("the access token has expired"));
    }
    if ctx.directory.revocations().is_revoked(&claims.jti, claims.gid.as_deref()) {
        return Err(invalid_token("the access token has been revoked"));
    }
    Ok(claims)
}

/// Checks an ID token this provider signed, ignoring expiry (for `id_token_hint`).
pub fn verify_id_token_hint(ctx: &OAuthContext<'_>, token: &str) -> Option<IdTokenClaims> {
    let keys = ctx.directory.keys();
    let (header, claims) = keys.set.verify::<IdTokenClaims>(token).ok()?;
    (header.typ.as_deref() != Some(ACCESS_TOKEN_TYP) && claims.iss == ctx.issuer).then_some(claims)
}
