//! Values the engine's tests share.

use std::net::IpAddr;

use crate::risk::{DeviceSignal, RiskSignals};

pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// A returning user at a known address on a known device that has not done 2FA lately:
/// low risk only inside a trusted network, Elevated for one reason elsewhere, so each test
/// changes one thing.
pub fn signals(address: &str) -> RiskSignals {
    RiskSignals {
        address: ip(address),
        device: DeviceSignal::Known { last_second_factor_at: None },
        address_seen_before: true,
        failures_for_user: 0,
        failures_for_address: 0,
        reported_device: false,
        reported_address: false,
        new_country: false,
        location: None,
        previous: None,
    }
}
