//! `/admin`: the admin console. Tenant admins manage their own tenant (authentication settings,
//! users, change history, alerts, the policy simulator); operators manage every tenant and the
//! applications. Every read and write goes through the admin API with the person's own token,
//! so the console can do nothing the API would not let them do, and every change lands in the
//! same audit trail as an API call. This module has the overview and the tenant page.

use axum::Router;
use axum::extract::Path;
use axum::http::{Method, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use gatehouse_api::identities::IdentityProviderList;
use gatehouse_api::tenants::{NewDomain, PolicyChange, PolicyDraft, PolicyMode, Tenant, TenantList};
use gatehouse_api::users::Directory;
use gatehouse_policy::{DomainPolicy, DomainTwoFactor, Method as PolicyMethod};
use serde_json::Value;
use std::collections::HashMap;

use super::account::encode;
use super::admin_pages::{
    AdminNav, LockoutPage, MethodBox, OverviewPage, PolicyForm, TenantLink, TenantPage, UserRow, api_from, chrome, refused_page, tenant_path, user_path, viewer,
};
use super::api::ApiFailure;
use super::pages::RenderPage;
use super::{Console, ConsoleError, Form, admin_monitor, admin_operator, admin_simulate, admin_users};
use crate::http::respond::see_other;
use crate::messages::Messages;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin", get(overview))
        .route("/admin/tenants/{id}", get(tenant_page))
        .route("/admin/tenants/{id}/policy", post(save_policy))
        .route("/admin/tenants/{id}/domains", post(add_domain))
        .merge(admin_users::routes())
        .merge(admin_operator::routes())
        .merge(admin_monitor::routes())
        .merge(admin_simulate::routes())
}

/// `GET /admin`: an operator's overview of every tenant; a tenant admin goes straight to their
/// tenant; anyone else is told the admin console is not for them (the API answers 403).
async fn overview(console: Console) -> Response {
    let result = async {
        let api = console.api()?;
        let viewer = viewer(&console).await;
        let tenants: TenantList = match api.get("/api/v1/tenants").await {
            Ok(tenants) => tenants,
            Err(failure) => return refused_page(&console, viewer, failure, "/admin"),
        };
        if !viewer.operator
            && let [only] = tenants.tenants.as_slice()
        {
            // The message of the last action belongs to the page this redirect leads to.
            if let Some(flash) = console.view.flash.clone() {
                console.state.console.flash(&console.key, flash);
            }
            return Ok(see_other(&tenant_path(&only.id)));
        }
        let tenants = tenants.tenants.into_iter().map(|t| TenantLink { href: tenant_path(&t.id), name: t.name, domains: t.domains.join(", ") }).collect();
        let page = OverviewPage { m: console.m, chrome: chrome(&console, viewer), nav: AdminNav::new(viewer, "overview"), tenants };
        Ok(Html(askama::Template::render(&page)?).into_response())
    }
    .await;
    console.finish(result)
}

/// The methods a domain may allow, with their names in the form.
const METHODS: [PolicyMethod; 4] = [PolicyMethod::Totp, PolicyMethod::Sms, PolicyMethod::SecurityKey, PolicyMethod::Passkey];

fn method_label(m: &'static Messages, method: PolicyMethod) -> &'static str {
    match method {
        PolicyMethod::Totp => m.admin.method_totp,
        PolicyMethod::Sms => m.admin.method_sms,
        PolicyMethod::SecurityKey => m.admin.method_security_key,
        PolicyMethod::Passkey => m.admin.method_passkey,
        PolicyMethod::RecoveryCode => m.admin.method_recovery_code,
    }
}

/// A factor kind as the users table names it.
pub(super) fn kind_label(m: &'static Messages, kind: &str) -> String {
    PolicyMethod::parse(kind).map_or_else(|| kind.to_owned(), |method| method_label(m, method).to_owned())
}

fn policy_form(m: &'static Messages, policy: &DomainPolicy) -> PolicyForm {
    let allowed = policy.configurable_methods();
    PolicyForm {
        required: policy.two_factor == DomainTwoFactor::Required,
        methods: METHODS
            .into_iter()
            .map(|method| MethodBox { name: method.as_str(), label: method_label(m, method), checked: allowed.contains(method) })
            .collect(),
        networks: policy.trusted_networks.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"),
        remember_days: policy.remember_device_days.to_string(),
    }
}

/// `GET /admin/tenants/{id}`: domains, authentication settings and users.
async fn tenant_page(console: Console, Path(id): Path<String>) -> Response {
    let result = async {
        let api = console.api()?;
        let viewer = viewer(&console).await;
        let here = console.here.clone();
        let base = format!("/api/v1/tenants/{}", encode(&id));
        let tenant: Tenant = match api.get(&base).await {
            Ok(tenant) => tenant,
            Err(failure) => return refused_page(&console, viewer, failure, &here),
        };
        let users: Directory = match api.get(&format!("{base}/users")).await {
            Ok(users) => users,
            Err(failure) => return refused_page(&console, viewer, failure, &here),
        };
        let providers: IdentityProviderList = match api.get(&format!("{base}/identity-providers")).await {
            Ok(providers) => providers,
            Err(failure) => return refused_page(&console, viewer, failure, &here),
        };
        let m = console.m;
        let users = users
            .users
            .into_iter()
            .map(|u| {
                let has = |role: &str| u.roles.iter().any(|r| r == role);
                UserRow {
                    roles: u.roles.join(", "),
                    methods: u.methods.iter().map(|k| kind_label(m, k)).collect::<Vec<_>>().join(", "),
                    href: user_path(&u.id, &tenant.id, ""),
                    admin: has("admin"),
                    operator: has("operator"),
                    roles_editable: viewer.operator || !has("operator"),
                    roles_action: format!("/admin/users/{}/roles", encode(&u.id)),
                    unlock_action: format!("/admin/users/{}/unlock", encode(&u.id)),
                    reset_action: format!("/admin/users/{}/reset-factors", encode(&u.id)),
                    id: u.id,
                    email: u.email,
                    name: u.name,
                }
            })
            .collect();
        let page = TenantPage {
            m,
            chrome: chrome(&console, viewer),
            nav: AdminNav::new(viewer, "overview"),
            csrf_token: &console.view.csrf_token,
            base: tenant_path(&tenant.id),
            policy: policy_form(m, &tenant.policy),
            staged: tenant.staged_policy.is_some(),
            id: tenant.id,
            name: tenant.name,
            domains: tenant.domains,
            providers: providers.identity_providers,
            users,
        };
        Ok(Html(askama::Template::render(&page)?).into_response())
    }
    .await;
    console.finish(result)
}

/// The domain policy the form describes, as the API takes it; the form's own mistakes (a
/// number that is not one) are named before anything is sent.
fn policy_from_form(m: &'static Messages, form: &HashMap<String, String>) -> Result<Value, String> {
    let two_factor = form.get("two_factor").map_or("optional", String::as_str);
    let allowed_methods = METHODS.iter().map(|m| m.as_str()).filter(|name| form.contains_key(&format!("method_{name}"))).map(str::to_owned).collect();
    let trusted_networks = form
        .get("trusted_networks")
        .map(|n| n.split(|c: char| c.is_whitespace() || c == ',').filter(|n| !n.is_empty()).map(str::to_owned).collect())
        .unwrap_or_default();
    let days = form.get("remember_device_days").map_or("", |d| d.trim());
    let remember_device_days: u64 = days.parse().map_err(|_| format!("{} {days:?}", m.admin.days_not_a_number))?;
    let draft = PolicyDraft { two_factor: two_factor.to_owned(), allowed_methods, trusted_networks, remember_device_days };
    serde_json::to_value(draft).map_err(|e| e.to_string())
}

/// `POST /admin/tenants/{id}/policy` → `PUT /api/v1/tenants/{id}/policy`. A change that would
/// lock admins out comes back as a page naming them, with a box to save anyway.
async fn save_policy(console: Console, Path(id): Path<String>, axum::Form(form): Form) -> Response {
    let result = async {
        console.check_form(&form)?;
        let m = console.m;
        let back = tenant_path(&id);
        let policy = policy_from_form(m, &form).map_err(|detail| ConsoleError::Refused { back_to: format!("{back}#policy-h"), detail })?;
        let confirm = form.get("confirm_lockout").is_some_and(|v| !v.is_empty());
        let body = PolicyChange { policy: policy.clone(), mode: PolicyMode::Enforce, confirm_lockout: confirm };
        let api = api_from(&console, &back)?;
        match api.send_only(Method::PUT, &format!("/api/v1/tenants/{}/policy", encode(&id)), Some(&body)).await {
            Ok(_) => Ok(console.done(&format!("{back}#policy-h"), m.admin.policy_saved)),
            Err(ApiFailure::Refused { status: StatusCode::CONFLICT, detail }) => {
                let viewer = viewer(&console).await;
                let sent: DomainPolicy = serde_json::from_value(policy).unwrap_or_default();
                let mut shown = policy_form(m, &sent);
                shown.networks = shown.networks.replace('\n', " ");
                let page = LockoutPage {
                    m,
                    chrome: chrome(&console, viewer),
                    nav: AdminNav::new(viewer, "overview"),
                    csrf_token: &console.view.csrf_token,
                    action: format!("{back}/policy"),
                    back,
                    detail,
                    policy: shown,
                };
                Ok(page.render_page(StatusCode::CONFLICT))
            }
            Err(failure) => Err(console.failed(failure, &format!("{back}#policy-h"))),
        }
    }
    .await;
    console.finish(result)
}

/// `POST /admin/tenants/{id}/domains` (operators, who check the domain is the tenant's first).
async fn add_domain(console: Console, Path(id): Path<String>, axum::Form(form): Form) -> Response {
    let result = async {
        console.check_form(&form)?;
        let back = tenant_path(&id);
        let domain = form.get("domain").map(|d| d.trim().to_owned()).unwrap_or_default();
        let path = format!("/api/v1/tenants/{}/domains", encode(&id));
        api_from(&console, &back)?
            .send_only(Method::POST, &path, Some(&NewDomain { domain: domain.clone() }))
            .await
            .map_err(|e| console.failed(e, &format!("{back}#domains-h")))?;
        Ok(console.done(&format!("{back}#domains-h"), format!("{} {domain}", console.m.admin.domain_added)))
    }
    .await;
    console.finish(result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_policy_form_reads_as_the_api_takes_it() {
        let m = &crate::messages::EN;
        let form: HashMap<String, String> = [
            ("two_factor", "required"),
            ("method_totp", "on"),
            ("method_passkey", "on"),
            ("trusted_networks", "10.0.0.0/8\r\n 192.0.2.0/24, 2001:db8::/32\n\n"),
            ("remember_device_days", " 14 "),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let policy = policy_from_form(m, &form).unwrap();
        assert_eq!(
            policy,
            json!({ "two_factor": "required", "allowed_methods": ["totp", "passkey"], "trusted_networks": ["10.0.0.0/8", "192.0.2.0/24", "2001:db8::/32"], "remember_device_days": 14 })
        );
        let parsed: DomainPolicy = serde_json::from_value(policy).unwrap();
        assert_eq!(policy_form(m, &parsed).networks, "10.0.0.0/8\n192.0.2.0/24\n2001:db8::/32");
        let bad: HashMap<String, String> = [("remember_device_days".to_owned(), "a week".to_owned())].into();
        assert!(policy_from_form(m, &bad).unwrap_err().contains("a week"));
    }
}
