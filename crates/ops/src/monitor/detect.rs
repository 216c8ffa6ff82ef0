//! Detection rules over sliding counts kept in memory: password spraying (one address failing
//! against many accounts), credential stuffing (many accounts failing from many addresses) and
//! one-time-code flooding (many codes requested for one user, or from one address). Each rule
//! reports a finding once, when its threshold is crossed, so one attack raises one alert per
//! window. Counts reset on restart, which only delays an alert; lockouts are persistent. No I/O
//! here: callers raise the alerts a finding calls for.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Mutex;

pub use crate::settings::DetectionThresholds;

/// What a rule found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Finding {
    Spraying { address: IpAddr, accounts: u32 },
    Stuffing { accounts: u32, addresses: u32 },
    OtpFloodUser { user: String, codes: u32 },
    OtpFloodAddress { address: IpAddr, codes: u32 },
}

/// A set of distinct keys seen since a window started.
struct DistinctWindow<T> {
    start: i64,
    seen: HashSet<T>,
    reported: bool,
}

impl<T> Default for DistinctWindow<T> {
    fn default() -> Self {
        Self { start: 0, seen: HashSet::new(), reported: false }
    }
}

impl<T: std::hash::Hash + Eq> DistinctWindow<T> {
    /// Adds `key`; returns the distinct count.
    fn add(&mut self, key: T, now: i64, window: i64) -> u32 {
        if now - self.start >= window {
            *self = Self { start: now, seen: HashSet::new(), reported: false };
        }
        // Bounded: a flood of distinct keys cannot grow memory without limit.
        if self.seen.len() < 100_000 {
            self.seen.insert(key);
        }
        u32::try_from(self.seen.len()).unwrap_or(u32::MAX)
    }

    /// True once per window, the first time `crossed` holds.
    fn report_once(&mut self, crossed: bool) -> bool {
        let first = crossed && !self.reported;
        self.reported |= crossed;
        first
    }
}

#[derive(Default)]
struct CountWindow {
    start: i64,
    count: u32,
}

impl CountWindow {
    fn add(&mut self, now: i64, window: i64) -> u32 {
        if now - self.start >= window {
            *self = Self { start: now, count: 0 };
        }
        self.count = self.count.saturating_add(1);
        self.count
    }
}

#[derive(Default)]
struct Windows {
    per_address: HashMap<IpAddr, DistinctWindow<String>>,
    accounts: DistinctWindow<String>,
    addresses: DistinctWindow<IpAddr>,
    otp_per_user: HashMap<String, CountWindow>,
    sms_per_address: HashMap<IpAddr, CountWindow>,
}

/// The rules' state.
pub struct Detector {
    thresholds: DetectionThresholds,
    windows: Mutex<Windows>,
}

const HOUR: i64 = 3600;
const MAX_KEYS: usize = 100_000;

impl Detector {
    pub fn new(thresholds: DetectionThresholds) -> Self {
        Self { thresholds, windows: Mutex::new(Windows::default()) }
    }

    pub fn thresholds(&self) -> &DetectionThresholds {
        &self.thresholds
    }

    /// A failed password for `account` (an email key, known or not) from `address`. An IPv6
    /// address counts as its /64: one host holds a whole /64 and could rotate through it.
    pub fn password_failure(&self, account: &str, address: IpAddr, now: i64) -> Vec<Finding> {
        let address = host_network(address);
        let t = &self.thresholds;
        let Ok(mut w) = self.windows.lock() else { return Vec::new() };
        let mut findings = Vec::new();
        if w.per_address.len() > MAX_KEYS {
            w.per_address.retain(|_, v| now - v.start < t.window_seconds);
        }
        let per_address = w.per_address.entry(address).or_default();
        let accounts = per_address.add(account.to_owned(), now, t.window_seconds);
        if per_address.report_once(accounts >= t.spraying_accounts) {
            findings.push(Finding::Spraying { address, accounts });
        }
        let accounts = w.accounts.add(account.to_owned(), now, t.window_seconds);
        let addresses = w.addresses.add(address, now, t.window_seconds);
        // Both windows restart together (same start), so one flag is enough.
        if w.accounts.report_once(accounts >= t.stuffing_accounts && addresses >= t.stuffing_addresses) {
            findings.push(Finding::Stuffing { accounts, addresses });
        }
        findings
    }

    /// A one-time code sent (or asked for) for `user` from `address`; `sms` when it is a text.
    pub fn code_requested(&self, user: &str, address: IpAddr, sms: bool, now: i64) -> Vec<Finding> {
        let address = host_network(address);
        let t = &self.thresholds;
        let Ok(mut w) = self.windows.lock() else { return Vec::new() };
        if w.otp_per_user.len() > MAX_KEYS {
            w.otp_per_user.retain(|_, v| now - v.start < HOUR);
        }
        if w.sms_per_address.len() > MAX_KEYS {
            w.sms_per_address.retain(|_, v| now - v.start < HOUR);
        }
        let mut findings = Vec::new();
        let codes = w.otp_per_user.entry(user.to_owned()).or_default().add(now, HOUR);
        if codes == t.otp_per_user_per_hour {
            findings.push(Finding::OtpFloodUser { user: user.to_owned(), codes });
        }
        if sms {
            let codes = w.sms_per_address.entry(address).or_default().add(now, HOUR);
            if codes == t.sms_per_address_per_hour {
                findings.push(Finding::OtpFloodAddress { address, codes });
            }
        }
        findings
    }
}

/// What one host can hold: an IPv4 address, or the /64 of an IPv6 one.
/// The host behind an address: itself for IPv4, its /64 for IPv6 (one host holds a whole
/// /64 and could rotate through it).
pub fn host_network(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(_) => address,
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
    }
}

/// The network an address belongs to for "never seen" checks: its /24 (IPv4) or /48 (IPv6).
pub fn network_of(address: IpAddr) -> String {
    match address {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            format!("{a}.{b}.{c}.0/24")
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detector() -> Detector {
        Detector::new(DetectionThresholds {
            spraying_accounts: 3,
            stuffing_accounts: 4,
            stuffing_addresses: 2,
            otp_per_user_per_hour: 3,
            sms_per_address_per_hour: 2,
            ..Default::default()
        })
    }

    #[test]
    fn spraying_from_one_address_is_reported_once_per_window() {
        let d = detector();
        let attacker: IpAddr = "203.0.113.5".parse().unwrap();
        assert!(d.password_failure("a@x", attacker, 0).is_empty());
        assert!(d.password_failure("a@x", attacker, 1).is_empty(), "the same account twice is one account");
        assert!(d.password_failure("b@x", attacker, 2).is_empty());
        assert_eq!(d.password_failure("c@x", attacker, 3), [Finding::Spraying { address: attacker, accounts: 3 }]);
        assert!(d.password_failure("d@x", attacker, 4).iter().all(|f| !matches!(f, Finding::Spraying { .. })), "once per window");
        assert_eq!(d.password_failure("e@x", attacker, 700).len(), 0, "a new window starts counting again");
    }

    #[test]
    fn stuffing_needs_many_accounts_and_many_addresses() {
        let d = detector();
        let (one, two): (IpAddr, IpAddr) = ("198.51.100.1".parse().unwrap(), "198.51.100.2".parse().unwrap());
        for (i, account) in ["a", "b", "c"].iter().enumerate() {
            assert!(d.password_failure(account, one, i as i64).iter().all(|f| !matches!(f, Finding::Stuffing { .. })));
        }
        let found = d.password_failure("d", two, 5);
        assert!(found.contains(&Finding::Stuffing { accounts: 4, addresses: 2 }), "{found:?}");
    }

    #[test]
    fn code_flooding_is_reported_per_user_and_per_address() {
        let d = detector();
        let address: IpAddr = "192.0.2.1".parse().unwrap();
        assert!(d.code_requested("u1", address, true, 0).is_empty());
        assert_eq!(d.code_requested("u2", address, true, 1), [Finding::OtpFloodAddress { address, codes: 2 }]);
        d.code_requested("u1", address, false, 2);
        assert!(d.code_requested("u1", address, false, 3).contains(&Finding::OtpFloodUser { user: "u1".into(), codes: 3 }));
    }

    #[test]
    fn an_ipv6_host_rotating_through_its_64_is_one_sprayer() {
        let d = detector();
        let mut found = Vec::new();
        for (i, account) in ["a", "b", "c"].iter().enumerate() {
            let address: IpAddr = format!("2001:db8:0:1::{}", i + 1).parse().unwrap();
            found.extend(d.password_failure(account, address, 0));
        }
        assert!(matches!(found.as_slice(), [Finding::Spraying { accounts: 3, .. }]), "{found:?}");
    }

    #[test]
    fn networks_are_slash_24_and_slash_48() {
        assert_eq!(network_of("192.0.2.77".parse().unwrap()), "192.0.2.0/24");
        assert_eq!(network_of("2001:db8:1:2::5".parse().unwrap()), "2001:db8:1::/48");
    }
}
