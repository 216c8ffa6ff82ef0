//! `/api/v1/me/...`: the signed-in person's factors, recovery codes, sessions, login history
//! and personal data (their own `gatehouse:account` token).

use axum::Router;
use axum::routing::{delete, get, patch, post};

use crate::http::account_api;
use crate::state::AppState;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/me/personal-data", get(account_api::personal_data))
        .route("/api/v1/me/factors", get(account_api::list).post(account_api::add))
        .route("/api/v1/me/factors/{id}", patch(account_api::rename).delete(account_api::remove))
        .route("/api/v1/me/factors/{id}/confirm", post(account_api::confirm))
        .route("/api/v1/me/factors/webauthn", post(account_api::register_webauthn))
        .route("/api/v1/me/recovery-codes", post(account_api::regenerate_recovery_codes))
        .route("/api/v1/me/sessions", get(account_api::sessions))
        .route("/api/v1/me/sessions/{id}", delete(account_api::end_session))
        .route("/api/v1/me/sign-ins", get(account_api::sign_ins))
        .route("/api/v1/me/sign-ins/{id}/report", post(account_api::report_sign_in))
}
