//! The sign-in after its first factor: what the 2FA policy asks of this sign-in
//! ([`policy`]), how far the browser got ([`progress`], stored with the parked request), and
//! answering the request once every requirement is met ([`complete`]).
//!
//! Every page of the flow (password, second factor, enrollment wizard) ends in
//! [`complete::finish`], so sessions, `acr`/`amr` and codes are written one way.

pub mod attempt;
pub mod complete;
pub mod next;
pub mod novelty;
pub mod policy;
pub mod progress;
