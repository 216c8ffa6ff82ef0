//! Scope values (RFC 6749 §3.3): space-delimited, case-sensitive, order-insensitive.

use std::fmt;

#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Scopes(Vec<String>);

impl Scopes {
    /// Parses a scope string. Characters outside RFC 6749's `scope-token` set are refused.
    pub fn parse(input: &str) -> Option<Self> {
        let mut scopes: Vec<String> = Vec::new();
        for token in input.split(' ').filter(|t| !t.is_empty()) {
            let valid = token.bytes().all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b));
            if !valid {
                return None;
            }
            if !scopes.iter().any(|s| s == token) {
                scopes.push(token.to_owned());
            }
        }
        Some(Self(scopes))
    }
    pub fn contains(&self, scope: &str) -> bool {
        self.0.iter().any(|s| s == scope)
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
    /// True when every scope here is also in `other` (refresh may only narrow).
    pub fn is_subset_of(&self, other: &Scopes) -> bool {
        self.0.iter().all(|s| other.contains(s))
    }
    /// Keeps only the scopes `known` accepts (those this provider or the client defines).
    pub fn retain_known(&self, known: impl Fn(&str) -> bool) -> Scopes {
        Scopes(self.0.iter().filter(|s| known(s)).cloned().collect())
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_dedups_and_rejects_bad_characters() {
        let s = Scopes::parse("openid  email openid").unwrap();
        assert_eq!(s.to_string(), "openid email");
        assert!(Scopes::parse("open\"id").is_none());
        assert!(Scopes::parse("a\\b").is_none());
    }

    #[test]
    fn subset() {
        let all = Scopes::parse("openid email profile").unwrap();
        assert!(Scopes::parse("email").unwrap().is_subset_of(&all));
        assert!(!Scopes::parse("phone").unwrap().is_subset_of(&all));
    }
}
