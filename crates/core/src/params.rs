//! Form and query parameters as the protocol sees them: each name at most once (RFC 6749 §3.1,
//! §3.2), empty values treated as absent.

use crate::OAuthError;

/// Parsed `application/x-www-form-urlencoded` parameters with duplicates rejected.
#[derive(Debug, Default, Clone)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// Parses a query string or form body. A parameter sent twice, a broken `%` escape or bytes
    /// that are not UTF-8 are an `invalid_request` (a lenient decoder would turn them into
    /// something the client never sent).
    pub fn parse(encoded: &[u8]) -> Result<Self, OAuthError> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for part in encoded.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
            let (raw_name, raw_value) = match part.iter().position(|b| *b == b'=') {
                Some(i) => (part.get(..i).unwrap_or_default(), part.get(i + 1..).unwrap_or_default()),
                None => (part, &[][..]),
            };
            let name = decode(raw_name)?;
            if pairs.iter().any(|(existing, _)| *existing == name) {
                return Err(OAuthError::invalid_request(format!("parameter `{name}` was sent more than once")));
            }
            let value = decode(raw_value)?;
            pairs.push((name, value));
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

/// Strict `application/x-www-form-urlencoded` decoding of one name or value.
fn decode(raw: &[u8]) -> Result<String, OAuthError> {
    let malformed = || OAuthError::invalid_request("a parameter is not correctly form-encoded");
    let mut out = Vec::with_capacity(raw.len());
    let mut bytes = raw.iter();
    while let Some(&b) = bytes.next() {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = bytes.next().and_then(|h| (*h as char).to_digit(16)).ok_or_else(malformed)?;
                let lo = bytes.next().and_then(|l| (*l as char).to_digit(16)).ok_or_else(malformed)?;
                out.push(u8::try_from(hi * 16 + lo).map_err(|_| malformed())?);
            }
            other => out.push(other),
        }
    }
    String::from_utf8(out).map_err(|_| OAuthError::invalid_request("a parameter is not valid UTF-8"))
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
    fn decoding_is_strict() {
        let p = Params::parse(b"a=x+y%2Bz&b=%C3%A4&c").unwrap();
        assert_eq!((p.get("a"), p.get("b"), p.get("c")), (Some("x y+z"), Some("\u{e4}"), None));
        for bad in [&b"a=%ZZ"[..], b"a=%4", b"a=%", b"a=%ff%fe", b"a=\xff"] {
            assert!(Params::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn empty_values_count_as_absent() {
        let p = Params::parse(b"state=&nonce=n").unwrap();
        assert_eq!(p.get("state"), None);
        assert_eq!(p.get("nonce"), Some("n"));
    }
}
