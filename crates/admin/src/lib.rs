//! The management services below the HTTP edge: what the admin API (`/api/v1` tenants, users,
//! applications, policies, monitoring, privacy) and the signed-in person's own API
//! (`/api/v1/me`) decide and write.
//!
//! Each service takes a narrow explicit context ([`Admin`] for admins and operators,
//! [`Account`] for the person's own resources: the store, the audit writer, the monitor, the
//! clock as `now`), an already-authenticated caller ([`Caller`] or [`SignedIn`]), and the
//! typed request bodies of `gatehouse-api`; it answers with the response bodies of
//! `gatehouse-api` or one [`AdminError`]. The edge (`gatehouse-server`) validates tokens,
//! parses bodies, reloads its in-memory directory after writes and chooses status codes:
//! nothing here knows HTTP (no axum, hyper, tower, http or askama: Cargo enforces it).

pub mod account;
pub mod applications;
pub mod caller;
pub mod context;
pub mod error;
pub mod history;
pub mod identities;
pub mod identity_providers;
pub mod monitoring;
pub mod policy;
pub mod privacy;
pub mod report;
pub mod sessions;
pub mod tenants;
pub mod users;

pub use account::{Account, Caches};
pub use caller::{Caller, Origin, SignedIn};
pub use context::{Admin, PasswordHashing};
pub use error::{AdminError, parse_body};

#[cfg(test)]
mod fixture;
