//! The lock-out check run before a domain policy change is saved: would the new policy leave
//! admins (or everyone) needing a method they have not enrolled? The caller refuses the change
//! unless it is explicitly confirmed, naming the people affected.
//!
//! Unlike [`crate::decide()`] this allocates freely: it runs once per change, not per sign-in.

use crate::domain::{DomainPolicy, DomainTwoFactor};
use crate::error::PolicyError;
use crate::method::MethodSet;

/// One user of the domain, as far as the check needs to know.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Person<'u> {
    /// How to name the person to the admin making the change (an email address, say).
    pub label: &'u str,
    pub is_admin: bool,
    pub enrolled: MethodSet,
}

/// What a proposed policy would do to the domain's people.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChangeCheck<'u> {
    /// Why the policy is invalid; such a policy is never saved, confirmed or not.
    pub invalid: Vec<PolicyError>,
    /// Admins with no enrolled method the policy allows while it requires 2FA.
    pub admins_locked_out: Vec<&'u str>,
    /// Other users in that situation: they will meet the enrollment wizard at their next sign-in.
    pub users_to_enroll: usize,
    /// There are admins, and every one of them is locked out.
    pub no_admin_can_sign_in: bool,
}

impl ChangeCheck<'_> {
    /// Safe to save without confirmation: valid, and no admin loses their way in.
    pub fn is_safe(&self) -> bool {
        self.invalid.is_empty() && self.admins_locked_out.is_empty() && !self.no_admin_can_sign_in
    }
}

/// Checks `new` against the people it would govern.
///
/// An admin counts as locked out when the policy requires 2FA and nothing they enrolled is
/// allowed: they would have to enroll a new method before managing anything. Under an
/// optional policy nobody is locked out (an Adaptive sign-in without a factor still goes on).
pub fn check_change<'u>(new: &DomainPolicy, people: &[Person<'u>]) -> ChangeCheck<'u> {
    let invalid = new.validate().err().unwrap_or_default();
    if new.two_factor == DomainTwoFactor::Optional {
        return ChangeCheck { invalid, ..ChangeCheck::default() };
    }
    let allowed = new.configurable_methods();
    let stranded = |p: &Person<'_>| p.enrolled.intersection(allowed).is_empty();
    let admins_locked_out: Vec<&str> = people.iter().filter(|p| p.is_admin && stranded(p)).map(|p| p.label).collect();
    let admins = people.iter().filter(|p| p.is_admin).count();
    ChangeCheck {
        invalid,
        users_to_enroll: people.iter().filter(|p| !p.is_admin && stranded(p)).count(),
        no_admin_can_sign_in: admins > 0 && admins_locked_out.len() == admins,
        admins_locked_out,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::method::Method;

    fn required(allowed: MethodSet) -> DomainPolicy {
        DomainPolicy { two_factor: DomainTwoFactor::Required, allowed_methods: allowed, ..Default::default() }
    }

    fn people() -> Vec<Person<'static>> {
        vec![
            Person { label: "ada@acme.test", is_admin: true, enrolled: Method::Totp.into() },
            Person { label: "bob@acme.test", is_admin: true, enrolled: MethodSet::from_iter([Method::Sms, Method::Passkey]) },
            Person { label: "cy@acme.test", is_admin: false, enrolled: MethodSet::EMPTY },
            Person { label: "di@acme.test", is_admin: false, enrolled: Method::Sms.into() },
            Person { label: "ed@acme.test", is_admin: false, enrolled: Method::Totp.into() },
        ]
    }

    #[test]
    fn requiring_a_method_no_admin_has_enrolled_is_refused() {
        let check = check_change(&required(Method::SecurityKey.into()), &people());
        assert!(check.invalid.is_empty());
        assert_eq!(check.admins_locked_out, ["ada@acme.test", "bob@acme.test"]);
        assert!(check.no_admin_can_sign_in);
        assert_eq!(check.users_to_enroll, 3);
        assert!(!check.is_safe());
    }

    #[test]
    fn naming_the_admins_who_would_be_locked_out() {
        let check = check_change(&required(MethodSet::WEBAUTHN), &people());
        assert_eq!(check.admins_locked_out, ["ada@acme.test"]);
        assert!(!check.no_admin_can_sign_in, "bob still has a passkey");
        assert_eq!(check.users_to_enroll, 3);
        assert!(!check.is_safe());
    }

    #[test]
    fn a_change_every_admin_can_meet_is_safe() {
        let check = check_change(&required(MethodSet::from_iter([Method::Totp, Method::Passkey])), &people());
        assert_eq!(check, ChangeCheck { users_to_enroll: 2, ..ChangeCheck::default() });
        assert!(check.is_safe());
    }

    #[test]
    fn leaving_no_allowed_method_is_invalid_and_locks_everyone_out() {
        let check = check_change(&required(MethodSet::EMPTY), &people());
        assert_eq!(check.invalid, [PolicyError::RequiredWithoutMethod]);
        assert_eq!(check.admins_locked_out.len(), 2);
        assert!(check.no_admin_can_sign_in);
        assert!(!check.is_safe());
    }

    #[test]
    fn optional_policies_lock_nobody_out_but_are_still_validated() {
        let optional = DomainPolicy { allowed_methods: MethodSet::EMPTY, ..Default::default() };
        assert!(check_change(&optional, &people()).is_safe());
        let too_long = DomainPolicy { remember_device_days: 400, ..Default::default() };
        let check = check_change(&too_long, &people());
        assert_eq!(check.invalid, [PolicyError::RememberDeviceTooLong(400)]);
        assert!(!check.is_safe());
    }

    #[test]
    fn a_domain_without_admins_is_not_reported_as_admin_lock_out() {
        let users = [Person { label: "cy@acme.test", is_admin: false, enrolled: MethodSet::EMPTY }];
        let check = check_change(&required(MethodSet::CONFIGURABLE), &users);
        assert!(!check.no_admin_can_sign_in);
        assert_eq!(check.users_to_enroll, 1);
        assert!(check.is_safe());
    }
}
