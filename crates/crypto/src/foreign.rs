//! Another provider's public keys (an upstream identity provider's JWKS) and compact JWS signed
//! by them, verified with aws-lc-rs.
//!
//! Unlike [`crate::KeySet`], where the key decides the algorithm, a foreign token names its own
//! `alg`, so the checks are: the `alg` is on the caller's allow-list (never `none`, never a MAC:
//! a public key used as an HMAC secret is the classic confusion attack), the key is one of the
//! published set (never a key carried in the token's header: `jwk`, `jku`, `x5u` and `x5c` are
//! ignored), the key's type fits the algorithm, and a key that names its own `alg` or `use`
//! agrees.

use aws_lc_rs::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey, VerificationAlgorithm};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

/// The JWS algorithms an upstream ID token may use (RFC 7518 §3.1, RFC 8037). MACs and `none`
/// are not among them.
pub const ASYMMETRIC_ALGS: [&str; 9] = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA"];

/// Why a foreign token's signature was not accepted. Each names the check that failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum JwsRejection {
    #[error("the token is not a compact JWS")]
    Malformed,
    #[error("the signing algorithm `{0}` is not allowed")]
    AlgorithmNotAllowed(String),
    #[error("no published key matches the token's `kid`")]
    UnknownKey,
    #[error("the key named by `kid` does not fit the token's algorithm")]
    KeyMismatch,
    #[error("the signature does not verify")]
    BadSignature,
    #[error("the token names critical extensions (`crit`) Gatehouse does not understand")]
    CriticalExtension,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Material {
    Rsa { n: Vec<u8>, e: Vec<u8> },
    Ec { curve: Curve, point: Vec<u8> },
    Ed25519(Vec<u8>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Curve {
    P256,
    P384,
}

/// One published public key of another provider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForeignKey {
    kid: Option<String>,
    /// The key's own `alg`, when its JWK names one.
    alg: Option<String>,
    material: Material,
}

#[derive(Deserialize)]
struct Jwk {
    kty: String,
    kid: Option<String>,
    alg: Option<String>,
    #[serde(rename = "use")]
    usage: Option<String>,
    n: Option<String>,
    e: Option<String>,
    crv: Option<String>,
    x: Option<String>,
    y: Option<String>,
}

fn decode(field: Option<&String>) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(field?.trim_end_matches('=')).ok()
}

impl ForeignKey {
    /// A key from its JWK, or `None` for a key that cannot verify signatures (encryption keys,
    /// symmetric keys, unknown curves, RSA under 2048 bits).
    fn from_jwk(jwk: Jwk) -> Option<Self> {
        if jwk.usage.as_deref().is_some_and(|u| u != "sig") {
            return None;
        }
        let material = match (jwk.kty.as_str(), jwk.crv.as_deref()) {
            ("RSA", _) => {
                let n = decode(jwk.n.as_ref())?;
                let e = decode(jwk.e.as_ref())?;
                let significant = n.iter().skip_while(|b| **b == 0).count();
                (significant * 8 >= 2048).then_some(Material::Rsa { n, e })?
            }
            ("EC", Some(crv @ ("P-256" | "P-384"))) => {
                let (curve, len) = if crv == "P-256" { (Curve::P256, 32) } else { (Curve::P384, 48) };
                let (x, y) = (decode(jwk.x.as_ref())?, decode(jwk.y.as_ref())?);
                if x.len() != len || y.len() != len {
                    return None;
                }
                let mut point = Vec::with_capacity(1 + 2 * len);
                point.push(0x04);
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                Material::Ec { curve, point }
            }
            ("OKP", Some("Ed25519")) => {
                let x = decode(jwk.x.as_ref())?;
                (x.len() == 32).then_some(Material::Ed25519(x))?
            }
            _ => return None,
        };
        Some(Self { kid: jwk.kid, alg: jwk.alg, material })
    }

    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// Whether this key can verify `alg` (its type fits and, if the JWK names an `alg`, it is
    /// that one).
    fn fits(&self, alg: &str) -> bool {
        if self.alg.as_deref().is_some_and(|own| own != alg) {
            return false;
        }
        matches!(
            (&self.material, alg),
            (Material::Rsa { .. }, "RS256" | "RS384" | "RS512" | "PS256" | "PS384" | "PS512")
                | (Material::Ec { curve: Curve::P256, .. }, "ES256")
                | (Material::Ec { curve: Curve::P384, .. }, "ES384")
                | (Material::Ed25519(_), "EdDSA")
        )
    }

    fn verify(&self, alg: &str, message: &[u8], signature: &[u8]) -> Result<(), JwsRejection> {
        let rsa = |params: &'static signature::RsaParameters, n: &[u8], e: &[u8]| {
            RsaPublicKeyComponents { n, e }.verify(params, message, signature).map_err(|_| JwsRejection::BadSignature)
        };
        let unparsed = |algorithm: &'static dyn VerificationAlgorithm, key: &[u8]| {
            UnparsedPublicKey::new(algorithm, key).verify(message, signature).map_err(|_| JwsRejection::BadSignature)
        };
        match (&self.material, alg) {
            (Material::Rsa { n, e }, "RS256") => rsa(&signature::RSA_PKCS1_2048_8192_SHA256, n, e),
            (Material::Rsa { n, e }, "RS384") => rsa(&signature::RSA_PKCS1_2048_8192_SHA384, n, e),
            (Material::Rsa { n, e }, "RS512") => rsa(&signature::RSA_PKCS1_2048_8192_SHA512, n, e),
            (Material::Rsa { n, e }, "PS256") => rsa(&signature::RSA_PSS_2048_8192_SHA256, n, e),
            (Material::Rsa { n, e }, "PS384") => rsa(&signature::RSA_PSS_2048_8192_SHA384, n, e),
            (Material::Rsa { n, e }, "PS512") => rsa(&signature::RSA_PSS_2048_8192_SHA512, n, e),
            (Material::Ec { curve: Curve::P256, point }, "ES256") => unparsed(&signature::ECDSA_P256_SHA256_FIXED, point),
            (Material::Ec { curve: Curve::P384, point }, "ES384") => unparsed(&signature::ECDSA_P384_SHA384_FIXED, point),
            (Material::Ed25519(x), "EdDSA") => unparsed(&signature::ED25519, x),
            _ => Err(JwsRejection::KeyMismatch),
        }
    }
}

/// Another provider's published signing keys (its JWKS).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ForeignKeySet {
    keys: Vec<ForeignKey>,
}

#[derive(Deserialize)]
struct JwksDocument {
    keys: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct ForeignHeader {
    alg: String,
    kid: Option<String>,
    /// Extensions the token says must be understood (RFC 7515 §4.1.11): Gatehouse understands
    /// none (`b64: false` among them), so a token naming any is refused.
    crit: Option<serde_json::Value>,
}

/// A verified foreign token: its header's `alg` and `kid`, and its payload's bytes.
#[derive(Debug)]
pub struct VerifiedJws {
    pub alg: String,
    pub kid: Option<String>,
    pub payload: Vec<u8>,
}

impl ForeignKeySet {
    /// The signing keys of a JWKS document (RFC 7517 §5); keys that cannot verify are skipped.
    /// `None` when the document is not a JWKS.
    pub fn from_jwks(document: &[u8]) -> Option<Self> {
        let parsed: JwksDocument = serde_json::from_slice(document).ok()?;
        let keys = parsed.keys.into_iter().filter_map(|v| serde_json::from_value::<Jwk>(v).ok()).filter_map(ForeignKey::from_jwk).collect();
        Some(Self { keys })
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Whether a key with this `kid` is published (an unknown one sends the caller to fetch
    /// the JWKS again: the provider may have rotated).
    pub fn has_kid(&self, kid: &str) -> bool {
        self.keys.iter().any(|k| k.kid() == Some(kid))
    }

    /// The `kid` a compact JWS names, read without verifying anything.
    pub fn kid_of(token: &str) -> Option<String> {
        let header = token.split('.').next()?;
        let bytes = URL_SAFE_NO_PAD.decode(header).ok()?;
        serde_json::from_slice::<ForeignHeader>(&bytes).ok()?.kid
    }

    /// Verifies a compact JWS with one of these keys, its `alg` one of `allowed`. Without a
    /// `kid`, the token must fit exactly one published key.
    pub fn verify(&self, token: &str, allowed: &[&str]) -> Result<VerifiedJws, JwsRejection> {
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err(JwsRejection::Malformed);
        };
        let header_bytes = URL_SAFE_NO_PAD.decode(h).map_err(|_| JwsRejection::Malformed)?;
        let header: ForeignHeader = serde_json::from_slice(&header_bytes).map_err(|_| JwsRejection::Malformed)?;
        if !ASYMMETRIC_ALGS.contains(&header.alg.as_str()) || !allowed.contains(&header.alg.as_str()) {
            return Err(JwsRejection::AlgorithmNotAllowed(header.alg));
        }
        if header.crit.is_some() {
            return Err(JwsRejection::CriticalExtension);
        }
        let key = match header.kid.as_deref() {
            Some(kid) => {
                let key = self.keys.iter().find(|k| k.kid() == Some(kid)).ok_or(JwsRejection::UnknownKey)?;
                if !key.fits(&header.alg) {
                    return Err(JwsRejection::KeyMismatch);
                }
                key
            }
            None => {
                let mut fitting = self.keys.iter().filter(|k| k.fits(&header.alg));
                match (fitting.next(), fitting.next()) {
                    (Some(key), None) => key,
                    _ => return Err(JwsRejection::UnknownKey),
                }
            }
        };
        let signature = URL_SAFE_NO_PAD.decode(s).map_err(|_| JwsRejection::Malformed)?;
        let signed = token.get(..h.len() + 1 + p.len()).ok_or(JwsRejection::Malformed)?;
        key.verify(&header.alg, signed.as_bytes(), &signature)?;
        let payload = URL_SAFE_NO_PAD.decode(p).map_err(|_| JwsRejection::Malformed)?;
        Ok(VerifiedJws { alg: header.alg, kid: header.kid, payload })
    }
}

#[cfg(test)]
mod tests;
