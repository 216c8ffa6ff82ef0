//! Reasons: the facts behind a decision, each with a stable code (for the audit record and
//! simulations) and a sentence (for `gatehouse policy explain` and admins), and [`Reasons`], a
//! fixed-capacity list of them so that deciding never allocates.

use std::fmt;

use serde::ser::{SerializeSeq, SerializeStruct};
use serde::{Serialize, Serializer};

use crate::app::AppTwoFactor;
use crate::domain::DomainTwoFactor;
use crate::level::AuthLevel;

/// One fact that shaped a decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason<'a> {
    // The request and the policies.
    StepUpAcrValues { level: AuthLevel },
    StepUpEssentialAcr { level: AuthLevel },
    StepUpScope { scope: &'a str, level: AuthLevel },
    DomainPolicy(DomainTwoFactor),
    AppPolicy(AppTwoFactor),
    // The SSO session and the user's factors.
    SessionAchieved { level: AuthLevel },
    SecondFactorTooOld { max_age: u64 },
    NotEnrolled { level: AuthLevel },
    NoAllowedMethodReaches { level: AuthLevel },
    RestrictedMethodOffered,
    RiskySingleFactor,
    // Risk signals.
    TrustedNetwork,
    RememberedDevice { days: u16 },
    DeviceNotRemembered { days: u16 },
    UnknownDevice,
    NewAddress,
    NewCountry,
    ReportedDevice,
    ReportedAddress,
    FailuresForUser { count: u32 },
    FailuresForAddress { count: u32 },
    ImpossibleTravel { km: u32, km_per_hour: u32 },
}

impl Reason<'_> {
    /// A stable snake_case code; never reworded, since records and dashboards key on it.
    pub const fn code(&self) -> &'static str {
        match self {
            Self::StepUpAcrValues { .. } => "step_up_acr_values",
            Self::StepUpEssentialAcr { .. } => "step_up_essential_acr",
            Self::StepUpScope { .. } => "step_up_scope",
            Self::DomainPolicy(DomainTwoFactor::Optional) => "domain_optional",
            Self::DomainPolicy(DomainTwoFactor::Required) => "domain_required",
            Self::AppPolicy(AppTwoFactor::Bypass) => "app_bypass",
            Self::AppPolicy(AppTwoFactor::Adaptive) => "app_adaptive",
            Self::AppPolicy(AppTwoFactor::Required) => "app_required",
            Self::SessionAchieved { .. } => "session_achieved",
            Self::SecondFactorTooOld { .. } => "second_factor_too_old",
            Self::NotEnrolled { .. } => "not_enrolled",
            Self::NoAllowedMethodReaches { .. } => "no_allowed_method_reaches",
            Self::RestrictedMethodOffered => "restricted_method_offered",
            Self::RiskySingleFactor => "risky_single_factor",
            Self::TrustedNetwork => "trusted_network",
            Self::RememberedDevice { .. } => "remembered_device",
            Self::DeviceNotRemembered { .. } => "device_not_remembered",
            Self::UnknownDevice => "unknown_device",
            Self::NewAddress => "new_address",
            Self::NewCountry => "new_country",
            Self::ReportedDevice => "reported_device",
            Self::ReportedAddress => "reported_address",
            Self::FailuresForUser { .. } => "failures_for_user",
            Self::FailuresForAddress { .. } => "failures_for_address",
            Self::ImpossibleTravel { .. } => "impossible_travel",
        }
    }
}

impl fmt::Display for Reason<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::StepUpAcrValues { level } => write!(f, "the client's acr_values require at least {level}"),
            Self::StepUpEssentialAcr { level } => {
                write!(f, "the client's essential acr claim requires at least {level}")
            }
            Self::StepUpScope { scope, level } => {
                write!(f, "the application marks scope {scope:?} as requiring {level}")
            }
            Self::DomainPolicy(DomainTwoFactor::Optional) => f.write_str("the domain policy leaves 2FA optional"),
            Self::DomainPolicy(DomainTwoFactor::Required) => f.write_str("the domain policy requires 2FA"),
            Self::AppPolicy(AppTwoFactor::Bypass) => f.write_str("the application bypasses 2FA"),
            Self::AppPolicy(AppTwoFactor::Adaptive) => f.write_str("the application asks for 2FA when the sign-in is risky"),
            Self::AppPolicy(AppTwoFactor::Required) => f.write_str("the application requires 2FA"),
            Self::SessionAchieved { level } => write!(f, "the single sign-on session already reached {level}"),
            Self::SecondFactorTooOld { max_age } => {
                write!(f, "the session's second factor is older than the requested max_age of {max_age} s")
            }
            Self::NotEnrolled { level } => write!(f, "the user has enrolled no allowed method that reaches {level}"),
            Self::NoAllowedMethodReaches { level } => write!(f, "no method the domain allows can reach {level}"),
            Self::RestrictedMethodOffered => f.write_str("SMS is offered; it is a restricted authenticator (NIST SP 800-63B 5.1.3.3)"),
            Self::RiskySingleFactor => f.write_str("the sign-in is risky but the user has no second factor: one factor, invited to enroll"),
            Self::TrustedNetwork => f.write_str("the address is in one of the tenant's trusted networks"),
            Self::RememberedDevice { days } => write!(f, "the device completed 2FA within the last {days} days"),
            Self::DeviceNotRemembered { days: 0 } => f.write_str("the domain does not remember devices"),
            Self::DeviceNotRemembered { days } => {
                write!(f, "the device is known but has not completed 2FA within the last {days} days")
            }
            Self::UnknownDevice => f.write_str("the device is not known"),
            Self::NewAddress => f.write_str("the user has not signed in from this address before"),
            Self::NewCountry => f.write_str("the user has not signed in from this country before"),
            Self::ReportedDevice => f.write_str("the device was reported as lost or compromised"),
            Self::ReportedAddress => f.write_str("the address was reported as abusive"),
            Self::FailuresForUser { count } => write!(f, "{count} recent failed sign-ins for this user"),
            Self::FailuresForAddress { count } => write!(f, "{count} recent failed sign-ins from this address"),
            Self::ImpossibleTravel { km, km_per_hour } => {
                write!(f, "{km} km from the previous sign-in, an implied {km_per_hour} km/h")
            }
        }
    }
}

/// As `{ "code": ..., "text": ... }`.
impl Serialize for Reason<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("Reason", 2)?;
        s.serialize_field("code", self.code())?;
        s.serialize_field("text", &format_args!("{self}"))?;
        s.end()
    }
}

/// Room for every reason one decision can give (at most 15: see the worst-case test in
/// `decide`), so nothing is ever dropped in practice.
pub const REASONS_CAPACITY: usize = 16;

/// An inline list of reasons, in the order they were found. Pushing past the capacity drops
/// the reason and counts it, rather than failing or allocating.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reasons<'a> {
    items: [Option<Reason<'a>>; REASONS_CAPACITY],
    len: u8,
    dropped: u8,
}

impl<'a> Reasons<'a> {
    pub const fn new() -> Self {
        Self { items: [None; REASONS_CAPACITY], len: 0, dropped: 0 }
    }

    pub fn push(&mut self, reason: Reason<'a>) {
        match self.items.get_mut(usize::from(self.len)) {
            Some(slot) => {
                *slot = Some(reason);
                self.len += 1;
            }
            None => self.dropped = self.dropped.saturating_add(1),
        }
    }

    pub fn extend(&mut self, other: &Reasons<'a>) {
        for reason in other.iter() {
            self.push(reason);
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = Reason<'a>> + '_ {
        self.items.iter().map_while(|r| *r)
    }

    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn contains(&self, reason: &Reason<'_>) -> bool {
        self.iter().any(|r| r == *reason)
    }

    /// Reasons that did not fit (always 0 for decisions; kept so an overflow is visible).
    pub fn dropped(&self) -> usize {
        usize::from(self.dropped)
    }

    pub fn codes(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.iter().map(|r| r.code())
    }
}

impl Default for Reasons<'_> {
    fn default() -> Self {
        Self::new()
    }
}

impl Serialize for Reasons<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.len()))?;
        for reason in self.iter() {
            seq.serialize_element(&reason)?;
        }
        seq.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_keeps_order_and_counts_overflow() {
        let mut reasons = Reasons::new();
        assert!(reasons.is_empty());
        reasons.push(Reason::NewAddress);
        reasons.push(Reason::FailuresForUser { count: 7 });
        assert_eq!(reasons.codes().collect::<Vec<_>>(), ["new_address", "failures_for_user"]);
        for _ in 0..REASONS_CAPACITY {
            reasons.push(Reason::UnknownDevice);
        }
        assert_eq!(reasons.len(), REASONS_CAPACITY);
        assert_eq!(reasons.dropped(), 2);
        assert!(reasons.contains(&Reason::FailuresForUser { count: 7 }));
    }

    #[test]
    fn serialises_codes_and_texts() {
        let mut reasons = Reasons::new();
        reasons.push(Reason::StepUpScope { scope: "payments:approve", level: AuthLevel::Mfa });
        reasons.push(Reason::DeviceNotRemembered { days: 0 });
        let json = serde_json::to_value(reasons).unwrap();
        assert_eq!(
            json,
            serde_json::json!([
                { "code": "step_up_scope",
                  "text": "the application marks scope \"payments:approve\" as requiring urn:gatehouse:acr:mfa" },
                { "code": "device_not_remembered", "text": "the domain does not remember devices" },
            ])
        );
    }

    #[test]
    fn codes_are_unique_snake_case() {
        let all = [
            Reason::StepUpAcrValues { level: AuthLevel::Mfa },
            Reason::StepUpEssentialAcr { level: AuthLevel::Mfa },
            Reason::StepUpScope { scope: "s", level: AuthLevel::Mfa },
            Reason::DomainPolicy(DomainTwoFactor::Optional),
            Reason::DomainPolicy(DomainTwoFactor::Required),
            Reason::AppPolicy(AppTwoFactor::Bypass),
            Reason::AppPolicy(AppTwoFactor::Adaptive),
            Reason::AppPolicy(AppTwoFactor::Required),
            Reason::SessionAchieved { level: AuthLevel::Mfa },
            Reason::SecondFactorTooOld { max_age: 1 },
            Reason::NotEnrolled { level: AuthLevel::Mfa },
            Reason::NoAllowedMethodReaches { level: AuthLevel::Mfa },
            Reason::RestrictedMethodOffered,
            Reason::RiskySingleFactor,
            Reason::TrustedNetwork,
            Reason::RememberedDevice { days: 1 },
            Reason::DeviceNotRemembered { days: 1 },
            Reason::UnknownDevice,
            Reason::NewAddress,
            Reason::NewCountry,
            Reason::ReportedDevice,
            Reason::ReportedAddress,
            Reason::FailuresForUser { count: 1 },
            Reason::FailuresForAddress { count: 1 },
            Reason::ImpossibleTravel { km: 1, km_per_hour: 1 },
        ];
        let mut codes: Vec<_> = all.iter().map(Reason::code).collect();
        assert!(codes.iter().all(|c| c.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')));
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), all.len());
        assert!(all.iter().all(|r| !r.to_string().is_empty()));
    }
}
