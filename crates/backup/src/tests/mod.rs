//! Tests of the archive format and the targets, on temporary directories; the S3 test runs
//! only against a local S3 server named by `GATEHOUSE_TEST_S3_ENDPOINT`.

mod archive;
mod framing;
mod s3;
mod target;

use std::path::{Path, PathBuf};

use gatehouse_crypto::MasterKeyring;
use time::OffsetDateTime;

/// A directory under the system temp dir, removed on drop.
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    pub(crate) fn new(label: &str) -> Self {
        let id = gatehouse_crypto::random::id().unwrap().replace(['-', '_'], "x");
        let path = std::env::temp_dir().join(format!("gatehouse-backup-{label}-{id}"));
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }

    pub(crate) fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// Makes and returns an empty subdirectory.
    pub(crate) fn subdir(&self, name: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::create_dir_all(&path).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Deterministic incompressible bytes (xorshift), so gzip cannot shrink a multi-MiB file to
/// one chunk.
pub(crate) fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    out
}

pub(crate) fn keyring() -> MasterKeyring {
    MasterKeyring::generate(1_700_000_000).unwrap()
}

pub(crate) fn at(unix: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(unix).unwrap()
}

/// A small data directory: a 3.5 MiB "database" (four chunks) and two key files.
pub(crate) fn sample_files(dir: &TempDir) -> Vec<(String, PathBuf)> {
    let db = dir.join("src-gatehouse.db");
    std::fs::write(&db, pseudo_random(3 * 1024 * 1024 + 512 * 1024, 7)).unwrap();
    let keys = dir.join("src-signing-keys.json");
    std::fs::write(&keys, br#"{"keys":["SECRET-SIGNING-KEY-MARKER"]}"#).unwrap();
    let empty = dir.join("src-empty");
    std::fs::write(&empty, b"").unwrap();
    vec![("gatehouse.db".to_owned(), db), ("signing-keys.json".to_owned(), keys), ("empty".to_owned(), empty)]
}

/// Names of the entries in a directory, sorted.
pub(crate) fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}
