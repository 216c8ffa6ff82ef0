//! `[[tenant.identity_provider]]` in import files: a tenant's own identity provider, checked
//! and filled in by its preset: OpenID Connect with its client secret inline or read from a
//! file, or SAML 2.0 with its metadata read from a file or fetched from its URL (bounded) and
//! parsed before anything is saved (its signing certificate pinned).

use anyhow::Result;
use gatehouse_core::federation::{
    ASYMMETRIC_ALGS, DEFAULT_SCOPES, IdentityProvider, OidcUpstream, Preset, ProviderId, Provisioning, SamlUpstream, Upstream, UpstreamMfa, preset_issuer,
};
use gatehouse_core::ids::TenantId;
use gatehouse_core::{Email, EmailDomain};
use gatehouse_store::ProviderPlan;
use serde::Deserialize;
use std::collections::HashSet;
use toml::Spanned;

use crate::import_spans::Validator;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProviderEntry {
    id: Spanned<String>,
    name: Spanned<String>,
    /// `oidc` (the default) or `saml`.
    protocol: Option<Spanned<String>>,
    preset: Option<Spanned<Preset>>,
    issuer: Option<Spanned<String>>,
    /// Entra ID: the directory (tenant) id; gives the issuer and the `tid` allow-list.
    directory_id: Option<Spanned<String>>,
    client_id: Option<Spanned<String>>,
    client_secret: Option<Spanned<String>>,
    client_secret_file: Option<Spanned<String>>,
    domains: Spanned<Vec<Spanned<String>>>,
    upstream_mfa: Option<Spanned<UpstreamMfa>>,
    provisioning: Option<Spanned<Provisioning>>,
    scopes: Option<Vec<Spanned<String>>>,
    algorithms: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    mfa_acr_values: Vec<Spanned<String>>,
    #[serde(default)]
    required: bool,
    #[serde(default)]
    break_glass: Vec<Spanned<String>>,
    /// SAML: the provider's metadata, from a file (relative to the import file) or a URL.
    metadata_file: Option<Spanned<String>>,
    metadata_url: Option<Spanned<String>>,
    /// SAML: the attributes carrying the email (the NameID by default) and the name.
    email_attribute: Option<Spanned<String>>,
    name_attribute: Option<Spanned<String>>,
    /// SAML: an unsolicited answer (IdP-initiated) starts a sign-in; refused otherwise.
    allow_idp_initiated: Option<Spanned<bool>>,
}

/// How long fetching a SAML provider's metadata may take.
const METADATA_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// What the tenant's providers so far have taken: their ids and the domains they are bound to
/// (a domain signs in at one provider).
#[derive(Default)]
pub(crate) struct Taken {
    ids: HashSet<String>,
    domains: HashSet<EmailDomain>,
}

/// Validates one provider of tenant `tenant_name` (owning `domains`).
pub(crate) async fn plan(v: &Validator<'_>, entry: &ProviderEntry, tenant_name: &str, domains: &[EmailDomain], taken: &mut Taken) -> Result<ProviderPlan> {
    let field = |name: &str| format!("tenant.identity_provider.{name}");
    let id = ProviderId::parse(entry.id.get_ref()).map_err(|e| v.error(&entry.id, &field("id"), e.to_string()))?;
    if !taken.ids.insert(id.to_string()) {
        return Err(v.error(&entry.id, &field("id"), format!("provider `{id}` appears twice in this tenant")).into());
    }
    let saml = match entry.protocol.as_ref().map(|p| (p, p.get_ref().as_str())) {
        None | Some((_, "oidc")) => false,
        Some((_, "saml")) => true,
        Some((protocol, other)) => return Err(v.error(protocol, &field("protocol"), format!("unknown protocol `{other}` (known: oidc, saml)")).into()),
    };
    let preset = entry.preset.as_ref().map(|p| *p.get_ref()).unwrap_or_default();
    let (upstream, client_secret) = if saml { (saml_upstream(v, entry).await?, None) } else { oidc_upstream(v, entry, preset)? };
    let mut provider_domains = Vec::new();
    for raw in entry.domains.get_ref() {
        let domain = EmailDomain::parse(raw.get_ref()).map_err(|e| v.error(raw, &field("domains"), e.to_string()))?;
        if !taken.domains.insert(domain.clone()) {
            return Err(v.error(raw, &field("domains"), format!("`{domain}` is bound to another provider of this tenant")).into());
        }
        provider_domains.push(domain);
    }
    let mut break_glass = Vec::new();
    for raw in &entry.break_glass {
        break_glass.push(Email::parse(raw.get_ref()).map_err(|e| v.error(raw, &field("break_glass"), e.to_string()))?);
    }
    let mut mfa_acr_values: Vec<String> = entry.mfa_acr_values.iter().map(|s| s.get_ref().clone()).collect();
    if mfa_acr_values.is_empty() {
        mfa_acr_values = gatehouse_core::federation::default_mfa_acr_values(preset);
    }
    let provider = IdentityProvider {
        // The store binds the provider to the tenant named by the plan.
        tenant_id: TenantId::new(""),
        id,
        name: entry.name.get_ref().trim().to_owned(),
        upstream,
        domains: provider_domains,
        upstream_mfa: entry.upstream_mfa.as_ref().map(|m| *m.get_ref()).unwrap_or_default(),
        provisioning: entry.provisioning.as_ref().map(|p| *p.get_ref()).unwrap_or_default(),
        preset,
        mfa_acr_values,
        required: entry.required,
        break_glass,
        via_api: false,
    };
    provider.validate(domains).map_err(|e| v.error(&entry.id, "tenant.identity_provider", e.to_string()))?;
    Ok(ProviderPlan { tenant_name: tenant_name.to_owned(), provider, client_secret })
}

/// The OpenID Connect settings and client secret of an entry.
fn oidc_upstream(v: &Validator<'_>, entry: &ProviderEntry, preset: Preset) -> Result<(Upstream, Option<String>)> {
    let field = |name: &str| format!("tenant.identity_provider.{name}");
    if let Some(saml_only) = [&entry.metadata_file, &entry.metadata_url, &entry.email_attribute, &entry.name_attribute].into_iter().flatten().next() {
        return Err(v.error(saml_only, "tenant.identity_provider", "metadata and attribute settings are for protocol = \"saml\"").into());
    }
    if let Some(saml_only) = &entry.allow_idp_initiated {
        return Err(v.error(saml_only, &field("allow_idp_initiated"), "IdP-initiated sign-in is for protocol = \"saml\"").into());
    }
    let client_id = entry.client_id.as_ref().ok_or_else(|| v.error(&entry.id, &field("client_id"), "an OpenID Connect provider needs its client_id"))?;
    let directory = entry.directory_id.as_ref().map(|d| d.get_ref().trim().to_owned());
    if preset == Preset::Entra && directory.is_none() {
        return Err(v.error(&entry.id, &field("directory_id"), "an Entra ID provider needs its directory (tenant) id").into());
    }
    let issuer = match (&entry.issuer, preset_issuer(preset, directory.as_deref())) {
        (Some(issuer), _) => issuer.get_ref().clone(),
        (None, Some(implied)) => implied,
        (None, None) => return Err(v.error(&entry.id, &field("issuer"), "give the provider's issuer URL").into()),
    };
    let client_secret = match (&entry.client_secret, &entry.client_secret_file) {
        (Some(_), Some(file)) => return Err(v.error(file, &field("client_secret_file"), "give client_secret or client_secret_file, not both").into()),
        (Some(secret), None) => Some(secret.get_ref().clone()),
        (None, Some(file)) => {
            let path = v.relative(file.get_ref());
            let text = std::fs::read_to_string(&path).map_err(|e| v.error(file, &field("client_secret_file"), format!("{}: {e}", path.display())))?;
            Some(text.trim().to_owned())
        }
        (None, None) => {
            return Err(v.error(client_id, &field("client_secret"), "Gatehouse is a confidential client: give client_secret or client_secret_file").into());
        }
    };
    if client_secret.as_deref().is_some_and(str::is_empty) {
        return Err(v.error(client_id, &field("client_secret"), "must not be empty").into());
    }
    let list = |values: &Option<Vec<Spanned<String>>>, default: &[&str]| -> Vec<String> {
        values.as_ref().map_or_else(|| default.iter().map(|s| (*s).to_owned()).collect(), |l| l.iter().map(|s| s.get_ref().clone()).collect())
    };
    if let Some(bad) = entry.algorithms.iter().flatten().find(|a| !ASYMMETRIC_ALGS.contains(&a.get_ref().as_str())) {
        return Err(v.error(bad, &field("algorithms"), format!("must be among {}", ASYMMETRIC_ALGS.join(", "))).into());
    }
    let upstream = Upstream::Oidc(OidcUpstream {
        issuer,
        client_id: client_id.get_ref().clone(),
        scopes: list(&entry.scopes, &DEFAULT_SCOPES),
        allowed_tenant_ids: directory.into_iter().collect(),
        algorithms: list(&entry.algorithms, &["RS256", "ES256"]),
    });
    Ok((upstream, client_secret))
}

/// The SAML settings of an entry: its metadata read or fetched, parsed and checked (a
/// signing certificate to pin, a SingleSignOnService Gatehouse can use).
async fn saml_upstream(v: &Validator<'_>, entry: &ProviderEntry) -> Result<Upstream> {
    let field = |name: &str| format!("tenant.identity_provider.{name}");
    let oidc_only = [&entry.issuer, &entry.directory_id, &entry.client_id, &entry.client_secret, &entry.client_secret_file];
    if let Some(setting) = oidc_only.into_iter().flatten().next() {
        return Err(v
            .error(
                setting,
                "tenant.identity_provider",
                "issuer, directory_id and client settings are for OpenID Connect; a SAML provider gives metadata_file or metadata_url",
            )
            .into());
    }
    if let Some(setting) = entry.scopes.iter().chain(&entry.algorithms).flatten().next() {
        return Err(v.error(setting, "tenant.identity_provider", "scopes and algorithms are for OpenID Connect").into());
    }
    let (metadata, metadata_url) = match (&entry.metadata_file, &entry.metadata_url) {
        (Some(file), None) => {
            let path = v.relative(file.get_ref());
            let text = std::fs::read_to_string(&path).map_err(|e| v.error(file, &field("metadata_file"), format!("{}: {e}", path.display())))?;
            (text, None)
        }
        (None, Some(url)) => {
            let text = gatehouse_federation::saml::fetch_metadata(url.get_ref(), METADATA_TIMEOUT, false)
                .await
                .map_err(|e| v.error(url, &field("metadata_url"), e.to_string()))?;
            (text, Some(url.get_ref().clone()))
        }
        (Some(_), Some(url)) => return Err(v.error(url, &field("metadata_url"), "give metadata_file or metadata_url, not both").into()),
        (None, None) => return Err(v.error(&entry.id, &field("metadata_file"), "a SAML provider needs its metadata: metadata_file or metadata_url").into()),
    };
    let at = entry.metadata_file.as_ref().or(entry.metadata_url.as_ref()).unwrap_or(&entry.id);
    let parsed = gatehouse_federation::saml::IdpMetadata::parse(&metadata).map_err(|e| v.error(at, &field("metadata"), e.to_string()))?;
    Ok(Upstream::Saml(SamlUpstream {
        entity_id: parsed.entity_id,
        metadata,
        metadata_url,
        email_attribute: entry.email_attribute.as_ref().map(|a| a.get_ref().clone()),
        name_attribute: entry.name_attribute.as_ref().map(|a| a.get_ref().clone()),
        allow_idp_initiated: entry.allow_idp_initiated.as_ref().is_some_and(|a| *a.get_ref()),
    }))
}
