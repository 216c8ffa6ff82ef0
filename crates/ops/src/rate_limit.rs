//! Fixed-window counters for guessable things (passwords per account and per address, client
//! secrets per client). In memory: a restart forgives, which is acceptable for windows of
//! minutes; the audit issue adds persistent lock-outs.
//!
//! Here, below both the sign-in flow (`gatehouse-signin`, second factors) and the server (its
//! endpoints), so both count with the same limiter and limits without depending on each other.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use time::{Duration, OffsetDateTime};

#[derive(Clone, Copy, Debug)]
pub struct Limit {
    pub max: u32,
    pub window: Duration,
}

/// Failed password attempts allowed per account in a window.
pub const LOGIN_PER_ACCOUNT: Limit = Limit { max: 10, window: Duration::minutes(5) };
/// Failed password attempts allowed per client address in a window (spraying).
pub const LOGIN_PER_ADDRESS: Limit = Limit { max: 50, window: Duration::minutes(5) };
/// Failed second factors (wrong, expired or replayed codes, failed WebAuthn ceremonies) allowed
/// per user before the second-factor step locks for the rest of the window.
pub const SECOND_FACTOR: Limit = Limit { max: 10, window: Duration::minutes(15) };
/// Wrong second-factor codes one client address may present in a window, whatever accounts
/// they are for (each account also has its own limit).
pub const OTP_FAILURES_PER_ADDRESS: Limit = Limit { max: 30, window: Duration::minutes(15) };
/// Text messages one client address may ask for in an hour, whoever they are for.
pub const SMS_PER_ADDRESS: Limit = Limit { max: 20, window: Duration::hours(1) };
/// Failed token requests (wrong codes, refresh tokens or client credentials) one client
/// address may make per minute, whatever client it names: guessing from one place stops there.
pub const TOKEN_FAILURES_PER_ADDRESS: Limit = Limit { max: 100, window: Duration::minutes(1) };
/// Authorization requests one client address (an IPv6 /64) may park in a window as long as a
/// parked request lives: a cap on what an unauthenticated sender can make the store hold
/// (a few kilobytes each), roomy enough for a busy office behind one NAT address.
pub const PARKED_PER_ADDRESS: Limit = Limit { max: 300, window: Duration::minutes(10) };
/// Wrong mailbox codes (the forced password change) per user and address (an IPv6 /64): an
/// intruder guessing from one place cannot lock the owner, elsewhere, out of their own change.
pub const RESET_CODE_GUESSES: Limit = Limit { max: 10, window: Duration::minutes(15) };
/// Mailbox codes sent to one user in an hour: whoever holds the password cannot flood the
/// owner's mailbox (each password sign-in of a reported account would send one).
pub const RESET_CODES_SENT: Limit = Limit { max: 6, window: Duration::hours(1) };
/// Failed client authentications allowed per client id and address in a window. Keyed by both,
/// so nobody can lock an application out of the token endpoint from elsewhere.
pub const CLIENT_AUTH: Limit = Limit { max: 20, window: Duration::minutes(1) };

/// Counters keyed by `K`: a string (an account, an address) or a hash of several parts.
pub struct RateLimiter<K = String> {
    windows: Mutex<HashMap<K, (OffsetDateTime, u32)>>,
}

impl<K> Default for RateLimiter<K> {
    fn default() -> Self {
        Self { windows: Mutex::new(HashMap::new()) }
    }
}

impl<K: Hash + Eq> RateLimiter<K> {
    /// Seconds until the key may try again, or `None` when it is under its limit.
    pub fn blocked_for<Q>(&self, key: &Q, limit: Limit, now: OffsetDateTime) -> Option<i64>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let windows = self.windows.lock().ok()?;
        let (start, count) = windows.get(key)?;
        let ends = *start + limit.window;
        (now < ends && *count >= limit.max).then(|| (ends - now).whole_seconds().max(1))
    }

    /// Failures counted for the key in its current window (a risk signal).
    pub fn failures<Q>(&self, key: &Q, limit: Limit, now: OffsetDateTime) -> u32
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let Ok(windows) = self.windows.lock() else { return 0 };
        windows.get(key).filter(|(start, _)| *start + limit.window > now).map_or(0, |(_, count)| *count)
    }

    /// Counts one failure.
    pub fn record_failure<Q>(&self, key: &Q, limit: Limit, now: OffsetDateTime)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        let Ok(mut windows) = self.windows.lock() else { return };
        if windows.len() > 100_000 {
            windows.retain(|_, (start, _)| *start + limit.window > now);
        }
        let entry = match windows.get_mut(key) {
            Some(entry) => entry,
            None => windows.entry(key.to_owned()).or_insert((now, 0)),
        };
        if entry.0 + limit.window <= now {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
    }

    pub fn clear<Q>(&self, key: &Q)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if let Ok(mut windows) = self.windows.lock() {
            windows.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn blocks_after_the_limit_until_the_window_ends() {
        let limiter: RateLimiter = RateLimiter::default();
        let limit = Limit { max: 3, window: Duration::minutes(1) };
        let t0 = datetime!(2026-01-01 00:00 UTC);
        for _ in 0..3 {
            assert!(limiter.blocked_for("k", limit, t0).is_none());
            limiter.record_failure("k", limit, t0);
        }
        assert_eq!(limiter.blocked_for("k", limit, t0 + Duration::seconds(10)), Some(50));
        assert_eq!(limiter.failures("k", limit, t0), 3);
        assert_eq!(limiter.failures("k", limit, t0 + Duration::minutes(1)), 0, "an ended window counts nothing");
        assert!(limiter.blocked_for("other", limit, t0).is_none());
        assert!(limiter.blocked_for("k", limit, t0 + Duration::minutes(1)).is_none());
        limiter.clear("k");
        assert!(limiter.blocked_for("k", limit, t0).is_none());
    }
}
