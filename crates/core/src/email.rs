//! Email addresses and the domains that tie users to tenants.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("an email address needs exactly one '@' with text on both sides")]
    Shape,
    #[error("an email address may be at most 254 characters")]
    TooLong,
    #[error("the domain `{0}` is not a valid DNS name")]
    Domain(String),
    #[error("the local part contains a space or control character")]
    LocalPart,
}

/// A DNS domain in lower case, e.g. `acme.test`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmailDomain(String);

impl EmailDomain {
    pub fn parse(input: &str) -> Result<Self, EmailError> {
        let lower = input.trim().trim_end_matches('.').to_ascii_lowercase();
        let valid_label = |label: &str| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        };
        if lower.is_empty() || lower.len() > 253 || !lower.split('.').all(valid_label) {
            return Err(EmailError::Domain(input.to_owned()));
        }
        Ok(Self(lower))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for EmailDomain {
    type Error = EmailError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}
impl From<EmailDomain> for String {
    fn from(value: EmailDomain) -> Self {
        value.0
    }
}
impl fmt::Display for EmailDomain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An email address whose domain is normalised to lower case. The local part keeps its case
/// for display but comparisons use [`Email::key`], which folds it, as every mainstream provider
/// treats `Alice@` and `alice@` as one mailbox.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email {
    address: String,
    at: usize,
}

impl Email {
    pub fn parse(input: &str) -> Result<Self, EmailError> {
        let input = input.trim();
        if input.len() > 254 {
            return Err(EmailError::TooLong);
        }
        let (local, domain) = input.rsplit_once('@').ok_or(EmailError::Shape)?;
        if local.is_empty() || local.contains('@') {
            return Err(EmailError::Shape);
        }
        if local.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(EmailError::LocalPart);
        }
        let domain = EmailDomain::parse(domain)?;
        Ok(Self { address: format!("{local}@{domain}"), at: local.len() })
    }
    pub fn as_str(&self) -> &str {
        &self.address
    }
    pub fn domain(&self) -> EmailDomain {
        EmailDomain(self.address.get(self.at + 1..).unwrap_or_default().to_owned())
    }
    /// The look-up key: the whole address in lower case.
    pub fn key(&self) -> String {
        self.address.to_lowercase()
    }
}

impl TryFrom<String> for Email {
    type Error = EmailError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}
impl From<Email> for String {
    fn from(value: Email) -> Self {
        value.address
    }
}
impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.address)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_is_lowercased_and_key_folds_case() {
        let email = Email::parse("Alice@ACME.test").unwrap();
        assert_eq!(email.as_str(), "Alice@acme.test");
        assert_eq!(email.domain().as_str(), "acme.test");
        assert_eq!(email.key(), "alice@acme.test");
    }

    #[test]
    fn malformed_addresses_are_rejected() {
        for bad in ["", "alice", "@acme.test", "alice@", "a b@acme.test", "alice@acme..test", "alice@-acme.test"] {
            assert!(Email::parse(bad).is_err(), "{bad} should be rejected");
        }
    }
}
