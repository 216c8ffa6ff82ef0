//! Opaque identifiers. The caller generates them (the core has no randomness); these types only
//! keep a user id from being passed where a session id is expected.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! opaque_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

opaque_id!(
    /// A tenant (a company owning email domains).
    TenantId
);
opaque_id!(
    /// A user; also the `sub` claim, so it never changes and carries no personal data.
    UserId
);
opaque_id!(
    /// The public id of a single sign-on session (the `sid` claim). Not the cookie secret.
    SessionId
);
opaque_id!(
    /// One authorization grant: the tokens issued from one code, across refresh rotations.
    GrantId
);
opaque_id!(
    /// An enrolled second factor.
    FactorId
);
opaque_id!(
    /// A browser that completed a second factor (the signed device cookie names it).
    DeviceId
);
