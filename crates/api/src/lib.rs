//! The bodies of Gatehouse's management API (`/api/v1`), one module per resource. The handlers
//! serialize these and the console (and the integration tests) deserialize the same structs,
//! so a field renamed on one side is a compile error on the other rather than an empty column.
//!
//! The shapes are the API's contract, described in `crates/server/static/openapi.json`; a test
//! there checks each response struct against its schema. An `Option` field is `null` when
//! absent unless it says `skip_serializing_if`: clients read both, and the document says which.
//! Request bodies are `deny_unknown_fields`, so a misspelt field is a 400 rather than ignored.

pub mod applications;
pub mod factors;
pub mod identities;
pub mod monitoring;
pub mod sessions;
pub mod sign_ins;
pub mod simulate;
pub mod tenants;
pub mod users;
