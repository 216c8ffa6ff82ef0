//! The browser behind a sign-in step (address, user agent, device cookie) and the entry a step
//! leaves in the sign-in history that login history and the risk signals read.

use gatehouse_core::model::User;
use gatehouse_crypto::SecretDigester;
use gatehouse_store::{DeviceRecord, SignInEvent, SignInResult};
use std::net::IpAddr;
use time::OffsetDateTime;

use crate::{Randomness, SignInError};

/// The longest user agent kept: the header is the caller's to choose.
pub const MAX_USER_AGENT_CHARS: usize = 256;

/// The browser behind one request.
#[derive(Clone, Debug)]
pub struct Attempt {
    pub address: IpAddr,
    /// At most [`MAX_USER_AGENT_CHARS`] characters.
    pub user_agent: String,
    /// The device cookie's secret, when the browser sent one.
    pub device_token: Option<String>,
}

impl Attempt {
    pub fn new(address: IpAddr, user_agent: &str, device_token: Option<String>) -> Self {
        Self { address, user_agent: user_agent.chars().take(MAX_USER_AGENT_CHARS).collect(), device_token }
    }

    /// The device row of this browser for `user` (a keyed digest of the cookie and the user,
    /// so one browser shared by two people is two devices, and the cookie alone names nothing).
    pub fn device_id(&self, digester: &SecretDigester, user: &User) -> Option<String> {
        let token = self.device_token.as_deref()?;
        Some(device_id(digester, user, token))
    }
}

fn device_id(digester: &SecretDigester, user: &User, token: &str) -> String {
    digester.digest(&format!("device:{}:{token}", user.id)).iter().map(|b| format!("{b:02x}")).collect()
}

/// The device row to write after a successful sign-in, and the new device secret to give the
/// browser when it had none; `second_factor` marks a 2FA the user asked to remember.
pub fn device_after_sign_in(
    digester: &SecretDigester,
    rng: &dyn Randomness,
    attempt: &Attempt,
    user: &User,
    second_factor: bool,
    now: OffsetDateTime,
) -> Result<(DeviceRecord, Option<String>), SignInError> {
    let (token, new_token) = match &attempt.device_token {
        Some(token) => (token.clone(), None),
        None => {
            let token = rng.token()?;
            (token.clone(), Some(token))
        }
    };
    let device = DeviceRecord {
        id: device_id(digester, user, &token),
        user_id: user.id.clone(),
        created_at: now,
        last_seen_at: now,
        second_factor_at: second_factor.then_some(now),
        user_agent: attempt.user_agent.clone(),
        reported_at: None,
    };
    Ok((device, new_token))
}

/// The key of a decision's report-only companion (see `decide::decide_with`).
pub const REPORT_ONLY: &str = "report_only";

/// What to record about an attempt beyond the browser.
pub struct Outcome<'a> {
    pub user: Option<&'a User>,
    pub client_id: Option<&'a str>,
    pub result: SignInResult,
    pub amr: Vec<String>,
    pub acr: Option<String>,
    pub decision: Option<&'a serde_json::Value>,
    pub device_id: Option<String>,
    /// The identity provider the attempt came through (`TENANT_ID/PROVIDER_ID`).
    pub idp: Option<&'a str>,
}

/// The history entry for an attempt.
pub fn event(rng: &dyn Randomness, attempt: &Attempt, outcome: Outcome<'_>, now: OffsetDateTime) -> Result<SignInEvent, SignInError> {
    let risky = outcome.decision.and_then(|d| d.get("risky_single_factor")).and_then(serde_json::Value::as_bool).unwrap_or(false);
    // A report-only decision rides inside the decision until it is stored in its own column.
    let mut decision = outcome.decision.cloned();
    let staged_decision = decision.as_mut().and_then(serde_json::Value::as_object_mut).and_then(|d| d.remove(REPORT_ONLY));
    Ok(SignInEvent {
        // Time first, so entries of one second still sort in the order they happened.
        id: format!("{:020x}-{}", now.unix_timestamp_nanos().max(0), rng.id()?),
        at: now,
        user_id: outcome.user.map(|u| u.id.clone()),
        tenant_id: outcome.user.map(|u| u.tenant_id.clone()),
        client_id: outcome.client_id.map(str::to_owned),
        address: attempt.address.to_string(),
        user_agent: attempt.user_agent.clone(),
        device_id: outcome.device_id,
        result: outcome.result,
        amr: outcome.amr,
        acr: outcome.acr,
        decision,
        risky,
        staged_decision,
        reported_at: None,
        idp: outcome.idp.map(str::to_owned),
    })
}
