//! A sign-in at a tenant's own identity provider, once the provider's answer verified: which
//! Gatehouse account it is (an identity already linked, an existing account to link, a new
//! account to create just in time) or why none, and what it proved for the 2FA policy. Pure:
//! the caller read the link and the account, and writes what this decides.
//!
//! An external identity is (provider, upstream issuer, upstream subject), never an email: an
//! email links an existing account only when the provider is bound to its domain and the
//! upstream vouches for the address.

use gatehouse_core::Email;
use gatehouse_core::federation::{IdentityProvider, Provisioning, UpstreamMfa};
use gatehouse_core::ids::UserId;
use gatehouse_core::model::User;

/// Who the upstream says signed in (see `gatehouse_federation::UpstreamIdentity`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vouched<'a> {
    pub issuer: &'a str,
    pub subject: &'a str,
    pub email: Option<&'a Email>,
    pub email_verified: bool,
}

/// What the sign-in is, for Gatehouse's accounts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resolution {
    /// The identity is linked to this account.
    Linked(UserId),
    /// Link the identity to this existing account, then sign it in.
    LinkExisting(UserId),
    /// Create an account for this email in the provider's tenant, linked to the identity.
    Create(Email),
    Refuse(Refusal),
}

/// Why a verified identity signs in to no account. For the admin (history, audit); the
/// browser gets one generic page.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the provider sent no usable email address")]
    NoEmail,
    #[error("the email's domain is not bound to this provider")]
    DomainNotBound,
    #[error("the account belongs to another tenant")]
    OtherTenant,
    #[error("an account with this email exists and the provider did not verify the email: an admin must link it")]
    UnverifiedEmail,
    #[error("no account exists and the provider signs in only existing accounts")]
    NoAccount,
    #[error("the linked account belongs to another tenant")]
    LinkedElsewhere,
    #[error("the account with this email is already linked to another external identity: an admin must link it")]
    AccountLinkedToAnother,
    #[error("the account with this email never had its address verified: an admin must link it")]
    AccountUnverified,
}

impl Refusal {
    /// A short code for the history and the audit trail.
    pub fn code(self) -> &'static str {
        match self {
            Self::NoEmail => "no_email",
            Self::DomainNotBound => "domain_not_bound",
            Self::OtherTenant => "other_tenant",
            Self::UnverifiedEmail => "unverified_email",
            Self::NoAccount => "no_account",
            Self::LinkedElsewhere => "linked_elsewhere",
            Self::AccountLinkedToAnother => "account_linked_to_another",
            Self::AccountUnverified => "account_unverified",
        }
    }
}

/// The account holding the upstream's email, with what decides whether it may be linked by it.
#[derive(Clone, Copy, Debug)]
pub struct ByEmail<'a> {
    pub user: &'a User,
    /// The account already has an external identity (of any provider): it belongs to that
    /// identity, and a second one claiming the same address is not the same person by that alone.
    pub already_linked: bool,
}

/// Decides which account a verified identity signs in to. `linked` is the account the identity
/// is linked to (with its tenant), `by_email` the account holding the upstream's email.
///
/// An email links an existing account only when all of these hold: the provider is bound to
/// the address's domain, the upstream verified the address, the account's own address was
/// verified (an account a provider created with an unverified address is nobody's by email),
/// and no other external identity is linked to it (an account created or claimed by one
/// identity is never taken over by another claiming its address).
pub fn resolve(provider: &IdentityProvider, vouched: &Vouched<'_>, linked: Option<&User>, by_email: Option<ByEmail<'_>>) -> Resolution {
    if let Some(user) = linked {
        if user.tenant_id != provider.tenant_id {
            return Resolution::Refuse(Refusal::LinkedElsewhere);
        }
        return Resolution::Linked(user.id.clone());
    }
    let Some(email) = vouched.email else {
        return Resolution::Refuse(Refusal::NoEmail);
    };
    // The provider speaks only for its own domains: an address elsewhere, even one of the
    // tenant's other domains, is refused.
    if !provider.domains.contains(&email.domain()) {
        return Resolution::Refuse(Refusal::DomainNotBound);
    }
    match by_email {
        Some(found) if found.user.tenant_id != provider.tenant_id => Resolution::Refuse(Refusal::OtherTenant),
        Some(_) if !vouched.email_verified => Resolution::Refuse(Refusal::UnverifiedEmail),
        Some(found) if found.already_linked => Resolution::Refuse(Refusal::AccountLinkedToAnother),
        Some(found) if !found.user.email_verified => Resolution::Refuse(Refusal::AccountUnverified),
        Some(found) => Resolution::LinkExisting(found.user.id.clone()),
        None if provider.provisioning == Provisioning::Jit => Resolution::Create(email.clone()),
        None => Resolution::Refuse(Refusal::NoAccount),
    }
}

/// Whether the provider's multi-factor proof stands in for Gatehouse's second factor.
pub fn mfa_trusted(provider: &IdentityProvider, asserted: bool) -> bool {
    match provider.upstream_mfa {
        UpstreamMfa::Never => false,
        UpstreamMfa::IfAsserted => asserted,
        UpstreamMfa::Always => true,
    }
}

/// Whether, when the policy wants a second factor the provider did not prove, Gatehouse should
/// first ask the provider for it (a step-up trip) rather than its own factor: only for a
/// provider whose proof counts when asserted, and only once per sign-in.
pub fn ask_provider_first(provider: &IdentityProvider, already_asked: bool) -> bool {
    provider.upstream_mfa == UpstreamMfa::IfAsserted && !already_asked
}

#[cfg(test)]
mod tests;
