//! Upstream URLs an admin typed (a provider set up through the admin API) are untrusted input:
//! Gatehouse reaches them only on public addresses, unless the operator allows private networks
//! (`[federation] allow_private_networks`). A name is checked as it resolves, on every
//! connection (so a name that changes its answer between the check and the fetch is caught
//! too); a literal address, which no resolver sees, is checked before the request.

use gatehouse_core::federation::is_public_address;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use url::Url;

use crate::UpstreamError;

/// A resolver that answers with public addresses only.
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let public: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.filter(|a| is_public_address(a.ip())).collect();
            if public.is_empty() {
                return Err(format!("`{host}` resolves to no public address").into());
            }
            Ok(Box::new(public.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The client for admin-typed URLs: bounded as every upstream call, public addresses only.
pub fn public_only_client(timeout: Duration) -> Result<reqwest::Client, UpstreamError> {
    // No proxy (reqwest reads HTTP(S)_PROXY from the environment): through one, the proxy
    // would resolve the admin's name, and its private network would be reachable.
    crate::fetch::builder(timeout).no_proxy().dns_resolver(Arc::new(PublicOnly)).build().map_err(|e| UpstreamError::Unreachable(e.to_string()))
}

/// Whether the URL's host, when it is a literal address, is public (a name is the resolver's).
pub fn literal_host_is_public(url: &str) -> bool {
    match Url::parse(url).ok().and_then(|u| u.host().map(|h| h.to_owned())) {
        Some(url::Host::Ipv4(ip)) => is_public_address(ip.into()),
        Some(url::Host::Ipv6(ip)) => is_public_address(ip.into()),
        Some(url::Host::Domain(_)) => true,
        None => false,
    }
}

/// Checks, for the admin saving it, that a URL reaches a public address: a literal one, or a
/// name that resolves to at least one. The message says what to do otherwise.
pub async fn check_public(url: &str) -> Result<(), UpstreamError> {
    let refused = |what: String| {
        UpstreamError::Refused(format!(
            "{what}: Gatehouse reaches a provider set up through the API only on public addresses (the operator can allow private networks with [federation] allow_private_networks)"
        ))
    };
    let parsed = Url::parse(url).map_err(|_| UpstreamError::Invalid("URL"))?;
    match parsed.host() {
        Some(url::Host::Domain(name)) => {
            let port = parsed.port_or_known_default().unwrap_or(443);
            let addresses: Vec<SocketAddr> =
                tokio::net::lookup_host((name, port)).await.map_err(|_| UpstreamError::Unreachable(format!("`{name}` does not resolve")))?.collect();
            if addresses.iter().any(|a| is_public_address(a.ip())) {
                Ok(())
            } else {
                Err(refused(format!("`{name}` resolves only to private, loopback or link-local addresses")))
            }
        }
        Some(_) if literal_host_is_public(url) => Ok(()),
        Some(host) => Err(refused(format!("`{host}` is a private, loopback or link-local address"))),
        None => Err(UpstreamError::Invalid("URL")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn private_literals_and_names_resolving_to_loopback_are_refused() {
        for url in [
            "https://127.0.0.1/x",
            "https://10.0.0.7/",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/",
            "https://[::ffff:192.168.0.1]/",
            "https://localhost/",
        ] {
            assert!(matches!(check_public(url).await, Err(UpstreamError::Refused(_))), "{url}");
        }
        assert!(literal_host_is_public("https://93.184.215.14/") && !literal_host_is_public("https://127.0.0.1/"));
        assert!(literal_host_is_public("https://login.example/"), "a name is the resolver's to judge");
    }

    #[tokio::test]
    async fn the_public_only_client_cannot_reach_loopback_by_name() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let client = public_only_client(Duration::from_secs(2)).unwrap();
        let error = client.get(format!("http://localhost:{port}/")).send().await.unwrap_err();
        assert!(error.is_connect() || error.is_request(), "{error}");
    }
}
