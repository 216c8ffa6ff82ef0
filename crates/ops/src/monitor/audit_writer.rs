//! Group commit for audit records appended on their own (reads of personal data, self-service
//! changes, exports): requests queue on a channel and one task appends everything waiting in a
//! single durable transaction, so a burst of N appends costs one fsync, not N. Each caller
//! still waits until its own record is durable. Changes audited together with the data they
//! change do not come here: they append inside their own transaction. It must never answer a
//! caller before its record is durable.

use gatehouse_core::audit::AuditEntry;
use gatehouse_store::{AuditStore, StoreError};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Records appended in one transaction at most.
const MAX_BATCH: usize = 1024;

type Request = (AuditEntry, oneshot::Sender<Result<u64, StoreError>>);

#[derive(Clone)]
pub struct AuditWriter {
    queue: mpsc::Sender<Request>,
}

impl AuditWriter {
    /// Starts the writer task on the current runtime.
    pub fn start(store: Arc<dyn AuditStore>) -> Self {
        let (queue, receiver) = mpsc::channel(8 * MAX_BATCH);
        tokio::spawn(run(store, receiver));
        Self { queue }
    }

    /// Appends one record; returns its sequence number once it is durable.
    pub async fn append(&self, entry: &AuditEntry) -> Result<u64, StoreError> {
        let (done, result) = oneshot::channel();
        self.queue.send((entry.clone(), done)).await.map_err(|_| StoreError::Unavailable("the audit writer stopped".into()))?;
        result.await.map_err(|_| StoreError::Unavailable("the audit writer stopped".into()))?
    }
}

async fn run(store: Arc<dyn AuditStore>, mut receiver: mpsc::Receiver<Request>) {
    let mut batch: Vec<Request> = Vec::with_capacity(MAX_BATCH);
    while receiver.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let entries: Vec<AuditEntry> = batch.iter().map(|(entry, _)| entry.clone()).collect();
        match store.append_audit_batch(&entries).await {
            Ok(last) => {
                let first = last + 1 - entries.len() as u64;
                for (offset, (_, done)) in batch.drain(..).enumerate() {
                    let _ = done.send(Ok(first + offset as u64));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, records = entries.len(), "appending audit records failed");
                let message = e.to_string();
                for (_, done) in batch.drain(..) {
                    let _ = done.send(Err(StoreError::Unavailable(message.clone())));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_core::audit::{GENESIS, verify_chain};

    #[tokio::test]
    async fn concurrent_appends_each_get_their_own_place_in_one_intact_chain() {
        let store = gatehouse_store::testing::in_memory().await.unwrap();
        let writer = AuditWriter::start(store.clone());
        let tasks: Vec<_> = (0..50)
            .map(|i| {
                let writer = writer.clone();
                tokio::spawn(async move {
                    let entry = AuditEntry {
                        at: i,
                        actor: format!("user:u{i}"),
                        on_behalf_of: None,
                        action: "personal_data.read".into(),
                        target: "user:x".into(),
                        tenant: None,
                        before: None,
                        after: None,
                        address: None,
                        user_agent: None,
                        reason: None,
                    };
                    (writer.append(&entry).await.unwrap(), entry)
                })
            })
            .collect();
        let mut seqs = Vec::new();
        for task in tasks {
            let (seq, entry) = task.await.unwrap();
            let stored = store.audit_records(seq - 1, 1).await.unwrap();
            assert_eq!(stored[0].entry, entry, "the sequence number returned is the record's");
            seqs.push(seq);
        }
        seqs.sort_unstable();
        assert_eq!(seqs, (1..=50).collect::<Vec<_>>());
        assert_eq!(verify_chain((0, &GENESIS), &store.audit_records(0, 100).await.unwrap()).unwrap().0, 50);
    }
}
