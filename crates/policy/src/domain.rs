//! The first layer, *who you are*: the policy of a company's email domain (`[tenant.policy]`),
//! a baseline every user of the domain shares.

use serde::{Deserialize, Serialize};

use crate::cidr::Cidr;
use crate::error::PolicyError;
use crate::method::MethodSet;

/// Whether the domain mandates a second factor for everyone.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DomainTwoFactor {
    /// Each application's policy decides (adaptive by default).
    #[default]
    Optional,
    /// Every user must enroll in and use 2FA (except in Bypass applications).
    Required,
}

impl DomainTwoFactor {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Optional => "optional",
            Self::Required => "required",
        }
    }
}

/// A domain's 2FA policy. Unknown fields are refused so a misspelt setting is an error, not a
/// silently weaker policy. Deserialising checks each value; [`DomainPolicy::validate`] checks
/// how they fit together and must pass before a policy is saved.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DomainPolicy {
    pub two_factor: DomainTwoFactor,
    /// Methods users of the domain may use; intersected with what they enrolled.
    pub allowed_methods: MethodSet,
    /// The tenant's own networks, where an adaptive sign-in is low risk.
    pub trusted_networks: Vec<Cidr>,
    /// How long a device that completed 2FA keeps sign-ins low risk; 0 never remembers.
    pub remember_device_days: u16,
}

/// The longest a device may be remembered: a year, so a lost device does not stay trusted.
pub const MAX_REMEMBER_DEVICE_DAYS: u16 = 365;

impl Default for DomainPolicy {
    fn default() -> Self {
        Self { two_factor: DomainTwoFactor::Optional, allowed_methods: MethodSet::CONFIGURABLE, trusted_networks: Vec::new(), remember_device_days: 30 }
    }
}

impl DomainPolicy {
    /// Every way this policy is inconsistent, all at once so an admin fixes them in one go.
    pub fn validate(&self) -> Result<(), Vec<PolicyError>> {
        let mut errors = Vec::new();
        if self.two_factor == DomainTwoFactor::Required && self.configurable_methods().is_empty() {
            errors.push(PolicyError::RequiredWithoutMethod);
        }
        if self.remember_device_days > MAX_REMEMBER_DEVICE_DAYS {
            errors.push(PolicyError::RememberDeviceTooLong(self.remember_device_days));
        }
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }

    /// The allowed methods a user can actually be asked for. A policy built in code could name
    /// recovery codes; they are never a configured method, so they are dropped here.
    pub fn configurable_methods(&self) -> MethodSet {
        self.allowed_methods.intersection(MethodSet::CONFIGURABLE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::method::Method;

    #[test]
    fn defaults_are_optional_all_methods_thirty_days() {
        let policy: DomainPolicy = serde_json::from_str("{}").unwrap();
        assert_eq!(policy, DomainPolicy::default());
        assert_eq!(policy.two_factor, DomainTwoFactor::Optional);
        assert_eq!(policy.allowed_methods, MethodSet::CONFIGURABLE);
        assert!(policy.trusted_networks.is_empty());
        assert_eq!(policy.remember_device_days, 30);
        assert_eq!(policy.validate(), Ok(()));
    }

    #[test]
    fn parses_a_tenant_policy_table() {
        let policy: DomainPolicy = serde_json::from_str(
            r#"{ "two_factor": "required", "allowed_methods": ["totp", "webauthn"],
                 "trusted_networks": ["203.0.113.0/24", "2001:db8::/32"], "remember_device_days": 14 }"#,
        )
        .unwrap();
        assert_eq!(policy.two_factor, DomainTwoFactor::Required);
        assert_eq!(policy.allowed_methods, MethodSet::WEBAUTHN.with(Method::Totp));
        assert_eq!(policy.trusted_networks.len(), 2);
        assert_eq!(policy.remember_device_days, 14);
        assert_eq!(policy.validate(), Ok(()));
        let back: DomainPolicy = serde_json::from_str(&serde_json::to_string(&policy).unwrap()).unwrap();
        assert_eq!(back, policy);
    }

    #[test]
    fn rejects_unknown_fields() {
        let err = serde_json::from_str::<DomainPolicy>(r#"{ "two_factor": "required", "2fa": true }"#).unwrap_err();
        assert!(err.to_string().contains("unknown field `2fa`"), "{err}");
    }

    #[test]
    fn rejects_unknown_modes_methods_and_invalid_networks() {
        let mode = serde_json::from_str::<DomainPolicy>(r#"{ "two_factor": "always" }"#).unwrap_err();
        assert!(mode.to_string().contains("unknown variant `always`"), "{mode}");
        let method = serde_json::from_str::<DomainPolicy>(r#"{ "allowed_methods": ["email"] }"#).unwrap_err();
        assert!(method.to_string().contains("unknown method \"email\""), "{method}");
        let recovery = serde_json::from_str::<DomainPolicy>(r#"{ "allowed_methods": ["recovery_code"] }"#);
        assert!(recovery.is_err());
        let cidr = serde_json::from_str::<DomainPolicy>(r#"{ "trusted_networks": ["10.0.0.0/8", "10.0.0.300/32"] }"#).unwrap_err();
        assert!(cidr.to_string().contains("invalid network \"10.0.0.300/32\""), "{cidr}");
    }

    #[test]
    fn required_with_no_allowed_method_is_invalid() {
        let policy = DomainPolicy { two_factor: DomainTwoFactor::Required, allowed_methods: MethodSet::EMPTY, ..Default::default() };
        assert_eq!(policy.validate(), Err(vec![PolicyError::RequiredWithoutMethod]));
        assert_eq!(PolicyError::RequiredWithoutMethod.to_string(), "the policy requires 2FA but allows no method");
        // Recovery codes alone are no method.
        let only_recovery = DomainPolicy { allowed_methods: Method::RecoveryCode.into(), ..policy.clone() };
        assert_eq!(only_recovery.validate(), Err(vec![PolicyError::RequiredWithoutMethod]));
        // Optional with nothing allowed simply turns 2FA off for the domain.
        let optional = DomainPolicy { two_factor: DomainTwoFactor::Optional, ..policy };
        assert_eq!(optional.validate(), Ok(()));
    }

    #[test]
    fn remember_device_days_is_at_most_a_year() {
        let year = DomainPolicy { remember_device_days: 365, ..Default::default() };
        assert_eq!(year.validate(), Ok(()));
        let too_long = DomainPolicy { remember_device_days: 366, ..Default::default() };
        assert_eq!(too_long.validate(), Err(vec![PolicyError::RememberDeviceTooLong(366)]));
        let both = DomainPolicy { two_factor: DomainTwoFactor::Required, allowed_methods: MethodSet::EMPTY, remember_device_days: 1000, ..Default::default() };
        assert_eq!(both.validate().unwrap_err().len(), 2, "every error is reported at once");
    }
}
