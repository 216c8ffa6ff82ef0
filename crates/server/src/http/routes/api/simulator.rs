//! `/api/v1/policy/simulate`: what a sign-in would meet, without signing in.

use axum::Router;
use axum::routing::post;

use crate::http::admin_api;
use crate::state::AppState;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/policy/simulate", post(admin_api::simulate))
}
