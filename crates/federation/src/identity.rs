//! Who the upstream says signed in, read under the provider's preset: the stable subject an
//! external identity is keyed on, the email and whether it is proof of ownership, and whether
//! the provider asserted multi-factor authentication.

use gatehouse_core::Email;
use gatehouse_core::federation::{IdentityProvider, Preset};

use crate::oidc::{IdTokenClaims, Rejection};

/// `amr` values (RFC 8176) that mean the provider used more than a password.
const MULTI_FACTOR_AMR: [&str; 9] = ["mfa", "hwk", "swk", "otp", "sms", "sc", "fpt", "face", "iris"];

/// An identity the upstream vouched for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpstreamIdentity {
    /// The upstream issuer, exactly.
    pub issuer: String,
    /// The subject in that issuer: `sub`, or for Entra ID `tid:oid`.
    pub subject: String,
    pub email: Option<Email>,
    /// Whether the upstream's email is proof that the person owns the address.
    pub email_verified: bool,
    pub name: Option<String>,
    /// The provider asserted multi-factor authentication (`amr`, or an `acr` on the list).
    pub mfa_asserted: bool,
    /// The first method the provider names (`pwd`, `hwk`...), for Gatehouse's own `amr`.
    pub first_method: Option<String>,
}

/// Reads the identity from verified claims, with the preset's own checks.
pub fn from_oidc(provider: &IdentityProvider, claims: IdTokenClaims) -> Result<UpstreamIdentity, Rejection> {
    let oidc = provider.oidc().ok_or(Rejection::Claims)?;
    let mut subject = claims.sub.clone();
    let mut email_verified = claims.email_verified();
    let mut email_claim = claims.email.clone();
    match provider.preset {
        Preset::Entra => {
            let tid = claims.tid.as_deref().filter(|t| oidc.allowed_tenant_ids.iter().any(|a| a == t)).ok_or(Rejection::Directory)?;
            let oid = claims.oid.as_deref().filter(|o| !o.is_empty()).ok_or(Rejection::ObjectId)?;
            subject = format!("{tid}:{oid}");
            // Entra lets a directory's admins set `email` to any address: never proof.
            email_verified = false;
            email_claim = email_claim.or_else(|| claims.preferred_username.clone());
        }
        Preset::Google => {
            let hd = claims.hd.as_deref().ok_or(Rejection::HostedDomain)?;
            if !provider.domains.iter().any(|d| d.as_str() == hd.to_ascii_lowercase()) {
                return Err(Rejection::HostedDomain);
            }
        }
        Preset::Adfs => {
            // The company's own directory: the domain binding is the proof (as for SAML).
            email_claim = email_claim.or_else(|| claims.upn.clone());
            email_verified = true;
        }
        Preset::Okta | Preset::Generic => {}
    }
    let email = email_claim.as_deref().filter(|e| plain_address(e)).and_then(|e| Email::parse(e).ok());
    let mfa_asserted = claims.amr.iter().any(|m| MULTI_FACTOR_AMR.contains(&m.as_str()))
        || claims.acr.as_deref().is_some_and(|acr| provider.mfa_acr_values.iter().any(|a| a == acr));
    let first_method = claims.amr.iter().find(|m| m.as_str() != "mfa").cloned();
    let name = claims.name.clone().filter(|n| !n.trim().is_empty() && n.len() <= 200);
    Ok(UpstreamIdentity { issuer: claims.iss, subject, email, email_verified, name, mfa_asserted, first_method })
}

/// Whether an upstream's address is a plain one (RFC 5322 dot-atom local part, ASCII): Unicode
/// case folding would make distinct addresses one account (`Kevin@` with a Kelvin sign is
/// `kevin@`), and quotes or comments (`"alice"@`, `alice(x)@`) would make one mailbox several
/// accounts, where an application normalising addresses sees one person.
pub(crate) fn plain_address(address: &str) -> bool {
    let Some((local, _)) = address.rsplit_once('@') else { return false };
    let atext = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~-".contains(c);
    address.is_ascii() && !local.is_empty() && local.split('.').all(|part| !part.is_empty() && part.chars().all(atext))
}

#[cfg(test)]
mod tests;
