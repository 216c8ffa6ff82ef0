//! Token claim sets: the ID token (OIDC Core §2) and the JWT access token (RFC 9068).

use serde::{Deserialize, Serialize};

/// Authentication context class for a sign-in with one factor (a password).
pub const ACR_PASSWORD: &str = "urn:gatehouse:acr:pwd";
/// Authentication context class for a sign-in with two factors.
pub const ACR_MFA: &str = "urn:gatehouse:acr:mfa";
/// Every ACR value this provider can assert (advertised in discovery): one factor, two
/// factors, and OpenID EAP's phishing-resistant (`phr`) and hardware-protected (`phrh`).
pub const ACR_VALUES_SUPPORTED: [&str; 4] = [ACR_PASSWORD, ACR_MFA, "phr", "phrh"];

/// RFC 8176 authentication method reference for a password.
pub const AMR_PASSWORD: &str = "pwd";

/// Claims of an ID token.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct IdTokenClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub auth_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    pub acr: String,
    pub amr: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    pub azp: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Access token hash (OIDC Core §3.1.3.6), so the client can bind the two.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at_hash: Option<String>,
    /// The identity provider the person signed in through (`TENANT_ID/PROVIDER_ID`), absent for
    /// Gatehouse's own sign-in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idp: Option<String>,
}

/// Claims of a JWT access token in the RFC 9068 profile. `gid` (the grant) and `sid` (the SSO
/// session) let the provider revoke every token of a grant or session at once.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessTokenClaims {
    pub iss: String,
    pub exp: i64,
    pub aud: String,
    pub sub: String,
    pub client_id: String,
    pub iat: i64,
    pub jti: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub scope: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gid: Option<String>,
    /// The identity provider the person signed in through (`TENANT_ID/PROVIDER_ID`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idp: Option<String>,
}

impl AccessTokenClaims {
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scope.split(' ').any(|s| s == scope)
    }
    /// A client-credentials token has no user: its subject is the client itself.
    pub fn is_client_token(&self) -> bool {
        self.gid.is_none() && self.sub == self.client_id
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn advertised_acr_values_are_the_policy_levels() {
        let levels: Vec<&str> = gatehouse_policy::AuthLevel::ALL.iter().map(|l| l.acr()).collect();
        assert_eq!(super::ACR_VALUES_SUPPORTED.to_vec(), levels);
        assert_eq!(super::ACR_MFA, gatehouse_policy::AuthLevel::Mfa.acr());
    }
}
