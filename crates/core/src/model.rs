//! The domain model: tenants own email domains, users belong to tenants through their email.

use gatehouse_policy::DomainPolicy;

use crate::ids::{TenantId, UserId};
use crate::{Email, EmailDomain};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tenant {
    pub id: TenantId,
    pub name: String,
    pub domains: Vec<EmailDomain>,
    /// The domain policy every user on the tenant's domains is bound by.
    pub policy: DomainPolicy,
    /// A candidate policy in report-only mode: decided beside the current one and recorded,
    /// never enforced.
    pub staged_policy: Option<DomainPolicy>,
    /// Set when the customer's contract ended: nobody on its domains can sign in, and its data
    /// is deleted at `deletion_due` unless it is reinstated first.
    pub termination: Option<Termination>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Termination {
    pub at: time::OffsetDateTime,
    pub deletion_due: time::OffsetDateTime,
}

impl Tenant {
    pub fn is_active(&self) -> bool {
        self.termination.is_none()
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub tenant_id: TenantId,
    pub email: Email,
    pub name: String,
    /// PHC string (`$argon2id$...`).
    pub password_hash: Option<String>,
    pub roles: Vec<String>,
    /// Imported users on a tenant's verified domain count as verified.
    pub email_verified: bool,
    /// A sign-in was reported as not theirs: the next sign-in needs a fresh second factor and
    /// a new password.
    pub credentials_reset_required: bool,
    /// While a reset is pending, when the earliest reported sign-in happened: second factors
    /// created since then may be the intruder's, so they are not asked for and the completed
    /// reset removes them.
    pub credentials_reset_since: Option<time::OffsetDateTime>,
}

impl User {
    /// Whether a factor created at `created_at` is one the person may rely on: always, unless
    /// a reset is pending and the factor appeared after the reported sign-in.
    pub fn trusts_factor_from(&self, created_at: time::OffsetDateTime) -> bool {
        !self.credentials_reset_required || self.credentials_reset_since.is_none_or(|since| created_at < since)
    }
}
