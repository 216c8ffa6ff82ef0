//! Shared server state: the store, and in-memory copies of what hot paths read (clients,
//! signing keys, revocations, users), so the token, userinfo and JWKS endpoints make no
//! database round trip. Copies are swapped whole (`RwLock<Arc<_>>`), reloaded when another
//! process bumps the store's generation counter.

use bytes::Bytes;
use gatehouse_core::ids::{GrantId, UserId};
use gatehouse_core::model::{Tenant, User};
use gatehouse_core::{Client, ClientId, EmailDomain, SigningAlg};
use gatehouse_crypto::{KeySet, PasswordHasher, SecretDigester, SigningKey};
use gatehouse_store::{Store, StoredKey};
use std::collections::{HashMap, HashSet};
use std::ops::Deref;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};
use time::OffsetDateTime;
use tokio::sync::Semaphore;

use crate::error::ServerError;
use crate::metrics::Metrics;
use crate::mfa::{Factors, MfaServices, WebAuthnService};
use crate::rate_limit::RateLimiter;
use crate::{ServerConfig, discovery};

/// Signing keys and the JWKS document they publish.
pub struct KeyMaterial {
    pub set: KeySet,
    pub jwks: Bytes,
    /// When a pending key activates or a retired key leaves the JWKS: reload then.
    pub next_change: Option<OffsetDateTime>,
}

#[derive(Default)]
pub struct RevocationList {
    grants: RwLock<HashSet<GrantId>>,
    access_tokens: RwLock<HashSet<String>>,
}

impl RevocationList {
    pub fn is_revoked(&self, jti: &str, grant: Option<&str>) -> bool {
        let token = self.access_tokens.read().is_ok_and(|set| set.contains(jti));
        let grant = grant.is_some_and(|g| self.grants.read().is_ok_and(|set| set.contains(&GrantId::new(g))));
        token || grant
    }
    pub fn revoke_grant(&self, id: GrantId) {
        if let Ok(mut set) = self.grants.write() {
            set.insert(id);
        }
    }
    pub fn revoke_access_token(&self, jti: String) {
        if let Ok(mut set) = self.access_tokens.write() {
            set.insert(jti);
        }
    }
    fn replace(&self, revocations: gatehouse_store::Revocations) {
        if let Ok(mut set) = self.grants.write() {
            *set = revocations.grant_ids.into_iter().collect();
        }
        if let Ok(mut set) = self.access_tokens.write() {
            *set = revocations.access_token_ids.into_iter().map(|(jti, _)| jti).collect();
        }
    }
}

/// The in-memory limits of what the edge lets be guessed or flooded, per key (account,
/// address, client...). Second factors keep theirs in `Factors`.
#[derive(Default)]
pub struct Limiters {
    /// Failed passwords per account.
    pub login: RateLimiter,
    /// Failed passwords per client address.
    pub address: RateLimiter,
    /// Keyed by a hash of (client id, address): see [`crate::rate_limit::CLIENT_AUTH`].
    pub client_auth: RateLimiter<u64>,
    /// Wrong second-factor codes per client address.
    pub otp_address: RateLimiter,
    /// Failed token requests per client address.
    pub token_failure: RateLimiter<std::net::IpAddr>,
    /// Authorization requests parked per client address (an IPv6 /64).
    pub parking: RateLimiter<std::net::IpAddr>,
    /// Mailbox codes of the forced password change: sent per user, wrong ones per user and
    /// address (keys `sent:USER`, `guess:USER:ADDRESS`).
    pub reset_code: RateLimiter,
    /// Hashes composite keys (client authentication) with a per-process seed.
    pub key_hasher: std::collections::hash_map::RandomState,
}

/// Password hashing: the hasher and the permits that cap concurrent Argon2 computations at
/// the core count.
pub struct Passwords {
    pub hasher: PasswordHasher,
    pub permits: Semaphore,
}

/// The copies hot paths read instead of the store (signing keys, clients, tenants, users),
/// swapped whole and reloaded when another process bumps the store's generation counter.
struct Directory {
    keys: RwLock<Arc<KeyMaterial>>,
    clients: RwLock<Arc<HashMap<ClientId, Arc<Client>>>>,
    /// Tenants by email domain, with their policies: the 2FA decision reads them at every
    /// sign-in. Reloaded with the clients.
    tenants: RwLock<Arc<HashMap<EmailDomain, Arc<Tenant>>>>,
    users: RwLock<HashMap<UserId, Arc<User>>>,
    generation: AtomicI64,
}

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
    pub revocations: RevocationList,
    pub verified_tokens: crate::token_cache::VerifiedTokenCache,
    pub discovery: Bytes,
    /// The console's browser sessions (`/account`, `/admin`).
    pub console: crate::console_sessions::Sessions,
    directory: Directory,
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
            revocations: RevocationList::default(),
            verified_tokens: Default::default(),
            discovery,
            console: Default::default(),
            directory: Directory {
                keys: RwLock::new(Arc::new(KeyMaterial { set: KeySet::default(), jwks: Bytes::new(), next_change: None })),
                clients: RwLock::new(Arc::new(HashMap::new())),
                tenants: RwLock::new(Arc::new(HashMap::new())),
                users: RwLock::new(HashMap::new()),
                generation: AtomicI64::new(-1),
            },
            config,
            store,
        };
        let state = Self(Arc::new(shared));
        ensure_active_keys(state.store.as_ref(), now()).await?;
        state.reload().await?;
        Ok(state)
    }

    pub fn keys(&self) -> Arc<KeyMaterial> {
        self.directory.keys.read().map(|k| Arc::clone(&k)).unwrap_or_else(|p| Arc::clone(&p.into_inner()))
    }

    /// The tenant owning an email domain, from memory.
    pub fn tenant_for_domain(&self, domain: &EmailDomain) -> Option<Arc<Tenant>> {
        let tenants = self.directory.tenants.read().map(|t| Arc::clone(&t)).unwrap_or_else(|p| Arc::clone(&p.into_inner()));
        tenants.get(domain).cloned()
    }

    pub fn client(&self, id: &ClientId) -> Option<Arc<Client>> {
        let clients = self.directory.clients.read().map(|c| Arc::clone(&c)).unwrap_or_else(|p| Arc::clone(&p.into_inner()));
        clients.get(id).cloned()
    }

    /// A user by id, from memory when possible.
    pub async fn user(&self, id: &UserId) -> Result<Option<Arc<User>>, ServerError> {
        if let Some(user) = self.directory.users.read().ok().and_then(|u| u.get(id).cloned()) {
            return Ok(Some(user));
        }
        let Some(user) = self.store.user(id).await?.map(Arc::new) else {
            return Ok(None);
        };
        if let Ok(mut users) = self.directory.users.write() {
            users.insert(id.clone(), Arc::clone(&user));
        }
        Ok(Some(user))
    }

    /// Drops a cached user after a change to them (a password, a required reset).
    pub fn forget_user(&self, id: &UserId) {
        if let Ok(mut users) = self.directory.users.write() {
            users.remove(id);
        }
    }

    /// Reloads clients, keys and revocations from the store.
    pub async fn reload(&self) -> Result<(), ServerError> {
        let generation = self.store.generation().await?;
        let now = now();
        let clients: HashMap<ClientId, Arc<Client>> = self.store.clients().await?.into_iter().map(|c| (c.client_id.clone(), Arc::new(c))).collect();
        let keys = load_keys(&self.store.signing_keys().await?, &self.config, now)?;
        let revocations = self.store.revocations(now).await?;
        let mut tenants = HashMap::new();
        for tenant in self.store.tenants().await? {
            let tenant = Arc::new(tenant);
            for domain in &tenant.domains {
                tenants.insert(domain.clone(), Arc::clone(&tenant));
            }
        }
        if let Ok(mut slot) = self.directory.clients.write() {
            *slot = Arc::new(clients);
        }
        if let Ok(mut slot) = self.directory.tenants.write() {
            *slot = Arc::new(tenants);
        }
        if let Ok(mut slot) = self.directory.keys.write() {
            *slot = Arc::new(keys);
        }
        if let Ok(mut users) = self.directory.users.write() {
            users.clear();
        }
        self.verified_tokens.clear();
        self.revocations.replace(revocations);
        self.directory.generation.store(generation, Ordering::Release);
        Ok(())
    }

    /// Reloads when another process changed the store, or a key activates or retires.
    pub async fn reload_if_changed(&self) -> Result<bool, ServerError> {
        let generation = self.store.generation().await?;
        let key_change_due = self.keys().next_change.is_some_and(|t| t <= now());
        if generation == self.directory.generation.load(Ordering::Acquire) && !key_change_due {
            return Ok(false);
        }
        self.reload().await?;
        Ok(true)
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

/// Generates a key for every algorithm that has none signing now (first start).
pub async fn ensure_active_keys(store: &dyn Store, now: OffsetDateTime) -> Result<usize, ServerError> {
    let stored = store.signing_keys().await?;
    let missing: Vec<SigningAlg> = SigningAlg::ALL.into_iter().filter(|alg| !stored.iter().any(|k| k.alg == *alg && k.signs_at(now))).collect();
    // RSA key generation dominates a first start: generate the keys in parallel.
    let generated: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = missing.iter().map(|alg| scope.spawn(move || new_stored_key(*alg, now, now))).collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err(ServerError::Internal("key generation panicked")))).collect()
    });
    let fresh = generated.into_iter().collect::<Result<Vec<_>, _>>()?;
    if !fresh.is_empty() {
        let audit = gatehouse_core::audit::AuditEntry {
            at: now.unix_timestamp(),
            actor: "system".into(),
            on_behalf_of: None,
            action: "key.generate".into(),
            target: "keys".into(),
            tenant: None,
            before: None,
            // Key ids and algorithms only: never key material.
            after: Some(serde_json::json!(fresh.iter().map(|k| serde_json::json!({ "kid": k.kid, "alg": k.alg.as_str() })).collect::<Vec<_>>())),
            address: None,
            user_agent: None,
            reason: Some("no key was signing for these algorithms".into()),
        };
        store.rotate_signing_keys(&fresh, &audit).await?;
        store.bump_generation().await?;
    }
    Ok(fresh.len())
}

/// A new key, published from `now` and signing from `activates_at`.
pub fn new_stored_key(alg: SigningAlg, now: OffsetDateTime, activates_at: OffsetDateTime) -> Result<StoredKey, ServerError> {
    let key = SigningKey::generate(alg)?;
    Ok(StoredKey { kid: key.kid().to_owned(), alg, pkcs8: key.pkcs8().to_vec(), created_at: now, activates_at, retired_at: None })
}

fn load_keys(stored: &[StoredKey], config: &ServerConfig, now: OffsetDateTime) -> Result<KeyMaterial, ServerError> {
    let grace = config.key_publication_grace();
    let mut keys = Vec::new();
    let mut active = Vec::new();
    let mut next_change: Option<OffsetDateTime> = None;
    let mut note = |t: OffsetDateTime| {
        if t > now && next_change.is_none_or(|n| t < n) {
            next_change = Some(t);
        }
    };
    for record in stored.iter().filter(|k| k.retired_at.is_none_or(|r| r + grace > now)) {
        note(record.activates_at);
        if let Some(retired) = record.retired_at {
            note(retired);
            note(retired + grace);
        }
        let key = SigningKey::from_pkcs8(record.alg, record.pkcs8.clone())?;
        if record.signs_at(now) {
            active.push(key.kid().to_owned());
        }
        keys.push(Arc::new(key));
    }
    let active_refs: Vec<&str> = active.iter().map(String::as_str).collect();
    let set = KeySet::new(keys, &active_refs);
    let jwks = Bytes::from(set.jwks_json());
    Ok(KeyMaterial { set, jwks, next_change })
}
