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
    /// The redirect URI to register at the provider (the same for every provider).
    pub redirect_uri: String,
    /// What an admin should know about the settings (a provider trusted for MFA it may not
    /// enforce, a required provider without a break-glass account).
    pub warnings: Vec<String>,
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
