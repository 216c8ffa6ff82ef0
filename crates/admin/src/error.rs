//! The one error of the management services. The edge (`gatehouse-server`) maps each variant
//! to its RFC 9457 problem document or RFC 6750 / RFC 9470 bearer challenge; nothing here knows
//! a status code.

use gatehouse_crypto::CryptoError;
use gatehouse_ops::OpsError;
use gatehouse_signin::factors::MfaError;
use gatehouse_store::StoreError;

/// Why a management call was refused or failed. Titles and details are the text of the
/// problem document the edge sends, so they stay what clients already read.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The input is not valid (a problem titled "Invalid request").
    #[error("{0}")]
    BadRequest(String),
    /// The caller may not do this (another tenant, operators only, a role they cannot grant).
    #[error("{title}: {detail}")]
    Forbidden { title: &'static str, detail: String },
    /// No such thing, or one the caller may not see (another tenant's user reads as missing).
    #[error("{0}")]
    NotFound(&'static str),
    /// The change clashes with what is there (taken names, a lock-out, already done).
    #[error("{title}: {detail}")]
    Conflict { title: &'static str, detail: String },
    /// The sign-in behind the person's token is too weak or too old for this change (RFC 9470):
    /// a new one must meet `acr_values` within `max_age` seconds.
    #[error("{description}")]
    StepUp { acr_values: &'static str, max_age: u32, description: &'static str },
    /// The service cannot do this now (shutting down).
    #[error("{0}")]
    Unavailable(&'static str),
    /// A second factor could not be enrolled, confirmed or changed.
    #[error(transparent)]
    Factor(#[from] MfaError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error(transparent)]
    Ops(#[from] OpsError),
}

impl AdminError {
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::BadRequest(detail.into())
    }

    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::Conflict { title: "Conflict", detail: detail.into() }
    }
}

/// The result of a management service.
pub type Result<T, E = AdminError> = std::result::Result<T, E>;

/// A JSON body as the request type `T` (the body's shape is part of the input's validation).
pub fn parse_body<T: for<'de> serde::Deserialize<'de>>(body: &[u8]) -> Result<T> {
    serde_json::from_slice(body).map_err(|e| AdminError::bad_request(format!("the body is not valid: {e}")))
}
