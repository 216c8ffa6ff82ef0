//! Gatehouse's operations, below the HTTP edge: security monitoring (detection, account lockout,
//! alerts and their delivery, the audit trail's checkpoints, verification and retention, the
//! group-commit audit writer, OCSF export), data protection (access reports, pseudonymised
//! analytics, erasure, the tenant lifecycle), backups, the service counters the edge exposes to
//! Prometheus ([`metrics`]), and the in-memory rate limits on guessable things ([`rate_limit`])
//! that the sign-in flow and the server's endpoints share, and the recurring upkeep ([`upkeep`]).
//!
//! Each background job takes an explicit context naming what it uses (store capabilities as
//! narrow trait objects, its settings, the notifier or sinks, the clock), never the server's
//! state; the server builds the contexts and schedules the jobs. This crate must not know HTTP
//! (no axum, hyper, tower or askama), must not name a storage backend (backups go through
//! `SnapshotStore` and `StoreOpener`), and must not read the clock: jobs get a [`Clock`] from
//! the edge, everything else takes `now`.

pub mod backups;
mod csv;
mod error;
pub mod metrics;
pub mod monitor;
pub mod privacy;
pub mod rate_limit;
pub mod settings;
pub mod upkeep;

pub use csv::csv_field;
pub use error::OpsError;
pub use settings::{AlertSinkSettings, CheckpointKey, MonitoringSettings, RetentionSettings};

/// The clock a job reads once per run, handed in by the edge (the server's `state::now`), so
/// nothing in this crate reads the time itself and tests can fake it.
pub type Clock = fn() -> time::OffsetDateTime;
