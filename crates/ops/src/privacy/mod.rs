//! Data protection at the service level: access reports, pseudonymised analytics, erasure and
//! the tenant lifecycle. Encryption at rest and erasure's crypto-shredding live in the store
//! (`gatehouse_store::vault`); this module decides what is reported, exported and deleted when,
//! and erases what lies outside the database (the development outbox). It answers no request
//! itself: the server's handlers and the CLI call it.

pub mod analytics;
pub mod erasure;
pub mod lifecycle;
pub mod report;
