//! Registered applications (OAuth clients) and the values that describe them.

pub use gatehouse_wire::SigningAlg;
use serde::{Deserialize, Serialize};
use std::fmt;
use url::Url;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientValueError {
    #[error("a client_id is 1 to 128 characters of letters, digits, '-', '_', '.' or ':'")]
    ClientId,
    #[error("`{0}` is not an absolute URL")]
    NotAbsolute(String),
    #[error("`{0}` has a fragment; redirect URIs must not (RFC 6749 §3.1.2)")]
    Fragment(String),
    #[error("`{0}` carries user information before the host")]
    UserInfo(String),
    #[error("`{0}` uses plain http on a host that is not loopback; use https")]
    InsecureHttp(String),
    #[error("`{0}` is not a known grant type (authorization_code, refresh_token, client_credentials)")]
    GrantType(String),
    #[error(transparent)]
    SigningAlg(#[from] gatehouse_wire::UnknownSigningAlg),
    #[error(
        "`{0}` is not an API scope: 1 to 128 visible characters without spaces, quotes or backslashes, not `openid` and not Gatehouse's own `gatehouse:` scopes"
    )]
    ApiScope(String),
}

/// Checks a scope an application may obtain for itself with client credentials: an RFC 6749
/// §3.3 scope token of at most 128 characters that names neither a user (`openid`) nor one of
/// Gatehouse's own APIs (only `operator` applications get `gatehouse:admin`).
pub fn parse_api_scope(input: &str) -> Result<String, ClientValueError> {
    let token = !input.is_empty() && input.len() <= 128 && input.bytes().all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b));
    if token && input != "openid" && !input.starts_with("gatehouse:") { Ok(input.to_owned()) } else { Err(ClientValueError::ApiScope(input.to_owned())) }
}

/// A client identifier as registered.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClientId(String);

impl ClientId {
    pub fn parse(input: &str) -> Result<Self, ClientValueError> {
        let ok = !input.is_empty() && input.len() <= 128 && input.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
        if ok { Ok(Self(input.to_owned())) } else { Err(ClientValueError::ClientId) }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
impl TryFrom<String> for ClientId {
    type Error = ClientValueError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}
impl From<ClientId> for String {
    fn from(value: ClientId) -> Self {
        value.0
    }
}
impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A registered redirect (or post-logout redirect) URI. Requests are matched against it as an
/// exact string (RFC 9700 §4.1.3): no normalisation, no case folding, no wildcard.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RedirectUri(String);

impl RedirectUri {
    /// Validates a URI at registration time. https anywhere; http only on loopback hosts
    /// (RFC 8252 §7.3); private-use schemes (`com.example.app:/cb`) for native apps.
    pub fn parse(input: &str) -> Result<Self, ClientValueError> {
        let url = Url::parse(input).map_err(|_| ClientValueError::NotAbsolute(input.to_owned()))?;
        if url.cannot_be_a_base() && !url.scheme().contains('.') {
            return Err(ClientValueError::NotAbsolute(input.to_owned()));
        }
        if input.contains('#') {
            return Err(ClientValueError::Fragment(input.to_owned()));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(ClientValueError::UserInfo(input.to_owned()));
        }
        if url.scheme() == "http" {
            let loopback = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]")) || url.host_str().is_some_and(|h| h.starts_with("127."));
            if !loopback {
                return Err(ClientValueError::InsecureHttp(input.to_owned()));
            }
        }
        Ok(Self(input.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
impl TryFrom<String> for RedirectUri {
    type Error = ClientValueError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}
impl From<RedirectUri> for String {
    fn from(value: RedirectUri) -> Self {
        value.0
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantType {
    AuthorizationCode,
    RefreshToken,
    ClientCredentials,
}

impl GrantType {
    pub fn parse(input: &str) -> Result<Self, ClientValueError> {
        match input {
            "authorization_code" => Ok(Self::AuthorizationCode),
            "refresh_token" => Ok(Self::RefreshToken),
            "client_credentials" => Ok(Self::ClientCredentials),
            other => Err(ClientValueError::GrantType(other.to_owned())),
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::RefreshToken => "refresh_token",
            Self::ClientCredentials => "client_credentials",
        }
    }
}

/// A registered application. `secret_digest` is `None` for public clients, which must use PKCE.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Client {
    pub client_id: ClientId,
    pub name: String,
    /// Keyed digest of the client secret (see `gatehouse_crypto::SecretDigester`).
    pub secret_digest: Option<Vec<u8>>,
    pub redirect_uris: Vec<RedirectUri>,
    pub post_logout_redirect_uris: Vec<RedirectUri>,
    pub grant_types: Vec<GrantType>,
    pub id_token_signed_response_alg: SigningAlg,
    /// When this application asks for a second factor (Bypass, Adaptive, Required) and which
    /// scopes need a step-up.
    pub policy: gatehouse_policy::AppPolicy,
    /// Acts for the instance's operators: may obtain the reserved `gatehouse:admin` scope.
    pub operator: bool,
    /// The API scopes this application may obtain for itself with client credentials; any
    /// other requested scope is refused (`invalid_scope`).
    pub scopes: Vec<String>,
}

impl Client {
    pub fn is_public(&self) -> bool {
        self.secret_digest.is_none()
    }
    pub fn allows(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }
    /// Exact string comparison, as RFC 9700 requires.
    pub fn registered_redirect(&self, candidate: &str) -> Option<&RedirectUri> {
        self.redirect_uris.iter().find(|uri| uri.as_str() == candidate)
    }
    pub fn registered_post_logout_redirect(&self, candidate: &str) -> Option<&RedirectUri> {
        self.post_logout_redirect_uris.iter().find(|uri| uri.as_str() == candidate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(uris: &[&str]) -> Client {
        Client {
            client_id: ClientId::parse("app").unwrap(),
            name: "App".into(),
            secret_digest: None,
            redirect_uris: uris.iter().map(|u| RedirectUri::parse(u).unwrap()).collect(),
            post_logout_redirect_uris: vec![],
            grant_types: vec![GrantType::AuthorizationCode],
            id_token_signed_response_alg: SigningAlg::RS256,
            policy: Default::default(),
            operator: false,
            scopes: vec![],
        }
    }

    #[test]
    fn api_scopes_are_scope_tokens_that_name_no_user_and_no_gatehouse_api() {
        for good in ["read", "reports:write", "https://api.example.com/orders.read"] {
            assert_eq!(parse_api_scope(good).as_deref(), Ok(good));
        }
        let long = "x".repeat(129);
        for bad in ["", "openid", "gatehouse:admin", "gatehouse:account", "two words", "quo\"te", "back\\slash", long.as_str()] {
            assert!(parse_api_scope(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn rfc9700_redirect_uris_match_exactly() {
        let c = client(&["https://app.test/cb"]);
        assert!(c.registered_redirect("https://app.test/cb").is_some());
        for trick in [
            "https://app.test/cb/",
            "https://APP.test/cb",
            "https://app.test/CB",
            "https://app.test/cb?x=1",
            "https://app.test/cb/../cb",
            "https://evil@app.test/cb",
            "https://app.test.evil.test/cb",
            "https://app.test:443/cb",
        ] {
            assert!(c.registered_redirect(trick).is_none(), "{trick} must not match");
        }
    }

    #[test]
    fn registration_rejects_fragments_userinfo_and_remote_http() {
        assert!(RedirectUri::parse("https://app.test/cb#x").is_err());
        assert!(RedirectUri::parse("https://u:p@app.test/cb").is_err());
        assert!(RedirectUri::parse("http://app.test/cb").is_err());
        assert!(RedirectUri::parse("relative/cb").is_err());
        assert!(RedirectUri::parse("http://127.0.0.1:9999/cb").is_ok());
        assert!(RedirectUri::parse("http://localhost/cb").is_ok());
        assert!(RedirectUri::parse("com.example.app:/cb").is_ok());
    }

    #[test]
    fn client_ids_are_restricted_to_safe_characters() {
        assert!(ClientId::parse("payroll").is_ok());
        assert!(ClientId::parse("").is_err());
        assert!(ClientId::parse("a b").is_err());
        assert!(ClientId::parse(&"x".repeat(129)).is_err());
    }
}
