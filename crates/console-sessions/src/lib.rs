//! The console's own browser sessions: which access token a browser's console pages call the
//! API with, the CSRF token of its forms, a sign-in it started and one message to show after a
//! redirect. Kept in memory (bounded, idle-expired): losing them on restart costs a silent
//! round trip through `/authorize`, where the SSO session signs the person straight back in.

use std::collections::HashMap;
use std::sync::Mutex;
use subtle::ConstantTimeEq;
use time::{Duration, OffsetDateTime};
use zeroize::Zeroizing;

/// At most this many console sessions; the least recently used go first.
const CAPACITY: usize = 10_000;
/// A console session unused for this long is forgotten (the SSO session's idle limit applies
/// on top: the next API call with a revoked token signs in again).
const IDLE: Duration = Duration::minutes(30);
/// A sign-in started from the console must come back within this.
const PENDING_LIFETIME: Duration = Duration::minutes(10);
/// Sign-ins a browser may have under way at once (several tabs after a restart).
const MAX_PENDING: usize = 4;

/// What the console holds for one signed-in browser.
pub struct SignedIn {
    pub access_token: Zeroizing<String>,
    pub expires_at: OffsetDateTime,
    pub user_id: String,
}

/// A trip through `/authorize` in progress: the `state` and PKCE verifier to check the answer
/// against, and the console page to return to.
pub struct PendingSignIn {
    pub state: String,
    pub verifier: Zeroizing<String>,
    pub return_to: String,
    pub started_at: OffsetDateTime,
}

/// A message shown once on the next page (Post/Redirect/Get).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Flash {
    pub error: bool,
    pub text: String,
}

/// A second factor being added from the account page: what its setup page shows again on a
/// reload or after a wrong code (the API returns the key only once).
#[derive(Clone)]
pub struct Setup {
    pub factor: String,
    pub secret: Zeroizing<String>,
    pub qr_code: String,
    /// The SMS challenge a code answers (empty for an authenticator app).
    pub challenge: String,
}

struct Entry {
    csrf_token: String,
    setup: Option<Setup>,
    /// The WebAuthn registration the account page started.
    ceremony: Option<String>,
    signed_in: Option<SignedIn>,
    pending: Vec<PendingSignIn>,
    flash: Option<Flash>,
    /// Recovery codes just generated, shown once on the next page view.
    codes: Option<Zeroizing<Vec<String>>>,
    last_seen: OffsetDateTime,
}

/// A snapshot of one session for a page: never the token itself beyond the request.
pub struct View {
    pub csrf_token: String,
    pub access_token: Option<Zeroizing<String>>,
    pub user_id: Option<String>,
    pub flash: Option<Flash>,
    pub codes: Option<Zeroizing<Vec<String>>>,
}

/// Console sessions keyed by the keyed digest of the cookie's secret, so a lookup does not
/// depend on the secret's bytes.
#[derive(Default)]
pub struct Sessions {
    entries: Mutex<HashMap<Vec<u8>, Entry>>,
}

impl Sessions {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Vec<u8>, Entry>> {
        self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A new, signed-out session under `key` with its CSRF token; false when the store is full
    /// of signed-in sessions.
    pub fn create(&self, key: Vec<u8>, csrf_token: String, now: OffsetDateTime) -> bool {
        let mut entries = self.lock();
        if entries.len() >= CAPACITY {
            entries.retain(|_, e| now - e.last_seen < IDLE);
        }
        if entries.len() >= CAPACITY {
            // Full of live sessions: make room by forgetting the oldest one nobody signed in
            // to, never a signed-in person's (so a flood of anonymous visits signs nobody out).
            match entries.iter().filter(|(_, e)| e.signed_in.is_none()).min_by_key(|(_, e)| e.last_seen).map(|(k, _)| k.clone()) {
                Some(oldest) => {
                    entries.remove(&oldest);
                }
                None => return false,
            }
        }
        entries.insert(key, Entry { csrf_token, setup: None, ceremony: None, signed_in: None, pending: Vec::new(), flash: None, codes: None, last_seen: now });
        true
    }

    /// The session's state for one page view; takes the flash message and any codes to show.
    /// A token about to expire counts as none, so the page signs in again first.
    pub fn view(&self, key: &[u8], now: OffsetDateTime) -> Option<View> {
        let mut entries = self.lock();
        let entry = entries.get_mut(key)?;
        if now - entry.last_seen >= IDLE {
            entries.remove(key);
            return None;
        }
        entry.last_seen = now;
        let live = entry.signed_in.as_ref().filter(|s| s.expires_at - Duration::seconds(5) > now);
        Some(View {
            csrf_token: entry.csrf_token.clone(),
            access_token: live.map(|s| s.access_token.clone()),
            user_id: live.map(|s| s.user_id.clone()),
            flash: entry.flash.take(),
            codes: entry.codes.take(),
        })
    }

    /// Whether `sent` is this session's CSRF token (constant time).
    pub fn csrf_ok(&self, key: &[u8], sent: &str) -> bool {
        self.lock().get(key).is_some_and(|e| bool::from(e.csrf_token.as_bytes().ct_eq(sent.as_bytes())))
    }

    pub fn start_sign_in(&self, key: &[u8], pending: PendingSignIn) -> bool {
        match self.lock().get_mut(key) {
            Some(entry) => {
                if entry.pending.len() >= MAX_PENDING {
                    entry.pending.remove(0);
                }
                entry.pending.push(pending);
                true
            }
            None => false,
        }
    }

    /// Takes the sign-in in progress whose state is `state` (single use). A state that matches
    /// none ends every sign-in under way, so states cannot be guessed at.
    pub fn finish_sign_in(&self, key: &[u8], state: &str, now: OffsetDateTime) -> Option<PendingSignIn> {
        let mut entries = self.lock();
        let pending = &mut entries.get_mut(key)?.pending;
        let Some(index) = pending.iter().position(|p| bool::from(p.state.as_bytes().ct_eq(state.as_bytes()))) else {
            pending.clear();
            return None;
        };
        let found = pending.remove(index);
        (now - found.started_at < PENDING_LIFETIME).then_some(found)
    }

    pub fn sign_in(&self, key: &[u8], signed_in: SignedIn) {
        if let Some(entry) = self.lock().get_mut(key) {
            entry.signed_in = Some(signed_in);
        }
    }

    /// Forgets the access token (it was refused): the next page signs in again.
    pub fn drop_token(&self, key: &[u8]) {
        if let Some(entry) = self.lock().get_mut(key) {
            entry.signed_in = None;
        }
    }

    pub fn flash(&self, key: &[u8], flash: Flash) {
        if let Some(entry) = self.lock().get_mut(key) {
            entry.flash = Some(flash);
        }
    }

    pub fn show_codes(&self, key: &[u8], codes: Vec<String>) {
        if let Some(entry) = self.lock().get_mut(key) {
            entry.codes = Some(Zeroizing::new(codes));
        }
    }

    pub fn set_setup(&self, key: &[u8], setup: Option<Setup>) {
        if let Some(entry) = self.lock().get_mut(key) {
            entry.setup = setup;
        }
    }

    /// The setup in progress for `factor`, if that is the one this browser started.
    pub fn setup(&self, key: &[u8], factor: &str) -> Option<Setup> {
        self.lock().get(key)?.setup.clone().filter(|s| s.factor == factor)
    }

    pub fn set_ceremony(&self, key: &[u8], ceremony: String) {
        if let Some(entry) = self.lock().get_mut(key) {
            entry.ceremony = Some(ceremony);
        }
    }

    pub fn take_ceremony(&self, key: &[u8]) -> Option<String> {
        self.lock().get_mut(key)?.ceremony.take()
    }

    /// Moves a session to a new key after a sign-in. Someone else signing in gets a new CSRF
    /// token and nothing of the previous person's; the same person signing in again (a token
    /// that expired, a step-up) keeps theirs, so forms open in other tabs still work.
    pub fn rekey(&self, old: &[u8], new: Vec<u8>, user_id: &str, csrf_token: String) {
        let mut entries = self.lock();
        if let Some(mut entry) = entries.remove(old) {
            if entry.signed_in.as_ref().is_none_or(|s| s.user_id != user_id) {
                entry.csrf_token = csrf_token;
                entry.setup = None;
                entry.ceremony = None;
                entry.codes = None;
                entry.flash = None;
            }
            entries.insert(new, entry);
        }
    }

    pub fn remove(&self, key: &[u8]) {
        self.lock().remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> OffsetDateTime {
        OffsetDateTime::UNIX_EPOCH + Duration::seconds(1_800_000_000 + seconds)
    }

    #[test]
    fn a_sign_in_is_single_use_and_checks_its_state() {
        let sessions = Sessions::default();
        sessions.create(vec![1], "csrf".into(), at(0));
        let pending = || PendingSignIn { state: "s1".into(), verifier: Zeroizing::new("v".into()), return_to: "/account".into(), started_at: at(0) };
        assert!(sessions.start_sign_in(&[1], pending()));
        assert!(sessions.finish_sign_in(&[1], "wrong", at(1)).is_none());
        assert!(sessions.finish_sign_in(&[1], "s1", at(1)).is_none(), "a wrong state ended the attempt");
        // Two tabs: each comes back with its own state.
        let tab = |state: &str| PendingSignIn { state: state.into(), verifier: Zeroizing::new("v".into()), return_to: format!("/{state}"), started_at: at(0) };
        assert!(sessions.start_sign_in(&[1], tab("a")) && sessions.start_sign_in(&[1], tab("b")));
        assert_eq!(sessions.finish_sign_in(&[1], "b", at(1)).map(|p| p.return_to), Some("/b".into()));
        assert_eq!(sessions.finish_sign_in(&[1], "a", at(1)).map(|p| p.return_to), Some("/a".into()));
        assert!(sessions.start_sign_in(&[1], pending()));
        assert_eq!(sessions.finish_sign_in(&[1], "s1", at(1)).map(|p| p.return_to), Some("/account".into()));
        assert!(sessions.finish_sign_in(&[1], "s1", at(2)).is_none(), "used once");
        assert!(sessions.start_sign_in(&[1], pending()));
        assert!(sessions.finish_sign_in(&[1], "s1", at(601)).is_none(), "expired");
        assert!(!sessions.start_sign_in(&[9], pending()), "no such session");
    }

    #[test]
    fn tokens_expire_flash_shows_once_and_idle_sessions_go() {
        let sessions = Sessions::default();
        sessions.create(vec![1], "csrf".into(), at(0));
        assert!(sessions.csrf_ok(&[1], "csrf") && !sessions.csrf_ok(&[1], "csrF") && !sessions.csrf_ok(&[2], "csrf"));
        sessions.sign_in(&[1], SignedIn { access_token: Zeroizing::new("t".into()), expires_at: at(600), user_id: "u".into() });
        sessions.flash(&[1], Flash { error: false, text: "Saved".into() });
        let view = sessions.view(&[1], at(10)).unwrap();
        assert_eq!(view.access_token.as_deref().map(String::as_str), Some("t"));
        assert_eq!(view.flash.map(|f| f.text), Some("Saved".into()));
        assert!(sessions.view(&[1], at(11)).unwrap().flash.is_none(), "shown once");
        assert!(sessions.view(&[1], at(596)).unwrap().access_token.is_none(), "about to expire");
        assert!(sessions.view(&[1], at(596 + 1800)).is_none(), "idle");
        sessions.create(vec![3], "old".into(), at(0));
        sessions.rekey(&[3], vec![4], "u", "new".into());
        assert!(sessions.view(&[3], at(1)).is_none(), "the old key names nothing");
        assert!(sessions.csrf_ok(&[4], "new") && !sessions.csrf_ok(&[4], "old"), "a new person: a new token");
        sessions.sign_in(&[4], SignedIn { access_token: Zeroizing::new("t".into()), expires_at: at(600), user_id: "u".into() });
        sessions.rekey(&[4], vec![5], "u", "newer".into());
        assert!(sessions.csrf_ok(&[5], "new"), "the same person signing in again keeps the token");
        sessions.rekey(&[5], vec![6], "someone else", "other".into());
        assert!(sessions.csrf_ok(&[6], "other"));
    }

    #[test]
    fn a_flood_of_visits_never_evicts_a_signed_in_session() {
        let sessions = Sessions::default();
        sessions.create(vec![0], "c".into(), at(0));
        sessions.sign_in(&[0], SignedIn { access_token: Zeroizing::new("t".into()), expires_at: at(600), user_id: "u".into() });
        for i in 1..CAPACITY + 50 {
            sessions.create(i.to_be_bytes().to_vec(), "c".into(), at(1));
        }
        assert!(sessions.view(&[0], at(2)).and_then(|v| v.access_token).is_some());
    }
}
