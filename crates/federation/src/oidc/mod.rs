//! An OpenID Connect upstream, with Gatehouse as its confidential client.

mod client;
pub mod id_token;
mod metadata;
mod userinfo;

pub use client::{AuthorizationAsk, Started, Trip, Upstreams};
pub use id_token::{Expected, IdTokenClaims, Rejection};
pub use metadata::Metadata;

/// Why talking to an upstream failed. The browser sees a generic page; the admin sees this.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("the provider could not be reached: {0}")]
    Unreachable(String),
    #[error("the provider answered {status} at {what}")]
    Status { what: &'static str, status: u16 },
    #[error("the provider's {0} is larger than Gatehouse accepts")]
    TooLarge(&'static str),
    #[error("the provider's {0} is not valid")]
    Invalid(&'static str),
    #[error("the provider's discovery document names issuer `{found}`, not the configured `{expected}`")]
    IssuerMismatch { expected: String, found: String },
    #[error("the provider refused the code: {0}")]
    TokenRefused(String),
    #[error("the ID token was refused: {0}")]
    IdToken(#[from] Rejection),
    #[error("the provider's client secret is missing")]
    NoSecret,
    /// OpenID Connect Core §5.3.2: a UserInfo answer about someone else (a substituted token).
    #[error("the UserInfo response is about another subject than the ID token (sub)")]
    UserInfoSubject,
    #[error("{0}")]
    Refused(String),
}
