//! The one place for code the integration tests share; test modules import from here and
//! export nothing to each other.
//!
//! - [`app`]: the real binary on a loopback port with a fresh data directory ([`app::TestApp`],
//!   [`app::spawn_app`], [`app::spawn_with`]), the CLI, and read-only looks at the database.
//! - [`fixtures`]: the import fixtures and the people, secrets and callbacks in them.
//! - [`browser`]: a scripted browser that keeps cookies and never follows redirects, and the
//!   authorization queries and code exchange of the default fixture's clients.
//! - [`walker`]: the sign-in walker over the two-factor fixture: password step, second
//!   factor, code redemption, the development outbox, redirect-following [`walker::visit`].
//! - [`api`]: tokens for people and clients, `/api/v1` calls, and independent checks (ID token
//!   claims, HMAC-SHA256, a self-signed certificate).

pub mod api;
pub mod app;
pub mod browser;
pub mod fixtures;
pub mod saml_idp;
pub mod upstream;
pub mod walker;
