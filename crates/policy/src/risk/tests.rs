use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use super::*;
use crate::cidr::Cidr;
use crate::geo::cities::{ESPOO, HELSINKI, NEW_YORK};

use crate::testing::signals;

const NOW: OffsetDateTime = datetime!(2026-03-02 09:00 UTC);

fn office_domain() -> DomainPolicy {
    DomainPolicy {
        trusted_networks: vec![Cidr::parse("203.0.113.0/24").unwrap(), Cidr::parse("2001:db8:ac::/48").unwrap()],
        remember_device_days: 30,
        ..DomainPolicy::default()
    }
}

fn level(signals: &RiskSignals, domain: &DomainPolicy) -> RiskLevel {
    assess(signals, domain, &RiskConfig::default(), NOW).level
}

fn codes(signals: &RiskSignals, domain: &DomainPolicy) -> Vec<&'static str> {
    assess(signals, domain, &RiskConfig::default(), NOW).reasons.codes().collect()
}

#[test]
fn trusted_network_ipv4_is_low_risk() {
    let domain = office_domain();
    assert_eq!(level(&signals("203.0.113.7"), &domain), RiskLevel::Low);
    assert_eq!(level(&signals("::ffff:203.0.113.7"), &domain), RiskLevel::Low, "dual-stack peers are IPv4");
    assert_eq!(level(&signals("198.51.100.7"), &domain), RiskLevel::Elevated, "the coffee shop");
    assert_eq!(codes(&signals("203.0.113.7"), &domain), ["trusted_network", "device_not_remembered"]);
}

#[test]
fn trusted_network_ipv6_is_low_risk() {
    let domain = office_domain();
    assert_eq!(level(&signals("2001:db8:ac:1::42"), &domain), RiskLevel::Low);
    assert_eq!(level(&signals("2001:db8:ad::42"), &domain), RiskLevel::Elevated);
}

#[test]
fn no_trusted_networks_means_no_trusted_address() {
    assert_eq!(level(&signals("203.0.113.7"), &DomainPolicy::default()), RiskLevel::Elevated);
}

#[test]
fn device_remembered_inside_remember_device_days_is_low_risk() {
    let domain = office_domain();
    let device = |at: OffsetDateTime| RiskSignals { device: DeviceSignal::Known { last_second_factor_at: Some(at) }, ..signals("198.51.100.7") };
    assert_eq!(level(&device(NOW - Duration::days(29)), &domain), RiskLevel::Low);
    assert_eq!(level(&device(NOW - Duration::days(30)), &domain), RiskLevel::Low, "the last day still counts");
    assert_eq!(codes(&device(NOW - Duration::days(1)), &domain), ["remembered_device"]);
    assert_eq!(level(&device(NOW - Duration::days(30) - Duration::seconds(1)), &domain), RiskLevel::Elevated);
    assert_eq!(codes(&device(NOW - Duration::days(31)), &domain), ["device_not_remembered"]);
    let short = DomainPolicy { remember_device_days: 7, ..office_domain() };
    assert_eq!(level(&device(NOW - Duration::days(8)), &short), RiskLevel::Elevated);
}

#[test]
fn remember_device_days_zero_never_remembers() {
    let never = DomainPolicy { remember_device_days: 0, ..office_domain() };
    let just_now = RiskSignals { device: DeviceSignal::Known { last_second_factor_at: Some(NOW) }, ..signals("198.51.100.7") };
    let assessment = assess(&just_now, &never, &RiskConfig::default(), NOW);
    assert_eq!(assessment.level, RiskLevel::Elevated);
    assert!(assessment.reasons.contains(&Reason::DeviceNotRemembered { days: 0 }));
}

#[test]
fn unknown_device_new_address_and_new_country_explain_elevated() {
    let stranger = RiskSignals { device: DeviceSignal::Unknown, address_seen_before: false, new_country: true, ..signals("198.51.100.7") };
    assert_eq!(level(&stranger, &office_domain()), RiskLevel::Elevated);
    assert_eq!(codes(&stranger, &office_domain()), ["unknown_device", "new_address", "new_country"]);
}

#[test]
fn each_high_signal_is_high_even_on_a_trusted_network() {
    let office = signals("203.0.113.7");
    let cases: [(RiskSignals, &str); 6] = [
        (RiskSignals { reported_device: true, ..office }, "reported_device"),
        (RiskSignals { reported_address: true, ..office }, "reported_address"),
        (RiskSignals { failures_for_user: 5, ..office }, "failures_for_user"),
        (RiskSignals { failures_for_user: 50, ..office }, "failures_for_user"),
        (RiskSignals { failures_for_address: 20, ..office }, "failures_for_address"),
        (
            RiskSignals { location: Some(NEW_YORK), previous: Some(PreviousSignIn { at: NOW - Duration::hours(1), location: Some(HELSINKI) }), ..office },
            "impossible_travel",
        ),
    ];
    for (signals, code) in cases {
        let assessment = assess(&signals, &office_domain(), &RiskConfig::default(), NOW);
        assert_eq!(assessment.level, RiskLevel::High, "{code}");
        assert_eq!(assessment.reasons.codes().next(), Some(code), "the deciding signal comes first");
        assert!(assessment.reasons.contains(&Reason::TrustedNetwork), "overridden signals are still listed");
    }
}

#[test]
fn failures_below_the_thresholds_are_not_high() {
    let below = RiskSignals { failures_for_user: 4, failures_for_address: 19, ..signals("203.0.113.7") };
    assert_eq!(level(&below, &office_domain()), RiskLevel::Low);
}

#[test]
fn thresholds_are_configurable_and_zero_disables() {
    let strict = RiskConfig { failures_for_user_high: 2, ..RiskConfig::default() };
    let two = RiskSignals { failures_for_user: 2, ..signals("203.0.113.7") };
    assert_eq!(assess(&two, &office_domain(), &strict, NOW).level, RiskLevel::High);
    let off = RiskConfig { failures_for_user_high: 0, failures_for_address_high: 0, ..RiskConfig::default() };
    let many = RiskSignals { failures_for_user: 1000, failures_for_address: 1000, ..signals("203.0.113.7") };
    assert_eq!(assess(&many, &office_domain(), &off, NOW).level, RiskLevel::Low);
}

fn travel(from: crate::geo::GeoPoint, to: crate::geo::GeoPoint, hours_ago: i64) -> RiskSignals {
    RiskSignals { location: Some(to), previous: Some(PreviousSignIn { at: NOW - Duration::hours(hours_ago), location: Some(from) }), ..signals("198.51.100.7") }
}

#[test]
fn helsinki_to_new_york_in_one_hour_is_impossible() {
    let assessment = assess(&travel(HELSINKI, NEW_YORK, 1), &office_domain(), &RiskConfig::default(), NOW);
    assert_eq!(assessment.level, RiskLevel::High);
    let Some(Reason::ImpossibleTravel { km, km_per_hour }) = assessment.reasons.iter().next() else { panic!("{assessment:?}") };
    assert!((6_560..6_680).contains(&km), "{km}");
    assert_eq!(km, km_per_hour, "one hour");
}

#[test]
fn helsinki_to_new_york_in_ten_hours_is_possible() {
    assert_eq!(level(&travel(HELSINKI, NEW_YORK, 10), &office_domain()), RiskLevel::Elevated);
    assert!(!codes(&travel(HELSINKI, NEW_YORK, 10), &office_domain()).contains(&"impossible_travel"));
}

#[test]
fn short_hops_are_never_impossible_travel() {
    // Helsinki to Espoo (~20 km) within a minute: GeoIP noise, not travel.
    let hop = RiskSignals {
        location: Some(ESPOO),
        previous: Some(PreviousSignIn { at: NOW - Duration::minutes(1), location: Some(HELSINKI) }),
        ..signals("198.51.100.7")
    };
    assert_eq!(level(&hop, &office_domain()), RiskLevel::Elevated);
}

#[test]
fn travel_needs_both_locations_and_no_time_over_distance_is_impossible() {
    let no_previous_location = RiskSignals { location: Some(NEW_YORK), previous: Some(PreviousSignIn { at: NOW, location: None }), ..signals("198.51.100.7") };
    assert_eq!(level(&no_previous_location, &office_domain()), RiskLevel::Elevated);
    let no_location = RiskSignals { location: None, ..travel(HELSINKI, NEW_YORK, 1) };
    assert_eq!(level(&no_location, &office_domain()), RiskLevel::Elevated);
    assert_eq!(level(&travel(HELSINKI, NEW_YORK, 0), &office_domain()), RiskLevel::High);
    assert_eq!(level(&travel(HELSINKI, NEW_YORK, -2), &office_domain()), RiskLevel::High, "a previous sign-in in the future");
}

#[test]
fn config_defaults_are_documented_values_and_deserialise() {
    let config: RiskConfig = serde_json::from_str("{}").unwrap();
    assert_eq!(config, RiskConfig::default());
    assert_eq!((config.failures_for_user_high, config.failures_for_address_high), (5, 20));
    assert_eq!((config.impossible_travel_km_per_hour, config.impossible_travel_min_km), (1000.0, 500.0));
    assert!(serde_json::from_str::<RiskConfig>(r#"{ "failures": 3 }"#).is_err());
}
