//! Properties of [`decide`] over arbitrary inputs (policies that may be invalid, any enrollment,
//! any risk signals, any step-up and session): the guarantees the seed makes to admins.

use proptest::prelude::*;

use super::*;
use crate::geo::GeoPoint;

fn method_set() -> impl Strategy<Value = MethodSet> {
    // All five bits, recovery codes included: the engine must cope with sets built in code.
    (0u8..32).prop_map(|bits| Method::ALL.into_iter().enumerate().filter(|(i, _)| bits & (1 << i) != 0).map(|(_, m)| m).collect())
}

fn level() -> impl Strategy<Value = AuthLevel> {
    prop::sample::select(AuthLevel::ALL.to_vec())
}

fn moment() -> impl Strategy<Value = OffsetDateTime> {
    // From 60 days ago to a minute in the future (clock skew).
    (-60i64..5_184_000).prop_map(|ago| NOW - Duration::seconds(ago))
}

fn place() -> impl Strategy<Value = Option<GeoPoint>> {
    prop::option::of((-90.0f32..90.0, -180.0f32..180.0).prop_map(|(lat, lon)| GeoPoint { lat, lon }))
}

fn domain() -> impl Strategy<Value = DomainPolicy> {
    let networks = prop::sample::subsequence(vec!["203.0.113.0/24", "2001:db8::/32", "10.0.0.0/8"], 0..=3);
    (prop::bool::ANY, method_set(), networks, 0u16..400).prop_map(|(required, allowed, networks, days)| DomainPolicy {
        two_factor: if required { DomainTwoFactor::Required } else { DomainTwoFactor::Optional },
        allowed_methods: allowed,
        trusted_networks: networks.into_iter().map(|n| Cidr::parse(n).unwrap()).collect(),
        remember_device_days: days,
    })
}

fn app() -> impl Strategy<Value = AppPolicy> {
    prop::sample::select(vec![AppTwoFactor::Bypass, AppTwoFactor::Adaptive, AppTwoFactor::Required])
        .prop_map(|two_factor| AppPolicy { two_factor, step_up_scopes: vec![] })
}

fn enrollment() -> impl Strategy<Value = Enrollment> {
    (method_set(), prop::bool::ANY, prop::bool::ANY).prop_map(|(methods, recovery_codes, device_bound_webauthn)| Enrollment {
        methods,
        recovery_codes,
        device_bound_webauthn,
    })
}

fn risk() -> impl Strategy<Value = RiskSignals> {
    let address = prop::sample::select(vec![OFFICE, COFFEE_SHOP, "2001:db8::7", "2001:db9::7", "::ffff:10.1.2.3"]);
    let device =
        prop::option::of(prop::option::of(moment())).prop_map(|d| d.map_or(DeviceSignal::Unknown, |at| DeviceSignal::Known { last_second_factor_at: at }));
    let previous = prop::option::of((moment(), place()).prop_map(|(at, location)| PreviousSignIn { at, location }));
    let flags = prop::array::uniform4(prop::bool::ANY);
    (address, device, flags, 0u32..30, 0u32..30, place(), previous).prop_map(
        |(address, device, [seen, reported_device, reported_address, new_country], fu, fa, location, previous)| RiskSignals {
            address: ip(address),
            device,
            address_seen_before: seen,
            failures_for_user: fu,
            failures_for_address: fa,
            reported_device,
            reported_address,
            new_country,
            location,
            previous,
        },
    )
}

fn step_up() -> impl Strategy<Value = Option<(AuthLevel, Option<u64>)>> {
    let above_password = prop::sample::select(AuthLevel::ALL[1..].to_vec());
    prop::option::of((above_password, prop::option::of(0u64..100_000)))
}

fn session() -> impl Strategy<Value = Option<SessionState>> {
    prop::option::of((level(), prop::option::of(moment())).prop_map(|(level, second_factor_at)| SessionState { level, second_factor_at }))
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (domain(), app(), enrollment(), risk(), step_up(), session()).prop_map(|(domain, app, enrollment, risk, step_up, session)| Scenario {
        domain,
        app,
        enrollment,
        risk,
        config: RiskConfig::default(),
        step_up,
        session,
    })
}

fn session_level(s: &Scenario) -> AuthLevel {
    s.session.map_or(AuthLevel::Password, |session| session.level)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    /// (a) Never weaker than the domain mandate, unless the app is Bypass and no step-up is asked.
    #[test]
    fn never_weaker_than_the_domain_mandate(mut s in scenario()) {
        s.domain.two_factor = DomainTwoFactor::Required;
        if s.app.two_factor == AppTwoFactor::Bypass && s.step_up.is_none() {
            return Ok(()); // the exception, property (c)
        }
        let decision = s.decide();
        if decision.outcome == Outcome::NoPrompt {
            prop_assert_eq!(decision.winning_rule, Rule::SessionSatisfies);
            prop_assert!(session_level(&s) >= AuthLevel::Mfa);
        }
        prop_assert!(!decision.risky_single_factor);
    }

    /// (b) A step-up is never weakened.
    #[test]
    fn step_up_is_never_weakened(s in scenario()) {
        let Some((required, max_age)) = s.step_up else { return Ok(()) };
        let decision = s.decide();
        match decision.outcome {
            Outcome::NoPrompt => {
                prop_assert_eq!(decision.winning_rule, Rule::SessionSatisfies);
                let session = s.session.unwrap();
                prop_assert!(session.level >= required);
                if let Some(max_age) = max_age {
                    let at = session.second_factor_at.unwrap();
                    prop_assert!(NOW - at <= Duration::seconds(max_age as i64));
                }
            }
            Outcome::SecondFactor { level, methods } => {
                prop_assert_eq!(decision.winning_rule, Rule::StepUp);
                prop_assert!(level >= required);
                prop_assert!(!methods.is_empty());
                prop_assert!(methods.iter().all(|m| m.reaches(level, s.enrollment.device_bound_webauthn)));
            }
            Outcome::Enroll { level, methods } => {
                prop_assert_eq!(decision.winning_rule, Rule::StepUp);
                prop_assert!(level >= required);
                prop_assert!(!methods.is_empty());
                prop_assert!(methods.iter().all(|m| m.reaches(level, true)));
            }
            Outcome::Deny { .. } => {
                prop_assert_eq!(decision.winning_rule, Rule::StepUp);
                // Denied only when nothing the domain allows could ever reach the level.
                prop_assert!(s.domain.configurable_methods().reaching(required, true).is_empty());
            }
        }
    }

    /// (c) Bypass without a step-up never prompts and never sends anyone to enroll.
    #[test]
    fn bypass_without_step_up_never_prompts(mut s in scenario()) {
        s.app.two_factor = AppTwoFactor::Bypass;
        s.step_up = None;
        let decision = s.decide();
        prop_assert_eq!(decision.outcome, Outcome::NoPrompt);
        prop_assert_eq!(decision.winning_rule, Rule::AppBypass);
        prop_assert!(!decision.invite_enrollment && !decision.risky_single_factor);
    }

    /// (d) Offers are only what the user has and the domain allows (recovery codes as a backup);
    /// enrollment only in allowed methods, never in recovery codes.
    #[test]
    fn offered_methods_are_enrolled_and_allowed(s in scenario()) {
        let decision = s.decide();
        let allowed = s.domain.allowed_methods;
        match decision.outcome {
            Outcome::SecondFactor { methods, .. } => {
                let usable = s.enrollment.methods.intersection(allowed).with(Method::RecoveryCode);
                prop_assert!(methods.is_subset(usable), "{:?} not within {:?}", methods, usable);
                if methods.contains(Method::RecoveryCode) {
                    prop_assert!(s.enrollment.recovery_codes);
                    prop_assert!(methods.len() > 1, "recovery codes never stand alone");
                }
            }
            Outcome::Enroll { methods, .. } => {
                prop_assert!(methods.is_subset(allowed));
                prop_assert!(!methods.contains(Method::RecoveryCode));
            }
            Outcome::NoPrompt | Outcome::Deny { .. } => {}
        }
    }

    /// Every decision is fully explained: the risk is the assessed one, no reason is dropped,
    /// and the single-factor flag belongs to its rule alone.
    #[test]
    fn every_decision_is_fully_explained(s in scenario()) {
        let decision = s.decide();
        let risk = crate::risk::assess(&s.risk, &s.domain, &s.config, NOW);
        prop_assert_eq!(decision.risk, risk.level);
        prop_assert_eq!(decision.reasons.dropped(), 0);
        prop_assert!(risk.reasons.iter().all(|r| decision.reasons.contains(&r)));
        prop_assert_eq!(decision.risky_single_factor, decision.winning_rule == Rule::AdaptiveNotEnrolled);
    }
}
