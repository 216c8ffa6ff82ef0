//! Encrypted, compressed, verifiable backups of a Gatehouse data directory.
//!
//! [`seal_files`] packs a database snapshot and key files into one `.ghbk` archive (tar, gzip,
//! then AES-256-GCM in authenticated 1 MiB chunks under a fresh data key wrapped by the master
//! key provider, so the master keyring alone restores it on a new machine); [`open_archive`]
//! checks and unpacks one. A [`BackupTarget`] stores archives with their [`Manifest`] in a
//! directory or an S3-compatible bucket; [`fetch`] finds the backup a restore should use.
//!
//! This crate does not snapshot the database, read the clock or load the keyring: the caller
//! passes the files, `now` and the [`gatehouse_crypto::KeyProvider`].

mod archive;
mod error;
mod fetch;
mod format;
mod hashing;
mod manifest;
mod target;

pub use archive::{open_archive, seal_files};
pub use error::BackupError;
pub use fetch::{fetch, target_of};
pub use manifest::{ArchiveHeader, FORMAT_VERSION, FileEntry, Manifest, check_file_name};
pub use target::{BackupInfo, BackupTarget};

#[cfg(test)]
mod tests;
