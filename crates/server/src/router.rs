//! The whole HTTP surface, assembled in one place from one router per surface: the OpenID
//! Connect protocol, the sign-in pages, the management API (`/api/v1`), operations (health,
//! metrics, static assets), the demo application and the console. Each surface module only
//! lists its routes; the layers every surface shares are applied here, in this order:
//!
//! 1. the body limit, on every route but the console's (which gets its own, below);
//! 2. the error-format layer ([`crate::http::rejections`]) over everything, once per request, so a
//!    path no route matches is covered too;
//! 3. the security headers, outermost.
//!
//! The console calls the API in-process through a copy of the first router, with the
//! error-format layer of its own and without the security headers (the console's own answer
//! gets them).

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::routing::get;

use crate::http::routes::{api, oidc, operations, sign_in};
use crate::http::{demo, rejections, security};
use crate::state::AppState;

/// Every surface a browser or client reaches.
pub fn router(state: AppState) -> Router {
    let mut routes = Router::new().merge(oidc::routes()).merge(sign_in::routes()).merge(api::routes()).merge(operations::routes());
    if state.config.demo {
        routes = routes.merge(demo_routes());
    }
    // The console calls the API in-process through this same router (without the response
    // headers layer, which the console's own answer gets).
    let api: Router = routes.layer(DefaultBodyLimit::max(state.config.max_body_bytes)).with_state(state.clone());
    // The console's in-process calls get the same error formats as a remote client's.
    let console_api = api.clone().layer(middleware::from_fn(rejections::uniform));
    let console: Router = crate::console::routes()
        .layer(axum::Extension(crate::console::api::ApiRouter(console_api)))
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        .with_state(state.clone());
    // Over the whole router, so a path no route matches (the merged fallback) is covered too;
    // once per request.
    api.merge(console).layer(middleware::from_fn(rejections::uniform)).layer(middleware::from_fn_with_state(state, security::headers))
}

/// The demo relying party (`demo = true` only): a client of this server, to try a sign-in.
fn demo_routes() -> Router<AppState> {
    Router::new().route("/demo", get(demo::home)).route("/demo/start", get(demo::start)).route("/demo/callback", get(demo::callback))
}
