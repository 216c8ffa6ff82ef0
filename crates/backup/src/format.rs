//! The byte layout of a `.ghbk` archive: a clear preamble, then the compressed tar stream
//! sealed in chunks. This module frames and authenticates bytes; it knows nothing of tar,
//! gzip or files.
//!
//! ```text
//! "GATEHOUSE-BACKUP" | version (u16 BE) | header length (u32 BE) | header JSON | SHA-256 of all before
//! chunk*: final flag (1 byte, 0 or 1) | sealed length (u32 BE) | DataKey::seal output
//! ```
//!
//! Each chunk's associated data binds the preamble hash, the chunk's index and its final flag,
//! so a chunk moved, dropped, duplicated, taken from another backup or falsely marked final
//! fails authentication, and an archive that ends before a final chunk is truncated. Because
//! every chunk binds the preamble hash, the header is authenticated too (by the first chunk,
//! before anything is extracted); the clear checksum only lets damage to the header be
//! reported as damage rather than as a wrong key.

use std::io::{self, Read, Write};
use std::path::Path;

use gatehouse_crypto::DataKey;
use sha2::{Digest, Sha256};

use crate::BackupError;
use crate::hashing::read_full;
use crate::manifest::{ArchiveHeader, FORMAT_VERSION, check_file_name};

pub(crate) const MAGIC: &[u8; 16] = b"GATEHOUSE-BACKUP";
/// Compressed bytes per chunk when sealing.
pub(crate) const CHUNK_SIZE: u32 = 1 << 20;
/// Bounds what a (possibly hostile) header can make the reader allocate.
const MAX_CHUNK_SIZE: u32 = 16 << 20;
const MAX_HEADER_LEN: u32 = 1 << 20;
/// `DataKey::seal` adds a version byte, the key id (length byte + up to 255 bytes), a nonce and a tag.
const SEAL_OVERHEAD: usize = 2 + 255 + 12 + 16;
const AAD_LABEL: &[u8] = b"gatehouse-backup chunk v1";

pub(crate) type HeaderHash = [u8; 32];

/// The preamble's bytes and their hash.
pub(crate) fn encode_preamble(header: &ArchiveHeader) -> Result<(Vec<u8>, HeaderHash), BackupError> {
    let json = serde_json::to_vec(header).map_err(|e| BackupError::corrupted(format!("the header cannot be serialised: {e}")))?;
    let len = u32::try_from(json.len()).ok().filter(|&l| l <= MAX_HEADER_LEN).ok_or_else(|| BackupError::corrupted("the header is too large"))?;
    let mut out = Vec::with_capacity(MAGIC.len() + 6 + json.len() + 32);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_be_bytes());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&json);
    let hash: HeaderHash = Sha256::digest(&out).into();
    out.extend_from_slice(&hash);
    Ok((out, hash))
}

/// Reads and checks the preamble; `path` names the archive in errors.
pub(crate) fn read_preamble(reader: &mut impl Read, path: &Path) -> Result<(ArchiveHeader, HeaderHash), BackupError> {
    let read_err = BackupError::io(format!("cannot read `{}`", path.display()));
    let mut hasher = Sha256::new();
    let mut magic = [0u8; MAGIC.len()];
    let n = read_full(reader, &mut magic).map_err(read_err)?;
    if magic != *MAGIC {
        let is_prefix = n > 0 && magic.get(..n) == MAGIC.get(..n);
        return Err(if is_prefix { BackupError::truncated("it ends inside the header") } else { BackupError::NotABackup { path: path.to_owned() } });
    }
    hasher.update(magic);
    let mut fixed = [0u8; 6];
    read_exactly(reader, &mut fixed, path, "it ends inside the header")?;
    hasher.update(fixed);
    let [v0, v1, l0, l1, l2, l3] = fixed;
    let version = u16::from_be_bytes([v0, v1]);
    if version != FORMAT_VERSION {
        return Err(BackupError::UnsupportedVersion { found: version, supported: FORMAT_VERSION });
    }
    let len = u32::from_be_bytes([l0, l1, l2, l3]);
    if len > MAX_HEADER_LEN {
        return Err(BackupError::corrupted(format!("the header claims {len} bytes")));
    }
    let mut json = vec![0u8; len as usize];
    read_exactly(reader, &mut json, path, "it ends inside the header")?;
    hasher.update(&json);
    let mut stored = [0u8; 32];
    read_exactly(reader, &mut stored, path, "it ends inside the header")?;
    let hash: HeaderHash = hasher.finalize().into();
    if hash != stored {
        return Err(BackupError::corrupted("the header does not match its checksum"));
    }
    let header: ArchiveHeader = serde_json::from_slice(&json).map_err(|e| BackupError::corrupted(format!("the header is not valid: {e}")))?;
    check_header(&header)?;
    Ok((header, hash))
}

fn check_header(header: &ArchiveHeader) -> Result<(), BackupError> {
    if header.format_version != FORMAT_VERSION {
        return Err(BackupError::corrupted("the header's format version contradicts the preamble"));
    }
    if header.chunk_size == 0 || header.chunk_size > MAX_CHUNK_SIZE {
        return Err(BackupError::corrupted(format!("the header's chunk size {} is out of range", header.chunk_size)));
    }
    if header.compression != "gzip" {
        return Err(BackupError::corrupted(format!("unknown compression `{}`", header.compression)));
    }
    let mut names = std::collections::HashSet::new();
    for file in &header.files {
        check_file_name(&file.name).map_err(|e| BackupError::corrupted(format!("the header lists a bad file: {e}")))?;
        if !names.insert(file.name.as_str()) {
            return Err(BackupError::corrupted(format!("the header lists `{}` twice", file.name)));
        }
    }
    Ok(())
}

fn read_exactly(reader: &mut impl Read, buf: &mut [u8], path: &Path, truncated: &str) -> Result<(), BackupError> {
    let n = read_full(reader, buf).map_err(BackupError::io(format!("cannot read `{}`", path.display())))?;
    if n < buf.len() {
        return Err(BackupError::truncated(truncated));
    }
    Ok(())
}

fn chunk_aad(header_hash: &HeaderHash, index: u64, last: bool) -> Vec<u8> {
    let mut aad = Vec::with_capacity(AAD_LABEL.len() + 32 + 9);
    aad.extend_from_slice(AAD_LABEL);
    aad.extend_from_slice(header_hash);
    aad.extend_from_slice(&index.to_be_bytes());
    aad.push(u8::from(last));
    aad
}

/// Buffers written bytes into chunks and writes each one sealed. Only [`ChunkSealer::finish`]
/// writes the final chunk, so an archive whose writer stopped early never looks complete.
pub(crate) struct ChunkSealer<'k, W: Write> {
    inner: W,
    key: &'k DataKey,
    header_hash: HeaderHash,
    index: u64,
    chunk_size: usize,
    buf: Vec<u8>,
}

impl<'k, W: Write> ChunkSealer<'k, W> {
    pub(crate) fn new(inner: W, key: &'k DataKey, header_hash: HeaderHash, chunk_size: u32) -> Self {
        let chunk_size = chunk_size.max(1) as usize;
        Self { inner, key, header_hash, index: 0, chunk_size, buf: Vec::with_capacity(chunk_size) }
    }

    fn emit(&mut self, last: bool) -> io::Result<()> {
        let aad = chunk_aad(&self.header_hash, self.index, last);
        let sealed = self.key.seal(&aad, &self.buf).map_err(|e| io::Error::other(format!("encryption failed: {e}")))?;
        let len = u32::try_from(sealed.len()).map_err(|_| io::Error::other("a sealed chunk is too large"))?;
        self.inner.write_all(&[u8::from(last)])?;
        self.inner.write_all(&len.to_be_bytes())?;
        self.inner.write_all(&sealed)?;
        self.buf.clear();
        self.index += 1;
        Ok(())
    }

    /// Writes the final chunk and returns the inner writer.
    pub(crate) fn finish(mut self) -> io::Result<W> {
        self.emit(true)?;
        self.inner.flush()?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for ChunkSealer<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // A full buffer is sealed only once more data arrives, so the final chunk is never empty
        // unless the whole stream is.
        if self.buf.len() >= self.chunk_size && !buf.is_empty() {
            self.emit(false)?;
        }
        let n = self.chunk_size.saturating_sub(self.buf.len()).min(buf.len());
        self.buf.extend_from_slice(buf.get(..n).unwrap_or_default());
        Ok(n)
    }

    /// Writes nothing: a chunk is sealed only when full or final.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Reads a chunked archive body back as plaintext, one authenticated chunk at a time. A
/// failure is kept so the caller can report it as itself after gzip and tar have wrapped the
/// I/O error that carried it.
pub(crate) struct ChunkOpener<'k, R: Read> {
    inner: R,
    key: &'k DataKey,
    header_hash: HeaderHash,
    index: u64,
    max_sealed: usize,
    plain: Vec<u8>,
    pos: usize,
    finished: bool,
    failure: Option<BackupError>,
}

impl<'k, R: Read> ChunkOpener<'k, R> {
    pub(crate) fn new(inner: R, key: &'k DataKey, header_hash: HeaderHash, chunk_size: u32) -> Self {
        let max_sealed = chunk_size as usize + SEAL_OVERHEAD;
        Self { inner, key, header_hash, index: 0, max_sealed, plain: Vec::new(), pos: 0, finished: false, failure: None }
    }

    fn next_chunk(&mut self) -> Result<(), BackupError> {
        let number = self.index + 1;
        let read_err = |e: io::Error| BackupError::Io { context: format!("cannot read chunk {number} of the backup"), source: e };
        let mut frame = [0u8; 5];
        match read_full(&mut self.inner, &mut frame).map_err(read_err)? {
            0 => return Err(BackupError::truncated(format!("it ends after chunk {}, and the final chunk is missing", self.index))),
            5 => {}
            _ => return Err(BackupError::truncated(format!("chunk {number} is cut short"))),
        }
        let [flag, l0, l1, l2, l3] = frame;
        let last = match flag {
            0 => false,
            1 => true,
            _ => return Err(BackupError::corrupted(format!("chunk {number} has a damaged frame"))),
        };
        let len = u32::from_be_bytes([l0, l1, l2, l3]) as usize;
        if len > self.max_sealed {
            return Err(BackupError::corrupted(format!("chunk {number} claims {len} bytes")));
        }
        let mut sealed = vec![0u8; len];
        if read_full(&mut self.inner, &mut sealed).map_err(read_err)? < len {
            return Err(BackupError::truncated(format!("chunk {number} is cut short")));
        }
        let aad = chunk_aad(&self.header_hash, self.index, last);
        self.plain = self
            .key
            .open(&aad, &sealed)
            .map_err(|_| BackupError::corrupted(format!("chunk {number} fails authentication: it is damaged, out of place or from another backup")))?;
        self.pos = 0;
        self.index += 1;
        if last {
            self.finished = true;
            let mut probe = [0u8; 1];
            if read_full(&mut self.inner, &mut probe).map_err(read_err)? != 0 {
                return Err(BackupError::corrupted(format!("data follows the final chunk ({number})")));
            }
        }
        Ok(())
    }

    /// Reads (and authenticates) the rest of the chunks, so a stream whose consumer stopped
    /// early is still checked to its final chunk; returns the inner reader.
    pub(crate) fn finish(mut self) -> Result<R, BackupError> {
        if let Some(failure) = self.failure.take() {
            return Err(failure);
        }
        while !self.finished {
            self.next_chunk()?;
        }
        Ok(self.inner)
    }

    /// The error that stopped reading, if reading was stopped by this layer.
    pub(crate) fn take_failure(&mut self) -> Option<BackupError> {
        self.failure.take()
    }
}

impl<R: Read> Read for ChunkOpener<'_, R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            let rest = self.plain.get(self.pos..).unwrap_or_default();
            if !rest.is_empty() || out.is_empty() {
                let n = rest.len().min(out.len());
                if let (Some(dst), Some(src)) = (out.get_mut(..n), rest.get(..n)) {
                    dst.copy_from_slice(src);
                }
                self.pos += n;
                return Ok(n);
            }
            if self.finished {
                return Ok(0);
            }
            if let Some(failure) = &self.failure {
                return Err(io::Error::other(failure.to_string()));
            }
            if let Err(failure) = self.next_chunk() {
                let error = io::Error::other(failure.to_string());
                self.failure = Some(failure);
                return Err(error);
            }
        }
    }
}
