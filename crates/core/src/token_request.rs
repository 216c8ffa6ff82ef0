//! The token endpoint's request (RFC 6749 §4.1.3, §4.4.2, §6) and client authentication
//! (§2.3.1: `client_secret_basic` or `client_secret_post`, never both).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::params::Params;
use crate::{ClientId, OAuthError, OAuthErrorCode, Scopes};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenGrant {
    AuthorizationCode { code: String, redirect_uri: Option<String>, code_verifier: Option<String> },
    RefreshToken { refresh_token: String, scope: Option<Scopes> },
    ClientCredentials { scope: Scopes },
}

impl TokenGrant {
    pub fn parse(params: &Params) -> Result<Self, OAuthError> {
        let scope = |p: &Params| -> Result<Option<Scopes>, OAuthError> {
            p.get("scope")
                .map(|s| Scopes::parse(s).ok_or_else(|| OAuthError::new(OAuthErrorCode::InvalidScope, "scope contains invalid characters")))
                .transpose()
        };
        match params.require("grant_type")? {
            "authorization_code" => Ok(Self::AuthorizationCode {
                code: params.require("code")?.to_owned(),
                redirect_uri: params.get("redirect_uri").map(str::to_owned),
                code_verifier: params.get("code_verifier").map(str::to_owned),
            }),
            "refresh_token" => Ok(Self::RefreshToken { refresh_token: params.require("refresh_token")?.to_owned(), scope: scope(params)? }),
            "client_credentials" => Ok(Self::ClientCredentials { scope: scope(params)?.unwrap_or_default() }),
            _ => Err(OAuthError::new(OAuthErrorCode::UnsupportedGrantType, "unsupported grant_type")),
        }
    }
}

/// How the client identified itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientAuthentication {
    /// `client_secret_basic` or `client_secret_post`.
    Secret { client_id: ClientId, secret: String },
    /// A public client naming itself with `client_id` only.
    None { client_id: ClientId },
}

impl ClientAuthentication {
    pub fn client_id(&self) -> &ClientId {
        match self {
            Self::Secret { client_id, .. } | Self::None { client_id } => client_id,
        }
    }

    /// Extracts client credentials from the `Authorization` header and the form body.
    pub fn from_request(authorization: Option<&str>, params: &Params) -> Result<Self, OAuthError> {
        let invalid_client = || OAuthError::invalid_client("client authentication failed");
        let body_id = params.get("client_id");
        let body_secret = params.get("client_secret");
        if let Some(header) = authorization {
            if body_secret.is_some() {
                return Err(OAuthError::invalid_request("use one client authentication method, not two"));
            }
            let (scheme, encoded) = header.split_once(' ').ok_or_else(invalid_client)?;
            if !scheme.eq_ignore_ascii_case("basic") {
                return Err(invalid_client());
            }
            let decoded = STANDARD.decode(encoded.trim()).map_err(|_| invalid_client())?;
            let decoded = String::from_utf8(decoded).map_err(|_| invalid_client())?;
            let (id, secret) = decoded.split_once(':').ok_or_else(invalid_client)?;
            // RFC 6749 §2.3.1: both parts are form-urlencoded before base64.
            let id = percent_decode(id).ok_or_else(invalid_client)?;
            let secret = percent_decode(secret).ok_or_else(invalid_client)?;
            let client_id = ClientId::parse(&id).map_err(|_| invalid_client())?;
            if body_id.is_some_and(|b| b != client_id.as_str()) {
                return Err(OAuthError::invalid_request("client_id in the body differs from the Authorization header"));
            }
            return Ok(Self::Secret { client_id, secret });
        }
        let client_id = ClientId::parse(body_id.ok_or_else(invalid_client)?).map_err(|_| invalid_client())?;
        Ok(match body_secret {
            Some(secret) => Self::Secret { client_id, secret: secret.to_owned() },
            None => Self::None { client_id },
        })
    }
}

fn percent_decode(input: &str) -> Option<String> {
    let joined: String = url::form_urlencoded::parse(format!("x={input}").as_bytes()).next().map(|(_, v)| v.into_owned())?;
    Some(joined)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(s: &str) -> Params {
        Params::parse(s.as_bytes()).unwrap()
    }

    #[test]
    fn basic_credentials_are_url_decoded() {
        let header = format!("Basic {}", STANDARD.encode("my%3Aapp:p%40ss"));
        let auth = ClientAuthentication::from_request(Some(&header), &params("")).unwrap();
        assert_eq!(auth.client_id().as_str(), "my:app");
        let header = format!("Basic {}", STANDARD.encode("app:p%40ss"));
        let auth = ClientAuthentication::from_request(Some(&header), &params("")).unwrap();
        assert_eq!(auth, ClientAuthentication::Secret { client_id: ClientId::parse("app").unwrap(), secret: "p@ss".into() });
    }

    #[test]
    fn two_authentication_methods_are_refused() {
        let header = format!("Basic {}", STANDARD.encode("app:x"));
        let err = ClientAuthentication::from_request(Some(&header), &params("client_secret=x")).unwrap_err();
        assert_eq!(err.code, OAuthErrorCode::InvalidRequest);
    }

    #[test]
    fn post_and_public_forms() {
        let auth = ClientAuthentication::from_request(None, &params("client_id=app&client_secret=s")).unwrap();
        assert!(matches!(auth, ClientAuthentication::Secret { .. }));
        let auth = ClientAuthentication::from_request(None, &params("client_id=app")).unwrap();
        assert!(matches!(auth, ClientAuthentication::None { .. }));
        assert!(ClientAuthentication::from_request(None, &params("")).is_err());
    }

    #[test]
    fn grant_parsing() {
        assert!(matches!(TokenGrant::parse(&params("grant_type=client_credentials")), Ok(TokenGrant::ClientCredentials { .. })));
        assert_eq!(TokenGrant::parse(&params("grant_type=password")).unwrap_err().code, OAuthErrorCode::UnsupportedGrantType);
        assert_eq!(TokenGrant::parse(&params("grant_type=authorization_code")).unwrap_err().code, OAuthErrorCode::InvalidRequest);
        assert_eq!(TokenGrant::parse(&params("")).unwrap_err().code, OAuthErrorCode::InvalidRequest);
    }
}
