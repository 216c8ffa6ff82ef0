//! The tamper-evident audit trail's chain: each record's hash covers its position, its content
//! and the previous record's hash, so changing, deleting, inserting or reordering any record
//! breaks the chain at a record [`verify_chain`] can name. Pure: storage appends and reads.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The hash before the first record.
pub const GENESIS: [u8; 32] = [0; 32];

/// What happened: who (and on whose behalf), what (action, target, before and after, with
/// secrets already redacted by the caller), when, from where, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Unix seconds (UTC).
    pub at: i64,
    /// `user:<id>` or `client:<id>`.
    pub actor: String,
    pub on_behalf_of: Option<String>,
    /// A stable dotted name: `tenant.policy.update`, `application.policy.update`, ...
    pub action: String,
    /// What was changed: `tenant:<id>`, `client:<id>`, `user:<id>`.
    pub target: String,
    /// The tenant the record belongs to, so its admins can read it; `None` for instance-wide
    /// records (applications, keys, imports). Left out of the hashed form when absent, so
    /// records written before this field existed still verify.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    pub address: Option<String>,
    pub user_agent: Option<String>,
    /// Why, where a decision or a request says (a policy decision, a confirmation flag).
    pub reason: Option<String>,
}

impl AuditEntry {
    /// A record of `action` on `target` by `actor` at `at` (Unix seconds), from `address` and
    /// `user_agent` when known. A `tenant:<id>` target belongs to that tenant; callers name the
    /// tenant of other targets ([`AuditEntry::in_tenant`]).
    pub fn of_request(at: i64, actor: String, action: &str, target: String, address: Option<String>, user_agent: Option<String>) -> Self {
        Self {
            at,
            actor,
            on_behalf_of: None,
            action: action.to_owned(),
            tenant: target.strip_prefix("tenant:").map(str::to_owned),
            target,
            before: None,
            after: None,
            address,
            user_agent,
            reason: None,
        }
    }

    /// The record belongs to `tenant` (its admins may read it).
    #[must_use]
    pub fn in_tenant(mut self, tenant: &str) -> Self {
        self.tenant = Some(tenant.to_owned());
        self
    }

    /// What the target is after the change (never a secret).
    #[must_use]
    pub fn with_after(mut self, after: serde_json::Value) -> Self {
        self.after = Some(after);
        self
    }
}

/// A record as stored: its position in the chain and both hashes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainedRecord {
    pub seq: u64,
    pub entry: AuditEntry,
    pub prev_hash: Vec<u8>,
    pub hash: Vec<u8>,
}

/// The hash of the record at `seq` holding `entry`, chained to `prev`.
pub fn chain_hash(prev: &[u8], seq: u64, entry: &AuditEntry) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(prev);
    hasher.update(seq.to_be_bytes());
    // Field order is fixed by the struct, so the same entry always hashes the same.
    hasher.update(serde_json::to_vec(entry).unwrap_or_default());
    hasher.finalize().into()
}

/// Where and why the chain breaks.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChainBreak {
    #[error("record {seq}: expected record {expected} here (a record was deleted, inserted or renumbered)")]
    OutOfSequence { seq: u64, expected: u64 },
    #[error("record {seq}: it does not follow the record before it (a record was inserted, deleted or reordered)")]
    BrokenLink { seq: u64 },
    #[error("record {seq}: its content does not match its hash (it was changed)")]
    Altered { seq: u64 },
    #[error("record {seq}: it does not match the signed checkpoint for it (the chain was rewritten)")]
    CheckpointMismatch { seq: u64 },
    #[error("record {seq}: missing, but a signed checkpoint covers records up to {checkpoint} (records were deleted from the end)")]
    Truncated { seq: u64, checkpoint: u64 },
}

impl ChainBreak {
    pub fn seq(&self) -> u64 {
        match self {
            Self::OutOfSequence { seq, .. }
            | Self::BrokenLink { seq }
            | Self::Altered { seq }
            | Self::CheckpointMismatch { seq }
            | Self::Truncated { seq, .. } => *seq,
        }
    }
}

/// Checks records in `seq` order, starting after `start` (the sequence number and hash of the
/// last record already trusted: `(0, GENESIS)` for the whole chain). Returns the last sequence
/// number and hash, or the first break.
pub fn verify_chain<'a>(start: (u64, &[u8]), records: impl IntoIterator<Item = &'a ChainedRecord>) -> Result<(u64, Vec<u8>), ChainBreak> {
    let (mut last_seq, mut last_hash) = (start.0, start.1.to_vec());
    for record in records {
        let expected = last_seq + 1;
        if record.seq != expected {
            return Err(ChainBreak::OutOfSequence { seq: record.seq, expected });
        }
        if record.prev_hash != last_hash {
            return Err(ChainBreak::BrokenLink { seq: record.seq });
        }
        if chain_hash(&record.prev_hash, record.seq, &record.entry).as_slice() != record.hash.as_slice() {
            return Err(ChainBreak::Altered { seq: record.seq });
        }
        last_seq = record.seq;
        last_hash.clone_from(&record.hash);
    }
    Ok((last_seq, last_hash))
}

/// A signed statement that the chain's record `seq` has hash `hash`, made by the instance's
/// checkpoint key at `at`. Checkpoints pin the chain: recomputing every hash after a change
/// no longer matches a checkpoint, deleting the newest records leaves a checkpoint beyond the
/// end, and retention may delete records up to a checkpoint, which then anchors the rest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub seq: u64,
    pub hash: Vec<u8>,
    pub at: i64,
    /// The signing key's id (its JWK thumbprint).
    pub kid: String,
    pub signature: Vec<u8>,
}

impl Checkpoint {
    /// The bytes the key signs: versioned, so a signature cannot be replayed as another
    /// kind of statement.
    pub fn message(seq: u64, hash: &[u8], at: i64) -> Vec<u8> {
        let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
        format!("gatehouse-audit-checkpoint/v1 {seq} {hex} {at}").into_bytes()
    }

    pub fn signed_message(&self) -> Vec<u8> {
        Self::message(self.seq, &self.hash, self.at)
    }
}

/// Checks a chain page by page against its checkpoints (their signatures already checked by
/// the caller, which holds the key). The first page decides the anchor: record 1 follows
/// [`GENESIS`]; a chain pruned by retention must start right after a checkpoint.
pub struct ChainVerifier<'c> {
    checkpoints: &'c [Checkpoint],
    last: Option<(u64, Vec<u8>)>,
    records: u64,
}

impl<'c> ChainVerifier<'c> {
    /// `checkpoints` in ascending `seq` order.
    pub fn new(checkpoints: &'c [Checkpoint]) -> Self {
        Self { checkpoints, last: None, records: 0 }
    }

    fn anchor(&self, first: u64) -> Result<(u64, Vec<u8>), ChainBreak> {
        if first == 1 {
            return Ok((0, GENESIS.to_vec()));
        }
        self.checkpoints
            .iter()
            .find(|c| c.seq + 1 == first)
            .map(|c| (c.seq, c.hash.clone()))
            .ok_or(ChainBreak::OutOfSequence { seq: first, expected: self.checkpoints.first().map_or(1, |c| c.seq + 1) })
    }

    /// Verifies the next records in order.
    pub fn feed(&mut self, records: &[ChainedRecord]) -> Result<(), ChainBreak> {
        let Some(first) = records.first() else { return Ok(()) };
        let start = match self.last.take() {
            Some(last) => last,
            None => self.anchor(first.seq)?,
        };
        let end = verify_chain((start.0, &start.1), records)?;
        // Every checkpoint inside this page must agree with the record it names.
        for checkpoint in self.checkpoints.iter().filter(|c| c.seq > start.0 && c.seq <= end.0) {
            let index = usize::try_from(checkpoint.seq - start.0 - 1).unwrap_or(usize::MAX);
            if records.get(index).is_none_or(|r| r.hash != checkpoint.hash) {
                return Err(ChainBreak::CheckpointMismatch { seq: checkpoint.seq });
            }
        }
        self.records += records.len() as u64;
        self.last = Some(end);
        Ok(())
    }

    /// The last verified record (sequence number, hash) and how many records were checked; a
    /// checkpoint beyond the last record means records were deleted from the end.
    pub fn finish(self) -> Result<(u64, Vec<u8>, u64), ChainBreak> {
        let (seq, hash) = match self.last {
            Some(last) => last,
            // Everything was pruned: the newest checkpoint is the whole story.
            None => self.checkpoints.last().map_or((0, GENESIS.to_vec()), |c| (c.seq, c.hash.clone())),
        };
        if let Some(beyond) = self.checkpoints.iter().find(|c| c.seq > seq) {
            return Err(ChainBreak::Truncated { seq: seq + 1, checkpoint: beyond.seq });
        }
        Ok((seq, hash, self.records))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(action: &str) -> AuditEntry {
        AuditEntry {
            at: 1_700_000_000,
            actor: "user:u1".into(),
            on_behalf_of: None,
            action: action.into(),
            target: "tenant:t1".into(),
            tenant: Some("t1".into()),
            before: None,
            after: Some(serde_json::json!({ "two_factor": "required" })),
            address: Some("192.0.2.1".into()),
            user_agent: None,
            reason: None,
        }
    }

    fn chain(n: u64) -> Vec<ChainedRecord> {
        let mut prev = GENESIS.to_vec();
        (1..=n)
            .map(|seq| {
                let entry = entry(&format!("action.{seq}"));
                let hash = chain_hash(&prev, seq, &entry).to_vec();
                let record = ChainedRecord { seq, entry, prev_hash: prev.clone(), hash: hash.clone() };
                prev = hash;
                record
            })
            .collect()
    }

    #[test]
    fn an_intact_chain_verifies() {
        let records = chain(5);
        let (last, hash) = verify_chain((0, &GENESIS), &records).unwrap();
        assert_eq!((last, hash), (5, records[4].hash.clone()));
        assert_eq!(verify_chain((2, &records[1].hash), &records[2..]).unwrap().0, 5, "from a trusted checkpoint");
    }

    #[test]
    fn every_kind_of_tampering_names_the_first_bad_record() {
        let mut changed = chain(5);
        changed[2].entry.target = "tenant:t2".into();
        assert_eq!(verify_chain((0, &GENESIS), &changed), Err(ChainBreak::Altered { seq: 3 }));

        let mut deleted = chain(5);
        deleted.remove(1);
        assert_eq!(verify_chain((0, &GENESIS), &deleted), Err(ChainBreak::OutOfSequence { seq: 3, expected: 2 }));

        let mut reordered = chain(5);
        reordered.swap(1, 3);
        assert_eq!(verify_chain((0, &GENESIS), &reordered).unwrap_err().seq(), 4);

        // Renumbered to hide a deletion: the link to the previous hash breaks.
        let mut renumbered = chain(5);
        renumbered.remove(1);
        for r in renumbered.iter_mut().skip(1) {
            r.seq -= 1;
        }
        assert_eq!(verify_chain((0, &GENESIS), &renumbered), Err(ChainBreak::BrokenLink { seq: 2 }));

        // Inserted with a fresh, correct-looking hash: the next record no longer links.
        let mut inserted = chain(3);
        let forged_entry = entry("forged");
        let forged =
            ChainedRecord { seq: 4, prev_hash: inserted[2].hash.clone(), hash: chain_hash(&inserted[2].hash, 4, &forged_entry).to_vec(), entry: forged_entry };
        let mut tail = chain(5).split_off(3);
        inserted.push(forged);
        for r in tail.iter_mut() {
            r.seq += 1;
        }
        inserted.extend(tail);
        assert_eq!(verify_chain((0, &GENESIS), &inserted), Err(ChainBreak::BrokenLink { seq: 5 }));
    }

    fn checkpoint(record: &ChainedRecord) -> Checkpoint {
        Checkpoint { seq: record.seq, hash: record.hash.clone(), at: 0, kid: "k".into(), signature: vec![] }
    }

    #[test]
    fn checkpoints_catch_a_rewritten_chain_a_truncated_end_and_anchor_a_pruned_start() {
        let records = chain(6);
        let checkpoints = vec![checkpoint(&records[2]), checkpoint(&records[5])];
        let mut verifier = ChainVerifier::new(&checkpoints);
        verifier.feed(&records[..4]).unwrap();
        verifier.feed(&records[4..]).unwrap();
        assert_eq!(verifier.finish().unwrap().2, 6);

        // Every hash recomputed after changing record 2: the chain links, the checkpoint does not.
        let mut rewritten = records.clone();
        rewritten[1].entry.actor = "user:mallory".into();
        for i in 1..rewritten.len() {
            let prev = rewritten[i - 1].hash.clone();
            rewritten[i].prev_hash = prev.clone();
            rewritten[i].hash = chain_hash(&prev, rewritten[i].seq, &rewritten[i].entry).to_vec();
        }
        assert_eq!(ChainVerifier::new(&checkpoints).feed(&rewritten), Err(ChainBreak::CheckpointMismatch { seq: 3 }));

        let mut truncated = ChainVerifier::new(&checkpoints);
        truncated.feed(&records[..5]).unwrap();
        assert_eq!(truncated.finish(), Err(ChainBreak::Truncated { seq: 6, checkpoint: 6 }));

        // Pruned up to the first checkpoint: the rest verifies from it, and only from it.
        let mut pruned = ChainVerifier::new(&checkpoints);
        pruned.feed(&records[3..]).unwrap();
        assert_eq!(pruned.finish().unwrap().0, 6);
        assert_eq!(ChainVerifier::new(&checkpoints).feed(&records[2..]).unwrap_err().seq(), 3, "no checkpoint anchors record 3");
    }

    #[test]
    fn records_without_a_tenant_hash_as_they_did_before_the_field_existed() {
        let old = AuditEntry { tenant: None, ..entry("tenant.policy.update") };
        let text = String::from_utf8(serde_json::to_vec(&old).unwrap()).unwrap();
        assert!(!text.contains("tenant\":"), "{text}");
        // SHA-256(32 zero bytes || 1 as u64 big-endian || the record's JSON without `tenant`),
        // computed independently (Python's hashlib) from the first release's format.
        let expected = "d7197c8f93d2417d5dc7033c880dd59007ba7fe3cdc568b97080677ff56ae4f5";
        let hash: String = chain_hash(&GENESIS, 1, &old).iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hash, expected, "the hashed form of a tenant-less record must not change");
    }
}
