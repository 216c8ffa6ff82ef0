//! Brute-force protection for one account: a progressive delay after a few failures, then a
//! temporary lock, never a permanent one (an attacker must not be able to lock a person out
//! for good). Password and second-factor failures count alike. Pure: the store keeps the
//! state, the server asks what to do.

use serde::{Deserialize, Serialize};

/// The thresholds (configurable; these defaults are documented in `docs/detection.md`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ThrottleRules {
    /// Failures before each further attempt must wait.
    pub delay_after: u32,
    /// The first wait; it doubles with each further failure, up to `max_delay_seconds`.
    pub base_delay_seconds: i64,
    pub max_delay_seconds: i64,
    /// Failures in one window that lock the account temporarily.
    pub lock_after: u32,
    /// The first lock; each failure after a lock locks again for twice as long, up to
    /// `max_lock_seconds`.
    pub lock_seconds: i64,
    pub max_lock_seconds: i64,
    /// Failures older than this are forgotten.
    pub window_seconds: i64,
}

impl Default for ThrottleRules {
    fn default() -> Self {
        Self {
            delay_after: 3,
            base_delay_seconds: 1,
            max_delay_seconds: 60,
            lock_after: 10,
            lock_seconds: 15 * 60,
            max_lock_seconds: 3600,
            window_seconds: 3600,
        }
    }
}

/// NIST SP 800-63B §5.2.2: at most 100 consecutive failed attempts on one account.
pub const NIST_MAX_FAILURES: u32 = 100;

impl ThrottleRules {
    /// The most failures an attacker trying every second can cause in one hour: simulated,
    /// so the check holds whatever the settings.
    pub fn max_failures_per_hour(&self) -> u32 {
        let (mut state, mut counted) = (AccountThrottle::default(), 0);
        for now in 0..3600 {
            if state.admission(now) == Admission::Allowed {
                state = state.after_failure(now, self).0;
                counted += 1;
            }
        }
        counted
    }

    /// Rejects settings that would allow more than NIST's ceiling per hour, or lock for long.
    pub fn validate(&self) -> Result<(), String> {
        if self.lock_after == 0
            || self.lock_seconds <= 0
            || self.window_seconds < 60
            || self.base_delay_seconds < 0
            || self.max_delay_seconds < self.base_delay_seconds
        {
            return Err("lockout thresholds must be positive (window at least 60 s, max delay at least the base delay)".into());
        }
        if self.max_lock_seconds < self.lock_seconds || self.max_lock_seconds > 24 * 3600 {
            return Err("max_lock_seconds must be at least lock_seconds and at most 24 hours: a lock is always temporary".into());
        }
        let per_hour = self.max_failures_per_hour();
        if per_hour > NIST_MAX_FAILURES {
            return Err(format!(
                "these thresholds allow {per_hour} failed attempts per hour on one account; NIST SP 800-63B allows at most {NIST_MAX_FAILURES} (lock sooner, or for longer)"
            ));
        }
        Ok(())
    }
}

/// One account's recent failures (unix seconds throughout).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AccountThrottle {
    pub failures: u32,
    pub window_start: i64,
    pub next_attempt_at: i64,
    pub locked_until: Option<i64>,
}

/// Whether an attempt may proceed now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    Allowed,
    /// Too soon after the last failure.
    Delayed {
        seconds: i64,
    },
    /// Temporarily locked.
    Locked {
        seconds: i64,
    },
}

/// What one more failure did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FailureEffect {
    /// The account just became locked (tell the user and raise an alert, once per lock).
    pub locked: bool,
    pub failures: u32,
}

impl AccountThrottle {
    pub fn admission(&self, now: i64) -> Admission {
        match self.locked_until {
            Some(until) if now < until => Admission::Locked { seconds: until - now },
            _ if now < self.next_attempt_at => Admission::Delayed { seconds: self.next_attempt_at - now },
            _ => Admission::Allowed,
        }
    }

    /// Failures still inside the window (a risk signal).
    pub fn recent_failures(&self, now: i64, rules: &ThrottleRules) -> u32 {
        if now - self.window_start < rules.window_seconds { self.failures } else { 0 }
    }

    /// The state after one more failure at `now`.
    pub fn after_failure(self, now: i64, rules: &ThrottleRules) -> (Self, FailureEffect) {
        let was_locked = self.locked_until.is_some_and(|until| now < until);
        let mut next = if self.failures == 0 || now - self.window_start >= rules.window_seconds {
            Self { failures: 0, window_start: now, next_attempt_at: now, locked_until: self.locked_until.filter(|_| was_locked) }
        } else {
            self
        };
        next.failures = next.failures.saturating_add(1);
        if next.failures >= rules.delay_after {
            let doublings = (next.failures - rules.delay_after).min(30);
            let delay = rules.base_delay_seconds.saturating_mul(1_i64 << doublings).min(rules.max_delay_seconds);
            next.next_attempt_at = now + delay;
        }
        let mut locked = false;
        if next.failures >= rules.lock_after && !was_locked {
            let doublings = (next.failures - rules.lock_after).min(30);
            let lock = rules.lock_seconds.saturating_mul(1_i64 << doublings).min(rules.max_lock_seconds);
            next.locked_until = Some(now + lock);
            next.next_attempt_at = next.next_attempt_at.max(now + lock);
            locked = true;
        }
        (next, FailureEffect { locked, failures: next.failures })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_then_the_account_locks_for_a_while_and_then_admits_again() {
        let rules = ThrottleRules::default();
        let mut state = AccountThrottle::default();
        let mut now = 1_000;
        for failure in 1..=9 {
            assert_eq!(state.admission(now), Admission::Allowed, "failure {failure}");
            let (next, effect) = state.after_failure(now, &rules);
            assert!(!effect.locked);
            state = next;
            if failure >= 3 {
                let expected = (1_i64 << (failure - 3)).min(60);
                assert_eq!(state.admission(now), Admission::Delayed { seconds: expected });
                now += expected;
            }
        }
        let (locked, effect) = state.after_failure(now, &rules);
        assert!(effect.locked && effect.failures == 10);
        assert_eq!(locked.admission(now), Admission::Locked { seconds: 900 });
        assert_eq!(locked.admission(now + 900), Admission::Allowed, "the lock expires by itself");
        let (relocked, effect) = locked.after_failure(now + 900, &rules);
        assert!(effect.locked, "a failure after the lock locks again");
        assert_eq!(relocked.admission(now + 900), Admission::Locked { seconds: 1800 }, "twice as long");
        let (capped, _) = relocked.after_failure(now + 2700, &rules);
        assert_eq!(capped.admission(now + 2700), Admission::Locked { seconds: 3600 }, "never longer than the ceiling");
        assert_eq!(relocked.recent_failures(now + 4000, &rules), 0, "old failures are forgotten");
    }

    #[test]
    fn an_attacker_trying_every_second_gets_far_fewer_than_nist_s_hundred_failures_an_hour() {
        let rules = ThrottleRules::default();
        rules.validate().unwrap();
        let (mut state, mut counted) = (AccountThrottle::default(), 0);
        for now in 0..3600 {
            if state.admission(now) == Admission::Allowed {
                state = state.after_failure(now, &rules).0;
                counted += 1;
            }
        }
        assert_eq!(counted, rules.max_failures_per_hour());
        assert!(counted <= 100, "{counted} failures counted in an hour");
        // Short locks for tests stay under the ceiling too: they double.
        let quick = ThrottleRules { delay_after: 2, max_delay_seconds: 1, lock_after: 4, lock_seconds: 2, ..ThrottleRules::default() };
        quick.validate().unwrap();
        assert!(quick.max_failures_per_hour() < 30, "{}", quick.max_failures_per_hour());
    }

    #[test]
    fn thresholds_beyond_the_nist_ceiling_or_permanent_locks_are_refused() {
        assert!(ThrottleRules { lock_after: 150, max_delay_seconds: 1, ..ThrottleRules::default() }.validate().is_err(), "one a second for an hour");
        assert!(
            ThrottleRules { lock_seconds: 10, max_lock_seconds: 10, max_delay_seconds: 1, ..ThrottleRules::default() }.validate().is_err(),
            "360 locks an hour"
        );
        assert!(ThrottleRules { lock_seconds: 7 * 24 * 3600, max_lock_seconds: 7 * 24 * 3600, ..ThrottleRules::default() }.validate().is_err());
        assert!(ThrottleRules { max_lock_seconds: 60, ..ThrottleRules::default() }.validate().is_err(), "below the first lock");
    }
}
