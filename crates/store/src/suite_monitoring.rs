//! The storage suite's part for security monitoring: change-history queries, checkpoints and
//! pruning, alerts and their delivery, brute-force state, and "this wasn't me".
//!
//! Each requirement takes a fresh, empty store and seeds what it needs; backends run them, one
//! test each, through [`storage_suite!`](crate::storage_suite) (see [`suite`](crate::suite)).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use gatehouse_core::alert::{Alert, AlertKind};
use gatehouse_core::audit::{AuditEntry, ChainVerifier, Checkpoint};
use gatehouse_core::ids::{TenantId, UserId};
use gatehouse_core::throttle::AccountThrottle;
use time::Duration;

use crate::suite::{NOW, audit_entry, event, seed_directory};
use crate::*;
use gatehouse_core::Factor;

pub async fn change_history_filters_and_pages(store: &dyn Store) {
    let other = AuditEntry {
        actor: "user:u-admin".into(),
        tenant: Some("t-other".into()),
        action: "user.update".into(),
        target: "user:u-x".into(),
        ..audit_entry("x")
    };
    let last = store.append_audit_batch(&[audit_entry("user.create"), other.clone(), audit_entry("user.update")]).await.unwrap();
    assert_eq!(store.audit_head().await.unwrap().unwrap().0, last);
    let acme = AuditFilter { tenant: Some(TenantId::new("t-acme")), action: Some("user.".into()), ..Default::default() };
    let found = store.audit_query(&acme, None, 10).await.unwrap();
    assert_eq!(found.iter().map(|r| r.entry.action.as_str()).collect::<Vec<_>>(), ["user.update", "user.create"], "newest first, one tenant, one family");
    let page = store.audit_query(&acme, Some(found[0].seq), 10).await.unwrap();
    assert_eq!(page.len(), 1, "the cursor continues");
    let by_actor = AuditFilter { actor: Some("user:u-admin".into()), ..Default::default() };
    assert_eq!(store.audit_query(&by_actor, None, 10).await.unwrap()[0].entry, other);
    let wildcard = AuditFilter { action: Some("user_%".into()), ..Default::default() };
    assert!(store.audit_query(&wildcard, None, 10).await.unwrap().is_empty(), "LIKE wildcards are literal");
    let later = AuditFilter { since: Some(NOW.unix_timestamp() + 1), ..Default::default() };
    assert!(store.audit_query(&later, None, 10).await.unwrap().is_empty());
}

pub async fn checkpoints_anchor_pruning(store: &dyn Store) {
    // A trail of a few records, so there is a record before the checkpoint's.
    store.append_audit_batch(&[audit_entry("user.create"), audit_entry("user.update"), audit_entry("tenant.policy.update")]).await.unwrap();
    let (seq, hash) = store.audit_head().await.unwrap().unwrap();
    let checkpoint = Checkpoint { seq, hash, at: NOW.unix_timestamp(), kid: "k".into(), signature: vec![1, 2] };
    store.add_checkpoint(&checkpoint).await.unwrap();
    assert!(store.prune_audit(seq - 1).await.is_err(), "only at a checkpoint");
    store.append_audit(&audit_entry("after.checkpoint")).await.unwrap();
    assert_eq!(store.prune_audit(seq).await.unwrap(), seq);
    let checkpoints = store.checkpoints().await.unwrap();
    assert_eq!(checkpoints, [checkpoint]);
    let rest = store.audit_records(0, 100).await.unwrap();
    assert_eq!(rest.iter().map(|r| r.seq).collect::<Vec<_>>(), [seq + 1]);
    let mut verifier = ChainVerifier::new(&checkpoints);
    verifier.feed(&rest).unwrap();
    assert_eq!(verifier.finish().unwrap().0, seq + 1, "what is left verifies from the checkpoint");
}

fn alert(id: &str, tenant: Option<&str>) -> Alert {
    Alert {
        id: id.into(),
        at: NOW.unix_timestamp(),
        tenant: tenant.map(str::to_owned),
        kind: AlertKind::BruteForce,
        severity: AlertKind::BruteForce.severity(),
        subject: "user:u-alice".into(),
        summary: "10 failed sign-ins".into(),
        details: serde_json::json!({ "failures": 10 }),
        acknowledged_at: None,
        acknowledged_by: None,
    }
}

pub async fn alerts_are_listed_acknowledged_and_delivered(store: &dyn Store) {
    store.raise_alert(&alert("a-1", Some("t-acme")), true).await.unwrap();
    store.raise_alert(&alert("a-2", Some("t-other")), true).await.unwrap();
    store.raise_alert(&alert("a-3", Some("t-acme")), false).await.unwrap();
    let acme = TenantId::new("t-acme");
    let listed = store.alerts(Some(&acme), false, None, 10).await.unwrap();
    assert_eq!(listed.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(), ["a-3", "a-1"]);
    assert_eq!(listed[1], alert("a-1", Some("t-acme")), "round-trips");
    assert_eq!(store.alerts(None, false, Some("a-3"), 10).await.unwrap().len(), 2, "cursor");
    assert!(store.acknowledge_alert("a-1", "user:u-alice", NOW, &audit_entry("alert.acknowledge")).await.unwrap());
    assert!(!store.acknowledge_alert("a-1", "user:u-alice", NOW, &audit_entry("alert.acknowledge")).await.unwrap(), "once");
    assert_eq!(store.alerts(Some(&acme), true, None, 10).await.unwrap().len(), 1, "open only");
    assert_eq!(store.alert("a-1").await.unwrap().unwrap().acknowledged_by.as_deref(), Some("user:u-alice"));

    let due = store.alerts_due(NOW, 10).await.unwrap();
    assert_eq!(due.iter().map(|p| p.alert.id.as_str()).collect::<Vec<_>>(), ["a-1", "a-2"], "undelivered ones only");
    let retry =
        DeliveryReport { delivered_to: vec!["webhook".into()], next_attempt_at: Some(NOW + Duration::seconds(30)), last_error: Some("syslog down".into()) };
    store.record_delivery("a-1", &retry).await.unwrap();
    store.record_delivery("a-2", &DeliveryReport { delivered_to: vec!["webhook".into()], next_attempt_at: None, last_error: None }).await.unwrap();
    assert!(store.alerts_due(NOW, 10).await.unwrap().is_empty(), "backing off");
    let again = store.alerts_due(NOW + Duration::minutes(1), 10).await.unwrap();
    assert_eq!((again.len(), again[0].attempts, again[0].delivered_to.clone()), (1, 1, vec!["webhook".to_owned()]));
    assert_eq!(store.prune_alerts(NOW).await.unwrap(), 0, "nothing raised before then");
    assert_eq!(store.prune_alerts(NOW + Duration::seconds(1)).await.unwrap(), 3);
    assert!(store.alerts(None, false, None, 10).await.unwrap().is_empty());
}

pub async fn throttles_and_reports(store: &dyn Store) {
    seed_directory(store).await;
    let alice = UserId::new("u-alice");
    // Some sign-in history: a failure, then a success.
    store.record_sign_in(&event("e-1", NOW, "192.0.2.1", SignInResult::Failure)).await.unwrap();
    store.record_sign_in(&event("e-2", NOW + Duration::minutes(1), "192.0.2.2", SignInResult::Success)).await.unwrap();
    assert_eq!(store.account_throttle(&alice).await.unwrap(), None);
    let throttle = AccountThrottle { failures: 4, window_start: 10, next_attempt_at: 12, locked_until: Some(20) };
    store.save_account_throttle(&alice, &throttle).await.unwrap();
    assert_eq!(store.account_throttle(&alice).await.unwrap(), Some(throttle));
    store.clear_account_throttle(&alice).await.unwrap();
    assert_eq!(store.account_throttle(&alice).await.unwrap(), None);

    let filter = SignInFilter { result: Some(SignInResult::Failure), ..Default::default() };
    let failures = store.sign_ins(&alice, &filter, None, 10).await.unwrap();
    assert!(!failures.is_empty() && failures.iter().all(|e| e.result == SignInResult::Failure), "filtered by result");
    let after = store.sign_in_events_after(0, 100).await.unwrap();
    assert!(after.windows(2).all(|w| w[0].0 < w[1].0), "in the order recorded");
    let resumed = store.sign_in_events_after(after[0].0, 100).await.unwrap();
    assert_eq!(resumed.len(), after.len() - 1, "a position resumes right after it");

    // A failed sign-in and the account's new lockout state land together.
    let failed = event("e-failed", NOW + Duration::minutes(4), "192.0.2.50", SignInResult::Failure);
    let locked = AccountThrottle { failures: 10, window_start: 1, next_attempt_at: 2, locked_until: Some(3) };
    store.record_failed_sign_in(&failed, Some((&alice, &locked))).await.unwrap();
    assert_eq!(store.account_throttle(&alice).await.unwrap(), Some(locked));
    let email = gatehouse_core::Email::parse("alice@acme.test").unwrap();
    let (user, throttle) = store.user_with_throttle(&email).await.unwrap();
    assert_eq!((user.map(|u| u.id), throttle), (Some(alice.clone()), locked), "one read for both");
    let nobody = store.user_with_throttle(&gatehouse_core::Email::parse("nobody@acme.test").unwrap()).await.unwrap();
    assert_eq!(nobody, (None, AccountThrottle::default()));
    assert!(store.sign_in_event("e-failed").await.unwrap().is_some());
    store.record_failed_sign_in(&SignInEvent { user_id: None, ..event("e-unknown", NOW, "192.0.2.51", SignInResult::Failure) }, None).await.unwrap();
    store.clear_account_throttle(&alice).await.unwrap();

    let reported_event = event("e-reported", NOW + Duration::minutes(5), "198.51.100.66", SignInResult::Success);
    store.record_sign_in(&reported_event).await.unwrap();
    let acme = TenantId::new("t-acme");
    let until = NOW + Duration::days(30);
    let report = |id, remove_later_factors| SignInReport { event_id: id, remove_later_factors, address_reported_until: until };
    assert!(
        store.report_sign_in(&UserId::new("u-nobody"), &report("e-reported", true), NOW, &audit_entry("sign_in.report")).await.unwrap().is_none(),
        "not theirs"
    );
    assert!(!store.address_reported(&acme, "198.51.100.66", NOW).await.unwrap());
    assert!(!store.set_password(&alice, "$argon2id$early", NOW, NOW, &audit_entry("user.password.change")).await.unwrap(), "only a required reset");
    // A factor added after the reported sign-in goes with it; one from before stays.
    let factors_before = store.factors(&alice).await.unwrap().len();
    let planted = Factor {
        id: gatehouse_core::ids::FactorId::new("f-planted"),
        user_id: alice.clone(),
        kind: gatehouse_core::FactorKind::Totp,
        label: "planted".into(),
        secret: gatehouse_core::FactorSecret::Totp { secret: vec![7; 20], used_up_to: None },
        created_at: NOW + Duration::minutes(6),
        confirmed_at: Some(NOW + Duration::minutes(6)),
        last_used_at: None,
    };
    store.add_factor(&planted).await.unwrap();
    // Without a fresh second factor behind it, a report removes nothing.
    let kept = store.report_sign_in(&alice, &report("e-reported", false), NOW, &audit_entry("sign_in.report")).await.unwrap().unwrap();
    assert_eq!((kept.factors_removed, kept.recovery_codes_removed), (0, 0));
    assert_eq!(store.factors(&alice).await.unwrap().len(), factors_before + 1, "a report without removal keeps every factor");
    let report_done = store.report_sign_in(&alice, &report("e-reported", true), NOW, &audit_entry("sign_in.report")).await.unwrap().unwrap();
    assert_eq!(report_done.factors_removed, 1);
    assert_eq!(store.factors(&alice).await.unwrap().len(), factors_before, "only what came after the reported sign-in");
    assert_eq!(report_done.event.reported_at, Some(NOW));
    assert!(store.address_reported(&acme, "198.51.100.66", NOW).await.unwrap());
    assert!(!store.address_reported(&TenantId::new("t-other"), "198.51.100.66", NOW).await.unwrap(), "another tenant is not affected");
    assert!(!store.address_reported(&acme, "198.51.100.66", until).await.unwrap(), "a report expires");
    assert_eq!(store.address_signals(&alice, "198.51.100.66", NOW).await.unwrap(), (true, true), "seen (the reported success) and reported");
    assert_eq!(store.address_signals(&alice, "198.51.100.66", until).await.unwrap(), (true, false), "an expired report is no signal");
    let listed = store.reported_addresses(&acme, NOW).await.unwrap();
    assert_eq!(listed.iter().map(|r| (r.address.as_str(), r.expires_at)).collect::<Vec<_>>(), [("198.51.100.66", until)]);
    assert!(store.reported_addresses(&TenantId::new("t-other"), NOW).await.unwrap().is_empty());
    assert_eq!(store.addresses_seen(&alice, "e-reported", 10).await.unwrap().iter().filter(|a| *a == "198.51.100.66").count(), 0, "leaving out one event");
    assert!(store.user(&alice).await.unwrap().unwrap().credentials_reset_required);
    assert!(store.sign_in_event("e-reported").await.unwrap().unwrap().reported_at.is_some());
    assert!(store.set_password(&alice, "$argon2id$new", NOW, NOW, &audit_entry("user.password.change")).await.unwrap());
    let user = store.user(&alice).await.unwrap().unwrap();
    assert!(!user.credentials_reset_required && user.password_hash.as_deref() == Some("$argon2id$new"));
    // An admin clears the report (audited); clearing it again finds nothing.
    assert!(
        !store.clear_reported_address(&TenantId::new("t-other"), "198.51.100.66", &audit_entry("reported_address.clear")).await.unwrap(),
        "only the tenant's own"
    );
    assert!(store.clear_reported_address(&acme, "198.51.100.66", &audit_entry("reported_address.clear")).await.unwrap());
    assert!(!store.clear_reported_address(&acme, "198.51.100.66", &audit_entry("reported_address.clear")).await.unwrap());
    assert_eq!(store.address_signals(&alice, "198.51.100.66", NOW).await.unwrap(), (true, false), "a cleared address is no signal");

    assert!(store.prune_sign_ins(NOW + Duration::days(1)).await.unwrap() > 0);
    assert!(store.sign_in_events_after(0, 100).await.unwrap().is_empty(), "retention deletes old history");

    // A report never sets the password: the next sign-in's forced-change step does.
    let second = event("e-reported-2", NOW + Duration::minutes(7), "198.51.100.67", SignInResult::Success);
    store.record_sign_in(&second).await.unwrap();
    store.report_sign_in(&alice, &report("e-reported-2", true), NOW, &audit_entry("sign_in.report")).await.unwrap().unwrap();
    let user = store.user(&alice).await.unwrap().unwrap();
    assert!(user.credentials_reset_required && user.password_hash.as_deref() == Some("$argon2id$new"));
    assert_eq!(user.credentials_reset_since, Some(second.at), "the reported sign-in bounds what is suspect");

    // A factor from after the reported sign-in is not trusted while the reset is pending; the
    // completed reset removes it, but not one enrolled during the resetting sign-in.
    let factor = |id: &str, at| Factor { id: gatehouse_core::ids::FactorId::new(id), created_at: at, confirmed_at: Some(at), ..planted.clone() };
    store.add_factor(&factor("f-suspect", NOW + Duration::minutes(9))).await.unwrap();
    store.add_factor(&factor("f-fresh", NOW + Duration::minutes(20))).await.unwrap();
    assert!(!user.trusts_factor_from(NOW + Duration::minutes(9)) && user.trusts_factor_from(NOW), "only factors from before the reported sign-in count");
    let third = event("e-reported-3", NOW + Duration::minutes(8), "198.51.100.68", SignInResult::Success);
    store.record_sign_in(&third).await.unwrap();
    store.report_sign_in(&alice, &report("e-reported-3", false), NOW, &audit_entry("sign_in.report")).await.unwrap().unwrap();
    assert_eq!(store.user(&alice).await.unwrap().unwrap().credentials_reset_since, Some(second.at), "the earliest report counts");
    assert!(store.set_password(&alice, "$argon2id$after", NOW + Duration::minutes(15), NOW, &audit_entry("user.password.change")).await.unwrap());
    let ids: Vec<String> = store.factors(&alice).await.unwrap().iter().map(|f| f.id.as_str().to_owned()).collect();
    assert!(!ids.contains(&"f-suspect".to_owned()) && ids.contains(&"f-fresh".to_owned()), "{ids:?}");
    let user = store.user(&alice).await.unwrap().unwrap();
    assert!(!user.credentials_reset_required && user.credentials_reset_since.is_none());
}
