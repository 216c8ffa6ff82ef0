//! What [`crate::decide()`] returns: the outcome, the rule that won, and the vocabulary of rules
//! with the seed's wording, so an admin reading a record sees the rule in the words of the policy.

use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};

use crate::level::AuthLevel;
use crate::method::MethodSet;
use crate::reason::Reasons;
use crate::risk::RiskLevel;

/// A decision about one sign-in, serialisable as the JSON recorded with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Decision<'a> {
    pub outcome: Outcome,
    pub winning_rule: Rule,
    pub reasons: Reasons<'a>,
    /// The assessed risk, whether or not the winning rule looked at it.
    pub risk: RiskLevel,
    /// A risky sign-in let through with one factor (Adaptive, user has no second factor).
    pub risky_single_factor: bool,
    /// Show the user an invitation to enroll after signing in (not the mandatory wizard).
    pub invite_enrollment: bool,
}

/// What the user experiences next.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Outcome {
    /// Sign in without a (further) second factor.
    NoPrompt,
    /// Present one of `methods` to reach `level`.
    SecondFactor { level: AuthLevel, methods: MethodSet },
    /// The enrollment wizard: enroll one of `methods` (then use it) to reach `level`.
    Enroll { level: AuthLevel, methods: MethodSet },
    /// Refuse: return the OIDC error to the client.
    Deny { error: DenyReason },
}

impl Outcome {
    /// `no_prompt`, `second_factor`, `enroll` or `deny`, as serialised.
    pub const fn kind(&self) -> &'static str {
        match self {
            Self::NoPrompt => "no_prompt",
            Self::SecondFactor { .. } => "second_factor",
            Self::Enroll { .. } => "enroll",
            Self::Deny { .. } => "deny",
        }
    }
}

/// Why a sign-in is refused, as an OIDC error code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum DenyReason {
    /// OpenID Connect Core Errata / RFC 9470: no allowed method can meet the requested level.
    #[serde(rename = "unmet_authentication_requirements")]
    UnmetAuthenticationRequirements,
}

impl DenyReason {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::UnmetAuthenticationRequirements => "unmet_authentication_requirements",
        }
    }
}

/// The rule that decided, in priority order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Rule {
    StepUp,
    SessionSatisfies,
    AppBypass,
    DomainRequired,
    AppRequired,
    AdaptiveLowRisk,
    AdaptiveRisk,
    AdaptiveNotEnrolled,
}

impl Rule {
    pub const ALL: [Rule; 8] = [
        Self::StepUp,
        Self::SessionSatisfies,
        Self::AppBypass,
        Self::DomainRequired,
        Self::AppRequired,
        Self::AdaptiveLowRisk,
        Self::AdaptiveRisk,
        Self::AdaptiveNotEnrolled,
    ];

    /// A stable snake_case code; never reworded, since records and dashboards key on it.
    pub const fn code(self) -> &'static str {
        match self {
            Self::StepUp => "step_up",
            Self::SessionSatisfies => "session_satisfies",
            Self::AppBypass => "app_bypass",
            Self::DomainRequired => "domain_required",
            Self::AppRequired => "app_required",
            Self::AdaptiveLowRisk => "adaptive_low_risk",
            Self::AdaptiveRisk => "adaptive_risk",
            Self::AdaptiveNotEnrolled => "adaptive_not_enrolled",
        }
    }

    /// One line for people, citing the seed's priority rules where one applies.
    pub const fn text(self) -> &'static str {
        match self {
            Self::StepUp => "Step-up wins over everything: a sensitive action needs a second factor, even in a Bypass app",
            Self::SessionSatisfies => "The single sign-on session already met the required level",
            Self::AppBypass => "The App Bypass always wins: no 2FA prompt and no enrollment wizard",
            Self::DomainRequired => "Highest security wins: the domain mandate stays, 2FA is required",
            Self::AppRequired => "Stronger wins: security is elevated, the application requires 2FA",
            Self::AdaptiveLowRisk => "Adaptive: a trusted network or remembered device, no 2FA prompt",
            Self::AdaptiveRisk => "Adaptive: the sign-in is not low risk, 2FA is required",
            Self::AdaptiveNotEnrolled => "Adaptive: risky, but the user has no second factor: one factor, flagged, invited to enroll",
        }
    }
}

/// As `{ "code": ..., "text": ... }`.
impl Serialize for Rule {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("Rule", 2)?;
        s.serialize_field("code", self.code())?;
        s.serialize_field("text", self.text())?;
        s.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::method::Method;

    #[test]
    fn rule_codes_are_unique_and_texts_cite_the_seed() {
        let mut codes: Vec<_> = Rule::ALL.iter().map(|r| r.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), Rule::ALL.len());
        assert!(Rule::AppBypass.text().contains("The App Bypass always wins"));
        assert!(Rule::DomainRequired.text().contains("Highest security wins: the domain mandate stays"));
        assert!(Rule::AppRequired.text().contains("Stronger wins: security is elevated"));
    }

    #[test]
    fn outcomes_serialise_with_a_kind() {
        let second = Outcome::SecondFactor { level: AuthLevel::Mfa, methods: MethodSet::from_iter([Method::Totp]) };
        assert_eq!(
            serde_json::to_value(second).unwrap(),
            serde_json::json!({ "kind": "second_factor", "level": "urn:gatehouse:acr:mfa", "methods": ["totp"] })
        );
        let deny = Outcome::Deny { error: DenyReason::UnmetAuthenticationRequirements };
        assert_eq!(serde_json::to_value(deny).unwrap(), serde_json::json!({ "kind": "deny", "error": "unmet_authentication_requirements" }));
        assert_eq!(DenyReason::UnmetAuthenticationRequirements.as_str(), "unmet_authentication_requirements");
        assert_eq!(serde_json::to_value(Outcome::NoPrompt).unwrap(), serde_json::json!({ "kind": "no_prompt" }));
        assert_eq!(Outcome::NoPrompt.kind(), "no_prompt");
    }
}
