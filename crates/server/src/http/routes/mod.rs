//! One router per surface (OpenID Connect, sign-in pages, `/api/v1`, operations), each only
//! listing its routes; `crate::router` assembles them with the console and the shared layers.

pub(crate) mod api;
pub(crate) mod oidc;
pub(crate) mod operations;
pub(crate) mod sign_in;
