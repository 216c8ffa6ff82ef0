//! The upstream client: metadata and keys cached per issuer, the authorization request, the
//! code exchange. Every call is bounded (`fetch`).

use gatehouse_core::federation::{IdentityProvider, OidcUpstream};
use gatehouse_crypto::{ForeignKeySet, JwsRejection};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use url::Url;
use zeroize::Zeroizing;

use super::id_token::{self, Expected, IdTokenClaims, Rejection};
use super::{Metadata, UpstreamError, userinfo};
use crate::fetch;

/// How long discovery documents and keys are reused before being fetched again.
const CACHE_FOR: Duration = Duration::from_secs(3600);
/// An unknown `kid` fetches the keys again at most this often per issuer (a stream of forged
/// tokens cannot make Gatehouse hammer the provider).
const REFETCH_AT_MOST_EVERY: Duration = Duration::from_secs(30);
/// Clock skew tolerated on an upstream ID token's `exp` and `iat`.
pub const SKEW_SECONDS: i64 = 60;

#[derive(Clone)]
struct Cached {
    metadata: Arc<Metadata>,
    keys: Arc<ForeignKeySet>,
    fetched: Instant,
    keys_fetched: Instant,
}

/// What Gatehouse asks of the upstream besides a sign-in.
#[derive(Clone, Debug, Default)]
pub struct AuthorizationAsk<'a> {
    pub login_hint: Option<&'a str>,
    /// `acr_values` asking for multi-factor authentication (a step-up).
    pub acr_values: Option<String>,
    /// `prompt=login`: authenticate again even with a session at the provider.
    pub prompt_login: bool,
    pub max_age: Option<u64>,
}

/// A started upstream sign-in: where to send the browser, and what the callback must match.
pub struct Started {
    pub url: String,
    pub nonce: String,
    pub code_verifier: Zeroizing<String>,
}

/// A trip coming back: what its callback carried and what its start parked.
#[derive(Clone, Copy, Debug)]
pub struct Trip<'a> {
    pub redirect_uri: &'a str,
    pub code: &'a str,
    pub code_verifier: &'a str,
    pub nonce: &'a str,
    /// A step-up asked for a fresh authentication when it started (unix seconds).
    pub authenticated_since: Option<i64>,
}

/// The upstream providers' metadata and keys, shared by every sign-in.
pub struct Upstreams {
    http: reqwest::Client,
    /// For providers set up through the admin API: public addresses only (`None` when the
    /// operator allows private networks).
    public_only: Option<reqwest::Client>,
    cache: RwLock<HashMap<String, Cached>>,
    /// An unknown `kid` fetches an issuer's keys again at most this often.
    refetch_every: Duration,
}

impl Upstreams {
    pub fn new(timeout: Duration) -> Result<Self, UpstreamError> {
        Ok(Self {
            http: fetch::client(timeout)?,
            public_only: Some(crate::guard::public_only_client(timeout)?),
            cache: RwLock::new(HashMap::new()),
            refetch_every: REFETCH_AT_MOST_EVERY,
        })
    }

    /// Whether providers set up through the admin API may reach private networks (the
    /// operator's `[federation] allow_private_networks`; off by default).
    #[must_use]
    pub fn with_private_networks(mut self, allowed: bool) -> Self {
        if allowed {
            self.public_only = None;
        }
        self
    }

    /// The client for `provider`'s calls to `url`: an admin-typed provider's calls go to public
    /// addresses only (a literal address is checked here, a name by the client's resolver).
    fn client_for(&self, provider: &IdentityProvider, url: &str) -> Result<&reqwest::Client, UpstreamError> {
        match &self.public_only {
            Some(public_only) if provider.via_api => {
                if !crate::guard::literal_host_is_public(url) {
                    return Err(UpstreamError::Refused("the provider's URL is a private, loopback or link-local address".into()));
                }
                Ok(public_only)
            }
            _ => Ok(&self.http),
        }
    }

    /// How often an unknown `kid` may fetch an issuer's keys again (30 seconds by default).
    #[must_use]
    pub fn with_key_refetch_interval(mut self, every: Duration) -> Self {
        self.refetch_every = every;
        self
    }

    fn cached(&self, issuer: &str) -> Option<Cached> {
        self.cache.read().ok()?.get(issuer).cloned()
    }

    fn store(&self, issuer: &str, cached: Cached) {
        if let Ok(mut cache) = self.cache.write() {
            cache.insert(issuer.to_owned(), cached);
        }
    }

    async fn get(&self, provider: &IdentityProvider, what: &'static str, url: &str) -> Result<Vec<u8>, UpstreamError> {
        fetch::body(what, self.client_for(provider, url)?.get(url).header("accept", "application/json").send().await).await
    }

    async fn fetch_keys(&self, provider: &IdentityProvider, jwks_uri: &str) -> Result<ForeignKeySet, UpstreamError> {
        let document = self.get(provider, "JWKS", jwks_uri).await?;
        ForeignKeySet::from_jwks(&document).ok_or(UpstreamError::Invalid("JWKS"))
    }

    /// The issuer's metadata and keys, from the cache or fetched.
    async fn discover(&self, provider: &IdentityProvider, oidc: &OidcUpstream) -> Result<Cached, UpstreamError> {
        if let Some(cached) = self.cached(&oidc.issuer).filter(|c| c.fetched.elapsed() < CACHE_FOR) {
            return Ok(cached);
        }
        let document = self.get(provider, "discovery document", &Metadata::discovery_url(&oidc.issuer)).await?;
        let metadata = Metadata::parse(&document, &oidc.issuer)?;
        let keys = self.fetch_keys(provider, &metadata.jwks_uri).await?;
        let now = Instant::now();
        let cached = Cached { metadata: Arc::new(metadata), keys: Arc::new(keys), fetched: now, keys_fetched: now };
        self.store(&oidc.issuer, cached.clone());
        Ok(cached)
    }

    /// Fetches the provider's discovery document and keys afresh and checks them, without
    /// touching the cache (an admin saving a provider cannot evict another's entry).
    pub async fn check_discovery(&self, provider: &IdentityProvider) -> Result<(), UpstreamError> {
        let oidc = provider.oidc().ok_or(UpstreamError::Invalid("protocol"))?;
        let document = self.get(provider, "discovery document", &Metadata::discovery_url(&oidc.issuer)).await?;
        let metadata = Metadata::parse(&document, &oidc.issuer)?;
        self.fetch_keys(provider, &metadata.jwks_uri).await?;
        Ok(())
    }

    /// The provider's metadata (its end-session endpoint, for sign-out).
    pub async fn metadata(&self, provider: &IdentityProvider) -> Result<Arc<Metadata>, UpstreamError> {
        let oidc = provider.oidc().ok_or(UpstreamError::Invalid("protocol"))?;
        Ok(self.discover(provider, oidc).await?.metadata)
    }

    /// Starts a sign-in at the provider under the caller's `state` (which binds the callback
    /// to the browser's sign-in): a fresh `nonce` and PKCE S256 verifier.
    pub async fn begin(&self, provider: &IdentityProvider, redirect_uri: &str, state: &str, ask: &AuthorizationAsk<'_>) -> Result<Started, UpstreamError> {
        let oidc = provider.oidc().ok_or(UpstreamError::Invalid("protocol"))?;
        let cached = self.discover(provider, oidc).await?;
        let random = || gatehouse_crypto::random::token().map_err(|_| UpstreamError::Invalid("random source"));
        let (nonce, verifier) = (random()?, Zeroizing::new(random()?));
        let challenge = gatehouse_core::pkce::CodeChallenge::s256_of(&verifier);
        let mut url = Url::parse(&cached.metadata.authorization_endpoint).map_err(|_| UpstreamError::Invalid("authorization_endpoint"))?;
        let mut scope = String::from("openid");
        for s in &oidc.scopes {
            scope.push(' ');
            scope.push_str(s);
        }
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("response_type", "code")
                .append_pair("client_id", &oidc.client_id)
                .append_pair("redirect_uri", redirect_uri)
                .append_pair("scope", &scope)
                .append_pair("state", state)
                .append_pair("nonce", &nonce)
                .append_pair("code_challenge", challenge.as_str())
                .append_pair("code_challenge_method", "S256");
            if let Some(hint) = ask.login_hint {
                query.append_pair("login_hint", hint);
            }
            if let Some(acr) = &ask.acr_values {
                query.append_pair("acr_values", acr);
            }
            if ask.prompt_login {
                query.append_pair("prompt", "login");
            }
            if let Some(max_age) = ask.max_age {
                query.append_pair("max_age", &max_age.to_string());
            }
        }
        Ok(Started { url: url.into(), nonce, code_verifier: verifier })
    }

    /// Exchanges the code (client_secret_basic, with the PKCE verifier), checks the ID token
    /// (`trip` says what this trip asked for) and, when it carries no email, asks UserInfo.
    pub async fn finish(&self, provider: &IdentityProvider, client_secret: Option<&str>, trip: &Trip<'_>, now: i64) -> Result<IdTokenClaims, UpstreamError> {
        let Trip { redirect_uri, code, code_verifier, nonce, authenticated_since } = *trip;
        let oidc = provider.oidc().ok_or(UpstreamError::Invalid("protocol"))?;
        let secret = client_secret.ok_or(UpstreamError::NoSecret)?;
        let cached = self.discover(provider, oidc).await?;
        let form = [("grant_type", "authorization_code"), ("code", code), ("redirect_uri", redirect_uri), ("code_verifier", code_verifier)];
        // RFC 6749 §2.3.1: the id and secret are form-encoded before Basic encoding.
        let user: String = url::form_urlencoded::byte_serialize(oidc.client_id.as_bytes()).collect();
        let password: Zeroizing<String> = Zeroizing::new(url::form_urlencoded::byte_serialize(secret.as_bytes()).collect());
        let request = self
            .client_for(provider, &cached.metadata.token_endpoint)?
            .post(&cached.metadata.token_endpoint)
            .basic_auth(user, Some(password.as_str()))
            .form(&form)
            .header("accept", "application/json");
        let body = match fetch::body("token response", request.send().await).await {
            Ok(body) => body,
            Err(UpstreamError::Status { status, .. }) => return Err(UpstreamError::TokenRefused(format!("HTTP {status}"))),
            Err(other) => return Err(other),
        };
        let response: serde_json::Value = serde_json::from_slice(&body).map_err(|_| UpstreamError::Invalid("token response"))?;
        let token = response.get("id_token").and_then(|t| t.as_str()).ok_or(UpstreamError::Invalid("token response (no id_token)"))?;
        let algorithms: Vec<&str> = oidc.algorithms.iter().map(String::as_str).collect();
        let expected =
            Expected { issuer: &oidc.issuer, client_id: &oidc.client_id, nonce, algorithms: &algorithms, now, skew: SKEW_SECONDS, authenticated_since };
        let mut claims = match id_token::validate(token, &cached.keys, &expected) {
            Err(Rejection::Signature(JwsRejection::UnknownKey)) if self.may_refetch(token, &cached) => {
                // The provider may have rotated its keys: fetch them once more and retry.
                let keys = Arc::new(self.fetch_keys(provider, &cached.metadata.jwks_uri).await?);
                self.store(&oidc.issuer, Cached { keys: Arc::clone(&keys), keys_fetched: Instant::now(), ..cached.clone() });
                id_token::validate(token, &keys, &expected)?
            }
            other => other?,
        };
        // No email in the ID token: ask UserInfo with the access token, when there is both.
        let access_token = response.get("access_token").and_then(|t| t.as_str());
        if let (None, Some(endpoint), Some(access_token)) = (&claims.email, &cached.metadata.userinfo_endpoint, access_token) {
            let answered = match self.client_for(provider, endpoint) {
                Ok(client) => {
                    let request = client.get(endpoint).bearer_auth(access_token).header("accept", "application/json");
                    fetch::body("UserInfo response", request.send().await).await.and_then(|body| userinfo::complete(&mut claims, &body))
                }
                Err(error) => Err(error),
            };
            match answered {
                // About another subject: a substituted token, the sign-in stops.
                Err(UpstreamError::UserInfoSubject) => return Err(UpstreamError::UserInfoSubject),
                // Unreachable, an address a provider set up through the API may not reach, an
                // error status, not JSON (a signed UserInfo JWT): a linked person signs in without
                // an email; one who needs it is refused later, by name.
                Err(error) => tracing::warn!(provider = %provider.key(), %error, "the provider's UserInfo endpoint gave nothing Gatehouse reads"),
                Ok(()) => {}
            }
        }
        Ok(claims)
    }

    /// Whether an unknown `kid` may fetch the keys again now.
    fn may_refetch(&self, token: &str, cached: &Cached) -> bool {
        let unknown = ForeignKeySet::kid_of(token).is_none_or(|kid| !cached.keys.has_kid(&kid));
        unknown && cached.keys_fetched.elapsed() >= self.refetch_every
    }
}
