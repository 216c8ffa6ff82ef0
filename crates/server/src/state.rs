//! Shared server state: the store, the limiters, the second factors' context, and the token
//! service's in-memory directory (`gatehouse_oauth::Directory`: clients, signing keys,
//! revocations, users), so the token, userinfo and JWKS endpoints make no database round trip.
//! `AppState::oauth` lends the token service its context for one request.

use bytes::Bytes;
use gatehouse_core::ids::UserId;
use gatehouse_core::model::{Tenant, User};
use gatehouse_core::{Client, ClientId, EmailDomain};
use gatehouse_crypto::{PasswordHasher, SecretDigester};
use gatehouse_oauth::{ClientAuthLimiter, Directory, DirectoryError, OAuthContext, discovery, ensure_active_keys};
use gatehouse_ops::OpsError;
use gatehouse_ops::upkeep::CacheReload;
use gatehouse_store::Store;
use std::ops::Deref;
use std::sync::Arc;
use time::OffsetDateTime;
use tokio::sync::Semaphore;

use crate::ServerConfig;
use crate::error::ServerError;
use crate::metrics::Metrics;
use crate::mfa::{Factors, MfaServices, WebAuthnService};
use crate::rate_limit::RateLimiter;

/// The in-memory directory and its parts live in the token service; named here under their
/// old paths.
pub use gatehouse_oauth::{KeyMaterial, RevocationList, new_stored_key};

/// The in-memory limits of what the edge lets be guessed or flooded, per key (account,
/// address, client...). Second factors keep theirs in `Factors`.
#[derive(Default)]
pub struct Limiters {
    /// Failed passwords per account.
    pub login: RateLimiter,
    /// Failed passwords per client address.
    pub address: RateLimiter,
    /// Failed client authentications per (client id, address).
    pub client_auth: ClientAuthLimiter,
    /// Wrong second-factor codes per client address.
    pub otp_address: RateLimiter,
    /// Failed token requests per client address.
    pub token_failure: RateLimiter<std::net::IpAddr>,
    /// Authorization requests parked per client address (an IPv6 /64).
    pub parking: RateLimiter<std::net::IpAddr>,
    /// Unsolicited SAML answers (IdP-initiated sign-ins) per client address (an IPv6 /64).
    pub unsolicited: RateLimiter<std::net::IpAddr>,
    /// Mailbox codes of the forced password change: sent per user, wrong ones per user and
    /// address (keys `sent:USER`, `guess:USER:ADDRESS`).
    pub reset_code: RateLimiter,
}

/// Password hashing: the hasher and the permits that cap concurrent Argon2 computations at
/// the core count.
pub struct Passwords {
    pub hasher: PasswordHasher,
    pub permits: Semaphore,
}

/// Third-party sign-in: the tenants' identity providers in memory and the upstream client
/// (its discovery documents and keys cached per issuer).
pub struct Federation {
    pub providers: gatehouse_federation::Providers,
    pub upstreams: gatehouse_federation::oidc::Upstreams,
    /// Gatehouse as a SAML service provider: its entityID and ACS under the issuer.
    pub sp: gatehouse_federation::saml::ServiceProvider,
}

/// How long an upstream identity provider may take to answer one request.
const UPSTREAM_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

pub struct Shared {
    pub config: ServerConfig,
    pub store: Arc<dyn Store>,
    pub passwords: Arc<Passwords>,
    /// Keyed with the pepper; shared with the second factors, so the key is held once.
    pub digester: Arc<SecretDigester>,
    pub metrics: Metrics,
    pub limits: Limiters,
    /// The second factors' context: the store, their limiters, the senders, the monitor.
    pub factors: Factors,
    pub monitor: Arc<crate::monitor::Monitor>,
    /// Group commit for audit records appended on their own.
    pub audit: crate::monitor::audit_writer::AuditWriter,
    /// The directory's revocation list, for the handlers that revoke outside the token service.
    pub revocations: Arc<RevocationList>,
    pub discovery: Bytes,
    /// The console's browser sessions (`/account`, `/admin`).
    pub console: gatehouse_console_sessions::Sessions,
    /// What the token service reads from memory: keys, clients, tenants, users, revocations.
    pub directory: Directory,
    pub federation: Federation,
}

#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The server's only clock. Everything below the edge receives `now` as a parameter.
#[allow(clippy::disallowed_methods)]
pub fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

impl AppState {
    pub async fn new(config: ServerConfig, store: Arc<dyn Store>, pepper: &[u8]) -> Result<Self, ServerError> {
        let hasher = PasswordHasher::new(config.password)?;
        let permits = config.max_concurrent_hashes.max(1);
        let discovery = discovery::document(&config.issuer);
        let mfa = mfa_services(&config)?;
        let monitor = Arc::new(crate::monitor::Monitor::new(config.monitoring.clone(), &config.issuer, store.clone(), Arc::clone(&mfa.notifier))?);
        let digester = Arc::new(SecretDigester::new(pepper));
        let sp = gatehouse_federation::saml::ServiceProvider::for_issuer(&config.issuer);
        let sp_keys = gatehouse_federation::saml::load_sp_keys(store.as_ref(), &sp.entity_id, now()).await?;
        let sp = sp.with_encryption_keys(sp_keys);
        let directory = Directory::new(store.clone(), config.key_publication_grace());
        let factors = Factors {
            store: store.clone(),
            digester: Arc::clone(&digester),
            limiter: RateLimiter::default(),
            sms_address_limiter: RateLimiter::default(),
            services: mfa,
            monitor: Arc::clone(&monitor),
        };
        let shared = Shared {
            passwords: Arc::new(Passwords { hasher, permits: Semaphore::new(permits) }),
            digester,
            metrics: Metrics::new(now()),
            limits: Limiters::default(),
            factors,
            monitor,
            audit: crate::monitor::audit_writer::AuditWriter::start(store.clone()),
            revocations: directory.shared_revocations(),
            discovery,
            console: Default::default(),
            directory,
            federation: Federation {
                providers: Default::default(),
                upstreams: gatehouse_federation::oidc::Upstreams::new(UPSTREAM_TIMEOUT)
                    .map_err(|e| ServerError::Config(e.to_string()))?
                    .with_private_networks(config.federation_allow_private_networks),
                sp,
            },
            config,
            store,
        };
        let state = Self(Arc::new(shared));
        ensure_active_keys(state.store.as_ref(), now()).await?;
        state.reload().await?;
        Ok(state)
    }

    /// The token service's context for one request.
    pub fn oauth(&self) -> OAuthContext<'_> {
        OAuthContext {
            issuer: &self.config.issuer,
            lifetimes: &self.config.tokens,
            directory: &self.directory,
            digester: &self.digester,
            client_auth: &self.limits.client_auth,
        }
    }

    pub fn keys(&self) -> Arc<KeyMaterial> {
        self.directory.keys()
    }

    /// The tenant owning an email domain, from memory.
    pub fn tenant_for_domain(&self, domain: &EmailDomain) -> Option<Arc<Tenant>> {
        self.directory.tenant_for_domain(domain)
    }

    pub fn client(&self, id: &ClientId) -> Option<Arc<Client>> {
        self.directory.client(id)
    }

    /// A user by id, from memory when possible.
    pub async fn user(&self, id: &UserId) -> Result<Option<Arc<User>>, ServerError> {
        Ok(self.directory.user(id).await?)
    }

    /// Drops a cached user after a change to them (a password, a required reset).
    pub fn forget_user(&self, id: &UserId) {
        self.directory.forget_user(id);
    }

    /// Reloads clients, keys, revocations and identity providers from the store.
    pub async fn reload(&self) -> Result<(), ServerError> {
        self.directory.reload(now()).await?;
        Ok(self.federation.providers.reload(self.store.as_ref()).await?)
    }
}

/// The recurring upkeep reloads the directory after it deleted tenants, and when another
/// process changed the store.
#[async_trait::async_trait]
impl CacheReload for AppState {
    async fn reload(&self) -> Result<(), OpsError> {
        self.directory.reload(now()).await.map_err(ops_error)?;
        Ok(self.federation.providers.reload(self.store.as_ref()).await?)
    }
    async fn reload_if_changed(&self) -> Result<bool, OpsError> {
        let changed = self.directory.reload_if_changed(now()).await.map_err(ops_error)?;
        if changed {
            self.federation.providers.reload(self.store.as_ref()).await?;
        }
        Ok(changed)
    }
}

fn ops_error(error: DirectoryError) -> OpsError {
    match error {
        DirectoryError::Store(e) => OpsError::Store(e),
        DirectoryError::Crypto(e) => OpsError::Crypto(e),
        DirectoryError::Internal(what) => OpsError::Internal(what),
    }
}

fn mfa_services(config: &ServerConfig) -> Result<MfaServices, ServerError> {
    let webauthn = WebAuthnService::new(&config.issuer).map_err(|e| ServerError::Config(e.to_string()))?;
    if webauthn.is_none() {
        tracing::warn!(issuer = %config.issuer, "the issuer's host is an IP address: security keys and passkeys are unavailable (use a domain name, e.g. http://localhost:8080)");
    }
    let senders = gatehouse_delivery::senders::build(&config.sms, config.monitoring.notifier.as_ref(), config.dev_outbox, &config.outbox_dir)
        .map_err(|e| ServerError::Config(e.to_string()))?;
    let gatehouse_delivery::senders::Senders { sms, notifier, outbox } = senders;
    let totp_issuer = url::Url::parse(&config.issuer).ok().and_then(|u| u.host_str().map(str::to_owned)).unwrap_or_else(|| "Gatehouse".into());
    Ok(MfaServices { webauthn, sms, notifier, outbox, totp_issuer, ceremonies: Default::default() })
}
