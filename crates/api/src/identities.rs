//! A tenant's identity providers (`GET /api/v1/tenants/{id}/identity-providers`: what each is
//! and the values to register at it) and the external identities linked to a person
//! (`/api/v1/users/{id}/identities`: listed, linked by hand, unlinked).

use serde::{Deserialize, Serialize};

/// An identity provider as the API shows it: never its client secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityProvider {
    /// Unique in the tenant.
    pub id: String,
    /// `TENANT_ID/PROVIDER_ID`: `idp_hint`, the `idp` claim and the login history name it so.
    pub key: String,
    pub name: String,
    /// `oidc`.
    pub protocol: String,
    /// `generic`, `entra`, `google`, `okta` or `adfs`.
    pub preset: String,
    pub issuer: String,
    pub client_id: String,
    /// Whether a client secret is stored (it is never shown).
    pub client_secret_set: bool,
    pub domains: Vec<String>,
    /// `never`, `if_asserted` or `always`.
    pub upstream_mfa: String,
    /// `jit` or `existing`.
    pub provisioning: String,
    pub mfa_acr_values: Vec<String>,
    pub required: bool,
    pub break_glass: Vec<String>,
    /// The redirect URI to register at an OpenID Connect provider (the same for every one).
    pub redirect_uri: String,
    /// A SAML provider: the values to register there (Gatehouse's entityID and ACS) and where
    /// its metadata came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub saml: Option<SamlRegistration>,
    /// Set up through the admin API (its URLs reach public addresses only, unless the operator
    /// allows private networks), not from the operator's import file.
    #[serde(default)]
    pub via_api: bool,
    /// What an admin should know about the settings (a provider trusted for MFA it may not
    /// enforce, a required provider without a break-glass account).
    pub warnings: Vec<String>,
}

/// What a SAML provider registers of Gatehouse, and where its own metadata came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SamlRegistration {
    /// Gatehouse's entityID: `ISSUER/saml/metadata`, also the URL of its metadata.
    pub sp_entity_id: String,
    /// Gatehouse's AssertionConsumerService (HTTP-POST): `ISSUER/saml/acs`.
    pub acs_url: String,
    /// The provider's entityID, as its metadata names it.
    pub idp_entity_id: String,
    pub metadata_url: Option<String>,
    pub email_attribute: Option<String>,
    pub name_attribute: Option<String>,
    /// Whether the provider may start sign-ins from its own portal (IdP-initiated).
    pub allow_idp_initiated: bool,
}

/// `PUT /api/v1/tenants/{id}/identity-providers/{provider}`: a provider's whole settings, as
/// in an import file's `[[tenant.identity_provider]]` (without `id`, which is the path's).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderSettings {
    pub name: String,
    /// `oidc` (default) or `saml`.
    #[serde(default)]
    pub protocol: Option<String>,
    /// `generic` (default), `entra`, `google`, `okta` or `adfs`.
    #[serde(default)]
    pub preset: Option<String>,
    /// OpenID Connect: the issuer (discovery at `issuer/.well-known/openid-configuration`).
    #[serde(default)]
    pub issuer: Option<String>,
    /// Entra ID: the directory (tenant) id, which gives the issuer.
    #[serde(default)]
    pub directory_id: Option<String>,
    #[serde(default)]
    pub client_id: Option<String>,
    /// Write-only: never shown again. Absent on a replacement: the stored secret stays.
    #[serde(default)]
    pub client_secret: Option<String>,
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    #[serde(default)]
    pub algorithms: Option<Vec<String>>,
    /// SAML: the provider's metadata document, pasted, or its URL (fetched once, now).
    #[serde(default)]
    pub metadata: Option<String>,
    #[serde(default)]
    pub metadata_url: Option<String>,
    #[serde(default)]
    pub email_attribute: Option<String>,
    #[serde(default)]
    pub name_attribute: Option<String>,
    /// SAML: take an unsolicited answer (IdP-initiated sign-in) as the start of a sign-in.
    #[serde(default)]
    pub allow_idp_initiated: Option<bool>,
    pub domains: Vec<String>,
    /// `never` (default), `if_asserted` or `always`.
    #[serde(default)]
    pub upstream_mfa: Option<String>,
    /// `existing` (default) or `jit`.
    #[serde(default)]
    pub provisioning: Option<String>,
    #[serde(default)]
    pub mfa_acr_values: Vec<String>,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub break_glass: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityProviderList {
    pub identity_providers: Vec<IdentityProvider>,
}

/// An external identity linked to a person.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkedIdentity {
    /// `TENANT_ID/PROVIDER_ID`.
    pub provider: String,
    pub issuer: String,
    pub subject: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkedIdentityList {
    pub identities: Vec<LinkedIdentity>,
}

/// `POST /api/v1/users/{id}/identities`: link an identity by hand (the login history's refused
/// federated sign-ins name the provider, issuer and subject to link).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewLink {
    /// The provider's id in the person's tenant (not the key).
    pub provider: String,
    pub issuer: String,
    pub subject: String,
}
