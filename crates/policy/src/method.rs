//! Second-factor methods as policies name them, and [`MethodSet`], the small bitset the engine
//! computes with (intersections of "enrolled", "allowed by the domain" and "able to reach a
//! level" without allocating).
//!
//! This module knows what a method can prove; it does not know how a method is verified.

use std::fmt;

use serde::de::{self, SeqAccess, Visitor};
use serde::ser::SerializeSeq;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::PolicyError;
use crate::level::AuthLevel;

/// A way to present a second factor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Method {
    /// An authenticator app (RFC 6238).
    Totp,
    /// A code by text message.
    Sms,
    /// A roaming WebAuthn authenticator (USB/NFC key).
    SecurityKey,
    /// A WebAuthn credential with user verification (platform or synced).
    Passkey,
    /// A single-use backup code; never configured, only a fallback for an enrolled method.
    RecoveryCode,
}

impl Method {
    pub const ALL: [Method; 5] = [Self::Totp, Self::Sms, Self::SecurityKey, Self::Passkey, Self::RecoveryCode];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Totp => "totp",
            Self::Sms => "sms",
            Self::SecurityKey => "security_key",
            Self::Passkey => "passkey",
            Self::RecoveryCode => "recovery_code",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == value)
    }

    /// NIST SP 800-63B §5.1.3.3 calls SMS a *restricted* authenticator: usable, but the user
    /// must be told of the risk and offered an alternative.
    pub const fn is_restricted(self) -> bool {
        matches!(self, Self::Sms)
    }

    pub const fn is_webauthn(self) -> bool {
        matches!(self, Self::SecurityKey | Self::Passkey)
    }

    /// The highest level this kind of method can ever reach. WebAuthn reaches
    /// [`AuthLevel::PhishingResistantHardware`] only for a device-bound credential, which is a
    /// property of the user's credential, not of the method: see [`Method::reaches`].
    pub const fn max_level(self) -> AuthLevel {
        match self {
            Self::Totp | Self::Sms | Self::RecoveryCode => AuthLevel::Mfa,
            Self::SecurityKey | Self::Passkey => AuthLevel::PhishingResistant,
        }
    }

    /// Whether this method can satisfy `level`, given whether the user's WebAuthn credential is
    /// device-bound (not backup-eligible, so its key never leaves the hardware).
    pub fn reaches(self, level: AuthLevel, device_bound_webauthn: bool) -> bool {
        match level {
            AuthLevel::PhishingResistantHardware => self.is_webauthn() && device_bound_webauthn,
            _ => self.max_level() >= level,
        }
    }

    const fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Method {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// A set of [`Method`]s, one bit each. `Copy`, so the engine never allocates for it.
///
/// Serialised as a list of names. On input (policy files) `"webauthn"` is shorthand for
/// `security_key` + `passkey`, and `"recovery_code"` is refused: recovery codes are a backup of
/// the configured methods, never configured themselves. Output may contain `recovery_code` (a
/// decision offering backup codes).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct MethodSet(u8);

impl MethodSet {
    pub const EMPTY: MethodSet = MethodSet(0);
    /// Methods a domain policy may allow: everything but recovery codes.
    pub const CONFIGURABLE: MethodSet = MethodSet(Method::Totp.bit() | Method::Sms.bit() | Method::SecurityKey.bit() | Method::Passkey.bit());
    pub const WEBAUTHN: MethodSet = MethodSet(Method::SecurityKey.bit() | Method::Passkey.bit());

    pub const fn single(method: Method) -> Self {
        MethodSet(method.bit())
    }

    pub const fn contains(self, method: Method) -> bool {
        self.0 & method.bit() != 0
    }

    pub fn insert(&mut self, method: Method) {
        self.0 |= method.bit();
    }

    pub fn remove(&mut self, method: Method) {
        self.0 &= !method.bit();
    }

    pub const fn with(self, method: Method) -> Self {
        MethodSet(self.0 | method.bit())
    }

    pub const fn union(self, other: MethodSet) -> Self {
        MethodSet(self.0 | other.0)
    }

    pub const fn intersection(self, other: MethodSet) -> Self {
        MethodSet(self.0 & other.0)
    }

    pub const fn is_subset(self, other: MethodSet) -> bool {
        self.0 & !other.0 == 0
    }

    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub const fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    /// The members, in [`Method::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Method> {
        Method::ALL.into_iter().filter(move |m| self.contains(*m))
    }

    /// The members able to satisfy `level` (see [`Method::reaches`]).
    pub fn reaching(self, level: AuthLevel, device_bound_webauthn: bool) -> Self {
        self.iter().filter(|m| m.reaches(level, device_bound_webauthn)).collect()
    }
}

impl From<Method> for MethodSet {
    fn from(method: Method) -> Self {
        Self::single(method)
    }
}

impl FromIterator<Method> for MethodSet {
    fn from_iter<I: IntoIterator<Item = Method>>(iter: I) -> Self {
        iter.into_iter().fold(Self::EMPTY, Self::with)
    }
}

impl fmt::Debug for MethodSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter().map(Method::as_str)).finish()
    }
}

impl Serialize for MethodSet {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.len()))?;
        for method in self.iter() {
            seq.serialize_element(method.as_str())?;
        }
        seq.end()
    }
}

/// Parses one configured method name; `webauthn` names two methods.
pub(crate) fn parse_configured(name: &str) -> Result<MethodSet, PolicyError> {
    match name {
        "webauthn" => Ok(MethodSet::WEBAUTHN),
        "recovery_code" => Err(PolicyError::RecoveryCodeNotConfigurable),
        _ => match Method::parse(name) {
            Some(method) => Ok(method.into()),
            None => Err(PolicyError::UnknownMethod(name.to_owned())),
        },
    }
}

impl<'de> Deserialize<'de> for MethodSet {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MethodList;
        impl<'de> Visitor<'de> for MethodList {
            type Value = MethodSet;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of methods (totp, sms, security_key, passkey, webauthn)")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<MethodSet, A::Error> {
                let mut set = MethodSet::EMPTY;
                // Owned names: TOML and environment sources cannot lend borrowed strings.
                while let Some(name) = seq.next_element::<String>()? {
                    set = set.union(parse_configured(&name).map_err(de::Error::custom)?);
                }
                Ok(set)
            }
        }
        deserializer.deserialize_seq(MethodList)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for method in Method::ALL {
            assert_eq!(Method::parse(method.as_str()), Some(method));
        }
        assert_eq!(Method::parse("webauthn"), None);
        assert_eq!(Method::parse("TOTP"), None);
    }

    #[test]
    fn sms_is_the_restricted_authenticator() {
        let restricted: Vec<_> = Method::ALL.into_iter().filter(|m| m.is_restricted()).collect();
        assert_eq!(restricted, [Method::Sms]);
    }

    #[test]
    fn levels_each_method_can_reach() {
        use AuthLevel::*;
        for method in [Method::Totp, Method::Sms, Method::RecoveryCode] {
            assert!(method.reaches(Mfa, true));
            assert!(!method.reaches(PhishingResistant, true));
            assert!(!method.reaches(PhishingResistantHardware, true));
        }
        for method in [Method::SecurityKey, Method::Passkey] {
            assert!(method.reaches(PhishingResistant, false));
            assert!(!method.reaches(PhishingResistantHardware, false), "a synced credential is not hardware-bound");
            assert!(method.reaches(PhishingResistantHardware, true));
        }
    }

    #[test]
    fn set_operations() {
        let mut set = MethodSet::EMPTY;
        assert!(set.is_empty());
        set.insert(Method::Totp);
        set.insert(Method::Passkey);
        set.insert(Method::Totp);
        assert_eq!(set.len(), 2);
        assert!(set.contains(Method::Passkey) && !set.contains(Method::Sms));
        assert_eq!(set.intersection(MethodSet::WEBAUTHN), Method::Passkey.into());
        assert_eq!(set.union(Method::Sms.into()).len(), 3);
        set.remove(Method::Totp);
        assert_eq!(set.iter().collect::<Vec<_>>(), [Method::Passkey]);
        assert!(!MethodSet::CONFIGURABLE.contains(Method::RecoveryCode));
        assert_eq!(MethodSet::CONFIGURABLE.len(), 4);
        assert_eq!(MethodSet::CONFIGURABLE.reaching(AuthLevel::PhishingResistant, false), MethodSet::WEBAUTHN);
    }

    #[test]
    fn serde_accepts_webauthn_shorthand() {
        let set: MethodSet = serde_json::from_str(r#"["totp", "webauthn"]"#).unwrap();
        assert_eq!(set, MethodSet::WEBAUTHN.with(Method::Totp));
        assert_eq!(serde_json::to_string(&set).unwrap(), r#"["totp","security_key","passkey"]"#);
    }

    #[test]
    fn serde_rejects_unknown_methods_and_recovery_codes() {
        let unknown = serde_json::from_str::<MethodSet>(r#"["totp", "carrier_pigeon"]"#).unwrap_err();
        assert!(unknown.to_string().contains("unknown method \"carrier_pigeon\""), "{unknown}");
        let recovery = serde_json::from_str::<MethodSet>(r#"["recovery_code"]"#).unwrap_err();
        assert!(recovery.to_string().contains("recovery codes"), "{recovery}");
    }
}
