//! Data protection at the service level: access reports, pseudonymised analytics and the tenant
//! lifecycle. Encryption at rest and erasure's crypto-shredding live in the store
//! (`gatehouse_store::vault`); this module decides what is reported, exported and deleted when.

pub mod analytics;
pub mod lifecycle;
pub mod report;
