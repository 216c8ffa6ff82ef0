//! Revoked grants and access tokens, in memory, so validating a token needs no database round
//! trip. Written through when something is revoked here, replaced whole on every reload.

use gatehouse_core::ids::GrantId;
use std::collections::HashSet;
use std::sync::RwLock;

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
    pub(crate) fn replace(&self, revocations: gatehouse_store::Revocations) {
        if let Ok(mut set) = self.grants.write() {
            *set = revocations.grant_ids.into_iter().collect();
        }
        if let Ok(mut set) = self.access_tokens.write() {
            *set = revocations.access_token_ids.into_iter().map(|(jti, _)| jti).collect();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_revoked_by_its_id_or_its_grant_and_a_reload_replaces_both() {
        let list = RevocationList::default();
        assert!(!list.is_revoked("jti-1", Some("g-1")));
        list.revoke_access_token("jti-1".into());
        list.revoke_grant(GrantId::new("g-2"));
        assert!(list.is_revoked("jti-1", None));
        assert!(list.is_revoked("jti-9", Some("g-2")));
        assert!(!list.is_revoked("jti-9", Some("g-3")));
        list.replace(gatehouse_store::Revocations { grant_ids: vec![GrantId::new("g-3")], access_token_ids: vec![] });
        assert!(!list.is_revoked("jti-1", Some("g-2")), "the store's list is the truth after a reload");
        assert!(list.is_revoked("jti-9", Some("g-3")));
    }
}
