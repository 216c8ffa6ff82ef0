//! The admin API's edge for a tenant's people: the directory, creating and updating users,
//! resetting a user's second factors, unlocking, their login history, access reports answered
//! on their behalf and erasure. The logic is `gatehouse-admin`'s; this is bodies, and
//! reloading the in-memory directory after writes.

use axum::Json;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use gatehouse_admin::history::Page;
use gatehouse_admin::parse_body;
use gatehouse_admin::privacy::ReportFormat;
use gatehouse_api::users::{NewUser, UserChange};
use std::sync::Arc;

use super::account_api::personal_data_response;
use super::admin_api::HashingPool;
use super::api_body::ApiBody;
use super::api_caller::AdminCall;
use super::problem::ManagementError;

type Result<T> = std::result::Result<T, ManagementError>;

/// `GET /api/v1/tenants/{id}/users`: users with their roles and enrolled methods (never secrets).
pub async fn users(Path(id): Path<String>, call: AdminCall) -> Result<Response> {
    let admin = call.admin();
    let tenant = admin.tenant_for(&call.caller, &id).await?;
    Ok(Json(admin.directory(&call.caller, &call.origin, &tenant).await?).into_response())
}

/// `POST /api/v1/tenants/{id}/users`: a user on one of the tenant's domains.
pub async fn create_user(Path(id): Path<String>, call: AdminCall, ApiBody(body): ApiBody) -> Result<Response> {
    let admin = call.admin();
    let tenant = admin.tenant_for(&call.caller, &id).await?;
    let request: NewUser = parse_body(&body)?;
    let hashing = HashingPool(Arc::clone(&call.state.passwords));
    let created = admin.create_user(&call.caller, &call.origin, &tenant, request, &hashing).await?;
    call.state.reload().await?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

/// `PATCH /api/v1/users/{id}`: name and roles.
pub async fn update_user(Path(id): Path<String>, call: AdminCall, ApiBody(body): ApiBody) -> Result<Response> {
    let admin = call.admin();
    let user = admin.user_for(&call.caller, &id).await?;
    let request: UserChange = parse_body(&body)?;
    let updated = admin.update_user(&call.caller, &call.origin, &user, request).await?;
    call.state.reload().await?;
    Ok(Json(updated).into_response())
}

/// `DELETE /api/v1/users/{id}/factors`: resets a user's second factors and recovery codes.
pub async fn reset_factors(Path(id): Path<String>, call: AdminCall) -> Result<Response> {
    call.admin().reset_factors(&call.caller, &call.origin, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /api/v1/users/{id}/unlock`: ends a brute-force lock and forgets the failures.
pub async fn unlock(Path(id): Path<String>, call: AdminCall) -> Result<Response> {
    call.admin().unlock(&call.caller, &call.origin, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /api/v1/users/{id}/sign-ins` (tenant admins for their users, operators for anyone).
pub async fn sign_ins(Path(id): Path<String>, Query(page): Query<Page>, call: AdminCall) -> Result<Response> {
    Ok(Json(call.admin().sign_in_history_of(&call.caller, &call.origin, &id, &page).await?).into_response())
}

/// `GET /api/v1/users/{id}/personal-data`: an access report answered on a person's behalf.
pub async fn personal_data(Path(id): Path<String>, Query(format): Query<ReportFormat>, call: AdminCall) -> Result<Response> {
    personal_data_response(call.admin().personal_data_of(&call.caller, &call.origin, &id, &format).await?)
}

/// `DELETE /api/v1/users/{id}`: erasure by crypto-shredding. The tenant's last admin cannot be
/// erased (409).
pub async fn erase(Path(id): Path<String>, call: AdminCall) -> Result<Response> {
    let erased = call.admin().erase(&call.caller, &call.origin, &id).await?;
    let state = &call.state;
    // Forget the cached account and pick up the revoked grants at once.
    state.reload().await?;
    // The person's key leaves the backups' key vaults too: earlier backups cannot open them.
    crate::backups::after_erasure(state.store.as_ref(), state.config.backups.as_ref(), &state.monitor, crate::state::now()).await;
    Ok(Json(erased).into_response())
}
