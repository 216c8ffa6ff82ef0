//! The token service's checks of tokens this provider issued, over the server's state, for the
//! handlers that read them (authorize and logout hints, the account and admin APIs, the console).

use gatehouse_core::OAuthError;
use gatehouse_core::claims::{AccessTokenClaims, IdTokenClaims};
use std::sync::Arc;
use time::OffsetDateTime;

use crate::state::AppState;

/// See [`gatehouse_oauth::tokens::validate_access_token`].
pub fn validate_access_token(state: &AppState, token: &str, now: OffsetDateTime) -> Result<Arc<AccessTokenClaims>, OAuthError> {
    gatehouse_oauth::tokens::validate_access_token(&state.oauth(), token, now)
}

/// See [`gatehouse_oauth::tokens::verify_id_token_hint`].
pub fn verify_id_token_hint(state: &AppState, token: &str) -> Option<IdTokenClaims> {
    gatehouse_oauth::tokens::verify_id_token_hint(&state.oauth(), token)
}
