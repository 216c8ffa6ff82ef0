//! The page texts live in `gatehouse-messages` (data only); the server picks the catalogue for
//! each request.

use axum::http::{HeaderMap, header};

pub use gatehouse_messages::*;

/// The catalogue for a request, by its `Accept-Language`.
pub fn messages_for(headers: &HeaderMap) -> &'static Messages {
    for_accept_language(headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()))
}

#[cfg(test)]
#[path = "messages_tests.rs"]
mod tests;
