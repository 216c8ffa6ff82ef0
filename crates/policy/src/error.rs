//! Errors in policy *input*: configuration files, the admin API, proposed changes. Deciding a
//! sign-in never fails; only building the policies it reads from can.

/// Why a policy, or a part of one, is not acceptable. Messages name the offending value so an
/// admin can fix it without reading code.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("invalid network {input:?}: {error}")]
    InvalidCidr { input: String, error: CidrError },
    #[error("unknown method {0:?} (expected totp, sms, security_key, passkey or webauthn)")]
    UnknownMethod(String),
    #[error("recovery codes are a backup of the other methods and cannot be configured")]
    RecoveryCodeNotConfigurable,
    #[error("unknown acr value {0:?} (expected urn:gatehouse:acr:mfa, phr or phrh)")]
    UnknownAcr(String),
    #[error("step-up scope {0:?} asks for urn:gatehouse:acr:pwd, which every sign-in already meets")]
    StepUpToPassword(String),
    #[error("step-up scope {0:?} is listed twice")]
    DuplicateStepUpScope(String),
    #[error("the policy requires 2FA but allows no method")]
    RequiredWithoutMethod,
    #[error("remember_device_days is {0}; at most 365 days are allowed")]
    RememberDeviceTooLong(u16),
}

/// Why a string is not a network block.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CidrError {
    #[error("not an IPv4 or IPv6 address")]
    InvalidAddress,
    #[error("the prefix length after '/' is not a number")]
    InvalidPrefix,
    #[error("the prefix length is longer than {max} bits")]
    PrefixTooLong { max: u8 },
}
