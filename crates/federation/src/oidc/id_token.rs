//! The checks of an upstream's ID token (OpenID Connect Core §3.1.3.7), each failure naming
//! the check that failed. Pure: the keys, the expectations and `now` are parameters.

use gatehouse_crypto::{ForeignKeySet, JwsRejection};
use serde::Deserialize;
use subtle::ConstantTimeEq;

/// What the ID token must say.
#[derive(Clone, Debug)]
pub struct Expected<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    /// The nonce sent with this browser's authorization request.
    pub nonce: &'a str,
    /// Accepted signing algorithms (asymmetric only; see `gatehouse_crypto::foreign`).
    pub algorithms: &'a [&'a str],
    pub now: i64,
    /// Clock skew tolerated on `exp`, `iat`, `nbf` and `auth_time`, in seconds.
    pub skew: i64,
    /// The person must have authenticated at or after this time (a step-up asked `max_age=0`
    /// when the trip started): `auth_time` is then required.
    pub authenticated_since: Option<i64>,
}

/// Why an ID token was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("signature: {0}")]
    Signature(#[from] JwsRejection),
    #[error("the claims are not valid JSON")]
    Claims,
    #[error("`iss` is `{0}`, not the provider's issuer")]
    Issuer(String),
    #[error("`aud` does not contain Gatehouse's client id")]
    Audience,
    #[error("`azp` is not Gatehouse's client id")]
    AuthorizedParty,
    #[error("the token expired")]
    Expired,
    #[error("`iat` is in the future")]
    IssuedInFuture,
    #[error("`nonce` does not match the one this browser's request sent")]
    Nonce,
    #[error("`sub` is missing, too long or holds control characters")]
    Subject,
    #[error("`nbf` is in the future")]
    NotYetValid,
    #[error("`auth_time` is missing or older than the fresh authentication asked for")]
    StaleAuthentication,
    #[error("`auth_time` is in the future")]
    AuthenticatedInFuture,
    #[error("`tid` is not an allowed Entra ID directory")]
    Directory,
    #[error("`oid` is missing")]
    ObjectId,
    #[error("`hd` is not one of the provider's domains")]
    HostedDomain,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum Flag {
    Bool(bool),
    Text(String),
}

/// The claims Gatehouse reads from an upstream ID token.
#[derive(Clone, Debug, Deserialize)]
pub struct IdTokenClaims {
    pub iss: String,
    #[serde(default)]
    pub sub: String,
    aud: Audience,
    #[serde(default)]
    pub azp: Option<String>,
    pub exp: i64,
    pub iat: i64,
    #[serde(default)]
    pub nbf: Option<i64>,
    #[serde(default)]
    pub nonce: Option<String>,
    #[serde(default)]
    pub auth_time: Option<i64>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub(super) email_verified: Option<Flag>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub preferred_username: Option<String>,
    #[serde(default)]
    pub upn: Option<String>,
    #[serde(default)]
    pub amr: Vec<String>,
    #[serde(default)]
    pub acr: Option<String>,
    /// Entra ID: the directory (tenant) id.
    #[serde(default)]
    pub tid: Option<String>,
    /// Entra ID: the object id of the user, stable across the directory's applications.
    #[serde(default)]
    pub oid: Option<String>,
    /// Google Workspace: the hosted domain.
    #[serde(default)]
    pub hd: Option<String>,
}

impl IdTokenClaims {
    /// `email_verified`, accepting the string form some providers send.
    pub fn email_verified(&self) -> bool {
        matches!(&self.email_verified, Some(Flag::Bool(true))) || matches!(&self.email_verified, Some(Flag::Text(t)) if t == "true")
    }

    fn audiences(&self) -> &[String] {
        match &self.aud {
            Audience::One(one) => std::slice::from_ref(one),
            Audience::Many(many) => many,
        }
    }
}

/// Verifies the token's signature against the provider's keys and checks its claims.
pub fn validate(token: &str, keys: &ForeignKeySet, expected: &Expected<'_>) -> Result<IdTokenClaims, Rejection> {
    let verified = keys.verify(token, expected.algorithms)?;
    let claims: IdTokenClaims = serde_json::from_slice(&verified.payload).map_err(|_| Rejection::Claims)?;
    if claims.iss != expected.issuer {
        return Err(Rejection::Issuer(claims.iss));
    }
    let audiences = claims.audiences();
    if !audiences.iter().any(|a| a == expected.client_id) {
        return Err(Rejection::Audience);
    }
    // Core §3.1.3.7 items 4 and 5: with several audiences `azp` must be present; when present it
    // must be this client.
    match &claims.azp {
        Some(azp) if azp != expected.client_id => return Err(Rejection::AuthorizedParty),
        None if audiences.len() > 1 => return Err(Rejection::AuthorizedParty),
        _ => {}
    }
    if claims.exp + expected.skew <= expected.now {
        return Err(Rejection::Expired);
    }
    if claims.iat > expected.now + expected.skew {
        return Err(Rejection::IssuedInFuture);
    }
    if claims.nbf.is_some_and(|nbf| nbf > expected.now + expected.skew) {
        return Err(Rejection::NotYetValid);
    }
    if claims.auth_time.is_some_and(|at| at > expected.now + expected.skew) {
        return Err(Rejection::AuthenticatedInFuture);
    }
    if let Some(since) = expected.authenticated_since
        && claims.auth_time.is_none_or(|at| at + expected.skew < since)
    {
        return Err(Rejection::StaleAuthentication);
    }
    let nonce_ok = claims.nonce.as_deref().is_some_and(|n| bool::from(n.as_bytes().ct_eq(expected.nonce.as_bytes())));
    if !nonce_ok {
        return Err(Rejection::Nonce);
    }
    if claims.sub.is_empty() || claims.sub.len() > 255 || claims.sub.chars().any(char::is_control) {
        return Err(Rejection::Subject);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests;
