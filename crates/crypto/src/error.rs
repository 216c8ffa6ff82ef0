#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("key generation failed")]
    KeyGeneration,
    #[error("stored key material for `{kid}` could not be loaded")]
    KeyRejected { kid: String },
    #[error("signing failed")]
    Signing,
    #[error("token is malformed")]
    Malformed,
    #[error("token is signed by an unknown key")]
    UnknownKey,
    #[error("token signature is invalid")]
    BadSignature,
    #[error("password hashing parameters are invalid: {0}")]
    PasswordParams(String),
    #[error("password hash is not a valid PHC string")]
    PasswordHashFormat,
    #[error("random number generator failed")]
    Random,
}
