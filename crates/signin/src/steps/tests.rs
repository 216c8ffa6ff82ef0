//! The steps' refusals, over an in-memory store: a step at the wrong stage, a method not
//! offered, a wrong code (counted and recorded), throttling and lockout, a lost race, a
//! wizard whose factor falls short, the mailbox code of a password change.

use super::*;
use crate::attempt::Attempt;
use crate::factors::{MfaServices, ceremonies::Ceremonies};
use crate::parked::tests::{ann, app, request};
use crate::progress::{EmailCode, EnrolledProof, Owed, PendingReset, Stage};
use base64::Engine as _;
use gatehouse_core::ids::{FactorId, TenantId, UserId};
use gatehouse_core::{Email, EmailDomain};
use gatehouse_crypto::SecretDigester;
use gatehouse_delivery::{DevOutbox, DroppedNotices, NoSmsGateway, Notifier};
use gatehouse_ops::monitor::Monitor;
use gatehouse_ops::rate_limit::{OTP_FAILURES_PER_ADDRESS, RESET_CODE_GUESSES, RateLimiter, SECOND_FACTOR};
use gatehouse_policy::{AuthLevel, Method};
use gatehouse_store::sqlite::SqliteStore;
use gatehouse_store::{DirectoryStore, ImportPlan, ImportStore, SecurityStore, SignInStore, TenantPlan, UserPlan};
use second_factor::{FactorOutcome, Presented};
use time::OffsetDateTime;
use time::macros::datetime;

const NOW: OffsetDateTime = datetime!(2026-12-07 04:00 UTC);

struct Fixture {
    store: Arc<SqliteStore>,
    factors: Factors,
    ann: Arc<User>,
}

use crate::factors::Factors;

async fn fixture() -> Fixture {
    let store = Arc::new(SqliteStore::in_memory().await.unwrap());
    let ann = UserPlan {
        new_id: UserId::new("u-ann"),
        email: Email::parse("ann@acme.test").unwrap(),
        name: "Ann".into(),
        password_hash: None,
        roles: vec![],
        totp_secret: Some(b"12345678901234567890".to_vec()),
        phone: None,
        new_factor_ids: [FactorId::new("f-totp"), FactorId::new("f-sms")],
    };
    let tenant = TenantPlan {
        new_id: TenantId::new("t-acme"),
        name: "Acme".into(),
        domains: vec![EmailDomain::parse("acme.test").unwrap()],
        users: vec![ann],
        policy: None,
    };
    store.apply_import(&ImportPlan { tenants: vec![tenant], ..Default::default() }, NOW).await.unwrap();
    let ann = Arc::new(store.user(&UserId::new("u-ann")).await.unwrap().unwrap());
    let notifier: Arc<dyn Notifier> = Arc::new(DroppedNotices);
    let monitor = Arc::new(Monitor::new(Default::default(), "https://id.test", store.clone(), Arc::clone(&notifier)).unwrap());
    let services = MfaServices {
        webauthn: None,
        sms: Arc::new(NoSmsGateway),
        notifier,
        outbox: Arc::new(DevOutbox::new(&std::env::temp_dir().join("gatehouse-steps-tests-unused"))),
        totp_issuer: "id.test".into(),
        ceremonies: Ceremonies::default(),
    };
    let factors = Factors {
        store: store.clone(),
        digester: Arc::new(SecretDigester::new(b"pepper")),
        limiter: RateLimiter::default(),
        sms_address_limiter: RateLimiter::default(),
        services,
        monitor,
    };
    Fixture { store, factors, ann }
}

fn progress(stage: Stage) -> Progress {
    Progress {
        idp: None,
        user_id: UserId::new("u-ann"),
        first_amr: vec!["pwd".into()],
        auth_time: NOW.unix_timestamp(),
        decision: serde_json::Value::Null,
        remember_device_days: 30,
        ceremony: None,
        stage,
    }
}

fn owed(level: AuthLevel, methods: &[Method]) -> Owed {
    Owed { level, methods: methods.iter().copied().collect() }
}

fn second_factor_stage(methods: &[Method]) -> Stage {
    Stage::SecondFactor { owed: owed(AuthLevel::Mfa, methods), then_enroll: None, sms_challenge: None }
}

/// A sign-in parked in `stage` (stored, so compare-and-set works as in the server).
async fn parked(fx: &Fixture, stage: Stage) -> Step {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let id = format!("p{}", NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    let progress = progress(stage);
    let parked = ParkedSignIn::new(id, vec![1], "csrf".into(), request(), NOW + time::Duration::minutes(10), Some(progress.clone()));
    fx.store.save_pending(&parked.to_record().unwrap()).await.unwrap();
    Step { parked, progress, user: Arc::clone(&fx.ann) }
}

fn attempt() -> Attempt {
    Attempt::new("192.0.2.7".parse().unwrap(), "agent", None)
}

fn code(method: &'static str, code: &'static str) -> Presented<'static> {
    Presented { method: Some(method), code, credential: None, remember_device: true }
}

#[test]
fn only_offered_webauthn_kinds_are_accepted() {
    let p = progress(second_factor_stage(&[Method::Totp, Method::Passkey]));
    assert_eq!(offered_kind(&p, Some("passkey")), Some(FactorKind::Passkey));
    assert_eq!(offered_kind(&p, Some("security_key")), None, "not offered");
    assert_eq!(offered_kind(&p, Some("totp")), None, "not WebAuthn");
    assert_eq!(offered_kind(&p, None), None);
    assert!(webauthn_kinds(false, &p).is_empty(), "not on a server without a domain name");
    assert_eq!(webauthn_kinds(true, &p), vec![FactorKind::Passkey]);
}

#[tokio::test]
async fn a_second_factor_outside_its_stage_has_expired() {
    let fx = fixture().await;
    let per_address = RateLimiter::default();
    let cx = second_factor::Context { factors: &fx.factors, per_address: &per_address, rng: &crate::SystemRandomness };
    let stage = Stage::Enrollment { owed: owed(AuthLevel::Mfa, &[Method::Totp]), app: None, phone: None, enrolled: None };
    let mut step = parked(&fx, stage).await;
    let outcome = second_factor::present(&cx, &mut step, code("totp", "123456"), &attempt(), NOW).await;
    assert!(matches!(outcome, Err(StepError::Expired)), "{outcome:?}");
}

#[tokio::test]
async fn a_method_the_step_does_not_offer_is_refused_and_not_counted() {
    let fx = fixture().await;
    let per_address = RateLimiter::default();
    let cx = second_factor::Context { factors: &fx.factors, per_address: &per_address, rng: &crate::SystemRandomness };
    let mut step = parked(&fx, second_factor_stage(&[Method::Totp])).await;
    let outcome = second_factor::present(&cx, &mut step, code("sms", "123456"), &attempt(), NOW).await.unwrap();
    assert!(matches!(outcome, FactorOutcome::Refuse(MfaError::NotAllowed)), "{outcome:?}");
    assert_eq!(per_address.failures("192.0.2.7", OTP_FAILURES_PER_ADDRESS, NOW), 0);
    assert!(fx.store.sign_in_events_after(0, 10).await.unwrap().is_empty(), "nothing recorded");
}

#[tokio::test]
async fn a_wrong_code_is_refused_counted_per_address_and_recorded() {
    let fx = fixture().await;
    let per_address = RateLimiter::default();
    let cx = second_factor::Context { factors: &fx.factors, per_address: &per_address, rng: &crate::SystemRandomness };
    let mut step = parked(&fx, second_factor_stage(&[Method::Totp])).await;
    let outcome = second_factor::present(&cx, &mut step, code("totp", "000000"), &attempt(), NOW).await.unwrap();
    assert!(matches!(outcome, FactorOutcome::Refuse(MfaError::WrongCode { .. })), "{outcome:?}");
    assert_eq!(per_address.failures("192.0.2.7", OTP_FAILURES_PER_ADDRESS, NOW), 1);
    let events = fx.store.sign_in_events_after(0, 10).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events.first().map(|(_, e)| e.result), Some(gatehouse_store::SignInResult::SecondFactorFailure));
}

#[tokio::test]
async fn an_address_over_its_limit_is_throttled_before_any_code_is_checked() {
    let fx = fixture().await;
    let per_address = RateLimiter::default();
    for _ in 0..OTP_FAILURES_PER_ADDRESS.max {
        per_address.record_failure("192.0.2.7", OTP_FAILURES_PER_ADDRESS, NOW);
    }
    let cx = second_factor::Context { factors: &fx.factors, per_address: &per_address, rng: &crate::SystemRandomness };
    let mut step = parked(&fx, second_factor_stage(&[Method::Totp])).await;
    let outcome = second_factor::present(&cx, &mut step, code("totp", "000000"), &attempt(), NOW).await.unwrap();
    assert!(matches!(outcome, FactorOutcome::Refuse(MfaError::Throttled { .. })), "{outcome:?}");
    assert!(fx.store.sign_in_events_after(0, 10).await.unwrap().is_empty(), "throttling is not a failure");
}

#[tokio::test]
async fn a_user_locked_out_of_second_factors_is_refused() {
    let fx = fixture().await;
    for _ in 0..SECOND_FACTOR.max {
        fx.factors.limiter.record_failure("u-ann", SECOND_FACTOR, NOW);
    }
    let per_address = RateLimiter::default();
    let cx = second_factor::Context { factors: &fx.factors, per_address: &per_address, rng: &crate::SystemRandomness };
    let mut step = parked(&fx, second_factor_stage(&[Method::Totp, Method::RecoveryCode])).await;
    let outcome = second_factor::present(&cx, &mut step, code("recovery_code", "abcd-efgh"), &attempt(), NOW).await.unwrap();
    assert!(matches!(outcome, FactorOutcome::Refuse(MfaError::Throttled { .. })), "{outcome:?}");
}

#[tokio::test]
async fn a_step_another_request_advanced_continues_elsewhere() {
    let fx = fixture().await;
    let mut first = parked(&fx, second_factor_stage(&[Method::Totp, Method::Sms])).await;
    let mut second = Step { parked: first.parked.clone(), progress: first.progress.clone(), user: Arc::clone(&fx.ann) };
    let sent = first.progress.with_sms_challenge("c1".into()).unwrap();
    first.advance(fx.store.as_ref(), sent).await.unwrap();
    let racing = second.progress.with_sms_challenge("c2".into()).unwrap();
    assert!(matches!(second.advance(fx.store.as_ref(), racing).await, Err(StepError::ContinuedElsewhere)));
    assert_eq!(first.progress.sms_challenge(), Some("c1"));
}

#[tokio::test]
async fn webauthn_options_for_a_kind_not_offered_are_refused() {
    let fx = fixture().await;
    let mut step = parked(&fx, second_factor_stage(&[Method::Totp])).await;
    let answer = ceremonies::sign_in_options(&fx.factors, &mut step, Some("passkey"), NOW).await.unwrap();
    assert!(matches!(answer, Err(MfaError::NotAllowed)));
    let answer = ceremonies::enroll_options(&fx.factors, &mut step, Some("passkey")).await.unwrap();
    assert!(matches!(answer, Err(MfaError::NotAllowed)), "not in the wizard");
}

#[test]
fn the_wizard_ends_only_with_a_factor_that_meets_the_level_asked() {
    let user = Arc::new(ann("u-ann", "t-acme"));
    let step = |stage| Step {
        parked: ParkedSignIn::new("p1".into(), vec![], "csrf".into(), request(), NOW, None),
        progress: progress(stage),
        user: Arc::clone(&user),
    };
    let enrolled = |level, amr: &str| Stage::Enrollment {
        owed: owed(AuthLevel::PhishingResistant, &[Method::Passkey]),
        app: None,
        phone: None,
        enrolled: Some(EnrolledProof { amr: amr.into(), level }),
    };
    assert!(matches!(enrollment::done(&step(enrolled(AuthLevel::Mfa, "swk"))), Ok(None)), "a synced passkey falls short");
    let proof = enrollment::done(&step(enrolled(AuthLevel::PhishingResistant, "hwk"))).unwrap().unwrap();
    assert_eq!((proof.level, proof.amr), (AuthLevel::PhishingResistant, vec!["pwd".to_owned(), "hwk".to_owned(), "mfa".to_owned()]));
    let unconfirmed = Stage::Enrollment { owed: owed(AuthLevel::Mfa, &[Method::Totp]), app: None, phone: None, enrolled: None };
    assert!(matches!(enrollment::done(&step(unconfirmed)), Err(StepError::Expired)), "no factor yet");
    assert!(matches!(enrollment::done(&step(second_factor_stage(&[Method::Totp]))), Err(StepError::Expired)), "not the wizard");
    assert!(matches!(enrollment::phone_allowed(&step(second_factor_stage(&[Method::Sms]))), Err(StepError::Expired)));
}

fn reset(email_code: Option<EmailCode>) -> PendingReset {
    PendingReset { level: AuthLevel::Mfa, amr: vec!["pwd".into(), "otp".into()], remember_device: false, email_code }
}

fn mailbox_code(fx: &Fixture, code: &str, expires_at: i64) -> EmailCode {
    let digest = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(fx.factors.digester.digest(&format!("password-reset:{code}")));
    EmailCode { digest, expires_at, tries_left: 5 }
}

#[tokio::test]
async fn a_wrong_mailbox_code_spends_a_try_and_the_right_one_is_accepted() {
    let fx = fixture().await;
    let limiter = RateLimiter::default();
    let cx = password_change::Context { factors: &fx.factors, limiter: &limiter, deliverable: true };
    let pending = reset(Some(mailbox_code(&fx, "12345678", (NOW + time::Duration::minutes(5)).unix_timestamp())));
    let mut step = parked(&fx, Stage::PasswordChange(pending.clone())).await;
    let address = "192.0.2.7".parse().unwrap();
    let check = password_change::check_code(&cx, &mut step, &pending, "87654321", address, NOW).await.unwrap();
    assert_eq!(check, password_change::CodeCheck::Wrong { tries_left: 4 });
    assert_eq!(step.progress.pending_reset().and_then(|r| r.email_code.as_ref()).map(|c| c.tries_left), Some(4), "the try is parked");
    let check = password_change::check_code(&cx, &mut step, &pending, "1234 5678", address, NOW).await.unwrap();
    assert_eq!(check, password_change::CodeCheck::Accepted);
}

#[tokio::test]
async fn an_expired_mailbox_code_is_replaced_and_guessing_is_throttled() {
    let fx = fixture().await;
    let limiter = RateLimiter::default();
    let cx = password_change::Context { factors: &fx.factors, limiter: &limiter, deliverable: true };
    let pending = reset(Some(mailbox_code(&fx, "12345678", NOW.unix_timestamp())));
    let mut step = parked(&fx, Stage::PasswordChange(pending.clone())).await;
    let address = "192.0.2.7".parse().unwrap();
    let check = password_change::check_code(&cx, &mut step, &pending, "12345678", address, NOW).await.unwrap();
    assert_eq!(check, password_change::CodeCheck::Resent, "expired: a new code went out");
    let sent = step.progress.pending_reset().and_then(|r| r.email_code.clone()).unwrap();
    assert!(sent.expires_at > NOW.unix_timestamp() && sent.tries_left == 5);
    for _ in 0..RESET_CODE_GUESSES.max {
        limiter.record_failure(&format!("guess:u-ann:{}", gatehouse_ops::monitor::host_network(address)), RESET_CODE_GUESSES, NOW);
    }
    let check = password_change::check_code(&cx, &mut step, &pending, "12345678", address, NOW).await.unwrap();
    assert!(matches!(check, password_change::CodeCheck::Throttled { .. }));
}

#[tokio::test]
async fn a_password_change_is_owed_only_by_an_account_that_must_reset() {
    let fx = fixture().await;
    let step = parked(&fx, Stage::PasswordChange(reset(None))).await;
    assert!(matches!(password_change::pending(&step), Err(StepError::Expired)), "Ann need not reset");
    let step = parked(&fx, second_factor_stage(&[Method::Totp])).await;
    assert!(matches!(password_change::pending(&step), Err(StepError::Expired)), "not the stage");
}

/// The password step's context over the fixture, with the caller's limiters.
fn password_context<'a>(fx: &'a Fixture, per_account: &'a RateLimiter, per_address: &'a RateLimiter) -> password::Context<'a> {
    password::Context {
        store: fx.store.as_ref(),
        monitor: &fx.factors.monitor,
        per_account,
        per_address,
        digester: &fx.factors.digester,
        rng: &crate::SystemRandomness,
    }
}

#[tokio::test]
async fn a_refused_password_counts_per_account_and_address_and_a_right_one_clears_the_account() {
    let fx = fixture().await;
    let (per_account, per_address) = (RateLimiter::default(), RateLimiter::default());
    let cx = password_context(&fx, &per_account, &per_address);
    let parked = ParkedSignIn::new("p1".into(), vec![], "csrf".into(), request(), NOW, None);
    let (attempt, email) = (attempt(), fx.ann.email.clone());
    let throttle = Default::default();
    password::refuse(&cx, &parked, &email, Some(&fx.ann), throttle, true, &attempt, NOW).await.unwrap();
    assert_eq!(per_account.failures(&email.key(), gatehouse_ops::rate_limit::LOGIN_PER_ACCOUNT, NOW), 1);
    assert_eq!(per_address.failures("192.0.2.7", gatehouse_ops::rate_limit::LOGIN_PER_ADDRESS, NOW), 1);
    let (_, stored) = fx.store.user_with_throttle(&email).await.unwrap();
    assert_eq!(stored.failures, 1, "toward the account's lockout");
    assert_eq!(password::address_blocked(&cx, &attempt, NOW), None);
    password::accepted(&cx, &email, &fx.ann, &stored).await.unwrap();
    assert_eq!(per_account.failures(&email.key(), gatehouse_ops::rate_limit::LOGIN_PER_ACCOUNT, NOW), 0);
    assert_eq!(fx.store.user_with_throttle(&email).await.unwrap().1.failures, 0);
}

fn sso_session() -> gatehouse_store::SessionRecord {
    gatehouse_store::SessionRecord {
        idp: None,
        id: gatehouse_core::ids::SessionId::new("s1"),
        secret_digest: vec![1],
        user_id: UserId::new("u-ann"),
        created_at: NOW,
        last_seen_at: NOW,
        auth_time: NOW,
        acr: "urn:gatehouse:password".into(),
        amr: vec!["pwd".into()],
        ended_at: None,
    }
}

#[tokio::test]
async fn a_session_does_not_stand_in_for_an_account_that_must_reset_or_a_closed_organisation() {
    let fx = fixture().await;
    let (per_account, per_address) = (RateLimiter::default(), RateLimiter::default());
    let cx = password_context(&fx, &per_account, &per_address);
    let (client, request, session, attempt) = (app(), request(), sso_session(), attempt());
    let mut reported = (*fx.ann).clone();
    reported.credentials_reset_required = true;
    let reuse = session::reuse(&cx, None, &reported, &client, &request, &session, &attempt, NOW).await.unwrap();
    assert_eq!(reuse, session::Reuse::SignInAgain, "a session that raced the report");
    let mut tenant = gatehouse_store::AdminStore::tenant(fx.store.as_ref(), &TenantId::new("t-acme")).await.unwrap().unwrap();
    tenant.termination = Some(gatehouse_core::model::Termination { at: NOW, deletion_due: NOW + time::Duration::days(30) });
    let reuse = session::reuse(&cx, Some(&tenant), &fx.ann, &client, &request, &session, &attempt, NOW).await.unwrap();
    assert_eq!(reuse, session::Reuse::AccountClosed);
}
