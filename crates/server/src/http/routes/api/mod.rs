//! The management API (`/api/v1`), one module per resource: the signed-in person's own
//! (`/me`), and the admin API's tenants, users, applications, the policy simulator and
//! security monitoring. Each path belongs to exactly one module, so merging cannot overlap.

mod applications;
mod me;
mod monitoring;
mod simulator;
mod tenants;
mod users;

use axum::Router;
use axum::routing::get;

use crate::http::admin_api;
use crate::state::AppState;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/openapi.json", get(admin_api::openapi))
        .merge(me::routes())
        .merge(tenants::routes())
        .merge(users::routes())
        .merge(applications::routes())
        .merge(simulator::routes())
        .merge(monitoring::routes())
}
