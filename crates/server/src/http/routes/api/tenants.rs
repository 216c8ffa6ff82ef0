//! `/api/v1/tenants...`: tenants, their domains and domain policy (and one staged in
//! report-only mode), termination, the addresses their people reported, and their identity
//! providers.

use axum::Router;
use axum::routing::{delete, get, post, put};

use crate::http::{admin_api, admin_identities};
use crate::state::AppState;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/tenants", get(admin_api::tenants).post(admin_api::create_tenant))
        .route("/api/v1/tenants/{id}", get(admin_api::tenant))
        .route("/api/v1/tenants/{id}/domains", post(admin_api::add_domain))
        .route("/api/v1/tenants/{id}/terminate", post(admin_api::terminate))
        .route("/api/v1/tenants/{id}/reinstate", post(admin_api::reinstate))
        .route("/api/v1/tenants/{id}/policy", put(admin_api::put_domain_policy))
        .route("/api/v1/tenants/{id}/staged-policy", delete(admin_api::discard_staged))
        .route("/api/v1/tenants/{id}/staged-policy/report", get(admin_api::staged_report))
        .route("/api/v1/tenants/{id}/reported-addresses", get(admin_api::reported_addresses))
        .route("/api/v1/tenants/{id}/reported-addresses/{address}", delete(admin_api::clear_reported_address))
        .route("/api/v1/tenants/{id}/identity-providers", get(admin_identities::providers))
        .route("/api/v1/tenants/{id}/identity-providers/{provider}", put(admin_identities::save_provider).delete(admin_identities::delete_provider))
}
