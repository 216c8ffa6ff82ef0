//! `/api/v1/me/factors` and `/api/v1/me/recovery-codes`: the signed-in person's second factors
//! (never a secret once enrolled) and their recovery codes.

use serde::{Deserialize, Serialize};

/// One second factor, as listed, confirmed or renamed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Factor {
    pub id: String,
    /// `totp`, `sms`, `security_key` or `passkey`.
    pub kind: String,
    pub label: String,
    /// False while enrolling (before the first code).
    pub confirmed: bool,
    /// Unix seconds.
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

/// `GET /api/v1/me/factors`
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FactorList {
    pub factors: Vec<Factor>,
    pub recovery_codes_left: u32,
}

/// `POST /api/v1/me/factors`
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewFactor {
    /// `totp`, `sms`, `security_key` or `passkey`.
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// E.164, for `sms` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

/// The answer to `POST /api/v1/me/factors`, by kind. Untagged: each shape has fields the
/// others lack, so the console tells them apart without a tag the API never sent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum EnrollmentStarted<O = serde_json::Value> {
    App(AppEnrollment),
    Phone(PhoneEnrollment),
    Key(KeyEnrollment<O>),
}

/// An authenticator app: its key, shown once, and the same as a QR code.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppEnrollment {
    pub factor: String,
    pub secret: String,
    pub otpauth_uri: String,
    /// A `data:image/svg+xml;base64,` URL.
    pub qr_code: String,
}

/// A phone: a code was sent; confirm with it and this challenge.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhoneEnrollment {
    pub factor: String,
    pub challenge: String,
}

/// A security key or passkey: WebAuthn creation options for the browser, and the ceremony to
/// answer with `POST /api/v1/me/factors/webauthn`. `O` is the server's typed options; readers
/// take them as JSON and hand them to the browser as they are.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyEnrollment<O = serde_json::Value> {
    pub ceremony: String,
    pub options: O,
}

/// `POST /api/v1/me/factors/webauthn`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterCredential {
    pub ceremony: String,
    /// The browser's `PublicKeyCredential`, as JSON.
    pub credential: serde_json::Value,
}

/// `POST /api/v1/me/factors/{id}/confirm`
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfirmFactor {
    pub code: String,
    /// For `sms` only: the challenge `POST /api/v1/me/factors` returned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub challenge: Option<String>,
}

/// `PATCH /api/v1/me/factors/{id}`
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenameFactor {
    pub label: String,
}

/// `POST /api/v1/me/recovery-codes`: ten new codes, shown once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveryCodes {
    pub codes: Vec<String>,
}
