//! Cryptography for Gatehouse, built on aws-lc-rs and RustCrypto's argon2: token signing keys
//! (RS256, ES256, EdDSA), compact JWS, JWKS, Argon2id password hashing, keyed digests for
//! high-entropy secrets, one-time codes (TOTP, SMS), recovery codes, and random values.
//!
//! This crate holds no state about tenants or users and does no I/O; the server owns key
//! lifecycles and the store persists key material.

pub mod envelope;
mod error;
pub mod foreign;
pub mod jws;
pub mod keyring;
pub mod keys;
pub mod otp;
pub mod password;
pub mod random;
pub mod recovery;
pub mod secret;

pub use envelope::{BlindIndex, DataKey, KeyProvider};
pub use error::CryptoError;
pub use foreign::{ForeignKeySet, JwsRejection};
pub use jws::{JwsHeader, KeySet};
pub use keyring::MasterKeyring;
pub use keys::{Ed25519PublicKey, SigningKey};
pub use password::{PasswordHasher, PasswordParams};
pub use secret::SecretDigester;
