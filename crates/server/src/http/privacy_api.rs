//! Individuals' rights and the tenant lifecycle over the management API:
//! - `GET /api/v1/me/personal-data` ("download my data", the user's own token);
//! - `GET /api/v1/users/{id}/personal-data` (tenant admins for their users, operators);
//! - `DELETE /api/v1/users/{id}` (erasure by crypto-shredding);
//! - `POST /api/v1/tenants/{id}/terminate` and `/reinstate` (operators).
//!
//! Reports are JSON, or one CSV table with `?format=csv&table=<name>`. Every read and change
//! here is audited.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gatehouse_api::tenants::{TenantReinstated, TenantTerminated, Termination};
use gatehouse_api::users::{Erasure, UserErased};
use gatehouse_core::audit::AuditEntry;
use gatehouse_core::ids::{TenantId, UserId};
use gatehouse_core::model::User;
use serde::Deserialize;
use time::format_description::well_known::Rfc3339;

use super::admin_api::caller;
use super::problem::{ManagementError, Problem};
use super::{ClientAddr, account_api};
use crate::privacy::{erasure, lifecycle, report};
use crate::state::{AppState, now};
use gatehouse_store::StoreError;

type Result<T> = std::result::Result<T, ManagementError>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportFormat {
    /// `json` (default) or `csv`.
    format: Option<String>,
    /// With `format=csv`: subject, factors, sessions, devices, sign_ins or audit_records.
    table: Option<String>,
}

async fn report_response(state: &AppState, user: &User, format: &ReportFormat) -> Result<Response> {
    let tenant = state.store.tenant(&user.tenant_id).await?;
    let report = report::access_report(state.store.as_ref(), user, tenant.as_ref(), &state.monitor.settings.retention, now()).await?;
    match (format.format.as_deref().unwrap_or("json"), format.table.as_deref()) {
        ("json", None) => {
            let mut response = Json(report).into_response();
            response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            Ok(response)
        }
        ("csv", Some(table)) => {
            let (name, csv) = report::csv_tables(&report)
                .into_iter()
                .find(|(name, _)| name == table)
                .ok_or_else(|| Problem::bad_request("table: one of subject, factors, sessions, devices, sign_ins, audit_records"))?;
            let disposition = format!("attachment; filename=\"personal-data-{name}.csv\"");
            Ok((
                [
                    (header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8")),
                    (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
                    (header::CONTENT_DISPOSITION, HeaderValue::from_str(&disposition).map_err(|_| Problem::bad_request("table"))?),
                ],
                csv,
            )
                .into_response())
        }
        ("csv", None) => Err(Problem::bad_request("format=csv needs table: one of subject, factors, sessions, devices, sign_ins, audit_records").into()),
        _ => Err(Problem::bad_request("format: json, or csv with a table").into()),
    }
}

/// `GET /api/v1/me/personal-data`: everything held about the signed-in person.
pub async fn mine(State(state): State<AppState>, ClientAddr(addr): ClientAddr, headers: HeaderMap, Query(format): Query<ReportFormat>) -> Result<Response> {
    let user = account_api::signed_in(&state, &headers).await?;
    let response = report_response(&state, &user, &format).await?;
    let subject = format!("user:{}", user.id);
    let entry = super::audit_entry(subject.clone(), "personal_data.export", subject, addr, &headers).in_tenant(user.tenant_id.as_str());
    state.audit.append(&AuditEntry { reason: Some("download my data".into()), ..entry }).await?;
    Ok(response)
}

async fn managed_user(state: &AppState, caller: &super::admin_api::Caller, id: String) -> Result<std::sync::Arc<User>> {
    state.user(&UserId::new(id)).await?.filter(|u| caller.may_manage(u)).ok_or_else(|| Problem::new(StatusCode::NOT_FOUND, "Not found", "no such user").into())
}

/// `GET /api/v1/users/{id}/personal-data`: an access report answered on a person's behalf.
pub async fn of_user(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(format): Query<ReportFormat>,
) -> Result<Response> {
    let caller = caller(&state, &headers).await?;
    let user = managed_user(&state, &caller, id).await?;
    let response = report_response(&state, &user, &format).await?;
    let entry = caller.audit(addr, &headers, "personal_data.export", format!("user:{}", user.id), None, None).in_tenant(user.tenant_id.as_str());
    state.audit.append(&AuditEntry { reason: Some("access request".into()), ..entry }).await?;
    Ok(response)
}

/// `DELETE /api/v1/users/{id}`: erasure. The person's data key is destroyed, so their sealed
/// data is unreadable everywhere, earlier backups included, and their lines leave the
/// development outbox; audit records keep their pseudonymous id. The tenant's last admin cannot
/// be erased (409).
pub async fn erase(State(state): State<AppState>, ClientAddr(addr): ClientAddr, headers: HeaderMap, Path(id): Path<String>) -> Result<Response> {
    let caller = caller(&state, &headers).await?;
    let user = managed_user(&state, &caller, id).await?;
    let entry = caller.audit(addr, &headers, "user.erase", format!("user:{}", user.id), None, None).in_tenant(user.tenant_id.as_str());
    let entry = AuditEntry { reason: Some("erasure request".into()), ..entry };
    let erased = match erasure::erase_user(state.store.as_ref(), &state.factors.services.outbox, &user, now(), &entry).await {
        Ok(Some(erased)) => erased,
        Ok(None) => return Err(Problem::new(StatusCode::NOT_FOUND, "Not found", "no such user").into()),
        Err(StoreError::Conflict(reason)) => return Err(Problem::new(StatusCode::CONFLICT, "Conflict", reason).into()),
        Err(e) => return Err(e.into()),
    };
    if let Err(error) = &erased.outbox {
        tracing::error!(user = %user.id, %error, "erased, but the development outbox could not be rewritten: it may still hold the person's lines");
    }
    // Forget the cached account and pick up the revoked grants at once.
    state.reload().await?;
    // The person's key leaves the backups' key vaults too: earlier backups cannot open them.
    crate::backups::after_erasure(state.store.as_ref(), state.config.backups.as_ref(), &state.monitor, now()).await;
    let e = erased.erasure;
    let erasure = Erasure {
        user: e.user,
        tenant: e.tenant,
        factors: e.factors,
        sessions: e.sessions,
        sign_ins: e.sign_ins,
        devices: e.devices,
        revoked_grants: e.revoked_grants.iter().map(|g| g.as_str().to_owned()).collect(),
    };
    Ok(Json(UserErased { erased: erasure }).into_response())
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
    let request: Termination = if body.is_empty() { Termination::default() } else { super::admin_api::parse_body(&body)? };
    let tenant = TenantId::new(id);
    if state.store.tenant(&tenant).await?.is_none() {
        return Err(Problem::new(StatusCode::NOT_FOUND, "Not found", "no such tenant").into());
    }
    let entry = caller.audit(addr, &headers, "tenant.terminate", format!("tenant:{tenant}"), None, None).in_tenant(tenant.as_str());
    let entry = AuditEntry { reason: request.reason, ..entry };
    let Some(due) = lifecycle::terminate(state.store.as_ref(), &tenant, now(), &state.monitor.settings.retention, entry).await? else {
        return Err(Problem::new(StatusCode::CONFLICT, "Conflict", "the tenant is already terminated").into());
    };
    state.reload().await?;
    Ok(Json(TenantTerminated { tenant: tenant.as_str().to_owned(), status: "terminated".into(), deletion_due: due.format(&Rfc3339).ok() }).into_response())
}

/// `POST /api/v1/tenants/{id}/reinstate` (operators): undoes a termination before deletion.
pub async fn reinstate(State(state): State<AppState>, ClientAddr(addr): ClientAddr, headers: HeaderMap, Path(id): Path<String>) -> Result<Response> {
    let caller = caller(&state, &headers).await?;
    caller.require_operator()?;
    let tenant = TenantId::new(id);
    let entry = caller.audit(addr, &headers, "tenant.reinstate", format!("tenant:{tenant}"), None, None).in_tenant(tenant.as_str());
    if !state.store.reinstate_tenant(&tenant, &entry).await? {
        return Err(Problem::new(StatusCode::CONFLICT, "Conflict", "no such terminated tenant (it may already be deleted)").into());
    }
    state.reload().await?;
    Ok(Json(TenantReinstated { tenant: tenant.as_str().to_owned(), status: "active".into() }).into_response())
}
