//! Access tokens whose signature this server has already verified, keyed by the whole token
//! text (never by a part of it, so a forged payload with a copied signature misses). Bounded:
//! when full, expired entries go, and if that is not enough the cache starts over.

use gatehouse_core::claims::AccessTokenClaims;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use time::OffsetDateTime;

const CAPACITY: usize = 10_000;

/// Claims of access tokens already verified, by token text.
#[derive(Default)]
pub struct VerifiedTokenCache {
    entries: RwLock<HashMap<Box<str>, Arc<AccessTokenClaims>>>,
}

impl VerifiedTokenCache {
    pub fn get(&self, token: &str) -> Option<Arc<AccessTokenClaims>> {
        self.entries.read().ok()?.get(token).cloned()
    }

    pub fn insert(&self, token: &str, claims: Arc<AccessTokenClaims>, now: OffsetDateTime) {
        let Ok(mut entries) = self.entries.write() else { return };
        if entries.len() >= CAPACITY {
            let now = now.unix_timestamp();
            entries.retain(|_, c| c.exp > now);
            if entries.len() >= CAPACITY {
                entries.clear();
            }
        }
        entries.insert(token.into(), claims);
    }

    pub fn clear(&self) {
        if let Ok(mut entries) = self.entries.write() {
            entries.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: i64) -> Arc<AccessTokenClaims> {
        Arc::new(AccessTokenClaims {
            iss: "i".into(),
            exp,
            aud: "a".into(),
            sub: "s".into(),
            client_id: "c".into(),
            iat: 0,
            jti: "j".into(),
            scope: String::new(),
            auth_time: None,
            acr: None,
            amr: vec![],
            sid: None,
            gid: None,
            idp: None,
        })
    }

    #[test]
    fn keyed_by_whole_token_and_bounded() {
        let cache = VerifiedTokenCache::default();
        let now = OffsetDateTime::UNIX_EPOCH;
        cache.insert("a.b.c", claims(10), now);
        assert!(cache.get("a.b.c").is_some());
        assert!(cache.get("a.x.c").is_none(), "same signature, other payload: a miss");
        for i in 0..CAPACITY {
            cache.insert(&format!("t{i}"), claims(i64::try_from(i).unwrap()), now);
        }
        assert!(cache.entries.read().unwrap().len() <= CAPACITY);
        cache.clear();
        assert!(cache.get("t5").is_none());
    }
}
