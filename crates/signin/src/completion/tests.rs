use super::*;
use crate::parked::tests::request;
use gatehouse_core::ids::UserId;
use std::sync::atomic::{AtomicU32, Ordering};

/// Numbered values, so a test can tell which random value went where.
#[derive(Default)]
struct Counter(AtomicU32);

impl Randomness for Counter {
    fn id(&self) -> Result<String, gatehouse_crypto::CryptoError> {
        Ok(format!("id{}", self.0.fetch_add(1, Ordering::Relaxed)))
    }
    fn token(&self) -> Result<String, gatehouse_crypto::CryptoError> {
        Ok(format!("token{}", self.0.fetch_add(1, Ordering::Relaxed)))
    }
}

fn user(id: &str) -> User {
    crate::parked::tests::ann(id, "t1")
}

fn session(user: &str) -> SessionRecord {
    SessionRecord {
        idp: None,
        id: SessionId::new("s-old"),
        secret_digest: vec![0; 32],
        user_id: UserId::new(user),
        created_at: OffsetDateTime::UNIX_EPOCH,
        last_seen_at: OffsetDateTime::UNIX_EPOCH,
        auth_time: OffsetDateTime::UNIX_EPOCH,
        acr: AuthLevel::Password.acr().into(),
        amr: vec!["pwd".into()],
        ended_at: None,
    }
}

fn finish<'a>(user: &'a User, request: &'a AuthorizationRequest, attempt: &'a Attempt, existing: Option<SessionRecord>, proof: Proof) -> Finished<'a> {
    Finished { parked_id: "p1", request, user, proof, existing, attempt, decision: None, remember_device: true, idp: None }
}

const NOW: OffsetDateTime = time::macros::datetime!(2026-12-07 04:00 UTC);

#[test]
fn a_new_authentication_in_the_same_users_session_renews_its_secret() {
    let (digester, rng) = (SecretDigester::new(b"pepper"), Counter::default());
    let completer = Completer { digester: &digester, rng: &rng, code_lifetime: Duration::seconds(60) };
    let (ann, request) = (user("u1"), request());
    let attempt = Attempt::new("192.0.2.1".parse().unwrap(), "agent", Some("device".into()));
    let mfa = Proof::with_second_factor("pwd", "otp", AuthLevel::Mfa);
    let done = completer.complete(finish(&ann, &request, &attempt, Some(session("u1")), mfa), NOW).unwrap();
    let SessionWrite::Reauthenticate { id, secret_digest, acr, .. } = &done.write.session else { panic!("the session is renewed") };
    assert_eq!(id.as_str(), "s-old");
    assert!(digester.matches(&done.session_secret, secret_digest), "the cookie's new secret is the stored one");
    assert_eq!(acr, AuthLevel::Mfa.acr());
    assert_eq!(done.write.ended_session, None);
    assert_eq!(done.new_device_token, None, "a known browser keeps its device cookie");
    assert_eq!(done.write.device.as_ref().and_then(|d| d.second_factor_at), Some(NOW), "a remembered second factor");
    assert!(digester.matches(&done.code, &done.write.code.digest));
    assert_eq!(done.write.code.expires_at, NOW + Duration::seconds(60));
    assert_eq!(done.write.pending_id, "p1");
    assert_eq!(done.write.grant.acr, AuthLevel::Mfa.acr());
}

#[test]
fn another_users_session_ends_and_a_new_browser_gets_a_device_secret() {
    let (digester, rng) = (SecretDigester::new(b"pepper"), Counter::default());
    let completer = Completer { digester: &digester, rng: &rng, code_lifetime: Duration::seconds(60) };
    let (ann, request) = (user("u1"), request());
    let attempt = Attempt::new("192.0.2.1".parse().unwrap(), "agent", None);
    let done = completer.complete(finish(&ann, &request, &attempt, Some(session("u2")), Proof::password()), NOW).unwrap();
    assert!(matches!(done.write.session, SessionWrite::Create(_)));
    assert_eq!(done.write.ended_session, Some(SessionId::new("s-old")));
    assert!(done.new_device_token.is_some());
    assert_eq!(done.write.device.as_ref().and_then(|d| d.second_factor_at), None, "a password alone is not remembered");
    let event = done.write.event.as_ref().unwrap();
    assert_eq!((event.result, event.amr.clone()), (SignInResult::Success, vec!["pwd".to_owned()]));
}
