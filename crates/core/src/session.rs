//! Single sign-on session rules: idle and absolute timeouts, `max_age`, `prompt=login`.

use time::{Duration, OffsetDateTime};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionTimeouts {
    pub idle: Duration,
    pub absolute: Duration,
}

impl Default for SessionTimeouts {
    /// Keycloak's defaults: 30 minutes idle, 10 hours at most.
    fn default() -> Self {
        Self { idle: Duration::minutes(30), absolute: Duration::hours(10) }
    }
}

impl SessionTimeouts {
    pub fn is_active(&self, created_at: OffsetDateTime, last_seen_at: OffsetDateTime, now: OffsetDateTime) -> bool {
        now < created_at + self.absolute && now < last_seen_at + self.idle
    }
}

/// True when an existing authentication is too old for the request's `max_age` (OIDC Core
/// §3.1.2.1): the user must sign in again.
pub fn exceeds_max_age(auth_time: OffsetDateTime, max_age: Option<u64>, now: OffsetDateTime) -> bool {
    match max_age {
        None => false,
        Some(seconds) => {
            let seconds = i64::try_from(seconds).unwrap_or(i64::MAX);
            now - auth_time > Duration::seconds(seconds)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn idle_and_absolute_timeouts() {
        let t = SessionTimeouts::default();
        let start = datetime!(2026-01-01 08:00 UTC);
        assert!(t.is_active(start, start, start + Duration::minutes(29)));
        assert!(!t.is_active(start, start, start + Duration::minutes(31)));
        let late = start + Duration::hours(10);
        assert!(!t.is_active(start, late, late + Duration::seconds(1)));
    }

    #[test]
    fn max_age() {
        let auth = datetime!(2026-01-01 08:00 UTC);
        assert!(!exceeds_max_age(auth, None, auth + Duration::days(1)));
        assert!(!exceeds_max_age(auth, Some(1), auth + Duration::seconds(1)));
        assert!(exceeds_max_age(auth, Some(1), auth + Duration::seconds(2)));
        assert!(exceeds_max_age(auth, Some(0), auth + Duration::milliseconds(1)));
        assert!(!exceeds_max_age(auth, Some(u64::MAX), auth + Duration::days(1)));
    }
}
