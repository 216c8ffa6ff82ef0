//! The operations' error: what a job or an operation can fail with, mapped once at the edge
//! (the server turns it into its own error, the binary into a message). It must not carry
//! HTTP statuses: what a failure means to a client is the edge's decision.

use gatehouse_crypto::CryptoError;
use gatehouse_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    /// Settings that cannot work (an alert sink that cannot be built, lockout rules refused).
    #[error("configuration: {0}")]
    Config(String),
    #[error("internal: {0}")]
    Internal(&'static str),
}
