//! The admin API's edge (`/api/v1`): tenants with their domains and domain policy, the policy
//! simulator, the staged policy's report, applications with their 2FA behaviour, and the
//! tenant lifecycle. Instance operators call it with a client-credentials token carrying
//! `gatehouse:admin` (only applications marked `operator` can get one); tenant admins (role
//! `admin`) with their own tokens, and only for their own tenant. The handlers authenticate the
//! caller, parse the body and call `gatehouse-admin`, whose errors become RFC 9457 problem
//! documents (`problem.rs`); after a write they reload the in-memory directory.

use async_trait::async_trait;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use gatehouse_admin::policy::ReportQuery;
use gatehouse_admin::{Admin, AdminError, Caller, Origin, PasswordHashing, parse_body};
use gatehouse_api::tenants::{NewDomain, NewTenant, Termination};
use gatehouse_core::ids::UserId;
use gatehouse_core::{ClientId, OAuthError, OAuthErrorCode};
use std::net::IpAddr;
use std::sync::Arc;
use zeroize::Zeroizing;

use super::ClientAddr;
use super::api_body::ApiBody;
use super::problem::ManagementError;
use super::userinfo::bearer_from_header;
use crate::error::{ApiError, Challenge};
use crate::state::{AppState, Passwords, now};
use crate::tokens;

/// The scope of an operator's client-credentials token.
pub use gatehouse_oauth::ADMIN_SCOPE;

type Result<T> = std::result::Result<T, ManagementError>;

fn forbidden(description: &'static str) -> ManagementError {
    let error = OAuthError::new(OAuthErrorCode::InsufficientScope, description);
    ManagementError::Token(ApiError::OAuth { error, challenge: Challenge::Bearer, retry_after: None })
}

/// Who is calling, from the bearer token: an operator application, an operator or a tenant
/// admin with a `gatehouse:admin` token.
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

/// The management services' context for this request.
pub(super) fn admin(state: &AppState) -> Admin<'_> {
    Admin { store: state.store.as_ref(), audit: &state.audit, monitor: &state.monitor, outbox: &state.factors.services.outbox, now: now() }
}

/// Where the request came from, as the audit trail records it.
pub(super) fn origin(address: IpAddr, headers: &HeaderMap) -> Origin {
    let user_agent = super::user_agent(headers);
    Origin { address, user_agent: (!user_agent.is_empty()).then_some(user_agent) }
}

/// New passwords are hashed like sign-ins' are: Argon2 off the async workers, within the same
/// concurrency cap.
pub(super) struct HashingPool(pub(super) Arc<Passwords>);

#[async_trait]
impl PasswordHashing for HashingPool {
    async fn hash(&self, password: Zeroizing<String>) -> std::result::Result<String, AdminError> {
        let _permit = self.0.permits.acquire().await.map_err(|_| AdminError::Unavailable("shutting down"))?;
        let hashing = Arc::clone(&self.0);
        let hashed = tokio::task::spawn_blocking(move || hashing.hasher.hash(&password)).await;
        Ok(hashed.map_err(|_| AdminError::Unavailable("password hashing failed"))??)
    }
}

/// `GET /api/v1/tenants`
pub async fn tenants(State(state): State<AppState>, headers: HeaderMap) -> Result<Response> {
    let caller = caller(&state, &headers).await?;
    Ok(Json(admin(&state).tenants(&caller).await?).into_response())
}

/// `GET /api/v1/tenants/{id}`
pub async fn tenant(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<String>) -> Result<Response> {
    let caller = caller(&state, &headers).await?;
    Ok(Json(gatehouse_admin::tenants::tenant_body(&admin(&state).tenant_for(&caller, &id).await?)).into_response())
}

/// `POST /api/v1/tenants` (operators): a tenant with its email domains.
pub async fn create_tenant(State(state): State<AppState>, ClientAddr(addr): ClientAddr, headers: HeaderMap, ApiBody(body): ApiBody) -> Result<Response> {
    let caller = caller(&state, &headers).await?;
    caller.require_operator()?;
    let request: NewTenant = parse_body(&body)?;
    let created = admin(&state).create_tenant(&caller, &origin(addr, &headers), request).await?;
    state.reload().await?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
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
    let admin = admin(&state);
    let tenant = admin.tenant_for(&caller, &id).await?;
    let request: NewDomain = parse_body(&body)?;
    let updated = admin.add_domain(&caller, &origin(addr, &headers), &tenant, request).await?;
    state.reload().await?;
    Ok((StatusCode::CREATED, Json(updated)).into_response())
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
    let admin = admin(&state);
    let tenant = admin.tenant_for(&caller, &id).await?;
    let change = parse_body(&body)?;
    let changed = admin.put_domain_policy(&caller, &origin(addr, &headers), &tenant, change).await?;
    state.reload().await?;
    Ok(Json(changed).into_response())
}

/// `DELETE /api/v1/tenants/{id}/staged-policy`: stops the report-only trial.
pub async fn discard_staged(State(state): State<AppState>, ClientAddr(addr): ClientAddr, headers: HeaderMap, Path(id): Path<String>) -> Result<Response> {
    let caller = caller(&state, &headers).await?;
    admin(&state).discard_staged(&caller, &origin(addr, &headers), &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /api/v1/tenants/{id}/staged-policy/report?days=30`
pub async fn staged_report(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<String>, Query(query): Query<ReportQuery>) -> Result<Response> {
    let caller = caller(&state, &headers).await?;
    Ok(Json(admin(&state).staged_report(&caller, &id, &query).await?).into_response())
}

/// `POST /api/v1/tenants/{id}/terminate` (operators): sign-in stops now; the data is deleted
/// after the retention period unless the tenant is reinstated first.
pub async fn terminate(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response> {
    let caller = caller(&state, &headers).await?;
    caller.require_operator()?;
    let request: Termination = if body.is_empty() { Termination::default() } else { parse_body(&body)? };
    let terminated = admin(&state).terminate(&caller, &origin(addr, &headers), &id, request).await?;
    state.reload().await?;
    Ok(Json(terminated).into_response())
}

/// `POST /api/v1/tenants/{id}/reinstate` (operators): undoes a termination before deletion.
pub async fn reinstate(State(state): State<AppState>, ClientAddr(addr): ClientAddr, headers: HeaderMap, Path(id): Path<String>) -> Result<Response> {
    let caller = caller(&state, &headers).await?;
    let reinstated = admin(&state).reinstate(&caller, &origin(addr, &headers), &id).await?;
    state.reload().await?;
    Ok(Json(reinstated).into_response())
}

/// `GET /api/v1/tenants/{id}/reported-addresses`
pub async fn reported_addresses(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<String>) -> Result<Response> {
    let caller = caller(&state, &headers).await?;
    Ok(Json(admin(&state).reported_addresses(&caller, &id).await?).into_response())
}

/// `DELETE /api/v1/tenants/{id}/reported-addresses/{address}`
pub async fn clear_reported_address(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    Path((id, address)): Path<(String, String)>,
) -> Result<Response> {
    let caller = caller(&state, &headers).await?;
    admin(&state).clear_reported_address(&caller, &origin(addr, &headers), &id, &address).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /api/v1/applications` (operators).
pub async fn applications(State(state): State<AppState>, headers: HeaderMap) -> Result<Response> {
    let caller = caller(&state, &headers).await?;
    Ok(Json(admin(&state).applications(&caller).await?).into_response())
}

/// `POST /api/v1/applications` (operators): registers an application; a confidential one gets
/// a 256-bit secret, returned once.
pub async fn create_application(State(state): State<AppState>, ClientAddr(addr): ClientAddr, headers: HeaderMap, ApiBody(body): ApiBody) -> Result<Response> {
    let caller = caller(&state, &headers).await?;
    caller.require_operator()?;
    let request = parse_body(&body)?;
    let created = admin(&state).create_application(&caller, &origin(addr, &headers), request, &state.digester).await?;
    state.reload().await?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
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
    let client_id = ClientId::parse(&id).map_err(|e| AdminError::bad_request(format!("client_id: {e}")))?;
    let policy = parse_body(&body)?;
    let changed = admin(&state).put_app_policy(&caller, &origin(addr, &headers), &client_id, policy).await?;
    state.reload().await?;
    Ok(Json(changed).into_response())
}

/// `POST /api/v1/policy/simulate`: what would happen if this person signed in to this
/// application from this address; writes nothing.
pub async fn simulate(State(state): State<AppState>, headers: HeaderMap, ApiBody(body): ApiBody) -> Result<Response> {
    let caller = caller(&state, &headers).await?;
    let request = parse_body(&body)?;
    Ok(Json(admin(&state).simulate(&caller, &request).await?).into_response())
}

/// `GET /api/v1/openapi.json`
pub async fn openapi() -> Response {
    ([(axum::http::header::CONTENT_TYPE, "application/json")], include_str!("../../static/openapi.json")).into_response()
}
