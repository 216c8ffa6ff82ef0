//! `/api/v1/tenants...`: tenants, their domains and domain policy (and one staged in
//! report-only mode), termination, and the addresses their people reported.

use axum::Router;
use axum::routing::{delete, get, post, put};

use crate::http::{admin_api, admin_directory, privacy_api, reported_addresses_api};
use crate::state::AppState;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/tenants", get(admin_api::tenants).post(admin_directory::create_tenant))
        .route("/api/v1/tenants/{id}", get(admin_api::tenant))
        .route("/api/v1/tenants/{id}/domains", post(admin_directory::add_domain))
        .route("/api/v1/tenants/{id}/terminate", post(privacy_api::terminate))
        .route("/api/v1/tenants/{id}/reinstate", post(privacy_api::reinstate))
        .route("/api/v1/tenants/{id}/policy", put(admin_api::put_domain_policy))
        .route("/api/v1/tenants/{id}/staged-policy", delete(admin_api::discard_staged))
        .route("/api/v1/tenants/{id}/staged-policy/report", get(admin_api::staged_report))
        .route("/api/v1/tenants/{id}/reported-addresses", get(reported_addresses_api::list))
        .route("/api/v1/tenants/{id}/reported-addresses/{address}", delete(reported_addresses_api::clear))
}
