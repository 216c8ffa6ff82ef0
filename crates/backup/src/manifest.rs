//! What a backup says about itself: the header stored at the start of every archive and the
//! manifest stored next to it in a target (the header plus the archive's own size and
//! checksum, which the archive cannot contain).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::BackupError;

/// The archive format this crate writes and reads.
pub const FORMAT_VERSION: u16 = 1;

/// The archive's self-description, stored (as JSON) in clear before the encrypted chunks and
/// authenticated by binding its hash into every chunk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArchiveHeader {
    /// Always [`FORMAT_VERSION`] for archives this crate writes.
    pub format_version: u16,
    /// The Gatehouse version that made the backup.
    pub gatehouse_version: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// The master key that wrapped the data key (needed to restore).
    pub master_key_id: String,
    /// The per-backup data key's id.
    pub data_key_id: String,
    /// The data key wrapped under the master key, base64.
    pub wrapped_key: String,
    /// Compressed bytes per encrypted chunk (the last chunk may be shorter).
    pub chunk_size: u32,
    /// Always `gzip` for now.
    pub compression: String,
    /// The files in the archive, in archive order.
    pub files: Vec<FileEntry>,
}

/// One file in a backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    /// A plain file name (no directories).
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 of the plaintext, lowercase hex.
    pub sha256: String,
}

/// A backup's manifest: its header plus the size and SHA-256 of the archive file. Stored as
/// `<name>.manifest.json` beside `<name>.ghbk`, written last, so its presence marks a complete
/// upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    #[serde(flatten)]
    pub header: ArchiveHeader,
    /// Size of the `.ghbk` file in bytes.
    pub archive_size: u64,
    /// SHA-256 of the `.ghbk` file, lowercase hex.
    pub archive_sha256: String,
}

impl Manifest {
    /// Parses a manifest file's text; `name` is for the error message.
    pub fn parse(name: &str, text: &[u8]) -> Result<Self, BackupError> {
        serde_json::from_slice(text).map_err(|e| BackupError::BadManifest { name: name.to_owned(), detail: e.to_string() })
    }

    /// The manifest as pretty JSON.
    pub fn to_json(&self) -> Result<Vec<u8>, BackupError> {
        serde_json::to_vec_pretty(self).map_err(|e| BackupError::corrupted(format!("the manifest cannot be serialised: {e}")))
    }
}

/// The longest file name accepted; it keeps names inside a plain ustar header.
const MAX_NAME_LEN: usize = 100;

/// Accepts only plain file names: the restore writes each file straight into the target
/// directory, so a name must not be able to point anywhere else.
pub fn check_file_name(name: &str) -> Result<(), BackupError> {
    let reason = if name.is_empty() {
        Some("the name is empty")
    } else if name == "." || name == ".." {
        Some("the name is a directory reference")
    } else if name.contains('/') || name.contains('\\') {
        Some("the name contains a path separator")
    } else if name.len() > MAX_NAME_LEN {
        Some("the name is longer than 100 bytes")
    } else if name.chars().any(char::is_control) {
        Some("the name contains control characters")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(BackupError::InvalidFileName { name: name.to_owned(), reason }),
        None => Ok(()),
    }
}

/// Lowercase hex of a digest.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}
