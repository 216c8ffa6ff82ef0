//! Sealing files into a `.ghbk` archive (tar, then gzip, then chunked AES-256-GCM under a
//! fresh data key wrapped by the master key provider) and opening one back into a directory.
//! Everything streams: memory use is a few chunk buffers, whatever the database's size.
//! Blocking I/O; async callers run these in `spawn_blocking`.

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use gatehouse_crypto::{CryptoError, DataKey, KeyProvider};
use time::OffsetDateTime;

use crate::BackupError;
use crate::format::{CHUNK_SIZE, ChunkOpener, ChunkSealer, encode_preamble, read_preamble};
use crate::hashing::{HashingReader, HashingWriter, hash_file};
use crate::manifest::{ArchiveHeader, FORMAT_VERSION, FileEntry, Manifest, check_file_name};

/// Fast enough for a gigabyte database within a backup window; database pages still shrink well.
const GZIP_LEVEL: u32 = 3;
const IO_BUFFER: usize = 1 << 20;

/// Seals the named files into a new archive at `out` and returns its manifest. `files` pairs
/// the name each file gets in the backup (a plain file name) with where it is read from; the
/// caller provides a consistent database snapshot. An existing file at `out` is replaced; on
/// failure `out` is removed.
pub fn seal_files(files: &[(String, PathBuf)], provider: &dyn KeyProvider, created_at: OffsetDateTime, out: &Path) -> Result<Manifest, BackupError> {
    let mut entries = Vec::with_capacity(files.len());
    let mut names = HashSet::new();
    for (name, path) in files {
        check_file_name(name)?;
        if !names.insert(name.as_str()) {
            return Err(BackupError::InvalidFileName { name: name.clone(), reason: "two files have this name" });
        }
        let (size, sha256) = hash_file(path)?;
        entries.push(FileEntry { name: name.clone(), size, sha256 });
    }
    let key = DataKey::generate(format!("bk-{}", gatehouse_crypto::random::id()?))?;
    let (master_key_id, wrapped) = provider.wrap(&key)?;
    let header = ArchiveHeader {
        format_version: FORMAT_VERSION,
        gatehouse_version: env!("CARGO_PKG_VERSION").to_owned(),
        created_at,
        master_key_id,
        data_key_id: key.id().to_owned(),
        wrapped_key: STANDARD.encode(wrapped),
        chunk_size: CHUNK_SIZE,
        compression: "gzip".to_owned(),
        files: entries,
    };
    let mtime = u64::try_from(created_at.unix_timestamp()).unwrap_or(0);
    let written = write_archive(out, &header, &key, |sink| {
        let mut tar = tar::Builder::new(sink);
        for ((_, path), entry) in files.iter().zip(&header.files) {
            append_file(&mut tar, path, entry, mtime)?;
        }
        tar.into_inner().map_err(BackupError::io("cannot write the archive"))?;
        Ok(())
    });
    match written {
        Ok((archive_size, archive_sha256)) => Ok(Manifest { header, archive_size, archive_sha256 }),
        Err(e) => {
            let _ = fs::remove_file(out);
            Err(e)
        }
    }
}

/// Adds one file to the tar stream, checking it still has the size and hash the header
/// records: a file that changed since it was hashed would make a backup that cannot restore.
fn append_file<W: Write>(tar: &mut tar::Builder<W>, path: &Path, entry: &FileEntry, mtime: u64) -> Result<(), BackupError> {
    let mut header = tar::Header::new_ustar();
    header.set_path(&entry.name).map_err(BackupError::io(format!("cannot name `{}` in the archive", entry.name)))?;
    header.set_entry_type(tar::EntryType::Regular);
    header.set_size(entry.size);
    header.set_mode(0o600);
    header.set_mtime(mtime);
    header.set_cksum();
    let file = File::open(path).map_err(BackupError::io(format!("cannot read `{}`", path.display())))?;
    let mut reader = HashingReader::new(BufReader::with_capacity(IO_BUFFER, file).take(entry.size));
    tar.append(&header, &mut reader).map_err(BackupError::io(format!("cannot archive `{}`", path.display())))?;
    let (size, sha256) = reader.finish();
    if size != entry.size || sha256 != entry.sha256 {
        return Err(BackupError::Io {
            context: format!("cannot archive `{}`", path.display()),
            source: io::Error::other("the file changed while it was being backed up"),
        });
    }
    Ok(())
}

/// Writes the preamble, then whatever `payload` writes (gzip-compressed and sealed in
/// chunks), to `out`; returns the archive's size and SHA-256.
pub(crate) fn write_archive(
    out: &Path,
    header: &ArchiveHeader,
    key: &DataKey,
    payload: impl FnOnce(&mut dyn Write) -> Result<(), BackupError>,
) -> Result<(u64, String), BackupError> {
    let write_err = || BackupError::io(format!("cannot write `{}`", out.display()));
    let file = File::create(out).map_err(write_err())?;
    let mut sink = HashingWriter::new(BufWriter::with_capacity(IO_BUFFER, file));
    let (preamble, header_hash) = encode_preamble(header)?;
    sink.write_all(&preamble).map_err(write_err())?;
    let mut gz = GzEncoder::new(ChunkSealer::new(sink, key, header_hash, header.chunk_size), Compression::new(GZIP_LEVEL));
    payload(&mut gz)?;
    let sealer = gz.finish().map_err(write_err())?;
    let sink = sealer.finish().map_err(write_err())?;
    let (buffered, size, sha256) = sink.into_parts();
    let file = buffered.into_inner().map_err(|e| write_err()(e.into_error()))?;
    file.sync_all().map_err(write_err())?;
    Ok((size, sha256))
}

/// Opens the archive at `archive` into the existing, empty directory `into`, checking every
/// chunk and every file against the header, and returns the archive's manifest. On failure
/// nothing that was extracted is left in `into`.
pub fn open_archive(archive: &Path, provider: &dyn KeyProvider, into: &Path) -> Result<Manifest, BackupError> {
    let mut listing = fs::read_dir(into).map_err(BackupError::io(format!("cannot read the restore directory `{}`", into.display())))?;
    if listing.next().is_some() {
        return Err(BackupError::NotEmpty { path: into.to_owned() });
    }
    let file = File::open(archive).map_err(BackupError::io(format!("cannot read `{}`", archive.display())))?;
    let mut reader = HashingReader::new(BufReader::with_capacity(IO_BUFFER, file));
    let (header, header_hash) = read_preamble(&mut reader, archive)?;
    let key = unwrap_key(provider, &header)?;
    let mut created = Vec::new();
    match extract(reader, &key, &header, header_hash, into, &mut created) {
        Ok((archive_size, archive_sha256)) => Ok(Manifest { header, archive_size, archive_sha256 }),
        Err(e) => {
            for name in created {
                let _ = fs::remove_file(into.join(name));
            }
            Err(e)
        }
    }
}

fn unwrap_key(provider: &dyn KeyProvider, header: &ArchiveHeader) -> Result<DataKey, BackupError> {
    let wrapped = STANDARD.decode(header.wrapped_key.as_bytes()).map_err(|_| BackupError::corrupted("the wrapped data key is not base64"))?;
    let master_key_id = header.master_key_id.clone();
    provider.unwrap(&header.master_key_id, &header.data_key_id, &wrapped).map_err(|e| match e {
        CryptoError::UnknownMasterKey(_) => BackupError::UnknownMasterKey { master_key_id },
        _ => BackupError::WrongKey { master_key_id },
    })
}

fn extract<R: Read>(
    reader: HashingReader<R>,
    key: &DataKey,
    header: &ArchiveHeader,
    header_hash: crate::format::HeaderHash,
    into: &Path,
    created: &mut Vec<String>,
) -> Result<(u64, String), BackupError> {
    let opener = ChunkOpener::new(reader, key, header_hash, header.chunk_size);
    let mut tar = tar::Archive::new(GzDecoder::new(opener));
    let mut result = extract_entries(&mut tar, header, into, created);
    let mut gz = tar.into_inner();
    if result.is_ok() {
        // Reading to the end checks the gzip trailer (CRC and length) that tar never asks for.
        result = io::copy(&mut gz, &mut io::sink()).map(drop).map_err(|e| BackupError::corrupted(format!("the compressed stream is damaged: {e}")));
    }
    let mut opener = gz.into_inner();
    match result {
        // An error that surfaced through gzip or tar is reported as the chunk failure behind it.
        Err(e) => Err(opener.take_failure().unwrap_or(e)),
        Ok(()) => Ok(opener.finish()?.finish()),
    }
}

fn extract_entries<R: Read>(tar: &mut tar::Archive<R>, header: &ArchiveHeader, into: &Path, created: &mut Vec<String>) -> Result<(), BackupError> {
    let damaged = |e: io::Error| BackupError::corrupted(format!("the archive is damaged: {e}"));
    let mut seen = HashSet::new();
    for entry in tar.entries().map_err(damaged)? {
        let mut entry = entry.map_err(damaged)?;
        let name = String::from_utf8(entry.path_bytes().into_owned()).map_err(|_| BackupError::corrupted("an entry's name is not UTF-8"))?;
        check_file_name(&name).map_err(|e| BackupError::corrupted(format!("the archive holds an entry that is not a plain file name: {e}")))?;
        if entry.header().entry_type() != tar::EntryType::Regular {
            return Err(BackupError::corrupted(format!("the archive entry `{name}` is not a regular file")));
        }
        let expected = header
            .files
            .iter()
            .find(|f| f.name == name)
            .ok_or_else(|| BackupError::corrupted(format!("the archive holds `{name}`, which its header does not list")))?;
        if !seen.insert(name.clone()) {
            return Err(BackupError::corrupted(format!("the archive holds `{name}` twice")));
        }
        if entry.size() != expected.size {
            return Err(BackupError::corrupted(format!("`{name}` has {} bytes in the archive but {} in the header", entry.size(), expected.size)));
        }
        let path = into.join(&name);
        let file = create_private(&path).map_err(BackupError::io(format!("cannot create `{}`", path.display())))?;
        created.push(name.clone());
        let mut sink = HashingWriter::new(BufWriter::with_capacity(IO_BUFFER, file));
        copy_entry(&mut entry, &mut sink, &name, &path)?;
        let (buffered, size, sha256) = sink.into_parts();
        if size != expected.size || sha256 != expected.sha256 {
            return Err(BackupError::corrupted(format!("`{name}` does not match the size and SHA-256 its header records")));
        }
        let file = buffered.into_inner().map_err(|e| BackupError::Io { context: format!("cannot write `{}`", path.display()), source: e.into_error() })?;
        file.sync_all().map_err(BackupError::io(format!("cannot write `{}`", path.display())))?;
    }
    if let Some(missing) = header.files.iter().find(|f| !seen.contains(&f.name)) {
        return Err(BackupError::corrupted(format!("`{}` is listed in the header but missing from the archive", missing.name)));
    }
    Ok(())
}

/// Copies one entry out, telling a damaged archive (read side) from a full or failing disk
/// (write side), which `io::copy` would report alike.
fn copy_entry(entry: &mut impl Read, sink: &mut impl Write, name: &str, path: &Path) -> Result<(), BackupError> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match entry.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(BackupError::corrupted(format!("`{name}` cannot be read from the archive: {e}"))),
        };
        sink.write_all(buf.get(..n).unwrap_or_default()).map_err(BackupError::io(format!("cannot write `{}`", path.display())))?;
    }
}

/// Restored files hold keys and personal data: readable by the owner only.
fn create_private(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}
