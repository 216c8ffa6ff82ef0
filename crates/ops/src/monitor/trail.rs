//! The audit trail's upkeep: checkpoints signed with the instance key, verification of the
//! whole chain against them (`gatehouse audit verify` and the daily check share it), and
//! retention that prunes only up to a signed checkpoint, so what is left still verifies. The
//! daily job ([`TrailJob`]) touches the trail, login history and alerts only: deleting tenants
//! and refreshing backups are other jobs, which the server runs after it. Never prunes a trail
//! that does not verify.

use gatehouse_core::SigningAlg;
use gatehouse_core::alert::AlertKind;
use gatehouse_core::audit::{ChainBreak, ChainVerifier, Checkpoint};
use gatehouse_crypto::{Ed25519PublicKey, SigningKey};
use gatehouse_store::{AuditStore, SecurityStore, SignInStore};
use std::sync::Arc;
use time::{Duration, OffsetDateTime};

use super::{Monitor, NewAlert};
use crate::error::OpsError;
use crate::settings::{CheckpointKey, RetentionSettings};

/// Records read per page, so memory stays flat however long the trail.
const PAGE: u32 = 10_000;

/// Why the trail does not verify.
#[derive(Debug, thiserror::Error)]
pub enum TrailError {
    #[error("audit chain broken at {0}")]
    Broken(ChainBreak),
    #[error("checkpoint at record {seq} has an invalid signature (it was forged or altered)")]
    BadCheckpoint { seq: u64 },
    #[error("signing the checkpoint failed: {0}")]
    Signing(#[from] gatehouse_crypto::CryptoError),
    #[error(transparent)]
    Store(#[from] gatehouse_store::StoreError),
}

impl TrailError {
    /// The first bad record (or checkpoint), when there is one.
    pub fn seq(&self) -> Option<u64> {
        match self {
            Self::Broken(b) => Some(b.seq()),
            Self::BadCheckpoint { seq } => Some(*seq),
            Self::Store(_) | Self::Signing(_) => None,
        }
    }
}

/// What a verification covered.
#[derive(Debug, PartialEq, Eq)]
pub struct TrailReport {
    pub last_seq: u64,
    pub records: u64,
    pub checkpoints: usize,
}

/// Loads the checkpoint key (Ed25519 PKCS#8).
pub fn checkpoint_key(pkcs8: &[u8]) -> Result<SigningKey, OpsError> {
    Ok(SigningKey::from_pkcs8(SigningAlg::EdDSA, pkcs8.to_vec())?)
}

/// Signs a checkpoint at the newest record, unless the newest checkpoint already covers it.
/// The records since the previous checkpoint are verified first (and that checkpoint's
/// signature), so a key never vouches for a chain that was already broken. Each checkpoint is
/// also logged, so a copy lives wherever the logs are shipped.
pub async fn checkpoint(store: &dyn AuditStore, key: &SigningKey, now: OffsetDateTime) -> Result<Option<Checkpoint>, TrailError> {
    let Some((seq, hash)) = store.audit_head().await? else { return Ok(None) };
    let checkpoints = store.checkpoints().await?;
    let previous = checkpoints.last();
    if previous.is_some_and(|c| c.seq >= seq) {
        return Ok(None);
    }
    if let Some(c) = previous
        && (c.kid != key.kid() || key.verify(&c.signed_message(), &c.signature).is_err())
    {
        return Err(TrailError::BadCheckpoint { seq: c.seq });
    }
    let mut verifier = ChainVerifier::new(previous.map(std::slice::from_ref).unwrap_or_default());
    let mut after = previous.map_or(0, |c| c.seq);
    loop {
        let page = store.audit_records(after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        verifier.feed(&page).map_err(TrailError::Broken)?;
    }
    let (verified, verified_hash, _) = verifier.finish().map_err(TrailError::Broken)?;
    // The head may have moved on meanwhile; sign what was verified.
    let (seq, hash) = if verified >= seq { (verified, verified_hash) } else { (seq, hash) };
    let at = now.unix_timestamp();
    let signature = key.sign(&Checkpoint::message(seq, &hash, at))?;
    let checkpoint = Checkpoint { seq, hash, at, kid: key.kid().to_owned(), signature };
    store.add_checkpoint(&checkpoint).await?;
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    tracing::info!(seq, hash = %hex(&checkpoint.hash), kid = %checkpoint.kid, signature = %hex(&checkpoint.signature), "audit checkpoint signed");
    Ok(Some(checkpoint))
}

/// The public half of the checkpoint key, to verify with.
pub fn public_key(key: &SigningKey) -> Result<Ed25519PublicKey, OpsError> {
    Ok(Ed25519PublicKey::from_jwk(key.public_jwk())?)
}

/// Verifies every checkpoint's signature (with `key`, when the caller has it: the instance's
/// own, or a copy of its public half kept elsewhere) and the whole chain against them, page by
/// page.
pub async fn verify(store: &dyn AuditStore, key: Option<&Ed25519PublicKey>) -> Result<TrailReport, TrailError> {
    let checkpoints = store.checkpoints().await?;
    if let Some(key) = key {
        for c in &checkpoints {
            if c.kid != key.kid() || key.verify(&c.signed_message(), &c.signature).is_err() {
                return Err(TrailError::BadCheckpoint { seq: c.seq });
            }
        }
    }
    let mut verifier = ChainVerifier::new(&checkpoints);
    let mut after = 0;
    loop {
        let page = store.audit_records(after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        verifier.feed(&page).map_err(TrailError::Broken)?;
    }
    let (last_seq, _, records) = verifier.finish().map_err(TrailError::Broken)?;
    Ok(TrailReport { last_seq, records, checkpoints: checkpoints.len() })
}

/// What the daily upkeep did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Upkeep {
    /// The trail verified (and retention ran); false when it is broken, and then nothing that
    /// deletes may run this day.
    pub verified: bool,
    pub checkpointed: Option<u64>,
    pub sign_ins_pruned: u64,
    pub audit_pruned: u64,
    /// Filled in by the tenant lifecycle run after this upkeep (see the server's scheduler).
    pub tenants_deleted: usize,
}

/// Retention: login history older than its window goes; audit records go up to the newest
/// checkpoint older than theirs (every record before a checkpoint is older than it); alerts
/// are kept as long as audit records.
pub async fn apply_retention(
    audit: &dyn AuditStore,
    sign_ins: &dyn SignInStore,
    alerts: &dyn SecurityStore,
    retention: RetentionSettings,
    now: OffsetDateTime,
) -> Result<(u64, u64), OpsError> {
    let sign_ins = sign_ins.prune_sign_ins(now - Duration::days(i64::from(retention.login_history_days))).await?;
    alerts.prune_alerts(now - Duration::days(i64::from(retention.audit_days))).await?;
    let cutoff = (now - Duration::days(i64::from(retention.audit_days))).unix_timestamp();
    let anchor = audit.checkpoints().await?.into_iter().rev().find(|c| c.at < cutoff);
    let first = audit.audit_records(0, 1).await?.first().map(|r| r.seq);
    let audit = match (anchor, first) {
        (Some(anchor), Some(first)) if first <= anchor.seq => audit.prune_audit(anchor.seq).await?,
        _ => 0,
    };
    Ok((sign_ins, audit))
}

/// What the trail's upkeep uses: the trail, the login history and the alerts it prunes, the
/// monitor it raises a broken chain with, the checkpoint key and the retention periods.
pub struct TrailJob {
    pub audit: Arc<dyn AuditStore>,
    pub sign_ins: Arc<dyn SignInStore>,
    pub alerts: Arc<dyn SecurityStore>,
    pub monitor: Arc<Monitor>,
    pub checkpoint_key: Option<CheckpointKey>,
    pub retention: RetentionSettings,
}

impl TrailJob {
    /// The daily run: checkpoint, verify (a break raises a critical alert), apply retention.
    pub async fn daily(&self, now: OffsetDateTime) -> Result<Upkeep, OpsError> {
        let key = self.checkpoint_key.as_ref().map(|k| checkpoint_key(&k.0)).transpose()?;
        let mut upkeep = Upkeep::default();
        let checked = match &key {
            Some(key) => match checkpoint(self.audit.as_ref(), key, now).await {
                Ok(made) => {
                    upkeep.checkpointed = made.map(|c| c.seq);
                    verify(self.audit.as_ref(), Some(&public_key(key)?)).await.map(|_| ())
                }
                Err(e) => Err(e),
            },
            None => verify(self.audit.as_ref(), None).await.map(|_| ()),
        };
        match checked {
            Ok(()) => {}
            Err(TrailError::Store(e)) => return Err(e.into()),
            Err(TrailError::Signing(e)) => return Err(e.into()),
            Err(broken) => {
                let alert = NewAlert {
                    kind: AlertKind::AuditChainBroken,
                    tenant: None,
                    subject: format!("audit:{}", broken.seq().unwrap_or(0)),
                    summary: broken.to_string(),
                    details: serde_json::json!({ "first_bad_record": broken.seq() }),
                };
                self.monitor.raise(alert, now).await?;
                // Never prune a trail that does not verify: the evidence stays.
                return Ok(upkeep);
            }
        }
        upkeep.verified = true;
        (upkeep.sign_ins_pruned, upkeep.audit_pruned) =
            apply_retention(self.audit.as_ref(), self.sign_ins.as_ref(), self.alerts.as_ref(), self.retention, now).await?;
        Ok(upkeep)
    }

    /// The hourly run between daily ones: a checkpoint, when there is a key. A break found here
    /// is raised as an alert by the next daily check.
    pub async fn hourly(&self, now: OffsetDateTime) {
        if let Some(key) = self.checkpoint_key.as_ref().and_then(|k| checkpoint_key(&k.0).ok())
            && let Err(e) = checkpoint(self.audit.as_ref(), &key, now).await
        {
            tracing::error!(error = %e, "audit checkpoint not signed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_core::audit::AuditEntry;
    use time::macros::datetime;

    fn entry(at: OffsetDateTime) -> AuditEntry {
        AuditEntry {
            at: at.unix_timestamp(),
            actor: "user:u1".into(),
            on_behalf_of: None,
            action: "user.update".into(),
            target: "user:u2".into(),
            tenant: Some("t1".into()),
            before: None,
            after: None,
            address: None,
            user_agent: None,
            reason: None,
        }
    }

    #[tokio::test]
    async fn checkpoints_are_signed_verified_and_anchor_retention() {
        let owned = gatehouse_store::testing::in_memory().await.unwrap();
        let store = owned.as_ref();
        let key = SigningKey::generate(SigningAlg::EdDSA).unwrap();
        let old = datetime!(2018-01-01 00:00 UTC);
        let now = datetime!(2026-06-01 00:00 UTC);
        store.append_audit_batch(&[entry(old), entry(old)]).await.unwrap();
        assert_eq!(checkpoint(store, &key, old).await.unwrap().map(|c| c.seq), Some(2));
        assert_eq!(checkpoint(store, &key, old).await.unwrap(), None, "nothing new to cover");
        store.append_audit(&entry(now)).await.unwrap();
        let public = public_key(&key).unwrap();
        assert_eq!(verify(store, Some(&public)).await.unwrap(), TrailReport { last_seq: 3, records: 3, checkpoints: 1 });

        let other = SigningKey::generate(SigningAlg::EdDSA).unwrap();
        assert!(matches!(checkpoint(store, &other, now).await, Err(TrailError::BadCheckpoint { seq: 2 })), "never signs after a checkpoint it cannot verify");
        assert!(matches!(verify(store, Some(&public_key(&other).unwrap())).await, Err(TrailError::BadCheckpoint { seq: 2 })), "another key's signature");

        let (_, pruned) = apply_retention(store, store, store, RetentionSettings::default(), now).await.unwrap();
        assert_eq!(pruned, 2, "records older than seven years, up to the checkpoint");
        assert_eq!(verify(store, Some(&public)).await.unwrap(), TrailReport { last_seq: 3, records: 1, checkpoints: 1 });
        assert_eq!(apply_retention(store, store, store, RetentionSettings::default(), now).await.unwrap().1, 0, "idempotent");

        // A record changed since the last checkpoint: the key does not vouch for it.
        store.append_audit(&entry(now)).await.unwrap();
        store.tamper_audit_actor(3, "user:mallory").await.unwrap();
        assert!(matches!(checkpoint(store, &key, now).await, Err(TrailError::Broken(b)) if b.seq() == 3));
        assert_eq!(store.checkpoints().await.unwrap().len(), 1, "nothing signed");
    }
}
