//! The upstream's discovery document (OpenID Connect Discovery 1.0 §3), reduced to what
//! Gatehouse uses.

use serde::Deserialize;

use super::UpstreamError;

/// The endpoints of an upstream provider.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Metadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
    /// Asked for the email when the ID token does not carry it.
    #[serde(default)]
    pub userinfo_endpoint: Option<String>,
    #[serde(default)]
    pub end_session_endpoint: Option<String>,
    #[serde(default)]
    pub code_challenge_methods_supported: Vec<String>,
    #[serde(default)]
    pub token_endpoint_auth_methods_supported: Vec<String>,
    /// RFC 9207: the provider names itself (`iss`) in every authorization response, so a
    /// response without it is refused.
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
}

impl Metadata {
    /// Parses a discovery document and checks it is the configured issuer's (Discovery §4.3:
    /// the `issuer` must be exactly the one it was fetched for) and that its endpoints are URLs
    /// Gatehouse may call.
    pub fn parse(document: &[u8], expected_issuer: &str) -> Result<Self, UpstreamError> {
        let metadata: Self = serde_json::from_slice(document).map_err(|_| UpstreamError::Invalid("discovery document"))?;
        if metadata.issuer != expected_issuer {
            return Err(UpstreamError::IssuerMismatch { expected: expected_issuer.to_owned(), found: metadata.issuer });
        }
        for endpoint in [&metadata.authorization_endpoint, &metadata.token_endpoint, &metadata.jwks_uri] {
            gatehouse_core::federation::upstream_url(endpoint).map_err(|_| UpstreamError::Invalid("endpoint URL"))?;
        }
        if let Some(userinfo) = &metadata.userinfo_endpoint {
            gatehouse_core::federation::upstream_url(userinfo).map_err(|_| UpstreamError::Invalid("userinfo_endpoint"))?;
        }
        if let Some(end) = &metadata.end_session_endpoint {
            gatehouse_core::federation::upstream_url(end).map_err(|_| UpstreamError::Invalid("end_session_endpoint"))?;
        }
        Ok(metadata)
    }

    /// The discovery URL of an issuer (`issuer` + `/.well-known/openid-configuration`).
    pub fn discovery_url(issuer: &str) -> String {
        format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document(issuer: &str, token: &str) -> Vec<u8> {
        serde_json::json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}/auth"),
            "token_endpoint": token,
            "jwks_uri": format!("{issuer}/jwks"),
        })
        .to_string()
        .into_bytes()
    }

    #[test]
    fn a_discovery_document_of_another_issuer_is_refused() {
        let doc = document("https://evil.example", "https://evil.example/token");
        assert!(matches!(Metadata::parse(&doc, "https://login.example"), Err(UpstreamError::IssuerMismatch { .. })));
        assert!(Metadata::parse(&document("https://login.example", "https://login.example/token"), "https://login.example").is_ok());
    }

    #[test]
    fn endpoints_must_be_urls_gatehouse_may_call() {
        let doc = document("https://login.example", "http://internal.example/token");
        assert!(matches!(Metadata::parse(&doc, "https://login.example"), Err(UpstreamError::Invalid(_))));
        assert!(Metadata::parse(b"not json", "https://login.example").is_err());
    }

    #[test]
    fn the_discovery_url_is_under_the_issuer() {
        assert_eq!(Metadata::discovery_url("https://login.example/t/v2.0/"), "https://login.example/t/v2.0/.well-known/openid-configuration");
    }
}
