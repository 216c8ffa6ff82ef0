//! `[[tenant.identity_provider]]` in import files: a tenant's own identity provider, checked
//! and filled in by its preset, with its client secret inline or read from a file.

use anyhow::Result;
use gatehouse_core::federation::{
    ASYMMETRIC_ALGS, DEFAULT_SCOPES, IdentityProvider, OidcUpstream, Preset, ProviderId, Provisioning, Upstream, UpstreamMfa, preset_issuer,
};
use gatehouse_core::ids::TenantId;
use gatehouse_core::{Email, EmailDomain};
use gatehouse_store::ProviderPlan;
use serde::Deserialize;
use std::collections::HashSet;
use toml::Spanned;

use crate::import_spans::Validator;

/// Entra ID's claim of a sign-in with multi-factor authentication, as ADFS sends it too.
const MICROSOFT_MULTIPLE_AUTHN: &str = "http://schemas.microsoft.com/claims/multipleauthn";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProviderEntry {
    id: Spanned<String>,
    name: Spanned<String>,
    /// `oidc` (the default). SAML 2.0 providers are not supported yet.
    protocol: Option<Spanned<String>>,
    preset: Option<Spanned<Preset>>,
    issuer: Option<Spanned<String>>,
    /// Entra ID: the directory (tenant) id; gives the issuer and the `tid` allow-list.
    directory_id: Option<Spanned<String>>,
    client_id: Spanned<String>,
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
}

/// What the tenant's providers so far have taken: their ids and the domains they are bound to
/// (a domain signs in at one provider).
#[derive(Default)]
pub(crate) struct Taken {
    ids: HashSet<String>,
    domains: HashSet<EmailDomain>,
}

/// Validates one provider of tenant `tenant_name` (owning `domains`).
pub(crate) fn plan(v: &Validator<'_>, entry: &ProviderEntry, tenant_name: &str, domains: &[EmailDomain], taken: &mut Taken) -> Result<ProviderPlan> {
    let field = |name: &str| format!("tenant.identity_provider.{name}");
    let id = ProviderId::parse(entry.id.get_ref()).map_err(|e| v.error(&entry.id, &field("id"), e.to_string()))?;
    if !taken.ids.insert(id.to_string()) {
        return Err(v.error(&entry.id, &field("id"), format!("provider `{id}` appears twice in this tenant")).into());
    }
    if let Some(protocol) = &entry.protocol {
        match protocol.get_ref().as_str() {
            "oidc" => {}
            "saml" => {
                return Err(v
                    .error(protocol, &field("protocol"), "SAML 2.0 providers are not supported yet; use the provider's OpenID Connect endpoint")
                    .into());
            }
            other => return Err(v.error(protocol, &field("protocol"), format!("unknown protocol `{other}` (known: oidc)")).into()),
        }
    }
    let preset = entry.preset.as_ref().map(|p| *p.get_ref()).unwrap_or_default();
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
            return Err(v
                .error(&entry.client_id, &field("client_secret"), "Gatehouse is a confidential client: give client_secret or client_secret_file")
                .into());
        }
    };
    if client_secret.as_deref().is_some_and(str::is_empty) {
        return Err(v.error(&entry.client_id, &field("client_secret"), "must not be empty").into());
    }
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
    let list = |values: &Option<Vec<Spanned<String>>>, default: &[&str]| -> Vec<String> {
        values.as_ref().map_or_else(|| default.iter().map(|s| (*s).to_owned()).collect(), |l| l.iter().map(|s| s.get_ref().clone()).collect())
    };
    let mut mfa_acr_values: Vec<String> = entry.mfa_acr_values.iter().map(|s| s.get_ref().clone()).collect();
    if mfa_acr_values.is_empty() && matches!(preset, Preset::Entra | Preset::Adfs) {
        mfa_acr_values.push(MICROSOFT_MULTIPLE_AUTHN.to_owned());
    }
    if let Some(bad) = entry.algorithms.iter().flatten().find(|a| !ASYMMETRIC_ALGS.contains(&a.get_ref().as_str())) {
        return Err(v.error(bad, &field("algorithms"), format!("must be among {}", ASYMMETRIC_ALGS.join(", "))).into());
    }
    let provider = IdentityProvider {
        // The store binds the provider to the tenant named by the plan.
        tenant_id: TenantId::new(""),
        id,
        name: entry.name.get_ref().trim().to_owned(),
        upstream: Upstream::Oidc(OidcUpstream {
            issuer,
            client_id: entry.client_id.get_ref().clone(),
            scopes: list(&entry.scopes, &DEFAULT_SCOPES),
            allowed_tenant_ids: directory.into_iter().collect(),
            algorithms: list(&entry.algorithms, &["RS256", "ES256"]),
        }),
        domains: provider_domains,
        upstream_mfa: entry.upstream_mfa.as_ref().map(|m| *m.get_ref()).unwrap_or_default(),
        provisioning: entry.provisioning.as_ref().map(|p| *p.get_ref()).unwrap_or_default(),
        preset,
        mfa_acr_values,
        required: entry.required,
        break_glass,
    };
    provider.validate(domains).map_err(|e| v.error(&entry.id, "tenant.identity_provider", e.to_string()))?;
    Ok(ProviderPlan { tenant_name: tenant_name.to_owned(), provider, client_secret })
}
