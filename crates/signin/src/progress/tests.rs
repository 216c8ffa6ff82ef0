use super::*;

fn owed(level: AuthLevel, methods: &[Method]) -> Owed {
    Owed { level, methods: methods.iter().copied().collect() }
}

fn second_factor(then_enroll: Option<Owed>) -> Progress {
    Progress {
        idp: None,
        user_id: UserId::new("u1"),
        first_amr: vec!["pwd".into()],
        auth_time: 1_700_000_000,
        decision: serde_json::json!({ "winning_rule": { "code": "domain_required" } }),
        remember_device_days: 30,
        ceremony: None,
        stage: Stage::SecondFactor { owed: owed(AuthLevel::Mfa, &[Method::Totp, Method::RecoveryCode]), then_enroll, sms_challenge: None },
    }
}

#[test]
fn progress_round_trips_with_recovery_codes_among_its_methods() {
    let progress = second_factor(Some(owed(AuthLevel::PhishingResistant, &[Method::Passkey]))).with_ceremony(FactorKind::Passkey, "{}".into());
    let decoded = Progress::decode(Some(&progress.encode())).unwrap();
    assert_eq!(decoded, progress);
    assert!(decoded.offers(Method::Totp) && decoded.offers(Method::RecoveryCode));
    assert!(!decoded.offers(Method::Sms));
    assert_eq!(Progress::decode(None), None);
    assert_eq!(Progress::decode(Some("{not json")), None);
}

#[test]
fn a_text_message_challenge_is_only_kept_at_the_second_factor_step() {
    let progress = second_factor(None).with_sms_challenge("c1".into()).unwrap();
    assert_eq!(progress.sms_challenge(), Some("c1"));
    let wizard = Progress { stage: Stage::Enrollment { owed: owed(AuthLevel::Mfa, &[Method::Sms]), app: None, phone: None, enrolled: None }, ..progress };
    assert_eq!(wizard.with_sms_challenge("c2".into()), None);
    assert_eq!(wizard.sms_challenge(), None);
}

#[test]
fn the_wizard_opens_only_when_the_second_factor_step_owes_one() {
    assert_eq!(second_factor(None).into_wizard(), None, "nothing to enroll after the factor");
    let then = owed(AuthLevel::PhishingResistant, &[Method::SecurityKey]);
    let wizard = second_factor(Some(then)).with_ceremony(FactorKind::Passkey, "{}".into()).into_wizard().unwrap();
    assert!(wizard.is_enrolling_unconfirmed());
    assert_eq!(wizard.owed(), Some(then));
    assert_eq!(wizard.ceremony, None, "a sign-in ceremony does not survive into the wizard");
    assert_eq!(wizard.into_wizard(), None);
}

#[test]
fn an_enrolled_wizard_accepts_no_further_factor() {
    let wizard = second_factor(Some(owed(AuthLevel::Mfa, &[Method::Totp, Method::Sms]))).into_wizard().unwrap();
    let with_app = wizard.with_enrolling_app(FactorId::new("f1")).unwrap();
    assert_eq!(with_app.enrolling_app(), Some(&FactorId::new("f1")));
    let done = with_app.with_enrolled(EnrolledProof { amr: "otp".into(), level: AuthLevel::Mfa }).unwrap();
    assert_eq!(done.enrolled().map(|p| p.amr.as_str()), Some("otp"));
    assert_eq!(done.enrolling_app(), None, "a confirmed wizard confirms nothing else");
    assert_eq!(done.with_enrolling_phone(FactorId::new("f2"), "c".into()), None);
    assert_eq!(done.with_enrolled(EnrolledProof { amr: "sms".into(), level: AuthLevel::Mfa }), None);
    assert_eq!(second_factor(None).with_enrolling_app(FactorId::new("f1")), None, "no enrolling at the second-factor step");
}

#[test]
fn a_ceremony_is_taken_once_and_only_for_its_kind() {
    let progress = second_factor(None).with_ceremony(FactorKind::SecurityKey, "state".into());
    assert_eq!(progress.take_ceremony(FactorKind::Passkey), None);
    let (state, rest) = progress.take_ceremony(FactorKind::SecurityKey).unwrap();
    assert_eq!(state, "state");
    assert_eq!(rest.take_ceremony(FactorKind::SecurityKey), None);
}

#[test]
fn the_password_change_owes_no_factor_and_keeps_what_was_proved() {
    let reset = PendingReset { level: AuthLevel::Mfa, amr: vec!["pwd".into(), "otp".into(), "mfa".into()], remember_device: true, email_code: None };
    let change = second_factor(None).awaiting_password_change(reset.clone());
    assert_eq!(change.pending_reset(), Some(&reset));
    assert_eq!(change.owed(), None);
    assert!(!change.offers(Method::Totp), "no second factor is taken at the password change");
    assert_eq!(change.level(), AuthLevel::Mfa);
    let code = EmailCode { digest: "d".into(), expires_at: 1, tries_left: 5 };
    let with_code = change.with_reset(PendingReset { email_code: Some(code.clone()), ..reset }).unwrap();
    assert_eq!(with_code.pending_reset().and_then(|r| r.email_code.clone()), Some(code));
    assert!(second_factor(None).with_reset(with_code.pending_reset().unwrap().clone()).is_none());
}
