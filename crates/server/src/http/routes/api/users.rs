//! A tenant's users: the directory (`/api/v1/tenants/{id}/users`) and one person
//! (`/api/v1/users/{id}...`): changes, factor reset, unlock, login history, linked identities,
//! personal data and erasure.

use axum::Router;
use axum::routing::{delete, get, patch, post};

use crate::http::{admin_directory, admin_identities};
use crate::state::AppState;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/tenants/{id}/users", get(admin_directory::users).post(admin_directory::create_user))
        .route("/api/v1/users/{id}", patch(admin_directory::update_user).delete(admin_directory::erase))
        .route("/api/v1/users/{id}/personal-data", get(admin_directory::personal_data))
        .route("/api/v1/users/{id}/factors", delete(admin_directory::reset_factors))
        .route("/api/v1/users/{id}/unlock", post(admin_directory::unlock))
        .route("/api/v1/users/{id}/sign-ins", get(admin_directory::sign_ins))
        .route("/api/v1/users/{id}/identities", get(admin_identities::identities).post(admin_identities::link))
        .route("/api/v1/users/{id}/identities/{provider}", delete(admin_identities::unlink))
}
