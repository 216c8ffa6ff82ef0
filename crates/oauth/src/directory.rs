//! The copies hot paths read instead of the store (signing keys, clients, tenants by domain,
//! users, revocations, verified tokens), so the token, userinfo and JWKS endpoints make no
//! database round trip. Copies are swapped whole (`RwLock<Arc<_>>`) and reloaded when another
//! process bumps the store's generation counter. Sound because one server owns a data
//! directory; several instances would need a change feed.

use gatehouse_core::ids::UserId;
use gatehouse_core::model::{Tenant, User};
use gatehouse_core::{Client, ClientId, EmailDomain};
use gatehouse_store::Store;
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};
use time::{Duration, OffsetDateTime};

use crate::error::DirectoryError;
use crate::keys::{KeyMaterial, load_keys};
use crate::revocation::RevocationList;
use crate::token_cache::VerifiedTokenCache;

pub struct Directory {
    store: Arc<dyn Store>,
    /// How long a retired key stays published: the longest token lifetime and a margin.
    key_publication_grace: Duration,
    keys: RwLock<Arc<KeyMaterial>>,
    clients: RwLock<Arc<HashMap<ClientId, Arc<Client>>>>,
    /// Tenants by email domain, with their policies: the 2FA decision reads them at every
    /// sign-in. Reloaded with the clients.
    tenants: RwLock<Arc<HashMap<EmailDomain, Arc<Tenant>>>>,
    users: RwLock<HashMap<UserId, Arc<User>>>,
    /// Shared with the server's handlers that revoke outside the token service (logout, the
    /// sessions and monitoring APIs), which write through to it.
    revocations: Arc<RevocationList>,
    verified_tokens: VerifiedTokenCache,
    generation: AtomicI64,
}

/// Reads a swapped copy, also after a writer panicked (the copy itself is whole).
fn current<T>(slot: &RwLock<Arc<T>>) -> Arc<T> {
    slot.read().map(|k| Arc::clone(&k)).unwrap_or_else(|p| Arc::clone(&p.into_inner()))
}

fn replace<T>(slot: &RwLock<Arc<T>>, value: T) {
    if let Ok(mut slot) = slot.write() {
        *slot = Arc::new(value);
    }
}

impl Directory {
    /// An empty directory: call [`Directory::reload`] before serving.
    pub fn new(store: Arc<dyn Store>, key_publication_grace: Duration) -> Self {
        Self {
            store,
            key_publication_grace,
            keys: RwLock::new(Arc::new(KeyMaterial::empty())),
            clients: RwLock::new(Arc::new(HashMap::new())),
            tenants: RwLock::new(Arc::new(HashMap::new())),
            users: RwLock::new(HashMap::new()),
            revocations: Arc::default(),
            verified_tokens: VerifiedTokenCache::default(),
            generation: AtomicI64::new(-1),
        }
    }

    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    pub fn keys(&self) -> Arc<KeyMaterial> {
        current(&self.keys)
    }

    /// The tenant owning an email domain, from memory.
    pub fn tenant_for_domain(&self, domain: &EmailDomain) -> Option<Arc<Tenant>> {
        current(&self.tenants).get(domain).cloned()
    }

    pub fn client(&self, id: &ClientId) -> Option<Arc<Client>> {
        current(&self.clients).get(id).cloned()
    }

    /// Whether the user's organisation was terminated: nobody on its domains gets tokens.
    pub fn tenant_closed(&self, user: &User) -> bool {
        self.tenant_for_domain(&user.email.domain()).is_some_and(|t| !t.is_active())
    }

    /// A user by id, from memory when possible.
    pub async fn user(&self, id: &UserId) -> Result<Option<Arc<User>>, DirectoryError> {
        if let Some(user) = self.users.read().ok().and_then(|u| u.get(id).cloned()) {
            return Ok(Some(user));
        }
        let Some(user) = self.store.user(id).await?.map(Arc::new) else {
            return Ok(None);
        };
        if let Ok(mut users) = self.users.write() {
            users.insert(id.clone(), Arc::clone(&user));
        }
        Ok(Some(user))
    }

    /// Drops a cached user after a change to them (a password, a required reset).
    pub fn forget_user(&self, id: &UserId) {
        if let Ok(mut users) = self.users.write() {
            users.remove(id);
        }
    }

    pub fn revocations(&self) -> &RevocationList {
        &self.revocations
    }

    /// The revocation list itself, for holders outside the directory.
    pub fn shared_revocations(&self) -> Arc<RevocationList> {
        Arc::clone(&self.revocations)
    }

    pub fn verified_tokens(&self) -> &VerifiedTokenCache {
        &self.verified_tokens
    }

    /// Reloads clients, tenants, keys and revocations from the store, and forgets cached users
    /// and verified tokens.
    pub async fn reload(&self, now: OffsetDateTime) -> Result<(), DirectoryError> {
        let generation = self.store.generation().await?;
        let clients: HashMap<ClientId, Arc<Client>> = self.store.clients().await?.into_iter().map(|c| (c.client_id.clone(), Arc::new(c))).collect();
        let keys = load_keys(&self.store.signing_keys().await?, self.key_publication_grace, now)?;
        let revocations = self.store.revocations(now).await?;
        let mut tenants = HashMap::new();
        for tenant in self.store.tenants().await? {
            let tenant = Arc::new(tenant);
            for domain in &tenant.domains {
                tenants.insert(domain.clone(), Arc::clone(&tenant));
            }
        }
        replace(&self.clients, clients);
        replace(&self.tenants, tenants);
        replace(&self.keys, keys);
        if let Ok(mut users) = self.users.write() {
            users.clear();
        }
        self.verified_tokens.clear();
        self.revocations.replace(revocations);
        self.generation.store(generation, Ordering::Release);
        Ok(())
    }

    /// Reloads when another process changed the store, or a key activates or retires.
    pub async fn reload_if_changed(&self, now: OffsetDateTime) -> Result<bool, DirectoryError> {
        let generation = self.store.generation().await?;
        let key_change_due = self.keys().next_change.is_some_and(|t| t <= now);
        if generation == self.generation.load(Ordering::Acquire) && !key_change_due {
            return Ok(false);
        }
        self.reload(now).await?;
        Ok(true)
    }
}
