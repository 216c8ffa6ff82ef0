//! Argon2id password hashing (RFC 9106) with OWASP's parameters by default.
//!
//! `verify` always performs one Argon2 computation, against a dummy hash when the account does
//! not exist, so unknown users and wrong passwords take the same time.

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::{CryptoError, random};

/// Bounds on a hash brought from another system: 256 MiB, eight times OWASP's work (RFC 9106's
/// m=64 MiB, t=3 fits), eight lanes.
const MAX_IMPORTED_MEMORY_KIB: u64 = 262_144;
const MAX_IMPORTED_WORK: u64 = 8 * 19_456 * 2;
const MAX_IMPORTED_LANES: u32 = 8;

/// Argon2id cost parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PasswordParams {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for PasswordParams {
    /// OWASP Password Storage Cheat Sheet: m=19 MiB, t=2, p=1.
    fn default() -> Self {
        Self { memory_kib: 19_456, iterations: 2, parallelism: 1 }
    }
}

pub struct PasswordHasher {
    argon: Argon2<'static>,
    dummy_hash: String,
}

impl PasswordHasher {
    pub fn new(params: PasswordParams) -> Result<Self, CryptoError> {
        let argon_params =
            Params::new(params.memory_kib, params.iterations, params.parallelism, None).map_err(|e| CryptoError::PasswordParams(e.to_string()))?;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, argon_params);
        // A well-formed hash with these parameters and a random salt. Verifying against it costs
        // exactly one Argon2 computation, like a real account, without paying one at start-up.
        let salt = SaltString::encode_b64(&random::bytes::<16>()?).map_err(|_| CryptoError::Random)?;
        let output = base64::Engine::encode(&base64::engine::general_purpose::STANDARD_NO_PAD, random::bytes::<32>()?);
        let dummy_hash = format!("$argon2id$v=19$m={},t={},p={}${}${output}", params.memory_kib, params.iterations, params.parallelism, salt.as_str());
        PasswordHash::new(&dummy_hash).map_err(|e| CryptoError::PasswordParams(e.to_string()))?;
        Ok(Self { argon, dummy_hash })
    }

    /// Hashes a password with a fresh 128-bit salt into a PHC string.
    pub fn hash(&self, password: &str) -> Result<String, CryptoError> {
        let salt = SaltString::encode_b64(&random::bytes::<16>()?).map_err(|_| CryptoError::Random)?;
        self.argon.hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(|e| CryptoError::PasswordParams(e.to_string()))
    }

    /// Checks a stored hash is a parseable Argon2 PHC string (for imported `password_hash`).
    pub fn validate_hash(hash: &str) -> Result<(), CryptoError> {
        let parsed = PasswordHash::new(hash).map_err(|_| CryptoError::PasswordHashFormat)?;
        if !matches!(parsed.algorithm.as_str(), "argon2id" | "argon2i" | "argon2d") {
            return Err(CryptoError::PasswordHashFormat);
        }
        // Every sign-in to the account (and every wrong guess at it) runs this hash's cost: a
        // hash from elsewhere may not make one sign-in a denial of service.
        let params = Params::try_from(&parsed).map_err(|_| CryptoError::PasswordHashFormat)?;
        let (memory, iterations, lanes) = (u64::from(params.m_cost()), u64::from(params.t_cost()), params.p_cost());
        if memory > MAX_IMPORTED_MEMORY_KIB || memory * iterations > MAX_IMPORTED_WORK || lanes > MAX_IMPORTED_LANES {
            return Err(CryptoError::PasswordHashCost(format!(
                "m={memory}, t={iterations}, p={lanes}; at most m={MAX_IMPORTED_MEMORY_KIB} KiB, m×t={MAX_IMPORTED_WORK} and p={MAX_IMPORTED_LANES}"
            )));
        }
        Ok(())
    }

    /// Verifies `password` against `stored`; with no stored hash it burns the same time
    /// against a dummy hash and returns false.
    pub fn verify(&self, password: &str, stored: Option<&str>) -> bool {
        let (hash, real) = match stored {
            Some(h) => (h, true),
            None => (self.dummy_hash.as_str(), false),
        };
        let Ok(parsed) = PasswordHash::new(hash) else {
            let _ = self.argon.verify_password(password.as_bytes(), &self.dummy_parsed());
            return false;
        };
        // The hash carries its own parameters; `verify_password` honours them.
        let ok = self.argon.verify_password(password.as_bytes(), &parsed).is_ok();
        ok && real
    }

    fn dummy_parsed(&self) -> PasswordHash<'_> {
        // The dummy hash was produced by this hasher, so it always parses; fall back to an
        // empty-salt hash structure only in the impossible case it does not.
        PasswordHash::new(&self.dummy_hash).unwrap_or_else(|_| PasswordHash {
            algorithm: argon2::ARGON2ID_IDENT,
            version: None,
            params: Default::default(),
            salt: None,
            hash: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> PasswordHasher {
        PasswordHasher::new(PasswordParams { memory_kib: 64, iterations: 1, parallelism: 1 }).unwrap()
    }

    #[test]
    fn hash_then_verify() {
        let h = cheap();
        let stored = h.hash("a long passphrase").unwrap();
        assert!(stored.starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
        assert!(h.verify("a long passphrase", Some(&stored)));
        assert!(!h.verify("a long passphrase!", Some(&stored)));
    }

    #[test]
    fn unknown_user_and_garbage_hash_never_verify() {
        let h = cheap();
        assert!(!h.verify("gatehouse dummy password for timing equality", None));
        assert!(!h.verify("x", Some("not a hash")));
    }

    #[test]
    fn imported_hashes_are_validated() {
        assert!(PasswordHasher::validate_hash("$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo").is_ok());
        assert!(PasswordHasher::validate_hash("$2b$12$abcdefghijklmnopqrstuv").is_err());
        assert!(PasswordHasher::validate_hash("plain").is_err());
        assert!(PasswordHasher::validate_hash("$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo").is_ok(), "RFC 9106's second choice");
        for costly in [
            "$argon2id$v=19$m=65536,t=40,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
            "$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
            "$argon2id$v=19$m=65536,t=1,p=255$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
        ] {
            assert!(matches!(PasswordHasher::validate_hash(costly), Err(CryptoError::PasswordHashCost(_))), "{costly}");
        }
    }

    #[test]
    fn dummy_hash_costs_the_same_parameters() {
        let h = cheap();
        assert!(h.dummy_hash.starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
        let parsed = PasswordHash::new(&h.dummy_hash).unwrap();
        assert_eq!(parsed.hash.unwrap().len(), 32);
    }

    #[test]
    fn owasp_defaults() {
        assert_eq!(PasswordParams::default(), PasswordParams { memory_kib: 19_456, iterations: 2, parallelism: 1 });
    }
}
