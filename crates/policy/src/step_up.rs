//! Step-up requests: what level a sign-in must reach because the client asked for it
//! (`acr_values`, an essential `acr` claim) or because it asked for a scope the application
//! marks sensitive. Step-up wins over every other rule, including an application's Bypass.

use serde::Serialize;

use crate::app::AppPolicy;
use crate::level::AuthLevel;

/// A requirement above a password, and what asked for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct StepUp<'a> {
    pub level: AuthLevel,
    /// OIDC `max_age` in seconds: a second factor the session presented earlier counts only if
    /// it is at most this old.
    pub max_age: Option<u64>,
    pub source: StepUpSource<'a>,
}

/// What asked for the step-up's level (the highest of the requirements).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "scope", rename_all = "snake_case")]
pub enum StepUpSource<'a> {
    AcrValues,
    EssentialAcrClaim,
    /// A requested scope listed in the application's `step_up_scopes` (named as the policy
    /// spells it).
    Scope(&'a str),
}

impl<'a> StepUp<'a> {
    /// The step-up a request asks for, or `None` when a password is acceptable.
    ///
    /// `acr_values` (and an essential `acr` claim's values) list the classes a client accepts,
    /// in preference order, so what it *requires* is the weakest recognised one; unrecognised
    /// values are ignored as OIDC Core §3.1.2.1 says. Requested scopes require the strongest
    /// level the application lists for any of them. The step-up is the highest of the three,
    /// and on a tie the first in that order names the source.
    ///
    /// `max_age` alone is not a step-up: re-authenticating a stale session is the session
    /// layer's job. It is carried here only to judge the freshness of an earlier second factor.
    pub fn from_request<A, E, S>(acr_values: A, essential_acr: Option<E>, requested_scopes: S, app: &'a AppPolicy, max_age: Option<u64>) -> Option<Self>
    where
        A: IntoIterator,
        A::Item: AsRef<str>,
        E: IntoIterator,
        E::Item: AsRef<str>,
        S: IntoIterator,
        S::Item: AsRef<str>,
    {
        let mut best: Option<(AuthLevel, StepUpSource<'a>)> = None;
        let mut consider = |level: Option<AuthLevel>, source: StepUpSource<'a>| {
            if let Some(level) = level.filter(|l| *l > AuthLevel::Password)
                && best.is_none_or(|(best_level, _)| level > best_level)
            {
                best = Some((level, source));
            }
        };
        consider(weakest_acceptable(acr_values), StepUpSource::AcrValues);
        consider(essential_acr.and_then(weakest_acceptable), StepUpSource::EssentialAcrClaim);
        // Highest scope first so a later scope at the same level does not replace the source.
        let mut strongest_scope: Option<(&'a str, AuthLevel)> = None;
        for requested in requested_scopes {
            if let Some((scope, level)) = app.step_up_level(requested.as_ref())
                && strongest_scope.is_none_or(|(_, best_level)| level > best_level)
            {
                strongest_scope = Some((scope, level));
            }
        }
        if let Some((scope, level)) = strongest_scope {
            consider(Some(level), StepUpSource::Scope(scope));
        }
        best.map(|(level, source)| StepUp { level, max_age, source })
    }
}

fn weakest_acceptable<I>(values: I) -> Option<AuthLevel>
where
    I: IntoIterator,
    I::Item: AsRef<str>,
{
    values.into_iter().filter_map(|v| AuthLevel::from_acr(v.as_ref())).min()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::AppTwoFactor;

    const MFA: &str = "urn:gatehouse:acr:mfa";
    const PHR: &str = "phr";
    const PHRH: &str = "phrh";
    const PWD: &str = "urn:gatehouse:acr:pwd";
    const NONE: Option<[&str; 0]> = None;

    fn payments_app() -> AppPolicy {
        AppPolicy {
            two_factor: AppTwoFactor::Bypass,
            step_up_scopes: vec![("payments:approve".to_owned(), AuthLevel::Mfa), ("keys:rotate".to_owned(), AuthLevel::PhishingResistant)],
        }
    }

    fn from_acr_values(values: &[&str]) -> Option<AuthLevel> {
        StepUp::from_request(values, NONE, [""; 0], &AppPolicy::default(), None).map(|s| s.level)
    }

    #[test]
    fn acr_values_require_the_weakest_recognised_class() {
        assert_eq!(from_acr_values(&[MFA]), Some(AuthLevel::Mfa));
        assert_eq!(from_acr_values(&[PHRH, MFA]), Some(AuthLevel::Mfa), "mfa is acceptable, so mfa is the step-up");
        assert_eq!(from_acr_values(&[PHR, PHRH]), Some(AuthLevel::PhishingResistant));
        assert_eq!(from_acr_values(&[PHRH]), Some(AuthLevel::PhishingResistantHardware));
    }

    #[test]
    fn acr_values_accepting_a_password_are_no_step_up() {
        assert_eq!(from_acr_values(&[PHR, PWD]), None);
        assert_eq!(from_acr_values(&[PWD]), None);
        assert_eq!(from_acr_values(&[]), None);
    }

    #[test]
    fn unrecognised_acr_values_are_ignored() {
        assert_eq!(from_acr_values(&["urn:example:silver", PHR, "0"]), Some(AuthLevel::PhishingResistant));
        assert_eq!(from_acr_values(&["urn:example:silver"]), None);
    }

    #[test]
    fn essential_acr_claim_asks_like_acr_values() {
        let app = AppPolicy::default();
        let step_up = StepUp::from_request([""; 0], Some(vec![PHR.to_owned(), PHRH.to_owned()]), [""; 0], &app, Some(60));
        assert_eq!(step_up, Some(StepUp { level: AuthLevel::PhishingResistant, max_age: Some(60), source: StepUpSource::EssentialAcrClaim }));
        assert_eq!(StepUp::from_request([""; 0], Some([PWD]), [""; 0], &app, None), None);
    }

    #[test]
    fn sensitive_scopes_step_up_even_in_a_bypass_app() {
        let app = payments_app();
        let step_up = StepUp::from_request([""; 0], NONE, ["openid", "payments:approve"], &app, None).unwrap();
        assert_eq!(step_up.level, AuthLevel::Mfa);
        assert_eq!(step_up.source, StepUpSource::Scope("payments:approve"));
        let both = StepUp::from_request([""; 0], NONE, ["payments:approve", "keys:rotate"], &app, None).unwrap();
        assert_eq!((both.level, both.source), (AuthLevel::PhishingResistant, StepUpSource::Scope("keys:rotate")));
        assert_eq!(StepUp::from_request([""; 0], NONE, ["openid", "payments:read"], &app, None), None);
    }

    #[test]
    fn the_highest_requirement_wins_and_names_its_source() {
        let app = payments_app();
        let scope_wins = StepUp::from_request([MFA], NONE, ["keys:rotate"], &app, None).unwrap();
        assert_eq!((scope_wins.level, scope_wins.source), (AuthLevel::PhishingResistant, StepUpSource::Scope("keys:rotate")));
        let acr_wins = StepUp::from_request([PHRH], Some([MFA]), ["payments:approve"], &app, None).unwrap();
        assert_eq!((acr_wins.level, acr_wins.source), (AuthLevel::PhishingResistantHardware, StepUpSource::AcrValues));
        let tie = StepUp::from_request([MFA], Some([MFA]), ["payments:approve"], &app, None).unwrap();
        assert_eq!(tie.source, StepUpSource::AcrValues, "on a tie the first source is named");
    }

    #[test]
    fn max_age_alone_is_no_step_up_but_is_carried() {
        assert_eq!(StepUp::from_request([""; 0], NONE, ["openid"], &payments_app(), Some(0)), None);
        let app = payments_app();
        let step_up = StepUp::from_request([MFA], NONE, [""; 0], &app, Some(300)).unwrap();
        assert_eq!(step_up.max_age, Some(300));
    }
}
