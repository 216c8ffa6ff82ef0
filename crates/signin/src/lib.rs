//! The sign-in flow, the way `gatehouse-policy` is the 2FA decision: typed states and steps
//! that return outcomes, with the HTTP edge (`gatehouse-server`) turning outcomes into pages,
//! redirects and cookies.
//!
//! - [`parked`]: an authorization request parked while its user signs in, parsed once at
//!   `/authorize` and stored typed, read back with its progress in one piece;
//! - [`progress`]: what the sign-in has proved and what it still owes, as an `enum` of stages
//!   with the transitions between them;
//! - [`decide`]: gathering the policy's inputs through narrow storage traits and asking the
//!   pure engine;
//! - [`next`]: what follows a first factor (password, SSO session, passkey, and later a
//!   federated identity): answer, ask for more, or refuse;
//! - [`completion`]: the session, grant, code, device and history entry a finished sign-in
//!   writes in one transaction;
//! - [`attempt`]: the browser behind a step and the history entry it leaves;
//! - [`novelty`]: after a sign-in landed, a browser or network never seen for the account
//!   (the user is told; an admin's new network raises an alert);
//! - [`steps`]: each step of the flow (password, second factor, the enrollment wizard, the
//!   password change, passkeys) as a function over the parked sign-in, its typed input and a
//!   narrow context, returning an outcome (show the page again with why, continue, complete)
//!   that the edge turns into a page or a redirect;
//! - [`factors`]: second factors (TOTP, text-message codes, recovery codes, security keys and
//!   passkeys): enrolling and verifying them, with throttling and notices, over the
//!   [`factors::Factors`] context.
//!
//! The crate reads the clock only through its parameters (`now`), draws the flow's randomness
//! through [`Randomness`] (second factors still draw theirs directly; see [`factors`]), and
//! depends on neither axum, hyper, tower nor askama.

pub mod attempt;
pub mod completion;
pub mod decide;
pub mod factors;
pub mod federated;
pub mod next;
pub mod novelty;
pub mod parked;
pub mod progress;
pub mod proof;
pub mod steps;

use gatehouse_crypto::CryptoError;
use gatehouse_store::StoreError;

/// Where the flow's random values (ids, secrets, codes) come from: the operating system's
/// generator in the server ([`SystemRandomness`]), a counter in tests.
pub trait Randomness: Send + Sync {
    /// A unique identifier (not secret).
    fn id(&self) -> Result<String, CryptoError>;
    /// A secret of 256 bits (session secrets, codes, cookies).
    fn token(&self) -> Result<String, CryptoError>;
}

/// The operating system's generator, through `gatehouse_crypto::random`.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemRandomness;

impl Randomness for SystemRandomness {
    fn id(&self) -> Result<String, CryptoError> {
        gatehouse_crypto::random::id()
    }
    fn token(&self) -> Result<String, CryptoError> {
        gatehouse_crypto::random::token()
    }
}

/// Why a sign-in step could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    /// The parked request is gone, was answered, or is not in the stage this step needs.
    #[error("this sign-in has expired or moved on")]
    Expired,
}
