//! Gathers what the 2FA policy engine needs about one sign-in (the two policy layers, the
//! user's factors, risk signals, any step-up, what the SSO session achieved) and asks it.
//! The decision itself is `gatehouse_policy::decide`, a pure function; this module is the I/O
//! around it.

use std::net::IpAddr;

use gatehouse_core::authorize::AuthorizationRequest;
use gatehouse_core::model::User;
use gatehouse_core::{Client, FactorKind, FactorSecret};
use gatehouse_policy::{
    AuthLevel, DeviceSignal, DomainPolicy, Enrollment, Method, MethodSet, Outcome, PolicyInputs, RiskConfig, RiskSignals, Rule,
    SessionState, StepUp, decide,
};
use gatehouse_store::SessionRecord;
use time::OffsetDateTime;

use crate::error::ServerError;
use crate::rate_limit::{LOGIN_PER_ACCOUNT, LOGIN_PER_ADDRESS};
use crate::state::AppState;

/// A decision, owned: the outcome and rule to act on, and the whole decision as JSON to record.
#[derive(Clone, Debug)]
pub struct Verdict {
    pub outcome: Outcome,
    pub rule: Rule,
    pub record: serde_json::Value,
}

/// The method a confirmed factor of this kind proves.
pub fn method_of(kind: FactorKind) -> Method {
    match kind {
        FactorKind::Totp => Method::Totp,
        FactorKind::Sms => Method::Sms,
        FactorKind::SecurityKey => Method::SecurityKey,
        FactorKind::Passkey => Method::Passkey,
    }
}

/// What an SSO session proved, on the policy's scale. A level above a password counts from the
/// session's last authentication, when its second factor was presented.
pub fn session_state(session: &SessionRecord) -> SessionState {
    let level = AuthLevel::from_acr(&session.acr).unwrap_or(AuthLevel::Password);
    SessionState { level, second_factor_at: (level > AuthLevel::Password).then_some(session.auth_time) }
}

/// Decides what `user` must still present to answer `request` from `address`. `session` is
/// the SSO session standing in for the first factor, or `None` for a fresh sign-in.
pub async fn decide_sign_in(
    state: &AppState,
    user: &User,
    client: &Client,
    request: &AuthorizationRequest,
    session: Option<&SessionRecord>,
    address: IpAddr,
    now: OffsetDateTime,
) -> Result<Verdict, ServerError> {
    let tenant = state.store.tenant_for_domain(&user.email.domain()).await?;
    let domain = tenant.map(|t| t.policy).unwrap_or_else(DomainPolicy::default);
    let enrollment = enrollment(state, user).await?;
    let signals = RiskSignals {
        address,
        // Remembered devices (a signed device cookie) and sign-in history are not gathered
        // yet: every sign-in outside a trusted network is judged on an unknown device.
        device: DeviceSignal::Unknown,
        address_seen_before: false,
        failures_for_user: state.login_limiter.failures(&user.email.key(), LOGIN_PER_ACCOUNT, now),
        failures_for_address: state.address_limiter.failures(&address.to_string(), LOGIN_PER_ADDRESS, now),
        reported_device: false,
        reported_address: false,
        new_country: false,
        location: None,
        previous: None,
    };
    let risk_config = RiskConfig::default();
    let step_up = StepUp::from_request(
        &request.acr_values,
        None::<[&str; 0]>,
        request.scopes.iter(),
        &client.policy,
        request.max_age,
    );
    let inputs = PolicyInputs {
        domain: &domain,
        app: &client.policy,
        enrollment,
        risk: &signals,
        risk_config: &risk_config,
        step_up,
        session: session.map(session_state),
        now,
    };
    let decision = decide(&inputs);
    let record = serde_json::to_value(decision).map_err(|_| ServerError::Internal("serialising a policy decision"))?;
    Ok(Verdict { outcome: decision.outcome, rule: decision.winning_rule, record })
}

/// The user's confirmed factors and recovery codes, as the policy sees them.
async fn enrollment(state: &AppState, user: &User) -> Result<Enrollment, ServerError> {
    let factors = state.store.factors(&user.id).await?;
    let mut methods = MethodSet::EMPTY;
    let mut device_bound_webauthn = false;
    for factor in factors.iter().filter(|f| f.is_confirmed()) {
        methods.insert(method_of(factor.kind));
        if let FactorSecret::WebAuthn { device_bound: true, .. } = factor.secret {
            device_bound_webauthn = true;
        }
    }
    let recovery_codes = !methods.is_empty() && state.store.recovery_codes_left(&user.id).await? > 0;
    Ok(Enrollment { methods, recovery_codes, device_bound_webauthn })
}
