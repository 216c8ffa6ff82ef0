//! Storage requirements of a finished sign-in beyond its atomicity (`suite::sign_in_completion_is_atomic`):
//! every row it writes is exactly the record it was given, in both session modes.
//!
//! Requirements panic with a message naming what broke, like the rest of the suite.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use gatehouse_core::ids::{GrantId, SessionId, TenantId, UserId};
use time::Duration;

use crate::suite::{NOW, alice_session, code, device, event, grant, pending, seed_directory};
use crate::*;

pub async fn sign_in_completion_writes_every_row_as_given(store: &dyn Store) {
    seed_directory(store).await;
    // A browser remembered earlier, with a second factor it was trusted for.
    let remembered = NOW - Duration::days(3);
    store.upsert_device(&DeviceRecord { last_seen_at: remembered, ..device("d-known", remembered) }).await.unwrap();

    store.save_pending(&pending("p-new")).await.unwrap();
    // A sign-in through the tenant's identity provider: the session, grant and history entry
    // name it.
    let idp = Some("t-acme/corp".to_owned());
    let session = SessionRecord { idp: idp.clone(), ..alice_session("s-1", 40) };
    let through_idp = GrantRecord { idp: idp.clone(), ..grant("g-1", Some("s-1")) };
    let history = SignInEvent {
        idp: idp.clone(),
        tenant_id: Some(TenantId::new("t-acme")),
        device_id: Some("d-known".into()),
        risky: true,
        staged_decision: Some(serde_json::json!({ "outcome": { "kind": "allow" } })),
        ..event("e-new", NOW, "192.0.2.60", SignInResult::Success)
    };
    let seen_again = DeviceRecord { second_factor_at: None, user_agent: "second".into(), ..device("d-known", NOW) };
    let first = SignInCompletion {
        ended_session: None,
        session: SessionWrite::Create(session.clone()),
        pending_id: "p-new".into(),
        grant: through_idp.clone(),
        code: code(41, "g-1"),
        device: Some(seen_again),
        event: Some(history.clone()),
    };
    assert_eq!(store.complete_sign_in(&first, NOW).await.unwrap(), Vec::<GrantId>::new(), "no session ended, no grant revoked");
    assert!(store.pending("p-new", NOW).await.unwrap().is_none(), "the parked request is answered");
    assert_eq!(store.session_by_secret(&[40; 32]).await.unwrap(), Some(session));
    assert_eq!(store.grant(&GrantId::new("g-1")).await.unwrap(), Some(through_idp));
    assert_eq!(store.code(&[41; 32]).await.unwrap(), Some((code(41, "g-1"), false)), "the code is issued unused");
    let known = store.device("d-known").await.unwrap().unwrap();
    assert_eq!((known.last_seen_at, known.user_agent.as_str()), (NOW, "second"), "a returning browser is refreshed");
    assert_eq!(known.second_factor_at, Some(remembered), "and keeps the second factor it was trusted for");
    assert_eq!(store.sign_in_event("e-new").await.unwrap(), Some(history), "the history entry is written as given");

    // A fresh authentication in the same session renews its secret and level, and writes no
    // device or history row it was not given.
    store.save_pending(&pending("p-again")).await.unwrap();
    let later = NOW + Duration::minutes(5);
    let again = SignInCompletion {
        ended_session: None,
        session: SessionWrite::Reauthenticate {
            id: SessionId::new("s-1"),
            secret_digest: vec![42; 32],
            auth_time: later,
            acr: "urn:gatehouse:acr:mfa".into(),
            amr: vec!["pwd".into(), "otp".into()],
            idp: None,
        },
        pending_id: "p-again".into(),
        grant: grant("g-2", Some("s-1")),
        code: code(43, "g-2"),
        device: None,
        event: None,
    };
    store.complete_sign_in(&again, later).await.unwrap();
    assert!(store.session_by_secret(&[40; 32]).await.unwrap().is_none(), "the old secret no longer opens the session");
    let renewed = store.session_by_secret(&[42; 32]).await.unwrap().unwrap();
    assert_eq!((renewed.auth_time, renewed.last_seen_at, renewed.created_at), (later, later, NOW));
    assert_eq!((renewed.acr.as_str(), renewed.amr), ("urn:gatehouse:acr:mfa", vec!["pwd".to_owned(), "otp".to_owned()]));
    assert_eq!(renewed.idp, None, "a password sign-in in the session replaces the provider it came through");
    assert!(store.grant(&GrantId::new("g-2")).await.unwrap().is_some());
    assert_eq!(store.sign_ins(&UserId::new("u-alice"), &SignInFilter::default(), None, 10).await.unwrap().len(), 1, "no history entry was given");
}
