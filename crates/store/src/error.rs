/// Storage failures. A backend error is never reported as "not found".
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("conflict: {0}")]
    Conflict(String),
    /// A data key could not be unwrapped or made: the wrong master key, or a missing one.
    #[error("encryption keys: {0}")]
    Key(String),
    /// A write queued behind others failed with them (group commit), or the writer stopped.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
}
