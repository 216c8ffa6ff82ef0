//! Gathers what the 2FA policy engine needs about one sign-in (the two policy layers, the
//! user's factors, risk signals, any step-up, what the SSO session achieved) and asks it.
//! The decision itself is `gatehouse_policy::decide`, a pure function; this module reads its
//! inputs through the two storage capabilities it needs (factors, and sign-in history).

use gatehouse_core::authorize::AuthorizationRequest;
use gatehouse_core::model::{Tenant, User};
use gatehouse_core::{Client, FactorKind, FactorSecret};
use gatehouse_crypto::SecretDigester;
use gatehouse_policy::{
    AuthLevel, DeviceSignal, DomainPolicy, Enrollment, Method, MethodSet, Outcome, PolicyInputs, RiskConfig, RiskSignals, Rule, SessionState, StepUp, decide,
};
use gatehouse_store::{DeviceRecord, DirectoryStore, FactorStore, SessionRecord, SignInStore, StoreError};
use std::net::IpAddr;
use time::OffsetDateTime;

use crate::attempt::{Attempt, REPORT_ONLY};

/// A decision, owned: the outcome and rule to act on, and the whole decision as JSON to record.
#[derive(Clone, Debug)]
pub struct Verdict {
    pub outcome: Outcome,
    pub rule: Rule,
    pub record: serde_json::Value,
    /// The domain's remember-device window, so the second-factor page can offer it.
    pub remember_device_days: u16,
    /// The factors the user already has (with recovery codes), whatever the policy allows:
    /// before anyone may enroll a new factor for this account, one of these must be presented.
    pub existing_factors: MethodSet,
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

/// What a sign-in asks for, beyond the two policy layers.
#[derive(Clone, Debug, Default)]
pub struct Ask<'a> {
    pub acr_values: &'a [String],
    pub scopes: Vec<&'a str>,
    pub max_age: Option<u64>,
    /// What the SSO session standing in for the first factor proved.
    pub session: Option<SessionState>,
}

impl<'a> Ask<'a> {
    /// What a live authorization request asks for, with what stands in for its first factor.
    pub fn for_request(request: &'a AuthorizationRequest, session: Option<SessionState>) -> Self {
        Self { acr_values: &request.acr_values, scopes: request.scopes.iter().collect(), max_age: request.max_age, session }
    }
}

/// The device row of the browser behind `attempt`, when it carries a device cookie.
pub async fn device_of(store: &dyn SignInStore, digester: &SecretDigester, attempt: &Attempt, user: &User) -> Result<Option<DeviceRecord>, StoreError> {
    match attempt.device_id(digester, user) {
        Some(id) => store.device(&id).await,
        None => Ok(None),
    }
}

/// Risk signals observed by the caller (the server, or `gatehouse policy explain`).
#[derive(Clone, Debug)]
pub struct Observed {
    pub address: IpAddr,
    pub device: Option<DeviceRecord>,
    pub failures_for_user: u32,
    pub failures_for_address: u32,
}

/// Decides for `user` signing in to `client`: reads the domain policy, the user's factors and
/// the address history from the store, and asks the pure engine. The server and `gatehouse
/// policy explain` both call this, so they cannot disagree.
///
/// `tenant` is the user's tenant, which the server reads from memory and other callers from
/// the store (see [`tenant_of`]).
pub async fn decide_with<S: FactorStore + SignInStore + ?Sized>(
    store: &S,
    tenant: Option<&Tenant>,
    user: &User,
    client: &Client,
    ask: &Ask<'_>,
    observed: &Observed,
    now: OffsetDateTime,
) -> Result<Verdict, StoreError> {
    let default = DomainPolicy::default();
    let (domain, staged) = tenant.map_or((&default, None), |t| (&t.policy, t.staged_policy.as_ref()));
    let enrollment = enrollment(store, user).await?;
    let device = observed.device.as_ref();
    let (address_seen_before, reported_address) = store.address_signals(&user.id, &observed.address.to_string(), now).await?;
    let signals = RiskSignals {
        address: observed.address,
        device: device.map_or(DeviceSignal::Unknown, |d| DeviceSignal::Known { last_second_factor_at: d.second_factor_at }),
        address_seen_before,
        failures_for_user: observed.failures_for_user,
        failures_for_address: observed.failures_for_address,
        reported_device: device.is_some_and(|d| d.reported_at.is_some()),
        reported_address,
        new_country: false,
        location: None,
        previous: None,
    };
    let risk_config = RiskConfig::default();
    // A reported sign-in ("this wasn't me") requires a fresh second factor next time from an
    // account that has one, as an essential `acr` claim would: the step-up path, which even a
    // Bypass application honours. An account without one sets its new password after the
    // password alone (nothing else could tell its owner from the intruder), and must not be
    // sent to enroll a factor the intruder could choose.
    let reset = (user.credentials_reset_required && !enrollment.methods.is_empty()).then_some([AuthLevel::Mfa.acr()]);
    let step_up = StepUp::from_request(ask.acr_values, reset, ask.scopes.iter(), &client.policy, ask.max_age);
    let inputs = PolicyInputs { domain, app: &client.policy, enrollment, risk: &signals, risk_config: &risk_config, step_up, session: ask.session, now };
    let decision = decide(&inputs);
    // A decision is plain data; serialising it cannot fail, but a failure would not be hidden.
    let serialise = |d| serde_json::to_value(d).map_err(|e| StoreError::Corrupt(format!("policy decision: {e}")));
    let mut record = serialise(decision)?;
    // Report-only: the staged policy decides beside the enforced one and is only recorded.
    if let Some(staged) = staged
        && let Some(object) = record.as_object_mut()
    {
        let staged_decision = decide(&PolicyInputs { domain: staged, ..inputs });
        object.insert(REPORT_ONLY.to_owned(), serialise(staged_decision)?);
    }
    Ok(Verdict {
        outcome: decision.outcome,
        rule: decision.winning_rule,
        record,
        remember_device_days: domain.remember_device_days,
        existing_factors: enrollment.offer(AuthLevel::Mfa, MethodSet::CONFIGURABLE),
    })
}

/// A sign-in imagined by an administrator (the simulator, `gatehouse policy explain`).
pub struct Hypothetical<'a> {
    pub acr_values: &'a [String],
    pub scopes: &'a [String],
    pub address: IpAddr,
    /// The browser is known and completed a second factor just now.
    pub known_device: bool,
    /// An SSO session already proved this level.
    pub session: Option<AuthLevel>,
}

/// What the policy would decide for a hypothetical sign-in: the same code as a real one, with
/// no failures on record and nothing written.
pub async fn simulate<S: DirectoryStore + FactorStore + SignInStore + ?Sized>(
    store: &S,
    user: &User,
    client: &Client,
    sign_in: &Hypothetical<'_>,
    now: OffsetDateTime,
) -> Result<Verdict, StoreError> {
    let device = sign_in.known_device.then(|| DeviceRecord {
        id: "hypothetical".into(),
        user_id: user.id.clone(),
        created_at: now,
        last_seen_at: now,
        second_factor_at: Some(now),
        user_agent: String::new(),
        reported_at: None,
    });
    let ask = Ask {
        acr_values: sign_in.acr_values,
        scopes: sign_in.scopes.iter().map(String::as_str).collect(),
        max_age: None,
        session: sign_in.session.map(|level| SessionState { level, second_factor_at: (level > AuthLevel::Password).then_some(now) }),
    };
    let observed = Observed { address: sign_in.address, device, failures_for_user: 0, failures_for_address: 0 };
    let tenant = tenant_of(store, user).await?;
    decide_with(store, tenant.as_ref(), user, client, &ask, &observed, now).await
}

/// The user's tenant, read from the store (the server uses its in-memory copy instead).
pub async fn tenant_of<S: DirectoryStore + ?Sized>(store: &S, user: &User) -> Result<Option<Tenant>, StoreError> {
    store.tenant_for_domain(&user.email.domain()).await
}

/// The user's confirmed factors and recovery codes, as the policy sees them.
async fn enrollment<S: FactorStore + ?Sized>(store: &S, user: &User) -> Result<Enrollment, StoreError> {
    let factors = store.factors(&user.id).await?;
    let mut methods = MethodSet::EMPTY;
    let mut device_bound_webauthn = false;
    // While a reset is pending, a factor that appeared after the reported sign-in may be the
    // intruder's: it is not asked for (its owner proves the mailbox instead).
    for factor in factors.iter().filter(|f| f.is_confirmed() && user.trusts_factor_from(f.created_at)) {
        methods.insert(method_of(factor.kind));
        if let FactorSecret::WebAuthn { device_bound: true, .. } = factor.secret {
            device_bound_webauthn = true;
        }
    }
    let recovery_codes = !methods.is_empty() && store.recovery_codes_left(&user.id).await? > 0;
    Ok(Enrollment { methods, recovery_codes, device_bound_webauthn })
}
