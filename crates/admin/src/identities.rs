//! A tenant's identity providers as its admins see them (from import files or the admin API,
//! whose writes are `identity_providers`'s; read here with the values to register at each), and the external identities linked to a person:
//! listed, linked by hand (after a refused federated sign-in: the login history names the
//! provider, issuer and subject), unlinked. Every change is audited; a client secret is never
//! shown, and audit records name no upstream subject.

use gatehouse_api::identities::{IdentityProvider as ProviderBody, IdentityProviderList, LinkedIdentity, LinkedIdentityList, NewLink, SamlRegistration};
use gatehouse_core::federation::{IdentityProvider, ProviderId, UpstreamMfa};
use gatehouse_core::model::Tenant;
use gatehouse_store::{ExternalIdentity, StoreError, StoredProvider};
use serde_json::json;

use crate::caller::{Caller, Origin};
use crate::context::Admin;
use crate::error::{AdminError, Result};

/// The longest issuer or subject a link may name.
const MAX_LINK_FIELD: usize = 255;

fn snake<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

/// What an admin should know about a provider's settings.
fn warnings(provider: &IdentityProvider) -> Vec<String> {
    let mut warnings = Vec::new();
    if provider.upstream_mfa == UpstreamMfa::Always {
        warnings.push(
            "upstream_mfa is \"always\": every sign-in through this provider counts as multi-factor, whether or not the provider asked for a second factor"
                .to_owned(),
        );
    }
    if provider.required && provider.break_glass.is_empty() {
        warnings.push("the provider is required and names no break-glass account: while it is down, nobody on its domains can sign in".to_owned());
    }
    warnings
}

/// What a provider registers of Gatehouse: the OpenID Connect redirect URI, the SAML entityID
/// and ACS (all under the issuer, the same for every provider).
#[derive(Clone, Debug)]
pub struct Registration {
    pub redirect_uri: String,
    pub sp_entity_id: String,
    pub acs_url: String,
}

/// A provider as the API shows it, with the values to register at it.
pub fn provider_body(stored: &StoredProvider, registration: &Registration) -> ProviderBody {
    let provider = &stored.provider;
    let oidc = provider.oidc();
    let saml = provider.saml().map(|saml| SamlRegistration {
        sp_entity_id: registration.sp_entity_id.clone(),
        acs_url: registration.acs_url.clone(),
        idp_entity_id: saml.entity_id.clone(),
        metadata_url: saml.metadata_url.clone(),
        email_attribute: saml.email_attribute.clone(),
        name_attribute: saml.name_attribute.clone(),
        allow_idp_initiated: saml.allow_idp_initiated,
    });
    ProviderBody {
        id: provider.id.to_string(),
        key: provider.key(),
        name: provider.name.clone(),
        protocol: if provider.saml().is_some() { "saml" } else { "oidc" }.to_owned(),
        preset: snake(&provider.preset),
        issuer: provider.upstream_issuer().to_owned(),
        client_id: oidc.map(|o| o.client_id.clone()).unwrap_or_default(),
        client_secret_set: stored.client_secret.is_some(),
        domains: provider.domains.iter().map(|d| d.as_str().to_owned()).collect(),
        upstream_mfa: snake(&provider.upstream_mfa),
        provisioning: snake(&provider.provisioning),
        mfa_acr_values: provider.mfa_acr_values.clone(),
        required: provider.required,
        break_glass: provider.break_glass.iter().map(|e| e.as_str().to_owned()).collect(),
        redirect_uri: registration.redirect_uri.clone(),
        saml,
        via_api: provider.via_api,
        warnings: warnings(provider),
    }
}

fn link_field<'a>(name: &str, value: &'a str) -> Result<&'a str> {
    if value.is_empty() || value.chars().count() > MAX_LINK_FIELD || value.chars().any(char::is_control) {
        return Err(AdminError::bad_request(format!("{name} must be 1 to {MAX_LINK_FIELD} characters, none of them control characters")));
    }
    Ok(value)
}

impl Admin<'_> {
    /// The tenant's identity providers, with what each registers of Gatehouse.
    pub async fn identity_providers(&self, tenant: &Tenant, registration: &Registration) -> Result<IdentityProviderList> {
        let all = self.store.identity_providers().await?;
        let identity_providers = all.iter().filter(|p| p.provider.tenant_id == tenant.id).map(|p| provider_body(p, registration)).collect();
        Ok(IdentityProviderList { identity_providers })
    }

    /// The external identities linked to a person the caller may manage.
    pub async fn identities_of(&self, caller: &Caller, id: &str) -> Result<LinkedIdentityList> {
        let user = self.user_for(caller, id).await?;
        let identities = self.store.linked_identities(&user.id).await?;
        Ok(LinkedIdentityList {
            identities: identities.into_iter().map(|i| LinkedIdentity { provider: i.provider, issuer: i.issuer, subject: i.subject }).collect(),
        })
    }

    /// Links an identity at one of the person's tenant's providers to them, by hand: the
    /// issuer must be the provider's, the identity linked to nobody, and the person linked to
    /// no other identity of that provider.
    pub async fn link_identity(&self, caller: &Caller, origin: &Origin, id: &str, request: NewLink) -> Result<LinkedIdentity> {
        let user = self.user_for(caller, id).await?;
        let provider_id = ProviderId::parse(&request.provider).map_err(|e| AdminError::bad_request(format!("provider: {e}")))?;
        let key = format!("{}/{provider_id}", user.tenant_id);
        let providers = self.store.identity_providers().await?;
        let provider = providers.iter().find(|p| p.provider.key() == key).ok_or(AdminError::NotFound("no such identity provider in the person's tenant"))?;
        let issuer = link_field("issuer", &request.issuer)?;
        let subject = link_field("subject", &request.subject)?;
        if provider.provider.upstream_issuer() != issuer {
            return Err(AdminError::bad_request("issuer is not the provider's issuer"));
        }
        if self.store.linked_identities(&user.id).await?.iter().any(|i| i.provider == key) {
            return Err(AdminError::conflict("the person is already linked to an identity of this provider: unlink it first"));
        }
        let identity = ExternalIdentity { provider: key.clone(), issuer: issuer.to_owned(), subject: subject.to_owned() };
        let audit = caller
            .audit(origin, self.now, "user.identity.link", format!("user:{}", user.id), None, Some(json!({ "provider": key, "by": "admin" })))
            .in_tenant(user.tenant_id.as_str());
        match self.store.link_identity(&identity, &user.id, self.now, &audit).await {
            Err(StoreError::Conflict(_)) => Err(AdminError::conflict("this identity is already linked to an account")),
            other => {
                other?;
                Ok(LinkedIdentity { provider: identity.provider, issuer: identity.issuer, subject: identity.subject })
            }
        }
    }

    /// Unlinks the person's identities of one of their tenant's providers (by its id).
    pub async fn unlink_identity(&self, caller: &Caller, origin: &Origin, id: &str, provider: &str) -> Result<()> {
        let user = self.user_for(caller, id).await?;
        let provider_id = ProviderId::parse(provider).map_err(|e| AdminError::bad_request(format!("provider: {e}")))?;
        let key = format!("{}/{provider_id}", user.tenant_id);
        let audit = caller
            .audit(origin, self.now, "user.identity.unlink", format!("user:{}", user.id), Some(json!({ "provider": key })), None)
            .in_tenant(user.tenant_id.as_str());
        if self.store.unlink_identities(&user.id, &key, &audit).await? == 0 {
            return Err(AdminError::NotFound("the person has no identity of this provider"));
        }
        Ok(())
    }
}
