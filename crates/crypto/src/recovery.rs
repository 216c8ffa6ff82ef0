//! Recovery codes: ten single-use codes shown once, stored only as keyed digests.
//!
//! Each code carries 50 random bits as ten Base32 characters (`abcde-fghij`), enough with
//! throttling; the digest uses the data directory's pepper like other secrets, so the
//! database alone cannot test guesses offline.

use data_encoding::BASE32_NOPAD;
use zeroize::Zeroizing;

use crate::{CryptoError, SecretDigester, random};

pub const RECOVERY_CODE_COUNT: usize = 10;

/// A fresh set of codes, to show once, and their digests, to store.
pub struct RecoveryCodes {
    pub codes: Vec<Zeroizing<String>>,
    pub digests: Vec<Vec<u8>>,
}

pub fn generate(digester: &SecretDigester) -> Result<RecoveryCodes, CryptoError> {
    let mut codes = Vec::with_capacity(RECOVERY_CODE_COUNT);
    let mut digests = Vec::with_capacity(RECOVERY_CODE_COUNT);
    for _ in 0..RECOVERY_CODE_COUNT {
        // 7 random bytes encode to 12 Base32 characters; the first 10 carry 50 bits.
        let encoded = BASE32_NOPAD.encode(&random::bytes::<7>()?).to_ascii_lowercase();
        let body = encoded.get(..10).ok_or(CryptoError::Random)?;
        let code = Zeroizing::new(format!("{}-{}", body.get(..5).unwrap_or_default(), body.get(5..).unwrap_or_default()));
        digests.push(digest(digester, &code));
        codes.push(code);
    }
    Ok(RecoveryCodes { codes, digests })
}

/// The digest of a code as a person typed it: case, spaces and dashes do not matter.
pub fn digest(digester: &SecretDigester, typed: &str) -> Vec<u8> {
    let normalised: Zeroizing<String> = Zeroizing::new(typed.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_lowercase()).collect());
    digester.digest(&format!("recovery:{}", normalised.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_formatted_and_match_their_digests_loosely_typed() {
        let digester = SecretDigester::new(b"pepper");
        let set = generate(&digester).unwrap();
        assert_eq!(set.codes.len(), RECOVERY_CODE_COUNT);
        let mut unique: Vec<&str> = set.codes.iter().map(|c| c.as_str()).collect();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), RECOVERY_CODE_COUNT);
        let first = set.codes.first().unwrap();
        assert_eq!(first.len(), 11);
        assert_eq!(first.chars().nth(5), Some('-'));
        let typed = format!(" {} ", first.to_uppercase().replace('-', " "));
        assert_eq!(&digest(&digester, &typed), set.digests.first().unwrap());
        assert_ne!(&digest(&digester, "aaaaa-aaaaa"), set.digests.first().unwrap());
    }
}
