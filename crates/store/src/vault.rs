//! Personal data at rest, for every backend: which key seals which field, the cache of
//! unwrapped instance and tenant keys, and the blind index that email look-ups use.
//!
//! Sealed text is stored as base64 (the SQLite tables are STRICT and these columns are TEXT).
//! The associated data of every sealed field is `<table.column>:<row id>`, so a value moved to
//! another row or column does not open. User keys are never cached: unwrapping one costs one
//! AES-GCM open of 32 bytes, and an erased user's key then stops working at once.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use gatehouse_crypto::{BlindIndex, DataKey, KeyProvider};
use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};

use crate::{StoreError, StoreResult};

/// The owner name of the instance's own data key (it derives the blind-index key).
pub const INSTANCE_KEY_OWNER: &str = "instance";
const BLIND_INDEX_PURPOSE: &[u8] = b"gatehouse blind index: email";

pub struct Vault {
    provider: Arc<dyn KeyProvider>,
    master_wrapped: RwLock<HashMap<String, Arc<DataKey>>>,
    index: OnceLock<BlindIndex>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault").finish_non_exhaustive()
    }
}

impl Vault {
    pub fn new(provider: Arc<dyn KeyProvider>) -> Self {
        Self { provider, master_wrapped: RwLock::new(HashMap::new()), index: OnceLock::new() }
    }

    pub fn provider(&self) -> &dyn KeyProvider {
        self.provider.as_ref()
    }

    /// A key wrapped by the master key, if already unwrapped.
    pub fn cached(&self, id: &str) -> Option<Arc<DataKey>> {
        self.master_wrapped.read().ok().and_then(|keys| keys.get(id).cloned())
    }

    pub fn remember(&self, key: DataKey) -> Arc<DataKey> {
        let key = Arc::new(key);
        if let Ok(mut keys) = self.master_wrapped.write() {
            keys.insert(key.id().to_owned(), Arc::clone(&key));
        }
        key
    }

    /// Drops a destroyed key (a deleted tenant's) from the cache.
    pub fn forget(&self, id: &str) {
        if let Ok(mut keys) = self.master_wrapped.write() {
            keys.remove(id);
        }
    }

    /// Unwraps a key wrapped by the master key, through the provider; a wrong or missing
    /// master key is a clear error, never a silent fallback.
    pub fn unwrap_master_wrapped(&self, id: &str, master_id: &str, wrapped: &[u8]) -> StoreResult<Arc<DataKey>> {
        if let Some(key) = self.cached(id) {
            return Ok(key);
        }
        let key = self.provider.unwrap(master_id, id, wrapped).map_err(|e| StoreError::Key(format!("cannot unwrap data key `{id}`: {e}")))?;
        Ok(self.remember(key))
    }

    /// Wraps a new key under the current master key: (master key id, wrapped bytes).
    pub fn wrap_with_master(&self, key: &DataKey) -> StoreResult<(String, Vec<u8>)> {
        self.provider.wrap(key).map_err(|e| StoreError::Key(format!("cannot wrap a data key: {e}")))
    }

    /// Installs the blind-index key, derived from the instance key.
    pub fn set_instance_key(&self, instance: &DataKey) -> StoreResult<()> {
        let derived = instance.derive("blind-index", BLIND_INDEX_PURPOSE).map_err(key_error)?;
        let _ = self.index.set(BlindIndex::new(&derived));
        Ok(())
    }

    /// The blind index of a normalised email (`Email::key`).
    pub fn email_index(&self, email_key: &str) -> StoreResult<String> {
        self.index.get().map(|index| index.index(email_key)).ok_or_else(|| StoreError::Key("the blind-index key is not loaded".into()))
    }
}

pub fn new_key_id() -> StoreResult<String> {
    Ok(format!("dk-{}", gatehouse_crypto::random::id().map_err(key_error)?))
}

pub fn key_error(e: gatehouse_crypto::CryptoError) -> StoreError {
    StoreError::Key(e.to_string())
}

fn aad(field: &str, owner: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(field.len() + owner.len() + 1);
    aad.extend_from_slice(field.as_bytes());
    aad.push(b':');
    aad.extend_from_slice(owner.as_bytes());
    aad
}

pub fn seal_bytes(key: &DataKey, field: &str, owner: &str, value: &[u8]) -> StoreResult<Vec<u8>> {
    key.seal(&aad(field, owner), value).map_err(key_error)
}

pub fn open_bytes(key: &DataKey, field: &str, owner: &str, sealed: &[u8]) -> StoreResult<Vec<u8>> {
    key.open(&aad(field, owner), sealed).map_err(|e| StoreError::Corrupt(format!("{field} of {owner}: {e}")))
}

pub fn seal_text(key: &DataKey, field: &str, owner: &str, value: &str) -> StoreResult<String> {
    Ok(STANDARD.encode(seal_bytes(key, field, owner, value.as_bytes())?))
}

pub fn open_text(key: &DataKey, field: &str, owner: &str, stored: &str) -> StoreResult<String> {
    let sealed = STANDARD.decode(stored.as_bytes()).map_err(|_| StoreError::Corrupt(format!("{field} of {owner} is not a sealed value")))?;
    String::from_utf8(open_bytes(key, field, owner, &sealed)?).map_err(|_| StoreError::Corrupt(format!("{field} of {owner} is not text")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_text_is_bound_to_its_field_and_row() {
        let key = DataKey::generate("dk-u").unwrap();
        let stored = seal_text(&key, "users.email", "u1", "alice@example.com").unwrap();
        assert!(!stored.contains("alice"));
        assert_eq!(open_text(&key, "users.email", "u1", &stored).unwrap(), "alice@example.com");
        assert!(open_text(&key, "users.name", "u1", &stored).is_err());
        assert!(open_text(&key, "users.email", "u2", &stored).is_err());
        assert!(open_text(&key, "users.email", "u1", "alice@example.com").is_err(), "plaintext is not accepted as sealed");
    }
}
