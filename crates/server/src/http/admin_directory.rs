//! The directory half of the admin API: creating tenants, adding domains, creating and
//! updating users, resetting a user's second factors, and registering applications. Writes go
//! through the same one-transaction import path as `gatehouse import`, so the API and import
//! files cannot disagree about what a valid tenant, user or application is.

use crate::monitor::NewAlert;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use gatehouse_api::applications::{ApplicationCreated, NewApplication};
use gatehouse_api::tenants::{NewDomain, NewTenant};
use gatehouse_api::users::{NewUser, User as UserBody, UserChange};
use gatehouse_core::alert::AlertKind;
use gatehouse_core::ids::{FactorId, TenantId, UserId};
use gatehouse_core::model::{Tenant, User};
use gatehouse_core::{Client, ClientId, Email, EmailDomain, GrantType, RedirectUri, SigningAlg};
use gatehouse_store::{ImportPlan, StoreError, TenantPlan, UserPlan};
use serde_json::json;
use zeroize::Zeroizing;

use super::ClientAddr;
use super::admin_api::{Caller, caller, parse_body, tenant_body, tenant_for};
use super::api_body::ApiBody;
use super::problem::{ManagementError, Problem};
use crate::delivery::NotificationKind;
use crate::mfa;
use crate::state::{AppState, now};
use gatehouse_core::audit::AuditEntry;

type Result<T> = std::result::Result<T, ManagementError>;

fn new_id() -> Result<String> {
    Ok(gatehouse_crypto::random::id()?)
}

/// Applies a plan with its audit record; a conflict (a domain another tenant owns) is a 409,
/// nothing applied (and nothing audited).
async fn apply(state: &AppState, mut plan: ImportPlan, audit: AuditEntry) -> Result<()> {
    plan.audit.push(audit);
    match state.store.apply_import(&plan, now()).await {
        Err(StoreError::Conflict(detail)) => Err(Problem::new(StatusCode::CONFLICT, "Conflict", detail).into()),
        other => {
            other?;
            state.reload().await?;
            Ok(())
        }
    }
}

/// A plan touching one existing tenant (its name and domains as they are).
fn tenant_plan(tenant: &Tenant, users: Vec<UserPlan>) -> TenantPlan {
    TenantPlan { new_id: tenant.id.clone(), name: tenant.name.clone(), domains: tenant.domains.clone(), users, policy: None }
}

fn user_body(user: &User) -> UserBody {
    UserBody {
        id: user.id.as_str().to_owned(),
        tenant: user.tenant_id.as_str().to_owned(),
        email: user.email.as_str().to_owned(),
        name: user.name.clone(),
        roles: user.roles.clone(),
    }
}

fn parse_domains(domains: &[String]) -> Result<Vec<EmailDomain>> {
    domains.iter().map(|d| EmailDomain::parse(d).map_err(|e| Problem::bad_request(format!("domain {d:?}: {e}")).into())).collect()
}

/// `POST /api/v1/tenants` (operators): a tenant with its email domains.
pub async fn create_tenant(State(state): State<AppState>, ClientAddr(addr): ClientAddr, headers: HeaderMap, ApiBody(body): ApiBody) -> Result<Response> {
    let caller = caller(&state, &headers).await?;
    caller.require_operator()?;
    let request: NewTenant = parse_body(&body)?;
    let name = request.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(Problem::bad_request("name must be 1 to 200 characters").into());
    }
    let domains = parse_domains(&request.domains)?;
    if state.store.tenants().await?.iter().any(|t| t.name == name) {
        return Err(Problem::new(StatusCode::CONFLICT, "Conflict", format!("a tenant named {name:?} exists")).into());
    }
    let id = TenantId::new(new_id()?);
    let plan = TenantPlan { new_id: id.clone(), name: name.to_owned(), domains, users: vec![], policy: None };
    let after = json!({ "name": plan.name, "domains": plan.domains.iter().map(|d| d.as_str()).collect::<Vec<_>>() });
    let audit = caller.audit(addr, &headers, "tenant.create", format!("tenant:{id}"), None, Some(after));
    apply(&state, ImportPlan { tenants: vec![plan], ..Default::default() }, audit).await?;
    let tenant = state.store.tenant(&id).await?.ok_or_else(|| Problem::new(StatusCode::NOT_FOUND, "Not found", "no such tenant"))?;
    Ok((StatusCode::CREATED, Json(tenant_body(&tenant))).into_response())
}

/// `POST /api/v1/tenants/{id}/domains` (operators, who verify ownership first).
pub async fn add_domain(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    Path(id): Path<String>,
    ApiBody(body): ApiBody,
) -> Result<Response> {
    let caller = caller(&state, &headers).await?;
    caller.require_operator()?;
    let tenant = tenant_for(&state, &caller, &id).await?;
    let request: NewDomain = parse_body(&body)?;
    let mut plan = tenant_plan(&tenant, vec![]);
    plan.domains.extend(parse_domains(std::slice::from_ref(&request.domain))?);
    let audit = caller.audit(addr, &headers, "tenant.domain.add", format!("tenant:{}", tenant.id), None, Some(json!({ "domain": request.domain })));
    apply(&state, ImportPlan { tenants: vec![plan], ..Default::default() }, audit).await?;
    let tenant = state.store.tenant(&tenant.id).await?.ok_or_else(|| Problem::new(StatusCode::NOT_FOUND, "Not found", "no such tenant"))?;
    Ok((StatusCode::CREATED, Json(tenant_body(&tenant))).into_response())
}

/// Roles a caller may grant: tenant admins grant only `admin`; operators also `operator`.
fn grantable(caller: &Caller) -> &'static [&'static str] {
    if matches!(caller, Caller::Operator { .. }) { &["admin", "operator"] } else { &["admin"] }
}

fn check_roles(caller: &Caller, roles: &[String]) -> Result<Vec<String>> {
    let allowed = grantable(caller);
    if let Some(bad) = roles.iter().find(|r| !allowed.contains(&r.as_str())) {
        return Err(Problem::new(
            StatusCode::FORBIDDEN,
            "Role not grantable",
            format!("role {bad:?} cannot be granted here (allowed: {})", allowed.join(", ")),
        )
        .into());
    }
    let mut roles = roles.to_vec();
    roles.sort();
    roles.dedup();
    Ok(roles)
}

/// `POST /api/v1/tenants/{id}/users`: a user on one of the tenant's domains.
pub async fn create_user(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    Path(id): Path<String>,
    ApiBody(body): ApiBody,
) -> Result<Response> {
    let caller = caller(&state, &headers).await?;
    let tenant = tenant_for(&state, &caller, &id).await?;
    let request: NewUser = parse_body(&body)?;
    let email = Email::parse(&request.email).map_err(|e| Problem::bad_request(format!("email: {e}")))?;
    if !tenant.domains.contains(&email.domain()) {
        return Err(Problem::bad_request(format!("{email} is not on one of the tenant's domains")).into());
    }
    let name = request.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(Problem::bad_request("name must be 1 to 200 characters").into());
    }
    let roles = check_roles(&caller, &request.roles)?;
    if state.store.user_by_email(&email).await?.is_some() {
        return Err(Problem::new(StatusCode::CONFLICT, "Conflict", format!("{email} already has an account")).into());
    }
    let password_hash = match &request.password {
        Some(password) if let Err(problem) = gatehouse_core::password::check_new_password(password, email.as_str()) => {
            return Err(Problem::bad_request(format!("password: {problem}")).into());
        }
        Some(password) => {
            // Argon2 off the async workers, within the same concurrency cap as sign-ins.
            let _permit = state.passwords.permits.acquire().await.map_err(|_| Problem::new(StatusCode::SERVICE_UNAVAILABLE, "Unavailable", "shutting down"))?;
            let hashing = std::sync::Arc::clone(&state.passwords);
            let password = Zeroizing::new(password.clone());
            let hashed = tokio::task::spawn_blocking(move || hashing.hasher.hash(&password)).await;
            Some(hashed.map_err(|_| Problem::new(StatusCode::SERVICE_UNAVAILABLE, "Unavailable", "password hashing failed"))??)
        }
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
        new_factor_ids: [FactorId::new(new_id()?), FactorId::new(new_id()?)],
    };
    // The password is never recorded, only that one was set.
    // Personal fields are named, never recorded: the trail outlives an erasure, and names
    // people only by their pseudonymous id.
    let after = json!({ "fields": ["email", "name"], "roles": plan.roles, "password_set": plan.password_hash.is_some() });
    let audit = caller.audit(addr, &headers, "user.create", format!("user:{user_id}"), None, Some(after)).in_tenant(tenant.id.as_str());
    let made_admin = plan.roles.iter().any(|r| r == ADMIN_ROLE || r == OPERATOR_ROLE);
    apply(&state, ImportPlan { tenants: vec![tenant_plan(&tenant, vec![plan])], ..Default::default() }, audit).await?;
    let user = state.store.user(&user_id).await?.ok_or_else(|| Problem::new(StatusCode::NOT_FOUND, "Not found", "no such user"))?;
    if made_admin {
        role_escalation(&state, &caller, &user, addr).await?;
    }
    Ok((StatusCode::CREATED, Json(user_body(&user))).into_response())
}

const ADMIN_ROLE: &str = "admin";
const OPERATOR_ROLE: &str = "operator";

/// Someone was given the admin or operator role: an alert for the tenant's admins and the
/// operators.
async fn role_escalation(state: &AppState, caller: &Caller, user: &User, addr: std::net::IpAddr) -> Result<()> {
    let alert = NewAlert {
        kind: AlertKind::RoleEscalation,
        tenant: Some(user.tenant_id.clone()),
        subject: format!("user:{}", user.id),
        summary: format!("user:{} was given the roles {} by {}", user.id, user.roles.join(", "), caller.actor()),
        details: json!({ "user": user.id.as_str(), "by": caller.actor(), "address": addr.to_string() }),
    };
    state.monitor.raise(alert, crate::state::now()).await?;
    Ok(())
}

/// A user the caller may manage; another tenant's user (or, for a tenant admin, an operator)
/// is "not found", like a missing one.
async fn user_for(state: &AppState, caller: &Caller, id: &str) -> Result<User> {
    state
        .store
        .user(&UserId::new(id))
        .await?
        .filter(|u| caller.may_manage(u))
        .ok_or_else(|| Problem::new(StatusCode::NOT_FOUND, "Not found", "no such user").into())
}

/// `PATCH /api/v1/users/{id}`: name and roles.
pub async fn update_user(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    Path(id): Path<String>,
    ApiBody(body): ApiBody,
) -> Result<Response> {
    let caller = caller(&state, &headers).await?;
    let user = user_for(&state, &caller, &id).await?;
    let request: UserChange = parse_body(&body)?;
    let name = request.name.as_deref().map(str::trim).unwrap_or(&user.name).to_owned();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(Problem::bad_request("name must be 1 to 200 characters").into());
    }
    let roles = match &request.roles {
        // Roles the caller cannot grant stay as they are (never silently removed).
        Some(roles) => {
            let mut roles = check_roles(&caller, roles)?;
            roles.extend(user.roles.iter().filter(|r| !grantable(&caller).contains(&r.as_str())).cloned());
            roles.sort();
            roles.dedup();
            roles
        }
        None => user.roles.clone(),
    };
    let tenant = tenant_for(&state, &caller, user.tenant_id.as_str()).await?;
    let plan = UserPlan {
        new_id: user.id.clone(),
        email: user.email.clone(),
        name,
        password_hash: None,
        roles,
        totp_secret: None,
        phone: None,
        new_factor_ids: [FactorId::new(new_id()?), FactorId::new(new_id()?)],
    };
    // A changed name is noted, never recorded (the trail outlives an erasure).
    let name_changed = plan.name != user.name;
    let before = json!({ "roles": user.roles });
    let after = if name_changed { json!({ "roles": plan.roles, "changed": ["name"] }) } else { json!({ "roles": plan.roles }) };
    let audit = caller.audit(addr, &headers, "user.update", format!("user:{}", user.id), Some(before), Some(after)).in_tenant(user.tenant_id.as_str());
    let made_admin = [ADMIN_ROLE, OPERATOR_ROLE].iter().any(|role| plan.roles.iter().any(|r| r == role) && !user.roles.iter().any(|r| r == role));
    apply(&state, ImportPlan { tenants: vec![tenant_plan(&tenant, vec![plan])], ..Default::default() }, audit).await?;
    let updated = state.store.user(&user.id).await?.ok_or_else(|| Problem::new(StatusCode::NOT_FOUND, "Not found", "no such user"))?;
    if made_admin {
        role_escalation(&state, &caller, &updated, addr).await?;
    }
    Ok(Json(user_body(&updated)).into_response())
}

/// `DELETE /api/v1/users/{id}/factors`: resets a user's second factors and recovery codes (a
/// lost phone); their next sign-in that needs 2FA enrolls again. The user is told.
pub async fn reset_factors(State(state): State<AppState>, ClientAddr(addr): ClientAddr, headers: HeaderMap, Path(id): Path<String>) -> Result<Response> {
    let now = now();
    let caller = caller(&state, &headers).await?;
    let user = user_for(&state, &caller, &id).await?;
    let factors = state.store.factors(&user.id).await?;
    let before = json!({ "factors": factors.iter().map(|f| f.kind.as_str()).collect::<Vec<_>>() });
    // Recorded first: the removals that follow are separate writes.
    state
        .audit
        .append(&caller.audit(addr, &headers, "user.factors.reset", format!("user:{}", user.id), Some(before), None).in_tenant(user.tenant_id.as_str()))
        .await?;
    for factor in factors {
        if state.store.remove_factor(&user.id, &factor.id).await? {
            mfa::notify(&state.factors, &user, NotificationKind::FactorRemoved { factor: factor.id.to_string(), label: factor.label }, now);
        }
    }
    state.store.replace_recovery_codes(&user.id, &[], now).await?;
    tracing::info!(user = %user.id, "second factors reset by an administrator");
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /api/v1/users/{id}/unlock`: ends a brute-force lock and forgets the failures, audited.
pub async fn unlock(State(state): State<AppState>, ClientAddr(addr): ClientAddr, headers: HeaderMap, Path(id): Path<String>) -> Result<Response> {
    let caller = caller(&state, &headers).await?;
    let user = user_for(&state, &caller, &id).await?;
    let before = state.store.account_throttle(&user.id).await?.map(|t| json!({ "failures": t.failures }));
    state.store.clear_account_throttle(&user.id).await?;
    state.audit.append(&caller.audit(addr, &headers, "user.unlock", format!("user:{}", user.id), before, None).in_tenant(user.tenant_id.as_str())).await?;
    tracing::info!(user = %user.id, "account unlocked by an administrator");
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /api/v1/applications` (operators): registers an application; a confidential one gets
/// a 256-bit secret, returned once.
pub async fn create_application(State(state): State<AppState>, ClientAddr(addr): ClientAddr, headers: HeaderMap, ApiBody(body): ApiBody) -> Result<Response> {
    let caller = caller(&state, &headers).await?;
    caller.require_operator()?;
    let request: NewApplication = parse_body(&body)?;
    let bad = |field: &str, e: &dyn std::fmt::Display| -> ManagementError { Problem::bad_request(format!("{field}: {e}")).into() };
    let client_id = ClientId::parse(&request.client_id).map_err(|e| bad("client_id", &e))?;
    if state.store.client(&client_id).await?.is_some() {
        return Err(Problem::new(StatusCode::CONFLICT, "Conflict", format!("client_id {client_id} is taken")).into());
    }
    let uris = |list: &[String], field: &str| -> Result<Vec<RedirectUri>> { list.iter().map(|u| RedirectUri::parse(u).map_err(|e| bad(field, &e))).collect() };
    let grant_types: Vec<GrantType> = request.grant_types.iter().map(|g| GrantType::parse(g).map_err(|e| bad("grant_types", &e))).collect::<Result<_>>()?;
    if grant_types.is_empty() {
        return Err(Problem::bad_request("grant_types: at least one").into());
    }
    if grant_types.contains(&GrantType::AuthorizationCode) && request.redirect_uris.is_empty() {
        return Err(Problem::bad_request("redirect_uris: the authorization code grant needs at least one").into());
    }
    let name = request.name.trim();
    if name.is_empty() {
        return Err(Problem::bad_request("name must not be empty").into());
    }
    let secret = request.confidential.then(gatehouse_crypto::random::token).transpose()?;
    let client = Client {
        client_id: client_id.clone(),
        name: name.to_owned(),
        secret_digest: secret.as_deref().map(|s| state.digester.digest(s)),
        redirect_uris: uris(&request.redirect_uris, "redirect_uris")?,
        post_logout_redirect_uris: uris(&request.post_logout_redirect_uris, "post_logout_redirect_uris")?,
        grant_types,
        id_token_signed_response_alg: match &request.id_token_signed_response_alg {
            Some(alg) => SigningAlg::parse(alg).map_err(|e| bad("id_token_signed_response_alg", &e))?,
            None => SigningAlg::default(),
        },
        policy: request.policy,
        operator: false,
        scopes: request.scopes.iter().map(|s| gatehouse_core::client::parse_api_scope(s).map_err(|e| bad("scopes", &e))).collect::<Result<_>>()?,
    };
    // Never the secret: only whether the application has one.
    let after = json!({
        "name": client.name,
        "redirect_uris": client.redirect_uris.iter().map(|u| u.as_str()).collect::<Vec<_>>(),
        "grant_types": client.grant_types.iter().map(|g| g.as_str()).collect::<Vec<_>>(),
        "confidential": client.secret_digest.is_some(),
        "policy": client.policy,
        "scopes": client.scopes,
    });
    let audit = caller.audit(addr, &headers, "application.create", format!("client:{client_id}"), None, Some(after));
    apply(&state, ImportPlan { clients: vec![client], ..Default::default() }, audit).await?;
    tracing::info!(client = %client_id, "application registered");
    Ok((StatusCode::CREATED, Json(ApplicationCreated { client_id: client_id.as_str().to_owned(), client_secret: secret })).into_response())
}
