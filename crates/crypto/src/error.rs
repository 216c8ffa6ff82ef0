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
    #[error("password hash costs more than a sign-in may spend: {0}")]
    PasswordHashCost(String),
    #[error("random number generator failed")]
    Random,
    #[error("encryption failed")]
    Sealing,
    #[error("a sealed value could not be opened: wrong key, or the value is damaged")]
    Unsealing,
    #[error("a value sealed under key `{found}` was expected under key `{expected}`")]
    WrongKey { expected: String, found: String },
    #[error("master key `{0}` is not in the configured master keyring")]
    UnknownMasterKey(String),
    #[error("master keyring: {0}")]
    Keyring(String),
}
