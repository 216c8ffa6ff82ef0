//! The policy decision of a live sign-in: the risk signals only the server holds (failure
//! counts in its limiters, the browser's device row) handed to
//! `gatehouse_signin::steps::password`, which gathers them for `gatehouse_signin::decide`.

use gatehouse_core::Client;
use gatehouse_core::authorize::AuthorizationRequest;
use gatehouse_core::model::User;
use gatehouse_signin::SystemRandomness;
use gatehouse_signin::attempt::Attempt;
use gatehouse_signin::steps::password;
use gatehouse_store::SessionRecord;
use time::OffsetDateTime;

pub use gatehouse_signin::decide::{Ask, Hypothetical, Observed, Verdict, decide_with, method_of, session_state, simulate};

use crate::error::ServerError;
use crate::state::AppState;

/// What the password step and the live policy decision use from the server.
pub fn password_context(state: &AppState) -> password::Context<'_> {
    password::Context {
        store: state.store.as_ref(),
        monitor: &state.monitor,
        per_account: &state.limits.login,
        per_address: &state.limits.address,
        digester: &state.digester,
        rng: &SystemRandomness,
    }
}

/// Decides what `user` must still present to answer `request` from the browser of `attempt`.
/// `session` is the SSO session standing in for the first factor, or `None` for a fresh one.
pub async fn decide_sign_in(
    state: &AppState,
    user: &User,
    client: &Client,
    request: &AuthorizationRequest,
    session: Option<&SessionRecord>,
    attempt: &Attempt,
    now: OffsetDateTime,
) -> Result<Verdict, ServerError> {
    let tenant = state.tenant_for_domain(&user.email.domain());
    Ok(password::decide(&password_context(state), tenant.as_deref(), user, client, request, session, attempt, now).await?)
}
