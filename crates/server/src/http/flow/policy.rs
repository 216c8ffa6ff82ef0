//! The policy decision of a live sign-in: the risk signals only the server holds (failure
//! counts in its limiters, the browser's device row) handed to
//! `gatehouse_signin::steps::password`, which gathers them for `gatehouse_signin::decide`.

use gatehouse_signin::SystemRandomness;
use gatehouse_signin::steps::password;

pub use gatehouse_signin::decide::Verdict;

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
