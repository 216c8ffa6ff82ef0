//! The enrollment wizard: a user who must use 2FA but has no usable factor sets one up in the
//! middle of signing in (an authenticator app activated by its first code, a phone that
//! proved it receives texts, a security key or passkey), receives recovery codes once, and
//! the original request then resumes with the new factor as its second. Only methods the
//! policy allows are offered.

use gatehouse_core::audit::AuditEntry;
use gatehouse_core::ids::FactorId;
use gatehouse_core::{FactorKind, PhoneNumber};
use gatehouse_ops::monitor::audit_writer::AuditWriter;
use gatehouse_policy::{AuthLevel, Method};
use std::net::IpAddr;
use time::OffsetDateTime;
use zeroize::Zeroizing;

use super::{Origin, Step, StepError, offered_kind};
use crate::factors::totp::TotpEnrollment;
use crate::factors::{self, Factors, MfaError};
use crate::progress::EnrolledProof;
use crate::proof::Proof;

/// What the wizard uses.
pub struct Context<'a> {
    pub factors: &'a Factors,
    /// Where the new factor's audit record goes.
    pub audit: &'a AuditWriter,
}

/// Where confirming a new factor leads.
#[derive(Debug)]
pub enum EnrollOutcome {
    /// Not confirmed: the wizard again, saying why.
    Refuse(MfaError),
    /// Registered, but a synced passkey cannot answer a request that wants a key bound to its
    /// hardware: the wizard again.
    TooWeak,
    /// The factor is active: show these recovery codes once, then continue.
    Enrolled { recovery_codes: Vec<Zeroizing<String>> },
}

/// The wizard's stage, or [`StepError::Expired`] for a sign-in in another stage.
pub fn wizard(step: &Step) -> Result<(), StepError> {
    if step.progress.is_enrolling() { Ok(()) } else { Err(StepError::Expired) }
}

/// The authenticator app being set up: the one already created for this sign-in (shown again
/// on reload), or a new unconfirmed one.
pub async fn app(cx: &Factors, step: &mut Step, now: OffsetDateTime) -> Result<TotpEnrollment, StepError> {
    let existing = match step.progress.enrolling_app() {
        Some(id) => match cx.store.factor(id).await?.filter(|f| f.user_id == step.user.id) {
            // Another request of this sign-in (a second tab, a double submit) confirmed it and
            // is moving the wizard on: this one must not start a new app behind its back.
            Some(factor) if factor.is_confirmed() => return Err(StepError::ContinuedElsewhere),
            other => other,
        },
        None => None,
    };
    match existing {
        Some(factor) => factors::totp::view(cx, &step.user, &factor).map_err(StepError::Enrollment),
        None => {
            let enrollment = factors::totp::begin(cx, &step.user, FactorKind::Totp.label(), now).await.map_err(StepError::Enrollment)?;
            let progress = step.progress.with_enrolling_app(enrollment.factor_id.clone()).ok_or(StepError::Expired)?;
            step.advance(cx.store.as_ref(), progress).await?;
            Ok(enrollment)
        }
    }
}

/// Activates the authenticator app with its first code.
pub async fn confirm_app(cx: &Context<'_>, step: &mut Step, code: &str, origin: Origin<'_>, now: OffsetDateTime) -> Result<EnrollOutcome, StepError> {
    wizard(step)?;
    let Some(factor_id) = step.progress.enrolling_app().cloned() else { return Err(StepError::Expired) };
    if let Err(error) = factors::totp::confirm(cx.factors, &step.user, &factor_id, code, now).await {
        return Ok(EnrollOutcome::Refuse(error));
    }
    enrolled(cx, step, &factor_id, EnrolledProof { amr: "otp".to_owned(), level: AuthLevel::Mfa }, origin, now).await
}

/// Registers the security key or passkey of the ceremony parked for this wizard.
pub async fn register_webauthn(
    cx: &Context<'_>,
    step: &mut Step,
    credential: &str,
    origin: Origin<'_>,
    now: OffsetDateTime,
) -> Result<EnrollOutcome, StepError> {
    wizard(step)?;
    let ceremony = step.progress.ceremony.clone().filter(|_| step.progress.is_enrolling_unconfirmed());
    let Some(kind) = ceremony.as_ref().and_then(|c| offered_kind(&step.progress, Some(c.kind.as_str()))) else {
        return Err(StepError::Expired);
    };
    let Some((ceremony, rest)) = step.progress.take_ceremony(kind) else { return Err(StepError::Expired) };
    step.advance(cx.factors.store.as_ref(), rest).await?;
    match factors::credentials::finish_registration(cx.factors, &step.user, kind, &ceremony, credential, kind.label(), now).await {
        Ok(factor) => {
            let (amr, level) = factors::credentials::registered_proof(&factor);
            if level < step.progress.level() {
                // Kept as a factor, but it cannot answer this request.
                return Ok(EnrollOutcome::TooWeak);
            }
            enrolled(cx, step, &factor.id, EnrolledProof { amr: amr.to_owned(), level }, origin, now).await
        }
        Err(error) => Ok(EnrollOutcome::Refuse(error)),
    }
}

/// A phone may be set up here: the policy allows text messages and no factor is confirmed yet.
pub fn phone_allowed(step: &Step) -> Result<(), StepError> {
    wizard(step)?;
    if step.progress.offers(Method::Sms) && step.progress.is_enrolling_unconfirmed() { Ok(()) } else { Err(StepError::Expired) }
}

/// Creates the unconfirmed phone factor and sends a code to it (asked from `address`).
/// `None` when it was sent.
pub async fn send_phone_code(cx: &Factors, step: &mut Step, phone: PhoneNumber, address: IpAddr, now: OffsetDateTime) -> Result<Option<MfaError>, StepError> {
    phone_allowed(step)?;
    match factors::sms::begin(cx, &step.user, phone, FactorKind::Sms.label(), address, now).await {
        Ok((factor, challenge)) => {
            let progress = step.progress.with_enrolling_phone(factor.id.clone(), challenge).ok_or(StepError::Expired)?;
            step.advance(cx.store.as_ref(), progress).await?;
            Ok(None)
        }
        Err(error) => Ok(Some(error)),
    }
}

/// The code that came back activates the phone.
pub async fn confirm_phone(cx: &Context<'_>, step: &mut Step, code: &str, origin: Origin<'_>, now: OffsetDateTime) -> Result<EnrollOutcome, StepError> {
    phone_allowed(step)?;
    let Some((factor, challenge)) = step.progress.enrolling_phone().cloned() else { return Err(StepError::Expired) };
    match factors::sms::confirm(cx.factors, &step.user, &factor, &challenge, code, now).await {
        Ok(()) => enrolled(cx, step, &factor, EnrolledProof { amr: "sms".to_owned(), level: AuthLevel::Mfa }, origin, now).await,
        Err(error) => Ok(EnrollOutcome::Refuse(error)),
    }
}

/// The new factor is active: the wizard's step is claimed first (compare-and-set), so of two
/// racing confirmations only one records the new factor and makes the recovery codes it shows.
async fn enrolled(
    cx: &Context<'_>,
    step: &mut Step,
    factor: &FactorId,
    proof: EnrolledProof,
    origin: Origin<'_>,
    now: OffsetDateTime,
) -> Result<EnrollOutcome, StepError> {
    let user = &step.user;
    let entry = AuditEntry {
        after: Some(serde_json::json!({ "method": proof.amr, "during": "sign-in enrollment wizard" })),
        reason: Some(format!("the sign-in required {}", step.progress.level())),
        ..origin.audit_by(user, "factor.add", format!("factor:{factor}"), now)
    };
    let progress = step.progress.with_enrolled(proof).ok_or(StepError::Expired)?;
    step.advance(cx.factors.store.as_ref(), progress).await?;
    cx.audit.append(&entry).await?;
    let recovery_codes = factors::recovery::regenerate(cx.factors, &step.user, now).await.map_err(StepError::Enrollment)?;
    Ok(EnrollOutcome::Enrolled { recovery_codes })
}

/// The end of the wizard: using the new factor (its first code, or the registration) was the
/// second factor of this sign-in. `None` when what it proved falls short of the level asked.
pub fn done(step: &Step) -> Result<Option<Proof>, StepError> {
    wizard(step)?;
    let Some(enrolled) = step.progress.enrolled() else { return Err(StepError::Expired) };
    let proof = Proof::with_second_factor(step.progress.first_method(), &enrolled.amr, enrolled.level);
    Ok((proof.level >= step.progress.level()).then_some(proof))
}
