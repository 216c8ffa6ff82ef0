//! The admin API (`/api/v1`): tenants with their domains, users and domain policy, applications
//! with their 2FA behaviour, the policy simulator, and the report of a policy staged in
//! report-only mode. Instance operators call it with a client-credentials token carrying
//! `gatehouse:admin` (only applications marked `operator` can get one); tenant admins (role
//! `admin`) with their own tokens, and only for their own tenant. Validation errors are RFC
//! 9457 problem documents; nothing is written unless everything validates.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use gatehouse_api::applications::{AppPolicyChanged, Application, ApplicationList};
use gatehouse_api::simulate::Simulation;
use gatehouse_api::tenants::{PolicyChange, PolicyChanged, PolicyMode, StagedPolicyReport, Tenant as TenantBody, TenantList};
use gatehouse_api::users::{Directory, DirectoryEntry};
use gatehouse_core::audit::AuditEntry;
use gatehouse_core::ids::{TenantId, UserId};
use gatehouse_core::model::{Tenant, User};
use gatehouse_core::{ClientId, Email, OAuthError, OAuthErrorCode};
use gatehouse_policy::{AppPolicy, DomainPolicy, Person, check_change};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;
use time::Duration;

use super::ClientAddr;
use super::api_body::ApiBody;
use super::problem::{ManagementError, Problem};
use super::userinfo::bearer_from_header;
use crate::error::{ApiError, Challenge};
use crate::http::flow::policy::{Hypothetical, method_of, simulate as simulate_sign_in};
use crate::state::{AppState, now};
use crate::tokens;

/// The scope of an operator's client-credentials token.
pub use gatehouse_oauth::ADMIN_SCOPE;

type Result<T> = std::result::Result<T, ManagementError>;

/// Who is calling.
pub(super) enum Caller {
    /// An operator application's client-credentials token (`client:<id>`), or a person with
    /// the `operator` role (`user:<id>`), e.g. in the admin console.
    Operator {
        actor: String,
    },
    TenantAdmin(Arc<User>),
}

impl Caller {
    /// The audit trail's name for the caller.
    pub(super) fn actor(&self) -> String {
        match self {
            Self::Operator { actor } => actor.clone(),
            Self::TenantAdmin(user) => format!("user:{}", user.id),
        }
    }

    /// An audit record of a change this caller makes from `addr`.
    pub(super) fn audit(&self, addr: IpAddr, headers: &HeaderMap, action: &str, target: String, before: Option<Value>, after: Option<Value>) -> AuditEntry {
        let entry = AuditEntry { before, after, ..super::audit_entry(self.actor(), action, target, addr, headers) };
        match self {
            // A tenant admin's every change is within their tenant.
            Self::TenantAdmin(user) => entry.in_tenant(user.tenant_id.as_str()),
            Self::Operator { .. } => entry,
        }
    }

    pub(super) fn require_tenant(&self, tenant: &TenantId) -> Result<()> {
        match self {
            Self::TenantAdmin(user) if user.tenant_id != *tenant => {
                Err(Problem::new(StatusCode::FORBIDDEN, "Another tenant", "a tenant admin may manage only their own tenant").into())
            }
            _ => Ok(()),
        }
    }

    /// Whether the caller may change or read on behalf of `user`: within their tenant, and an
    /// operator only by another operator (a tenant admin cannot strip, reset, unlock or erase
    /// the instance's operators who happen to be in their tenant).
    pub(super) fn may_manage(&self, user: &User) -> bool {
        self.require_tenant(&user.tenant_id).is_ok() && (matches!(self, Self::Operator { .. }) || !user.roles.iter().any(|r| r == "operator"))
    }

    pub(super) fn require_operator(&self) -> Result<()> {
        match self {
            Self::Operator { .. } => Ok(()),
            Self::TenantAdmin(_) => Err(Problem::new(StatusCode::FORBIDDEN, "Operators only", "applications are managed by the instance's operators").into()),
        }
    }
}

fn forbidden(description: &'static str) -> ManagementError {
    let error = OAuthError::new(OAuthErrorCode::InsufficientScope, description);
    ManagementError::Token(ApiError::OAuth { error, challenge: Challenge::Bearer, retry_after: None })
}

pub(super) async fn caller(state: &AppState, headers: &HeaderMap) -> Result<Caller> {
    let token = bearer_from_header(headers)
        .map_err(ManagementError::Token)?
        .ok_or_else(|| ManagementError::Token(ApiError::bearer(OAuthError::new(OAuthErrorCode::InvalidToken, "an access token is required"))))?;
    let claims = tokens::validate_access_token(state, token, now()).map_err(|e| ManagementError::Token(ApiError::bearer(e)))?;
    if claims.is_client_token() {
        let operator = state.client(&ClientId::parse(&claims.client_id).map_err(|_| forbidden("unknown client"))?).is_some_and(|c| c.operator);
        return if operator && claims.has_scope(ADMIN_SCOPE) {
            Ok(Caller::Operator { actor: format!("client:{}", claims.client_id) })
        } else {
            Err(forbidden("an operator token with scope gatehouse:admin is required"))
        };
    }
    let user = state.user(&UserId::new(claims.sub.clone())).await?.ok_or_else(|| forbidden("the user no longer exists"))?;
    if !claims.has_scope(ADMIN_SCOPE) {
        return Err(forbidden("a tenant admin's token needs scope gatehouse:admin, from a first-party application"));
    }
    if user.roles.iter().any(|r| r == "operator") {
        Ok(Caller::Operator { actor: format!("user:{}", user.id) })
    } else if user.roles.iter().any(|r| r == "admin") {
        Ok(Caller::TenantAdmin(user))
    } else {
        Err(forbidden("only tenant admins and operators may use the admin API"))
    }
}

pub(super) fn parse_body<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T> {
    serde_json::from_slice(body).map_err(|e| Problem::bad_request(format!("the body is not valid: {e}")).into())
}

pub(super) fn tenant_body(tenant: &Tenant) -> TenantBody {
    TenantBody {
        id: tenant.id.as_str().to_owned(),
        name: tenant.name.clone(),
        domains: tenant.domains.iter().map(|d| d.as_str().to_owned()).collect(),
        policy: tenant.policy.clone(),
        staged_policy: tenant.staged_policy.clone(),
    }
}

pub(super) async fn tenant_for(state: &AppState, caller: &Caller, id: &str) -> Result<Tenant> {
    let id = TenantId::new(id);
    caller.require_tenant(&id)?;
    state.store.tenant(&id).await?.ok_or_else(|| Problem::new(StatusCode::NOT_FOUND, "Not found", "no such tenant").into())
}

/// `GET /api/v1/tenants`
pub async fn tenants(State(state): State<AppState>, headers: HeaderMap) -> Result<Response> {
    let caller = caller(&state, &headers).await?;
    let all = state.store.tenants().await?;
    let tenants = all.iter().filter(|t| caller.require_tenant(&t.id).is_ok()).map(tenant_body).collect();
    Ok(Json(TenantList { tenants }).into_response())
}

/// `GET /api/v1/tenants/{id}`
pub async fn tenant(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<String>) -> Result<Response> {
    let caller = caller(&state, &headers).await?;
    Ok(Json(tenant_body(&tenant_for(&state, &caller, &id).await?)).into_response())
}

/// `GET /api/v1/tenants/{id}/users`: users with their roles and enrolled methods (never secrets).
pub async fn users(State(state): State<AppState>, ClientAddr(addr): ClientAddr, headers: HeaderMap, Path(id): Path<String>) -> Result<Response> {
    let caller = caller(&state, &headers).await?;
    let tenant = tenant_for(&state, &caller, &id).await?;
    // A list of people's names and addresses: a read of personal data, audited.
    let read = caller.audit(addr, &headers, "personal_data.read", format!("tenant:{}", tenant.id), None, None);
    state.audit.append(&AuditEntry { reason: Some("user directory".into()), ..read }).await?;
    let mut out = Vec::new();
    // Like every other read: a tenant admin does not see the operators in their tenant.
    for user in state.store.tenant_users(&tenant.id).await?.into_iter().filter(|u| caller.may_manage(u)) {
        let factors = state.store.factors(&user.id).await?;
        let methods = factors.iter().filter(|f| f.is_confirmed()).map(|f| f.kind.as_str().to_owned()).collect();
        out.push(DirectoryEntry { id: user.id.as_str().to_owned(), email: user.email.as_str().to_owned(), name: user.name, roles: user.roles, methods });
    }
    Ok(Json(Directory { users: out }).into_response())
}

/// `PUT /api/v1/tenants/{id}/policy`: replaces the domain policy, or stages it in report-only
/// mode. A change that would lock admins out is refused (409, naming them) unless confirmed.
pub async fn put_domain_policy(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    Path(id): Path<String>,
    ApiBody(body): ApiBody,
) -> Result<Response> {
    let caller = caller(&state, &headers).await?;
    let tenant = tenant_for(&state, &caller, &id).await?;
    let change: PolicyChange = parse_body(&body)?;
    let policy: DomainPolicy = serde_json::from_value(change.policy).map_err(|e| Problem::bad_request(format!("policy: {e}")))?;
    let users = state.store.tenant_users(&tenant.id).await?;
    let mut enrolled = Vec::with_capacity(users.len());
    for user in &users {
        let factors = state.store.factors(&user.id).await?;
        enrolled.push(factors.iter().filter(|f| f.is_confirmed()).map(|f| method_of(f.kind)).collect());
    }
    let people: Vec<Person<'_>> = users
        .iter()
        .zip(&enrolled)
        .map(|(u, methods)| Person { label: u.email.as_str(), is_admin: u.roles.iter().any(|r| r == "admin"), enrolled: *methods })
        .collect();
    let check = check_change(&policy, &people);
    if !check.invalid.is_empty() {
        let errors: Vec<String> = check.invalid.iter().map(ToString::to_string).collect();
        return Err(Problem::bad_request(format!("the policy is not valid: {}", errors.join("; "))).into());
    }
    let enforcing = change.mode == PolicyMode::Enforce;
    if enforcing && !check.is_safe() && !change.confirm_lockout {
        let detail = format!(
            "this policy would lock out {}: they have no second factor it allows. Stage it in report_only mode first, or send confirm_lockout: true. {} other users would be asked to enroll.",
            check.admins_locked_out.join(", "),
            check.users_to_enroll
        );
        return Err(Problem::new(StatusCode::CONFLICT, "Admins would be locked out", detail).into());
    }
    let after = serde_json::to_value(&policy).ok();
    let target = format!("tenant:{}", tenant.id);
    let saved = if enforcing {
        let mut audit = caller.audit(addr, &headers, "tenant.policy.update", target, serde_json::to_value(&tenant.policy).ok(), after);
        audit.reason = change.confirm_lockout.then(|| format!("lock-out confirmed for {}", check.admins_locked_out.join(", ")));
        state.store.set_domain_policy(&tenant.id, &policy, &audit).await?
    } else {
        let audit = caller.audit(addr, &headers, "tenant.policy.stage", target, serde_json::to_value(&tenant.staged_policy).ok(), after);
        state.store.set_staged_policy(&tenant.id, Some(&policy), &audit).await?
    };
    if !saved {
        return Err(Problem::new(StatusCode::NOT_FOUND, "Not found", "no such tenant").into());
    }
    tracing::info!(tenant = %tenant.id, mode = if enforcing { "enforce" } else { "report_only" }, "domain policy changed");
    state.reload().await?;
    let updated = state.store.tenant(&tenant.id).await?.ok_or_else(|| Problem::new(StatusCode::NOT_FOUND, "Not found", "no such tenant"))?;
    Ok(Json(PolicyChanged { tenant: tenant_body(&updated), users_to_enroll: check.users_to_enroll as u64 }).into_response())
}

/// `DELETE /api/v1/tenants/{id}/staged-policy`: stops the report-only trial.
pub async fn discard_staged(State(state): State<AppState>, ClientAddr(addr): ClientAddr, headers: HeaderMap, Path(id): Path<String>) -> Result<Response> {
    let caller = caller(&state, &headers).await?;
    let tenant = tenant_for(&state, &caller, &id).await?;
    let audit =
        caller.audit(addr, &headers, "tenant.policy.discard_staged", format!("tenant:{}", tenant.id), serde_json::to_value(&tenant.staged_policy).ok(), None);
    state.store.set_staged_policy(&tenant.id, None, &audit).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
pub struct ReportQuery {
    days: Option<u16>,
}

/// `GET /api/v1/tenants/{id}/staged-policy/report?days=30`: how many recorded sign-ins the
/// staged policy would have decided differently, by user and application.
pub async fn staged_report(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<String>, Query(query): Query<ReportQuery>) -> Result<Response> {
    let caller = caller(&state, &headers).await?;
    let tenant = tenant_for(&state, &caller, &id).await?;
    let days = query.days.unwrap_or(30).clamp(1, 365);
    let outcomes = state.store.staged_outcomes(&tenant.id, now() - Duration::days(i64::from(days))).await?;
    let prompts = |kind: &str| kind == "second_factor" || kind == "enroll";
    let changed: Vec<_> = outcomes.iter().filter(|o| o.enforced != o.staged).collect();
    let mut by_user: BTreeMap<String, u32> = BTreeMap::new();
    let mut by_app: BTreeMap<String, u32> = BTreeMap::new();
    for outcome in &changed {
        let email = state.user(&outcome.user_id).await?.map_or_else(|| outcome.user_id.to_string(), |u| u.email.as_str().to_owned());
        *by_user.entry(email).or_default() += 1;
        *by_app.entry(outcome.client_id.clone().unwrap_or_default()).or_default() += 1;
    }
    let count = |n: usize| n as u64;
    Ok(Json(StagedPolicyReport {
        days,
        sign_ins: count(outcomes.len()),
        changed: count(changed.len()),
        would_prompt: count(changed.iter().filter(|o| prompts(&o.staged) && !prompts(&o.enforced)).count()),
        would_stop_prompting: count(changed.iter().filter(|o| !prompts(&o.staged) && prompts(&o.enforced)).count()),
        would_deny: count(changed.iter().filter(|o| o.staged == "deny").count()),
        by_user,
        by_application: by_app,
    })
    .into_response())
}

/// `GET /api/v1/applications` (operators).
pub async fn applications(State(state): State<AppState>, headers: HeaderMap) -> Result<Response> {
    caller(&state, &headers).await?.require_operator()?;
    let clients = state.store.clients().await?;
    let applications = clients
        .iter()
        .map(|c| Application { client_id: c.client_id.as_str().to_owned(), name: c.name.clone(), policy: c.policy.clone(), operator: c.operator })
        .collect();
    Ok(Json(ApplicationList { applications }).into_response())
}

/// `PUT /api/v1/applications/{client_id}/policy` (operators): Bypass, Adaptive or Required,
/// and the scopes that need a step-up.
pub async fn put_app_policy(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    Path(id): Path<String>,
    ApiBody(body): ApiBody,
) -> Result<Response> {
    let caller = caller(&state, &headers).await?;
    caller.require_operator()?;
    let client_id = ClientId::parse(&id).map_err(|e| Problem::bad_request(format!("client_id: {e}")))?;
    let policy: AppPolicy = parse_body(&body)?;
    // The console is where admins and operators act: it never skips the second factor.
    if client_id.as_str() == crate::console_sessions::CONSOLE_CLIENT_ID && policy.two_factor == gatehouse_policy::AppTwoFactor::Bypass {
        return Err(Problem::new(
            StatusCode::CONFLICT,
            "Not allowed",
            "the Gatehouse console cannot bypass two-step verification; choose adaptive or required",
        )
        .into());
    }
    let before = state.client(&client_id).and_then(|c| serde_json::to_value(&c.policy).ok());
    let audit = caller.audit(addr, &headers, "application.policy.update", format!("client:{client_id}"), before, serde_json::to_value(&policy).ok());
    if !state.store.set_app_policy(&client_id, &policy, &audit).await? {
        return Err(Problem::new(StatusCode::NOT_FOUND, "Not found", "no such application").into());
    }
    tracing::info!(client = %client_id, two_factor = policy.two_factor.as_str(), "application policy changed");
    state.reload().await?;
    Ok(Json(AppPolicyChanged { client_id: client_id.as_str().to_owned(), policy }).into_response())
}

/// `POST /api/v1/policy/simulate`: what would happen if this person signed in to this
/// application from this address, with the winning rule and every reason. Reads the same data
/// and runs the same code as a real sign-in; writes nothing.
pub async fn simulate(State(state): State<AppState>, headers: HeaderMap, ApiBody(body): ApiBody) -> Result<Response> {
    let now = now();
    let caller = caller(&state, &headers).await?;
    let request: Simulation = parse_body(&body)?;
    let email = Email::parse(&request.email).map_err(|e| Problem::bad_request(format!("email: {e}")))?;
    let client_id = ClientId::parse(&request.client_id).map_err(|e| Problem::bad_request(format!("client_id: {e}")))?;
    // Another tenant's user (or, for a tenant admin, an operator) is "not found" too, so the
    // simulator does not reveal who has an account elsewhere.
    let user = state
        .store
        .user_by_email(&email)
        .await?
        .filter(|u| caller.may_manage(u))
        .ok_or_else(|| Problem::new(StatusCode::NOT_FOUND, "Not found", "no such user"))?;
    let client = state.client(&client_id).ok_or_else(|| Problem::new(StatusCode::NOT_FOUND, "Not found", "no such application"))?;
    let session = match &request.session_acr {
        Some(acr) => Some(gatehouse_policy::AuthLevel::from_acr(acr).ok_or_else(|| Problem::bad_request(format!("session_acr: unknown acr value {acr:?}")))?),
        None => None,
    };
    let sign_in = Hypothetical { acr_values: &request.acr_values, scopes: &request.scopes, address: request.ip, known_device: request.known_device, session };
    let verdict = simulate_sign_in(state.store.as_ref(), &user, &client, &sign_in, now).await?;
    Ok(Json(verdict.record).into_response())
}

/// `GET /api/v1/openapi.json`
pub async fn openapi() -> Response {
    ([(axum::http::header::CONTENT_TYPE, "application/json")], include_str!("../../static/openapi.json")).into_response()
}
