//! Names that travel on the wire and that both the domain (`gatehouse-core`, which records a
//! client's choice) and the crypto crate (which signs with it) need. Living here, below both,
//! keeps `gatehouse-crypto` from depending on the domain for one enum.

use serde::{Deserialize, Serialize};

/// A JWS algorithm name Gatehouse does not sign with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a supported signing algorithm (RS256, ES256, EdDSA)")]
pub struct UnknownSigningAlg(pub String);

/// JWS algorithms Gatehouse signs with (RFC 7518 §3.1, RFC 8037 §3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum SigningAlg {
    /// OIDC's default for ID tokens; every client library understands it.
    #[default]
    RS256,
    ES256,
    EdDSA,
}

impl SigningAlg {
    pub const ALL: [SigningAlg; 3] = [SigningAlg::RS256, SigningAlg::ES256, SigningAlg::EdDSA];

    pub fn parse(input: &str) -> Result<Self, UnknownSigningAlg> {
        match input {
            "RS256" => Ok(Self::RS256),
            "ES256" => Ok(Self::ES256),
            "EdDSA" => Ok(Self::EdDSA),
            other => Err(UnknownSigningAlg(other.to_owned())),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::RS256 => "RS256",
            Self::ES256 => "ES256",
            Self::EdDSA => "EdDSA",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_signing_alg_parses_back_from_its_name() {
        for alg in SigningAlg::ALL {
            assert_eq!(SigningAlg::parse(alg.as_str()), Ok(alg));
        }
    }

    #[test]
    fn unknown_and_unsigned_algorithms_are_refused() {
        for name in ["none", "HS256", "rs256", ""] {
            assert_eq!(SigningAlg::parse(name), Err(UnknownSigningAlg(name.to_owned())));
        }
    }
}
