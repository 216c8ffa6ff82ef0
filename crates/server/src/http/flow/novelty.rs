//! What is new about a successful sign-in: a browser or a network never seen for the account.
//! The user is told (unless it is their very first sign-in), and an admin signing in from a
//! network never seen for them raises an alert. Looked at after the sign-in landed, in the
//! background, leaving the sign-in itself out of the history it compares with.

use gatehouse_core::alert::AlertKind;
use gatehouse_core::model::User;
use time::OffsetDateTime;

use super::attempt::Attempt;
use crate::delivery::NotificationKind;
use crate::error::ServerError;
use crate::monitor::{NewAlert, network_of};
use crate::state::AppState;

/// After a sign-in landed, in the background so it never slows the redirect: tells the user
/// of a new browser or network (not on their very first sign-in), raises the alert for an
/// admin on a network never seen for them, and forgets failed second factors. Reads only when
/// there is something to check: a new browser, an admin, or recent failures.
pub fn after_sign_in(state: &AppState, user: &User, attempt: &Attempt, new_device: bool, event_id: String, now: OffsetDateTime) {
    let admin = user.roles.iter().any(|r| r == "admin");
    let failed_factors = state.factors.limiter.failures(user.id.as_str(), crate::rate_limit::SECOND_FACTOR, now) > 0;
    if !(new_device || admin || failed_factors) {
        return;
    }
    let (state, user, attempt) = (state.clone(), user.clone(), attempt.clone());
    tokio::spawn(async move {
        if let Err(e) = look(&state, &user, &attempt, new_device, admin, &event_id, now).await {
            tracing::warn!(error = %e, "checking a sign-in for novelty failed");
        }
        if failed_factors && let Err(e) = crate::monitor::lockout::clear(state.store.as_ref(), &user).await {
            tracing::warn!(error = %e, "clearing failed attempts after a sign-in failed");
        }
    });
}

async fn look(state: &AppState, user: &User, attempt: &Attempt, new_device: bool, admin: bool, event_id: &str, now: OffsetDateTime) -> Result<(), ServerError> {
    let addresses = state.store.addresses_seen(&user.id, event_id, 200).await?;
    if addresses.is_empty() {
        // The first sign-in ever: new by definition, and it tells nobody anything.
        return Ok(());
    }
    let network = network_of(attempt.address);
    let new_network = !addresses.iter().filter_map(|a| a.parse().ok()).any(|a| network_of(a) == network);
    if new_device || new_network {
        let kind = NotificationKind::NewSignIn {
            address: attempt.address.to_string(),
            user_agent: attempt.user_agent.clone(),
            new_device,
            new_network,
            sign_in: event_id.to_owned(),
        };
        crate::mfa::notify(&state.factors, user, kind, now);
    }
    if admin && new_network && state.monitor.settings.detection.admin_new_network {
        let alert = NewAlert {
            kind: AlertKind::AdminNewNetwork,
            tenant: Some(user.tenant_id.clone()),
            subject: format!("user:{}", user.id),
            summary: format!("admin user:{} signed in from {network}, a network never seen for them", user.id),
            details: serde_json::json!({ "user": user.id.as_str(), "address": attempt.address.to_string(), "network": network, "user_agent": attempt.user_agent }),
        };
        state.monitor.raise(alert, now).await?;
    }
    Ok(())
}
