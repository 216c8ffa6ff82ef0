//! The policy decision of a live sign-in: the risk signals only the server holds (failure
//! counts in its limiters, the browser's device row) gathered for `gatehouse_signin::decide`.

use gatehouse_core::Client;
use gatehouse_core::authorize::AuthorizationRequest;
use gatehouse_core::model::User;
use gatehouse_signin::attempt::Attempt;
use gatehouse_store::SessionRecord;
use time::OffsetDateTime;

pub use gatehouse_signin::decide::{Ask, Hypothetical, Observed, Verdict, decide_with, method_of, session_state, simulate};

use crate::error::ServerError;
use crate::rate_limit::{LOGIN_PER_ACCOUNT, LOGIN_PER_ADDRESS};
use crate::state::AppState;

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
    let device = match attempt.device_id(&state.digester, user) {
        Some(id) => state.store.device(&id).await?,
        None => None,
    };
    let observed = Observed {
        address: attempt.address,
        device,
        failures_for_user: state.limits.login.failures(&user.email.key(), LOGIN_PER_ACCOUNT, now),
        failures_for_address: state.limits.address.failures(&attempt.address.to_string(), LOGIN_PER_ADDRESS, now),
    };
    let ask = Ask { acr_values: &request.acr_values, scopes: request.scopes.iter().collect(), max_age: request.max_age, session: session.map(session_state) };
    let tenant = state.tenant_for_domain(&user.email.domain());
    Ok(decide_with(state.store.as_ref(), tenant.as_deref(), user, client, &ask, &observed, now).await?)
}
