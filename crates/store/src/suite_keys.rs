//! Storage requirements of keys: token-signing keys rotate (published before they sign, retired
//! as their successor activates, pruned when their tokens are gone), and one SAML service-provider
//! key is active however many nodes make one at once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use gatehouse_core::SigningAlg;
use time::{Duration, OffsetDateTime};

use crate::suite::{NOW, audit_entry};
use crate::*;

pub async fn key_rotation_retires_the_previous_key(store: &dyn Store) {
    let key = |kid: &str, at: OffsetDateTime, activates: OffsetDateTime| StoredKey {
        kid: kid.into(),
        alg: SigningAlg::ES256,
        pkcs8: vec![1, 2, 3],
        created_at: at,
        activates_at: activates,
        retired_at: None,
    };
    let signing = |keys: &[StoredKey], at: OffsetDateTime| keys.iter().filter(|k| k.signs_at(at)).map(|k| k.kid.clone()).collect::<Vec<_>>();
    store.rotate_signing_keys(&[key("k1", NOW, NOW)], &audit_entry("key.rotate")).await.unwrap();
    // k2 is published a day later and signs an hour after that; k1 signs until then.
    let day = NOW + Duration::days(1);
    store.rotate_signing_keys(&[key("k2", day, day + Duration::hours(1))], &audit_entry("key.rotate")).await.unwrap();
    let keys = store.signing_keys().await.unwrap();
    assert_eq!(keys.len(), 2);
    assert_eq!(signing(&keys, day), vec!["k1"]);
    assert!(keys.iter().any(|k| k.kid == "k2" && k.is_pending(day)));
    assert_eq!(signing(&keys, day + Duration::hours(1)), vec!["k2"]);
    assert_eq!(store.prune_signing_keys(NOW + Duration::days(2)).await.unwrap(), 1);
    assert_eq!(store.signing_keys().await.unwrap().len(), 1);
}

pub async fn one_saml_sp_key_is_active_though_two_nodes_create_one_at_once(store: &dyn Store) {
    let key = |kid: &str| SamlSpKey { kid: kid.into(), pkcs8: vec![1, 2, 3], certificate: vec![4, 5], created_at: NOW, retired_at: None };
    assert!(store.saml_sp_keys().await.unwrap().is_empty());
    assert!(store.add_saml_sp_key(&key("sp-1"), &audit_entry("saml.sp_key.generate")).await.unwrap(), "the first key");
    assert!(!store.add_saml_sp_key(&key("sp-2"), &audit_entry("saml.sp_key.generate")).await.unwrap(), "a second active key is not added");
    let keys = store.saml_sp_keys().await.unwrap();
    assert_eq!(keys, vec![key("sp-1")], "kept as written");
    let trail = store.audit_records(0, 100).await.unwrap();
    assert_eq!(trail.iter().filter(|r| r.entry.action == "saml.sp_key.generate").count(), 1, "only the key that was added is audited");
}
