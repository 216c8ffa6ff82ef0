//! Proof Key for Code Exchange (RFC 7636), S256 only: `plain` offers no protection against a
//! leaked authorization request, so RFC 9700 §2.1.1 lets us refuse it.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::OAuthError;

/// A validated S256 `code_challenge`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct CodeChallenge(String);

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

impl CodeChallenge {
    pub fn parse(challenge: &str, method: Option<&str>) -> Result<Self, OAuthError> {
        match method {
            Some("S256") => {}
            None | Some("plain") => {
                return Err(OAuthError::invalid_request("code_challenge_method must be S256; plain is not supported"));
            }
            Some(_) => return Err(OAuthError::invalid_request("unknown code_challenge_method; use S256")),
        }
        // A SHA-256 digest is 32 bytes: exactly 43 base64url characters without padding.
        let decoded = URL_SAFE_NO_PAD.decode(challenge).ok();
        if challenge.len() != 43 || decoded.is_none_or(|d| d.len() != 32) {
            return Err(OAuthError::invalid_request("code_challenge must be a base64url SHA-256 digest (43 characters)"));
        }
        Ok(Self(challenge.to_owned()))
    }

    /// The S256 challenge of a verifier (for relying parties, such as the built-in demo).
    pub fn s256_of(verifier: &str) -> Self {
        Self(URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())))
    }

    /// Restores a challenge that was validated before it was stored.
    pub fn from_stored(challenge: String) -> Self {
        Self(challenge)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// RFC 7636 §4.6, compared in constant time.
    pub fn verify(&self, verifier: &str) -> Result<(), OAuthError> {
        let shape_ok = (43..=128).contains(&verifier.len()) && verifier.bytes().all(is_unreserved);
        if !shape_ok {
            return Err(OAuthError::invalid_grant("code_verifier must be 43-128 unreserved characters"));
        }
        let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        if bool::from(computed.as_bytes().ct_eq(self.0.as_bytes())) {
            Ok(())
        } else {
            Err(OAuthError::invalid_grant("code_verifier does not match the code_challenge"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7636 Appendix B.
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn rfc7636_appendix_b_vector_verifies() {
        let c = CodeChallenge::parse(CHALLENGE, Some("S256")).unwrap();
        c.verify(VERIFIER).unwrap();
    }

    #[test]
    fn plain_and_missing_method_are_refused() {
        assert!(CodeChallenge::parse(CHALLENGE, Some("plain")).is_err());
        assert!(CodeChallenge::parse(CHALLENGE, None).is_err());
        assert!(CodeChallenge::parse("short", Some("S256")).is_err());
    }

    #[test]
    fn mismatched_or_malformed_verifier_is_invalid_grant() {
        let c = CodeChallenge::parse(CHALLENGE, Some("S256")).unwrap();
        let wrong = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXj";
        assert_eq!(c.verify(wrong).unwrap_err().code, crate::OAuthErrorCode::InvalidGrant);
        assert!(c.verify("short").is_err());
        assert!(c.verify(&format!("{VERIFIER} ")).is_err());
    }
}
