//! `/api/v1/applications...` (operators): registering applications and their 2FA behaviour.

use axum::Router;
use axum::routing::{get, put};

use crate::http::admin_api;
use crate::state::AppState;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/applications", get(admin_api::applications).post(admin_api::create_application))
        .route("/api/v1/applications/{id}/policy", put(admin_api::put_app_policy))
}
