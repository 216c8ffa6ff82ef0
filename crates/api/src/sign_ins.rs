//! Login history (`GET /api/v1/me/sign-ins`, `GET /api/v1/users/{id}/sign-ins`) and "this
//! wasn't me" (`POST /api/v1/me/sign-ins/{id}/report`).

use serde::{Deserialize, Serialize};

use crate::simulate::DecisionReason;

/// One sign-in attempt.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SignIn {
    pub id: String,
    /// Unix seconds.
    pub at: i64,
    /// The client id; `null` for a sign-in to no application (the console's own, say).
    pub application: Option<String>,
    pub address: String,
    pub user_agent: String,
    pub device: Option<String>,
    /// `success`, `failure`, `second_factor_failure` or `denied`.
    pub result: String,
    /// The `amr` values.
    pub methods: Vec<String>,
    pub acr: Option<String>,
    /// `null` when no policy decided (a wrong password stops before the policy).
    pub policy: Option<SignInPolicy>,
    pub risky: bool,
    pub reported_at: Option<i64>,
    /// The identity provider the sign-in went through (`TENANT_ID/PROVIDER_ID`); `null` for
    /// Gatehouse's own sign-in.
    pub identity_provider: Option<String>,
    /// Why a sign-in through an identity provider was refused; `null` otherwise.
    pub federation_refusal: Option<FederationRefusal>,
}

/// A refused sign-in through an identity provider: the check that failed and, once the
/// provider's answer verified, the upstream identity (what an admin links by hand).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FederationRefusal {
    pub check: String,
    pub issuer: Option<String>,
    pub subject: Option<String>,
}

/// What the policy decided for a sign-in, from the decision recorded with it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SignInPolicy {
    /// `no_prompt`, `second_factor`, `enroll` or `deny`.
    pub outcome: Option<String>,
    /// The winning rule's code.
    pub rule: Option<String>,
    /// The recorded reasons, as they were recorded (each has at least `text`): older records
    /// keep their shape, so they are passed on rather than re-read.
    pub reasons: Option<serde_json::Value>,
}

impl SignInPolicy {
    /// The reasons' words, in order; none when they were not recorded in a readable shape.
    pub fn reason_texts(&self) -> Vec<String> {
        let reasons = self.reasons.clone().and_then(|r| serde_json::from_value::<Vec<DecisionReason>>(r).ok());
        reasons.unwrap_or_default().into_iter().map(|r| r.text).collect()
    }
}

/// A page of login history, newest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SignInHistory {
    pub sign_ins: Vec<SignIn>,
    /// The `before` cursor of the next page; `null` on the last.
    pub next: Option<String>,
}

/// The answer to `POST /api/v1/me/sign-ins/{id}/report`: what was ended and removed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInReported {
    pub sign_in: String,
    pub sessions_ended: u64,
    pub grants_revoked: u64,
    pub factors_removed: u64,
    pub recovery_codes_removed: u64,
    /// Second factors created since the reported sign-in that this call could not remove:
    /// sign in with a second factor and report again with `remove_factors`.
    pub factors_kept: u64,
    pub next_sign_in: String,
}
