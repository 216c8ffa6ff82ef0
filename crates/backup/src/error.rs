//! The one error type of the backup layer. Messages are written for the operator running
//! `gatehouse backup` or `gatehouse restore`: they say what is wrong with which backup and,
//! where it helps, what to do about it. None of them carries key material or credentials.

use std::path::PathBuf;

use gatehouse_crypto::CryptoError;

/// Why a backup could not be made, stored, found or restored.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The file does not start with the backup magic string.
    #[error("`{}` is not a Gatehouse backup", path.display())]
    NotABackup { path: PathBuf },
    /// A backup written by a newer (or unknown) format.
    #[error("the backup uses format version {found}; this Gatehouse reads version {supported} only")]
    UnsupportedVersion { found: u16, supported: u16 },
    /// The archive ends early: a cut-off download or copy.
    #[error("the backup is truncated ({detail})")]
    Truncated { detail: String },
    /// The archive is damaged or was tampered with (a checksum or an authentication tag does
    /// not match, chunks are out of order, or the content contradicts the header).
    #[error("the backup is corrupted: {detail}")]
    Corrupted { detail: String },
    /// The backup's data key was wrapped under a master key the keyring does not hold.
    #[error("the backup was encrypted under master key `{master_key_id}`, which the configured master keyring does not hold")]
    UnknownMasterKey { master_key_id: String },
    /// The keyring holds a key with the right id but it does not open the backup's data key.
    #[error("the backup's data key does not open with master key `{master_key_id}` of the configured keyring: it is a different key under the same id")]
    WrongKey { master_key_id: String },
    /// Restoring needs an existing, empty directory.
    #[error("the restore directory `{}` is not empty; restore into an empty directory", path.display())]
    NotEmpty { path: PathBuf },
    /// A file name that cannot go into (or come out of) a backup.
    #[error("`{name}` cannot be a file in a backup: {reason}")]
    InvalidFileName { name: String, reason: &'static str },
    /// A backup target that cannot be parsed.
    #[error("`{spec}` is not a backup target: {reason}")]
    InvalidTarget { spec: String, reason: String },
    /// The target holds no complete backup (one with a manifest).
    #[error("{target} holds no complete backup")]
    NoBackups { target: String },
    /// No complete backup of that name in the target.
    #[error("{target} holds no complete backup named `{name}`")]
    NotFound { target: String, name: String },
    /// A manifest that cannot be read.
    #[error("the manifest `{name}` is unreadable: {detail}")]
    BadManifest { name: String, detail: String },
    /// Encryption or key wrapping failed while making a backup.
    #[error("encryption failed: {0}")]
    Crypto(#[from] CryptoError),
    /// A local file operation failed.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// The object store (directory or S3) refused or failed an operation.
    #[error("{context}: {source}")]
    Store {
        context: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl BackupError {
    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let context = context.into();
        move |source| Self::Io { context, source }
    }

    pub(crate) fn store(context: impl Into<String>) -> impl FnOnce(object_store::Error) -> Self {
        let context = context.into();
        move |source| Self::Store { context, source: Box::new(source) }
    }

    pub(crate) fn corrupted(detail: impl Into<String>) -> Self {
        Self::Corrupted { detail: detail.into() }
    }

    pub(crate) fn truncated(detail: impl Into<String>) -> Self {
        Self::Truncated { detail: detail.into() }
    }
}
