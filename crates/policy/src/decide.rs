//! [`decide`]: the priority rules of the seed, in order, over [`PolicyInputs`].
//!
//! 1. Step-up wins over everything, Bypass included.
//! 2. Otherwise the App Bypass always wins: no prompt, no enrollment wizard.
//! 3. Otherwise highest security wins: domain Required or app Required means 2FA.
//! 4. Otherwise (domain Optional, app Adaptive) risk decides.
//!
//! An SSO session that already reached the level satisfies rules 1, 3 and 4. Risk is assessed
//! every time so every decision's explanation is complete, but it changes only rule 4's outcome.

use time::OffsetDateTime;

use crate::app::AppTwoFactor;
use crate::decision::{Decision, DenyReason, Outcome, Rule};
use crate::domain::DomainTwoFactor;
use crate::inputs::{Enrollment, PolicyInputs, SessionState};
use crate::level::AuthLevel;
use crate::method::{Method, MethodSet};
use crate::reason::{Reason, Reasons};
use crate::risk::{RiskLevel, assess};
use crate::step_up::{StepUp, StepUpSource};

/// Decides what a sign-in needs. Pure, total and allocation-free.
pub fn decide<'a>(inputs: &PolicyInputs<'a>) -> Decision<'a> {
    let risk = assess(inputs.risk, inputs.domain, inputs.risk_config, inputs.now);
    let mut reasons = Reasons::new();
    if let Some(step_up) = inputs.step_up {
        reasons.push(step_up_reason(step_up));
    }
    reasons.push(Reason::DomainPolicy(inputs.domain.two_factor));
    reasons.push(Reason::AppPolicy(inputs.app.two_factor));

    let mut draft = Draft { reasons, risky_single_factor: false, invite_enrollment: false };
    let (outcome, winning_rule) = draft.apply_rules(inputs, risk.level);
    draft.reasons.extend(&risk.reasons);
    Decision {
        outcome,
        winning_rule,
        reasons: draft.reasons,
        risk: risk.level,
        risky_single_factor: draft.risky_single_factor,
        invite_enrollment: draft.invite_enrollment,
    }
}

/// A decision being made: the reasons so far and the flags only rule 4 sets.
struct Draft<'a> {
    reasons: Reasons<'a>,
    risky_single_factor: bool,
    invite_enrollment: bool,
}

impl<'a> Draft<'a> {
    fn apply_rules(&mut self, inputs: &PolicyInputs<'a>, risk: RiskLevel) -> (Outcome, Rule) {
        let allowed = inputs.domain.configurable_methods();
        let session = inputs.session;

        // Rule 1: step-up.
        if let Some(step_up) = inputs.step_up {
            if self.session_satisfies(session, step_up.level, step_up.max_age, inputs.now) {
                return (Outcome::NoPrompt, Rule::SessionSatisfies);
            }
            return (self.require(step_up.level, inputs.enrollment, allowed), Rule::StepUp);
        }

        // Rule 2: Bypass.
        if inputs.app.two_factor == AppTwoFactor::Bypass {
            return (Outcome::NoPrompt, Rule::AppBypass);
        }

        // Rule 3: highest security wins; the domain is named when both layers require.
        let mandate = if inputs.domain.two_factor == DomainTwoFactor::Required {
            Some(Rule::DomainRequired)
        } else if inputs.app.two_factor == AppTwoFactor::Required {
            Some(Rule::AppRequired)
        } else {
            None
        };
        if self.session_satisfies(session, AuthLevel::Mfa, None, inputs.now) {
            return (Outcome::NoPrompt, Rule::SessionSatisfies);
        }
        if let Some(rule) = mandate {
            return (self.require(AuthLevel::Mfa, inputs.enrollment, allowed), rule);
        }

        // Rule 4: adaptive.
        if risk == RiskLevel::Low {
            return (Outcome::NoPrompt, Rule::AdaptiveLowRisk);
        }
        let methods = inputs.enrollment.offer(AuthLevel::Mfa, allowed);
        if methods.is_empty() {
            self.reasons.push(Reason::NotEnrolled { level: AuthLevel::Mfa });
            self.reasons.push(Reason::RiskySingleFactor);
            self.risky_single_factor = true;
            // With nothing allowed there is nothing to enroll in.
            self.invite_enrollment = !allowed.is_empty();
            return (Outcome::NoPrompt, Rule::AdaptiveNotEnrolled);
        }
        self.note_restricted(methods);
        (Outcome::SecondFactor { level: AuthLevel::Mfa, methods }, Rule::AdaptiveRisk)
    }

    /// Whether the SSO session already meets `level` (fresh enough under `max_age`), noting
    /// what the session achieved either way.
    fn session_satisfies(&mut self, session: Option<SessionState>, level: AuthLevel, max_age: Option<u64>, now: OffsetDateTime) -> bool {
        let Some(session) = session else { return false };
        if session.satisfies(level, max_age, now) {
            self.reasons.push(Reason::SessionAchieved { level: session.level });
            return true;
        }
        match max_age {
            Some(max_age) if session.level >= level => self.reasons.push(Reason::SecondFactorTooOld { max_age }),
            _ if session.level > AuthLevel::Password => self.reasons.push(Reason::SessionAchieved { level: session.level }),
            _ => {}
        }
        false
    }

    /// A second factor reaching `level`: one the user has, else the enrollment wizard, else a
    /// refusal when the domain allows no method that could ever reach it.
    fn require(&mut self, level: AuthLevel, enrollment: Enrollment, allowed: MethodSet) -> Outcome {
        let methods = enrollment.offer(level, allowed);
        if !methods.is_empty() {
            self.note_restricted(methods);
            return Outcome::SecondFactor { level, methods };
        }
        self.reasons.push(Reason::NotEnrolled { level });
        // A credential enrolled now can be made device-bound, so enrollment may aim for `phrh`.
        let enrollable = allowed.reaching(level, true);
        if enrollable.is_empty() {
            self.reasons.push(Reason::NoAllowedMethodReaches { level });
            return Outcome::Deny { error: DenyReason::UnmetAuthenticationRequirements };
        }
        self.note_restricted(enrollable);
        Outcome::Enroll { level, methods: enrollable }
    }

    fn note_restricted(&mut self, methods: MethodSet) {
        if methods.iter().any(Method::is_restricted) {
            self.reasons.push(Reason::RestrictedMethodOffered);
        }
    }
}

fn step_up_reason(step_up: StepUp<'_>) -> Reason<'_> {
    match step_up.source {
        StepUpSource::AcrValues => Reason::StepUpAcrValues { level: step_up.level },
        StepUpSource::EssentialAcrClaim => Reason::StepUpEssentialAcr { level: step_up.level },
        StepUpSource::Scope(scope) => Reason::StepUpScope { scope, level: step_up.level },
    }
}

#[cfg(test)]
mod tests;
