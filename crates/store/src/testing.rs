//! Stores for other crates' unit tests (feature `test-suite`): an in-memory store behind the
//! traits, and the one tampering hook tests of the audit chain need, so those tests never name
//! the backend. Never used outside tests.

use async_trait::async_trait;
use std::sync::Arc;

use crate::sqlite::SqliteStore;
use crate::{Store, StoreResult};

/// A store with the hooks tests need besides the traits.
#[async_trait]
pub trait TestStore: Store {
    /// Overwrites the actor of audit record `seq` behind the chain's back, as an attacker with
    /// the database file could.
    async fn tamper_audit_actor(&self, seq: u64, actor: &str) -> StoreResult<()>;
}

/// A private in-memory store under a fresh master key.
pub async fn in_memory() -> StoreResult<Arc<dyn TestStore>> {
    Ok(Arc::new(SqliteStore::in_memory().await?))
}

#[async_trait]
impl TestStore for SqliteStore {
    async fn tamper_audit_actor(&self, seq: u64, actor: &str) -> StoreResult<()> {
        let seq = i64::try_from(seq).map_err(|_| crate::StoreError::Conflict("sequence number out of range".into()))?;
        sqlx::query("UPDATE audit_records SET actor = ? WHERE seq = ?").bind(actor).bind(seq).execute(self.pool()).await?;
        Ok(())
    }
}
