//! Sign-in risk: signals the server gathered (peer address, device cookie, history, failure
//! counters, GeoIP) judged against the domain's trusted networks and remembered-device window.
//!
//! Risk changes an outcome only under the Adaptive rule, but it is assessed for every sign-in so
//! each recorded decision explains itself. Gathering the signals is not this module's business.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::domain::DomainPolicy;
use crate::geo::GeoPoint;
use crate::reason::{Reason, Reasons};

/// What the server knows about one sign-in attempt.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RiskSignals {
    /// The client address: the TCP peer, or `X-Forwarded-For` from a trusted proxy.
    pub address: IpAddr,
    pub device: DeviceSignal,
    /// Whether this user signed in from this address before.
    pub address_seen_before: bool,
    /// Recent failed sign-ins for the user, and from the address (any user).
    pub failures_for_user: u32,
    pub failures_for_address: u32,
    /// The device or address was reported (lost device, abuse report, block list).
    pub reported_device: bool,
    pub reported_address: bool,
    /// The address's country is one this user has not signed in from.
    pub new_country: bool,
    /// Where the address is, when a GeoIP database answered.
    pub location: Option<GeoPoint>,
    pub previous: Option<PreviousSignIn>,
}

/// The long-lived, signed device cookie, if the browser presented a valid one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceSignal {
    Unknown,
    Known { last_second_factor_at: Option<OffsetDateTime> },
}

/// The user's previous successful sign-in, for the impossible-travel signal.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PreviousSignIn {
    pub at: OffsetDateTime,
    pub location: Option<GeoPoint>,
}

/// Thresholds for the high-risk signals. A failure threshold of 0 disables that signal (rather
/// than making every sign-in high risk).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RiskConfig {
    /// Failed sign-ins for the user at which risk is high. Default 5.
    pub failures_for_user_high: u32,
    /// Failed sign-ins from the address at which risk is high. Default 20 (offices share NATs).
    pub failures_for_address_high: u32,
    /// Travel faster than this between two sign-ins is impossible. Default 1000 km/h, above
    /// an airliner's cruising speed.
    pub impossible_travel_km_per_hour: f64,
    /// ...but only beyond this distance, since GeoIP of neighbouring cities is often hundreds of
    /// kilometres off. Default 500 km.
    pub impossible_travel_min_km: f64,
}

impl Default for RiskConfig {
    fn default() -> Self {
        Self { failures_for_user_high: 5, failures_for_address_high: 20, impossible_travel_km_per_hour: 1000.0, impossible_travel_min_km: 500.0 }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RiskLevel {
    Low,
    Elevated,
    High,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RiskAssessment<'a> {
    pub level: RiskLevel,
    /// Every signal that fired; those that set the level come first.
    pub reasons: Reasons<'a>,
}

/// Judges a sign-in's risk.
///
/// High when any high signal fires (a reported device or address, impossible travel, a failure
/// threshold). Otherwise Low when the address is in a trusted network of the domain or the
/// device completed a second factor within `remember_device_days`; otherwise Elevated. The
/// other signals (new address, new country, an unknown or not-remembered device) explain an
/// Elevated level and are listed whatever the level, so the record is complete.
pub fn assess<'a>(signals: &RiskSignals, domain: &DomainPolicy, config: &RiskConfig, now: OffsetDateTime) -> RiskAssessment<'a> {
    let mut high = Reasons::new();
    if signals.reported_device {
        high.push(Reason::ReportedDevice);
    }
    if signals.reported_address {
        high.push(Reason::ReportedAddress);
    }
    if exceeds(signals.failures_for_user, config.failures_for_user_high) {
        high.push(Reason::FailuresForUser { count: signals.failures_for_user });
    }
    if exceeds(signals.failures_for_address, config.failures_for_address_high) {
        high.push(Reason::FailuresForAddress { count: signals.failures_for_address });
    }
    if let Some(reason) = impossible_travel(signals, config, now) {
        high.push(reason);
    }

    let mut low = Reasons::new();
    if domain.trusted_networks.iter().any(|net| net.contains(signals.address)) {
        low.push(Reason::TrustedNetwork);
    }

    let mut elevated = Reasons::new();
    let days = domain.remember_device_days;
    match signals.device {
        DeviceSignal::Unknown => elevated.push(Reason::UnknownDevice),
        DeviceSignal::Known { last_second_factor_at } => {
            let window = Duration::days(i64::from(days));
            match last_second_factor_at {
                // A timestamp after `now` (clock skew between nodes) counts as just now.
                Some(at) if days > 0 && now - at <= window => low.push(Reason::RememberedDevice { days }),
                _ => elevated.push(Reason::DeviceNotRemembered { days }),
            }
        }
    }
    if !signals.address_seen_before {
        elevated.push(Reason::NewAddress);
    }
    if signals.new_country {
        elevated.push(Reason::NewCountry);
    }

    let (level, reasons) = if !high.is_empty() {
        (RiskLevel::High, [high, low, elevated])
    } else if !low.is_empty() {
        (RiskLevel::Low, [low, high, elevated])
    } else {
        (RiskLevel::Elevated, [elevated, high, low])
    };
    let mut all = Reasons::new();
    for part in &reasons {
        all.extend(part);
    }
    RiskAssessment { level, reasons: all }
}

fn exceeds(count: u32, threshold: u32) -> bool {
    threshold > 0 && count >= threshold
}

/// Two sign-ins further apart than a plane could fly in the time between them.
fn impossible_travel(signals: &RiskSignals, config: &RiskConfig, now: OffsetDateTime) -> Option<Reason<'static>> {
    let here = signals.location?;
    let previous = signals.previous?;
    let there = previous.location?;
    let km = here.distance_km(there);
    if km <= config.impossible_travel_min_km {
        return None;
    }
    let hours = (now - previous.at).as_seconds_f64() / 3600.0;
    // No time at all (or a previous sign-in "in the future") over that distance is impossible.
    let km_per_hour = if hours > 0.0 { km / hours } else { f64::INFINITY };
    if km_per_hour <= config.impossible_travel_km_per_hour {
        return None;
    }
    // `as` saturates (and maps NaN to 0): the figures are for reading, not for arithmetic.
    Some(Reason::ImpossibleTravel { km: km.round() as u32, km_per_hour: km_per_hour.round() as u32 })
}

#[cfg(test)]
mod tests;
