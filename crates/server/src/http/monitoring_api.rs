//! Security monitoring over the admin API: alerts (list, acknowledge), change history (filter,
//! page, download as JSON or CSV) and the SIEM export (OCSF, resumable cursor). The logic is
//! `gatehouse-admin`'s (`monitoring`); this is the downloads' headers.

use axum::Json;
use axum::extract::{Path, Query};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use gatehouse_admin::monitoring::{AlertQuery, ExportQuery, HistoryPage, HistoryQuery};

use super::api_caller::AdminCall;
use super::problem::ManagementError;

type Result<T> = std::result::Result<T, ManagementError>;

/// `GET /api/v1/alerts`
pub async fn alerts(Query(query): Query<AlertQuery>, call: AdminCall) -> Result<Response> {
    Ok(Json(call.admin().alerts(&call.caller, &query).await?).into_response())
}

/// `POST /api/v1/alerts/{id}/acknowledge`
pub async fn acknowledge(Path(id): Path<String>, call: AdminCall) -> Result<Response> {
    Ok(Json(call.admin().acknowledge(&call.caller, &call.origin, &id).await?).into_response())
}

/// `GET /api/v1/audit`: change history, newest first.
pub async fn change_history(Query(query): Query<HistoryQuery>, call: AdminCall) -> Result<Response> {
    match call.admin().change_history(&call.caller, &call.origin, &query).await? {
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
pub async fn siem_export(Query(query): Query<ExportQuery>, call: AdminCall) -> Result<Response> {
    let page = call.admin().siem_export(&call.caller, &call.origin, &query).await?;
    let mut response = page.body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-ndjson"));
    if let Ok(value) = HeaderValue::from_str(&page.next_cursor) {
        headers.insert("x-next-cursor", value);
    }
    Ok(response)
}
