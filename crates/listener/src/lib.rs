//! Accepting connections, plain or TLS (rustls: TLS 1.3 preferred, 1.2 the minimum), under a
//! cap and with timeouts on every connection, and draining them on shutdown so in-flight
//! requests finish.
//!
//! Generic infrastructure: it serves whatever [`Router`] it is given under the [`ConnectionLimits`]
//! and [`TlsFiles`] its caller filled in, and knows nothing of the routes, pages or state behind it.

mod activity;
mod connection;
mod error;
pub mod open_files;
mod registry;
mod settings;

use axum::Router;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;

use activity::Activity;
pub use error::ListenerError;
use registry::{Admitted, Full, Registry};
pub use settings::{ConnectionLimits, TlsFiles};

/// Builds the TLS acceptor; bad files are a start-up error naming the file.
pub fn tls_acceptor(files: &TlsFiles) -> Result<TlsAcceptor, ListenerError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .and_then(|iter| iter.collect())
        .map_err(|e| ListenerError::Tls(format!("cannot read certificates from {}: {e}", files.cert.display())))?;
    if certs.is_empty() {
        return Err(ListenerError::Tls(format!("{} holds no certificate", files.cert.display())));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| ListenerError::Tls(format!("cannot read private key from {}: {e}", files.key.display())))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| ListenerError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| ListenerError::Tls(format!("certificate and key do not match: {e}")))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Serves `router` on `listener` until `shutdown` resolves, then waits up to `drain` for open
/// requests to complete. At most `max_connections` connections are open at once (see
/// [`registry`]), each bounded by `limits`' timeouts (see [`connection`]).
pub async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    router: Router,
    limits: ConnectionLimits,
    max_connections: usize,
    shutdown: impl Future<Output = ()>,
    drain: Duration,
) {
    let shared = Arc::new(connection::Shared::new(router, limits));
    let registry = Arc::new(Registry::new(max_connections));
    // Every connection holds a receiver: `closed()` resolves when the last one is gone.
    let (stop, stopping) = watch::channel(false);
    let mut accept_errors = LogThrottle::new(Duration::from_secs(1));
    let mut refusals = LogThrottle::new(Duration::from_secs(1));
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of descriptors every accept fails at once: one line a second, not
                    // thousands, and a pause so the loop does not spin.
                    if let Some(suppressed) = accept_errors.allow(Instant::now()) {
                        tracing::warn!(error = %e, suppressed, "accept failed{}", suppressed_note(suppressed));
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let activity = Arc::new(Activity::new());
        let registration = match registry.admit(&activity) {
            Ok((registration, Admitted::Free)) => registration,
            Ok((registration, Admitted::Evicted)) => {
                tracing::debug!(%peer, max_connections, "connection cap reached; closing the oldest idle connection");
                registration
            }
            Err(Full) => {
                drop(stream);
                if let Some(suppressed) = refusals.allow(Instant::now()) {
                    tracing::warn!(%peer, max_connections, suppressed, "connection cap reached and every connection has a request in flight; closing new connections{}", suppressed_note(suppressed));
                }
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(connection::serve(stream, peer, tls.clone(), Arc::clone(&shared), activity, registration, stopping.clone()));
    }
    drop(listener);
    drop(stopping);
    let _ = stop.send(true);
    tokio::select! {
        () = stop.closed() => tracing::info!("all connections drained"),
        () = tokio::time::sleep(drain) => tracing::warn!("drain timeout; closing remaining connections"),
    }
}

fn suppressed_note(suppressed: u64) -> String {
    if suppressed == 0 { String::new() } else { format!(" ({suppressed} more in the last second not logged)") }
}

/// Lets a repeated log line through at most once a period, counting the ones held back.
struct LogThrottle {
    period: Duration,
    last: Option<Instant>,
    suppressed: u64,
}

impl LogThrottle {
    fn new(period: Duration) -> Self {
        Self { period, last: None, suppressed: 0 }
    }

    /// `Some(held back since the last line)` when a line may be logged now.
    fn allow(&mut self, now: Instant) -> Option<u64> {
        match self.last {
            Some(last) if now.saturating_duration_since(last) < self.period => {
                self.suppressed += 1;
                None
            }
            _ => {
                self.last = Some(now);
                Some(std::mem::take(&mut self.suppressed))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_log_line_is_let_through_once_a_second_with_the_count_held_back() {
        let start = Instant::now();
        let mut throttle = LogThrottle::new(Duration::from_secs(1));
        assert_eq!(throttle.allow(start), Some(0));
        let held: Vec<Option<u64>> = (1..=20).map(|i| throttle.allow(start + Duration::from_millis(i * 40))).collect();
        assert!(held.iter().all(Option::is_none), "{held:?}");
        assert_eq!(throttle.allow(start + Duration::from_millis(1000)), Some(20));
        assert_eq!(throttle.allow(start + Duration::from_millis(1001)), None);
        assert_eq!(throttle.allow(start + Duration::from_millis(2500)), Some(1));
        assert_eq!(suppressed_note(0), "");
        assert!(suppressed_note(20).contains("20 more"));
    }
}
