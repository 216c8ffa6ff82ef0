//! The self-service API's edge (`/api/v1/me`): the signed-in person's second factors and
//! recovery codes, sessions, login history ("this wasn't me" included) and personal data.
//! Called with the person's own `gatehouse:account` token (first-party applications only,
//! `AccountCall`); the logic is `gatehouse-admin`'s (`Account`). A token whose sign-in is too
//! weak or too old for a change gets an RFC 9470 `insufficient_user_authentication` challenge
//! naming `acr_values` and `max_age`, and the application signs the person in again with those.

use axum::Json;
use axum::extract::{Path, Query};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gatehouse_admin::history::Page;
use gatehouse_admin::privacy::{PersonalData, ReportFormat};
use gatehouse_admin::report::ReportRequest;
use gatehouse_admin::{AdminError, parse_body};

use super::api_body::ApiBody;
use super::api_caller::AccountCall;
use super::problem::ManagementError;

type Result<T> = std::result::Result<T, ManagementError>;

/// `GET /api/v1/me/factors`: every factor (never a secret) and how many recovery codes are left.
pub async fn list(call: AccountCall) -> Result<Response> {
    Ok(Json(call.account().list(&call.me).await?).into_response())
}

/// `POST /api/v1/me/factors`: starts enrolling an authenticator app, a phone, or a security key
/// or passkey.
pub async fn add(call: AccountCall, ApiBody(body): ApiBody) -> Result<Response> {
    let request = parse_body(&body)?;
    let started = call.account().add(&call.me, &call.origin, request).await?;
    Ok((StatusCode::CREATED, Json(started)).into_response())
}

/// `POST /api/v1/me/factors/webauthn`: finishes registering a security key or passkey.
pub async fn register_webauthn(call: AccountCall, ApiBody(body): ApiBody) -> Result<Response> {
    let request = parse_body(&body)?;
    let factor = call.account().register_webauthn(&call.me, &call.origin, request).await?;
    Ok((StatusCode::CREATED, Json(factor)).into_response())
}

/// `POST /api/v1/me/factors/{id}/confirm`: activates an enrolling factor with its first code.
pub async fn confirm(Path(id): Path<String>, call: AccountCall, ApiBody(body): ApiBody) -> Result<Response> {
    let request = parse_body(&body)?;
    Ok(Json(call.account().confirm(&call.me, &call.origin, &id, request).await?).into_response())
}

/// `PATCH /api/v1/me/factors/{id}`: renames a factor.
pub async fn rename(Path(id): Path<String>, call: AccountCall, ApiBody(body): ApiBody) -> Result<Response> {
    let request = parse_body(&body)?;
    Ok(Json(call.account().rename(&call.me, &call.origin, &id, request).await?).into_response())
}

/// `DELETE /api/v1/me/factors/{id}`: removes a factor (fresh two-factor sign-in required).
pub async fn remove(Path(id): Path<String>, call: AccountCall) -> Result<Response> {
    call.account().remove(&call.me, &call.origin, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /api/v1/me/recovery-codes`: ten new codes, shown once; the old ones stop working.
pub async fn regenerate_recovery_codes(call: AccountCall) -> Result<Response> {
    Ok(Json(call.account().regenerate_recovery_codes(&call.me, &call.origin).await?).into_response())
}

/// `GET /api/v1/me/sessions`: the active sessions, newest first.
pub async fn sessions(call: AccountCall) -> Result<Response> {
    Ok(Json(call.account().sessions(&call.me, &call.state.config.sessions).await?).into_response())
}

/// `DELETE /api/v1/me/sessions/{id}`: signs that session out, audited.
pub async fn end_session(Path(id): Path<String>, call: AccountCall) -> Result<Response> {
    call.account().end_session(&call.me, &call.origin, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /api/v1/me/sign-ins`
pub async fn sign_ins(Query(page): Query<Page>, call: AccountCall) -> Result<Response> {
    Ok(Json(call.admin().sign_in_history(&call.me.user.id, &page).await?).into_response())
}

/// `POST /api/v1/me/sign-ins/{id}/report`: "this wasn't me".
pub async fn report_sign_in(Path(id): Path<String>, call: AccountCall, ApiBody(body): ApiBody) -> Result<Response> {
    let request: ReportRequest = if body.is_empty() { ReportRequest::default() } else { parse_body(&body)? };
    Ok(Json(call.account().report_sign_in(&call.me, &call.origin, &id, request).await?).into_response())
}

/// `GET /api/v1/me/personal-data`: everything held about the signed-in person.
pub async fn personal_data(Query(format): Query<ReportFormat>, call: AccountCall) -> Result<Response> {
    personal_data_response(call.admin().my_personal_data(&call.me.user, &call.origin, &format).await?)
}

/// An access report as JSON, or one CSV table as a download; never cached.
pub(super) fn personal_data_response(data: PersonalData) -> Result<Response> {
    let no_store = (header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(match data {
        PersonalData::Json(report) => ([no_store], Json(report)).into_response(),
        PersonalData::Csv { name, body } => {
            let disposition = format!("attachment; filename=\"personal-data-{name}.csv\"");
            let disposition = HeaderValue::from_str(&disposition).map_err(|_| AdminError::bad_request("table"))?;
            ([(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8")), no_store, (header::CONTENT_DISPOSITION, disposition)], body)
                .into_response()
        }
    })
}
