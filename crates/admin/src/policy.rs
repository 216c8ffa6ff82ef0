//! A tenant's domain policy: replacing it (refused, naming them, when it would lock admins out,
//! unless confirmed), staging it in report-only mode, the report of how a staged policy would
//! have decided recorded sign-ins, and the simulator, which runs the same code as a real
//! sign-in and writes nothing.

use gatehouse_api::simulate::Simulation;
use gatehouse_api::tenants::{PolicyChange, PolicyChanged, PolicyMode, StagedPolicyReport};
use gatehouse_core::model::Tenant;
use gatehouse_core::{ClientId, Email};
use gatehouse_policy::{AuthLevel, DomainPolicy, Person, check_change};
use gatehouse_signin::decide::{Hypothetical, method_of, simulate};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use time::Duration;

use crate::caller::{ADMIN_ROLE, Caller, Origin};
use crate::context::Admin;
use crate::error::{AdminError, Result};
use crate::tenants::tenant_body;

/// `?days=` of the staged policy's report (30 by default, 1 to 365).
#[derive(Debug, Default, Deserialize)]
pub struct ReportQuery {
    pub days: Option<u16>,
}

/// Whether a recorded decision asked the person for something.
fn prompts(kind: &str) -> bool {
    kind == "second_factor" || kind == "enroll"
}

impl Admin<'_> {
    /// Replaces `tenant`'s domain policy, or stages it in report-only mode. Nothing is written
    /// unless the policy is valid; an enforced change that would lock admins out is a conflict
    /// unless `confirm_lockout`.
    pub async fn put_domain_policy(&self, caller: &Caller, origin: &Origin, tenant: &Tenant, change: PolicyChange) -> Result<PolicyChanged> {
        caller.require_tenant(&tenant.id)?;
        let policy: DomainPolicy = serde_json::from_value(change.policy).map_err(|e| AdminError::bad_request(format!("policy: {e}")))?;
        let users = self.store.tenant_users(&tenant.id).await?;
        let mut enrolled = Vec::with_capacity(users.len());
        for user in &users {
            let factors = self.store.factors(&user.id).await?;
            enrolled.push(factors.iter().filter(|f| f.is_confirmed()).map(|f| method_of(f.kind)).collect());
        }
        let people: Vec<Person<'_>> = users
            .iter()
            .zip(&enrolled)
            .map(|(u, methods)| Person { label: u.email.as_str(), is_admin: u.roles.iter().any(|r| r == ADMIN_ROLE), enrolled: *methods })
            .collect();
        let check = check_change(&policy, &people);
        if !check.invalid.is_empty() {
            let errors: Vec<String> = check.invalid.iter().map(ToString::to_string).collect();
            return Err(AdminError::bad_request(format!("the policy is not valid: {}", errors.join("; "))));
        }
        let enforcing = change.mode == PolicyMode::Enforce;
        if enforcing && !check.is_safe() && !change.confirm_lockout {
            let detail = format!(
                "this policy would lock out {}: they have no second factor it allows. Stage it in report_only mode first, or send confirm_lockout: true. {} other users would be asked to enroll.",
                check.admins_locked_out.join(", "),
                check.users_to_enroll
            );
            return Err(AdminError::Conflict { title: "Admins would be locked out", detail });
        }
        let after = serde_json::to_value(&policy).ok();
        let target = format!("tenant:{}", tenant.id);
        let saved = if enforcing {
            let mut audit = caller.audit(origin, self.now, "tenant.policy.update", target, serde_json::to_value(&tenant.policy).ok(), after);
            audit.reason = change.confirm_lockout.then(|| format!("lock-out confirmed for {}", check.admins_locked_out.join(", ")));
            self.store.set_domain_policy(&tenant.id, &policy, &audit).await?
        } else {
            let audit = caller.audit(origin, self.now, "tenant.policy.stage", target, serde_json::to_value(&tenant.staged_policy).ok(), after);
            self.store.set_staged_policy(&tenant.id, Some(&policy), &audit).await?
        };
        if !saved {
            return Err(AdminError::NotFound("no such tenant"));
        }
        tracing::info!(tenant = %tenant.id, mode = if enforcing { "enforce" } else { "report_only" }, "domain policy changed");
        let updated = self.store.tenant(&tenant.id).await?.ok_or(AdminError::NotFound("no such tenant"))?;
        Ok(PolicyChanged { tenant: tenant_body(&updated), users_to_enroll: check.users_to_enroll as u64 })
    }

    /// Stops the report-only trial of a staged policy.
    pub async fn discard_staged(&self, caller: &Caller, origin: &Origin, id: &str) -> Result<()> {
        let tenant = self.tenant_for(caller, id).await?;
        let before = serde_json::to_value(&tenant.staged_policy).ok();
        let audit = caller.audit(origin, self.now, "tenant.policy.discard_staged", format!("tenant:{}", tenant.id), before, None);
        self.store.set_staged_policy(&tenant.id, None, &audit).await?;
        Ok(())
    }

    /// How many recorded sign-ins the staged policy would have decided differently, by user
    /// and application.
    pub async fn staged_report(&self, caller: &Caller, id: &str, query: &ReportQuery) -> Result<StagedPolicyReport> {
        let tenant = self.tenant_for(caller, id).await?;
        let days = query.days.unwrap_or(30).clamp(1, 365);
        let outcomes = self.store.staged_outcomes(&tenant.id, self.now - Duration::days(i64::from(days))).await?;
        let changed: Vec<_> = outcomes.iter().filter(|o| o.enforced != o.staged).collect();
        let mut by_user: BTreeMap<String, u32> = BTreeMap::new();
        let mut by_application: BTreeMap<String, u32> = BTreeMap::new();
        for outcome in &changed {
            let email = self.store.user(&outcome.user_id).await?.map_or_else(|| outcome.user_id.to_string(), |u| u.email.as_str().to_owned());
            *by_user.entry(email).or_default() += 1;
            *by_application.entry(outcome.client_id.clone().unwrap_or_default()).or_default() += 1;
        }
        let count = |n: usize| n as u64;
        Ok(StagedPolicyReport {
            days,
            sign_ins: count(outcomes.len()),
            changed: count(changed.len()),
            would_prompt: count(changed.iter().filter(|o| prompts(&o.staged) && !prompts(&o.enforced)).count()),
            would_stop_prompting: count(changed.iter().filter(|o| !prompts(&o.staged) && prompts(&o.enforced)).count()),
            would_deny: count(changed.iter().filter(|o| o.staged == "deny").count()),
            by_user,
            by_application,
        })
    }

    /// What would happen if this person signed in to this application from this address, with
    /// the winning rule and every reason. Reads the same data and runs the same code as a real
    /// sign-in; writes nothing.
    pub async fn simulate(&self, caller: &Caller, request: &Simulation) -> Result<Value> {
        let email = Email::parse(&request.email).map_err(|e| AdminError::bad_request(format!("email: {e}")))?;
        let client_id = ClientId::parse(&request.client_id).map_err(|e| AdminError::bad_request(format!("client_id: {e}")))?;
        // Another tenant's user (or, for a tenant admin, an operator) is "not found" too, so the
        // simulator does not reveal who has an account elsewhere.
        let user = self.store.user_by_email(&email).await?.filter(|u| caller.may_manage(u)).ok_or(AdminError::NotFound("no such user"))?;
        let client = self.store.client(&client_id).await?.ok_or(AdminError::NotFound("no such application"))?;
        let session = match &request.session_acr {
            Some(acr) => Some(AuthLevel::from_acr(acr).ok_or_else(|| AdminError::bad_request(format!("session_acr: unknown acr value {acr:?}")))?),
            None => None,
        };
        let sign_in =
            Hypothetical { acr_values: &request.acr_values, scopes: &request.scopes, address: request.ip, known_device: request.known_device, session };
        let verdict = simulate(self.store, &user, &client, &sign_in, self.now).await?;
        Ok(verdict.record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::{Fixture, origin};
    use gatehouse_policy::{DomainTwoFactor, Method};

    fn totp_required() -> Value {
        serde_json::to_value(DomainPolicy { two_factor: DomainTwoFactor::Required, allowed_methods: Method::Totp.into(), ..Default::default() }).unwrap()
    }

    #[tokio::test]
    async fn a_policy_that_locks_admins_out_is_refused_unless_confirmed_or_staged() {
        let fx = Fixture::new().await;
        let admin = fx.tenant_admin().await;
        let acme = fx.admin().tenant_for(&admin, "acme").await.unwrap();
        let change = |mode, confirm_lockout| PolicyChange { policy: totp_required(), mode, confirm_lockout };
        let refused = fx.admin().put_domain_policy(&admin, &origin(), &acme, change(PolicyMode::Enforce, false)).await;
        assert!(matches!(refused, Err(AdminError::Conflict { title: "Admins would be locked out", detail }) if detail.contains("admin@acme.test")));
        let staged = fx.admin().put_domain_policy(&admin, &origin(), &acme, change(PolicyMode::ReportOnly, false)).await.unwrap();
        assert!(staged.tenant.staged_policy.is_some());
        let confirmed = fx.admin().put_domain_policy(&admin, &origin(), &acme, change(PolicyMode::Enforce, true)).await.unwrap();
        assert_eq!(confirmed.tenant.policy.two_factor, DomainTwoFactor::Required);
        fx.admin().discard_staged(&admin, &origin(), "acme").await.unwrap();
        assert!(fx.admin().tenant_for(&admin, "acme").await.unwrap().staged_policy.is_none());
    }

    #[tokio::test]
    async fn a_policy_that_is_not_one_is_a_bad_request() {
        let fx = Fixture::new().await;
        let acme = fx.admin().tenant_for(&Fixture::operator(), "acme").await.unwrap();
        let change = PolicyChange { policy: serde_json::json!({ "two_factor": "sometimes" }), mode: PolicyMode::Enforce, confirm_lockout: false };
        assert!(
            matches!(fx.admin().put_domain_policy(&Fixture::operator(), &origin(), &acme, change).await, Err(AdminError::BadRequest(d)) if d.starts_with("policy"))
        );
    }

    #[tokio::test]
    async fn another_tenants_policy_and_users_are_out_of_reach() {
        let fx = Fixture::new().await;
        let admin = fx.tenant_admin().await;
        assert!(matches!(fx.admin().discard_staged(&admin, &origin(), "other").await, Err(AdminError::Forbidden { .. })));
        assert!(matches!(fx.admin().staged_report(&admin, "other", &ReportQuery::default()).await, Err(AdminError::Forbidden { .. })));
        let report = fx.admin().staged_report(&admin, "acme", &ReportQuery { days: Some(9999) }).await.unwrap();
        assert_eq!((report.days, report.sign_ins), (365, 0));
        let simulation = |email: &str| Simulation {
            email: email.into(),
            client_id: "nope".into(),
            ip: "192.0.2.1".parse().unwrap(),
            acr_values: vec![],
            scopes: vec![],
            known_device: false,
            session_acr: None,
        };
        assert!(matches!(fx.admin().simulate(&admin, &simulation("bob@other.test")).await, Err(AdminError::NotFound("no such user"))));
        assert!(matches!(fx.admin().simulate(&admin, &simulation("op@acme.test")).await, Err(AdminError::NotFound("no such user"))));
        assert!(matches!(fx.admin().simulate(&admin, &simulation("alice@acme.test")).await, Err(AdminError::NotFound("no such application"))));
    }
}
