//! The admin API's edge for a tenant's people: the directory, creating and updating users,
//! resetting a user's second factors, unlocking, their login history, access reports answered
//! on their behalf and erasure. The logic is `gatehouse-admin`'s; this is authentication,
//! bodies, and reloading the in-memory directory after writes.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use gatehouse_admin::history::Page;
use gatehouse_admin::parse_body;
use gatehouse_admin::privacy::ReportFormat;
use gatehouse_api::users::{NewUser, UserChange};
use std::sync::Arc;

use super::ClientAddr;
use super::account_api::personal_data_response;
use super::admin_api::{HashingPool, admin, caller, origin};
use super::api_body::ApiBody;
use super::problem::ManagementError;
use crate::state::AppState;

type Result<T> = std::result::Result<T, ManagementError>;

/// `GET /api/v1/tenants/{id}/users`: users with their roles and enrolled methods (never secrets).
pub async fn users(State(state): State<AppState>, ClientAddr(addr): ClientAddr, headers: HeaderMap, Path(id): Path<String>) -> Result<Response> {
    let caller = caller(&state, &headers).await?;
    let admin = admin(&state);
    let tenant = admin.tenant_for(&caller, &id).await?;
    Ok(Json(admin.directory(&caller, &origin(addr, &headers), &tenant).await?).into_response())
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
    let admin = admin(&state);
    let tenant = admin.tenant_for(&caller, &id).await?;
    let request: NewUser = parse_body(&body)?;
    let hashing = HashingPool(Arc::clone(&state.passwords));
    let created = admin.create_user(&caller, &origin(addr, &headers), &tenant, request, &hashing).await?;
    state.reload().await?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
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
    let admin = admin(&state);
    let user = admin.user_for(&caller, &id).await?;
    let request: UserChange = parse_body(&body)?;
    let updated = admin.update_user(&caller, &origin(addr, &headers), &user, request).await?;
    state.reload().await?;
    Ok(Json(updated).into_response())
}

/// `DELETE /api/v1/users/{id}/factors`: resets a user's second factors and recovery codes.
pub async fn reset_factors(State(state): State<AppState>, ClientAddr(addr): ClientAddr, headers: HeaderMap, Path(id): Path<String>) -> Result<Response> {
    let caller = caller(&state, &headers).await?;
    admin(&state).reset_factors(&caller, &origin(addr, &headers), &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /api/v1/users/{id}/unlock`: ends a brute-force lock and forgets the failures.
pub async fn unlock(State(state): State<AppState>, ClientAddr(addr): ClientAddr, headers: HeaderMap, Path(id): Path<String>) -> Result<Response> {
    let caller = caller(&state, &headers).await?;
    admin(&state).unlock(&caller, &origin(addr, &headers), &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /api/v1/users/{id}/sign-ins` (tenant admins for their users, operators for anyone).
pub async fn sign_ins(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(page): Query<Page>,
) -> Result<Response> {
    let caller = caller(&state, &headers).await?;
    Ok(Json(admin(&state).sign_in_history_of(&caller, &origin(addr, &headers), &id, &page).await?).into_response())
}

/// `GET /api/v1/users/{id}/personal-data`: an access report answered on a person's behalf.
pub async fn personal_data(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(format): Query<ReportFormat>,
) -> Result<Response> {
    let caller = caller(&state, &headers).await?;
    personal_data_response(admin(&state).personal_data_of(&caller, &origin(addr, &headers), &id, &format).await?)
}

/// `DELETE /api/v1/users/{id}`: erasure by crypto-shredding. The tenant's last admin cannot be
/// erased (409).
pub async fn erase(State(state): State<AppState>, ClientAddr(addr): ClientAddr, headers: HeaderMap, Path(id): Path<String>) -> Result<Response> {
    let caller = caller(&state, &headers).await?;
    let erased = admin(&state).erase(&caller, &origin(addr, &headers), &id).await?;
    // Forget the cached account and pick up the revoked grants at once.
    state.reload().await?;
    // The person's key leaves the backups' key vaults too: earlier backups cannot open them.
    crate::backups::after_erasure(state.store.as_ref(), state.config.backups.as_ref(), &state.monitor, crate::state::now()).await;
    Ok(Json(erased).into_response())
}
