//! [`Cidr`]: a network block of a tenant's trusted networks, parsed once from configuration.
//!
//! Std only: the engine needs parsing and containment, nothing an address-management crate adds.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

pub use crate::error::CidrError;
use crate::error::PolicyError;

/// An IPv4 or IPv6 network: `203.0.113.0/24`, `2001:db8::/32`, or a bare address (`/32` or
/// `/128`).
///
/// Host bits are accepted and cleared (`203.0.113.7/24` is stored and shown as
/// `203.0.113.0/24`): an admin writing an address inside the network means the network, and
/// refusing the file for it would only get in the way. IPv4-mapped IPv6 blocks
/// (`::ffff:203.0.113.0/120`) are stored as IPv4, and [`Cidr::contains`] compares an IPv4-mapped
/// address as IPv4, because a dual-stack listener reports IPv4 peers that way.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn parse(input: &str) -> Result<Self, CidrError> {
        let (address, prefix) = match input.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (input, None),
        };
        let address: IpAddr = address.parse().map_err(|_| CidrError::InvalidAddress)?;
        let max = if address.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            // `u8::from_str` accepts a leading '+'; a prefix is digits only.
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => p.parse::<u8>().map_err(|_| CidrError::PrefixTooLong { max })?,
            Some(_) => return Err(CidrError::InvalidPrefix),
        };
        if prefix > max {
            return Err(CidrError::PrefixTooLong { max });
        }
        Ok(Self::normalised(address, prefix))
    }

    /// The network address (host bits cleared).
    pub fn network(&self) -> IpAddr {
        self.network
    }

    pub fn prefix_len(&self) -> u8 {
        self.prefix
    }

    pub fn contains(&self, address: IpAddr) -> bool {
        match (self.network, unmap(address)) {
            (IpAddr::V4(net), IpAddr::V4(a)) => u32::from(a) & v4_mask(self.prefix) == u32::from(net),
            (IpAddr::V6(net), IpAddr::V6(a)) => u128::from(a) & v6_mask(self.prefix) == u128::from(net),
            _ => false,
        }
    }

    fn normalised(address: IpAddr, prefix: u8) -> Self {
        match address {
            IpAddr::V4(a) => Self::v4(a, prefix),
            IpAddr::V6(a) => match a.to_ipv4_mapped() {
                Some(v4) if prefix >= 96 => Self::v4(v4, prefix - 96),
                _ => Self { network: IpAddr::V6(Ipv6Addr::from(u128::from(a) & v6_mask(prefix))), prefix },
            },
        }
    }

    fn v4(address: Ipv4Addr, prefix: u8) -> Self {
        Self { network: IpAddr::V4(Ipv4Addr::from(u32::from(address) & v4_mask(prefix))), prefix }
    }
}

fn unmap(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(a) => a.to_ipv4_mapped().map_or(address, IpAddr::V4),
        IpAddr::V4(_) => address,
    }
}

fn v4_mask(prefix: u8) -> u32 {
    // A shift by the full width is not defined; /0 masks nothing.
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

fn v6_mask(prefix: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0)
}

impl FromStr for Cidr {
    type Err = CidrError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

impl fmt::Debug for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cidr({self})")
    }
}

impl Serialize for Cidr {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Cidr {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CidrText;
        impl Visitor<'_> for CidrText {
            type Value = Cidr;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a network such as \"203.0.113.0/24\" or \"2001:db8::/32\"")
            }
            fn visit_str<E: de::Error>(self, value: &str) -> Result<Cidr, E> {
                Cidr::parse(value).map_err(|error| E::custom(PolicyError::InvalidCidr { input: value.to_owned(), error }))
            }
        }
        deserializer.deserialize_str(CidrText)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn parses_ipv4_ipv6_and_bare_addresses() {
        assert_eq!(Cidr::parse("203.0.113.0/24").unwrap().to_string(), "203.0.113.0/24");
        assert_eq!(Cidr::parse("2001:db8::/32").unwrap().to_string(), "2001:db8::/32");
        assert_eq!(Cidr::parse("198.51.100.7").unwrap().to_string(), "198.51.100.7/32");
        assert_eq!(Cidr::parse("2001:db8::1").unwrap().to_string(), "2001:db8::1/128");
        assert_eq!(Cidr::parse("0.0.0.0/0").unwrap().prefix_len(), 0);
    }

    #[test]
    fn host_bits_are_cleared() {
        let cidr = Cidr::parse("203.0.113.77/24").unwrap();
        assert_eq!(cidr.network(), ip("203.0.113.0"));
        assert_eq!(cidr, Cidr::parse("203.0.113.0/24").unwrap());
        assert_eq!(Cidr::parse("2001:db8:ffff::1/32").unwrap().to_string(), "2001:db8::/32");
    }

    #[test]
    fn rejects_malformed_networks() {
        assert_eq!(Cidr::parse(""), Err(CidrError::InvalidAddress));
        assert_eq!(Cidr::parse("203.0.113/24"), Err(CidrError::InvalidAddress));
        assert_eq!(Cidr::parse("example.com/24"), Err(CidrError::InvalidAddress));
        assert_eq!(Cidr::parse("203.0.113.0/"), Err(CidrError::InvalidPrefix));
        assert_eq!(Cidr::parse("203.0.113.0/+8"), Err(CidrError::InvalidPrefix));
        assert_eq!(Cidr::parse("203.0.113.0/-1"), Err(CidrError::InvalidPrefix));
        assert_eq!(Cidr::parse("203.0.113.0/24/8"), Err(CidrError::InvalidPrefix));
        assert_eq!(Cidr::parse("203.0.113.0/33"), Err(CidrError::PrefixTooLong { max: 32 }));
        assert_eq!(Cidr::parse("203.0.113.0/999"), Err(CidrError::PrefixTooLong { max: 32 }));
        assert_eq!(Cidr::parse("2001:db8::/129"), Err(CidrError::PrefixTooLong { max: 128 }));
    }

    #[test]
    fn containment_ipv4() {
        let office = Cidr::parse("203.0.113.0/24").unwrap();
        assert!(office.contains(ip("203.0.113.0")));
        assert!(office.contains(ip("203.0.113.255")));
        assert!(!office.contains(ip("203.0.114.0")));
        assert!(!office.contains(ip("2001:db8::1")), "families never match");
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains(ip("192.0.2.1")));
        let host = Cidr::parse("127.0.0.9").unwrap();
        assert!(host.contains(ip("127.0.0.9")) && !host.contains(ip("127.0.0.8")));
        let loopback = Cidr::parse("127.0.0.0/29").unwrap();
        assert!(loopback.contains(ip("127.0.0.7")) && !loopback.contains(ip("127.0.0.9")));
    }

    #[test]
    fn containment_ipv6() {
        let net = Cidr::parse("2001:db8::/32").unwrap();
        assert!(net.contains(ip("2001:db8:1234::1")));
        assert!(!net.contains(ip("2001:db9::1")));
        assert!(!net.contains(ip("203.0.113.1")));
        assert!(Cidr::parse("::/0").unwrap().contains(ip("2001:db8::1")));
    }

    #[test]
    fn ipv4_mapped_addresses_compare_as_ipv4() {
        let office = Cidr::parse("203.0.113.0/24").unwrap();
        assert!(office.contains(ip("::ffff:203.0.113.9")));
        assert!(!office.contains(ip("::ffff:198.51.100.9")));
        let mapped = Cidr::parse("::ffff:203.0.113.0/120").unwrap();
        assert_eq!(mapped, office);
        assert!(mapped.contains(ip("203.0.113.200")));
    }

    #[test]
    fn serde_as_string_with_clear_errors() {
        let cidr: Cidr = serde_json::from_str(r#""2001:db8::/32""#).unwrap();
        assert_eq!(serde_json::to_string(&cidr).unwrap(), r#""2001:db8::/32""#);
        let err = serde_json::from_str::<Cidr>(r#""10.0.0.0/40""#).unwrap_err();
        assert!(err.to_string().contains("invalid network \"10.0.0.0/40\""), "{err}");
        assert!(err.to_string().contains("longer than 32 bits"), "{err}");
    }
}
