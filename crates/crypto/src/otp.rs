//! One-time codes: TOTP (RFC 6238, over HOTP of RFC 4226) for authenticator apps, and random
//! numeric codes sent by SMS.
//!
//! TOTP uses HMAC-SHA-1, 6 digits and 30-second steps: the parameters every authenticator app
//! implements (RFC 6238 allows SHA-1; its weakness as a hash does not affect HMAC here).

use aws_lc_rs::hmac;
use data_encoding::BASE32_NOPAD;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::{CryptoError, random};

pub const TOTP_DIGITS: u32 = 6;
pub const TOTP_PERIOD: u64 = 30;
/// Steps of clock drift accepted on either side of the current one.
pub const TOTP_DRIFT_STEPS: u64 = 1;
/// 160 bits, the HMAC-SHA-1 block-size recommendation of RFC 4226 §4.
pub const TOTP_SECRET_BYTES: usize = 20;

/// A TOTP shared secret. Never printed by `Debug`; zeroed on drop.
#[derive(Clone)]
pub struct TotpSecret(Zeroizing<Vec<u8>>);

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSecret(..)")
    }
}

impl TotpSecret {
    pub fn generate() -> Result<Self, CryptoError> {
        Ok(Self(Zeroizing::new(random::bytes::<TOTP_SECRET_BYTES>()?.to_vec())))
    }

    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// Parses the Base32 text users and other providers exchange (case, spaces and `=`
    /// padding tolerated). At least 128 bits, as RFC 4226 §4 requires.
    pub fn from_base32(text: &str) -> Result<Self, CryptoError> {
        let cleaned: String = text.chars().filter(|c| !c.is_whitespace() && *c != '=' && *c != '-').map(|c| c.to_ascii_uppercase()).collect();
        let bytes = BASE32_NOPAD.decode(cleaned.as_bytes()).map_err(|_| CryptoError::Malformed)?;
        if bytes.len() < 16 {
            return Err(CryptoError::Malformed);
        }
        Ok(Self(Zeroizing::new(bytes)))
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn to_base32(&self) -> Zeroizing<String> {
        Zeroizing::new(BASE32_NOPAD.encode(&self.0))
    }

    /// The `otpauth://` URI authenticator apps scan (Google Authenticator key-uri format).
    pub fn otpauth_uri(&self, issuer: &str, account: &str) -> Zeroizing<String> {
        let enc = url_encode;
        Zeroizing::new(format!(
            "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={TOTP_DIGITS}&period={TOTP_PERIOD}",
            enc(issuer),
            enc(account),
            self.to_base32().as_str(),
            enc(issuer)
        ))
    }

    /// The HOTP value for one counter (RFC 4226 §5.3), as a zero-padded decimal string.
    fn code_at(&self, counter: u64, digits: u32) -> String {
        let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &self.0);
        let tag = hmac::sign(&key, &counter.to_be_bytes());
        let mac = tag.as_ref();
        let offset = usize::from(mac.last().copied().unwrap_or(0) & 0x0f);
        let window: [u8; 4] = mac.get(offset..offset + 4).and_then(|w| w.try_into().ok()).unwrap_or([0; 4]);
        let binary = u32::from_be_bytes(window) & 0x7fff_ffff;
        let modulus = 10u32.pow(digits);
        format!("{:0width$}", binary % modulus, width = digits as usize)
    }

    /// The TOTP code at a Unix time.
    pub fn code(&self, unix_time: u64) -> String {
        self.code_at(unix_time / TOTP_PERIOD, TOTP_DIGITS)
    }

    /// Checks a code against the current step and one step either side. Returns the matching
    /// step so the caller can refuse it (and every earlier step) from now on: a step already
    /// used, given as `used_up_to`, never matches again (RFC 6238 §5.2).
    pub fn verify(&self, code: &str, unix_time: u64, used_up_to: Option<u64>) -> Option<u64> {
        let code = code.trim();
        if code.len() != TOTP_DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let current = unix_time / TOTP_PERIOD;
        let mut matched = None;
        // Every candidate is computed and compared, so timing does not say which step matched.
        for step in current.saturating_sub(TOTP_DRIFT_STEPS)..=current + TOTP_DRIFT_STEPS {
            let equal = bool::from(self.code_at(step, TOTP_DIGITS).as_bytes().ct_eq(code.as_bytes()));
            if equal && used_up_to.is_none_or(|used| step > used) && matched.is_none() {
                matched = Some(step);
            }
        }
        matched
    }
}

/// Percent-encodes everything but unreserved characters (RFC 3986 §2.3).
fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'@') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A uniformly random decimal code of `digits` digits (SMS codes), by rejection sampling so
/// no value is likelier than another.
pub fn numeric_code(digits: u32) -> Result<String, CryptoError> {
    let modulus = 10u32.pow(digits.min(9));
    let limit = u32::MAX - (u32::MAX % modulus);
    loop {
        let value = u32::from_be_bytes(random::bytes::<4>()?);
        if value < limit {
            return Ok(format!("{:0width$}", value % modulus, width = digits.min(9) as usize));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B, SHA-1 rows: the secret is ASCII "12345678901234567890" and the
    /// expected values are the 8-digit codes.
    #[test]
    fn rfc6238_test_vectors() {
        let secret = TotpSecret::from_bytes(b"12345678901234567890".to_vec());
        for (time, expected) in [
            (59u64, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(secret.code_at(time / TOTP_PERIOD, 8), expected, "T={time}");
        }
        // The 6-digit code is the last six digits of the same value.
        assert_eq!(secret.code(59), "287082");
    }

    #[test]
    fn verify_accepts_one_step_of_drift_and_never_a_used_step() {
        let secret = TotpSecret::generate().unwrap();
        let now = 1_800_000_000u64;
        let step = now / TOTP_PERIOD;
        assert_eq!(secret.verify(&secret.code(now), now, None), Some(step));
        assert_eq!(secret.verify(&secret.code(now - 30), now, None), Some(step - 1));
        assert_eq!(secret.verify(&secret.code(now + 30), now, None), Some(step + 1));
        assert_eq!(secret.verify(&secret.code(now - 60), now, None), None, "two steps old");
        assert_eq!(secret.verify(&secret.code(now), now, Some(step)), None, "replayed");
        assert_eq!(secret.verify(&secret.code(now - 30), now, Some(step)), None, "older than a used step");
        assert_eq!(secret.verify("12345", now, None), None);
        assert_eq!(secret.verify("12345a", now, None), None);
    }

    #[test]
    fn base32_round_trip_and_minimum_length() {
        let secret = TotpSecret::from_base32("JBSW Y3DP EHPK 3PXP JBSW Y3DP EHPK 3PXP").unwrap();
        assert_eq!(secret.to_base32().as_str(), "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP");
        assert!(TotpSecret::from_base32("jbswy3dpehpk3pxp").is_err(), "80 bits is too short");
        assert!(TotpSecret::from_base32("not base32 !").is_err());
        assert_eq!(format!("{secret:?}"), "TotpSecret(..)");
    }

    #[test]
    fn otpauth_uri_names_issuer_and_account() {
        let secret = TotpSecret::from_base32("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP").unwrap();
        let uri = secret.otpauth_uri("id.example.com", "alice@acme.test");
        assert_eq!(
            uri.as_str(),
            "otpauth://totp/id.example.com:alice@acme.test?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=id.example.com&algorithm=SHA1&digits=6&period=30"
        );
        assert!(secret.otpauth_uri("Acme Oy", "a b").contains("Acme%20Oy:a%20b"));
    }

    #[test]
    fn numeric_codes_have_fixed_width() {
        for _ in 0..50 {
            let code = numeric_code(6).unwrap();
            assert_eq!(code.len(), 6);
            assert!(code.bytes().all(|b| b.is_ascii_digit()));
        }
    }
}
