//! Damage to a sealed archive: every cut, flipped byte and moved chunk must be refused, with
//! nothing left in the restore directory.

use std::ops::Range;
use std::path::Path;

use gatehouse_crypto::MasterKeyring;

use super::{TempDir, at, entries, keyring, sample_files};
use crate::{BackupError, open_archive, seal_files};

struct Sealed {
    dir: TempDir,
    ring: MasterKeyring,
    bytes: Vec<u8>,
    /// End of the clear preamble (magic, version, header, checksum).
    preamble: usize,
    /// Byte ranges of the chunk frames, in order.
    chunks: Vec<Range<usize>>,
}

fn sealed(label: &str) -> Sealed {
    let dir = TempDir::new(label);
    let ring = keyring();
    let out = dir.join("b.ghbk");
    seal_files(&sample_files(&dir), &ring, at(0), &out).unwrap();
    let bytes = std::fs::read(&out).unwrap();
    let header_len = u32::from_be_bytes(bytes[18..22].try_into().unwrap()) as usize;
    let preamble = 22 + header_len + 32;
    let mut chunks = Vec::new();
    let mut at = preamble;
    while at < bytes.len() {
        let len = u32::from_be_bytes(bytes[at + 1..at + 5].try_into().unwrap()) as usize;
        chunks.push(at..at + 5 + len);
        at += 5 + len;
    }
    assert_eq!(at, bytes.len());
    assert!(chunks.len() >= 4, "the sample spans several chunks");
    assert!(chunks[..chunks.len() - 1].iter().all(|c| bytes[c.start] == 0) && bytes[chunks.last().unwrap().start] == 1);
    Sealed { dir, ring, bytes, preamble, chunks }
}

impl Sealed {
    /// Opens `bytes` as an archive into a fresh directory; checks the directory is left empty.
    fn open(&self, bytes: &[u8]) -> BackupError {
        let path = self.dir.join("damaged.ghbk");
        std::fs::write(&path, bytes).unwrap();
        let into = self.dir.join("into");
        let _ = std::fs::remove_dir_all(&into);
        std::fs::create_dir(&into).unwrap();
        let err = open_archive(&path, &self.ring, &into).unwrap_err();
        assert!(entries(Path::new(&into)).is_empty(), "nothing is left after {err}");
        err
    }

    fn with_chunks(&self, order: &[usize]) -> Vec<u8> {
        let mut out = self.bytes[..self.preamble].to_vec();
        for &i in order {
            out.extend_from_slice(&self.bytes[self.chunks[i].clone()]);
        }
        out
    }
}

#[test]
fn truncated_archives_are_reported_as_truncated() {
    let s = sealed("truncated");
    let last = s.chunks.last().unwrap().clone();
    let cuts = [
        ("inside the magic", 5),
        ("inside the header", s.preamble - 40),
        ("right after the header", s.preamble),
        ("inside the first chunk", s.chunks[0].start + 1000),
        ("inside a chunk frame", s.chunks[1].start + 3),
        ("at the boundary before the final chunk", last.start),
        ("inside the final tag", last.end - 1),
    ];
    for (what, cut) in cuts {
        let err = s.open(&s.bytes[..cut]);
        assert!(matches!(err, BackupError::Truncated { .. }), "cut {what}: {err}");
    }
    let err = s.open(&s.bytes[..last.start]);
    assert!(err.to_string().contains("final chunk is missing"), "{err}");
}

#[test]
fn flipped_bytes_are_reported_as_corruption() {
    let s = sealed("flipped");
    let middle = s.chunks[s.chunks.len() / 2].clone();
    let flips = [
        ("in the header JSON", 40),
        ("in the header checksum", s.preamble - 1),
        ("in a middle chunk's ciphertext", middle.start + middle.len() / 2),
        ("in a chunk's final flag", middle.start),
        ("in the last tag", s.bytes.len() - 1),
    ];
    for (what, at) in flips {
        let mut bytes = s.bytes.clone();
        bytes[at] ^= 0x01;
        let err = s.open(&bytes);
        assert!(matches!(err, BackupError::Corrupted { .. }), "flip {what}: {err}");
    }
}

#[test]
fn moved_dropped_and_duplicated_chunks_are_reported_as_corruption() {
    let s = sealed("moved");
    let n = s.chunks.len();
    let all: Vec<usize> = (0..n).collect();
    let mut swapped = all.clone();
    swapped.swap(1, 2);
    let mut dropped = all.clone();
    dropped.remove(1);
    let mut duplicated = all.clone();
    duplicated.insert(1, 1);
    let mut final_twice = all.clone();
    final_twice.push(n - 1);
    for (what, order) in [("swapped", swapped), ("dropped", dropped), ("duplicated", duplicated), ("final chunk repeated", final_twice)] {
        let err = s.open(&s.with_chunks(&order));
        assert!(matches!(err, BackupError::Corrupted { .. }), "{what}: {err}");
    }
    assert_eq!(s.with_chunks(&all), s.bytes, "the helper rebuilds the intact archive");
    // Cut after chunk 2 and mark chunk 2 final in its clear frame: the flag is authenticated.
    let mut cut_and_marked = s.with_chunks(&[0, 1]);
    cut_and_marked[s.chunks[1].start] = 1;
    let err = s.open(&cut_and_marked);
    assert!(matches!(&err, BackupError::Corrupted { detail } if detail.contains("chunk 2 fails authentication")), "{err}");
}

#[test]
fn chunks_from_another_backup_do_not_open() {
    let a = sealed("splice-a");
    // Another backup under the same master key: its header and chunks are bound to a different
    // preamble hash and data key.
    let other = a.dir.join("other.ghbk");
    seal_files(&sample_files(&a.dir), &a.ring, at(1), &other).unwrap();
    let b = std::fs::read(&other).unwrap();
    let mut spliced = a.bytes[..a.chunks[1].start].to_vec();
    spliced.extend_from_slice(&b[a.chunks[1].start..]);
    let err = a.open(&spliced);
    assert!(matches!(err, BackupError::Corrupted { .. }), "{err}");
}
