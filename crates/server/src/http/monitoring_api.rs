//! Security monitoring over the admin API: alerts (list, acknowledge), change history (filter,
//! page, download as JSON or CSV) and the SIEM export (OCSF, resumable cursor). The logic is
//! `gatehouse-admin`'s (`monitoring`); this is authentication and the downloads' headers.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use gatehouse_admin::monitoring::{AlertQuery, ExportQuery, HistoryPage, HistoryQuery};

use super::ClientAddr;
use super::admin_api::{admin, caller, origin};
use super::problem::ManagementError;
use crate::state::AppState;

type Result<T> = std::result::Result<T, ManagementError>;

/// `GET /api/v1/alerts`
pub async fn alerts(State(state): State<AppState>, headers: HeaderMap, Query(query): Query<AlertQuery>) -> Result<Response> {
    let caller = caller(&state, &headers).await?;
    Ok(Json(admin(&state).alerts(&caller, &query).await?).into_response())
}

/// `POST /api/v1/alerts/{id}/acknowledge`
pub async fn acknowledge(State(state): State<AppState>, ClientAddr(addr): ClientAddr, headers: HeaderMap, Path(id): Path<String>) -> Result<Response> {
    let caller = caller(&state, &headers).await?;
    Ok(Json(admin(&state).acknowledge(&caller, &origin(addr, &headers), &id).await?).into_response())
}

/// `GET /api/v1/audit`: change history, newest first.
pub async fn change_history(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    Query(query): Query<HistoryQuery>,
) -> Result<Response> {
    let caller = caller(&state, &headers).await?;
    match admin(&state).change_history(&caller, &origin(addr, &headers), &query).await? {
        HistoryPage::Json(history) => Ok(Json(history).into_response()),
        HistoryPage::Csv { body, next } => {
            let mut response = body.into_response();
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
            headers.insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("attachment; filename=\"gatehouse-change-history.csv\""));
            if let Some(next) = next.and_then(|n| HeaderValue::from_str(&n.to_string()).ok()) {
                headers.insert("x-next-before", next);
            }
            Ok(response)
        }
    }
}

/// `GET /api/v1/siem/events`: OCSF events as JSON lines, oldest first; `X-Next-Cursor` resumes.
/// Operators only: the export spans every tenant.
pub async fn siem_export(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    Query(query): Query<ExportQuery>,
) -> Result<Response> {
    let caller = caller(&state, &headers).await?;
    let page = admin(&state).siem_export(&caller, &origin(addr, &headers), &query).await?;
    let mut response = page.body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-ndjson"));
    if let Ok(value) = HeaderValue::from_str(&page.next_cursor) {
        headers.insert("x-next-cursor", value);
    }
    Ok(response)
}
