//! Everything one decision reads, gathered by the caller: the two policy layers, the user's
//! factors, the risk signals, any step-up and what the SSO session already achieved.

use time::{Duration, OffsetDateTime};

use crate::app::AppPolicy;
use crate::domain::DomainPolicy;
use crate::level::AuthLevel;
use crate::method::{Method, MethodSet};
use crate::risk::{RiskConfig, RiskSignals};
use crate::step_up::StepUp;

/// The inputs of [`crate::decide()`]. `now` is a parameter: the engine never reads a clock.
#[derive(Clone, Copy, Debug)]
pub struct PolicyInputs<'a> {
    pub domain: &'a DomainPolicy,
    pub app: &'a AppPolicy,
    pub enrollment: Enrollment,
    pub risk: &'a RiskSignals,
    pub risk_config: &'a RiskConfig,
    pub step_up: Option<StepUp<'a>>,
    pub session: Option<SessionState>,
    pub now: OffsetDateTime,
}

/// The user's second factors.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Enrollment {
    /// Verified, enrolled methods. A `RecoveryCode` member is ignored: see `recovery_codes`.
    pub methods: MethodSet,
    /// Whether unused recovery codes are left.
    pub recovery_codes: bool,
    /// Whether one of the user's WebAuthn credentials is device-bound (not backup-eligible),
    /// so it can prove `phrh`. The ceremony at that level must then allow only such credentials.
    pub device_bound_webauthn: bool,
}

impl Enrollment {
    /// What the user can present for `level` under a domain allowing `allowed`. Recovery codes
    /// are offered only at the MFA level (they are not phishing-resistant) and only beside an
    /// allowed method they back up, never as the sole way in.
    pub fn offer(&self, level: AuthLevel, allowed: MethodSet) -> MethodSet {
        let usable = self.methods.intersection(allowed).intersection(MethodSet::CONFIGURABLE).reaching(level, self.device_bound_webauthn);
        if level == AuthLevel::Mfa && self.recovery_codes && !usable.is_empty() { usable.with(Method::RecoveryCode) } else { usable }
    }
}

/// What the SSO session already achieved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionState {
    pub level: AuthLevel,
    /// When the session last completed a second factor.
    pub second_factor_at: Option<OffsetDateTime>,
}

impl SessionState {
    /// Whether the session meets `level` and, under `max_age`, completed its second factor at
    /// most that many seconds ago (a timestamp after `now`, from clock skew, counts as fresh).
    pub fn satisfies(&self, level: AuthLevel, max_age: Option<u64>, now: OffsetDateTime) -> bool {
        self.level >= level && max_age.is_none_or(|max_age| self.is_fresh(max_age, now))
    }

    fn is_fresh(&self, max_age: u64, now: OffsetDateTime) -> bool {
        let max_age = Duration::seconds(i64::try_from(max_age).unwrap_or(i64::MAX));
        self.second_factor_at.is_some_and(|at| now - at <= max_age)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-03-02 09:00 UTC);

    #[test]
    fn max_age_freshness() {
        let session = SessionState { level: AuthLevel::Mfa, second_factor_at: Some(datetime!(2026-03-02 08:55 UTC)) };
        assert!(session.satisfies(AuthLevel::Mfa, None, NOW));
        assert!(session.satisfies(AuthLevel::Mfa, Some(300), NOW), "exactly max_age old is still fresh");
        assert!(!session.satisfies(AuthLevel::Mfa, Some(299), NOW));
        assert!(!session.satisfies(AuthLevel::Mfa, Some(0), NOW));
        assert!(session.satisfies(AuthLevel::Mfa, Some(u64::MAX), NOW));
        assert!(!session.satisfies(AuthLevel::PhishingResistant, None, NOW), "a lower level never satisfies");
        let skewed = SessionState { second_factor_at: Some(datetime!(2026-03-02 09:00:05 UTC)), ..session };
        assert!(skewed.satisfies(AuthLevel::Mfa, Some(0), NOW));
        let unknown_time = SessionState { second_factor_at: None, ..session };
        assert!(unknown_time.satisfies(AuthLevel::Mfa, None, NOW));
        assert!(!unknown_time.satisfies(AuthLevel::Mfa, Some(3600), NOW), "no time known is not fresh");
    }

    #[test]
    fn offers_only_allowed_enrolled_methods_that_reach_the_level() {
        let enrollment =
            Enrollment { methods: MethodSet::from_iter([Method::Totp, Method::Sms, Method::Passkey]), recovery_codes: true, device_bound_webauthn: false };
        let no_sms = MethodSet::CONFIGURABLE.intersection(MethodSet::from_iter([Method::Totp, Method::Passkey]));
        assert_eq!(enrollment.offer(AuthLevel::Mfa, no_sms), MethodSet::from_iter([Method::Totp, Method::Passkey, Method::RecoveryCode]));
        assert_eq!(enrollment.offer(AuthLevel::PhishingResistant, no_sms), Method::Passkey.into());
        assert_eq!(enrollment.offer(AuthLevel::PhishingResistantHardware, no_sms), MethodSet::EMPTY);
        let bound = Enrollment { device_bound_webauthn: true, ..enrollment };
        assert_eq!(bound.offer(AuthLevel::PhishingResistantHardware, no_sms), Method::Passkey.into());
    }

    #[test]
    fn recovery_codes_never_stand_alone() {
        let only_codes = Enrollment { methods: MethodSet::EMPTY, recovery_codes: true, device_bound_webauthn: false };
        assert_eq!(only_codes.offer(AuthLevel::Mfa, MethodSet::CONFIGURABLE), MethodSet::EMPTY);
        let codes_bit = Enrollment { methods: Method::RecoveryCode.into(), ..only_codes };
        assert_eq!(codes_bit.offer(AuthLevel::Mfa, MethodSet::single(Method::RecoveryCode)), MethodSet::EMPTY);
        let disallowed = Enrollment { methods: Method::Sms.into(), ..only_codes };
        assert_eq!(disallowed.offer(AuthLevel::Mfa, Method::Totp.into()), MethodSet::EMPTY);
    }
}
