//! The self-service API's edge (`/api/v1/me`): the signed-in person's second factors and
//! recovery codes, sessions, login history ("this wasn't me" included) and personal data.
//! Called with the person's own `gatehouse:account` token (first-party applications only);
//! the logic is `gatehouse-admin`'s (`Account`). A token whose sign-in is too weak or too old
//! for a change gets an RFC 9470 `insufficient_user_authentication` challenge naming
//! `acr_values` and `max_age`, and the application signs the person in again with those.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gatehouse_admin::history::Page;
use gatehouse_admin::privacy::{PersonalData, ReportFormat};
use gatehouse_admin::report::ReportRequest;
use gatehouse_admin::{Account, AdminError, Caches, SignedIn, parse_body};
use gatehouse_core::ids::{GrantId, UserId};
use gatehouse_core::{OAuthError, OAuthErrorCode};
use gatehouse_policy::AuthLevel;

use super::ClientAddr;
use super::admin_api::{admin, origin};
use super::api_body::ApiBody;
use super::problem::ManagementError;
use super::userinfo::bearer_from_header;
use crate::error::{ApiError, Challenge};
use crate::state::{AppState, now};
use crate::tokens;

/// The scope of a user's token for this API (first-party applications only).
pub const ACCOUNT_SCOPE: &str = "gatehouse:account";

type Result<T> = std::result::Result<T, ManagementError>;

/// The person behind the access token, and what their sign-in proved.
pub(super) async fn me(state: &AppState, headers: &HeaderMap) -> Result<SignedIn> {
    let token = bearer_from_header(headers)
        .map_err(ManagementError::Token)?
        .ok_or_else(|| ManagementError::Token(ApiError::bearer(OAuthError::new(OAuthErrorCode::InvalidToken, "an access token is required"))))?;
    let claims = tokens::validate_access_token(state, token, now()).map_err(|e| ManagementError::Token(ApiError::bearer(e)))?;
    if claims.is_client_token() || !claims.has_scope(ACCOUNT_SCOPE) {
        let error = OAuthError::new(OAuthErrorCode::InsufficientScope, "this API needs a user's token with scope gatehouse:account");
        return Err(ManagementError::Token(ApiError::OAuth { error, challenge: Challenge::Bearer, retry_after: None }));
    }
    let user = state
        .user(&UserId::new(claims.sub.clone()))
        .await?
        .ok_or_else(|| ManagementError::Token(ApiError::bearer(OAuthError::new(OAuthErrorCode::InvalidToken, "the user no longer exists"))))?;
    let level = claims.acr.as_deref().and_then(AuthLevel::from_acr).unwrap_or(AuthLevel::Password);
    Ok(SignedIn { user, level, auth_time: claims.auth_time, sid: claims.sid.clone() })
}

/// A revoked grant or a changed account reaches the in-memory caches at once.
impl Caches for AppState {
    fn revoke_grant(&self, grant: GrantId) {
        self.revocations.revoke_grant(grant);
    }
    fn forget_user(&self, user: &UserId) {
        AppState::forget_user(self, user);
    }
}

/// The self-service context for this request.
fn account(state: &AppState) -> Account<'_> {
    Account { factors: &state.factors, audit: &state.audit, caches: state, now: now() }
}

/// `GET /api/v1/me/factors`: every factor (never a secret) and how many recovery codes are left.
pub async fn list(State(state): State<AppState>, headers: HeaderMap) -> Result<Response> {
    let me = me(&state, &headers).await?;
    Ok(Json(account(&state).list(&me).await?).into_response())
}

/// `POST /api/v1/me/factors`: starts enrolling an authenticator app, a phone, or a security key
/// or passkey.
pub async fn add(State(state): State<AppState>, ClientAddr(addr): ClientAddr, headers: HeaderMap, ApiBody(body): ApiBody) -> Result<Response> {
    let me = me(&state, &headers).await?;
    let request = parse_body(&body)?;
    let started = account(&state).add(&me, &origin(addr, &headers), request).await?;
    Ok((StatusCode::CREATED, Json(started)).into_response())
}

/// `POST /api/v1/me/factors/webauthn`: finishes registering a security key or passkey.
pub async fn register_webauthn(State(state): State<AppState>, ClientAddr(addr): ClientAddr, headers: HeaderMap, ApiBody(body): ApiBody) -> Result<Response> {
    let me = me(&state, &headers).await?;
    let request = parse_body(&body)?;
    let factor = account(&state).register_webauthn(&me, &origin(addr, &headers), request).await?;
    Ok((StatusCode::CREATED, Json(factor)).into_response())
}

/// `POST /api/v1/me/factors/{id}/confirm`: activates an enrolling factor with its first code.
pub async fn confirm(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    Path(id): Path<String>,
    ApiBody(body): ApiBody,
) -> Result<Response> {
    let me = me(&state, &headers).await?;
    let request = parse_body(&body)?;
    Ok(Json(account(&state).confirm(&me, &origin(addr, &headers), &id, request).await?).into_response())
}

/// `PATCH /api/v1/me/factors/{id}`: renames a factor.
pub async fn rename(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    Path(id): Path<String>,
    ApiBody(body): ApiBody,
) -> Result<Response> {
    let me = me(&state, &headers).await?;
    let request = parse_body(&body)?;
    Ok(Json(account(&state).rename(&me, &origin(addr, &headers), &id, request).await?).into_response())
}

/// `DELETE /api/v1/me/factors/{id}`: removes a factor (fresh two-factor sign-in required).
pub async fn remove(State(state): State<AppState>, ClientAddr(addr): ClientAddr, headers: HeaderMap, Path(id): Path<String>) -> Result<Response> {
    let me = me(&state, &headers).await?;
    account(&state).remove(&me, &origin(addr, &headers), &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /api/v1/me/recovery-codes`: ten new codes, shown once; the old ones stop working.
pub async fn regenerate_recovery_codes(State(state): State<AppState>, ClientAddr(addr): ClientAddr, headers: HeaderMap) -> Result<Response> {
    let me = me(&state, &headers).await?;
    Ok(Json(account(&state).regenerate_recovery_codes(&me, &origin(addr, &headers)).await?).into_response())
}

/// `GET /api/v1/me/sessions`: the active sessions, newest first.
pub async fn sessions(State(state): State<AppState>, headers: HeaderMap) -> Result<Response> {
    let me = me(&state, &headers).await?;
    Ok(Json(account(&state).sessions(&me, &state.config.sessions).await?).into_response())
}

/// `DELETE /api/v1/me/sessions/{id}`: signs that session out, audited.
pub async fn end_session(State(state): State<AppState>, ClientAddr(addr): ClientAddr, headers: HeaderMap, Path(id): Path<String>) -> Result<Response> {
    let me = me(&state, &headers).await?;
    account(&state).end_session(&me, &origin(addr, &headers), &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /api/v1/me/sign-ins`
pub async fn sign_ins(State(state): State<AppState>, headers: HeaderMap, Query(page): Query<Page>) -> Result<Response> {
    let me = me(&state, &headers).await?;
    Ok(Json(admin(&state).sign_in_history(&me.user.id, &page).await?).into_response())
}

/// `POST /api/v1/me/sign-ins/{id}/report`: "this wasn't me".
pub async fn report_sign_in(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    Path(id): Path<String>,
    ApiBody(body): ApiBody,
) -> Result<Response> {
    let me = me(&state, &headers).await?;
    let request: ReportRequest = if body.is_empty() { ReportRequest::default() } else { parse_body(&body)? };
    Ok(Json(account(&state).report_sign_in(&me, &origin(addr, &headers), &id, request).await?).into_response())
}

/// `GET /api/v1/me/personal-data`: everything held about the signed-in person.
pub async fn personal_data(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    Query(format): Query<ReportFormat>,
) -> Result<Response> {
    let me = me(&state, &headers).await?;
    personal_data_response(admin(&state).my_personal_data(&me.user, &origin(addr, &headers), &format).await?)
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
