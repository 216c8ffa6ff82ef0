//! What is new about a successful sign-in (`gatehouse_signin::novelty`), looked at in the
//! background once the sign-in landed, so it never slows the redirect.

use gatehouse_core::model::User;
use gatehouse_signin::novelty;
use time::OffsetDateTime;

use super::attempt::Attempt;
use crate::state::AppState;

/// Spawns the look at a landed sign-in, when there is something to look at.
pub fn after_sign_in(state: &AppState, user: &User, attempt: &Attempt, new_device: bool, event_id: String, now: OffsetDateTime) {
    let Some(after) = novelty::aftermath(&state.factors, user, new_device, now) else { return };
    let (state, user, attempt) = (state.clone(), user.clone(), attempt.clone());
    tokio::spawn(async move { novelty::look(&state.factors, &user, &attempt, after, &event_id, now).await });
}
