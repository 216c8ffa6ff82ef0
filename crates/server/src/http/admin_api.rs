//! The admin API's edge (`/api/v1`): tenants with their domains and domain policy, the policy
//! simulator, the staged policy's report, applications with their 2FA behaviour, and the
//! tenant lifecycle. Instance operators call it with a client-credentials token carrying
//! `gatehouse:admin` (only applications marked `operator` can get one); tenant admins (role
//! `admin`) with their own tokens, and only for their own tenant (`AdminCall`). The handlers
//! parse the body and call `gatehouse-admin`, whose errors become RFC 9457 problem documents
//! (`problem.rs`); after a write they reload the in-memory directory.

use async_trait::async_trait;
use axum::Json;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use gatehouse_admin::policy::ReportQuery;
use gatehouse_admin::{AdminError, PasswordHashing, parse_body};
use gatehouse_api::tenants::{NewDomain, NewTenant, Termination};
use gatehouse_core::ClientId;
use std::sync::Arc;
use zeroize::Zeroizing;

use super::api_body::ApiBody;
use super::api_caller::AdminCall;
use super::problem::ManagementError;
use crate::state::Passwords;

type Result<T> = std::result::Result<T, ManagementError>;

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
pub async fn tenants(call: AdminCall) -> Result<Response> {
    Ok(Json(call.admin().tenants(&call.caller).await?).into_response())
}

/// `GET /api/v1/tenants/{id}`
pub async fn tenant(Path(id): Path<String>, call: AdminCall) -> Result<Response> {
    Ok(Json(gatehouse_admin::tenants::tenant_body(&call.admin().tenant_for(&call.caller, &id).await?)).into_response())
}

/// `POST /api/v1/tenants` (operators): a tenant with its email domains.
pub async fn create_tenant(call: AdminCall, ApiBody(body): ApiBody) -> Result<Response> {
    call.caller.require_operator()?;
    let request: NewTenant = parse_body(&body)?;
    let created = call.admin().create_tenant(&call.caller, &call.origin, request).await?;
    call.state.reload().await?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

/// `POST /api/v1/tenants/{id}/domains` (operators, who verify ownership first).
pub async fn add_domain(Path(id): Path<String>, call: AdminCall, ApiBody(body): ApiBody) -> Result<Response> {
    call.caller.require_operator()?;
    let admin = call.admin();
    let tenant = admin.tenant_for(&call.caller, &id).await?;
    let request: NewDomain = parse_body(&body)?;
    let updated = admin.add_domain(&call.caller, &call.origin, &tenant, request).await?;
    call.state.reload().await?;
    Ok((StatusCode::CREATED, Json(updated)).into_response())
}

/// `PUT /api/v1/tenants/{id}/policy`: replaces the domain policy, or stages it in report-only
/// mode. A change that would lock admins out is refused (409, naming them) unless confirmed.
pub async fn put_domain_policy(Path(id): Path<String>, call: AdminCall, ApiBody(body): ApiBody) -> Result<Response> {
    let admin = call.admin();
    let tenant = admin.tenant_for(&call.caller, &id).await?;
    let change = parse_body(&body)?;
    let changed = admin.put_domain_policy(&call.caller, &call.origin, &tenant, change).await?;
    call.state.reload().await?;
    Ok(Json(changed).into_response())
}

/// `DELETE /api/v1/tenants/{id}/staged-policy`: stops the report-only trial.
pub async fn discard_staged(Path(id): Path<String>, call: AdminCall) -> Result<Response> {
    call.admin().discard_staged(&call.caller, &call.origin, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /api/v1/tenants/{id}/staged-policy/report?days=30`
pub async fn staged_report(Path(id): Path<String>, Query(query): Query<ReportQuery>, call: AdminCall) -> Result<Response> {
    Ok(Json(call.admin().staged_report(&call.caller, &id, &query).await?).into_response())
}

/// `POST /api/v1/tenants/{id}/terminate` (operators): sign-in stops now; the data is deleted
/// after the retention period unless the tenant is reinstated first.
pub async fn terminate(Path(id): Path<String>, call: AdminCall, body: axum::body::Bytes) -> Result<Response> {
    call.caller.require_operator()?;
    let request: Termination = if body.is_empty() { Termination::default() } else { parse_body(&body)? };
    let terminated = call.admin().terminate(&call.caller, &call.origin, &id, request).await?;
    call.state.reload().await?;
    Ok(Json(terminated).into_response())
}

/// `POST /api/v1/tenants/{id}/reinstate` (operators): undoes a termination before deletion.
pub async fn reinstate(Path(id): Path<String>, call: AdminCall) -> Result<Response> {
    let reinstated = call.admin().reinstate(&call.caller, &call.origin, &id).await?;
    call.state.reload().await?;
    Ok(Json(reinstated).into_response())
}

/// `GET /api/v1/tenants/{id}/reported-addresses`
pub async fn reported_addresses(Path(id): Path<String>, call: AdminCall) -> Result<Response> {
    Ok(Json(call.admin().reported_addresses(&call.caller, &id).await?).into_response())
}

/// `DELETE /api/v1/tenants/{id}/reported-addresses/{address}`
pub async fn clear_reported_address(Path((id, address)): Path<(String, String)>, call: AdminCall) -> Result<Response> {
    call.admin().clear_reported_address(&call.caller, &call.origin, &id, &address).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /api/v1/applications` (operators).
pub async fn applications(call: AdminCall) -> Result<Response> {
    Ok(Json(call.admin().applications(&call.caller).await?).into_response())
}

/// `POST /api/v1/applications` (operators): registers an application; a confidential one gets
/// a 256-bit secret, returned once.
pub async fn create_application(call: AdminCall, ApiBody(body): ApiBody) -> Result<Response> {
    call.caller.require_operator()?;
    let request = parse_body(&body)?;
    let created = call.admin().create_application(&call.caller, &call.origin, request, &call.state.digester).await?;
    call.state.reload().await?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

/// `PUT /api/v1/applications/{client_id}/policy` (operators): Bypass, Adaptive or Required,
/// and the scopes that need a step-up.
pub async fn put_app_policy(Path(id): Path<String>, call: AdminCall, ApiBody(body): ApiBody) -> Result<Response> {
    call.caller.require_operator()?;
    let client_id = ClientId::parse(&id).map_err(|e| AdminError::bad_request(format!("client_id: {e}")))?;
    let policy = parse_body(&body)?;
    let changed = call.admin().put_app_policy(&call.caller, &call.origin, &client_id, policy).await?;
    call.state.reload().await?;
    Ok(Json(changed).into_response())
}

/// `POST /api/v1/policy/simulate`: what would happen if this person signed in to this
/// application from this address; writes nothing.
pub async fn simulate(call: AdminCall, ApiBody(body): ApiBody) -> Result<Response> {
    let request = parse_body(&body)?;
    Ok(Json(call.admin().simulate(&call.caller, &request).await?).into_response())
}

/// `GET /api/v1/openapi.json`
pub async fn openapi() -> Response {
    ([(axum::http::header::CONTENT_TYPE, "application/json")], include_str!("../../static/openapi.json")).into_response()
}
