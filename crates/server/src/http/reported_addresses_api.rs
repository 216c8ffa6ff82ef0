//! Addresses a tenant's people reported with "this wasn't me": risky for that tenant's
//! sign-ins (trusted networks and remembered browsers stop counting from them) until the
//! report expires or a tenant admin clears it. `GET /api/v1/tenants/{id}/reported-addresses`
//! lists them; `DELETE /api/v1/tenants/{id}/reported-addresses/{address}` clears one,
//! audited. Another tenant's admin sees and clears nothing here.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use gatehouse_api::tenants::{ReportedAddress, ReportedAddressList};
use gatehouse_core::audit::AuditEntry;
use gatehouse_core::ids::TenantId;
use std::net::IpAddr;

use super::ClientAddr;
use super::admin_api::caller;
use super::problem::{ManagementError, Problem};
use crate::state::{AppState, now};

type Result<T> = std::result::Result<T, ManagementError>;

async fn tenant_of(state: &AppState, headers: &HeaderMap, id: &str) -> Result<(super::admin_api::Caller, TenantId)> {
    let caller = caller(state, headers).await?;
    let tenant = TenantId::new(id);
    caller.require_tenant(&tenant)?;
    state.store.tenant(&tenant).await?.ok_or_else(|| Problem::new(StatusCode::NOT_FOUND, "Not found", "no such tenant"))?;
    Ok((caller, tenant))
}

/// `GET /api/v1/tenants/{id}/reported-addresses`
pub async fn list(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<String>) -> Result<Response> {
    let (_, tenant) = tenant_of(&state, &headers, &id).await?;
    let reported = state.store.reported_addresses(&tenant, now()).await?;
    let reported_addresses = reported
        .into_iter()
        .map(|r| ReportedAddress { address: r.address, reported_at: r.reported_at.unix_timestamp(), expires_at: r.expires_at.unix_timestamp() })
        .collect();
    Ok(Json(ReportedAddressList { reported_addresses }).into_response())
}

/// `DELETE /api/v1/tenants/{id}/reported-addresses/{address}`
pub async fn clear(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    Path((id, address)): Path<(String, String)>,
) -> Result<Response> {
    let (caller, tenant) = tenant_of(&state, &headers, &id).await?;
    // Stored addresses are what `IpAddr` prints: anything else cannot name one.
    let address: IpAddr = address.parse().map_err(|_| Problem::bad_request("address: not an IP address"))?;
    let address = address.to_string();
    let audit = caller.audit(addr, &headers, "reported_address.clear", format!("address:{address}"), None, None).in_tenant(tenant.as_str());
    let audit = AuditEntry { reason: Some("a tenant admin cleared a reported address".into()), ..audit };
    if !state.store.clear_reported_address(&tenant, &address, &audit).await? {
        return Err(Problem::new(StatusCode::NOT_FOUND, "Not found", "this address is not reported in this tenant").into());
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
