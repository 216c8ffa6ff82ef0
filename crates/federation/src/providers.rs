//! The tenants' identity providers in memory: by key (`TENANT_ID/PROVIDER_ID`) and by the
//! email domains they are bound to (home-realm discovery), swapped whole on a reload so a
//! sign-in never reads half an update.

use gatehouse_core::EmailDomain;
use gatehouse_core::federation::IdentityProvider;
use gatehouse_store::{FederationStore, StoreError, StoredProvider};

use crate::saml::{IdpMetadata, MetadataError};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// One provider with its client secret (OpenID Connect) or its parsed metadata (SAML).
pub struct Provider {
    pub config: IdentityProvider,
    client_secret: Option<String>,
    /// A SAML provider's metadata, or why it is no longer accepted (the provider stays bound
    /// to its domains: its people get "unavailable", never a password step it would refuse).
    saml: Option<Result<IdpMetadata, MetadataError>>,
}

impl Provider {
    pub fn client_secret(&self) -> Option<&str> {
        self.client_secret.as_deref()
    }

    /// A SAML provider's metadata, parsed once when the providers were loaded; `None` for an
    /// OpenID Connect provider or a SAML one whose metadata is no longer accepted.
    pub fn saml_metadata(&self) -> Option<&IdpMetadata> {
        self.saml.as_ref()?.as_ref().ok()
    }
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider").field("key", &self.config.key()).finish_non_exhaustive()
    }
}

#[derive(Default)]
struct Snapshot {
    by_key: HashMap<String, Arc<Provider>>,
    by_domain: HashMap<EmailDomain, Arc<Provider>>,
}

/// The providers, reloaded from the store when the generation changes.
#[derive(Default)]
pub struct Providers {
    current: RwLock<Arc<Snapshot>>,
}

impl Providers {
    fn snapshot(&self) -> Arc<Snapshot> {
        self.current.read().map(|s| Arc::clone(&s)).unwrap_or_default()
    }

    /// Replaces the providers with what the store holds.
    pub async fn reload(&self, store: &dyn FederationStore) -> Result<(), StoreError> {
        let stored = store.identity_providers().await?;
        self.replace(stored);
        Ok(())
    }

    /// Replaces the providers (a reload, or a test's fixture).
    pub fn replace(&self, stored: Vec<StoredProvider>) {
        let mut next = Snapshot::default();
        for StoredProvider { provider, client_secret } in stored {
            let saml = provider.saml().map(|s| IdpMetadata::parse(&s.metadata));
            if let Some(Err(error)) = &saml {
                // Checked when it was saved: only a change of Gatehouse's rules gets here.
                tracing::warn!(provider = %provider.key(), %error, "a SAML provider's metadata is no longer accepted; its sign-ins fail until it is saved again");
            }
            let provider = Arc::new(Provider { config: provider, client_secret, saml });
            for domain in &provider.config.domains {
                next.by_domain.insert(domain.clone(), Arc::clone(&provider));
            }
            next.by_key.insert(provider.config.key(), provider);
        }
        if let Ok(mut current) = self.current.write() {
            *current = Arc::new(next);
        }
    }

    /// The provider named `TENANT_ID/PROVIDER_ID`.
    pub fn get(&self, key: &str) -> Option<Arc<Provider>> {
        self.snapshot().by_key.get(key).cloned()
    }

    /// The provider an email domain is bound to (home-realm discovery).
    pub fn for_domain(&self, domain: &EmailDomain) -> Option<Arc<Provider>> {
        self.snapshot().by_domain.get(domain).cloned()
    }

    /// The SAML providers that take unsolicited answers from the IdP `entity_id` (an answer
    /// names its issuer, not the tenant: several tenants may share one IdP).
    pub fn taking_unsolicited_from(&self, entity_id: &str) -> Vec<Arc<Provider>> {
        self.snapshot()
            .by_key
            .values()
            .filter(|p| p.config.saml().is_some_and(|s| s.allow_idp_initiated && s.entity_id == entity_id) && p.saml_metadata().is_some())
            .cloned()
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.snapshot().by_key.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_core::federation::ProviderId;
    use gatehouse_core::ids::TenantId;

    fn stored(tenant: &str, id: &str, domain: &str) -> StoredProvider {
        let domains = vec![EmailDomain::parse(domain).unwrap()];
        let provider = IdentityProvider::new_oidc(TenantId::new(tenant), ProviderId::parse(id).unwrap(), "https://login.test", "c", domains);
        StoredProvider { provider, client_secret: Some("secret".into()) }
    }

    #[test]
    fn providers_are_found_by_key_and_by_bound_domain_and_replaced_whole() {
        let providers = Providers::default();
        assert!(providers.is_empty());
        providers.replace(vec![stored("t1", "corp", "fed.test"), stored("t2", "corp", "other.test")]);
        assert_eq!(providers.get("t1/corp").unwrap().client_secret(), Some("secret"));
        assert_eq!(providers.for_domain(&EmailDomain::parse("other.test").unwrap()).unwrap().config.key(), "t2/corp");
        assert!(providers.for_domain(&EmailDomain::parse("nobody.test").unwrap()).is_none());
        providers.replace(vec![stored("t1", "corp", "fed.test")]);
        assert!(providers.get("t2/corp").is_none(), "a removed provider is gone");
        assert!(!format!("{:?}", providers.get("t1/corp").unwrap()).contains("secret"));
    }

    #[test]
    fn a_saml_provider_whose_metadata_is_no_longer_accepted_stays_bound_to_its_domains() {
        let mut broken = stored("t1", "adfs", "fed.test");
        broken.provider.upstream = gatehouse_core::federation::Upstream::Saml(gatehouse_core::federation::SamlUpstream {
            entity_id: "https://idp.test".into(),
            metadata: "<md:EntityDescriptor xmlns:md='urn:oasis:names:tc:SAML:2.0:metadata' entityID='https://idp.test'/>".into(),
            metadata_url: None,
            email_attribute: None,
            name_attribute: None,
            allow_idp_initiated: false,
        });
        let providers = Providers::default();
        providers.replace(vec![broken]);
        let found = providers.for_domain(&EmailDomain::parse("fed.test").unwrap()).expect("still bound: no fall-back to passwords");
        assert!(found.saml_metadata().is_none(), "and unusable");
    }
}
