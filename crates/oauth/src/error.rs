//! The token service's errors. Two, because they are two layers: `DirectoryError` is the
//! in-memory directory failing to load (the server answers it as an internal error wherever it
//! happens), `ServiceError` is the answer of a protocol operation, which is either a rejection
//! the client is told about (RFC 6749 §5.2, RFC 6750 §3, RFC 7662) or a failure below it.

use gatehouse_core::OAuthError;
use gatehouse_crypto::CryptoError;
use gatehouse_store::StoreError;

/// Loading the directory (keys, clients, tenants, users) from the store failed.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error("internal: {0}")]
    Internal(&'static str),
}

/// What a replayed credential was: the edge counts each kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Replay {
    /// An authorization code presented a second time (RFC 6749 §4.1.2).
    Code,
    /// A rotated-out refresh token presented again (RFC 9700 §4.14.2).
    RefreshToken,
}

/// Why a token, introspection, revocation or userinfo request was not answered with what it
/// asked for.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// Refused, with the RFC 6749 error the client gets.
    #[error("{}: {}", .0.code.as_str(), .0.description)]
    Rejected(OAuthError),
    /// A code or refresh token was used twice; its grant has been revoked (unless `revoking`
    /// failed, in which case that failure is the answer). The client gets `invalid_grant`.
    #[error("{replay:?} replayed")]
    Replayed { replay: Replay, revoking: Option<StoreError> },
    /// Too many failed authentications of this client from this address.
    #[error("client authentication locked out for {retry_after} s")]
    ClientLockedOut { retry_after: i64 },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error("internal: {0}")]
    Internal(&'static str),
}

impl From<OAuthError> for ServiceError {
    fn from(error: OAuthError) -> Self {
        Self::Rejected(error)
    }
}

impl From<DirectoryError> for ServiceError {
    fn from(error: DirectoryError) -> Self {
        match error {
            DirectoryError::Store(e) => Self::Store(e),
            DirectoryError::Crypto(e) => Self::Crypto(e),
            DirectoryError::Internal(what) => Self::Internal(what),
        }
    }
}

impl Replay {
    /// The error the client is told: the same whether or not the revocation went through.
    pub fn error(self) -> OAuthError {
        match self {
            Self::Code => OAuthError::invalid_grant("the authorization code was already used"),
            Self::RefreshToken => OAuthError::invalid_grant("the refresh token was already used"),
        }
    }
}

/// The error of a client locked out of authenticating: `invalid_client`, with Retry-After.
pub fn client_locked_out() -> OAuthError {
    OAuthError::new(gatehouse_core::OAuthErrorCode::InvalidClient, "too many failed authentications; retry later")
}
