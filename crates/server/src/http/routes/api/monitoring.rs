//! Security monitoring: alerts, the change history and the SIEM export.

use axum::Router;
use axum::routing::{get, post};

use crate::http::monitoring_api;
use crate::state::AppState;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/alerts", get(monitoring_api::alerts))
        .route("/api/v1/alerts/{id}/acknowledge", post(monitoring_api::acknowledge))
        .route("/api/v1/audit", get(monitoring_api::change_history))
        .route("/api/v1/siem/events", get(monitoring_api::siem_export))
}
