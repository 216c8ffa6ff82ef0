//! Second factors a user has enrolled: what they are, what they hold, how they are named.
//! Verification lives elsewhere (TOTP in the crypto crate, WebAuthn at the server edge); this
//! module is the domain vocabulary both share with storage.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::ids::{FactorId, UserId};
use crate::phone::PhoneNumber;

/// Kinds of second factor. Recovery codes are a backup kept apart from these.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FactorKind {
    /// An authenticator app (RFC 6238).
    Totp,
    /// Codes by text message to a verified number.
    Sms,
    /// A roaming WebAuthn authenticator (USB/NFC key), user presence.
    SecurityKey,
    /// A WebAuthn credential with user verification (platform biometrics, synced passkeys).
    Passkey,
}

impl FactorKind {
    pub const ALL: [FactorKind; 4] = [Self::Totp, Self::Sms, Self::SecurityKey, Self::Passkey];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Totp => "totp",
            Self::Sms => "sms",
            Self::SecurityKey => "security_key",
            Self::Passkey => "passkey",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == value)
    }

    /// A name for pages: "Authenticator app", "Text message", ...
    pub fn label(self) -> &'static str {
        match self {
            Self::Totp => "Authenticator app",
            Self::Sms => "Text message",
            Self::SecurityKey => "Security key",
            Self::Passkey => "Passkey",
        }
    }

    pub fn is_webauthn(self) -> bool {
        matches!(self, Self::SecurityKey | Self::Passkey)
    }
}

/// What a factor holds. Secrets never appear in `Debug` output.
#[derive(Clone, PartialEq, Eq)]
pub enum FactorSecret {
    /// The shared TOTP secret, and the last time step accepted (codes of that step or earlier
    /// are never accepted again).
    Totp {
        secret: Vec<u8>,
        used_up_to: Option<u64>,
    },
    Sms {
        phone: PhoneNumber,
    },
    /// A WebAuthn credential as the WebAuthn library serialises it; its id for look-up; and
    /// whether it is bound to one device (not backup-eligible: hardware-protected).
    WebAuthn {
        credential: String,
        credential_id: Vec<u8>,
        device_bound: bool,
    },
}

impl std::fmt::Debug for FactorSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Totp { used_up_to, .. } => write!(f, "Totp {{ secret: .., used_up_to: {used_up_to:?} }}"),
            Self::Sms { phone } => write!(f, "Sms {{ phone: {phone:?} }}"),
            Self::WebAuthn { device_bound, .. } => write!(f, "WebAuthn {{ credential: .., device_bound: {device_bound} }}"),
        }
    }
}

/// An enrolled (or, until `confirmed_at`, enrolling) second factor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Factor {
    pub id: FactorId,
    pub user_id: UserId,
    pub kind: FactorKind,
    /// The user's name for it ("Work phone", "Blue YubiKey").
    pub label: String,
    pub secret: FactorSecret,
    pub created_at: OffsetDateTime,
    /// `None` while enrolment waits for the first valid code or ceremony.
    pub confirmed_at: Option<OffsetDateTime>,
    pub last_used_at: Option<OffsetDateTime>,
}

impl Factor {
    pub fn is_confirmed(&self) -> bool {
        self.confirmed_at.is_some()
    }
}

/// A user-chosen factor name: trimmed, 1 to 64 characters, no control characters.
pub fn parse_label(input: &str) -> Option<String> {
    let trimmed = input.trim();
    let ok = !trimmed.is_empty() && trimmed.chars().count() <= 64 && !trimmed.chars().any(char::is_control);
    ok.then(|| trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_and_labels_are_validated() {
        for kind in FactorKind::ALL {
            assert_eq!(FactorKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(FactorKind::parse("recovery_code"), None);
        assert_eq!(parse_label("  Work phone "), Some("Work phone".into()));
        assert_eq!(parse_label("   "), None);
        assert_eq!(parse_label(&"x".repeat(65)), None);
        assert_eq!(parse_label("a\u{0007}b"), None);
    }

    #[test]
    fn debug_never_shows_secrets() {
        let secret = FactorSecret::Totp { secret: b"super secret bytes".to_vec(), used_up_to: Some(3) };
        assert!(!format!("{secret:?}").contains("115")); // no byte values
        let webauthn = FactorSecret::WebAuthn { credential: "{\"cred\":\"private\"}".into(), credential_id: vec![1], device_bound: true };
        assert!(!format!("{webauthn:?}").contains("private"));
    }
}
