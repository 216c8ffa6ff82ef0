//! Sealing and opening: round trip, keys, the restore directory, and what a tar entry may be.

use base64::Engine as _;
use gatehouse_crypto::{DataKey, KeyProvider, MasterKeyring};

use super::{TempDir, at, entries, keyring, sample_files};
use crate::archive::write_archive;
use crate::format::CHUNK_SIZE;
use crate::manifest::{ArchiveHeader, FORMAT_VERSION, FileEntry};
use crate::{BackupError, check_file_name, open_archive, seal_files};

#[test]
fn sealed_files_open_to_identical_bytes_with_a_matching_manifest() {
    let dir = TempDir::new("roundtrip");
    let ring = keyring();
    let files = sample_files(&dir);
    let out = dir.join("backup.ghbk");
    let manifest = seal_files(&files, &ring, at(1_790_000_000), &out).unwrap();

    assert_eq!(manifest.header.master_key_id, ring.current_id().unwrap());
    assert_eq!(manifest.header.gatehouse_version, env!("CARGO_PKG_VERSION"));
    assert_eq!(manifest.header.chunk_size, CHUNK_SIZE);
    assert_eq!(manifest.header.created_at, at(1_790_000_000));
    let names: Vec<_> = manifest.header.files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["gatehouse.db", "signing-keys.json", "empty"]);
    assert_eq!(manifest.header.files[0].size, 3 * 1024 * 1024 + 512 * 1024);
    let (size, sha) = crate::hashing::hash_file(&out).unwrap();
    assert_eq!((manifest.archive_size, manifest.archive_sha256.clone()), (size, sha));
    let archive = std::fs::read(&out).unwrap();
    assert!(archive.starts_with(b"GATEHOUSE-BACKUP"));
    assert!(!archive.windows(26).any(|w| w == b"SECRET-SIGNING-KEY-MARKER\""), "file contents are encrypted");
    assert!(archive.len() > 3 * 1024 * 1024, "incompressible data spans several chunks");

    let into = dir.subdir("restored");
    let opened = open_archive(&out, &ring, &into).unwrap();
    assert_eq!(opened, manifest);
    for (name, source) in &files {
        assert_eq!(std::fs::read(into.join(name)).unwrap(), std::fs::read(source).unwrap(), "{name}");
    }
    assert_eq!(entries(&into), ["empty", "gatehouse.db", "signing-keys.json"]);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(into.join("signing-keys.json")).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "restored files are private");
    }
}

#[test]
fn a_backup_restores_with_the_master_keyring_alone_after_rotation() {
    let dir = TempDir::new("rotated");
    let mut ring = keyring();
    let out = dir.join("b.ghbk");
    seal_files(&sample_files(&dir), &ring, at(0), &out).unwrap();
    ring.rotate(10, 0, &[]).unwrap();
    let copy = MasterKeyring::parse(&ring.to_text()).unwrap();
    assert!(open_archive(&out, &copy, &dir.subdir("into")).is_ok(), "a retired master key still opens the backup");
}

#[test]
fn a_keyring_without_the_master_key_is_refused_by_name() {
    let dir = TempDir::new("unknown-key");
    let ring = keyring();
    let out = dir.join("b.ghbk");
    seal_files(&sample_files(&dir), &ring, at(0), &out).unwrap();
    let into = dir.subdir("into");
    let err = open_archive(&out, &keyring(), &into).unwrap_err();
    let id = ring.current_id().unwrap();
    assert!(matches!(&err, BackupError::UnknownMasterKey { master_key_id } if *master_key_id == id), "{err}");
    assert!(err.to_string().contains(&format!("`{id}`")) && err.to_string().contains("does not hold"), "{err}");
    assert!(entries(&into).is_empty());
}

#[test]
fn a_different_key_under_the_same_id_is_a_wrong_key() {
    let dir = TempDir::new("wrong-key");
    let ring = keyring();
    let out = dir.join("b.ghbk");
    seal_files(&sample_files(&dir), &ring, at(0), &out).unwrap();
    let mut text: serde_json::Value = serde_json::from_str(&ring.to_text()).unwrap();
    let other = base64::engine::general_purpose::STANDARD.encode(DataKey::generate("x").unwrap().expose_bytes());
    text["keys"][0]["key"] = serde_json::Value::String(other);
    let impostor = MasterKeyring::parse(&text.to_string()).unwrap();
    let into = dir.subdir("into");
    let err = open_archive(&out, &impostor, &into).unwrap_err();
    assert!(matches!(&err, BackupError::WrongKey { master_key_id } if *master_key_id == ring.current_id().unwrap()), "{err}");
    assert!(entries(&into).is_empty());
}

#[test]
fn opening_into_a_non_empty_directory_is_refused_and_writes_nothing() {
    let dir = TempDir::new("not-empty");
    let ring = keyring();
    let out = dir.join("b.ghbk");
    seal_files(&sample_files(&dir), &ring, at(0), &out).unwrap();
    let into = dir.subdir("into");
    std::fs::write(into.join("gatehouse.db"), b"live data").unwrap();
    let err = open_archive(&out, &ring, &into).unwrap_err();
    assert!(matches!(err, BackupError::NotEmpty { .. }), "{err}");
    assert_eq!(entries(&into), ["gatehouse.db"]);
    assert_eq!(std::fs::read(into.join("gatehouse.db")).unwrap(), b"live data");
    let missing = dir.join("missing");
    assert!(matches!(open_archive(&out, &ring, &missing), Err(BackupError::Io { .. })));
}

#[test]
fn only_plain_file_names_are_accepted() {
    for good in ["gatehouse.db", "master.key", ".hidden", "a..b"] {
        assert!(check_file_name(good).is_ok(), "{good}");
    }
    for bad in ["", ".", "..", "../x", "a/b", "/etc/passwd", "a\\b", "x\n", &"n".repeat(101)] {
        assert!(matches!(check_file_name(bad), Err(BackupError::InvalidFileName { .. })), "{bad:?}");
    }
    let dir = TempDir::new("bad-names");
    let src = dir.join("src");
    std::fs::write(&src, b"x").unwrap();
    let out = dir.join("b.ghbk");
    for name in ["../x", "sub/x"] {
        let err = seal_files(&[(name.to_owned(), src.clone())], &keyring(), at(0), &out).unwrap_err();
        assert!(matches!(err, BackupError::InvalidFileName { .. }), "{err}");
    }
    let twice = [("a".to_owned(), src.clone()), ("a".to_owned(), src.clone())];
    assert!(matches!(seal_files(&twice, &keyring(), at(0), &out), Err(BackupError::InvalidFileName { .. })));
    assert!(!out.exists());
}

/// Seals a hand-made tar stream under a header that lists `listed`, the way `seal_files` would.
fn seal_raw_tar(ring: &MasterKeyring, out: &std::path::Path, listed: FileEntry, tar: &[u8]) {
    let key = DataKey::generate("bk-test").unwrap();
    let (master_key_id, wrapped) = ring.wrap(&key).unwrap();
    let header = ArchiveHeader {
        format_version: FORMAT_VERSION,
        gatehouse_version: "test".into(),
        created_at: at(0),
        master_key_id,
        data_key_id: key.id().to_owned(),
        wrapped_key: base64::engine::general_purpose::STANDARD.encode(wrapped),
        chunk_size: CHUNK_SIZE,
        compression: "gzip".into(),
        files: vec![listed],
    };
    write_archive(out, &header, &key, |w| w.write_all(tar).map_err(crate::BackupError::io("test"))).unwrap();
}

/// A one-entry ustar stream whose name bytes are written raw (the tar crate refuses `..`).
fn raw_tar(name: &[u8], kind: tar::EntryType, body: &[u8]) -> Vec<u8> {
    let mut header = tar::Header::new_ustar();
    header.as_old_mut().name[..name.len()].copy_from_slice(name);
    header.set_entry_type(kind);
    header.set_size(body.len() as u64);
    header.set_mode(0o600);
    header.set_cksum();
    let mut builder = tar::Builder::new(Vec::new());
    builder.append(&header, body).unwrap();
    builder.into_inner().unwrap()
}

fn sha_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    crate::manifest::hex(&sha2::Sha256::digest(bytes))
}

#[test]
fn a_tar_entry_escaping_the_restore_directory_is_rejected() {
    let dir = TempDir::new("escape");
    let ring = keyring();
    let out = dir.join("b.ghbk");
    let listed = FileEntry { name: "x".into(), size: 5, sha256: sha_hex(b"owned") };
    seal_raw_tar(&ring, &out, listed, &raw_tar(b"../x", tar::EntryType::Regular, b"owned"));
    let into = dir.subdir("into");
    let err = open_archive(&out, &ring, &into).unwrap_err();
    assert!(matches!(&err, BackupError::Corrupted { detail } if detail.contains("not a plain file name")), "{err}");
    assert!(entries(&into).is_empty());
    assert!(!dir.join("x").exists(), "nothing was written beside the restore directory");
}

#[test]
fn links_and_unlisted_entries_are_rejected() {
    let dir = TempDir::new("links");
    let ring = keyring();
    let into = dir.subdir("into");
    let out = dir.join("link.ghbk");
    let listed = FileEntry { name: "x".into(), size: 0, sha256: sha_hex(b"") };
    seal_raw_tar(&ring, &out, listed.clone(), &raw_tar(b"x", tar::EntryType::Symlink, b""));
    let err = open_archive(&out, &ring, &into).unwrap_err();
    assert!(matches!(&err, BackupError::Corrupted { detail } if detail.contains("not a regular file")), "{err}");

    let out = dir.join("unlisted.ghbk");
    seal_raw_tar(&ring, &out, listed, &raw_tar(b"y", tar::EntryType::Regular, b""));
    let err = open_archive(&out, &ring, &into).unwrap_err();
    assert!(matches!(&err, BackupError::Corrupted { detail } if detail.contains("does not list")), "{err}");

    let out = dir.join("mismatch.ghbk");
    let wrong_hash = FileEntry { name: "x".into(), size: 3, sha256: sha_hex(b"abc") };
    seal_raw_tar(&ring, &out, wrong_hash, &raw_tar(b"x", tar::EntryType::Regular, b"abd"));
    let err = open_archive(&out, &ring, &into).unwrap_err();
    assert!(matches!(&err, BackupError::Corrupted { detail } if detail.contains("SHA-256")), "{err}");
    assert!(entries(&into).is_empty(), "the mismatching file was removed");
}

#[test]
fn other_files_and_other_versions_are_named_as_such() {
    let dir = TempDir::new("not-backup");
    let ring = keyring();
    let into = dir.subdir("into");
    let junk = dir.join("junk.ghbk");
    std::fs::write(&junk, b"SQLite format 3\0 and more bytes than the magic").unwrap();
    assert!(matches!(open_archive(&junk, &ring, &into), Err(BackupError::NotABackup { .. })));
    std::fs::write(&junk, b"").unwrap();
    assert!(matches!(open_archive(&junk, &ring, &into), Err(BackupError::NotABackup { .. })));

    let out = dir.join("b.ghbk");
    seal_files(&sample_files(&dir), &ring, at(0), &out).unwrap();
    let mut bytes = std::fs::read(&out).unwrap();
    bytes[17] = 2;
    std::fs::write(&out, &bytes).unwrap();
    let err = open_archive(&out, &ring, &into).unwrap_err();
    assert!(matches!(err, BackupError::UnsupportedVersion { found: 2, supported: 1 }), "{err}");
}
