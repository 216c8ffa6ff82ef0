//! WebAuthn registrations started through the self-service API, parked in memory until the
//! browser answers (five minutes at most). A sign-in parks its ceremony with the parked
//! authorization request instead; an API call has no such row. In memory: a restart drops
//! ceremonies in flight (the user starts again), and one server owns a data directory.

use std::collections::HashMap;
use std::sync::Mutex;

use gatehouse_core::FactorKind;
use gatehouse_core::ids::UserId;
use time::{Duration, OffsetDateTime};

/// How long a registration may wait for the browser.
pub const CEREMONY_LIFETIME: Duration = Duration::minutes(5);
/// Registrations in flight at most; beyond that the oldest expire first.
const CAPACITY: usize = 10_000;

pub struct PendingRegistration {
    pub user: UserId,
    pub kind: FactorKind,
    pub label: String,
    /// The `webauthn-rs` registration state.
    pub state: String,
    pub expires_at: OffsetDateTime,
}

#[derive(Default)]
pub struct Ceremonies(Mutex<HashMap<String, PendingRegistration>>);

impl Ceremonies {
    pub fn park(&self, id: String, pending: PendingRegistration, now: OffsetDateTime) {
        let Ok(mut map) = self.0.lock() else { return };
        map.retain(|_, p| p.expires_at > now);
        if map.len() >= CAPACITY
            && let Some(oldest) = map.iter().min_by_key(|(_, p)| p.expires_at).map(|(id, _)| id.clone())
        {
            map.remove(&oldest);
        }
        map.insert(id, pending);
    }

    /// Takes a ceremony out (used once); only its own user's, only while it lives.
    pub fn take(&self, id: &str, user: &UserId, now: OffsetDateTime) -> Option<PendingRegistration> {
        let mut map = self.0.lock().ok()?;
        if map.get(id).is_some_and(|p| p.user == *user) { map.remove(id).filter(|p| p.expires_at > now) } else { None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-06-01 12:00 UTC);

    fn pending(user: &str) -> PendingRegistration {
        PendingRegistration { user: UserId::new(user), kind: FactorKind::Passkey, label: "Key".into(), state: "s".into(), expires_at: NOW + CEREMONY_LIFETIME }
    }

    #[test]
    fn a_ceremony_is_taken_once_by_its_own_user_while_it_lives() {
        let ceremonies = Ceremonies::default();
        ceremonies.park("c1".into(), pending("alice"), NOW);
        assert!(ceremonies.take("c1", &UserId::new("bob"), NOW).is_none(), "not another user's");
        assert!(ceremonies.take("c1", &UserId::new("alice"), NOW).is_some());
        assert!(ceremonies.take("c1", &UserId::new("alice"), NOW).is_none(), "used once");
        ceremonies.park("c2".into(), pending("alice"), NOW);
        assert!(ceremonies.take("c2", &UserId::new("alice"), NOW + Duration::minutes(6)).is_none(), "expired");
    }
}
