//! The policy simulator (`POST /api/v1/policy/simulate`): what would happen if this person
//! signed in to this application from this address.

use serde::{Deserialize, Serialize};

/// The question. `Ip` is the address: the API reads an [`std::net::IpAddr`]; the console sends
/// the form's text as typed, so a mistyped address is the API's refusal, worded once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Simulation<Ip = std::net::IpAddr> {
    pub email: String,
    pub client_id: String,
    pub ip: Ip,
    #[serde(default)]
    pub acr_values: Vec<String>,
    #[serde(default)]
    pub scopes: Vec<String>,
    /// The browser completed a second factor just now and is remembered.
    #[serde(default)]
    pub known_device: bool,
    /// An SSO session already proved this level (an acr value).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_acr: Option<String>,
}

/// The answer: the policy engine's decision, as recorded for a real sign-in. Only the parts
/// a reader acts on are named; the rest (risk signals, the inputs) stays in the document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimulatedDecision {
    pub outcome: DecidedOutcome,
    pub winning_rule: WinningRule,
    #[serde(default)]
    pub reasons: Vec<DecisionReason>,
    /// `low`, `elevated` or `high`.
    #[serde(default)]
    pub risk: String,
    /// What a policy staged in report-only mode would have decided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_only: Option<Box<SimulatedDecision>>,
}

/// What the sign-in would have to do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecidedOutcome {
    /// `no_prompt`, `second_factor`, `enroll` or `deny`.
    pub kind: String,
    /// The acr value a second factor would reach.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
    /// The methods that would be offered.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub methods: Vec<String>,
}

/// The rule that decided.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WinningRule {
    pub code: String,
}

/// One reason, in words.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionReason {
    pub text: String,
}
