//! Tenants with their email domains: reading them, creating one, adding a domain (operators,
//! who verify ownership first), terminating and reinstating one (operators), and the addresses
//! a tenant's people reported with "this wasn't me". Writes go through the same one-transaction
//! import path as `gatehouse import`, so the API and import files cannot disagree about what a
//! valid tenant is. After a write the edge reloads its in-memory directory.

use gatehouse_api::tenants::{
    NewDomain, NewTenant, ReportedAddress, ReportedAddressList, Tenant as TenantBody, TenantList, TenantReinstated, TenantTerminated, Termination,
};
use gatehouse_core::EmailDomain;
use gatehouse_core::audit::AuditEntry;
use gatehouse_core::ids::TenantId;
use gatehouse_core::model::Tenant;
use gatehouse_ops::privacy::lifecycle;
use gatehouse_store::{ImportPlan, TenantPlan, UserPlan};
use serde_json::json;
use std::net::IpAddr;
use time::format_description::well_known::Rfc3339;

use crate::caller::{Caller, Origin};
use crate::context::Admin;
use crate::error::{AdminError, Result};

/// A tenant as the API shows it.
pub fn tenant_body(tenant: &Tenant) -> TenantBody {
    TenantBody {
        id: tenant.id.as_str().to_owned(),
        name: tenant.name.clone(),
        domains: tenant.domains.iter().map(|d| d.as_str().to_owned()).collect(),
        policy: tenant.policy.clone(),
        staged_policy: tenant.staged_policy.clone(),
    }
}

/// A plan touching one existing tenant (its name and domains as they are).
pub(crate) fn tenant_plan(tenant: &Tenant, users: Vec<UserPlan>) -> TenantPlan {
    TenantPlan { new_id: tenant.id.clone(), name: tenant.name.clone(), domains: tenant.domains.clone(), users, policy: None }
}

fn parse_domains(domains: &[String]) -> Result<Vec<EmailDomain>> {
    domains.iter().map(|d| EmailDomain::parse(d).map_err(|e| AdminError::bad_request(format!("domain {d:?}: {e}")))).collect()
}

/// 1 to 200 characters, trimmed.
pub(crate) fn check_name(name: &str) -> Result<&str> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(AdminError::bad_request("name must be 1 to 200 characters"));
    }
    Ok(name)
}

pub(crate) fn new_id() -> Result<String> {
    Ok(gatehouse_crypto::random::id()?)
}

impl Admin<'_> {
    /// The tenants the caller may see: every one for an operator, their own for a tenant admin.
    pub async fn tenants(&self, caller: &Caller) -> Result<TenantList> {
        let all = self.store.tenants().await?;
        Ok(TenantList { tenants: all.iter().filter(|t| caller.require_tenant(&t.id).is_ok()).map(tenant_body).collect() })
    }

    /// Creates a tenant with its email domains (operators).
    pub async fn create_tenant(&self, caller: &Caller, origin: &Origin, request: NewTenant) -> Result<TenantBody> {
        caller.require_operator()?;
        let name = check_name(&request.name)?;
        let domains = parse_domains(&request.domains)?;
        if self.store.tenants().await?.iter().any(|t| t.name == name) {
            return Err(AdminError::conflict(format!("a tenant named {name:?} exists")));
        }
        let id = TenantId::new(new_id()?);
        let plan = TenantPlan { new_id: id.clone(), name: name.to_owned(), domains, users: vec![], policy: None };
        let after = json!({ "name": plan.name, "domains": plan.domains.iter().map(|d| d.as_str()).collect::<Vec<_>>() });
        let audit = caller.audit(origin, self.now, "tenant.create", format!("tenant:{id}"), None, Some(after));
        self.apply(ImportPlan { tenants: vec![plan], ..Default::default() }, audit).await?;
        let tenant = self.store.tenant(&id).await?.ok_or(AdminError::NotFound("no such tenant"))?;
        Ok(tenant_body(&tenant))
    }

    /// Adds an email domain to `tenant` (operators, who verify ownership first).
    pub async fn add_domain(&self, caller: &Caller, origin: &Origin, tenant: &Tenant, request: NewDomain) -> Result<TenantBody> {
        caller.require_operator()?;
        let mut plan = tenant_plan(tenant, vec![]);
        plan.domains.extend(parse_domains(std::slice::from_ref(&request.domain))?);
        let audit = caller.audit(origin, self.now, "tenant.domain.add", format!("tenant:{}", tenant.id), None, Some(json!({ "domain": request.domain })));
        self.apply(ImportPlan { tenants: vec![plan], ..Default::default() }, audit).await?;
        let tenant = self.store.tenant(&tenant.id).await?.ok_or(AdminError::NotFound("no such tenant"))?;
        Ok(tenant_body(&tenant))
    }

    /// Terminates a tenant (operators): sign-in stops now; the data is deleted after the
    /// retention period unless the tenant is reinstated first.
    pub async fn terminate(&self, caller: &Caller, origin: &Origin, id: &str, request: Termination) -> Result<TenantTerminated> {
        caller.require_operator()?;
        let tenant = TenantId::new(id);
        if self.store.tenant(&tenant).await?.is_none() {
            return Err(AdminError::NotFound("no such tenant"));
        }
        let entry = caller.audit(origin, self.now, "tenant.terminate", format!("tenant:{tenant}"), None, None).in_tenant(tenant.as_str());
        let entry = AuditEntry { reason: request.reason, ..entry };
        let Some(due) = lifecycle::terminate(self.store, &tenant, self.now, &self.monitor.settings.retention, entry).await? else {
            return Err(AdminError::conflict("the tenant is already terminated"));
        };
        Ok(TenantTerminated { tenant: tenant.as_str().to_owned(), status: "terminated".into(), deletion_due: due.format(&Rfc3339).ok() })
    }

    /// Undoes a termination before the deletion (operators).
    pub async fn reinstate(&self, caller: &Caller, origin: &Origin, id: &str) -> Result<TenantReinstated> {
        caller.require_operator()?;
        let tenant = TenantId::new(id);
        let entry = caller.audit(origin, self.now, "tenant.reinstate", format!("tenant:{tenant}"), None, None).in_tenant(tenant.as_str());
        if !self.store.reinstate_tenant(&tenant, &entry).await? {
            return Err(AdminError::conflict("no such terminated tenant (it may already be deleted)"));
        }
        Ok(TenantReinstated { tenant: tenant.as_str().to_owned(), status: "active".into() })
    }

    /// Addresses the tenant's people reported, risky for its sign-ins until the report expires
    /// or a tenant admin clears it. Another tenant's admin sees nothing here.
    pub async fn reported_addresses(&self, caller: &Caller, id: &str) -> Result<ReportedAddressList> {
        let tenant = self.tenant_for(caller, id).await?;
        let reported = self.store.reported_addresses(&tenant.id, self.now).await?;
        let reported_addresses = reported
            .into_iter()
            .map(|r| ReportedAddress { address: r.address, reported_at: r.reported_at.unix_timestamp(), expires_at: r.expires_at.unix_timestamp() })
            .collect();
        Ok(ReportedAddressList { reported_addresses })
    }

    /// Clears one reported address, audited.
    pub async fn clear_reported_address(&self, caller: &Caller, origin: &Origin, id: &str, address: &str) -> Result<()> {
        let tenant = self.tenant_for(caller, id).await?;
        // Stored addresses are what `IpAddr` prints: anything else cannot name one.
        let address: IpAddr = address.parse().map_err(|_| AdminError::bad_request("address: not an IP address"))?;
        let address = address.to_string();
        let audit = caller.audit(origin, self.now, "reported_address.clear", format!("address:{address}"), None, None).in_tenant(tenant.id.as_str());
        let audit = AuditEntry { reason: Some("a tenant admin cleared a reported address".into()), ..audit };
        if !self.store.clear_reported_address(&tenant.id, &address, &audit).await? {
            return Err(AdminError::NotFound("this address is not reported in this tenant"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::{Fixture, origin};

    fn new_tenant(name: &str, domains: &[&str]) -> NewTenant {
        NewTenant { name: name.into(), domains: domains.iter().map(|d| (*d).to_owned()).collect() }
    }

    #[tokio::test]
    async fn tenants_are_created_by_operators_only() {
        let fx = Fixture::new().await;
        let refused = fx.admin().create_tenant(&fx.tenant_admin().await, &origin(), new_tenant("Initech", &["initech.test"])).await;
        assert!(matches!(refused, Err(AdminError::Forbidden { title: "Operators only", .. })));
        let created = fx.admin().create_tenant(&Fixture::operator(), &origin(), new_tenant(" Initech ", &["initech.test"])).await.unwrap();
        assert_eq!((created.name.as_str(), created.domains.as_slice()), ("Initech", ["initech.test".to_owned()].as_slice()));
    }

    #[tokio::test]
    async fn invalid_names_and_domains_and_taken_ones_are_refused() {
        let fx = Fixture::new().await;
        let create = |request| async { fx.admin().create_tenant(&Fixture::operator(), &origin(), request).await };
        assert!(matches!(create(new_tenant("  ", &["x.test"])).await, Err(AdminError::BadRequest(d)) if d.contains("name")));
        assert!(matches!(create(new_tenant(&"n".repeat(201), &["x.test"])).await, Err(AdminError::BadRequest(_))));
        assert!(matches!(create(new_tenant("X", &["not a domain"])).await, Err(AdminError::BadRequest(d)) if d.starts_with("domain")));
        assert!(matches!(create(new_tenant("Acme", &["x.test"])).await, Err(AdminError::Conflict { .. })), "the name is taken");
        assert!(matches!(create(new_tenant("Y", &["other.test"])).await, Err(AdminError::Conflict { .. })), "another tenant owns the domain");
        let acme = fx.admin().tenant_for(&Fixture::operator(), "acme").await.unwrap();
        let taken = fx.admin().add_domain(&Fixture::operator(), &origin(), &acme, NewDomain { domain: "other.test".into() }).await;
        assert!(matches!(taken, Err(AdminError::Conflict { .. })));
    }

    #[tokio::test]
    async fn a_tenant_admin_sees_and_reaches_only_their_tenant() {
        let fx = Fixture::new().await;
        let admin = fx.tenant_admin().await;
        let listed = fx.admin().tenants(&admin).await.unwrap();
        assert_eq!(listed.tenants.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(), ["acme"]);
        assert!(matches!(fx.admin().tenant_for(&admin, "other").await, Err(AdminError::Forbidden { title: "Another tenant", .. })));
        assert!(matches!(fx.admin().reported_addresses(&admin, "other").await, Err(AdminError::Forbidden { .. })));
        assert!(matches!(fx.admin().tenant_for(&Fixture::operator(), "nope").await, Err(AdminError::NotFound("no such tenant"))));
        let acme = fx.admin().tenant_for(&admin, "acme").await.unwrap();
        let domain = fx.admin().add_domain(&admin, &origin(), &acme, NewDomain { domain: "acme.example".into() }).await;
        assert!(matches!(domain, Err(AdminError::Forbidden { title: "Operators only", .. })));
    }

    #[tokio::test]
    async fn a_tenant_is_terminated_once_and_reinstated_by_an_operator() {
        let fx = Fixture::new().await;
        let op = Fixture::operator();
        assert!(matches!(fx.admin().terminate(&fx.tenant_admin().await, &origin(), "acme", Termination::default()).await, Err(AdminError::Forbidden { .. })));
        assert!(matches!(fx.admin().terminate(&op, &origin(), "nope", Termination::default()).await, Err(AdminError::NotFound(_))));
        let terminated = fx.admin().terminate(&op, &origin(), "other", Termination::default()).await.unwrap();
        assert_eq!(terminated.status, "terminated");
        assert!(matches!(fx.admin().terminate(&op, &origin(), "other", Termination::default()).await, Err(AdminError::Conflict { .. })));
        assert_eq!(fx.admin().reinstate(&op, &origin(), "other").await.unwrap().status, "active");
        assert!(matches!(fx.admin().reinstate(&op, &origin(), "other").await, Err(AdminError::Conflict { .. })), "not terminated any more");
    }

    #[tokio::test]
    async fn a_reported_address_must_be_an_address_and_reported() {
        let fx = Fixture::new().await;
        let admin = fx.tenant_admin().await;
        assert!(matches!(fx.admin().clear_reported_address(&admin, &origin(), "acme", "not-an-ip").await, Err(AdminError::BadRequest(_))));
        assert!(matches!(fx.admin().clear_reported_address(&admin, &origin(), "acme", "192.0.2.9").await, Err(AdminError::NotFound(_))));
        assert!(fx.admin().reported_addresses(&admin, "acme").await.unwrap().reported_addresses.is_empty());
    }
}
