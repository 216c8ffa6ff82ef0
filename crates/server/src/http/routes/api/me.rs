//! `/api/v1/me/...`: the signed-in person's factors, recovery codes, sessions, login history
//! and personal data (their own `gatehouse:account` token).

use axum::Router;
use axum::routing::{delete, get, patch, post};

use crate::http::{account_api, monitoring_api, privacy_api, sessions_api, sign_in_history};
use crate::state::AppState;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/me/personal-data", get(privacy_api::mine))
        .route("/api/v1/me/factors", get(account_api::list).post(account_api::add))
        .route("/api/v1/me/factors/{id}", patch(account_api::rename).delete(account_api::remove))
        .route("/api/v1/me/factors/{id}/confirm", post(account_api::confirm))
        .route("/api/v1/me/factors/webauthn", post(account_api::register_webauthn))
        .route("/api/v1/me/recovery-codes", post(account_api::regenerate_recovery_codes))
        .route("/api/v1/me/sessions", get(sessions_api::mine))
        .route("/api/v1/me/sessions/{id}", delete(sessions_api::revoke))
        .route("/api/v1/me/sign-ins", get(sign_in_history::mine))
        .route("/api/v1/me/sign-ins/{id}/report", post(monitoring_api::report_sign_in))
}
