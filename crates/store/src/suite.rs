//! The behavioural suite every storage backend must pass.
//!
//! Each requirement is a `pub async fn(&dyn Store)` that takes a fresh, empty store and seeds
//! what it needs itself ([`seed_directory`] and the fixture helpers here), so requirements are
//! independent of each other and of their order. The requirements live here and in the
//! `suite_*` modules beside it (federation, keys, monitoring, privacy, sign-in).
//!
//! A backend runs them with [`storage_suite!`](crate::storage_suite), which expands to one
//! `#[tokio::test]` per requirement, named after it (`codes_are_single_use`, ...), so a failure
//! names the requirement it broke:
//!
//! ```ignore
//! async fn fresh_store() -> MyStore { MyStore::connect_to_a_new_empty_database().await.unwrap() }
//! gatehouse_store::storage_suite!(fresh_store);
//! ```
//!
//! The calling crate needs `tokio` (with `macros` and `rt`) among its dev-dependencies, and a
//! backend outside this crate enables the `test-suite` feature.
//!
//! A new requirement is a `pub async fn` in one of these files and one line in the macro's list.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use gatehouse_core::ids::{FactorId, GrantId, SessionId, TenantId, UserId};
use gatehouse_core::{Client, ClientId, Email, EmailDomain, Factor, FactorKind, FactorSecret, GrantType, RedirectUri, SigningAlg};
use time::{Duration, OffsetDateTime, macros::datetime};

use crate::*;

/// The suite's "now": stores take the time from their callers.
pub const NOW: OffsetDateTime = datetime!(2026-06-01 12:00 UTC);

/// One `#[tokio::test]` per requirement of the storage suite, each on a fresh store.
///
/// The argument is something callable with no arguments that returns a future of a fresh,
/// empty store (a value of a type implementing [`Store`](crate::Store)), usually the path of an
/// `async fn`. Each generated test is named exactly after its requirement function, so put the
/// invocation in a module of its own (the SQLite backend uses `sqlite::tests::storage_suite`).
#[macro_export]
macro_rules! storage_suite {
    ($fresh:expr $(,)?) => {
        $crate::storage_suite!(@tests $fresh;
            suite::import_is_idempotent_and_conflicts_roll_back,
            suite::codes_are_single_use,
            suite::refresh_rotation_detects_reuse,
            suite::ending_a_session_revokes_its_grants,
            suite_keys::key_rotation_retires_the_previous_key,
            suite::sign_in_completion_is_atomic,
            suite_sign_in::sign_in_completion_writes_every_row_as_given,
            suite::pending_progress_is_compare_and_set,
            suite::factors_round_trip_and_are_scoped_to_their_user,
            suite::one_time_codes_are_single_use,
            suite::sign_in_history_pages_newest_first_and_devices_remember,
            suite::policy_writes_bump_the_generation_and_staged_outcomes_are_reported,
            suite::the_audit_trail_chains_and_pages,
            suite_monitoring::change_history_filters_and_pages,
            suite_monitoring::checkpoints_anchor_pruning,
            suite_monitoring::alerts_are_listed_acknowledged_and_delivered,
            suite_monitoring::throttles_and_reports,
            suite_privacy::erasure_removes_the_person_but_never_the_last_admin,
            suite_privacy::terminated_tenants_stop_then_go_when_due,
            suite_federation::identity_providers_are_imported_with_their_secret_sealed_and_updated_in_place,
            suite_federation::an_external_identity_is_linked_once,
            suite_federation::a_just_in_time_account_is_created_linked_and_only_once,
            suite_federation::a_linked_profile_follows_the_upstream_but_never_takes_anothers_email,
            suite_federation::a_saml_assertion_is_accepted_once_until_it_expires,
            suite_federation::a_provider_saved_through_the_api_keeps_its_secret_when_none_is_given_and_goes_with_its_links,
            suite_keys::one_saml_sp_key_is_active_though_two_nodes_create_one_at_once,
        );
    };
    (@tests $fresh:expr; $($module:ident :: $requirement:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $requirement() {
                let store = ($fresh)().await;
                $crate::$module::$requirement(&store).await;
            }
        )*
    };
}

pub fn audit_entry(action: &str) -> gatehouse_core::audit::AuditEntry {
    gatehouse_core::audit::AuditEntry {
        at: NOW.unix_timestamp(),
        actor: "client:ops".into(),
        on_behalf_of: None,
        action: action.into(),
        target: "tenant:t-acme".into(),
        tenant: Some("t-acme".into()),
        before: None,
        after: Some(serde_json::json!({ "two_factor": "required" })),
        address: Some("192.0.2.1".into()),
        user_agent: None,
        reason: None,
    }
}

pub async fn the_audit_trail_chains_and_pages(store: &dyn Store) {
    use gatehouse_core::audit::{GENESIS, verify_chain};
    let before = store.audit_records(0, 1000).await.unwrap().len() as u64;
    for n in 0..3 {
        assert_eq!(store.append_audit(&audit_entry(&format!("test.{n}"))).await.unwrap(), before + n + 1);
    }
    let all = store.audit_records(0, 1000).await.unwrap();
    assert_eq!(verify_chain((0, &GENESIS), &all).unwrap().0, before + 3);
    let page = store.audit_records(before + 1, 1).await.unwrap();
    assert_eq!(page.iter().map(|r| r.seq).collect::<Vec<_>>(), [before + 2]);
    assert_eq!(page[0].entry, audit_entry("test.1"), "round-trips");
}

pub async fn policy_writes_bump_the_generation_and_staged_outcomes_are_reported(store: &dyn Store) {
    use gatehouse_policy::{AppTwoFactor, DomainTwoFactor};
    seed_directory(store).await;
    let tenant = TenantId::new("t-acme");
    let before = store.generation().await.unwrap();
    let required = gatehouse_policy::DomainPolicy { two_factor: DomainTwoFactor::Required, ..Default::default() };
    assert!(store.set_staged_policy(&tenant, Some(&required), &audit_entry("tenant.policy.stage")).await.unwrap());
    assert_eq!(store.tenant(&tenant).await.unwrap().unwrap().staged_policy, Some(required.clone()));
    assert!(store.generation().await.unwrap() > before, "a policy write bumps the generation");
    // Enforcing clears the staged trial.
    assert!(store.set_domain_policy(&tenant, &required, &audit_entry("tenant.policy.update")).await.unwrap());
    let stored = store.tenant(&tenant).await.unwrap().unwrap();
    assert_eq!((stored.policy, stored.staged_policy), (required, None));
    let records_before = store.audit_records(0, 100).await.unwrap().len();
    assert!(!store.set_domain_policy(&TenantId::new("t-none"), &Default::default(), &audit_entry("x")).await.unwrap(), "unknown tenant");
    assert_eq!(store.audit_records(0, 100).await.unwrap().len(), records_before, "nothing changed, nothing audited");
    let bypass = gatehouse_policy::AppPolicy { two_factor: AppTwoFactor::Bypass, step_up_scopes: vec![] };
    assert!(store.set_app_policy(&ClientId::parse("payroll").unwrap(), &bypass, &audit_entry("application.policy.update")).await.unwrap());
    let actions: Vec<String> = store.audit_records(0, 100).await.unwrap().into_iter().map(|r| r.entry.action).collect();
    assert!(actions.ends_with(&["tenant.policy.stage".into(), "tenant.policy.update".into(), "application.policy.update".into()]), "{actions:?}");
    assert_eq!(store.client(&ClientId::parse("payroll").unwrap()).await.unwrap().unwrap().policy, bypass);
    assert_eq!(store.tenant_users(&tenant).await.unwrap().iter().map(|u| u.id.as_str()).collect::<Vec<_>>(), ["u-alice"]);

    let staged = SignInEvent {
        tenant_id: Some(tenant.clone()),
        staged_decision: Some(serde_json::json!({ "outcome": { "kind": "no_prompt" } })),
        ..event("e-staged", NOW + Duration::minutes(2), "192.0.2.7", SignInResult::Success)
    };
    store.record_sign_in(&staged).await.unwrap();
    let outcomes = store.staged_outcomes(&tenant, NOW).await.unwrap();
    assert_eq!(outcomes.len(), 1, "only sign-ins decided beside a staged policy");
    assert_eq!((outcomes[0].enforced.as_str(), outcomes[0].staged.as_str()), ("second_factor", "no_prompt"));
    assert!(store.staged_outcomes(&tenant, NOW + Duration::hours(1)).await.unwrap().is_empty(), "since a later time");
}

pub fn event(id: &str, at: OffsetDateTime, address: &str, result: SignInResult) -> SignInEvent {
    SignInEvent {
        idp: None,
        id: id.into(),
        at,
        user_id: Some(UserId::new("u-alice")),
        tenant_id: None,
        client_id: Some("payroll".into()),
        address: address.into(),
        user_agent: "test".into(),
        device_id: None,
        result,
        amr: vec!["pwd".into(), "otp".into(), "mfa".into()],
        acr: Some("urn:gatehouse:acr:mfa".into()),
        decision: Some(serde_json::json!({ "winning_rule": { "code": "app_required" }, "outcome": { "kind": "second_factor" } })),
        risky: false,
        staged_decision: None,
        reported_at: None,
    }
}

pub(crate) fn device(id: &str, second_factor_at: OffsetDateTime) -> DeviceRecord {
    DeviceRecord {
        id: id.into(),
        user_id: UserId::new("u-alice"),
        created_at: NOW,
        last_seen_at: NOW,
        second_factor_at: Some(second_factor_at),
        user_agent: "first".into(),
        reported_at: None,
    }
}

/// A parked authorization request, unanswered, expiring five minutes after [`NOW`].
pub fn pending(id: &str) -> PendingAuthorization {
    PendingAuthorization {
        id: id.into(),
        browser_digest: vec![1],
        csrf_token: "c".into(),
        request: "r".into(),
        expires_at: NOW + Duration::minutes(5),
        progress: None,
    }
}

/// An SSO session of `u-alice` begun at [`NOW`] with a password, its secret's digest `[byte; 32]`.
pub fn alice_session(id: &str, byte: u8) -> SessionRecord {
    SessionRecord {
        idp: None,
        id: SessionId::new(id),
        secret_digest: vec![byte; 32],
        user_id: UserId::new("u-alice"),
        created_at: NOW,
        last_seen_at: NOW,
        auth_time: NOW,
        acr: "urn:gatehouse:acr:pwd".into(),
        amr: vec!["pwd".into()],
        ended_at: None,
    }
}

pub async fn sign_in_history_pages_newest_first_and_devices_remember(store: &dyn Store) {
    seed_directory(store).await;
    // An earlier successful sign-in at NOW, as a completed sign-in records it.
    store.record_sign_in(&event("e-signin", NOW, "192.0.2.50", SignInResult::Success)).await.unwrap();
    let alice = UserId::new("u-alice");
    store.record_sign_in(&event("e-1", NOW, "192.0.2.1", SignInResult::Failure)).await.unwrap();
    store.record_sign_in(&event("e-2", NOW + Duration::minutes(1), "192.0.2.2", SignInResult::Success)).await.unwrap();
    store.record_sign_in(&event("e-3", NOW + Duration::minutes(1), "192.0.2.2", SignInResult::Success)).await.unwrap();
    store.record_sign_in(&SignInEvent { user_id: None, ..event("e-4", NOW, "192.0.2.9", SignInResult::Failure) }).await.unwrap();
    assert!(!store.address_seen(&alice, "192.0.2.1").await.unwrap(), "only successful sign-ins make an address known");
    assert!(store.address_seen(&alice, "192.0.2.2").await.unwrap());
    let first = store.sign_ins(&alice, &SignInFilter::default(), None, 2).await.unwrap();
    assert_eq!(first.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["e-3", "e-2"]);
    assert_eq!(first[0], event("e-3", NOW + Duration::minutes(1), "192.0.2.2", SignInResult::Success), "round-trips");
    let last = first.last().map(|e| (e.at, e.id.clone()));
    let second = store.sign_ins(&alice, &SignInFilter::default(), last, 2).await.unwrap();
    assert_eq!(second.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["e-signin", "e-1"], "the cursor continues, no repeats");

    let device = device("d-1", NOW);
    store.upsert_device(&device).await.unwrap();
    let later = DeviceRecord { last_seen_at: NOW + Duration::hours(1), second_factor_at: None, user_agent: "second".into(), ..device.clone() };
    store.upsert_device(&later).await.unwrap();
    let stored = store.device("d-1").await.unwrap().unwrap();
    assert_eq!(stored.second_factor_at, Some(NOW), "a sign-in without 2FA keeps the remembered time");
    assert_eq!((stored.last_seen_at, stored.user_agent.as_str()), (NOW + Duration::hours(1), "second"));
    assert_eq!(store.device("d-unknown").await.unwrap(), None);
}

pub async fn pending_progress_is_compare_and_set(store: &dyn Store) {
    let pending = pending("p-cas");
    store.save_pending(&pending).await.unwrap();
    assert!(store.update_pending_progress("p-cas", None, "step-1").await.unwrap());
    assert!(!store.update_pending_progress("p-cas", None, "step-1-again").await.unwrap(), "a racing tab loses");
    assert!(store.update_pending_progress("p-cas", Some("step-1"), "step-2").await.unwrap());
    assert_eq!(store.pending("p-cas", NOW).await.unwrap().unwrap().progress.as_deref(), Some("step-2"));
}

fn factor(id: &str, user: &str, secret: FactorSecret) -> Factor {
    let kind = match &secret {
        FactorSecret::Totp { .. } => FactorKind::Totp,
        FactorSecret::Sms { .. } => FactorKind::Sms,
        FactorSecret::WebAuthn { .. } => FactorKind::Passkey,
    };
    Factor {
        id: FactorId::new(id),
        user_id: UserId::new(user),
        kind,
        label: format!("{id} label"),
        secret,
        created_at: NOW,
        confirmed_at: None,
        last_used_at: None,
    }
}

pub async fn factors_round_trip_and_are_scoped_to_their_user(store: &dyn Store) {
    seed_directory(store).await;
    let alice = UserId::new("u-alice");
    let totp = factor("f-totp", "u-alice", FactorSecret::Totp { secret: vec![7; 20], used_up_to: None });
    let sms = factor("f-sms", "u-alice", FactorSecret::Sms { phone: gatehouse_core::PhoneNumber::parse("+358401234567").unwrap() });
    let key = factor("f-key", "u-alice", FactorSecret::WebAuthn { credential: "{}".into(), credential_id: vec![9, 9], device_bound: true });
    for f in [&totp, &sms, &key] {
        store.add_factor(f).await.unwrap();
    }
    let same_credential = factor("f-key-2", "u-alice", FactorSecret::WebAuthn { credential: "{}".into(), credential_id: vec![9, 9], device_bound: false });
    assert!(matches!(store.add_factor(&same_credential).await, Err(StoreError::Conflict(_))), "a credential is registered once");
    // Oldest first; equal times by id. (The seeded import enrolled factors for alice too.)
    let added: Vec<Factor> = store.factors(&alice).await.unwrap().into_iter().filter(|f| !f.id.as_str().starts_with("f-imported")).collect();
    assert_eq!(added, vec![key.clone(), sms.clone(), totp.clone()]);
    assert_eq!(store.factor_by_credential_id(&[9, 9]).await.unwrap().map(|f| f.id), Some(key.id.clone()));
    assert!(store.confirm_factor(&alice, &totp.id, NOW).await.unwrap());
    assert!(!store.confirm_factor(&alice, &totp.id, NOW).await.unwrap(), "confirmed once");
    let bob = UserId::new("u-bob");
    assert!(!store.rename_factor(&bob, &totp.id, "mine").await.unwrap(), "another user's factor");
    assert!(!store.remove_factor(&bob, &totp.id).await.unwrap(), "another user's factor");
    assert!(store.rename_factor(&alice, &totp.id, "Phone app").await.unwrap());
    let stored = store.factor(&totp.id).await.unwrap().unwrap();
    assert_eq!((stored.label.as_str(), stored.confirmed_at), ("Phone app", Some(NOW)));
    assert!(store.remove_factor(&alice, &key.id).await.unwrap());
    assert_eq!(store.factors(&alice).await.unwrap().len(), 2 + 2, "two imported, two added here");
    let handle = store.webauthn_handle(&alice, "h-1").await.unwrap();
    assert_eq!(store.webauthn_handle(&alice, "h-2").await.unwrap(), handle, "created once, then stable");
    assert_eq!(store.user_by_webauthn_handle(&handle).await.unwrap(), Some(alice));
}

pub async fn one_time_codes_are_single_use(store: &dyn Store) {
    seed_directory(store).await;
    let alice = UserId::new("u-alice");
    let totp = FactorId::new("f-totp");
    store.add_factor(&factor("f-totp", "u-alice", FactorSecret::Totp { secret: vec![7; 20], used_up_to: None })).await.unwrap();
    assert!(store.confirm_factor(&alice, &totp, NOW).await.unwrap());
    store.add_factor(&factor("f-sms", "u-alice", FactorSecret::Sms { phone: gatehouse_core::PhoneNumber::parse("+358401234567").unwrap() })).await.unwrap();
    assert!(store.use_totp_step(&totp, 100, NOW).await.unwrap());
    assert!(!store.use_totp_step(&totp, 100, NOW).await.unwrap(), "same step again");
    assert!(!store.use_totp_step(&totp, 99, NOW).await.unwrap(), "an earlier step");
    assert!(store.use_totp_step(&totp, 101, NOW).await.unwrap());
    match store.factor(&totp).await.unwrap().unwrap().secret {
        FactorSecret::Totp { used_up_to, .. } => assert_eq!(used_up_to, Some(101)),
        other => panic!("{other:?}"),
    }

    store.replace_recovery_codes(&alice, &[vec![1], vec![2]], NOW).await.unwrap();
    assert_eq!(store.recovery_codes_left(&alice).await.unwrap(), 2);
    assert!(store.use_recovery_code(&alice, &[1], NOW).await.unwrap());
    assert!(!store.use_recovery_code(&alice, &[1], NOW).await.unwrap(), "used once");
    assert!(!store.use_recovery_code(&UserId::new("u-bob"), &[2], NOW).await.unwrap(), "another user's code");
    assert_eq!(store.recovery_codes_left(&alice).await.unwrap(), 1);
    store.replace_recovery_codes(&alice, &[vec![3]], NOW).await.unwrap();
    assert!(!store.use_recovery_code(&alice, &[2], NOW).await.unwrap(), "old codes are gone");

    let challenge = SmsChallenge {
        id: "c-1".into(),
        user_id: alice.clone(),
        factor_id: FactorId::new("f-sms"),
        digest: vec![5; 32],
        created_at: NOW,
        expires_at: NOW + Duration::minutes(5),
        attempts: 0,
        used_at: None,
    };
    store.create_sms_challenge(&challenge).await.unwrap();
    assert_eq!(store.sms_challenges_since(&alice, NOW - Duration::minutes(1)).await.unwrap(), 1);
    assert_eq!(store.check_sms_challenge("c-1", &[6; 32], 2, NOW).await.unwrap(), SmsCheck::Wrong { tries_left: 1 });
    assert_eq!(store.check_sms_challenge("c-1", &[5; 32], 2, NOW + Duration::minutes(6)).await.unwrap(), SmsCheck::Unusable, "expired");
    assert_eq!(store.check_sms_challenge("c-1", &[5; 32], 2, NOW).await.unwrap(), SmsCheck::Accepted);
    assert_eq!(store.check_sms_challenge("c-1", &[5; 32], 2, NOW).await.unwrap(), SmsCheck::Unusable, "single use");
    store.create_sms_challenge(&SmsChallenge { id: "c-2".into(), ..challenge }).await.unwrap();
    for _ in 0..2 {
        store.check_sms_challenge("c-2", &[6; 32], 2, NOW).await.unwrap();
    }
    assert_eq!(store.check_sms_challenge("c-2", &[5; 32], 2, NOW).await.unwrap(), SmsCheck::Unusable, "out of tries");
}

pub async fn sign_in_completion_is_atomic(store: &dyn Store) {
    seed_directory(store).await;
    let pending = pending("p-1");
    store.save_pending(&pending).await.unwrap();
    let old = alice_session("s-old", 20);
    store.create_session(&old).await.unwrap();
    store.create_grant_with_code(&grant("g-old", Some("s-old")), &code(21, "g-old")).await.unwrap();
    let new = SessionRecord { id: SessionId::new("s-new"), secret_digest: vec![22; 32], ..old.clone() };
    let completion = SignInCompletion {
        ended_session: Some(old.id.clone()),
        session: SessionWrite::Create(new.clone()),
        pending_id: "p-1".into(),
        grant: grant("g-new", Some("s-new")),
        code: code(23, "g-new"),
        device: Some(device("d-signin", NOW)),
        event: Some(event("e-signin", NOW, "192.0.2.50", SignInResult::Success)),
    };
    let revoked = store.complete_sign_in(&completion, NOW).await.unwrap();
    assert_eq!(revoked, vec![GrantId::new("g-old")]);
    assert!(store.device("d-signin").await.unwrap().is_some(), "the device is written with the sign-in");
    assert!(store.address_seen(&UserId::new("u-alice"), "192.0.2.50").await.unwrap(), "so is the history entry");
    assert!(store.pending("p-1", NOW).await.unwrap().is_none());
    assert_eq!(store.session_by_secret(&[22; 32]).await.unwrap(), Some(new));
    assert!(store.session(&old.id).await.unwrap().unwrap().ended_at.is_some());
    // A failing write (duplicate grant id) leaves nothing behind.
    store.save_pending(&PendingAuthorization { id: "p-2".into(), ..pending }).await.unwrap();
    let failing = SignInCompletion {
        ended_session: None,
        session: SessionWrite::Create(SessionRecord { id: SessionId::new("s-3"), secret_digest: vec![24; 32], ..old }),
        pending_id: "p-2".into(),
        grant: grant("g-new", Some("s-3")),
        code: code(25, "g-new"),
        device: Some(device("d-failing", NOW)),
        event: Some(event("e-failing", NOW, "192.0.2.51", SignInResult::Success)),
    };
    assert!(store.complete_sign_in(&failing, NOW).await.is_err());
    assert!(store.device("d-failing").await.unwrap().is_none(), "rolled back");
    assert!(!store.address_seen(&UserId::new("u-alice"), "192.0.2.51").await.unwrap(), "rolled back");
    assert!(store.pending("p-2", NOW).await.unwrap().is_some(), "rolled back");
    assert!(store.session_by_secret(&[24; 32]).await.unwrap().is_none(), "rolled back");
    // Re-authenticating in a session that was ended meanwhile (logout in another tab) is a
    // conflict, and writes neither grant nor code.
    let reauth_ended = SignInCompletion {
        ended_session: None,
        session: SessionWrite::Reauthenticate {
            idp: None,
            id: SessionId::new("s-old"),
            secret_digest: vec![31; 32],
            auth_time: NOW,
            acr: "urn:gatehouse:acr:pwd".into(),
            amr: vec!["pwd".into()],
        },
        pending_id: "p-2".into(),
        grant: grant("g-late", Some("s-old")),
        code: code(26, "g-late"),
        device: None,
        event: None,
    };
    assert!(matches!(store.complete_sign_in(&reauth_ended, NOW).await, Err(StoreError::Conflict(_))));
    // A request answered once cannot be answered again (a double submit).
    let twice = SignInCompletion {
        ended_session: None,
        session: SessionWrite::Reauthenticate {
            idp: None,
            id: SessionId::new("s-new"),
            secret_digest: vec![32; 32],
            auth_time: NOW,
            acr: "urn:gatehouse:acr:pwd".into(),
            amr: vec!["pwd".into()],
        },
        pending_id: "p-1".into(),
        grant: grant("g-twice", Some("s-new")),
        code: code(27, "g-twice"),
        device: None,
        event: None,
    };
    assert!(matches!(store.complete_sign_in(&twice, NOW).await, Err(StoreError::Conflict(_))));
    assert!(store.grant(&GrantId::new("g-twice")).await.unwrap().is_none(), "nothing written");
    assert!(store.grant(&GrantId::new("g-late")).await.unwrap().is_none(), "rolled back");
    assert!(store.pending("p-2", NOW).await.unwrap().is_some(), "rolled back");
}

/// Imports the suite's directory (tenant `t-acme`, user `u-alice` with TOTP and SMS, client
/// `payroll`): the setup of most requirements, and of backend-specific tests.
pub async fn seed_directory(store: &dyn Store) {
    store.apply_import(&plan("Alice Example"), NOW).await.unwrap();
}

fn plan(user_name: &str) -> ImportPlan {
    ImportPlan {
        identity_providers: vec![],
        audit: vec![],
        tenants: vec![TenantPlan {
            new_id: TenantId::new("t-acme"),
            name: "Acme Oy".into(),
            domains: vec![EmailDomain::parse("acme.test").unwrap()],
            users: vec![UserPlan {
                new_id: UserId::new("u-alice"),
                email: Email::parse("alice@acme.test").unwrap(),
                name: user_name.into(),
                password_hash: Some("$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo".into()),
                roles: vec!["admin".into()],
                totp_secret: Some(vec![42; 20]),
                phone: Some(gatehouse_core::PhoneNumber::parse("+358401234567").unwrap()),
                new_factor_ids: [FactorId::new("f-imported-totp"), FactorId::new("f-imported-sms")],
            }],
            policy: Some(gatehouse_policy::DomainPolicy { two_factor: gatehouse_policy::DomainTwoFactor::Required, ..Default::default() }),
        }],
        clients: vec![Client {
            client_id: ClientId::parse("payroll").unwrap(),
            name: "Payroll".into(),
            secret_digest: Some(vec![7; 32]),
            redirect_uris: vec![RedirectUri::parse("http://127.0.0.1:9999/cb").unwrap()],
            post_logout_redirect_uris: vec![],
            grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
            id_token_signed_response_alg: SigningAlg::RS256,
            policy: gatehouse_policy::AppPolicy {
                two_factor: gatehouse_policy::AppTwoFactor::Bypass,
                step_up_scopes: vec![("payments:approve".into(), gatehouse_policy::AuthLevel::Mfa)],
            },
            operator: false,
            scopes: vec![],
        }],
    }
}

pub async fn import_is_idempotent_and_conflicts_roll_back(store: &dyn Store) {
    let first = store.apply_import(&plan("Alice Example"), NOW).await.unwrap();
    assert_eq!(first, ImportSummary { created: 3, updated: 0, unchanged: 0 });
    let generation = store.generation().await.unwrap();
    let second = store.apply_import(&plan("Alice Example"), NOW + Duration::hours(1)).await.unwrap();
    assert_eq!(second, ImportSummary { created: 0, updated: 0, unchanged: 3 });
    assert_eq!(store.generation().await.unwrap(), generation, "a no-op import must not bump the generation");

    let alice = store.user_by_email(&Email::parse("ALICE@acme.test").unwrap()).await.unwrap().unwrap();
    assert_eq!(alice.id.as_str(), "u-alice");
    assert_eq!(alice.roles, vec!["admin".to_owned()]);
    let tenant = store.tenant_for_domain(&EmailDomain::parse("acme.test").unwrap()).await.unwrap().unwrap();
    assert_eq!(tenant.policy.two_factor, gatehouse_policy::DomainTwoFactor::Required, "the domain policy round-trips");
    let payroll = store.client(&ClientId::parse("payroll").unwrap()).await.unwrap().unwrap();
    assert_eq!(payroll.policy, plan("x").clients[0].policy, "the application policy round-trips");
    let factors = store.factors(&alice.id).await.unwrap();
    let mut enrolled: Vec<_> = factors.iter().map(|f| (f.kind.as_str(), f.is_confirmed())).collect();
    enrolled.sort_unstable();
    assert_eq!(enrolled, vec![("sms", true), ("totp", true)], "imported factors are enrolled once, confirmed");

    // A second tenant claiming the same domain fails, and its other changes are not applied.
    let mut conflicting = plan("Alice Renamed");
    conflicting.tenants.push(TenantPlan {
        new_id: TenantId::new("t-other"),
        name: "Other".into(),
        domains: vec![EmailDomain::parse("acme.test").unwrap()],
        users: vec![],
        policy: None,
    });
    assert!(matches!(store.apply_import(&conflicting, NOW).await, Err(StoreError::Conflict(_))));
    let alice = store.user(&UserId::new("u-alice")).await.unwrap().unwrap();
    assert_eq!(alice.name, "Alice Example", "a failed import must leave nothing half-applied");
    assert_eq!(store.counts().await.unwrap(), DirectoryCounts { tenants: 1, users: 1, clients: 1 });
}

pub(crate) fn grant(id: &str, session: Option<&str>) -> GrantRecord {
    GrantRecord {
        idp: None,
        id: GrantId::new(id),
        client_id: "payroll".into(),
        user_id: UserId::new("u-alice"),
        session_id: session.map(SessionId::new),
        scope: "openid".into(),
        nonce: None,
        auth_time: NOW,
        acr: "urn:gatehouse:acr:pwd".into(),
        amr: vec!["pwd".into()],
        requested_acr: vec!["urn:gatehouse:acr:mfa".into()],
        created_at: NOW,
        revoked_at: None,
    }
}

pub(crate) fn code(digest: u8, grant_id: &str) -> CodeRecord {
    CodeRecord {
        digest: vec![digest; 32],
        grant_id: GrantId::new(grant_id),
        client_id: "payroll".into(),
        redirect_uri: "http://127.0.0.1:9999/cb".into(),
        code_challenge: None,
        expires_at: NOW + Duration::minutes(1),
    }
}

pub async fn codes_are_single_use(store: &dyn Store) {
    seed_directory(store).await;
    store.create_grant_with_code(&grant("g-code", None), &code(1, "g-code")).await.unwrap();
    assert_eq!(store.code(&[1; 32]).await.unwrap().map(|(c, used)| (c.grant_id, used)), Some((GrantId::new("g-code"), false)));
    assert_eq!(store.redeem_code(&[1; 32], "intruder", NOW).await.unwrap(), CodeRedemption::WrongClient);
    assert!(matches!(store.redeem_code(&[1; 32], "payroll", NOW).await.unwrap(), CodeRedemption::Redeemed(_)), "a wrong client must not consume the code");
    assert_eq!(store.redeem_code(&[1; 32], "payroll", NOW).await.unwrap(), CodeRedemption::AlreadyUsed { grant_id: GrantId::new("g-code") });
    assert_eq!(store.redeem_code(&[9; 32], "payroll", NOW).await.unwrap(), CodeRedemption::NotFound);
    assert!(store.code(&[1; 32]).await.unwrap().unwrap().1, "a redeemed code reads as used");
}

fn refresh(digest: u8, grant_id: &str) -> RefreshRecord {
    RefreshRecord {
        digest: vec![digest; 32],
        grant_id: GrantId::new(grant_id),
        client_id: "payroll".into(),
        scope: "openid".into(),
        created_at: NOW,
        expires_at: NOW + Duration::days(30),
    }
}

pub async fn refresh_rotation_detects_reuse(store: &dyn Store) {
    seed_directory(store).await;
    store.create_grant_with_code(&grant("g-refresh", None), &code(2, "g-refresh")).await.unwrap();
    store.create_refresh_token(&refresh(10, "g-refresh")).await.unwrap();
    let rotated = store.rotate_refresh_token(&[10; 32], &refresh(11, "g-refresh"), NOW).await.unwrap();
    match rotated {
        RefreshRotation::Rotated { grant, .. } => assert_eq!(grant.requested_acr, vec!["urn:gatehouse:acr:mfa".to_owned()]),
        other => panic!("{other:?}"),
    }
    let replay = store.rotate_refresh_token(&[10; 32], &refresh(12, "g-refresh"), NOW).await.unwrap();
    assert_eq!(replay, RefreshRotation::Reused { grant_id: GrantId::new("g-refresh") });
    assert!(store.revoke_grant(&GrantId::new("g-refresh"), NOW).await.unwrap());
    let after_revoke = store.rotate_refresh_token(&[11; 32], &refresh(13, "g-refresh"), NOW).await.unwrap();
    assert_eq!(after_revoke, RefreshRotation::Invalid, "a revoked family's live token must stop working");
    assert!(store.revocations(NOW).await.unwrap().grant_ids.contains(&GrantId::new("g-refresh")));
    let expired = store.rotate_refresh_token(&[99; 32], &refresh(14, "g-refresh"), NOW).await.unwrap();
    assert_eq!(expired, RefreshRotation::Invalid);
}

pub async fn ending_a_session_revokes_its_grants(store: &dyn Store) {
    seed_directory(store).await;
    let session = alice_session("s-1", 3);
    store.create_session(&session).await.unwrap();
    assert_eq!(store.session_by_secret(&[3; 32]).await.unwrap(), Some(session.clone()));
    store.touch_session(&session.id, NOW + Duration::minutes(5)).await.unwrap();
    store.reauthenticate_session(&session.id, NOW + Duration::minutes(4), "urn:gatehouse:acr:pwd", &["pwd".to_owned()]).await.unwrap();
    assert_eq!(store.session(&session.id).await.unwrap().unwrap().auth_time, NOW + Duration::minutes(4));
    store.touch_session(&session.id, NOW + Duration::minutes(5)).await.unwrap();
    store.create_grant_with_code(&grant("g-session", Some("s-1")), &code(4, "g-session")).await.unwrap();
    let revoked = store.end_session(&session.id, NOW + Duration::minutes(6)).await.unwrap();
    assert_eq!(revoked, vec![GrantId::new("g-session")]);
    let ended = store.session(&session.id).await.unwrap().unwrap();
    assert!(ended.ended_at.is_some());
    assert_eq!(ended.last_seen_at, NOW + Duration::minutes(5));
}
