//! Keyed digests for high-entropy secrets (client secrets, codes, refresh tokens, session
//! cookies). These are 256-bit random values, so a fast HMAC-SHA256 is as strong as a password
//! hash and keeps the token endpoint's hot path in the microseconds; the key (a "pepper" kept
//! in the data directory, not the database) means a stolen database alone cannot test guesses.

use aws_lc_rs::hmac;
use subtle::ConstantTimeEq;

pub struct SecretDigester {
    key: hmac::Key,
}

impl SecretDigester {
    pub fn new(pepper: &[u8]) -> Self {
        Self { key: hmac::Key::new(hmac::HMAC_SHA256, pepper) }
    }

    pub fn digest(&self, secret: &str) -> Vec<u8> {
        hmac::sign(&self.key, secret.as_bytes()).as_ref().to_vec()
    }

    /// Constant-time comparison of a presented secret against a stored digest.
    pub fn matches(&self, secret: &str, expected: &[u8]) -> bool {
        let tag = hmac::sign(&self.key, secret.as_bytes());
        bool::from(tag.as_ref().ct_eq(expected))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_matches_only_the_same_secret_and_pepper() {
        let d = SecretDigester::new(b"pepper");
        let stored = d.digest("s3cret");
        assert!(d.matches("s3cret", &stored));
        assert!(!d.matches("s3cret ", &stored));
        assert!(!SecretDigester::new(b"other").matches("s3cret", &stored));
        assert!(!d.matches("s3cret", &stored[..31]));
    }
}
