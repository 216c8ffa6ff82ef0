//! How far a parked sign-in got, stored as JSON in `PendingAuthorization::progress`.
//!
//! Written once the first factor passed (or an SSO session stood in for it) and replaced by
//! compare-and-set at each later step, so two tabs racing on one request cannot both advance it.

use gatehouse_policy::{AuthLevel, Method, MethodSet};
use serde::{Deserialize, Serialize};

/// The state of the second-factor step or the enrollment wizard.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// Who passed the first factor.
    pub user_id: String,
    /// Methods already proved (RFC 8176 values: `pwd`, ...).
    pub amr: Vec<String>,
    /// When the first factor was proved (unix seconds).
    pub auth_time: i64,
    /// The level the second factor must reach.
    pub level: AuthLevel,
    /// What the user may present (or, enrolling, enroll in), as method names.
    pub methods: Vec<String>,
    /// True in the enrollment wizard: the user has no usable factor yet.
    pub enroll: bool,
    /// The wizard to open once an existing factor was presented: (level, methods). A user who
    /// has a factor that cannot meet the level asked must prove it before enrolling another,
    /// or a password alone would let anyone add their own authenticator to the account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub then_enroll: Option<(AuthLevel, Vec<String>)>,
    /// The SMS challenge last sent for this sign-in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sms_challenge: Option<String>,
    /// The factor being enrolled in the wizard (unconfirmed until its first code).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enrolling_factor: Option<String>,
    /// A phone being enrolled in the wizard: its factor and the code sent to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enrolling_sms: Option<(String, String)>,
    /// The wizard's factor is confirmed; what is left is to show recovery codes and continue.
    #[serde(default)]
    pub enrolled: bool,
    /// What the factor enrolled in the wizard proved (RFC 8176 value and level).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enrolled_proof: Option<(String, AuthLevel)>,
    /// A WebAuthn ceremony in flight (sign-in or registration), as `webauthn-rs` serialised it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ceremony: Option<Ceremony>,
    /// The policy decision, as recorded with the sign-in.
    pub decision: serde_json::Value,
    /// Days a completed second factor may be remembered on this browser (0: never offered).
    #[serde(default)]
    pub remember_device_days: u16,
    /// Every factor is done but a reported sign-in requires a new password first: what was
    /// proved, kept until the password is changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_reset: Option<PendingReset>,
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
    pub kind: String,
    pub state: String,
}

impl Progress {
    /// The progress of a sign-in that proved `amr` at `auth_time` and must now reach `level`
    /// with one of `methods`; every later step's state starts empty.
    pub fn new(user_id: &str, amr: Vec<String>, auth_time: i64, level: AuthLevel, methods: Vec<String>, decision: serde_json::Value) -> Self {
        Self {
            user_id: user_id.to_owned(),
            amr,
            auth_time,
            level,
            methods,
            enroll: false,
            then_enroll: None,
            sms_challenge: None,
            enrolling_factor: None,
            enrolling_sms: None,
            enrolled: false,
            enrolled_proof: None,
            ceremony: None,
            decision,
            remember_device_days: 0,
            password_reset: None,
        }
    }

    pub fn method_set(&self) -> MethodSet {
        self.methods.iter().filter_map(|m| Method::parse(m)).collect()
    }

    pub fn offers(&self, method: Method) -> bool {
        self.method_set().contains(method)
    }

    pub fn encode(&self) -> String {
        // Serialising plain strings, numbers and a JSON value cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn decode(raw: Option<&str>) -> Option<Self> {
        serde_json::from_str(raw?).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_reads_methods() {
        let progress = Progress {
            user_id: "u1".into(),
            amr: vec!["pwd".into()],
            auth_time: 1_700_000_000,
            level: AuthLevel::Mfa,
            methods: vec!["totp".into(), "recovery_code".into(), "bogus".into()],
            enroll: false,
            then_enroll: None,
            sms_challenge: None,
            enrolling_factor: None,
            enrolling_sms: None,
            enrolled: false,
            enrolled_proof: None,
            ceremony: Some(Ceremony { kind: "passkey".into(), state: "{}".into() }),
            decision: serde_json::json!({ "winning_rule": { "code": "domain_required" } }),
            remember_device_days: 30,
            password_reset: None,
        };
        let decoded = Progress::decode(Some(&progress.encode())).unwrap();
        assert_eq!(decoded, progress);
        assert!(decoded.offers(Method::Totp) && decoded.offers(Method::RecoveryCode));
        assert!(!decoded.offers(Method::Sms));
        assert_eq!(decoded.method_set().len(), 2, "unknown names are ignored");
        assert_eq!(Progress::decode(None), None);
        assert_eq!(Progress::decode(Some("{not json")), None);
    }
}
