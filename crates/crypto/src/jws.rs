//! Compact JWS (RFC 7515) over this provider's own keys.
//!
//! Verification trusts nothing from the header but the `kid`: the key decides the algorithm, so
//! `alg: none` and algorithm-confusion attacks have nothing to work with.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gatehouse_wire::SigningAlg;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::sync::Arc;

use crate::{CryptoError, SigningKey};

/// The JOSE header fields Gatehouse reads.
#[derive(Debug, Deserialize)]
pub struct JwsHeader {
    pub alg: String,
    pub kid: Option<String>,
    pub typ: Option<String>,
}

/// Signs `claims` as a compact JWS with the given `typ` (`JWT`, `at+jwt`).
pub fn sign<T: serde::Serialize>(key: &SigningKey, typ: &str, claims: &T) -> Result<String, CryptoError> {
    let header = format!(r#"{{"alg":"{}","kid":"{}","typ":"{}"}}"#, key.alg().as_str(), key.kid(), typ);
    let payload = serde_json::to_vec(claims).map_err(|_| CryptoError::Signing)?;
    let mut out = String::with_capacity(header.len() * 4 / 3 + payload.len() * 4 / 3 + 360);
    URL_SAFE_NO_PAD.encode_string(header.as_bytes(), &mut out);
    out.push('.');
    URL_SAFE_NO_PAD.encode_string(&payload, &mut out);
    let signature = key.sign(out.as_bytes())?;
    out.push('.');
    URL_SAFE_NO_PAD.encode_string(&signature, &mut out);
    Ok(out)
}

/// The provider's keys: one active key per algorithm for signing, and every published key for
/// verification (including retired keys whose tokens may still be alive).
#[derive(Debug, Default, Clone)]
pub struct KeySet {
    keys: Vec<Arc<SigningKey>>,
    active: Vec<Arc<SigningKey>>,
}

impl KeySet {
    /// `keys` are published for verification; `active` kids sign new tokens.
    pub fn new(keys: Vec<Arc<SigningKey>>, active_kids: &[&str]) -> Self {
        let active = keys.iter().filter(|k| active_kids.contains(&k.kid())).cloned().collect();
        Self { keys, active }
    }

    pub fn active(&self, alg: SigningAlg) -> Option<&SigningKey> {
        self.active.iter().find(|k| k.alg() == alg).map(|k| k.as_ref())
    }

    pub fn find(&self, kid: &str) -> Option<&SigningKey> {
        self.keys.iter().find(|k| k.kid() == kid).map(|k| k.as_ref())
    }

    pub fn published(&self) -> impl Iterator<Item = &SigningKey> {
        self.keys.iter().map(|k| k.as_ref())
    }

    /// The JWKS document (RFC 7517 §5).
    pub fn jwks_json(&self) -> Vec<u8> {
        let keys: Vec<&serde_json::Value> = self.keys.iter().map(|k| k.public_jwk()).collect();
        serde_json::to_vec(&serde_json::json!({ "keys": keys })).unwrap_or_default()
    }

    /// Verifies a compact JWS signed by one of these keys and returns its header and claims.
    /// Expiry and audience are the caller's business.
    pub fn verify<T: DeserializeOwned>(&self, token: &str) -> Result<(JwsHeader, T), CryptoError> {
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err(CryptoError::Malformed);
        };
        let header_bytes = URL_SAFE_NO_PAD.decode(h).map_err(|_| CryptoError::Malformed)?;
        let header: JwsHeader = serde_json::from_slice(&header_bytes).map_err(|_| CryptoError::Malformed)?;
        let key = header.kid.as_deref().and_then(|kid| self.find(kid)).ok_or(CryptoError::UnknownKey)?;
        if header.alg != key.alg().as_str() {
            return Err(CryptoError::BadSignature);
        }
        let signature = URL_SAFE_NO_PAD.decode(s).map_err(|_| CryptoError::Malformed)?;
        let signed_len = h.len() + 1 + p.len();
        let signed = token.get(..signed_len).ok_or(CryptoError::Malformed)?;
        key.verify(signed.as_bytes(), &signature)?;
        let payload = URL_SAFE_NO_PAD.decode(p).map_err(|_| CryptoError::Malformed)?;
        let claims = serde_json::from_slice(&payload).map_err(|_| CryptoError::Malformed)?;
        Ok((header, claims))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn set() -> KeySet {
        let keys: Vec<Arc<SigningKey>> = SigningAlg::ALL.iter().map(|a| Arc::new(SigningKey::generate(*a).unwrap())).collect();
        let kids: Vec<String> = keys.iter().map(|k| k.kid().to_owned()).collect();
        let refs: Vec<&str> = kids.iter().map(String::as_str).collect();
        KeySet::new(keys, &refs)
    }

    #[test]
    fn round_trip_for_every_algorithm() {
        let set = set();
        for alg in SigningAlg::ALL {
            let token = sign(set.active(alg).unwrap(), "JWT", &json!({"sub": "u1"})).unwrap();
            let (header, claims): (JwsHeader, Value) = set.verify(&token).unwrap();
            assert_eq!(header.alg, alg.as_str());
            assert_eq!(claims["sub"], "u1");
        }
    }

    #[test]
    fn tampered_unsigned_and_foreign_tokens_are_rejected() {
        let set = set();
        let token = sign(set.active(SigningAlg::ES256).unwrap(), "at+jwt", &json!({"sub": "u1"})).unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        let forged_payload = URL_SAFE_NO_PAD.encode(br#"{"sub":"admin"}"#);
        let forged = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
        assert!(matches!(set.verify::<Value>(&forged), Err(CryptoError::BadSignature)));
        let none_header = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"none","kid":"{}"}}"#, set.active(SigningAlg::ES256).unwrap().kid()));
        let unsigned = format!("{none_header}.{}.", parts[1]);
        assert!(set.verify::<Value>(&unsigned).is_err());
        let other = set_from_one();
        assert!(matches!(other.verify::<Value>(&token), Err(CryptoError::UnknownKey)));
        assert!(matches!(set.verify::<Value>("a.b"), Err(CryptoError::Malformed)));
        assert!(matches!(set.verify::<Value>("a.b.c.d"), Err(CryptoError::Malformed)));
    }

    #[test]
    fn algorithm_confusion_is_rejected() {
        let set = set();
        let es = set.active(SigningAlg::ES256).unwrap();
        let token = sign(es, "JWT", &json!({"sub": "u1"})).unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        let header = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"RS256","kid":"{}"}}"#, es.kid()));
        let confused = format!("{header}.{}.{}", parts[1], parts[2]);
        assert!(matches!(set.verify::<Value>(&confused), Err(CryptoError::BadSignature)));
    }

    fn set_from_one() -> KeySet {
        let k = Arc::new(SigningKey::generate(SigningAlg::ES256).unwrap());
        let kid = k.kid().to_owned();
        KeySet::new(vec![k], &[&kid])
    }
}

/// `at_hash` (OIDC Core §3.1.3.6): the left half of the access token's hash, with the hash of
/// the ID token's algorithm (SHA-256 for RS256/ES256, SHA-512 for Ed25519).
pub fn at_hash(alg: SigningAlg, access_token: &str) -> String {
    let algorithm = match alg {
        SigningAlg::RS256 | SigningAlg::ES256 => &aws_lc_rs::digest::SHA256,
        SigningAlg::EdDSA => &aws_lc_rs::digest::SHA512,
    };
    let digest = aws_lc_rs::digest::digest(algorithm, access_token.as_bytes());
    let bytes = digest.as_ref();
    URL_SAFE_NO_PAD.encode(bytes.get(..bytes.len() / 2).unwrap_or_default())
}

#[cfg(test)]
mod at_hash_tests {
    #[test]
    fn oidc_core_at_hash_example() {
        // OIDC Core Appendix A.3/A.4 use this access token with at_hash "77QmUPtjPfzWtF2AnpK9RQ".
        assert_eq!(super::at_hash(gatehouse_wire::SigningAlg::RS256, "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"), "77QmUPtjPfzWtF2AnpK9RQ");
    }
}
