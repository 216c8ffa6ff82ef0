//! The second-factor step: after the first factor, when the policy asks for 2FA, the user
//! presents one of the enrolled methods it allows (an authenticator app code, a text-message
//! code, a recovery code, a security key or a passkey). Wrong codes are throttled per user
//! (`factors`) and per address (the context's limiter) and leave a history entry; a factor
//! that only opens the wizard moves the sign-in there.

use gatehouse_core::{Factor, FactorKind, FactorSecret};
use gatehouse_ops::rate_limit::{OTP_FAILURES_PER_ADDRESS, RateLimiter};
use gatehouse_policy::{AuthLevel, Method};
use gatehouse_store::SignInResult;
use time::OffsetDateTime;

use super::{Step, StepError, webauthn_kinds};
use crate::Randomness;
use crate::attempt::{self, Attempt, Outcome};
use crate::factors::{self, Factors, MfaError};
use crate::proof::Proof;

/// What the second-factor step uses.
pub struct Context<'a> {
    pub factors: &'a Factors,
    /// Wrong codes per client address: one place guessing codes for many accounts stops.
    pub per_address: &'a RateLimiter,
    pub rng: &'a dyn Randomness,
}

/// The form of the step.
pub struct Presented<'a> {
    /// `totp`, `sms`, `recovery_code`, `security_key` or `passkey`.
    pub method: Option<&'a str>,
    pub code: &'a str,
    /// A WebAuthn assertion (JSON), for a security key or passkey.
    pub credential: Option<&'a str>,
    /// The user asked to remember this browser.
    pub remember_device: bool,
}

/// Where presenting a factor leads.
#[derive(Debug)]
pub enum FactorOutcome {
    /// Not accepted: the page again, saying why.
    Refuse(MfaError),
    /// Accepted, and it only opened the wizard: the browser goes to the enrollment page.
    Enroll,
    /// Accepted: every factor is done; finish with this proof.
    Complete { proof: Proof, remember_device: bool },
}

/// What the step's page offers.
#[derive(Debug, PartialEq, Eq)]
pub struct FactorChoices {
    pub totp: bool,
    /// The last digits of the phone a text message would go to, when SMS is offered.
    pub sms_to: Option<String>,
    pub sms_sent: bool,
    pub recovery: bool,
    /// Security keys and passkeys the user has and may present.
    pub webauthn: Vec<FactorKind>,
    /// Days a verified browser may be remembered (0: not offered).
    pub remember_days: u16,
}

fn sms_factor(factors: &[Factor]) -> Option<&Factor> {
    factors.iter().find(|f| f.kind == FactorKind::Sms && f.is_confirmed())
}

/// The last two digits of a text-message factor's number, so the user recognises it without
/// it being shown.
pub fn phone_ending(factor: &Factor) -> Option<String> {
    match &factor.secret {
        FactorSecret::Sms { phone } => Some(phone.as_str().chars().rev().take(2).collect::<Vec<_>>().into_iter().rev().collect()),
        _ => None,
    }
}

/// What the page offers this user at this step.
pub async fn choices(cx: &Factors, step: &Step) -> Result<FactorChoices, StepError> {
    let factors = cx.store.factors(&step.user.id).await?;
    let progress = &step.progress;
    let sms = sms_factor(&factors).filter(|_| progress.offers(Method::Sms));
    Ok(FactorChoices {
        totp: progress.offers(Method::Totp),
        sms_to: sms.and_then(phone_ending),
        sms_sent: progress.sms_challenge().is_some(),
        recovery: progress.offers(Method::RecoveryCode),
        webauthn: webauthn_kinds(cx.webauthn_available(), progress).into_iter().filter(|k| factors.iter().any(|f| f.kind == *k && f.is_confirmed())).collect(),
        // Not offered where the factor only opens the wizard: that step remembers nothing.
        remember_days: if progress.then_enroll().is_some() { 0 } else { progress.remember_device_days },
    })
}

/// Verifies a security key or passkey against the ceremony parked for this sign-in (used
/// once: a failed assertion needs new options). Returns the method reference and the level
/// the credential proved, which must meet the level asked.
async fn present_webauthn(
    cx: &Factors,
    step: &mut Step,
    method: Method,
    credential: Option<&str>,
    now: OffsetDateTime,
) -> Result<(&'static str, AuthLevel), MfaError> {
    let kind = if method == Method::Passkey { FactorKind::Passkey } else { FactorKind::SecurityKey };
    let Some((ceremony, rest)) = step.progress.take_ceremony(kind) else {
        return Err(MfaError::Expired);
    };
    // Spent before it is checked: a failed assertion needs new options.
    if !step.parked.advance(cx.store.as_ref(), rest.clone()).await? {
        return Err(MfaError::Expired);
    }
    step.progress = rest;
    let presented = factors::credentials::finish_sign_in(cx, &step.user, kind, &ceremony, credential.unwrap_or_default(), now).await?;
    if presented.level < step.progress.level() {
        return Err(MfaError::NotAllowed);
    }
    Ok((presented.amr, presented.level))
}

/// Checks the factor presented from the browser of `attempt`.
pub async fn present(cx: &Context<'_>, step: &mut Step, input: Presented<'_>, attempt: &Attempt, now: OffsetDateTime) -> Result<FactorOutcome, StepError> {
    if !step.progress.is_second_factor() {
        return Err(StepError::Expired);
    }
    let address_key = attempt.address.to_string();
    if let Some(retry_after) = cx.per_address.blocked_for(&address_key, OTP_FAILURES_PER_ADDRESS, now) {
        return Ok(FactorOutcome::Refuse(MfaError::Throttled { retry_after }));
    }
    let method = input.method.and_then(Method::parse).filter(|m| step.progress.offers(*m));
    let level = step.progress.level();
    let (f, code) = (cx.factors, input.code);
    let result = match method {
        Some(Method::Totp) => {
            let enrolled = f.store.factors(&step.user.id).await?;
            factors::totp::verify(f, &step.user, &enrolled, code, now).await.map(|_| ("otp", level))
        }
        Some(Method::Sms) => match step.progress.sms_challenge() {
            Some(challenge) => factors::sms::check_code(f, &step.user, challenge, code, now).await.map(|_| ("sms", level)),
            None => Err(MfaError::Expired),
        },
        Some(Method::RecoveryCode) => factors::recovery::redeem(f, &step.user, code, now).await.map(|_| ("otp", level)),
        Some(webauthn @ (Method::SecurityKey | Method::Passkey)) => present_webauthn(f, step, webauthn, input.credential, now).await,
        None => Err(MfaError::NotAllowed),
    };
    let (amr, achieved) = match result {
        Ok(accepted) => accepted,
        Err(error) => {
            if error.counts_as_failure() {
                cx.per_address.record_failure(&address_key, OTP_FAILURES_PER_ADDRESS, now);
                let outcome = Outcome {
                    user: Some(&step.user),
                    client_id: Some(step.parked.request.client_id.as_str()),
                    result: SignInResult::SecondFactorFailure,
                    amr: step.progress.first_amr.clone(),
                    acr: None,
                    decision: Some(&step.progress.decision),
                    device_id: attempt.device_id(&f.digester, &step.user),
                    idp: step.progress.idp.as_deref(),
                };
                f.store.record_sign_in(&attempt::event(cx.rng, attempt, outcome, now)?).await?;
            }
            return Ok(FactorOutcome::Refuse(error));
        }
    };
    let proof = Proof::with_second_factor(step.progress.first_method(), amr, achieved);
    if proof.level < step.progress.level() {
        // The same method as the first factor (a passkey sign-in presenting the passkey
        // again) is one factor, not two.
        return Ok(FactorOutcome::Refuse(MfaError::NotAllowed));
    }
    tracing::info!(user = %step.user.id, method = method.map_or("", Method::as_str), "second factor accepted");
    if step.progress.then_enroll().is_some() {
        // An existing factor was presented; now the wizard may add one that meets the level.
        let wizard = step.progress.into_wizard().ok_or(StepError::Expired)?;
        step.advance_or_expire(f.store.as_ref(), wizard).await?;
        return Ok(FactorOutcome::Enroll);
    }
    let remember_device = step.progress.remember_device_days > 0 && input.remember_device;
    Ok(FactorOutcome::Complete { proof, remember_device })
}

/// Where asking for a text-message code leads.
#[derive(Debug)]
pub enum SmsOutcome {
    /// Text messages are not offered at this step (or the user has no verified number).
    NotOffered,
    /// Sent to this factor's number; the challenge is parked with the sign-in.
    Sent(Factor),
    /// Not sent, for this reason.
    Refuse(MfaError),
}

/// Sends a text-message code to the user's verified number, asked from `address`.
pub async fn send_sms(cx: &Factors, step: &mut Step, address: std::net::IpAddr, now: OffsetDateTime) -> Result<SmsOutcome, StepError> {
    let enrolled = cx.store.factors(&step.user.id).await?;
    let Some(factor) = sms_factor(&enrolled).filter(|_| step.progress.offers(Method::Sms) && step.progress.is_second_factor()) else {
        return Ok(SmsOutcome::NotOffered);
    };
    match factors::sms::send_sign_in_code(cx, &step.user, factor, address, now).await {
        Ok(challenge) => {
            let progress = step.progress.with_sms_challenge(challenge).ok_or(StepError::Expired)?;
            step.advance(cx.store.as_ref(), progress).await?;
            Ok(SmsOutcome::Sent(factor.clone()))
        }
        Err(error) => Ok(SmsOutcome::Refuse(error)),
    }
}
