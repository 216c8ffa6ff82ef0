//! Delivers stored alerts to the sinks. Runs beside the server: an alert raised during a
//! sign-in is written to the store and the request moves on; this loop sends it, remembering
//! which sinks have it, and retries the others with exponential backoff (2 s doubling to 10
//! min, for about a day) before giving up with the error kept on the alert. It must never
//! hold up the request that raised an alert.

use gatehouse_store::{DeliveryReport, SecurityStore};
use std::sync::Arc;
use time::{Duration, OffsetDateTime};

use super::Monitor;
use crate::Clock;

const MAX_ATTEMPTS: u32 = 150;
const MAX_BACKOFF_SECONDS: i64 = 600;

fn backoff(attempts: u32) -> Duration {
    Duration::seconds((2_i64 << attempts.min(16)).min(MAX_BACKOFF_SECONDS))
}

/// Sends every alert due at `now`; returns how many reached every sink.
pub async fn deliver_due(monitor: &Monitor, store: &dyn SecurityStore, now: OffsetDateTime) -> Result<usize, gatehouse_store::StoreError> {
    let due = store.alerts_due(now, 100).await?;
    let mut complete = 0;
    for pending in due {
        let mut delivered = pending.delivered_to.clone();
        let mut last_error = None;
        for sink in monitor.sinks.iter().filter(|s| !pending.delivered_to.iter().any(|d| d == s.name())) {
            match sink.send(&pending.alert).await {
                Ok(()) => delivered.push(sink.name().to_owned()),
                Err(e) => {
                    tracing::warn!(alert = %pending.alert.id, sink = sink.name(), error = %e, attempt = pending.attempts + 1, "alert delivery failed; will retry");
                    last_error = Some(format!("{}: {e}", sink.name()));
                }
            }
        }
        let next_attempt_at = match &last_error {
            None => {
                complete += 1;
                None
            }
            Some(_) if pending.attempts + 1 >= MAX_ATTEMPTS => {
                tracing::error!(alert = %pending.alert.id, "alert delivery given up after {MAX_ATTEMPTS} attempts");
                None
            }
            Some(_) => Some(now + backoff(pending.attempts)),
        };
        store.record_delivery(&pending.alert.id, &DeliveryReport { delivered_to: delivered, next_attempt_at, last_error }).await?;
    }
    Ok(complete)
}

/// What the dispatcher uses: the monitor (its sinks, its wake-up, and the store its alerts are
/// in) and the clock.
pub struct DispatchJob {
    pub monitor: Arc<Monitor>,
    pub clock: Clock,
}

/// The dispatcher loop: wakes when an alert is raised, and every second for retries.
pub async fn run(job: DispatchJob) {
    let DispatchJob { monitor, clock } = job;
    if monitor.sinks.is_empty() {
        return;
    }
    monitor.probe_sinks().await;
    loop {
        let _ = tokio::time::timeout(std::time::Duration::from_secs(1), monitor.wake.notified()).await;
        if let Err(e) = deliver_due(&monitor, monitor.store(), clock()).await {
            tracing::warn!(error = %e, "reading alerts to deliver failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_a_ceiling() {
        assert_eq!(backoff(0), Duration::seconds(2));
        assert_eq!(backoff(1), Duration::seconds(4));
        assert_eq!(backoff(20), Duration::seconds(MAX_BACKOFF_SECONDS));
    }
}
