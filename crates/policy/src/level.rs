//! Authentication levels and their OIDC `acr` values: the one scale every requirement (domain
//! mandate, step-up, SSO session) is measured on.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use crate::error::PolicyError;

/// How strongly a sign-in proved who is there. Ordered: a higher level satisfies every lower one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AuthLevel {
    /// One factor (a password).
    Password,
    /// Two factors, any kind.
    Mfa,
    /// Two factors, the second phishing-resistant (WebAuthn: bound to the origin). Its `acr` is
    /// OpenID EAP ACR Values' `phr`.
    PhishingResistant,
    /// Phishing-resistant with a key that cannot leave its hardware (a device-bound credential):
    /// EAP's `phrh`.
    PhishingResistantHardware,
}

impl AuthLevel {
    pub const ALL: [AuthLevel; 4] = [Self::Password, Self::Mfa, Self::PhishingResistant, Self::PhishingResistantHardware];

    /// The `acr` value asserted in ID tokens and accepted in `acr_values`.
    pub const fn acr(self) -> &'static str {
        match self {
            Self::Password => "urn:gatehouse:acr:pwd",
            Self::Mfa => "urn:gatehouse:acr:mfa",
            Self::PhishingResistant => "phr",
            Self::PhishingResistantHardware => "phrh",
        }
    }

    /// The level of a recognised `acr` value; `None` for anything else (OIDC says a provider
    /// ignores classes it does not know).
    pub fn from_acr(acr: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|level| level.acr() == acr)
    }
}

impl fmt::Display for AuthLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.acr())
    }
}

impl Serialize for AuthLevel {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.acr())
    }
}

/// From an `acr` value; in configuration an unknown value is a mistake, not something to ignore.
impl<'de> Deserialize<'de> for AuthLevel {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Acr;
        impl Visitor<'_> for Acr {
            type Value = AuthLevel;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an acr value such as \"urn:gatehouse:acr:mfa\"")
            }
            fn visit_str<E: de::Error>(self, value: &str) -> Result<AuthLevel, E> {
                AuthLevel::from_acr(value).ok_or_else(|| E::custom(PolicyError::UnknownAcr(value.to_owned())))
            }
        }
        deserializer.deserialize_str(Acr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_ordered_weakest_first() {
        use AuthLevel::*;
        assert!(Password < Mfa && Mfa < PhishingResistant && PhishingResistant < PhishingResistantHardware);
    }

    #[test]
    fn acr_values_round_trip() {
        for level in AuthLevel::ALL {
            assert_eq!(AuthLevel::from_acr(level.acr()), Some(level));
        }
        assert_eq!(AuthLevel::Mfa.acr(), "urn:gatehouse:acr:mfa");
        assert_eq!(AuthLevel::from_acr("phrh"), Some(AuthLevel::PhishingResistantHardware));
        assert_eq!(AuthLevel::from_acr("urn:gatehouse:acr:phr"), None, "OpenID EAP's values are bare");
        assert_eq!(AuthLevel::from_acr("urn:mace:incommon:iap:silver"), None);
    }

    #[test]
    fn serde_uses_acr_values_and_rejects_unknown_ones() {
        assert_eq!(serde_json::to_string(&AuthLevel::PhishingResistant).unwrap(), r#""phr""#);
        let level: AuthLevel = serde_json::from_str(r#""urn:gatehouse:acr:mfa""#).unwrap();
        assert_eq!(level, AuthLevel::Mfa);
        let err = serde_json::from_str::<AuthLevel>(r#""gold""#).unwrap_err();
        assert!(err.to_string().contains("unknown acr value \"gold\""), "{err}");
    }
}
