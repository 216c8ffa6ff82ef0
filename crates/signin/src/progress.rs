//! How far a parked sign-in got: what it has proved and what it still owes, stored with the
//! parked request (`PendingAuthorization::progress`) and replaced by compare-and-set at each
//! step, so two tabs racing on one request cannot both advance it.
//!
//! A sign-in with no progress has proved nothing yet (it waits for a password or a passkey).
//! Once a first factor passed, it is in one [`Stage`]: owing a second factor, enrolling one, or
//! owing a new password. The transitions are the methods below; each returns `None` where the
//! current stage does not allow it, so a step cannot skip ahead.

use gatehouse_core::FactorKind;
use gatehouse_core::ids::{FactorId, UserId};
use gatehouse_policy::{AuthLevel, Method, MethodSet};
use serde::{Deserialize, Serialize};

/// What a sign-in must still present: a level, and the methods that may reach it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owed {
    pub level: AuthLevel,
    /// What the user may present (or, enrolling, enroll in).
    #[serde(with = "method_names")]
    pub methods: MethodSet,
}

/// Where a sign-in stands after its first factor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "stage", rename_all = "snake_case")]
pub enum Stage {
    /// A second factor is owed.
    SecondFactor {
        owed: Owed,
        /// The wizard to open once an existing factor was presented. A user who has a factor
        /// that cannot meet the level asked proves it before enrolling another, or a password
        /// alone would let anyone add their own authenticator to the account.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        then_enroll: Option<Owed>,
        /// The text-message challenge last sent for this sign-in.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sms_challenge: Option<String>,
    },
    /// The user has no usable factor and enrolls one (the wizard).
    Enrollment {
        owed: Owed,
        /// An authenticator app being set up (unconfirmed until its first code).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        app: Option<FactorId>,
        /// A phone being set up: its factor and the challenge sent to it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        phone: Option<(FactorId, String)>,
        /// The new factor is confirmed (what it proved); left: show recovery codes, continue.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        enrolled: Option<EnrolledProof>,
    },
    /// Every factor is done, but a reported sign-in requires a new password first.
    PasswordChange(PendingReset),
}

/// What the factor enrolled in the wizard proved.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrolledProof {
    /// The RFC 8176 method reference (`otp`, `sms`, `hwk`...).
    pub amr: String,
    pub level: AuthLevel,
}

/// What a sign-in proved before it stopped for a password change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingReset {
    pub level: AuthLevel,
    pub amr: Vec<String>,
    pub remember_device: bool,
    /// The code sent to the account's email address. Whoever sets the new password must hold
    /// the mailbox too: a password alone, or a second factor an intruder enrolled with it, is
    /// not enough to take the account over through a report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_code: Option<EmailCode>,
}

/// A one-time code by email, kept as its keyed digest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailCode {
    /// Base64url of the pepper-keyed digest of the code.
    pub digest: String,
    pub expires_at: i64,
    pub tries_left: u8,
}

/// A parked WebAuthn ceremony: the factor kind it is for and the library's state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ceremony {
    pub kind: FactorKind,
    pub state: String,
}

/// A sign-in past its first factor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// Who passed the first factor.
    pub user_id: UserId,
    /// What the first factor proved (RFC 8176 values: `pwd`, or a passkey's `hwk`...).
    pub first_amr: Vec<String>,
    /// When the first factor was proved (unix seconds).
    pub auth_time: i64,
    /// The policy decision, as recorded with the sign-in (the history's format).
    pub decision: serde_json::Value,
    /// Days a completed second factor may be remembered on this browser (0: never offered).
    #[serde(default)]
    pub remember_device_days: u16,
    /// A WebAuthn ceremony in flight (sign-in or registration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ceremony: Option<Ceremony>,
    /// The identity provider the first factor came from (`TENANT_ID/PROVIDER_ID`), for the
    /// `idp` claim and the history.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idp: Option<String>,
    pub stage: Stage,
}

impl Progress {
    /// The method of the first factor, as the second factor's proof combines it.
    pub fn first_method(&self) -> &str {
        self.first_amr.first().map_or(gatehouse_core::claims::AMR_PASSWORD, String::as_str)
    }

    /// What is owed in the second-factor step or the wizard; `None` at the password change.
    pub fn owed(&self) -> Option<Owed> {
        match &self.stage {
            Stage::SecondFactor { owed, .. } | Stage::Enrollment { owed, .. } => Some(*owed),
            Stage::PasswordChange(_) => None,
        }
    }

    /// The level this sign-in must reach (or, at the password change, reached).
    pub fn level(&self) -> AuthLevel {
        match &self.stage {
            Stage::SecondFactor { owed, .. } | Stage::Enrollment { owed, .. } => owed.level,
            Stage::PasswordChange(reset) => reset.level,
        }
    }

    pub fn method_set(&self) -> MethodSet {
        self.owed().map_or(MethodSet::EMPTY, |owed| owed.methods)
    }

    pub fn offers(&self, method: Method) -> bool {
        self.method_set().contains(method)
    }

    pub fn is_second_factor(&self) -> bool {
        matches!(self.stage, Stage::SecondFactor { .. })
    }

    pub fn is_enrolling(&self) -> bool {
        matches!(self.stage, Stage::Enrollment { .. })
    }

    /// The wizard's confirmed factor, once there is one.
    pub fn enrolled(&self) -> Option<&EnrolledProof> {
        match &self.stage {
            Stage::Enrollment { enrolled, .. } => enrolled.as_ref(),
            _ => None,
        }
    }

    /// The wizard, before its factor is confirmed.
    pub fn is_enrolling_unconfirmed(&self) -> bool {
        self.is_enrolling() && self.enrolled().is_none()
    }

    pub fn sms_challenge(&self) -> Option<&str> {
        match &self.stage {
            Stage::SecondFactor { sms_challenge, .. } => sms_challenge.as_deref(),
            _ => None,
        }
    }

    /// The authenticator app being set up in the wizard.
    pub fn enrolling_app(&self) -> Option<&FactorId> {
        match &self.stage {
            Stage::Enrollment { app, enrolled: None, .. } => app.as_ref(),
            _ => None,
        }
    }

    /// The phone being set up in the wizard, and the challenge sent to it.
    pub fn enrolling_phone(&self) -> Option<&(FactorId, String)> {
        match &self.stage {
            Stage::Enrollment { phone, enrolled: None, .. } => phone.as_ref(),
            _ => None,
        }
    }

    pub fn pending_reset(&self) -> Option<&PendingReset> {
        match &self.stage {
            Stage::PasswordChange(reset) => Some(reset),
            _ => None,
        }
    }

    /// The wizard owed after an existing factor was presented, if there is one.
    pub fn then_enroll(&self) -> Option<Owed> {
        match &self.stage {
            Stage::SecondFactor { then_enroll, .. } => *then_enroll,
            _ => None,
        }
    }

    fn with_stage(&self, stage: Stage) -> Self {
        Self { stage, ..self.clone() }
    }

    /// A text-message code was sent at the second-factor step.
    pub fn with_sms_challenge(&self, challenge: String) -> Option<Self> {
        match &self.stage {
            Stage::SecondFactor { owed, then_enroll, .. } => {
                Some(self.with_stage(Stage::SecondFactor { owed: *owed, then_enroll: *then_enroll, sms_challenge: Some(challenge) }))
            }
            _ => None,
        }
    }

    /// An existing factor was presented; the wizard may now add one that meets `then_enroll`.
    pub fn into_wizard(&self) -> Option<Self> {
        let owed = self.then_enroll()?;
        Some(Self { ceremony: None, ..self.with_stage(Stage::Enrollment { owed, app: None, phone: None, enrolled: None }) })
    }

    /// The wizard created the unconfirmed authenticator app `factor`.
    pub fn with_enrolling_app(&self, factor: FactorId) -> Option<Self> {
        match &self.stage {
            Stage::Enrollment { owed, phone, enrolled: None, .. } => {
                Some(self.with_stage(Stage::Enrollment { owed: *owed, app: Some(factor), phone: phone.clone(), enrolled: None }))
            }
            _ => None,
        }
    }

    /// The wizard sent `challenge` to the unconfirmed phone `factor`.
    pub fn with_enrolling_phone(&self, factor: FactorId, challenge: String) -> Option<Self> {
        match &self.stage {
            Stage::Enrollment { owed, app, enrolled: None, .. } => {
                Some(self.with_stage(Stage::Enrollment { owed: *owed, app: app.clone(), phone: Some((factor, challenge)), enrolled: None }))
            }
            _ => None,
        }
    }

    /// The wizard's factor is confirmed; what it proved counts as this sign-in's second factor.
    pub fn with_enrolled(&self, proof: EnrolledProof) -> Option<Self> {
        match &self.stage {
            Stage::Enrollment { owed, app, phone, enrolled: None } => Some(Self {
                ceremony: None,
                ..self.with_stage(Stage::Enrollment { owed: *owed, app: app.clone(), phone: phone.clone(), enrolled: Some(proof) })
            }),
            _ => None,
        }
    }

    /// Every factor is done; a new password is owed before the application gets its code.
    pub fn awaiting_password_change(&self, reset: PendingReset) -> Self {
        Self { ceremony: None, ..self.with_stage(Stage::PasswordChange(reset)) }
    }

    /// The password change's mailbox code was sent or tried.
    pub fn with_reset(&self, reset: PendingReset) -> Option<Self> {
        self.pending_reset().map(|_| self.with_stage(Stage::PasswordChange(reset)))
    }

    /// A WebAuthn ceremony was started for `kind`.
    pub fn with_ceremony(&self, kind: FactorKind, state: String) -> Self {
        Self { ceremony: Some(Ceremony { kind, state }), ..self.clone() }
    }

    /// The parked ceremony for `kind`, taken out so it is used once.
    pub fn take_ceremony(&self, kind: FactorKind) -> Option<(String, Self)> {
        let ceremony = self.ceremony.as_ref().filter(|c| c.kind == kind)?;
        Some((ceremony.state.clone(), Self { ceremony: None, ..self.clone() }))
    }

    pub fn encode(&self) -> String {
        // Plain strings, numbers and a JSON value: serialising cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The progress stored with a parked request; `None` when there is none or it cannot be
    /// read (a request parked by an older version: its sign-in starts again).
    pub fn decode(raw: Option<&str>) -> Option<Self> {
        serde_json::from_str(raw?).ok()
    }
}

/// Methods as their names, recovery codes included (the policy's own format refuses them,
/// as a domain may not configure them).
mod method_names {
    use gatehouse_policy::{Method, MethodSet};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(methods: &MethodSet, serializer: S) -> Result<S::Ok, S::Error> {
        methods.serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<MethodSet, D::Error> {
        let names = Vec::<String>::deserialize(deserializer)?;
        Ok(names.iter().filter_map(|name| Method::parse(name)).collect())
    }
}

#[cfg(test)]
mod tests;
