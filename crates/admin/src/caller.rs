//! Who is calling, already authenticated by the edge: an operator or a tenant admin for the
//! admin API, the signed-in person for `/api/v1/me`. What each may manage is decided here; how
//! their token was checked is not (that stays in the server).

use gatehouse_core::audit::AuditEntry;
use gatehouse_core::ids::TenantId;
use gatehouse_core::model::User;
use gatehouse_policy::AuthLevel;
use serde_json::Value;
use std::net::IpAddr;
use std::sync::Arc;
use time::OffsetDateTime;

use crate::error::{AdminError, Result};

/// The role a tenant admin holds.
pub const ADMIN_ROLE: &str = "admin";
/// The role of the instance's operators.
pub const OPERATOR_ROLE: &str = "operator";

/// Where a request came from, as the audit trail records it.
#[derive(Clone, Debug)]
pub struct Origin {
    pub address: IpAddr,
    /// The browser or program, when it said (the edge bounds its length).
    pub user_agent: Option<String>,
}

impl Origin {
    /// An audit record of `action` on `target` by `actor` at `now`. A `tenant:<id>` target
    /// belongs to that tenant; callers name the tenant for other targets.
    pub fn audit(&self, actor: String, action: &str, target: String, now: OffsetDateTime) -> AuditEntry {
        AuditEntry::of_request(now.unix_timestamp(), actor, action, target, Some(self.address.to_string()), self.user_agent.clone())
    }
}

/// Who is calling the admin API.
#[derive(Clone, Debug)]
pub enum Caller {
    /// An operator application's client-credentials token (`client:<id>`), or a person with
    /// the `operator` role (`user:<id>`), e.g. in the admin console.
    Operator {
        actor: String,
    },
    TenantAdmin(Arc<User>),
}

impl Caller {
    /// The audit trail's name for the caller.
    pub fn actor(&self) -> String {
        match self {
            Self::Operator { actor } => actor.clone(),
            Self::TenantAdmin(user) => format!("user:{}", user.id),
        }
    }

    /// An audit record of a change this caller makes from `origin` at `now`.
    pub fn audit(&self, origin: &Origin, now: OffsetDateTime, action: &str, target: String, before: Option<Value>, after: Option<Value>) -> AuditEntry {
        let entry = AuditEntry { before, after, ..origin.audit(self.actor(), action, target, now) };
        match self {
            // A tenant admin's every change is within their tenant.
            Self::TenantAdmin(user) => entry.in_tenant(user.tenant_id.as_str()),
            Self::Operator { .. } => entry,
        }
    }

    /// The tenant the caller is confined to (`None`: an operator, who sees every tenant).
    pub fn scope(&self) -> Option<TenantId> {
        match self {
            Self::TenantAdmin(user) => Some(user.tenant_id.clone()),
            Self::Operator { .. } => None,
        }
    }

    pub fn require_tenant(&self, tenant: &TenantId) -> Result<()> {
        match self {
            Self::TenantAdmin(user) if user.tenant_id != *tenant => {
                Err(AdminError::Forbidden { title: "Another tenant", detail: "a tenant admin may manage only their own tenant".into() })
            }
            _ => Ok(()),
        }
    }

    /// Whether the caller may change or read on behalf of `user`: within their tenant, and an
    /// operator only by another operator (a tenant admin cannot strip, reset, unlock or erase
    /// the instance's operators who happen to be in their tenant).
    pub fn may_manage(&self, user: &User) -> bool {
        self.require_tenant(&user.tenant_id).is_ok() && (matches!(self, Self::Operator { .. }) || !user.roles.iter().any(|r| r == OPERATOR_ROLE))
    }

    pub fn require_operator(&self) -> Result<()> {
        match self {
            Self::Operator { .. } => Ok(()),
            Self::TenantAdmin(_) => {
                Err(AdminError::Forbidden { title: "Operators only", detail: "applications are managed by the instance's operators".into() })
            }
        }
    }

    /// Roles this caller may grant: tenant admins grant only `admin`; operators also `operator`.
    pub fn grantable(&self) -> &'static [&'static str] {
        if matches!(self, Self::Operator { .. }) { &[ADMIN_ROLE, OPERATOR_ROLE] } else { &[ADMIN_ROLE] }
    }
}

/// How recent a sign-in must be to change factors.
pub const FRESH_SECONDS: u32 = 600;

/// The person behind a `gatehouse:account` token, and what their sign-in proved.
#[derive(Clone, Debug)]
pub struct SignedIn {
    pub user: Arc<User>,
    pub level: AuthLevel,
    pub auth_time: Option<i64>,
    /// The SSO session the token was issued in.
    pub sid: Option<String>,
}

impl SignedIn {
    /// A change to factors: the sign-in must be fresh, and have used a second factor when the
    /// user has one (RFC 9470 step-up otherwise).
    pub fn require_fresh(&self, has_factor: bool, now: OffsetDateTime) -> Result<()> {
        let fresh = self.auth_time.is_some_and(|t| now.unix_timestamp() - t <= i64::from(FRESH_SECONDS));
        if fresh && (!has_factor || self.level >= AuthLevel::Mfa) {
            return Ok(());
        }
        let (acr_values, description) = if has_factor {
            (AuthLevel::Mfa.acr(), "sign in again with a second factor to change your second factors")
        } else {
            (AuthLevel::Password.acr(), "sign in again to set up two-step verification")
        };
        Err(AdminError::StepUp { acr_values, max_age: FRESH_SECONDS, description })
    }

    /// An audit record of something the person did to their own account.
    pub fn audit(&self, origin: &Origin, now: OffsetDateTime, action: &str, target: String) -> AuditEntry {
        origin.audit(format!("user:{}", self.user.id), action, target, now).in_tenant(self.user.tenant_id.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_core::Email;
    use gatehouse_core::ids::UserId;
    use time::macros::datetime;

    fn person(tenant: &str, roles: &[&str]) -> User {
        User {
            id: UserId::new(format!("u-{tenant}")),
            tenant_id: TenantId::new(tenant),
            email: Email::parse(&format!("someone@{tenant}.test")).unwrap(),
            name: "Someone".into(),
            password_hash: None,
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
            email_verified: true,
            credentials_reset_required: false,
            credentials_reset_since: None,
        }
    }

    #[test]
    fn a_tenant_admin_manages_only_their_own_tenant_and_never_an_operator() {
        let admin = Caller::TenantAdmin(Arc::new(person("acme", &[ADMIN_ROLE])));
        assert!(admin.may_manage(&person("acme", &[])));
        assert!(admin.may_manage(&person("acme", &[ADMIN_ROLE])));
        assert!(!admin.may_manage(&person("other", &[])), "another tenant");
        assert!(!admin.may_manage(&person("acme", &[OPERATOR_ROLE])), "an operator in their tenant");
        assert!(matches!(admin.require_tenant(&TenantId::new("other")), Err(AdminError::Forbidden { title: "Another tenant", .. })));
        assert_eq!(admin.scope(), Some(TenantId::new("acme")));
    }

    #[test]
    fn operators_manage_everyone_and_alone_pass_operator_checks() {
        let operator = Caller::Operator { actor: "client:ops".into() };
        assert!(operator.may_manage(&person("other", &[OPERATOR_ROLE])));
        assert!(operator.require_operator().is_ok());
        assert_eq!(operator.scope(), None);
        assert_eq!(operator.grantable(), [ADMIN_ROLE, OPERATOR_ROLE]);
        let admin = Caller::TenantAdmin(Arc::new(person("acme", &[ADMIN_ROLE])));
        assert!(matches!(admin.require_operator(), Err(AdminError::Forbidden { title: "Operators only", .. })));
        assert_eq!(admin.grantable(), [ADMIN_ROLE]);
    }

    #[test]
    fn a_tenant_admins_audit_records_are_in_their_tenant() {
        let origin = Origin { address: "192.0.2.1".parse().unwrap(), user_agent: None };
        let now = datetime!(2026-03-01 12:00 UTC);
        let admin = Caller::TenantAdmin(Arc::new(person("acme", &[ADMIN_ROLE])));
        let entry = admin.audit(&origin, now, "user.unlock", "user:u-x".into(), None, None);
        assert_eq!((entry.actor.as_str(), entry.tenant.as_deref(), entry.at), ("user:u-acme", Some("acme"), now.unix_timestamp()));
        let entry = Caller::Operator { actor: "client:ops".into() }.audit(&origin, now, "tenant.create", "tenant:t-1".into(), None, None);
        assert_eq!(entry.tenant.as_deref(), Some("t-1"), "a tenant target names its tenant");
    }

    #[test]
    fn factor_changes_need_a_fresh_sign_in_with_a_second_factor_when_there_is_one() {
        let now = datetime!(2026-03-01 12:00 UTC);
        let signed_in = |level, ago: i64| SignedIn { user: Arc::new(person("acme", &[])), level, auth_time: Some(now.unix_timestamp() - ago), sid: None };
        assert!(signed_in(AuthLevel::Mfa, 60).require_fresh(true, now).is_ok());
        assert!(signed_in(AuthLevel::Password, 60).require_fresh(false, now).is_ok());
        let step_up = signed_in(AuthLevel::Password, 60).require_fresh(true, now);
        assert!(matches!(step_up, Err(AdminError::StepUp { max_age: FRESH_SECONDS, acr_values, .. }) if acr_values == AuthLevel::Mfa.acr()));
        assert!(matches!(signed_in(AuthLevel::Mfa, 601).require_fresh(true, now), Err(AdminError::StepUp { .. })), "too old");
    }
}
