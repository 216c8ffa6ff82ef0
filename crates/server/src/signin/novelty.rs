//! What is new about a successful sign-in: a browser or a network never seen for the account.
//! The user is told (unless it is their very first sign-in), and an admin signing in from a
//! network never seen for them raises an alert. Observed before the sign-in is recorded;
//! acted on after it landed, in the background, so it never slows the redirect.

use gatehouse_core::alert::AlertKind;
use gatehouse_core::model::User;
use time::OffsetDateTime;

use super::attempt::Attempt;
use crate::delivery::NotificationKind;
use crate::error::ServerError;
use crate::monitor::{NewAlert, network_of};
use crate::state::AppState;

/// What was new.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Novelty {
    /// The account signed in successfully before (a first sign-in is new by definition and
    /// tells nobody anything).
    pub seen_before: bool,
    pub new_device: bool,
    pub new_network: bool,
}

/// Reads the account's known browsers and networks (two indexed reads).
pub async fn observe(state: &AppState, user: &User, attempt: &Attempt, device_id: &str) -> Result<Novelty, ServerError> {
    let addresses = state.store.addresses_seen(&user.id, 200).await?;
    let network = network_of(attempt.address);
    let new_network = !addresses.iter().filter_map(|a| a.parse().ok()).any(|a| network_of(a) == network);
    let new_device = attempt.device_token.is_none() || state.store.device(device_id).await?.is_none();
    Ok(Novelty { seen_before: !addresses.is_empty(), new_device, new_network })
}

/// Tells the user, raises the admin alert, and forgets failed attempts (the account proved
/// itself), without making the sign-in wait.
pub fn after_sign_in(state: &AppState, user: &User, attempt: &Attempt, novelty: Novelty, now: OffsetDateTime) {
    if novelty.seen_before && (novelty.new_device || novelty.new_network) {
        let kind = NotificationKind::NewSignIn {
            address: attempt.address.to_string(),
            user_agent: attempt.user_agent.clone(),
            new_device: novelty.new_device,
            new_network: novelty.new_network,
            sign_in: now.unix_timestamp().to_string(),
        };
        crate::mfa::notify(state, user, kind, now);
    }
    let admin = user.roles.iter().any(|r| r == "admin");
    if admin && novelty.seen_before && novelty.new_network && state.monitor.settings.detection.admin_new_network {
        let network = network_of(attempt.address);
        let alert = NewAlert {
            kind: AlertKind::AdminNewNetwork,
            tenant: Some(user.tenant_id.clone()),
            subject: format!("user:{}", user.id),
            summary: format!("admin {} signed in from {network}, a network never seen for them", user.email),
            details: serde_json::json!({ "user": user.id.as_str(), "address": attempt.address.to_string(), "network": network, "user_agent": attempt.user_agent }),
        };
        state.monitor.raise_in_background(state, alert, now);
    }
    let (state, user) = (state.clone(), user.clone());
    tokio::spawn(async move {
        if let Err(e) = crate::monitor::lockout::clear(&state, &user).await {
            tracing::warn!(error = %e, "clearing failed attempts after a sign-in failed");
        }
    });
}
