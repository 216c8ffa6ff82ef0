//! Storage requirements of third-party sign-in: identity providers imported with their secrets
//! sealed, external identities linked once, accounts created just in time, and profiles that
//! follow the upstream.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use gatehouse_core::federation::{IdentityProvider, ProviderId, Provisioning, UpstreamMfa};
use gatehouse_core::ids::{TenantId, UserId};
use gatehouse_core::{Email, EmailDomain};

use crate::suite::{NOW, audit_entry, seed_directory};
use crate::*;

/// The suite tenant's (`Acme Oy`, `acme.test`) OpenID Connect provider `corp`.
pub fn corp_provider(issuer: &str) -> IdentityProvider {
    let domains = vec![EmailDomain::parse("acme.test").unwrap()];
    let provider = IdentityProvider::new_oidc(TenantId::new("ignored: the import sets it"), ProviderId::parse("corp").unwrap(), issuer, "gatehouse", domains);
    IdentityProvider { name: "Acme staff".into(), upstream_mfa: UpstreamMfa::IfAsserted, provisioning: Provisioning::Jit, ..provider }
}

fn import(provider: IdentityProvider, secret: Option<&str>) -> ImportPlan {
    ImportPlan {
        identity_providers: vec![ProviderPlan { tenant_name: "Acme Oy".into(), provider, client_secret: secret.map(str::to_owned) }],
        ..Default::default()
    }
}

fn identity(subject: &str) -> ExternalIdentity {
    ExternalIdentity { provider: "t-acme/corp".into(), issuer: "https://login.acme.test".into(), subject: subject.into() }
}

pub async fn identity_providers_are_imported_with_their_secret_sealed_and_updated_in_place(store: &dyn Store) {
    seed_directory(store).await;
    let provider = corp_provider("https://login.acme.test");
    let summary = store.apply_import(&import(provider.clone(), Some("s3cret")), NOW).await.unwrap();
    assert_eq!(summary.updated, 1, "the provider is written");
    let stored = store.identity_providers().await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].provider.tenant_id, TenantId::new("t-acme"), "bound to the named tenant");
    assert_eq!(stored[0].provider.key(), "t-acme/corp");
    assert_eq!(stored[0].client_secret.as_deref(), Some("s3cret"));
    assert!(!format!("{:?}", stored[0]).contains("s3cret"), "Debug never prints the secret");

    let again = store.apply_import(&import(provider.clone(), Some("s3cret")), NOW).await.unwrap();
    assert_eq!((again.updated, again.unchanged), (0, 1), "the same file changes nothing");
    store.apply_import(&import(IdentityProvider { name: "Acme people".into(), ..provider.clone() }, None), NOW).await.unwrap();
    let renamed = &store.identity_providers().await.unwrap()[0];
    assert_eq!((renamed.provider.name.as_str(), renamed.client_secret.as_deref()), ("Acme people", Some("s3cret")), "no secret keeps the stored one");
    store.apply_import(&import(provider.clone(), Some("rotated")), NOW).await.unwrap();
    assert_eq!(store.identity_providers().await.unwrap()[0].client_secret.as_deref(), Some("rotated"));

    let nowhere =
        ImportPlan { identity_providers: vec![ProviderPlan { tenant_name: "No Such Oy".into(), provider, client_secret: None }], ..Default::default() };
    assert!(matches!(store.apply_import(&nowhere, NOW).await, Err(StoreError::Conflict(_))), "a provider needs its tenant");
}

pub async fn an_external_identity_is_linked_once(store: &dyn Store) {
    seed_directory(store).await;
    let alice = UserId::new("u-alice");
    assert_eq!(store.linked_user(&identity("s-1")).await.unwrap(), None);
    assert!(!store.has_linked_identity(&alice).await.unwrap());
    let before = store.audit_records(0, 1000).await.unwrap().len();
    store.link_identity(&identity("s-1"), &alice, NOW, &audit_entry("user.identity.link")).await.unwrap();
    assert_eq!(store.linked_user(&identity("s-1")).await.unwrap(), Some(alice.clone()));
    assert!(store.has_linked_identity(&alice).await.unwrap());
    assert_eq!(store.audit_records(0, 1000).await.unwrap().len(), before + 1, "the link is audited in its transaction");
    let twice = store.link_identity(&identity("s-1"), &alice, NOW, &audit_entry("user.identity.link")).await;
    assert!(matches!(twice, Err(StoreError::Conflict(_))), "an identity links one account");
    let second = store.link_identity(&identity("s-2"), &alice, NOW, &audit_entry("user.identity.link")).await;
    assert!(matches!(second, Err(StoreError::Conflict(_))), "one identity per provider and account, even when two race to link");
    let ghost = store.link_identity(&identity("s-2"), &UserId::new("u-none"), NOW, &audit_entry("user.identity.link")).await;
    assert!(matches!(ghost, Err(StoreError::Conflict(_))), "no account, no link");
    assert_eq!(store.audit_records(0, 1000).await.unwrap().len(), before + 1, "refused links audit nothing");
    let other_issuer = ExternalIdentity { issuer: "https://evil.test".into(), ..identity("s-1") };
    assert_eq!(store.linked_user(&other_issuer).await.unwrap(), None, "the issuer is part of the identity");
    assert_eq!(store.linked_identities(&alice).await.unwrap(), [identity("s-1")]);

    assert_eq!(store.unlink_identities(&alice, "t-acme/other", &audit_entry("user.identity.unlink")).await.unwrap(), 0, "another provider's");
    let records = store.audit_records(0, 1000).await.unwrap().len();
    assert_eq!(store.unlink_identities(&alice, "t-acme/corp", &audit_entry("user.identity.unlink")).await.unwrap(), 1);
    assert_eq!(store.audit_records(0, 1000).await.unwrap().len(), records + 1, "the unlink is audited in its transaction");
    assert_eq!(store.linked_user(&identity("s-1")).await.unwrap(), None);
    assert!(!store.has_linked_identity(&alice).await.unwrap());
}

pub async fn a_just_in_time_account_is_created_linked_and_only_once(store: &dyn Store) {
    seed_directory(store).await;
    let new = NewLinkedUser {
        id: UserId::new("u-jit"),
        tenant_id: TenantId::new("t-acme"),
        email: Email::parse("jit@acme.test").unwrap(),
        name: "Jit Person".into(),
        email_verified: true,
    };
    let generation = store.generation().await.unwrap();
    store.create_linked_user(&new, &identity("s-jit"), NOW, &audit_entry("user.create")).await.unwrap();
    assert!(store.generation().await.unwrap() > generation, "caches reload");
    let user = store.user_by_email(&new.email).await.unwrap().unwrap();
    assert_eq!((user.id.as_str(), user.tenant_id.as_str(), user.name.as_str()), ("u-jit", "t-acme", "Jit Person"));
    assert!(user.password_hash.is_none() && user.roles.is_empty() && user.email_verified);
    assert_eq!(store.linked_user(&identity("s-jit")).await.unwrap(), Some(UserId::new("u-jit")));
    // A racing first sign-in of the same person finds the email (or the identity) taken.
    let racer = NewLinkedUser { id: UserId::new("u-jit-2"), ..new.clone() };
    assert!(matches!(store.create_linked_user(&racer, &identity("s-jit"), NOW, &audit_entry("user.create")).await, Err(StoreError::Conflict(_))));
    let other_email = NewLinkedUser { id: UserId::new("u-jit-3"), email: Email::parse("jit3@acme.test").unwrap(), ..new };
    assert!(matches!(store.create_linked_user(&other_email, &identity("s-jit"), NOW, &audit_entry("user.create")).await, Err(StoreError::Conflict(_))));
    assert!(store.user(&UserId::new("u-jit-3")).await.unwrap().is_none(), "rolled back with the link");
}

pub async fn a_linked_profile_follows_the_upstream_but_never_takes_anothers_email(store: &dyn Store) {
    seed_directory(store).await;
    let new = NewLinkedUser {
        id: UserId::new("u-jit"),
        tenant_id: TenantId::new("t-acme"),
        email: Email::parse("jit@acme.test").unwrap(),
        name: "Jit".into(),
        email_verified: false,
    };
    store.create_linked_user(&new, &identity("s-jit"), NOW, &audit_entry("user.create")).await.unwrap();
    assert!(!store.user(&new.id).await.unwrap().unwrap().email_verified, "created as the upstream said");
    store.refresh_linked_profile(&new.id, &new.email, "Jit Renamed", NOW).await.unwrap();
    assert!(!store.user(&new.id).await.unwrap().unwrap().email_verified, "the same address stays as it was");
    let renamed = Email::parse("jit.person@acme.test").unwrap();
    assert!(store.refresh_linked_profile(&new.id, &renamed, "Jit Person", NOW).await.unwrap());
    let user = store.user(&new.id).await.unwrap().unwrap();
    assert_eq!((user.email.as_str(), user.name.as_str()), ("jit.person@acme.test", "Jit Person"));
    assert!(user.email_verified, "a new address comes verified by the upstream");
    assert!(store.user_by_email(&renamed).await.unwrap().is_some(), "found by its new address");
    let alices = Email::parse("alice@acme.test").unwrap();
    store.refresh_linked_profile(&new.id, &alices, "Jit P.", NOW).await.unwrap();
    let user = store.user(&new.id).await.unwrap().unwrap();
    assert_eq!((user.email.as_str(), user.name.as_str()), ("jit.person@acme.test", "Jit P."), "Alice's address stays Alice's");
    assert_eq!(store.user_by_email(&alices).await.unwrap().unwrap().id.as_str(), "u-alice");
}

pub async fn a_saml_assertion_is_accepted_once_until_it_expires(store: &dyn Store) {
    let until = NOW + time::Duration::minutes(5);
    assert!(store.first_use_of_assertion("t-acme/adfs", "_a1", until, NOW).await.unwrap(), "the first use");
    assert!(!store.first_use_of_assertion("t-acme/adfs", "_a1", until, NOW).await.unwrap(), "a replay is refused");
    assert!(store.first_use_of_assertion("t-acme/other", "_a1", until, NOW).await.unwrap(), "another provider's ID is its own");
    let later = until + time::Duration::seconds(1);
    assert!(store.first_use_of_assertion("t-acme/adfs", "_a2", later + time::Duration::minutes(5), later).await.unwrap());
    // Past its expiry the record is dropped; the assertion itself is refused by its own
    // NotOnOrAfter long before it could be presented again.
    assert!(store.first_use_of_assertion("t-acme/adfs", "_a1", later + time::Duration::minutes(5), later).await.unwrap());
}

pub async fn a_provider_saved_through_the_api_keeps_its_secret_when_none_is_given_and_goes_with_its_links(store: &dyn Store) {
    seed_directory(store).await;
    let tenant = TenantId::new("t-acme");
    let provider = IdentityProvider { tenant_id: tenant.clone(), via_api: true, ..corp_provider("https://login.acme.test") };
    assert!(store.save_identity_provider(&provider, Some("first"), NOW, &audit_entry("tenant.identity_provider.create")).await.unwrap(), "created");
    let renamed = IdentityProvider { name: "Renamed".into(), ..provider.clone() };
    assert!(!store.save_identity_provider(&renamed, None, NOW, &audit_entry("tenant.identity_provider.update")).await.unwrap(), "replaced");
    let stored = store.identity_providers().await.unwrap();
    assert_eq!((stored[0].provider.name.as_str(), stored[0].client_secret.as_deref()), ("Renamed", Some("first")), "no secret given: kept");
    assert!(stored[0].provider.via_api);
    // The store keeps a secret only for the issuer and client id it was given for.
    let elsewhere = IdentityProvider { upstream: corp_provider("https://evil.test").upstream, ..provider.clone() };
    assert!(matches!(store.save_identity_provider(&elsewhere, None, NOW, &audit_entry("x")).await, Err(StoreError::Conflict(_))));
    // Turned into a SAML provider, it keeps no secret.
    let saml = IdentityProvider {
        upstream: gatehouse_core::federation::Upstream::Saml(gatehouse_core::federation::SamlUpstream {
            entity_id: "https://idp.acme.test".into(),
            metadata: "<md:EntityDescriptor/>".into(),
            metadata_url: None,
            email_attribute: None,
            name_attribute: None,
            allow_idp_initiated: false,
        }),
        ..renamed.clone()
    };
    assert!(!store.save_identity_provider(&saml, None, NOW, &audit_entry("x")).await.unwrap());
    assert_eq!(store.identity_providers().await.unwrap()[0].client_secret, None, "the secret went with the protocol");
    store.save_identity_provider(&renamed, Some("first"), NOW, &audit_entry("x")).await.unwrap();
    // A second provider on the same domain is refused.
    let rival = IdentityProvider { id: ProviderId::parse("rival").unwrap(), ..provider.clone() };
    assert!(matches!(store.save_identity_provider(&rival, None, NOW, &audit_entry("x")).await, Err(StoreError::Conflict(_))));

    let alice = UserId::new("u-alice");
    store.link_identity(&identity("s-1"), &alice, NOW, &audit_entry("user.identity.link")).await.unwrap();
    assert!(store.delete_identity_provider("t-acme/corp", &audit_entry("tenant.identity_provider.delete")).await.unwrap());
    assert!(store.identity_providers().await.unwrap().is_empty());
    assert_eq!(store.linked_user(&identity("s-1")).await.unwrap(), None, "its links went with it");
    assert!(!store.delete_identity_provider("t-acme/corp", &audit_entry("x")).await.unwrap(), "nothing left to delete");
}
