//! Signing keys: the set in memory with the JWKS it publishes, generating the first keys, and
//! building the set from the stored keys (which sign now, which are only published).

use bytes::Bytes;
use gatehouse_core::SigningAlg;
use gatehouse_crypto::{KeySet, SigningKey};
use gatehouse_store::{Store, StoredKey};
use std::sync::Arc;
use time::{Duration, OffsetDateTime};

use crate::error::DirectoryError;

/// Signing keys and the JWKS document they publish.
pub struct KeyMaterial {
    pub set: KeySet,
    pub jwks: Bytes,
    /// When a pending key activates or a retired key leaves the JWKS: reload then.
    pub next_change: Option<OffsetDateTime>,
}

impl KeyMaterial {
    /// No keys yet (before the first load).
    pub fn empty() -> Self {
        Self { set: KeySet::default(), jwks: Bytes::new(), next_change: None }
    }
}

/// Generates a key for every algorithm that has none signing now (first start).
pub async fn ensure_active_keys(store: &dyn Store, now: OffsetDateTime) -> Result<usize, DirectoryError> {
    let stored = store.signing_keys().await?;
    let missing: Vec<SigningAlg> = SigningAlg::ALL.into_iter().filter(|alg| !stored.iter().any(|k| k.alg == *alg && k.signs_at(now))).collect();
    // RSA key generation dominates a first start: generate the keys in parallel.
    let generated: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = missing.iter().map(|alg| scope.spawn(move || new_stored_key(*alg, now, now))).collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err(DirectoryError::Internal("key generation panicked")))).collect()
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
pub fn new_stored_key(alg: SigningAlg, now: OffsetDateTime, activates_at: OffsetDateTime) -> Result<StoredKey, DirectoryError> {
    let key = SigningKey::generate(alg)?;
    Ok(StoredKey { kid: key.kid().to_owned(), alg, pkcs8: key.pkcs8().to_vec(), created_at: now, activates_at, retired_at: None })
}

/// The key set as of `now`: keys retired less than `grace` ago are still published (tokens
/// they signed may be alive), and `next_change` says when that picture changes.
pub fn load_keys(stored: &[StoredKey], grace: Duration, now: OffsetDateTime) -> Result<KeyMaterial, DirectoryError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_keys_are_published_and_retired_keys_leave_after_the_grace() {
        let now = OffsetDateTime::UNIX_EPOCH + Duration::days(100);
        let grace = Duration::minutes(15);
        let signing = new_stored_key(SigningAlg::ES256, now, now - Duration::hours(1)).unwrap();
        let pending = new_stored_key(SigningAlg::ES256, now, now + Duration::hours(1)).unwrap();
        let retired = StoredKey { retired_at: Some(now - Duration::minutes(5)), ..new_stored_key(SigningAlg::ES256, now, now - Duration::days(2)).unwrap() };
        let gone = StoredKey { retired_at: Some(now - Duration::hours(1)), ..new_stored_key(SigningAlg::ES256, now, now - Duration::days(3)).unwrap() };
        let keys = load_keys(&[signing.clone(), pending.clone(), retired.clone(), gone.clone()], grace, now).unwrap();
        let jwks = String::from_utf8(keys.jwks.to_vec()).unwrap();
        assert!(jwks.contains(&signing.kid) && jwks.contains(&pending.kid) && jwks.contains(&retired.kid));
        assert!(!jwks.contains(&gone.kid), "retired longer than the grace ago");
        assert_eq!(keys.set.active(SigningAlg::ES256).map(|k| k.kid().to_owned()), Some(signing.kid));
        assert_eq!(keys.next_change, Some(now + Duration::minutes(10)), "the retired key leaves the JWKS first");
    }
}
