//! UserInfo (OpenID Connect Core §5.3): a provider that keeps the person's email out of the ID
//! token (oidc-provider by default, Okta's org server, some ADFS setups) gives it here. The ID
//! token's claims are completed from the response only where they are missing, email and its
//! `email_verified` together (never one source's address with the other's flag), and only when
//! the response is about the ID token's subject (§5.3.2: otherwise it may be a substituted
//! token).

use serde::Deserialize;

use super::UpstreamError;
use super::id_token::{Flag, IdTokenClaims};

#[derive(Deserialize)]
struct UserInfo {
    sub: String,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    email_verified: Option<Flag>,
    #[serde(default)]
    name: Option<String>,
}

/// Completes `claims` from a UserInfo response body (JSON).
pub(super) fn complete(claims: &mut IdTokenClaims, body: &[u8]) -> Result<(), UpstreamError> {
    let info: UserInfo = serde_json::from_slice(body).map_err(|_| UpstreamError::Invalid("UserInfo response"))?;
    if info.sub != claims.sub {
        return Err(UpstreamError::UserInfoSubject);
    }
    if claims.email.is_none() {
        claims.email = info.email;
        claims.email_verified = info.email_verified;
    }
    if claims.name.is_none() {
        claims.name = info.name;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(extra: serde_json::Value) -> IdTokenClaims {
        let mut base = serde_json::json!({ "iss": "https://idp.test", "sub": "ann", "aud": "gatehouse", "exp": 2, "iat": 1 });
        if let (Some(base), Some(extra)) = (base.as_object_mut(), extra.as_object()) {
            base.extend(extra.clone());
        }
        serde_json::from_value(base).unwrap()
    }

    #[test]
    fn missing_claims_come_from_userinfo_about_the_same_subject_only() {
        let mut bare = claims(serde_json::json!({}));
        complete(&mut bare, br#"{"sub":"ann","email":"ann@fed.test","email_verified":true,"name":"Ann"}"#).unwrap();
        assert_eq!((bare.email.as_deref(), bare.email_verified(), bare.name.as_deref()), (Some("ann@fed.test"), true, Some("Ann")));

        let mut own = claims(serde_json::json!({ "email": "ann@fed.test", "email_verified": false }));
        complete(&mut own, br#"{"sub":"ann","email":"boss@fed.test","email_verified":true}"#).unwrap();
        assert_eq!((own.email.as_deref(), own.email_verified()), (Some("ann@fed.test"), false), "the ID token's email and flag stay together");

        let mut other = claims(serde_json::json!({}));
        let refused = complete(&mut other, br#"{"sub":"mallory","email":"ann@fed.test","email_verified":true}"#);
        assert!(matches!(refused, Err(UpstreamError::UserInfoSubject)));
        assert!(other.email.is_none(), "nothing taken from it");
        assert!(matches!(complete(&mut claims(serde_json::json!({})), b"not json"), Err(UpstreamError::Invalid(_))));
    }
}
