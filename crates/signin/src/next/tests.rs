use super::*;
use crate::proof::FirstFactor;
use gatehouse_policy::{Method, MethodSet, Rule};

fn user() -> User {
    crate::parked::tests::ann("u1", "t1")
}

fn verdict(outcome: Outcome, existing: &[Method]) -> Verdict {
    Verdict {
        outcome,
        rule: Rule::DomainRequired,
        record: serde_json::json!({ "winning_rule": { "code": "domain_required" } }),
        remember_device_days: 7,
        existing_factors: existing.iter().copied().collect(),
    }
}

const AT: OffsetDateTime = OffsetDateTime::UNIX_EPOCH;

#[test]
fn no_prompt_completes_and_deny_refuses() {
    assert_eq!(after_first_factor(&verdict(Outcome::NoPrompt, &[]), &user(), &FirstFactor::password(), AT), Next::Complete);
    let deny = Outcome::Deny { error: gatehouse_policy::DenyReason::UnmetAuthenticationRequirements };
    assert_eq!(after_first_factor(&verdict(deny, &[]), &user(), &FirstFactor::password(), AT), Next::Refuse);
}

#[test]
fn a_second_factor_verdict_parks_what_is_owed_at_the_factor_page() {
    let methods = MethodSet::single(Method::Totp).with(Method::RecoveryCode);
    let next = after_first_factor(&verdict(Outcome::SecondFactor { level: AuthLevel::Mfa, methods }, &[Method::Totp]), &user(), &FirstFactor::password(), AT);
    let Next::Ask { progress, page } = next else { panic!("asks for more") };
    assert_eq!(page, FlowPage::SecondFactor);
    assert_eq!(progress.owed(), Some(Owed { level: AuthLevel::Mfa, methods }));
    assert_eq!((progress.first_method(), progress.remember_device_days), ("pwd", 7));
}

#[test]
fn enrolling_after_a_password_needs_an_existing_factor_first() {
    let wanted = Owed { level: AuthLevel::PhishingResistant, methods: MethodSet::single(Method::SecurityKey) };
    let enroll = Outcome::Enroll { level: wanted.level, methods: wanted.methods };
    let Next::Ask { progress, page } = after_first_factor(&verdict(enroll, &[Method::Totp]), &user(), &FirstFactor::password(), AT) else { panic!("asks") };
    assert_eq!(page, FlowPage::SecondFactor, "the account's own factor first");
    assert_eq!(progress.then_enroll(), Some(wanted));
    assert_eq!(progress.level(), AuthLevel::Mfa);
    let Next::Ask { progress, page } = after_first_factor(&verdict(enroll, &[]), &user(), &FirstFactor::password(), AT) else { panic!("asks") };
    assert_eq!((page, progress.is_enrolling_unconfirmed()), (FlowPage::Enrollment, true), "no factor yet: the wizard");
}

#[test]
fn a_password_change_after_a_password_alone_needs_the_step_up_when_a_factor_is_trusted() {
    assert_eq!(awaiting_password_change(None, &user(), &Proof::password(), None, false, true, AT), None);
    let change = awaiting_password_change(None, &user(), &Proof::password(), None, false, false, AT).unwrap();
    assert_eq!(change.pending_reset().map(|r| r.level), Some(AuthLevel::Password));
    let mfa = Proof::with_second_factor("pwd", "otp", AuthLevel::Mfa);
    let change = awaiting_password_change(None, &user(), &mfa, None, true, true, AT).unwrap();
    assert!(change.pending_reset().is_some_and(|r| r.remember_device && r.level == AuthLevel::Mfa));
}
