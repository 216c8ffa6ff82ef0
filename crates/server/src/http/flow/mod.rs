//! The edge of the sign-in flow: `gatehouse-signin` holds the states, the policy gathering and
//! what a finished sign-in writes; this module supplies what only the server has (the request's
//! headers and cookies, the in-memory limiters and caches, the store) and turns the crate's
//! outcomes into responses.
//!
//! Every page of the flow (password, second factor, enrollment wizard, password change) ends
//! in [`complete::finish`], so sessions, `acr`/`amr` and codes are written one way.

pub mod attempt;
pub mod complete;
pub mod next;
pub mod novelty;
pub mod policy;
