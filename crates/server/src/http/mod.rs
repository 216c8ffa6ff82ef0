//! The HTTP edge: routes, extractors and cross-cutting middleware.

mod account_api;
pub(crate) mod admin_api;
mod admin_directory;
mod admin_identities;
mod api_body;
mod api_caller;
pub(crate) mod authorize;
mod client_auth;
pub(crate) mod cookies;
pub mod demo;
mod enroll;
mod enroll_sms;
mod federated;
pub mod flow;
mod introspect;
mod login;
mod logout;
mod meta;
mod monitoring_api;
mod passkey_login;
pub(crate) mod password_change;
mod problem;
pub(crate) mod rejections;
pub(crate) mod respond;
pub(crate) mod routes;
mod saml;
mod saml_unsolicited;
mod second_factor;
pub(crate) mod security;
pub(crate) mod token;
mod userinfo;
mod webauthn_step;

use axum::extract::FromRequestParts;
use axum::extract::connect_info::ConnectInfo;
use axum::http::request::Parts;
use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use crate::state::AppState;

/// The client's address: the TCP peer, or, when the peer is a configured trusted proxy, the
/// address `X-Forwarded-For` names (see [`client_address`]).
pub struct ClientAddr(pub IpAddr);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = Infallible;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip()).unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        let forwarded = parts.headers.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok());
        Ok(Self(client_address(peer, forwarded, &state.config.trusted_proxies)))
    }
}

/// Walks `X-Forwarded-For` from the right (the hop nearest to us) past trusted proxies: the
/// first address not a trusted proxy is the client. Only a trusted peer's header counts, so
/// nobody can claim an office address by sending the header themselves; an unparsable entry
/// stops the walk at the last address known good.
pub fn client_address<'a>(peer: IpAddr, forwarded: impl Iterator<Item = &'a str>, trusted: &[gatehouse_policy::Cidr]) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let hops: Vec<&str> = forwarded.flat_map(|v| v.split(',')).map(str::trim).filter(|h| !h.is_empty()).collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        let Ok(ip) = hop.parse::<IpAddr>() else { break };
        client = ip;
        if !is_trusted(ip) {
            break;
        }
    }
    client
}

/// The `User-Agent` header, at most `MAX_USER_AGENT_CHARS` characters (it is
/// attacker-controlled); empty if absent.
pub(crate) fn user_agent(headers: &axum::http::HeaderMap) -> String {
    let raw = headers.get(axum::http::header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or_default();
    raw.chars().take(gatehouse_signin::attempt::MAX_USER_AGENT_CHARS).collect()
}

/// The request's one `Authorization` header, if any. The field is single-valued (RFC 9110
/// §11.6.2): a request with two is refused (`Err`), so a proxy reading the other one cannot
/// disagree with us about who is calling.
pub(crate) fn authorization(headers: &axum::http::HeaderMap) -> Result<Option<&axum::http::HeaderValue>, TwoAuthorizations> {
    let mut values = headers.get_all(axum::http::header::AUTHORIZATION).iter();
    let first = values.next();
    if values.next().is_some() { Err(TwoAuthorizations) } else { Ok(first) }
}

/// A request carried more than one `Authorization` header.
#[derive(Debug)]
pub(crate) struct TwoAuthorizations;

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_for_counts_only_from_trusted_proxies() {
        let trusted = vec![gatehouse_policy::Cidr::parse("10.0.0.0/8").unwrap()];
        let peer = ip("10.0.0.5");
        assert_eq!(client_address(ip("198.51.100.1"), ["203.0.113.9"].into_iter(), &trusted), ip("198.51.100.1"), "an untrusted peer's header is ignored");
        assert_eq!(client_address(peer, ["203.0.113.9"].into_iter(), &trusted), ip("203.0.113.9"));
        assert_eq!(client_address(peer, ["127.0.0.2, 203.0.113.9, 10.0.0.7"].into_iter(), &trusted), ip("203.0.113.9"), "spoofed left entries are skipped");
        assert_eq!(client_address(peer, ["203.0.113.9", "10.1.1.1"].into_iter(), &trusted), ip("203.0.113.9"), "several headers are one list");
        assert_eq!(client_address(peer, ["garbage, 203.0.113.9"].into_iter(), &trusted), ip("203.0.113.9"));
        assert_eq!(client_address(peer, ["203.0.113.9, garbage"].into_iter(), &trusted), peer, "an unparsable nearest hop stops at the peer");
        assert_eq!(client_address(peer, std::iter::empty(), &trusted), peer);
        assert_eq!(client_address(peer, ["203.0.113.9"].into_iter(), &[]), peer, "no trusted proxies configured");
    }
}
