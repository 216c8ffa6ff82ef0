//! The OAuth 2.0 / OpenID Connect token service below the HTTP edge: the grants of the token
//! endpoint (`grants`), minting and validating tokens (`tokens`), client authentication once
//! the credentials are read (`client_auth`), introspection and revocation (`introspection`),
//! the UserInfo claims (`userinfo`), the discovery document (`discovery`), the checks of an
//! RP-initiated logout (`logout`), and the in-memory
//! directory the hot paths read instead of the store (`directory`: keys, clients, tenants,
//! users; `revocation`, `token_cache`, `keys`).
//!
//! No HTTP here (Cargo keeps axum, hyper, tower, http and askama out): every operation takes an
//! explicit [`OAuthContext`] and the clock (`now`), and answers a typed value or a
//! [`ServiceError`] that the server maps to today's JSON, status and headers.

mod client_auth;
mod context;
pub mod directory;
pub mod discovery;
mod error;
#[cfg(test)]
mod fixture;
pub mod grants;
pub mod introspection;
pub mod keys;
pub mod logout;
pub mod revocation;
pub mod token_cache;
pub mod tokens;
pub mod userinfo;

pub use client_auth::{authenticate, authentication_failed};
pub use context::{ClientAuthLimiter, OAuthContext, TokenLifetimes};
pub use directory::Directory;
pub use error::{DirectoryError, Replay, ServiceError, client_locked_out};
pub use grants::{ADMIN_SCOPE, Issued, TokenResponse};
pub use keys::{KeyMaterial, ensure_active_keys, new_stored_key};
pub use revocation::RevocationList;
pub use token_cache::VerifiedTokenCache;
