//! The domain model: tenants own email domains, users belong to tenants through their email.

use crate::ids::{TenantId, UserId};
use crate::{Email, EmailDomain};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tenant {
    pub id: TenantId,
    pub name: String,
    pub domains: Vec<EmailDomain>,
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
}
