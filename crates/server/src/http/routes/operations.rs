//! What operators and load balancers reach: health and readiness, Prometheus metrics, and the
//! static assets the pages load.

use axum::Router;
use axum::routing::get;

use crate::http::meta;
use crate::state::AppState;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(meta::healthz))
        .route("/readyz", get(meta::readyz))
        .route("/metrics", get(meta::metrics))
        .route("/static/gatehouse.css", get(meta::stylesheet))
        .route("/static/form_post.js", get(meta::form_post_script))
        .route("/static/continue.js", get(meta::continue_script))
        .route("/static/once.js", get(meta::once_script))
        .route("/static/webauthn.js", get(meta::webauthn_script))
}
