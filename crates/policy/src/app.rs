//! The second layer, *what you are accessing*: an application's 2FA behaviour and the scopes
//! it marks sensitive enough to require a step-up (`[[application]]` in the import file).

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

use crate::error::PolicyError;
use crate::level::AuthLevel;

/// The three behaviours of the seed: Bypass (the express lane), Adaptive (the smart guard),
/// Required (the wall).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AppTwoFactor {
    /// Never a 2FA prompt or enrollment wizard, whatever the domain says; only a step-up asks.
    Bypass,
    /// 2FA when the sign-in looks risky.
    #[default]
    Adaptive,
    /// Always 2FA; users without a factor are sent to enroll.
    Required,
}

impl AppTwoFactor {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Bypass => "bypass",
            Self::Adaptive => "adaptive",
            Self::Required => "required",
        }
    }
}

/// An application's policy. `step_up_scopes` is written as a table from scope to `acr` value:
/// `step_up_scopes = { "payments:approve" = "urn:gatehouse:acr:mfa" }`; kept as a short list in
/// file order because an application names a handful and a scan beats hashing at that size.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AppPolicy {
    pub two_factor: AppTwoFactor,
    #[serde(serialize_with = "serialize_scopes", deserialize_with = "deserialize_scopes")]
    pub step_up_scopes: Vec<(String, AuthLevel)>,
}

impl AppPolicy {
    /// The level a requested scope demands, if the application marks it sensitive.
    pub fn step_up_level(&self, scope: &str) -> Option<(&str, AuthLevel)> {
        self.step_up_scopes.iter().find(|(name, _)| name == scope).map(|(name, level)| (name.as_str(), *level))
    }
}

fn serialize_scopes<S: Serializer>(scopes: &[(String, AuthLevel)], serializer: S) -> Result<S::Ok, S::Error> {
    let mut map = serializer.serialize_map(Some(scopes.len()))?;
    for (scope, level) in scopes {
        map.serialize_entry(scope, level)?;
    }
    map.end()
}

fn deserialize_scopes<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<(String, AuthLevel)>, D::Error> {
    struct ScopeTable;
    impl<'de> Visitor<'de> for ScopeTable {
        type Value = Vec<(String, AuthLevel)>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a table from scope to acr value, e.g. { \"payments:approve\" = \"urn:gatehouse:acr:mfa\" }")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut scopes: Vec<(String, AuthLevel)> = Vec::new();
            while let Some((scope, level)) = map.next_entry::<String, AuthLevel>()? {
                // JSON allows a key twice; two levels for one scope is a conflict, not a choice.
                if scopes.iter().any(|(s, _)| *s == scope) {
                    return Err(de::Error::custom(PolicyError::DuplicateStepUpScope(scope)));
                }
                if level == AuthLevel::Password {
                    return Err(de::Error::custom(PolicyError::StepUpToPassword(scope)));
                }
                scopes.push((scope, level));
            }
            Ok(scopes)
        }
    }
    deserializer.deserialize_map(ScopeTable)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_adaptive_without_step_up_scopes() {
        let app: AppPolicy = serde_json::from_str("{}").unwrap();
        assert_eq!(app, AppPolicy::default());
        assert_eq!(app.two_factor, AppTwoFactor::Adaptive);
        assert!(app.step_up_scopes.is_empty());
    }

    #[test]
    fn parses_modes_and_step_up_scopes_in_order() {
        let app: AppPolicy = serde_json::from_str(
            r#"{ "two_factor": "bypass", "step_up_scopes": {
                   "payments:approve": "urn:gatehouse:acr:mfa", "keys:rotate": "phrh" } }"#,
        )
        .unwrap();
        assert_eq!(app.two_factor, AppTwoFactor::Bypass);
        assert_eq!(app.step_up_scopes, [("payments:approve".to_owned(), AuthLevel::Mfa), ("keys:rotate".to_owned(), AuthLevel::PhishingResistantHardware)]);
        assert_eq!(app.step_up_level("keys:rotate"), Some(("keys:rotate", AuthLevel::PhishingResistantHardware)));
        assert_eq!(app.step_up_level("openid"), None);
        let json = serde_json::to_string(&app).unwrap();
        assert!(json.contains(r#""step_up_scopes":{"payments:approve":"urn:gatehouse:acr:mfa""#), "{json}");
        assert_eq!(serde_json::from_str::<AppPolicy>(&json).unwrap(), app);
        for (text, mode) in [("bypass", AppTwoFactor::Bypass), ("adaptive", AppTwoFactor::Adaptive), ("required", AppTwoFactor::Required)] {
            let app: AppPolicy = serde_json::from_str(&format!(r#"{{ "two_factor": "{text}" }}"#)).unwrap();
            assert_eq!(app.two_factor, mode);
            assert_eq!(mode.as_str(), text);
        }
    }

    #[test]
    fn rejects_unknown_fields_modes_and_acr_values() {
        let field = serde_json::from_str::<AppPolicy>(r#"{ "two_factor": "bypass", "mfa": true }"#).unwrap_err();
        assert!(field.to_string().contains("unknown field `mfa`"), "{field}");
        let mode = serde_json::from_str::<AppPolicy>(r#"{ "two_factor": "Bypass" }"#).unwrap_err();
        assert!(mode.to_string().contains("unknown variant `Bypass`"), "{mode}");
        let acr = serde_json::from_str::<AppPolicy>(r#"{ "step_up_scopes": { "payments:approve": "mfa" } }"#).unwrap_err();
        assert!(acr.to_string().contains("unknown acr value \"mfa\""), "{acr}");
    }

    #[test]
    fn rejects_step_up_to_password_and_duplicate_scopes() {
        let pwd = serde_json::from_str::<AppPolicy>(r#"{ "step_up_scopes": { "read": "urn:gatehouse:acr:pwd" } }"#).unwrap_err();
        assert!(pwd.to_string().contains("step-up scope \"read\" asks for urn:gatehouse:acr:pwd"), "{pwd}");
        let twice = serde_json::from_str::<AppPolicy>(r#"{ "step_up_scopes": { "pay": "urn:gatehouse:acr:mfa", "pay": "phr" } }"#).unwrap_err();
        assert!(twice.to_string().contains("listed twice"), "{twice}");
    }
}
