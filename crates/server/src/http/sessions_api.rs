//! `GET /api/v1/me/sessions` and `DELETE /api/v1/me/sessions/{id}`: where the person is signed
//! in, and signing one of those sessions out (its grants and refresh tokens are revoked, like
//! at logout). Another person's session is "not found", like a missing one.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use gatehouse_api::sessions::{Session, SessionList};
use gatehouse_core::ids::SessionId;

use super::ClientAddr;
use super::account_api::signed_in_session;
use super::problem::{ManagementError, Problem};
use crate::state::{AppState, now};

type Result<T> = std::result::Result<T, ManagementError>;

/// `GET /api/v1/me/sessions`: the active sessions, newest first; `current` marks the one the
/// calling token was issued in.
pub async fn mine(State(state): State<AppState>, headers: HeaderMap) -> Result<Response> {
    let now = now();
    let (user, sid) = signed_in_session(&state, &headers).await?;
    let mut sessions = state.store.user_sessions(&user.id).await?;
    sessions.retain(|s| s.ended_at.is_none() && state.config.sessions.is_active(s.created_at, s.last_seen_at, now));
    sessions.sort_by_key(|s| std::cmp::Reverse(s.created_at));
    let sessions = sessions
        .iter()
        .map(|s| Session {
            id: s.id.as_str().to_owned(),
            created_at: s.created_at.unix_timestamp(),
            last_seen_at: s.last_seen_at.unix_timestamp(),
            auth_time: s.auth_time.unix_timestamp(),
            methods: s.amr.clone(),
            current: sid.as_deref() == Some(s.id.as_str()),
        })
        .collect();
    Ok(Json(SessionList { sessions }).into_response())
}

/// `DELETE /api/v1/me/sessions/{id}`: signs that session out, audited.
pub async fn revoke(State(state): State<AppState>, ClientAddr(addr): ClientAddr, headers: HeaderMap, Path(id): Path<String>) -> Result<Response> {
    let now = now();
    let (user, _) = signed_in_session(&state, &headers).await?;
    let not_found = || -> ManagementError { Problem::new(StatusCode::NOT_FOUND, "Not found", "no such session").into() };
    let session = state.store.session(&SessionId::new(id)).await?.filter(|s| s.user_id == user.id && s.ended_at.is_none()).ok_or_else(not_found)?;
    for grant in state.store.end_session(&session.id, now).await? {
        state.revocations.revoke_grant(grant);
    }
    let entry =
        super::audit_entry(format!("user:{}", user.id), "session.revoke", format!("session:{}", session.id), addr, &headers).in_tenant(user.tenant_id.as_str());
    state.audit.append(&entry).await?;
    tracing::info!(user = %user.id, "session signed out from the account page");
    Ok(StatusCode::NO_CONTENT.into_response())
}
