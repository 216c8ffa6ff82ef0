//! Form and query parameters as the protocol sees them: each name at most once (RFC 6749 §3.1,
//! §3.2), empty values treated as absent.

use crate::OAuthError;

/// Parsed `application/x-www-form-urlencoded` parameters with duplicates rejected.
#[derive(Debug, Default, Clone)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// Parses a query string or form body. A parameter sent twice is an `invalid_request`.
    pub fn parse(encoded: &[u8]) -> Result<Self, OAuthError> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for (name, value) in url::form_urlencoded::parse(encoded) {
            if pairs.iter().any(|(existing, _)| *existing == name) {
                return Err(OAuthError::invalid_request(format!("parameter `{name}` was sent more than once")));
            }
            pairs.push((name.into_owned(), value.into_owned()));
        }
        Ok(Self(pairs))
    }

    pub fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        Self(pairs)
    }

    /// The value, or `None` when absent or empty (OIDC treats empty parameters as omitted).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
    }

    pub fn require(&self, name: &'static str) -> Result<&str, OAuthError> {
        self.get(name).ok_or_else(|| OAuthError::invalid_request(format!("`{name}` is required")))
    }

    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Merges two parameter sets (OIDC allows authorization parameters in query or form body);
    /// a name present in both is a duplicate.
    pub fn merge(mut self, other: Params) -> Result<Self, OAuthError> {
        for (name, value) in other.0 {
            if self.0.iter().any(|(n, _)| *n == name) {
                return Err(OAuthError::invalid_request(format!("parameter `{name}` was sent more than once")));
            }
            self.0.push((name, value));
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicated_parameters_are_rejected() {
        let err = Params::parse(b"client_id=a&client_id=b").unwrap_err();
        assert!(err.description.contains("client_id"));
    }

    #[test]
    fn empty_values_count_as_absent() {
        let p = Params::parse(b"state=&nonce=n").unwrap();
        assert_eq!(p.get("state"), None);
        assert_eq!(p.get("nonce"), Some("n"));
    }
}
