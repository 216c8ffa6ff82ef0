//! What every operation of the token service works with, handed in by the edge: who we are
//! (the issuer), how long tokens live, the in-memory directory (keys, clients, users,
//! revocations) and the pepper-keyed digester of codes, refresh tokens and client secrets.

use gatehouse_crypto::SecretDigester;
use gatehouse_ops::rate_limit::RateLimiter;
use gatehouse_store::Store;
use std::collections::hash_map::RandomState;
use time::Duration;

use crate::directory::Directory;

/// Lifetimes of what the provider issues.
#[derive(Clone, Debug)]
pub struct TokenLifetimes {
    pub authorization_code: Duration,
    pub access_token: Duration,
    pub id_token: Duration,
    pub refresh_token: Duration,
    /// How long a sign-in page stays valid.
    pub pending_authorization: Duration,
}

impl Default for TokenLifetimes {
    fn default() -> Self {
        Self {
            // RFC 9700 §4.2.1 and OAuth 2.1 recommend short-lived codes.
            authorization_code: Duration::seconds(60),
            access_token: Duration::minutes(10),
            id_token: Duration::minutes(10),
            refresh_token: Duration::days(30),
            pending_authorization: Duration::minutes(10),
        }
    }
}

impl TokenLifetimes {
    /// How long a retired key stays in the JWKS: until every token it signed has expired.
    pub fn key_publication_grace(&self) -> Duration {
        self.access_token.max(self.id_token) + Duration::minutes(5)
    }
}

/// The token service's context: borrowed from the server's state for one request.
#[derive(Clone, Copy)]
pub struct OAuthContext<'a> {
    /// The issuer URL, without a trailing slash.
    pub issuer: &'a str,
    pub lifetimes: &'a TokenLifetimes,
    pub directory: &'a Directory,
    pub digester: &'a SecretDigester,
    pub client_auth: &'a ClientAuthLimiter,
}

impl<'a> OAuthContext<'a> {
    pub fn store(&self) -> &'a dyn Store {
        self.directory.store()
    }
}

/// Failed client authentications per (client id, address), counted by
/// [`crate::authenticate`] against `gatehouse_ops::rate_limit::CLIENT_AUTH`.
#[derive(Default)]
pub struct ClientAuthLimiter {
    /// Keyed by a hash of (client id, address): no allocation on the token endpoint's hot path.
    pub(crate) failures: RateLimiter<u64>,
    /// Hashes the composite keys with a per-process seed.
    pub(crate) key_hasher: RandomState,
}
