//! A tenant's people: the directory (roles and enrolled methods, never secrets), creating and
//! updating users (roles only as far as the caller may grant them, an alert when someone is
//! made an admin or operator), resetting a user's second factors (a lost phone) and ending a
//! brute-force lock. After a write the edge reloads its in-memory directory.

use gatehouse_api::users::{Directory, DirectoryEntry, NewUser, User as UserBody, UserChange};
use gatehouse_core::Email;
use gatehouse_core::alert::AlertKind;
use gatehouse_core::audit::AuditEntry;
use gatehouse_core::ids::{FactorId, UserId};
use gatehouse_core::model::{Tenant, User};
use gatehouse_delivery::NotificationKind;
use gatehouse_ops::monitor::NewAlert;
use gatehouse_store::{ImportPlan, UserPlan};
use serde_json::json;
use zeroize::Zeroizing;

use crate::caller::{ADMIN_ROLE, Caller, OPERATOR_ROLE, Origin};
use crate::context::{Admin, PasswordHashing};
use crate::error::{AdminError, Result};
use crate::tenants::{check_name, new_id, tenant_plan};

/// A user as the API shows them.
pub fn user_body(user: &User) -> UserBody {
    UserBody {
        id: user.id.as_str().to_owned(),
        tenant: user.tenant_id.as_str().to_owned(),
        email: user.email.as_str().to_owned(),
        name: user.name.clone(),
        roles: user.roles.clone(),
    }
}

/// The roles asked for, if the caller may grant every one of them; sorted, once each.
fn check_roles(caller: &Caller, roles: &[String]) -> Result<Vec<String>> {
    let allowed = caller.grantable();
    if let Some(bad) = roles.iter().find(|r| !allowed.contains(&r.as_str())) {
        return Err(AdminError::Forbidden {
            title: "Role not grantable",
            detail: format!("role {bad:?} cannot be granted here (allowed: {})", allowed.join(", ")),
        });
    }
    let mut roles = roles.to_vec();
    roles.sort();
    roles.dedup();
    Ok(roles)
}

/// Two fresh ids for the factors an import may create (a user plan always carries them).
fn factor_ids() -> Result<[FactorId; 2]> {
    Ok([FactorId::new(new_id()?), FactorId::new(new_id()?)])
}

impl Admin<'_> {
    /// The tenant's users with their roles and enrolled methods. A list of people's names and
    /// addresses: a read of personal data, audited. Like every other read, a tenant admin does
    /// not see the operators in their tenant.
    pub async fn directory(&self, caller: &Caller, origin: &Origin, tenant: &Tenant) -> Result<Directory> {
        let read = caller.audit(origin, self.now, "personal_data.read", format!("tenant:{}", tenant.id), None, None);
        self.audit.append(&AuditEntry { reason: Some("user directory".into()), ..read }).await?;
        let mut users = Vec::new();
        for user in self.store.tenant_users(&tenant.id).await?.into_iter().filter(|u| caller.may_manage(u)) {
            let factors = self.store.factors(&user.id).await?;
            let methods = factors.iter().filter(|f| f.is_confirmed()).map(|f| f.kind.as_str().to_owned()).collect();
            users.push(DirectoryEntry { id: user.id.as_str().to_owned(), email: user.email.as_str().to_owned(), name: user.name, roles: user.roles, methods });
        }
        Ok(Directory { users })
    }

    /// A user on one of the tenant's domains; a password, when given, must be a good one and
    /// is hashed by `hashing`.
    pub async fn create_user(&self, caller: &Caller, origin: &Origin, tenant: &Tenant, request: NewUser, hashing: &dyn PasswordHashing) -> Result<UserBody> {
        caller.require_tenant(&tenant.id)?;
        let email = Email::parse(&request.email).map_err(|e| AdminError::bad_request(format!("email: {e}")))?;
        if !tenant.domains.contains(&email.domain()) {
            return Err(AdminError::bad_request(format!("{email} is not on one of the tenant's domains")));
        }
        let name = check_name(&request.name)?;
        let roles = check_roles(caller, &request.roles)?;
        if self.store.user_by_email(&email).await?.is_some() {
            return Err(AdminError::conflict(format!("{email} already has an account")));
        }
        let password_hash = match request.password {
            Some(password) if let Err(problem) = gatehouse_core::password::check_new_password(&password, email.as_str()) => {
                return Err(AdminError::bad_request(format!("password: {problem}")));
            }
            Some(password) => Some(hashing.hash(Zeroizing::new(password)).await?),
            None => None,
        };
        let user_id = UserId::new(new_id()?);
        let plan = UserPlan {
            new_id: user_id.clone(),
            email,
            name: name.to_owned(),
            password_hash,
            roles,
            totp_secret: None,
            phone: None,
            new_factor_ids: factor_ids()?,
        };
        // The password is never recorded, only that one was set. Personal fields are named,
        // never recorded: the trail outlives an erasure, and names people only by their
        // pseudonymous id.
        let after = json!({ "fields": ["email", "name"], "roles": plan.roles, "password_set": plan.password_hash.is_some() });
        let audit = caller.audit(origin, self.now, "user.create", format!("user:{user_id}"), None, Some(after)).in_tenant(tenant.id.as_str());
        let made_admin = plan.roles.iter().any(|r| r == ADMIN_ROLE || r == OPERATOR_ROLE);
        self.apply(ImportPlan { tenants: vec![tenant_plan(tenant, vec![plan])], ..Default::default() }, audit).await?;
        let user = self.store.user(&user_id).await?.ok_or(AdminError::NotFound("no such user"))?;
        if made_admin {
            self.role_escalation(caller, &user, origin).await?;
        }
        Ok(user_body(&user))
    }

    /// Changes a user's name and roles. Roles the caller cannot grant stay as they are (never
    /// silently removed).
    pub async fn update_user(&self, caller: &Caller, origin: &Origin, user: &User, request: UserChange) -> Result<UserBody> {
        if !caller.may_manage(user) {
            return Err(AdminError::NotFound("no such user"));
        }
        let name = request.name.as_deref().map(str::trim).unwrap_or(&user.name).to_owned();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(AdminError::bad_request("name must be 1 to 200 characters"));
        }
        let roles = match &request.roles {
            Some(roles) => {
                let mut roles = check_roles(caller, roles)?;
                roles.extend(user.roles.iter().filter(|r| !caller.grantable().contains(&r.as_str())).cloned());
                roles.sort();
                roles.dedup();
                roles
            }
            None => user.roles.clone(),
        };
        let tenant = self.tenant_for(caller, user.tenant_id.as_str()).await?;
        let plan = UserPlan {
            new_id: user.id.clone(),
            email: user.email.clone(),
            name,
            password_hash: None,
            roles,
            totp_secret: None,
            phone: None,
            new_factor_ids: factor_ids()?,
        };
        // A changed name is noted, never recorded (the trail outlives an erasure).
        let name_changed = plan.name != user.name;
        let before = json!({ "roles": user.roles });
        let after = if name_changed { json!({ "roles": plan.roles, "changed": ["name"] }) } else { json!({ "roles": plan.roles }) };
        let audit = caller.audit(origin, self.now, "user.update", format!("user:{}", user.id), Some(before), Some(after)).in_tenant(user.tenant_id.as_str());
        let made_admin = [ADMIN_ROLE, OPERATOR_ROLE].iter().any(|role| plan.roles.iter().any(|r| r == role) && !user.roles.iter().any(|r| r == role));
        self.apply(ImportPlan { tenants: vec![tenant_plan(&tenant, vec![plan])], ..Default::default() }, audit).await?;
        let updated = self.store.user(&user.id).await?.ok_or(AdminError::NotFound("no such user"))?;
        if made_admin {
            self.role_escalation(caller, &updated, origin).await?;
        }
        Ok(user_body(&updated))
    }

    /// Someone was given the admin or operator role: an alert for the tenant's admins and the
    /// operators.
    async fn role_escalation(&self, caller: &Caller, user: &User, origin: &Origin) -> Result<()> {
        let alert = NewAlert {
            kind: AlertKind::RoleEscalation,
            tenant: Some(user.tenant_id.clone()),
            subject: format!("user:{}", user.id),
            summary: format!("user:{} was given the roles {} by {}", user.id, user.roles.join(", "), caller.actor()),
            details: json!({ "user": user.id.as_str(), "by": caller.actor(), "address": origin.address.to_string() }),
        };
        self.monitor.raise(alert, self.now).await?;
        Ok(())
    }

    /// Resets a user's second factors and recovery codes (a lost phone); their next sign-in
    /// that needs 2FA enrolls again. The user is told.
    pub async fn reset_factors(&self, caller: &Caller, origin: &Origin, id: &str) -> Result<()> {
        let user = self.user_for(caller, id).await?;
        let factors = self.store.factors(&user.id).await?;
        let before = json!({ "factors": factors.iter().map(|f| f.kind.as_str()).collect::<Vec<_>>() });
        // Recorded first: the removals that follow are separate writes.
        let audit = caller.audit(origin, self.now, "user.factors.reset", format!("user:{}", user.id), Some(before), None).in_tenant(user.tenant_id.as_str());
        self.audit.append(&audit).await?;
        for factor in factors {
            if self.store.remove_factor(&user.id, &factor.id).await? {
                self.notify(&user, NotificationKind::FactorRemoved { factor: factor.id.to_string(), label: factor.label });
            }
        }
        self.store.replace_recovery_codes(&user.id, &[], self.now).await?;
        tracing::info!(user = %user.id, "second factors reset by an administrator");
        Ok(())
    }

    /// Ends a brute-force lock and forgets the failures, audited.
    pub async fn unlock(&self, caller: &Caller, origin: &Origin, id: &str) -> Result<()> {
        let user = self.user_for(caller, id).await?;
        let before = self.store.account_throttle(&user.id).await?.map(|t| json!({ "failures": t.failures }));
        self.store.clear_account_throttle(&user.id).await?;
        let audit = caller.audit(origin, self.now, "user.unlock", format!("user:{}", user.id), before, None).in_tenant(user.tenant_id.as_str());
        self.audit.append(&audit).await?;
        tracing::info!(user = %user.id, "account unlocked by an administrator");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::{FakeHashing, Fixture, origin};

    fn new_user(email: &str, roles: &[&str]) -> NewUser {
        NewUser { email: email.into(), name: "New Person".into(), roles: roles.iter().map(|r| (*r).to_owned()).collect(), password: None }
    }

    async fn create(fx: &Fixture, caller: &Caller, request: NewUser) -> Result<UserBody> {
        let acme = fx.admin().tenant_for(caller, "acme").await?;
        fx.admin().create_user(caller, &origin(), &acme, request, &FakeHashing).await
    }

    #[tokio::test]
    async fn a_new_user_must_be_on_the_tenants_domain_with_a_name_and_a_free_address() {
        let fx = Fixture::new().await;
        let admin = fx.tenant_admin().await;
        assert!(matches!(create(&fx, &admin, new_user("carol@other.test", &[])).await, Err(AdminError::BadRequest(d)) if d.contains("tenant's domains")));
        assert!(matches!(create(&fx, &admin, new_user("not an email", &[])).await, Err(AdminError::BadRequest(d)) if d.starts_with("email")));
        let nameless = NewUser { name: " ".into(), ..new_user("carol@acme.test", &[]) };
        assert!(matches!(create(&fx, &admin, nameless).await, Err(AdminError::BadRequest(_))));
        assert!(matches!(create(&fx, &admin, new_user("alice@acme.test", &[])).await, Err(AdminError::Conflict { .. })));
        let weak = NewUser { password: Some("short".into()), ..new_user("carol@acme.test", &[]) };
        assert!(matches!(create(&fx, &admin, weak).await, Err(AdminError::BadRequest(d)) if d.starts_with("password")));
        let created = create(&fx, &admin, new_user("carol@acme.test", &[])).await.unwrap();
        assert_eq!((created.tenant.as_str(), created.email.as_str()), ("acme", "carol@acme.test"));
    }

    #[tokio::test]
    async fn a_tenant_admin_cannot_grant_the_operator_role_and_a_new_admin_raises_an_alert() {
        let fx = Fixture::new().await;
        let admin = fx.tenant_admin().await;
        let refused = create(&fx, &admin, new_user("carol@acme.test", &["operator"])).await;
        assert!(matches!(refused, Err(AdminError::Forbidden { title: "Role not grantable", .. })));
        create(&fx, &admin, new_user("carol@acme.test", &["admin", "admin"])).await.unwrap();
        let alerts = fx.store.alerts(None, false, None, 10).await.unwrap();
        assert_eq!(alerts.len(), 1, "the role escalation is alerted");
        assert!(alerts.iter().all(|a| a.tenant.as_deref() == Some("acme")));
    }

    #[tokio::test]
    async fn a_tenant_admin_cannot_reach_an_operator_or_another_tenants_user() {
        let fx = Fixture::new().await;
        let admin = fx.tenant_admin().await;
        for id in ["u-op", "u-bob", "u-missing"] {
            assert!(matches!(fx.admin().user_for(&admin, id).await, Err(AdminError::NotFound("no such user"))), "{id}");
            assert!(matches!(fx.admin().unlock(&admin, &origin(), id).await, Err(AdminError::NotFound(_))), "{id}");
            assert!(matches!(fx.admin().reset_factors(&admin, &origin(), id).await, Err(AdminError::NotFound(_))), "{id}");
        }
        let operator = fx.store.user(&UserId::new("u-op")).await.unwrap().unwrap();
        let change = UserChange { name: Some("Renamed".into()), roles: None };
        assert!(matches!(fx.admin().update_user(&admin, &origin(), &operator, change).await, Err(AdminError::NotFound(_))));
        assert!(fx.admin().user_for(&Fixture::operator(), "u-bob").await.is_ok());
    }

    #[tokio::test]
    async fn roles_the_caller_cannot_grant_are_kept_on_update() {
        let fx = Fixture::new().await;
        let op = Fixture::operator();
        let operator = fx.admin().user_for(&op, "u-op").await.unwrap();
        let updated = fx.admin().update_user(&op, &origin(), &operator, UserChange { name: None, roles: Some(vec!["admin".into()]) }).await.unwrap();
        assert_eq!(updated.roles, ["admin"], "an operator may remove the operator role");
        let admin = fx.tenant_admin().await;
        let alice = fx.admin().user_for(&admin, "u-alice").await.unwrap();
        let renamed = fx.admin().update_user(&admin, &origin(), &alice, UserChange { name: Some(" Alice ".into()), roles: Some(vec![]) }).await.unwrap();
        assert_eq!((renamed.name.as_str(), renamed.roles.len()), ("Alice", 0));
        let nameless = fx.admin().update_user(&admin, &origin(), &alice, UserChange { name: Some("".into()), roles: None }).await;
        assert!(matches!(nameless, Err(AdminError::BadRequest(_))));
    }

    #[tokio::test]
    async fn the_directory_hides_operators_from_a_tenant_admin() {
        let fx = Fixture::new().await;
        let admin = fx.tenant_admin().await;
        let acme = fx.admin().tenant_for(&admin, "acme").await.unwrap();
        let directory = fx.admin().directory(&admin, &origin(), &acme).await.unwrap();
        let mut ids: Vec<_> = directory.users.iter().map(|u| u.id.as_str()).collect();
        ids.sort_unstable();
        assert_eq!(ids, ["u-admin", "u-alice"]);
        assert_eq!(fx.admin().directory(&Fixture::operator(), &origin(), &acme).await.unwrap().users.len(), 3);
    }
}
