//! The steps of a sign-in past its first factor, each a function over the parked sign-in
//! ([`Step`]), the typed input of its form and a narrow context (the storage traits, limiters
//! and second factors it uses, `now`), returning an outcome: show the page again with why,
//! continue to the next stage, or complete with what was proved. The HTTP edge reads the
//! form, checks its CSRF token, and turns the outcome into a page, a redirect or cookies; no
//! step knows a status code, a template or a message text.
//!
//! - [`password`]: the first factor by password, after the edge verified the hash (the
//!   blocking pool and its permits are the runtime's);
//! - [`second_factor`]: presenting an authenticator app, text-message or recovery code, a
//!   security key or a passkey;
//! - [`enrollment`]: the wizard (an authenticator app, a phone, a WebAuthn credential), its
//!   recovery codes and its end;
//! - [`password_change`]: the new password a reported sign-in owes, behind a code from the
//!   account's mailbox;
//! - [`passkey`]: a passwordless passkey sign-in, the first factor that proves two;
//! - [`ceremonies`]: starting the WebAuthn ceremonies the pages' script asks options for;
//! - [`session`]: the SSO session standing in for the first factor at `/authorize`.
//!
//! - [`federated`]: a sign-in at the tenant's own identity provider, its account (linked,
//!   linked now, or created just in time) and the policy's verdict with what the provider
//!   proved; it ends in [`crate::next::after_first_factor`] as the password and the passkey do.

pub mod ceremonies;
pub mod enrollment;
pub mod federated;
pub mod passkey;
pub mod password;
pub mod password_change;
pub mod second_factor;
pub mod session;

use gatehouse_core::FactorKind;
use gatehouse_core::audit::AuditEntry;
use gatehouse_core::model::User;
use gatehouse_crypto::CryptoError;
use gatehouse_store::{GrantStore, StoreError};
use std::net::IpAddr;
use std::sync::Arc;
use time::OffsetDateTime;

use crate::SignInError;
use crate::decide::method_of;
use crate::factors::MfaError;
use crate::parked::ParkedSignIn;
use crate::progress::Progress;

/// Why a step could not be taken at all (as opposed to a refusal the page shows).
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// The parked sign-in is gone, answered, or not in the stage this step needs.
    #[error("this sign-in has expired or moved on")]
    Expired,
    /// Another request of this sign-in (a second tab, a double submit) advanced it first.
    #[error("this sign-in continued in another window")]
    ContinuedElsewhere,
    /// Setting up the wizard's factor or its recovery codes failed.
    #[error("enrolling a factor failed: {0}")]
    Enrollment(MfaError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

impl From<SignInError> for StepError {
    fn from(error: SignInError) -> Self {
        match error {
            SignInError::Store(e) => Self::Store(e),
            SignInError::Crypto(e) => Self::Crypto(e),
            SignInError::Expired => Self::Expired,
        }
    }
}

/// Where a step's request came from, for the audit records it writes.
pub struct Origin<'a> {
    pub address: IpAddr,
    pub user_agent: &'a str,
}

impl Origin<'_> {
    /// An audit record of something `user` did to their own account during a sign-in, in
    /// their tenant.
    pub fn audit_by(&self, user: &User, action: &str, target: String, now: OffsetDateTime) -> AuditEntry {
        let user_agent = (!self.user_agent.is_empty()).then(|| self.user_agent.to_owned());
        AuditEntry::of_request(now.unix_timestamp(), format!("user:{}", user.id), action, target, Some(self.address.to_string()), user_agent)
            .in_tenant(user.tenant_id.as_str())
    }
}

/// A parked sign-in past its first factor: the request, its progress and its user, opened
/// once per request by the edge (which checked it belongs to the browser).
pub struct Step {
    pub parked: ParkedSignIn,
    /// The parked progress.
    pub progress: Progress,
    pub user: Arc<User>,
}

impl Step {
    /// Stores the step's next progress if nobody advanced it meanwhile (another tab, a racing
    /// request); otherwise [`StepError::ContinuedElsewhere`].
    pub async fn advance(&mut self, store: &dyn GrantStore, progress: Progress) -> Result<(), StepError> {
        if self.parked.advance(store, progress.clone()).await? {
            self.progress = progress;
            Ok(())
        } else {
            Err(StepError::ContinuedElsewhere)
        }
    }

    /// Like [`Step::advance`], where losing the race means this page has expired.
    async fn advance_or_expire(&mut self, store: &dyn GrantStore, progress: Progress) -> Result<(), StepError> {
        self.advance(store, progress).await.map_err(|e| if matches!(e, StepError::ContinuedElsewhere) { StepError::Expired } else { e })
    }
}

/// The WebAuthn factor kind a form names, if the step offers it.
pub fn offered_kind(progress: &Progress, name: Option<&str>) -> Option<FactorKind> {
    let kind = FactorKind::parse(name?).filter(|k| k.is_webauthn())?;
    progress.offers(method_of(kind)).then_some(kind)
}

/// The WebAuthn kinds a step may use: offered by the policy and possible on this server.
pub fn webauthn_kinds(available: bool, progress: &Progress) -> Vec<FactorKind> {
    [FactorKind::SecurityKey, FactorKind::Passkey].into_iter().filter(|k| available && offered_kind(progress, Some(k.as_str())).is_some()).collect()
}

#[cfg(test)]
pub(crate) mod tests;
