//! The full matrix of the issue: 2 domain modes × 3 app modes × enrolled or not × low or high
//! risk × an `mfa` step-up or none = 48 sign-ins, each with its expected outcome and winning
//! rule written out by hand (not derived from the rules, so a broken rule shows up here).

use super::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    NoPrompt,
    SecondFactor,
    Enroll,
}

#[derive(Clone, Copy, Debug)]
enum Risk {
    Low,
    High,
}

#[derive(Clone, Copy, Debug)]
enum Ask {
    Nothing,
    StepUpMfa,
}

use AppTwoFactor::{Adaptive, Bypass, Required as AppReq};
use Ask::{Nothing, StepUpMfa};
use DomainTwoFactor::{Optional as Opt, Required as DomReq};
use Kind::{Enroll, NoPrompt, SecondFactor};
use Risk::{High, Low};
use Rule::{AdaptiveLowRisk, AdaptiveNotEnrolled, AdaptiveRisk, AppBypass, AppRequired, DomainRequired, StepUp as StepUpRule};

const ENROLLED: bool = true;
const NEW: bool = false;

/// (domain, app, enrolled, risk, request, expected outcome, expected rule, risky single factor)
type Row = (DomainTwoFactor, AppTwoFactor, bool, Risk, Ask, Kind, Rule, bool);

#[rustfmt::skip]
const MATRIX: [Row; 48] = [
    // Domain optional, app bypass: nothing but a step-up prompts.
    (Opt, Bypass, NEW,      Low,  Nothing,   NoPrompt,     AppBypass,           false),
    (Opt, Bypass, NEW,      Low,  StepUpMfa, Enroll,       StepUpRule,          false),
    (Opt, Bypass, NEW,      High, Nothing,   NoPrompt,     AppBypass,           false),
    (Opt, Bypass, NEW,      High, StepUpMfa, Enroll,       StepUpRule,          false),
    (Opt, Bypass, ENROLLED, Low,  Nothing,   NoPrompt,     AppBypass,           false),
    (Opt, Bypass, ENROLLED, Low,  StepUpMfa, SecondFactor, StepUpRule,          false),
    (Opt, Bypass, ENROLLED, High, Nothing,   NoPrompt,     AppBypass,           false),
    (Opt, Bypass, ENROLLED, High, StepUpMfa, SecondFactor, StepUpRule,          false),
    // Domain optional, app adaptive: risk decides.
    (Opt, Adaptive, NEW,      Low,  Nothing,   NoPrompt,     AdaptiveLowRisk,     false),
    (Opt, Adaptive, NEW,      Low,  StepUpMfa, Enroll,       StepUpRule,          false),
    (Opt, Adaptive, NEW,      High, Nothing,   NoPrompt,     AdaptiveNotEnrolled, true),
    (Opt, Adaptive, NEW,      High, StepUpMfa, Enroll,       StepUpRule,          false),
    (Opt, Adaptive, ENROLLED, Low,  Nothing,   NoPrompt,     AdaptiveLowRisk,     false),
    (Opt, Adaptive, ENROLLED, Low,  StepUpMfa, SecondFactor, StepUpRule,          false),
    (Opt, Adaptive, ENROLLED, High, Nothing,   SecondFactor, AdaptiveRisk,        false),
    (Opt, Adaptive, ENROLLED, High, StepUpMfa, SecondFactor, StepUpRule,          false),
    // Domain optional, app required: stronger wins.
    (Opt, AppReq, NEW,      Low,  Nothing,   Enroll,       AppRequired,         false),
    (Opt, AppReq, NEW,      Low,  StepUpMfa, Enroll,       StepUpRule,          false),
    (Opt, AppReq, NEW,      High, Nothing,   Enroll,       AppRequired,         false),
    (Opt, AppReq, NEW,      High, StepUpMfa, Enroll,       StepUpRule,          false),
    (Opt, AppReq, ENROLLED, Low,  Nothing,   SecondFactor, AppRequired,         false),
    (Opt, AppReq, ENROLLED, Low,  StepUpMfa, SecondFactor, StepUpRule,          false),
    (Opt, AppReq, ENROLLED, High, Nothing,   SecondFactor, AppRequired,         false),
    (Opt, AppReq, ENROLLED, High, StepUpMfa, SecondFactor, StepUpRule,          false),
    // Domain required, app bypass: the App Bypass always wins, step-up excepted.
    (DomReq, Bypass, NEW,      Low,  Nothing,   NoPrompt,     AppBypass,           false),
    (DomReq, Bypass, NEW,      Low,  StepUpMfa, Enroll,       StepUpRule,          false),
    (DomReq, Bypass, NEW,      High, Nothing,   NoPrompt,     AppBypass,           false),
    (DomReq, Bypass, NEW,      High, StepUpMfa, Enroll,       StepUpRule,          false),
    (DomReq, Bypass, ENROLLED, Low,  Nothing,   NoPrompt,     AppBypass,           false),
    (DomReq, Bypass, ENROLLED, Low,  StepUpMfa, SecondFactor, StepUpRule,          false),
    (DomReq, Bypass, ENROLLED, High, Nothing,   NoPrompt,     AppBypass,           false),
    (DomReq, Bypass, ENROLLED, High, StepUpMfa, SecondFactor, StepUpRule,          false),
    // Domain required, app adaptive: the domain mandate stays, whatever the risk.
    (DomReq, Adaptive, NEW,      Low,  Nothing,   Enroll,       DomainRequired,      false),
    (DomReq, Adaptive, NEW,      Low,  StepUpMfa, Enroll,       StepUpRule,          false),
    (DomReq, Adaptive, NEW,      High, Nothing,   Enroll,       DomainRequired,      false),
    (DomReq, Adaptive, NEW,      High, StepUpMfa, Enroll,       StepUpRule,          false),
    (DomReq, Adaptive, ENROLLED, Low,  Nothing,   SecondFactor, DomainRequired,      false),
    (DomReq, Adaptive, ENROLLED, Low,  StepUpMfa, SecondFactor, StepUpRule,          false),
    (DomReq, Adaptive, ENROLLED, High, Nothing,   SecondFactor, DomainRequired,      false),
    (DomReq, Adaptive, ENROLLED, High, StepUpMfa, SecondFactor, StepUpRule,          false),
    // Domain required, app required: required, and the domain is named.
    (DomReq, AppReq, NEW,      Low,  Nothing,   Enroll,       DomainRequired,      false),
    (DomReq, AppReq, NEW,      Low,  StepUpMfa, Enroll,       StepUpRule,          false),
    (DomReq, AppReq, NEW,      High, Nothing,   Enroll,       DomainRequired,      false),
    (DomReq, AppReq, NEW,      High, StepUpMfa, Enroll,       StepUpRule,          false),
    (DomReq, AppReq, ENROLLED, Low,  Nothing,   SecondFactor, DomainRequired,      false),
    (DomReq, AppReq, ENROLLED, Low,  StepUpMfa, SecondFactor, StepUpRule,          false),
    (DomReq, AppReq, ENROLLED, High, Nothing,   SecondFactor, DomainRequired,      false),
    (DomReq, AppReq, ENROLLED, High, StepUpMfa, SecondFactor, StepUpRule,          false),
];

#[test]
fn full_policy_matrix() {
    for (i, &(domain, app, enrolled, risk, ask, kind, rule, risky)) in MATRIX.iter().enumerate() {
        let row = format!("row {i}: {domain:?} domain, {app:?} app, enrolled {enrolled}, {risk:?} risk, {ask:?}");
        let mut scenario = Scenario::new(domain, app);
        scenario.enrollment = if enrolled { totp_user() } else { not_enrolled() };
        scenario.risk = match risk {
            Low => low_risk(),
            High => high_risk(),
        };
        if let StepUpMfa = ask {
            scenario = scenario.step_up(AuthLevel::Mfa, None);
        }
        let decision = scenario.decide();

        let (actual_kind, level, methods) = match decision.outcome {
            Outcome::NoPrompt => (NoPrompt, None, None),
            Outcome::SecondFactor { level, methods } => (SecondFactor, Some(level), Some(methods)),
            Outcome::Enroll { level, methods } => (Enroll, Some(level), Some(methods)),
            Outcome::Deny { .. } => panic!("{row}: unexpected {:?}", decision.outcome),
        };
        assert_eq!(actual_kind, kind, "{row}");
        assert_eq!(decision.winning_rule, rule, "{row}");
        assert_eq!(decision.risky_single_factor, risky, "{row}");
        assert_eq!(decision.invite_enrollment, risky, "{row}: only a risky single-factor sign-in is invited");
        assert_eq!(
            decision.risk,
            match risk {
                Low => RiskLevel::Low,
                High => RiskLevel::High,
            },
            "{row}: risk is assessed in every case"
        );
        match actual_kind {
            SecondFactor => assert_eq!(methods, Some(Method::Totp.into()), "{row}"),
            Enroll => assert_eq!(methods, Some(MethodSet::CONFIGURABLE), "{row}"),
            NoPrompt => {}
        }
        if actual_kind != NoPrompt {
            assert_eq!(level, Some(AuthLevel::Mfa), "{row}");
        }
    }
}

#[test]
fn matrix_covers_every_combination_once() {
    let mut seen: Vec<String> = MATRIX.iter().map(|r| format!("{:?} {:?} {} {:?} {:?}", r.0, r.1, r.2, r.3, r.4)).collect();
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), 2 * 3 * 2 * 2 * 2);
}
