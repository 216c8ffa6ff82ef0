//! What follows a first factor (a password, an SSO session standing in for one, a passkey,
//! and later a federated identity): answer the request, ask for more, or refuse. Pure: the
//! verdict was gathered by [`crate::decide`], and the caller stores and shows what this says.

use gatehouse_core::model::{Tenant, User};
use gatehouse_core::{OAuthError, OAuthErrorCode};
use gatehouse_policy::{AuthLevel, Outcome};
use time::OffsetDateTime;

use crate::decide::Verdict;
use crate::progress::{Owed, PendingReset, Progress, Stage};
use crate::proof::{FirstFactor, Proof};

/// The page of the flow a browser is sent to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlowPage {
    SignIn,
    SecondFactor,
    Enrollment,
    PasswordChange,
}

impl FlowPage {
    pub fn path(self) -> &'static str {
        match self {
            Self::SignIn => "/login",
            Self::SecondFactor => "/login/factor",
            Self::Enrollment => "/login/enroll",
            Self::PasswordChange => "/login/password",
        }
    }
}

/// Where a sign-in goes after its first factor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Next {
    /// The policy refused: no allowed method can meet what the request needs.
    Refuse,
    /// Nothing more is owed: answer the request with what was proved.
    Complete,
    /// More is owed: park this progress and send the browser to this page.
    Ask { progress: Box<Progress>, page: FlowPage },
}

/// Acts on the policy's verdict for `user`, who proved `entry` at `auth_time`.
pub fn after_first_factor(verdict: &Verdict, user: &User, entry: &FirstFactor, auth_time: OffsetDateTime) -> Next {
    let first = &entry.first;
    let (stage, page) = match verdict.outcome {
        Outcome::Deny { .. } => return Next::Refuse,
        Outcome::NoPrompt => return Next::Complete,
        Outcome::SecondFactor { level, methods } => {
            (Stage::SecondFactor { owed: Owed { level, methods }, then_enroll: None, sms_challenge: None }, FlowPage::SecondFactor)
        }
        // Only a password so far, and the account already has a factor: that factor first.
        Outcome::Enroll { level, methods } if first.level == AuthLevel::Password && !verdict.existing_factors.is_empty() => {
            let owed = Owed { level: AuthLevel::Mfa, methods: verdict.existing_factors };
            (Stage::SecondFactor { owed, then_enroll: Some(Owed { level, methods }), sms_challenge: None }, FlowPage::SecondFactor)
        }
        Outcome::Enroll { level, methods } => {
            (Stage::Enrollment { owed: Owed { level, methods }, app: None, phone: None, enrolled: None }, FlowPage::Enrollment)
        }
    };
    let progress = Progress {
        user_id: user.id.clone(),
        first_amr: first.amr.clone(),
        auth_time: auth_time.unix_timestamp(),
        decision: verdict.record.clone(),
        remember_device_days: verdict.remember_device_days,
        ceremony: None,
        idp: entry.idp.clone(),
        stage,
    };
    Next::Ask { progress: Box::new(progress), page }
}

/// The progress of a sign-in that proved `proof` and must now set a new password (a reported
/// sign-in). `None` when the account has a second factor it trusts but this sign-in proved a
/// password alone: the policy's step-up must come first.
pub fn awaiting_password_change(
    progress: Option<&Progress>,
    user: &User,
    proof: &Proof,
    decision: Option<&serde_json::Value>,
    remember_device: bool,
    has_trusted_factor: bool,
    now: OffsetDateTime,
) -> Option<Progress> {
    if proof.level == AuthLevel::Password && has_trusted_factor {
        return None;
    }
    let reset = PendingReset { level: proof.level, amr: proof.amr.clone(), remember_device, email_code: None };
    Some(match progress {
        Some(progress) => progress.awaiting_password_change(reset),
        None => Progress {
            user_id: user.id.clone(),
            first_amr: proof.amr.clone(),
            auth_time: now.unix_timestamp(),
            decision: decision.cloned().unwrap_or_default(),
            remember_device_days: 0,
            ceremony: None,
            idp: None,
            stage: Stage::PasswordChange(reset),
        },
    })
}

/// Whether the user's organisation was terminated: nobody on its domains signs in any more.
pub fn tenant_closed(tenant: Option<&Tenant>) -> bool {
    tenant.is_some_and(|t| !t.is_active())
}

/// The error for the application when no allowed method can meet what the request needs.
pub fn unmet_requirements() -> OAuthError {
    OAuthError::new(
        OAuthErrorCode::UnmetAuthenticationRequirements,
        "no second factor allowed for this account can meet the authentication this request requires",
    )
}

/// The error for the application when the organisation's account is closed. Only said after
/// the person proved who they are, so it reveals nothing to a stranger.
pub fn account_closed() -> OAuthError {
    OAuthError::new(OAuthErrorCode::AccessDenied, "this organisation's account is closed")
}

#[cfg(test)]
mod tests;
