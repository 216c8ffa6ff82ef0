//! The OpenID Connect and OAuth protocol endpoints: discovery, the key set, authorization,
//! token, userinfo, introspection, revocation and logout.

use axum::Router;
use axum::routing::{get, post};

use crate::http::{authorize, introspect, logout, meta, token, userinfo};
use crate::state::AppState;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/.well-known/openid-configuration", get(meta::discovery))
        .route("/jwks", get(meta::jwks))
        .route("/authorize", get(authorize::get).post(authorize::post))
        .route("/token", post(token::token))
        .route("/userinfo", get(userinfo::userinfo).post(userinfo::userinfo))
        .route("/introspect", post(introspect::introspect))
        .route("/revoke", post(introspect::revoke))
        .route("/logout", get(logout::get).post(logout::post))
}
