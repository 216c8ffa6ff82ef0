//! The two-layer 2FA policy engine (normative source: the "Security Policies & Priority" seed).
//!
//! [`decide()`] takes everything a sign-in knows — the domain policy of the user's email domain,
//! the application's policy, the factors the user has, risk signals the server gathered, any
//! step-up request and what the SSO session already achieved — and returns a [`Decision`]: the
//! outcome, the rule that won and every reason. It is a pure function over in-memory values:
//! no I/O, no clock (`now` is a parameter), no allocation, and it cannot fail.
//!
//! Only building policies can fail ([`PolicyError`]): parsing configuration, and
//! [`check_change`], the lock-out check run before a policy change is saved.
//!
//! This crate must not know HTTP, SQL, cookies or how signals are gathered.
//!
//! Code map: [`method`] and [`level`] are the vocabulary (methods, `acr` levels); [`domain`] and
//! [`app`] the two policy layers; [`step_up`] reads a request's step-up; [`risk`] (with
//! [`geo`]) judges risk; [`decide`](mod@decide) applies the rules to [`inputs`] and returns a
//! [`decision`] with [`reason`]s; [`lockout`] checks a change.

pub mod app;
pub mod cidr;
pub mod decide;
pub mod decision;
pub mod domain;
pub mod error;
pub mod geo;
pub mod inputs;
pub mod level;
pub mod lockout;
pub mod method;
pub mod reason;
pub mod risk;
pub mod step_up;
#[cfg(test)]
mod testing;

pub use app::{AppPolicy, AppTwoFactor};
pub use cidr::{Cidr, CidrError};
pub use decide::decide;
pub use decision::{Decision, DenyReason, Outcome, Rule};
pub use domain::{DomainPolicy, DomainTwoFactor};
pub use error::PolicyError;
pub use geo::GeoPoint;
pub use inputs::{Enrollment, PolicyInputs, SessionState};
pub use level::AuthLevel;
pub use lockout::{ChangeCheck, Person, check_change};
pub use method::{Method, MethodSet};
pub use reason::{Reason, Reasons};
pub use risk::{DeviceSignal, PreviousSignIn, RiskAssessment, RiskConfig, RiskLevel, RiskSignals, assess};
pub use step_up::{StepUp, StepUpSource};
