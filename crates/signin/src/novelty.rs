//! What is new about a successful sign-in: a browser or a network never seen for the account.
//! The user is told (unless it is their very first sign-in), and an admin signing in from a
//! network never seen for them raises an alert. Looked at after the sign-in landed (the edge
//! runs [`look`] in the background, so it never slows the redirect), leaving the sign-in
//! itself out of the history it compares with.

use gatehouse_core::alert::AlertKind;
use gatehouse_core::model::User;
use gatehouse_delivery::NotificationKind;
use gatehouse_ops::OpsError;
use gatehouse_ops::monitor::{NewAlert, lockout, network_of};
use time::OffsetDateTime;

use crate::attempt::Attempt;
use crate::factors::{Factors, notify};
use gatehouse_ops::rate_limit::SECOND_FACTOR;

/// How many past sign-in addresses a new one is compared with.
const ADDRESSES_COMPARED: u32 = 200;

/// What there is to look at after a sign-in: reading the history only when there is something
/// to check (a new browser, an admin, or recent failed second factors to forget).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Aftermath {
    pub new_device: bool,
    pub admin: bool,
    pub failed_factors: bool,
}

/// `None` when nothing about this sign-in needs a look.
pub fn aftermath(factors: &Factors, user: &User, new_device: bool, now: OffsetDateTime) -> Option<Aftermath> {
    let admin = user.roles.iter().any(|r| r == "admin");
    let failed_factors = factors.limiter.failures(user.id.as_str(), SECOND_FACTOR, now) > 0;
    (new_device || admin || failed_factors).then_some(Aftermath { new_device, admin, failed_factors })
}

/// Tells the user of a new browser or network (not on their very first sign-in), raises the
/// alert for an admin on a network never seen for them, and forgets failed second factors.
/// A failure is logged; the sign-in it follows has already succeeded.
pub async fn look(factors: &Factors, user: &User, attempt: &Attempt, after: Aftermath, event_id: &str, now: OffsetDateTime) {
    if let Err(e) = notice(factors, user, attempt, after, event_id, now).await {
        tracing::warn!(error = %e, "checking a sign-in for novelty failed");
    }
    if after.failed_factors
        && let Err(e) = lockout::clear(factors.store.as_ref(), user).await
    {
        tracing::warn!(error = %e, "clearing failed attempts after a sign-in failed");
    }
}

async fn notice(factors: &Factors, user: &User, attempt: &Attempt, after: Aftermath, event_id: &str, now: OffsetDateTime) -> Result<(), OpsError> {
    let addresses = factors.store.addresses_seen(&user.id, event_id, ADDRESSES_COMPARED).await?;
    if addresses.is_empty() {
        // The first sign-in ever: new by definition, and it tells nobody anything.
        return Ok(());
    }
    let network = network_of(attempt.address);
    let new_network = !addresses.iter().filter_map(|a| a.parse().ok()).any(|a| network_of(a) == network);
    if after.new_device || new_network {
        let kind = NotificationKind::NewSignIn {
            address: attempt.address.to_string(),
            user_agent: attempt.user_agent.clone(),
            new_device: after.new_device,
            new_network,
            sign_in: event_id.to_owned(),
        };
        notify(factors, user, kind, now);
    }
    let monitor = &factors.monitor;
    if after.admin && new_network && monitor.settings.detection.admin_new_network {
        let alert = NewAlert {
            kind: AlertKind::AdminNewNetwork,
            tenant: Some(user.tenant_id.clone()),
            subject: format!("user:{}", user.id),
            summary: format!("admin user:{} signed in from {network}, a network never seen for them", user.id),
            details: serde_json::json!({ "user": user.id.as_str(), "address": attempt.address.to_string(), "network": network, "user_agent": attempt.user_agent }),
        };
        monitor.raise(alert, now).await?;
    }
    Ok(())
}
