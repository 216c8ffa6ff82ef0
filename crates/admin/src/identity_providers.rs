//! A tenant's identity providers written through the admin API (tenant admins for their
//! tenant, operators for every tenant): created or replaced whole from the settings an import
//! file takes, deleted with the identities linked through them. The client secret is
//! write-only; every change is audited (without the secret or the metadata document).
//!
//! What reaches the network is the server's: it fetches a SAML provider's metadata URL (public
//! addresses only) and checks an OpenID Connect issuer's discovery before calling here.

use gatehouse_api::identities::{IdentityProvider as ProviderBody, ProviderSettings};
use gatehouse_core::federation::{
    ASYMMETRIC_ALGS, DEFAULT_SCOPES, IdentityProvider, OidcUpstream, Preset, ProviderId, Provisioning, SamlUpstream, Upstream, UpstreamMfa,
    default_mfa_acr_values, preset_issuer,
};
use gatehouse_core::model::Tenant;
use gatehouse_core::{Email, EmailDomain};
use gatehouse_store::{StoreError, StoredProvider};
use serde_json::{Value, json};

use crate::caller::{Caller, Origin};
use crate::context::Admin;
use crate::error::{AdminError, Result};
use crate::identities::{Registration, provider_body};

/// The longest client secret accepted.
const MAX_SECRET: usize = 1024;

fn bad(message: impl Into<String>) -> AdminError {
    AdminError::bad_request(message.into())
}

/// A snake-case setting (`if_asserted`) read as its enum.
fn named<T: serde::de::DeserializeOwned + Default>(field: &str, value: Option<&String>) -> Result<T> {
    match value {
        None => Ok(T::default()),
        Some(text) => serde_json::from_value(Value::String(text.clone())).map_err(|_| bad(format!("{field}: unknown value `{text}`"))),
    }
}

/// The OpenID Connect part of the settings, with what the preset fills in.
fn oidc(settings: &ProviderSettings, preset: Preset) -> Result<OidcUpstream> {
    let saml_only = settings.metadata.is_some() || settings.metadata_url.is_some() || settings.email_attribute.is_some() || settings.name_attribute.is_some();
    if saml_only || settings.allow_idp_initiated.is_some() {
        return Err(bad("metadata, attribute and IdP-initiated settings are for protocol \"saml\""));
    }
    let directory = settings.directory_id.as_deref().map(str::trim).filter(|d| !d.is_empty()).map(str::to_owned);
    if preset == Preset::Entra && directory.is_none() {
        return Err(bad("directory_id: an Entra ID provider needs its directory (tenant) id"));
    }
    let issuer =
        settings.issuer.clone().or_else(|| preset_issuer(preset, directory.as_deref())).ok_or_else(|| bad("issuer: give the provider's issuer URL"))?;
    let client_id = settings.client_id.clone().ok_or_else(|| bad("client_id: an OpenID Connect provider needs its client_id"))?;
    let algorithms = settings.algorithms.clone().unwrap_or_else(|| vec!["RS256".to_owned(), "ES256".to_owned()]);
    if let Some(bad_alg) = algorithms.iter().find(|a| !ASYMMETRIC_ALGS.contains(&a.as_str())) {
        return Err(bad(format!("algorithms: `{bad_alg}` is not among {}", ASYMMETRIC_ALGS.join(", "))));
    }
    let scopes = settings.scopes.clone().unwrap_or_else(|| DEFAULT_SCOPES.iter().map(|s| (*s).to_owned()).collect());
    Ok(OidcUpstream { issuer, client_id, scopes, allowed_tenant_ids: directory.into_iter().collect(), algorithms })
}

/// The SAML part: `metadata` is the provider's document (pasted, or fetched by the server
/// from `metadata_url`), parsed here and its signing certificate pinned.
fn saml(settings: &ProviderSettings, metadata: Option<String>) -> Result<SamlUpstream> {
    let oidc_only = [&settings.issuer, &settings.directory_id, &settings.client_id, &settings.client_secret];
    if oidc_only.iter().any(|s| s.is_some()) || settings.scopes.is_some() || settings.algorithms.is_some() {
        return Err(bad("issuer, directory_id, client, scopes and algorithm settings are for OpenID Connect; a SAML provider gives metadata or metadata_url"));
    }
    let metadata = metadata.ok_or_else(|| bad("a SAML provider needs its metadata: metadata or metadata_url"))?;
    let parsed = gatehouse_federation::saml::IdpMetadata::parse(&metadata).map_err(|e| bad(format!("metadata: {e}")))?;
    Ok(SamlUpstream {
        entity_id: parsed.entity_id,
        metadata,
        metadata_url: settings.metadata_url.clone(),
        email_attribute: settings.email_attribute.clone(),
        name_attribute: settings.name_attribute.clone(),
        allow_idp_initiated: settings.allow_idp_initiated.unwrap_or(false),
    })
}

/// Builds tenant `tenant`'s provider `id` from its API settings (pure: `saml_metadata` is the
/// document the server read for a SAML provider).
pub fn provider_from_settings(tenant: &Tenant, id: &str, settings: &ProviderSettings, saml_metadata: Option<String>) -> Result<IdentityProvider> {
    let id = ProviderId::parse(id).map_err(|e| bad(format!("id: {e}")))?;
    let preset: Preset = named("preset", settings.preset.as_ref())?;
    let upstream = match settings.protocol.as_deref() {
        None | Some("oidc") => Upstream::Oidc(oidc(settings, preset)?),
        Some("saml") => Upstream::Saml(saml(settings, saml_metadata)?),
        Some(other) => return Err(bad(format!("protocol: unknown protocol `{other}` (known: oidc, saml)"))),
    };
    let mut domains = Vec::new();
    for raw in &settings.domains {
        let domain = EmailDomain::parse(raw).map_err(|e| bad(format!("domains: {e}")))?;
        if !domains.contains(&domain) {
            domains.push(domain);
        }
    }
    let break_glass = settings.break_glass.iter().map(|e| Email::parse(e).map_err(|err| bad(format!("break_glass: {err}")))).collect::<Result<Vec<_>>>()?;
    let mfa_acr_values = if settings.mfa_acr_values.is_empty() { default_mfa_acr_values(preset) } else { settings.mfa_acr_values.clone() };
    let provider = IdentityProvider {
        tenant_id: tenant.id.clone(),
        id,
        name: settings.name.trim().to_owned(),
        upstream,
        domains,
        upstream_mfa: named::<UpstreamMfa>("upstream_mfa", settings.upstream_mfa.as_ref())?,
        provisioning: named::<Provisioning>("provisioning", settings.provisioning.as_ref())?,
        preset,
        mfa_acr_values,
        required: settings.required,
        break_glass,
        via_api: true,
    };
    provider.validate(&tenant.domains).map_err(|e| bad(e.to_string()))?;
    Ok(provider)
}

/// What the audit trail keeps of a provider: every setting (the client id, the break-glass
/// accounts, the MFA values, the algorithms...) except the secret and the metadata document.
fn audited(provider: &IdentityProvider, secret_set: bool, secret_changed: bool) -> Value {
    let mut settings = serde_json::to_value(provider).unwrap_or(Value::Null);
    if let Some(upstream) = settings.get_mut("upstream").and_then(Value::as_object_mut) {
        // The document stays out; the certificates it pins (the trust anchor) go in.
        upstream.remove("metadata");
        if let Some(saml) = provider.saml() {
            let pinned = gatehouse_federation::saml::IdpMetadata::parse(&saml.metadata).map(|m| m.certificate_fingerprints()).unwrap_or_default();
            upstream.insert("signing_certificates_sha256".into(), json!(pinned));
        }
    }
    json!({ "provider": settings, "client_secret_set": secret_set, "client_secret_changed": secret_changed })
}

/// The OpenID Connect endpoint a stored secret belongs to: the issuer and the client id.
fn secret_owner(provider: &IdentityProvider) -> Option<(&str, &str)> {
    provider.oidc().map(|o| (o.issuer.as_str(), o.client_id.as_str()))
}

impl Admin<'_> {
    /// Creates or replaces the tenant's provider; true when it was created. An OpenID Connect
    /// provider needs a client secret when created; a replacement without one keeps it.
    pub async fn save_identity_provider(
        &self,
        caller: &Caller,
        origin: &Origin,
        provider: IdentityProvider,
        client_secret: Option<String>,
        registration: &Registration,
    ) -> Result<(ProviderBody, bool)> {
        if client_secret.as_deref().is_some_and(|s| s.is_empty() || s.len() > MAX_SECRET) {
            return Err(bad(format!("client_secret must be 1 to {MAX_SECRET} bytes")));
        }
        let key = provider.key();
        let before = self.store.identity_providers().await?.into_iter().find(|p| p.provider.key() == key);
        if provider.oidc().is_some() && client_secret.is_none() && before.as_ref().is_none_or(|b| b.client_secret.is_none()) {
            return Err(bad("client_secret: Gatehouse is a confidential client of the provider: give its client secret"));
        }
        // A kept secret goes only where it went before: to another issuer or as another client
        // it would hand the old secret to whoever runs the new endpoint.
        if client_secret.is_none()
            && provider.oidc().is_some()
            && before.as_ref().is_some_and(|b| b.client_secret.is_some() && secret_owner(&b.provider) != secret_owner(&provider))
        {
            return Err(bad("client_secret: a new issuer or client_id needs the client secret again (the stored one is never sent elsewhere)"));
        }
        // A SAML provider keeps no secret (the store drops one left from an OpenID Connect past).
        let secret_set = provider.oidc().is_some() && (client_secret.is_some() || before.as_ref().is_some_and(|b| b.client_secret.is_some()));
        let action = if before.is_some() { "tenant.identity_provider.update" } else { "tenant.identity_provider.create" };
        let audit = caller
            .audit(
                origin,
                self.now,
                action,
                format!("identity_provider:{key}"),
                before.as_ref().map(|b| audited(&b.provider, b.client_secret.is_some(), false)),
                Some(audited(&provider, secret_set, client_secret.is_some())),
            )
            .in_tenant(provider.tenant_id.as_str());
        let created = match self.store.save_identity_provider(&provider, client_secret.as_deref(), self.now, &audit).await {
            Err(StoreError::Conflict(message)) => return Err(AdminError::conflict(message)),
            other => other?,
        };
        let stored = StoredProvider { provider, client_secret: secret_set.then(String::new) };
        Ok((provider_body(&stored, registration), created))
    }

    /// Deletes the tenant's provider and the identities linked through it.
    pub async fn delete_identity_provider(&self, caller: &Caller, origin: &Origin, tenant: &Tenant, id: &str) -> Result<()> {
        let id = ProviderId::parse(id).map_err(|e| bad(format!("id: {e}")))?;
        let key = format!("{}/{id}", tenant.id);
        let before =
            self.store.identity_providers().await?.into_iter().find(|p| p.provider.key() == key).ok_or(AdminError::NotFound("no such identity provider"))?;
        let audit = caller
            .audit(
                origin,
                self.now,
                "tenant.identity_provider.delete",
                format!("identity_provider:{key}"),
                Some(audited(&before.provider, before.client_secret.is_some(), false)),
                None,
            )
            .in_tenant(tenant.id.as_str());
        if !self.store.delete_identity_provider(&key, &audit).await? {
            return Err(AdminError::NotFound("no such identity provider"));
        }
        Ok(())
    }
}
