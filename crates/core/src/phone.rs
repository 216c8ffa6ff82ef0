//! Phone numbers in E.164 form (`+358401234567`), the only form SMS gateways accept.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a phone number in international form: + and country code, then 7 to 14 digits (e.g. +358401234567)")]
pub struct PhoneError(pub String);

/// A phone number in E.164: `+`, a country code not starting with 0, at most 15 digits.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PhoneNumber(String);

impl PhoneNumber {
    /// Parses a number, allowing the spaces, dashes, dots and parentheses people type.
    pub fn parse(input: &str) -> Result<Self, PhoneError> {
        let trimmed = input.trim();
        let Some(rest) = trimmed.strip_prefix('+') else {
            return Err(PhoneError(input.to_owned()));
        };
        let mut digits = String::with_capacity(16);
        for c in rest.chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '-' | '.' | '(' | ')' => {}
                _ => return Err(PhoneError(input.to_owned())),
            }
        }
        if !(8..=15).contains(&digits.len()) || digits.starts_with('0') {
            return Err(PhoneError(input.to_owned()));
        }
        Ok(Self(format!("+{digits}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The number with all but the country-code prefix and last two digits hidden, for pages
    /// and notifications (`+358 ••••••• 67`).
    pub fn masked(&self) -> String {
        let digits = self.0.get(1..).unwrap_or_default();
        let prefix = digits.get(..3.min(digits.len())).unwrap_or_default();
        let suffix = digits.get(digits.len().saturating_sub(2)..).unwrap_or_default();
        let hidden = digits.len().saturating_sub(prefix.len() + suffix.len());
        format!("+{prefix} {} {suffix}", "•".repeat(hidden))
    }
}

// Phone numbers are personal data: debug output shows only the masked form.
impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhoneNumber({})", self.masked())
    }
}

impl TryFrom<String> for PhoneNumber {
    type Error = PhoneError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<PhoneNumber> for String {
    fn from(value: PhoneNumber) -> Self {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_normalises_e164() {
        assert_eq!(PhoneNumber::parse("+358 40 123 4567").unwrap().as_str(), "+358401234567");
        assert_eq!(PhoneNumber::parse("+1 (555) 010-9999").unwrap().as_str(), "+15550109999");
        for bad in ["0401234567", "+0401234567", "+358", "+3584012345678901", "+358 40 abc", "", "+"] {
            assert!(PhoneNumber::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn masking_hides_the_middle() {
        let phone = PhoneNumber::parse("+358401234567").unwrap();
        assert_eq!(phone.masked(), "+358 ••••••• 67");
        assert!(!format!("{phone:?}").contains("1234"));
    }
}
