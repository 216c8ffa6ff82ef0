//! Tests of [`decide`], named after the requirement each proves. The full matrix and the
//! properties live in sibling modules; scenarios shared by all three are built here.

mod matrix;
mod properties;

use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use super::*;
use crate::app::AppPolicy;
use crate::cidr::Cidr;
use crate::domain::DomainPolicy;
use crate::geo::cities::{HELSINKI, NEW_YORK};
use crate::reason::REASONS_CAPACITY;
use crate::risk::{DeviceSignal, PreviousSignIn, RiskConfig, RiskSignals};

use crate::testing::{ip, signals};

const NOW: OffsetDateTime = datetime!(2026-03-02 09:00 UTC);
const OFFICE: &str = "203.0.113.7";
const COFFEE_SHOP: &str = "198.51.100.7";

fn low_risk() -> RiskSignals {
    signals(OFFICE)
}

/// High even in the office: the device was reported lost.
fn high_risk() -> RiskSignals {
    RiskSignals { reported_device: true, ..signals(OFFICE) }
}

fn totp_user() -> Enrollment {
    Enrollment { methods: Method::Totp.into(), recovery_codes: false, device_bound_webauthn: false }
}

fn not_enrolled() -> Enrollment {
    Enrollment::default()
}

/// Everything one decision reads, owned, so a test states only what it changes.
#[derive(Clone, Debug)]
struct Scenario {
    domain: DomainPolicy,
    app: AppPolicy,
    enrollment: Enrollment,
    risk: RiskSignals,
    config: RiskConfig,
    step_up: Option<(AuthLevel, Option<u64>)>,
    session: Option<SessionState>,
}

impl Scenario {
    fn new(domain: DomainTwoFactor, app: AppTwoFactor) -> Self {
        Self {
            domain: DomainPolicy { two_factor: domain, trusted_networks: vec![Cidr::parse("203.0.113.0/24").unwrap()], ..DomainPolicy::default() },
            app: AppPolicy { two_factor: app, step_up_scopes: vec![] },
            enrollment: totp_user(),
            risk: low_risk(),
            config: RiskConfig::default(),
            step_up: None,
            session: None,
        }
    }

    fn step_up(mut self, level: AuthLevel, max_age: Option<u64>) -> Self {
        self.step_up = Some((level, max_age));
        self
    }

    fn decide(&self) -> Decision<'_> {
        let step_up = self.step_up.map(|(level, max_age)| StepUp { level, max_age, source: StepUpSource::AcrValues });
        self.decide_with(step_up)
    }

    fn decide_with<'a>(&'a self, step_up: Option<StepUp<'a>>) -> Decision<'a> {
        decide(&PolicyInputs {
            domain: &self.domain,
            app: &self.app,
            enrollment: self.enrollment,
            risk: &self.risk,
            risk_config: &self.config,
            step_up,
            session: self.session,
            now: NOW,
        })
    }
}

fn mfa(methods: MethodSet) -> Outcome {
    Outcome::SecondFactor { level: AuthLevel::Mfa, methods }
}

// --- The seed scenarios, verbatim ---------------------------------------------------------

#[test]
fn seed_required_domain_bypass_app_never_prompts() {
    for enrollment in [totp_user(), not_enrolled()] {
        for risk in [low_risk(), high_risk()] {
            let scenario = Scenario { enrollment, risk, ..Scenario::new(DomainTwoFactor::Required, AppTwoFactor::Bypass) };
            let decision = scenario.decide();
            assert_eq!(decision.outcome, Outcome::NoPrompt);
            assert_eq!(decision.winning_rule, Rule::AppBypass);
            assert!(!decision.invite_enrollment && !decision.risky_single_factor, "no enrollment wizard either");
        }
    }
}

#[test]
fn seed_optional_domain_required_app_requires_2fa() {
    let scenario = Scenario::new(DomainTwoFactor::Optional, AppTwoFactor::Required);
    let decision = scenario.decide();
    assert_eq!(decision.outcome, mfa(Method::Totp.into()), "even on the trusted office network");
    assert_eq!(decision.winning_rule, Rule::AppRequired);
    let newcomer = Scenario { enrollment: not_enrolled(), ..scenario };
    assert_eq!(newcomer.decide().outcome, Outcome::Enroll { level: AuthLevel::Mfa, methods: MethodSet::CONFIGURABLE });
}

#[test]
fn seed_required_domain_adaptive_app_requires_2fa() {
    let scenario = Scenario::new(DomainTwoFactor::Required, AppTwoFactor::Adaptive);
    let decision = scenario.decide();
    assert_eq!(decision.outcome, mfa(Method::Totp.into()), "low risk does not lift the domain mandate");
    assert_eq!(decision.winning_rule, Rule::DomainRequired);
    let both = Scenario::new(DomainTwoFactor::Required, AppTwoFactor::Required);
    assert_eq!(both.decide().winning_rule, Rule::DomainRequired, "the domain is named when both layers require");
}

// --- Rule 1: step-up ------------------------------------------------------------------------

#[test]
fn step_up_wins_over_bypass() {
    let scenario = Scenario::new(DomainTwoFactor::Optional, AppTwoFactor::Bypass).step_up(AuthLevel::Mfa, None);
    let decision = scenario.decide();
    assert_eq!((decision.outcome, decision.winning_rule), (mfa(Method::Totp.into()), Rule::StepUp));
}

#[test]
fn step_up_scope_in_a_bypass_app_is_explained() {
    let mut scenario = Scenario::new(DomainTwoFactor::Required, AppTwoFactor::Bypass);
    scenario.app.step_up_scopes = vec![("payments:approve".to_owned(), AuthLevel::Mfa)];
    let no_scope = StepUp::from_request([""; 0], None::<[&str; 0]>, ["openid", "payroll:read"], &scenario.app, None);
    assert_eq!(scenario.decide_with(no_scope).winning_rule, Rule::AppBypass);
    let step_up = StepUp::from_request([""; 0], None::<[&str; 0]>, ["openid", "payments:approve"], &scenario.app, None);
    let decision = scenario.decide_with(step_up);
    assert_eq!((decision.outcome, decision.winning_rule), (mfa(Method::Totp.into()), Rule::StepUp));
    assert_eq!(decision.reasons.iter().next(), Some(Reason::StepUpScope { scope: "payments:approve", level: AuthLevel::Mfa }));
}

#[test]
fn acr_values_ask_for_the_weakest_acceptable_level() {
    let scenario = Scenario::new(DomainTwoFactor::Optional, AppTwoFactor::Adaptive);
    // A TOTP user asked for "phr or mfa" is prompted for TOTP, not sent to enroll a passkey.
    let step_up = StepUp::from_request(["phr", "urn:gatehouse:acr:mfa"], None::<[&str; 0]>, [""; 0], &scenario.app, None);
    assert_eq!(scenario.decide_with(step_up).outcome, mfa(Method::Totp.into()));
    let phr_only = StepUp::from_request(["phr"], None::<[&str; 0]>, [""; 0], &scenario.app, None);
    assert_eq!(scenario.decide_with(phr_only).outcome, Outcome::Enroll { level: AuthLevel::PhishingResistant, methods: MethodSet::WEBAUTHN });
}

#[test]
fn session_satisfies_step_up_only_when_fresh_under_max_age() {
    let mut scenario = Scenario::new(DomainTwoFactor::Optional, AppTwoFactor::Bypass);
    scenario.session = Some(SessionState { level: AuthLevel::Mfa, second_factor_at: Some(NOW - Duration::minutes(10)) });
    let no_max_age = scenario.step_up(AuthLevel::Mfa, None);
    assert_eq!((no_max_age.decide().outcome, no_max_age.decide().winning_rule), (Outcome::NoPrompt, Rule::SessionSatisfies));
    let fresh_enough = no_max_age.step_up(AuthLevel::Mfa, Some(900));
    assert_eq!(fresh_enough.decide().winning_rule, Rule::SessionSatisfies);
    let too_old = fresh_enough.step_up(AuthLevel::Mfa, Some(300));
    let decision = too_old.decide();
    assert_eq!((decision.outcome, decision.winning_rule), (mfa(Method::Totp.into()), Rule::StepUp));
    assert!(decision.reasons.contains(&Reason::SecondFactorTooOld { max_age: 300 }));
}

#[test]
fn a_lower_session_level_does_not_satisfy_a_higher_step_up() {
    let mut scenario = Scenario::new(DomainTwoFactor::Optional, AppTwoFactor::Adaptive);
    scenario.enrollment.methods.insert(Method::SecurityKey);
    scenario.session = Some(SessionState { level: AuthLevel::Mfa, second_factor_at: Some(NOW) });
    let scenario = scenario.step_up(AuthLevel::PhishingResistant, None);
    let decision = scenario.decide();
    assert_eq!(decision.outcome, Outcome::SecondFactor { level: AuthLevel::PhishingResistant, methods: Method::SecurityKey.into() });
    assert!(decision.reasons.contains(&Reason::SessionAchieved { level: AuthLevel::Mfa }));
}

#[test]
fn phr_requires_webauthn() {
    let mut scenario = Scenario::new(DomainTwoFactor::Optional, AppTwoFactor::Adaptive);
    scenario.enrollment =
        Enrollment { methods: MethodSet::from_iter([Method::Totp, Method::Sms, Method::Passkey]), recovery_codes: true, device_bound_webauthn: false };
    let scenario = scenario.step_up(AuthLevel::PhishingResistant, None);
    let decision = scenario.decide();
    assert_eq!(decision.outcome, Outcome::SecondFactor { level: AuthLevel::PhishingResistant, methods: Method::Passkey.into() });
    let mut totp_only = Scenario::new(DomainTwoFactor::Optional, AppTwoFactor::Adaptive).step_up(AuthLevel::PhishingResistant, None);
    totp_only.enrollment.recovery_codes = true;
    let decision = totp_only.decide();
    assert_eq!(decision.outcome, Outcome::Enroll { level: AuthLevel::PhishingResistant, methods: MethodSet::WEBAUTHN });
    assert!(decision.reasons.contains(&Reason::NotEnrolled { level: AuthLevel::PhishingResistant }));
}

#[test]
fn phrh_requires_a_device_bound_webauthn_credential() {
    let mut synced = Scenario::new(DomainTwoFactor::Optional, AppTwoFactor::Adaptive).step_up(AuthLevel::PhishingResistantHardware, None);
    synced.enrollment = Enrollment { methods: MethodSet::WEBAUTHN.with(Method::Totp), recovery_codes: false, device_bound_webauthn: false };
    let level = AuthLevel::PhishingResistantHardware;
    assert_eq!(synced.decide().outcome, Outcome::Enroll { level, methods: MethodSet::WEBAUTHN });
    let bound = Scenario { enrollment: Enrollment { device_bound_webauthn: true, ..synced.enrollment }, ..synced };
    assert_eq!(bound.decide().outcome, Outcome::SecondFactor { level, methods: MethodSet::WEBAUTHN });
}

#[test]
fn deny_when_no_allowed_method_can_reach_the_level() {
    let mut scenario = Scenario::new(DomainTwoFactor::Required, AppTwoFactor::Required).step_up(AuthLevel::PhishingResistant, None);
    scenario.domain.allowed_methods = MethodSet::from_iter([Method::Totp, Method::Sms]);
    scenario.enrollment.methods.insert(Method::SecurityKey);
    let decision = scenario.decide();
    assert_eq!(decision.outcome, Outcome::Deny { error: DenyReason::UnmetAuthenticationRequirements });
    assert_eq!(decision.winning_rule, Rule::StepUp);
    assert!(decision.reasons.contains(&Reason::NoAllowedMethodReaches { level: AuthLevel::PhishingResistant }));
    // Once the domain allows WebAuthn, a user without it is sent to enroll instead.
    scenario.domain.allowed_methods = MethodSet::CONFIGURABLE;
    scenario.enrollment = totp_user();
    assert!(matches!(scenario.decide().outcome, Outcome::Enroll { .. }));
}

#[test]
fn recovery_codes_back_up_mfa_but_never_phishing_resistance() {
    let mut scenario = Scenario::new(DomainTwoFactor::Required, AppTwoFactor::Adaptive);
    scenario.enrollment.recovery_codes = true;
    assert_eq!(scenario.decide().outcome, mfa(MethodSet::from_iter([Method::Totp, Method::RecoveryCode])));
    scenario.enrollment.methods = Method::SecurityKey.into();
    let scenario = scenario.step_up(AuthLevel::PhishingResistant, None);
    let decision = scenario.decide();
    assert_eq!(decision.outcome, Outcome::SecondFactor { level: AuthLevel::PhishingResistant, methods: Method::SecurityKey.into() });
}

// --- Rules 2 to 4 ---------------------------------------------------------------------------

#[test]
fn mandated_2fa_is_satisfied_by_an_mfa_session() {
    let mut scenario = Scenario::new(DomainTwoFactor::Required, AppTwoFactor::Required);
    scenario.session = Some(SessionState { level: AuthLevel::Mfa, second_factor_at: Some(NOW - Duration::hours(3)) });
    let decision = scenario.decide();
    assert_eq!((decision.outcome, decision.winning_rule), (Outcome::NoPrompt, Rule::SessionSatisfies));
    scenario.session = Some(SessionState { level: AuthLevel::Password, second_factor_at: None });
    assert_eq!(scenario.decide().winning_rule, Rule::DomainRequired);
}

#[test]
fn adaptive_coffee_shop_prompts_and_office_does_not() {
    let mut scenario = Scenario::new(DomainTwoFactor::Optional, AppTwoFactor::Adaptive);
    let office = scenario.decide();
    assert_eq!((office.outcome, office.winning_rule, office.risk), (Outcome::NoPrompt, Rule::AdaptiveLowRisk, RiskLevel::Low));
    scenario.risk = signals(COFFEE_SHOP);
    let coffee = scenario.decide();
    assert_eq!((coffee.outcome, coffee.winning_rule), (mfa(Method::Totp.into()), Rule::AdaptiveRisk));
    assert_eq!(coffee.risk, RiskLevel::Elevated);
}

#[test]
fn adaptive_remembered_device_is_not_prompted() {
    let mut scenario = Scenario::new(DomainTwoFactor::Optional, AppTwoFactor::Adaptive);
    scenario.risk = RiskSignals { device: DeviceSignal::Known { last_second_factor_at: Some(NOW - Duration::days(3)) }, ..signals(COFFEE_SHOP) };
    assert_eq!(scenario.decide().winning_rule, Rule::AdaptiveLowRisk);
    scenario.domain.remember_device_days = 2;
    assert_eq!(scenario.decide().winning_rule, Rule::AdaptiveRisk);
}

#[test]
fn adaptive_risky_sign_in_without_a_factor_is_flagged_and_invited_to_enroll() {
    let mut scenario = Scenario { enrollment: not_enrolled(), risk: signals(COFFEE_SHOP), ..Scenario::new(DomainTwoFactor::Optional, AppTwoFactor::Adaptive) };
    let decision = scenario.decide();
    assert_eq!((decision.outcome, decision.winning_rule), (Outcome::NoPrompt, Rule::AdaptiveNotEnrolled));
    assert!(decision.risky_single_factor && decision.invite_enrollment);
    assert!(decision.reasons.contains(&Reason::RiskySingleFactor));
    // A domain allowing nothing has nothing to invite to.
    scenario.domain.allowed_methods = MethodSet::EMPTY;
    let decision = scenario.decide();
    assert!(decision.risky_single_factor && !decision.invite_enrollment);
}

#[test]
fn an_enrolled_method_the_domain_no_longer_allows_does_not_count() {
    let mut scenario = Scenario::new(DomainTwoFactor::Required, AppTwoFactor::Adaptive);
    scenario.domain.allowed_methods = MethodSet::WEBAUTHN;
    assert_eq!(scenario.decide().outcome, Outcome::Enroll { level: AuthLevel::Mfa, methods: MethodSet::WEBAUTHN });
}

#[test]
fn an_invalid_required_policy_without_methods_denies_rather_than_offering_nothing() {
    let mut scenario = Scenario::new(DomainTwoFactor::Required, AppTwoFactor::Adaptive);
    scenario.domain.allowed_methods = MethodSet::EMPTY;
    let decision = scenario.decide();
    assert_eq!(decision.outcome, Outcome::Deny { error: DenyReason::UnmetAuthenticationRequirements });
    assert_eq!(decision.winning_rule, Rule::DomainRequired);
}

#[test]
fn sms_offers_are_marked_restricted() {
    let mut scenario = Scenario::new(DomainTwoFactor::Optional, AppTwoFactor::Required);
    scenario.enrollment.methods = Method::Sms.into();
    assert!(scenario.decide().reasons.contains(&Reason::RestrictedMethodOffered));
    scenario.enrollment.methods = Method::Totp.into();
    assert!(!scenario.decide().reasons.contains(&Reason::RestrictedMethodOffered));
}

#[test]
fn risk_is_reported_even_when_it_does_not_decide() {
    let scenario = Scenario { risk: high_risk(), ..Scenario::new(DomainTwoFactor::Optional, AppTwoFactor::Bypass) };
    let decision = scenario.decide();
    assert_eq!((decision.outcome, decision.risk), (Outcome::NoPrompt, RiskLevel::High));
    assert!(decision.reasons.contains(&Reason::ReportedDevice));
}

// --- Explanations ----------------------------------------------------------------------------

#[test]
fn decision_serialises_rule_and_reason_codes_as_json() {
    let scenario = Scenario { risk: signals(COFFEE_SHOP), ..Scenario::new(DomainTwoFactor::Optional, AppTwoFactor::Adaptive) };
    let json = serde_json::to_value(scenario.decide()).unwrap();
    assert_eq!(json["outcome"], serde_json::json!({ "kind": "second_factor", "level": "urn:gatehouse:acr:mfa", "methods": ["totp"] }));
    assert_eq!(json["winning_rule"]["code"], "adaptive_risk");
    assert_eq!(json["winning_rule"]["text"], Rule::AdaptiveRisk.text());
    let codes: Vec<_> = json["reasons"].as_array().unwrap().iter().map(|r| r["code"].as_str().unwrap()).collect();
    assert_eq!(codes, ["domain_optional", "app_adaptive", "device_not_remembered"]);
    assert_eq!(json["risk"], "elevated");
    assert_eq!(json["risky_single_factor"], false);
}

#[test]
fn decisions_hold_no_heap_data() {
    // `Copy` rules out every owning pointer, so returning a decision cannot allocate.
    fn assert_copy<T: Copy>(_: &T) {}
    assert_copy(&Scenario::new(DomainTwoFactor::Optional, AppTwoFactor::Adaptive).decide());
}

#[test]
fn the_longest_explanation_fits_without_dropping_a_reason() {
    let mut scenario = Scenario::new(DomainTwoFactor::Required, AppTwoFactor::Bypass);
    scenario.domain.allowed_methods = MethodSet::from_iter([Method::Sms, Method::Passkey]);
    scenario.enrollment = not_enrolled();
    scenario.session = Some(SessionState { level: AuthLevel::Mfa, second_factor_at: Some(NOW - Duration::hours(1)) });
    scenario.risk = RiskSignals {
        address: ip(OFFICE),
        device: DeviceSignal::Unknown,
        address_seen_before: false,
        failures_for_user: 9,
        failures_for_address: 99,
        reported_device: true,
        reported_address: true,
        new_country: true,
        location: Some(NEW_YORK),
        previous: Some(PreviousSignIn { at: NOW - Duration::minutes(30), location: Some(HELSINKI) }),
    };
    let scenario = scenario.step_up(AuthLevel::Mfa, Some(60));
    let decision = scenario.decide();
    assert_eq!(decision.reasons.dropped(), 0);
    assert_eq!(decision.reasons.len(), 15, "{:?}", decision.reasons.codes().collect::<Vec<_>>());
    assert!(decision.reasons.len() < REASONS_CAPACITY);
}
