//! A tenant's users: the directory (`/api/v1/tenants/{id}/users`) and one person
//! (`/api/v1/users/{id}...`): changes, factor reset, unlock, login history, personal data and
//! erasure.

use axum::Router;
use axum::routing::{delete, get, patch, post};

use crate::http::{admin_api, admin_directory, privacy_api, sign_in_history};
use crate::state::AppState;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/tenants/{id}/users", get(admin_api::users).post(admin_directory::create_user))
        .route("/api/v1/users/{id}", patch(admin_directory::update_user).delete(privacy_api::erase))
        .route("/api/v1/users/{id}/personal-data", get(privacy_api::of_user))
        .route("/api/v1/users/{id}/factors", delete(admin_directory::reset_factors))
        .route("/api/v1/users/{id}/unlock", post(admin_directory::unlock))
        .route("/api/v1/users/{id}/sign-ins", get(sign_in_history::of_user))
}
