//! Random values from the operating system's CSPRNG (through aws-lc-rs).

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::CryptoError;

pub fn bytes<const N: usize>() -> Result<[u8; N], CryptoError> {
    let mut out = [0u8; N];
    SystemRandom::new().fill(&mut out).map_err(|_| CryptoError::Random)?;
    Ok(out)
}

/// Initialises the CSPRNG. aws-lc seeds it once per process with CPU-jitter entropy, which
/// takes ~45 ms; calling this on a spare thread at start-up overlaps that with other work
/// instead of delaying the first caller.
pub fn warm_up() {
    let _ = bytes::<1>();
}

/// A 256-bit secret as 43 base64url characters: codes, refresh tokens, session cookies,
/// generated client secrets.
pub fn token() -> Result<String, CryptoError> {
    Ok(URL_SAFE_NO_PAD.encode(bytes::<32>()?))
}

/// A 128-bit identifier as 22 base64url characters: user ids, session ids, grant ids.
pub fn id() -> Result<String, CryptoError> {
    Ok(URL_SAFE_NO_PAD.encode(bytes::<16>()?))
}

#[cfg(test)]
mod tests {
    #[test]
    fn tokens_are_distinct_and_sized() {
        let a = super::token().unwrap();
        let b = super::token().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert_eq!(super::id().unwrap().len(), 22);
    }
}
