//! Asymmetric signing keys for tokens. The kid is the key's RFC 7638 JWK thumbprint, so it is
//! stable, unique and derivable by anyone holding the public key.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use aws_lc_rs::signature::{self, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, ParsedPublicKey, RSA_PKCS1_SHA256};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gatehouse_wire::SigningAlg;
use serde_json::json;
use zeroize::Zeroizing;

use crate::CryptoError;

enum KeyPairInner {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

/// A private signing key with its public JWK and a parsed verifier.
pub struct SigningKey {
    kid: String,
    alg: SigningAlg,
    pair: KeyPairInner,
    pkcs8: Zeroizing<Vec<u8>>,
    jwk: serde_json::Value,
    verifier: ParsedPublicKey,
    rng: SystemRandom,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print private key material.
        f.debug_struct("SigningKey").field("kid", &self.kid).field("alg", &self.alg).finish_non_exhaustive()
    }
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn thumbprint(canonical: &str) -> String {
    b64(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, canonical.as_bytes()).as_ref())
}

impl SigningKey {
    /// Generates a fresh key for `alg` (RSA 2048, P-256 or Ed25519).
    pub fn generate(alg: SigningAlg) -> Result<Self, CryptoError> {
        let rng = SystemRandom::new();
        let pkcs8: Vec<u8> = match alg {
            SigningAlg::RS256 => {
                let pair = RsaKeyPair::generate(KeySize::Rsa2048).map_err(|_| CryptoError::KeyGeneration)?;
                let der = pair.as_der().map_err(|_| CryptoError::KeyGeneration)?;
                der.as_ref().to_vec()
            }
            SigningAlg::ES256 => {
                EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).map_err(|_| CryptoError::KeyGeneration)?.as_ref().to_vec()
            }
            SigningAlg::EdDSA => Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| CryptoError::KeyGeneration)?.as_ref().to_vec(),
        };
        Self::from_pkcs8(alg, pkcs8)
    }

    /// Loads a stored PKCS#8 key.
    pub fn from_pkcs8(alg: SigningAlg, pkcs8: Vec<u8>) -> Result<Self, CryptoError> {
        let rejected = || CryptoError::KeyRejected { kid: format!("({} key)", alg.as_str()) };
        let (pair, canonical, jwk_fields, verifier) = match alg {
            SigningAlg::RS256 => {
                let pair = RsaKeyPair::from_pkcs8(&pkcs8).map_err(|_| rejected())?;
                let public = pair.public_key();
                let n = b64(public.modulus().big_endian_without_leading_zero());
                let e = b64(public.exponent().big_endian_without_leading_zero());
                let canonical = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
                let verifier = ParsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, public.as_ref()).map_err(|_| rejected())?;
                (KeyPairInner::Rsa(pair), canonical, json!({"kty": "RSA", "n": n, "e": e}), verifier)
            }
            SigningAlg::ES256 => {
                let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8).map_err(|_| rejected())?;
                let point = pair.public_key().as_ref();
                // Uncompressed SEC1 point: 0x04 || x (32) || y (32).
                let (x, y) = match point {
                    [0x04, rest @ ..] if rest.len() == 64 => rest.split_at(32),
                    _ => return Err(rejected()),
                };
                let (x, y) = (b64(x), b64(y));
                let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
                let verifier = ParsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point).map_err(|_| rejected())?;
                (KeyPairInner::Ec(pair), canonical, json!({"kty": "EC", "crv": "P-256", "x": x, "y": y}), verifier)
            }
            SigningAlg::EdDSA => {
                let pair = Ed25519KeyPair::from_pkcs8(&pkcs8).map_err(|_| rejected())?;
                let x = b64(pair.public_key().as_ref());
                let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
                let verifier = ParsedPublicKey::new(&signature::ED25519, pair.public_key().as_ref()).map_err(|_| rejected())?;
                (KeyPairInner::Ed(pair), canonical, json!({"kty": "OKP", "crv": "Ed25519", "x": x}), verifier)
            }
        };
        let kid = thumbprint(&canonical);
        let mut jwk = jwk_fields;
        if let Some(obj) = jwk.as_object_mut() {
            obj.insert("kid".into(), json!(kid));
            obj.insert("alg".into(), json!(alg.as_str()));
            obj.insert("use".into(), json!("sig"));
        }
        Ok(Self { kid, alg, pair, pkcs8: Zeroizing::new(pkcs8), jwk, verifier, rng: SystemRandom::new() })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }
    pub fn alg(&self) -> SigningAlg {
        self.alg
    }
    /// The private key as PKCS#8 DER, for the store. Handle as a secret.
    pub fn pkcs8(&self) -> &[u8] {
        &self.pkcs8
    }
    /// The public JWK (RFC 7517) with `kid`, `alg` and `use`.
    pub fn public_jwk(&self) -> &serde_json::Value {
        &self.jwk
    }

    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, CryptoError> {
        match &self.pair {
            KeyPairInner::Rsa(pair) => {
                let mut sig = vec![0u8; pair.public_modulus_len()];
                pair.sign(&RSA_PKCS1_SHA256, &self.rng, message, &mut sig).map_err(|_| CryptoError::Signing)?;
                Ok(sig)
            }
            KeyPairInner::Ec(pair) => Ok(pair.sign(&self.rng, message).map_err(|_| CryptoError::Signing)?.as_ref().to_vec()),
            KeyPairInner::Ed(pair) => Ok(pair.sign(message).as_ref().to_vec()),
        }
    }

    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), CryptoError> {
        self.verifier.verify_sig(message, signature).map_err(|_| CryptoError::BadSignature)
    }
}

/// A public Ed25519 key from its JWK (`kty` OKP, `crv` Ed25519): checks signatures without the
/// private key, e.g. audit checkpoints against a copy of the key kept on another machine. The
/// kid is recomputed from the key (RFC 7638), never taken from the JWK.
pub struct Ed25519PublicKey {
    kid: String,
    verifier: ParsedPublicKey,
}

impl Ed25519PublicKey {
    pub fn from_jwk(jwk: &serde_json::Value) -> Result<Self, CryptoError> {
        let rejected = || CryptoError::KeyRejected { kid: "(Ed25519 public key)".into() };
        let field = |name: &str| jwk.get(name).and_then(serde_json::Value::as_str);
        if field("kty") != Some("OKP") || field("crv") != Some("Ed25519") {
            return Err(rejected());
        }
        let x = field("x").ok_or_else(rejected)?;
        let bytes = URL_SAFE_NO_PAD.decode(x).map_err(|_| rejected())?;
        if bytes.len() != 32 {
            return Err(rejected());
        }
        let verifier = ParsedPublicKey::new(&signature::ED25519, &bytes).map_err(|_| rejected())?;
        let kid = thumbprint(&format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#, b64(&bytes)));
        Ok(Self { kid, verifier })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), CryptoError> {
        self.verifier.verify_sig(message, signature).map_err(|_| CryptoError::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_algorithm_signs_verifies_and_reloads_with_the_same_kid() {
        for alg in SigningAlg::ALL {
            let key = SigningKey::generate(alg).unwrap();
            let sig = key.sign(b"message").unwrap();
            key.verify(b"message", &sig).unwrap();
            assert!(key.verify(b"messagf", &sig).is_err());
            let reloaded = SigningKey::from_pkcs8(alg, key.pkcs8().to_vec()).unwrap();
            assert_eq!(reloaded.kid(), key.kid());
            assert_eq!(reloaded.public_jwk()["alg"], alg.as_str());
            assert!(format!("{key:?}").len() < 100, "debug output must not include key material");
        }
    }

    #[test]
    fn rfc7638_thumbprint_vector() {
        // RFC 7638 §3.1 example.
        let canonical = r#"{"e":"AQAB","kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"}"#;
        assert_eq!(thumbprint(canonical), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    }

    #[test]
    fn an_ed25519_public_jwk_verifies_what_its_private_key_signed_and_nothing_else() {
        let key = SigningKey::generate(SigningAlg::EdDSA).unwrap();
        let public = Ed25519PublicKey::from_jwk(key.public_jwk()).unwrap();
        assert_eq!(public.kid(), key.kid(), "the same RFC 7638 thumbprint");
        let signature = key.sign(b"checkpoint").unwrap();
        assert!(public.verify(b"checkpoint", &signature).is_ok());
        assert!(public.verify(b"checkpoinT", &signature).is_err());
        let es = SigningKey::generate(SigningAlg::ES256).unwrap();
        assert!(Ed25519PublicKey::from_jwk(es.public_jwk()).is_err(), "only Ed25519");
        assert!(Ed25519PublicKey::from_jwk(&json!({"kty": "OKP", "crv": "Ed25519", "x": "short"})).is_err());
    }
}
