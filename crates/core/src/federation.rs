//! Third-party sign-in: a tenant's own identity providers (its Entra ID, Google Workspace, Okta
//! or ADFS), what each is trusted for, and the rules that are pure: which provider an email's
//! domain is bound to, which upstream URLs are acceptable, what the presets fill in.
//!
//! The provider's client secret is not here: it is sealed in the store and handed to the
//! upstream client only when a code is exchanged.

use serde::{Deserialize, Serialize};
use std::fmt;
use url::Url;

use crate::EmailDomain;
use crate::ids::TenantId;

/// A provider's id, unique in its tenant: `[a-z0-9-]`, 1 to 40 characters.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ProviderId(String);

impl ProviderId {
    pub fn parse(input: &str) -> Result<Self, FederationError> {
        let ok = !input.is_empty() && input.len() <= 40 && input.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if ok { Ok(Self(input.to_owned())) } else { Err(FederationError::Invalid("id must be 1 to 40 of a-z, 0-9 and -".into())) }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ProviderId {
    type Error = FederationError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<ProviderId> for String {
    fn from(value: ProviderId) -> Self {
        value.0
    }
}

impl fmt::Display for ProviderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether the provider's own multi-factor proof stands in for Gatehouse's second factor.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpstreamMfa {
    /// Gatehouse asks its own second factor wherever the policy wants one.
    #[default]
    Never,
    /// The provider's proof counts when it asserts one (`amr`, or an `acr` on the list).
    IfAsserted,
    /// The provider is trusted to enforce it on every sign-in (the console warns).
    Always,
}

/// What a first sign-in of an unknown person does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Provisioning {
    /// Creates the account (just in time), for an email on one of the provider's domains.
    Jit,
    /// Signs in only accounts that already exist.
    #[default]
    Existing,
}

/// A known kind of provider, which fills in what it needs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Preset {
    #[default]
    Generic,
    /// Microsoft Entra ID (Azure AD, Office 365): a tenant-specific issuer, `tid` on an
    /// allow-list, identity keyed on `tid` + `oid`, the `email` claim never proof of ownership.
    Entra,
    /// Google Workspace: `hd` must be one of the provider's domains.
    Google,
    Okta,
    /// Active Directory Federation Services over OpenID Connect.
    Adfs,
}

/// The OpenID Connect settings of an upstream provider.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OidcUpstream {
    /// The issuer, exactly as its ID tokens name it; discovery at
    /// `issuer/.well-known/openid-configuration`.
    pub issuer: String,
    pub client_id: String,
    /// Scopes asked for besides `openid` (default `email profile`).
    pub scopes: Vec<String>,
    /// Entra ID: the directory (tenant) ids whose people may sign in here.
    #[serde(default)]
    pub allowed_tenant_ids: Vec<String>,
    /// Signing algorithms accepted on its ID tokens (asymmetric only).
    pub algorithms: Vec<String>,
}

/// The SAML 2.0 settings of an upstream identity provider. Its signing certificates are pinned
/// from `metadata`: a provider whose metadata names none cannot be saved. Answers are taken in
/// response to a request Gatehouse sent; an unsolicited one (IdP-initiated) only where
/// `allow_idp_initiated`, and then only to start such a request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SamlUpstream {
    /// The IdP's entityID, as its metadata names it (the `Issuer` of its answers).
    pub entity_id: String,
    /// The IdP's metadata document, as imported (at most [`MAX_SAML_METADATA`] bytes).
    pub metadata: String,
    /// Where the metadata was fetched from, when it came from a URL (shown to the admin).
    #[serde(default)]
    pub metadata_url: Option<String>,
    /// The attribute carrying the email; the `NameID` when `None`.
    #[serde(default)]
    pub email_attribute: Option<String>,
    /// The attribute carrying the display name (ADFS's and Entra's claim URIs are known).
    #[serde(default)]
    pub name_attribute: Option<String>,
    /// Whether an unsolicited answer (IdP-initiated sign-in, from the provider's portal) is
    /// taken: verified, it starts a sign-in of this browser's at the provider for the person.
    #[serde(default)]
    pub allow_idp_initiated: bool,
}

/// The largest SAML metadata document a provider may have.
pub const MAX_SAML_METADATA: usize = 256 * 1024;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "protocol", rename_all = "snake_case")]
pub enum Upstream {
    Oidc(OidcUpstream),
    Saml(SamlUpstream),
}

/// A tenant's identity provider: where its people on `domains` sign in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityProvider {
    pub tenant_id: TenantId,
    pub id: ProviderId,
    /// Shown on the sign-in page.
    pub name: String,
    pub upstream: Upstream,
    /// Home-realm discovery: emails on these domains (the tenant's own) sign in here.
    pub domains: Vec<EmailDomain>,
    pub upstream_mfa: UpstreamMfa,
    pub provisioning: Provisioning,
    pub preset: Preset,
    /// `acr` values that prove multi-factor authentication at the provider.
    #[serde(default)]
    pub mfa_acr_values: Vec<String>,
    /// Password sign-in is refused for accounts on the provider's domains, except `break_glass`.
    #[serde(default)]
    pub required: bool,
    /// Accounts (emails) that may still sign in with a password when the provider is required.
    #[serde(default)]
    pub break_glass: Vec<crate::Email>,
    /// Set up through the admin API: its URLs were typed by an admin, not read from the
    /// operator's import file, and Gatehouse reaches them only on public addresses unless the
    /// operator allows private networks (`[federation] allow_private_networks`).
    #[serde(default)]
    pub via_api: bool,
}

impl IdentityProvider {
    /// An OpenID Connect provider of `tenant_id` with the defaults an import file gives: no
    /// preset, the provider's MFA never counted, only existing accounts, RS256 and ES256, the
    /// scopes `email profile`, not required.
    pub fn new_oidc(tenant_id: TenantId, id: ProviderId, issuer: &str, client_id: &str, domains: Vec<EmailDomain>) -> Self {
        Self {
            tenant_id,
            name: id.to_string(),
            id,
            upstream: Upstream::Oidc(OidcUpstream {
                issuer: issuer.to_owned(),
                client_id: client_id.to_owned(),
                scopes: DEFAULT_SCOPES.iter().map(|s| (*s).to_owned()).collect(),
                allowed_tenant_ids: Vec::new(),
                algorithms: vec!["RS256".to_owned(), "ES256".to_owned()],
            }),
            domains,
            upstream_mfa: UpstreamMfa::default(),
            provisioning: Provisioning::default(),
            preset: Preset::default(),
            mfa_acr_values: Vec::new(),
            required: false,
            break_glass: Vec::new(),
            via_api: false,
        }
    }

    /// `TENANT_ID/PROVIDER_ID`: the provider's name across the instance (`idp_hint`, the `idp`
    /// claim, the login history).
    pub fn key(&self) -> String {
        format!("{}/{}", self.tenant_id, self.id)
    }

    pub fn oidc(&self) -> Option<&OidcUpstream> {
        match &self.upstream {
            Upstream::Oidc(oidc) => Some(oidc),
            Upstream::Saml(_) => None,
        }
    }

    pub fn saml(&self) -> Option<&SamlUpstream> {
        match &self.upstream {
            Upstream::Saml(saml) => Some(saml),
            Upstream::Oidc(_) => None,
        }
    }

    /// The upstream issuer its identities are keyed under: the OIDC issuer or the SAML
    /// entityID.
    pub fn upstream_issuer(&self) -> &str {
        match &self.upstream {
            Upstream::Oidc(oidc) => &oidc.issuer,
            Upstream::Saml(saml) => &saml.entity_id,
        }
    }

    /// Whether password sign-in is refused for this email (the provider is required for its
    /// domain and the account is not a named break-glass account).
    pub fn refuses_password_for(&self, email: &crate::Email) -> bool {
        // Addresses compare as accounts do (by their key), so `ADMIN@` is the break-glass `admin@`.
        self.required && self.domains.contains(&email.domain()) && !self.break_glass.iter().any(|e| e.key() == email.key())
    }

    /// Checks what only the whole provider can tell: its domains are the tenant's own, its
    /// issuer is a URL Gatehouse may reach, its preset has what it needs.
    pub fn validate(&self, tenant_domains: &[EmailDomain]) -> Result<(), FederationError> {
        if self.name.trim().is_empty() || self.name.len() > 100 {
            return Err(FederationError::Invalid("name must be 1 to 100 characters".into()));
        }
        if self.name.chars().any(|c| c.is_control() || is_bidi_control(c)) {
            return Err(FederationError::Invalid("name must not hold control or bidirectional-override characters".into()));
        }
        if self.domains.is_empty() {
            return Err(FederationError::Invalid("domains: a provider needs at least one of the tenant's domains".into()));
        }
        if let Some(foreign) = self.domains.iter().find(|d| !tenant_domains.contains(d)) {
            return Err(FederationError::Invalid(format!("domains: `{foreign}` is not one of the tenant's domains")));
        }
        if let Some(outside) = self.break_glass.iter().find(|e| !tenant_domains.contains(&e.domain())) {
            return Err(FederationError::Invalid(format!("break_glass: `{outside}` is not on the tenant's domains")));
        }
        let oidc = match &self.upstream {
            Upstream::Oidc(oidc) => oidc,
            Upstream::Saml(saml) => return self.validate_saml(saml),
        };
        upstream_url(&oidc.issuer)?;
        if oidc.client_id.is_empty() || oidc.client_id.len() > 255 {
            return Err(FederationError::Invalid("client_id must be 1 to 255 characters".into()));
        }
        if oidc.scopes.len() > 20 || oidc.scopes.iter().any(|scope| !scope_token(scope)) {
            return Err(FederationError::Invalid("scopes: at most 20, each an RFC 6749 scope token (no spaces or quotes)".into()));
        }
        if oidc.allowed_tenant_ids.iter().any(|id| id.is_empty() || id.len() > 64 || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')) {
            return Err(FederationError::Invalid("directory_id: an Entra directory id is a GUID or a domain name".into()));
        }
        if oidc.algorithms.is_empty() || oidc.algorithms.iter().any(|a| !ASYMMETRIC_ALGS.contains(&a.as_str())) {
            return Err(FederationError::Invalid(format!("algorithms must be among {}", ASYMMETRIC_ALGS.join(", "))));
        }
        if self.preset == Preset::Entra {
            if oidc.allowed_tenant_ids.is_empty() {
                return Err(FederationError::Invalid("an Entra ID provider needs its directory (tenant) id".into()));
            }
            if ["common", "organizations", "consumers"].iter().any(|m| oidc.issuer.contains(&format!("/{m}/"))) {
                return Err(FederationError::Invalid("an Entra ID issuer must name one directory, not common/organizations/consumers".into()));
            }
        }
        Ok(())
    }
}

impl IdentityProvider {
    /// What can be checked of a SAML provider without parsing its metadata (the federation
    /// crate parses it and pins its certificates before it is saved).
    fn validate_saml(&self, saml: &SamlUpstream) -> Result<(), FederationError> {
        if saml.entity_id.trim().is_empty() || saml.entity_id.len() > 1024 {
            return Err(FederationError::Invalid("the SAML entityID must be 1 to 1024 characters".into()));
        }
        if saml.metadata.len() > MAX_SAML_METADATA {
            return Err(FederationError::Invalid(format!("SAML metadata must be at most {MAX_SAML_METADATA} bytes")));
        }
        if matches!(self.preset, Preset::Entra | Preset::Google | Preset::Okta) {
            return Err(FederationError::Invalid("over SAML only the adfs preset applies (Entra ID, Google and Okta presets are OpenID Connect)".into()));
        }
        for attribute in [&saml.email_attribute, &saml.name_attribute].into_iter().flatten() {
            if attribute.is_empty() || attribute.len() > 255 {
                return Err(FederationError::Invalid("attribute names must be 1 to 255 characters".into()));
            }
        }
        if let Some(url) = &saml.metadata_url {
            upstream_url(url)?;
        }
        Ok(())
    }
}

/// RFC 6749 §3.3: `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`, at most 100 characters.
fn scope_token(scope: &str) -> bool {
    !scope.is_empty() && scope.len() <= 100 && scope.bytes().all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
}

/// Characters that reorder, break or hide text around them (a name on a button must read as
/// written): bidi controls, line and paragraph separators, zero-width space and BOM.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200b}' | '\u{200e}' | '\u{200f}' | '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{061c}' | '\u{feff}')
}

/// The JWS algorithms an upstream ID token may be signed with: asymmetric only.
pub const ASYMMETRIC_ALGS: [&str; 9] = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA"];

/// Entra ID's (and ADFS's) `AuthnContextClassRef` / `acr` of a sign-in with multi-factor
/// authentication: counted by default for those presets.
pub const MICROSOFT_MULTIPLE_AUTHN: &str = "http://schemas.microsoft.com/claims/multipleauthn";

/// The `acr` values a preset counts as the provider's multi-factor authentication when none
/// are configured.
pub fn default_mfa_acr_values(preset: Preset) -> Vec<String> {
    match preset {
        Preset::Entra | Preset::Adfs => vec![MICROSOFT_MULTIPLE_AUTHN.to_owned()],
        Preset::Generic | Preset::Google | Preset::Okta => Vec::new(),
    }
}

/// Default scopes asked of an upstream besides `openid`.
pub const DEFAULT_SCOPES: [&str; 2] = ["email", "profile"];

/// An upstream URL Gatehouse may call: `https://`, or plain `http://` only to a loopback
/// address (development and tests); no user info, no fragment.
pub fn upstream_url(input: &str) -> Result<Url, FederationError> {
    let url = Url::parse(input).map_err(|_| FederationError::Invalid(format!("`{input}` is not a URL")))?;
    if !url.username().is_empty() || url.password().is_some() || url.fragment().is_some() {
        return Err(FederationError::Invalid(format!("`{input}` must not carry credentials or a fragment")));
    }
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback_host(&url) => Ok(url),
        "http" => Err(FederationError::Invalid(format!("`{input}`: plain http is allowed only for loopback addresses"))),
        _ => Err(FederationError::Invalid(format!("`{input}` must be an https URL"))),
    }
}

fn is_loopback_host(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name == "localhost",
        None => false,
    }
}

/// The issuer a preset implies, when the preset knows it: Google's is fixed, Entra's names the
/// directory.
pub fn preset_issuer(preset: Preset, entra_tenant_id: Option<&str>) -> Option<String> {
    match preset {
        Preset::Google => Some("https://accounts.google.com".to_owned()),
        Preset::Entra => entra_tenant_id.map(|tid| format!("https://login.microsoftonline.com/{tid}/v2.0")),
        Preset::Generic | Preset::Okta | Preset::Adfs => None,
    }
}

/// Whether an address is one an admin-typed upstream URL may reach without the operator's
/// leave: not loopback, private (RFC 1918, unique local), link-local (cloud metadata at
/// 169.254.169.254), shared (100.64/10), unspecified, multicast, broadcast, documentation or
/// reserved; an IPv4-mapped IPv6 address is judged as its IPv4 address.
pub fn is_public_address(address: std::net::IpAddr) -> bool {
    use std::net::IpAddr;
    match address {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0 && v4.octets()[2] == 0)
                || (a == 198 && (18..20).contains(&b))
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_address(IpAddr::V4(v4));
            }
            let segments = v6.segments();
            let embedded = |high: u16, low: u16| std::net::Ipv4Addr::from((u32::from(high) << 16) | u32::from(low));
            match segments {
                // IPv4-compatible (::a.b.c.d) and SIIT (::ffff:0:a.b.c.d): the IPv4 address decides.
                [0, 0, 0, 0, 0, 0, high, low] | [0, 0, 0, 0, 0xffff, 0, high, low] => return is_public_address(IpAddr::V4(embedded(high, low))),
                // 6to4 carries an IPv4 address in its prefix.
                [0x2002, high, low, ..] => return is_public_address(IpAddr::V4(embedded(high, low))),
                // Teredo (its client address obfuscated) and the discard-only prefix: never.
                [0x2001, 0, ..] | [0x0100, 0, 0, 0, ..] => return false,
                _ => {}
            }
            let first = segments[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || first == 0x2001 && v6.segments()[1] == 0x0db8
                || first == 0x0064 && v6.segments()[1] == 0xff9b)
        }
    }
}

/// The provider bound to an email domain, among the providers of the domain's tenant.
pub fn provider_for_domain<'a>(providers: &'a [IdentityProvider], domain: &EmailDomain) -> Option<&'a IdentityProvider> {
    providers.iter().find(|p| p.domains.contains(domain))
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FederationError {
    #[error("{0}")]
    Invalid(String),
}

#[cfg(test)]
mod tests;
