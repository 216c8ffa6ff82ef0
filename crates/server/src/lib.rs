//! Gatehouse's HTTP server: the OpenID Connect endpoints, the sign-in pages and the operational
//! endpoints, over the store traits. This is the only crate that knows HTTP. The operations
//! (`gatehouse-ops`) and the senders (`gatehouse-delivery`) live below it; here their background
//! jobs are given their contexts and scheduled ([`Server::run`]).

pub mod config;
pub mod console;
pub mod error;
pub mod http;
/// The sockets layer (`gatehouse-listener`): TLS, connection timeouts and cap, graceful shutdown.
use gatehouse_listener as listener;
pub mod messages;
mod pages;
mod router;
pub use router::router;
pub mod state;

pub use config::{
    AlertSinkSettings, CheckpointKey, ConnectionLimits, MonitoringSettings, NotifierSettings, RetentionSettings, ServerConfig, SmsSettings, TlsFiles,
    TokenLifetimes,
};
pub use error::ServerError;
/// Senders of text messages and notices (`gatehouse-delivery`), under their old path.
pub use gatehouse_delivery as delivery;
/// The in-memory rate limits (`gatehouse-ops`), under their old path.
pub(crate) use gatehouse_ops::rate_limit;
/// The operations (`gatehouse-ops`), under their old paths.
pub use gatehouse_ops::{backups, metrics, monitor, privacy};
/// Second factors (`gatehouse-signin`), under their old path.
pub use gatehouse_signin::factors as mfa;
pub use state::AppState;

use gatehouse_ops::upkeep::{AuditUpkeep, CacheReload, Maintenance};
use gatehouse_store::Store;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// A bound, ready server: call [`Server::run`] to serve.
pub struct Server {
    listener: TcpListener,
    state: AppState,
    tls: Option<tokio_rustls::TlsAcceptor>,
    /// The connection cap, settled against the open-file limit.
    max_connections: usize,
}

impl Server {
    /// Binds the listen address and prepares state (generating signing keys on first start).
    pub async fn bind(config: ServerConfig, store: Arc<dyn Store>, pepper: &[u8]) -> Result<Self, ServerError> {
        let listener = TcpListener::bind(config.listen).await?;
        Self::with_listener(listener, config, store, pepper).await
    }

    /// Like [`Server::bind`] with a listener the caller bound (to learn an ephemeral port first).
    /// Raises the process's soft open-file limit to the hard limit, and refuses a connection
    /// cap that does not fit under it.
    pub async fn with_listener(listener: TcpListener, config: ServerConfig, store: Arc<dyn Store>, pepper: &[u8]) -> Result<Self, ServerError> {
        let max_connections = listener::open_files::prepare(&config.connections)?;
        let tls = config.tls.as_ref().map(listener::tls_acceptor).transpose()?;
        console::register(store.as_ref(), &config.issuer, state::now()).await?;
        let state = AppState::new(config, store, pepper).await?;
        Ok(Self { listener, state, tls, max_connections })
    }

    pub fn local_addr(&self) -> Result<SocketAddr, ServerError> {
        Ok(self.listener.local_addr()?)
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` resolves, then drains connections and closes the store.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let state = self.state.clone();
        let (audit_upkeep, maintenance) = upkeep(&state);
        let maintenance = tokio::spawn(maintenance.run());
        let alerts = tokio::spawn(monitor::run_dispatcher(monitor::DispatchJob { monitor: Arc::clone(&state.monitor), clock: state::now }));
        let audit_upkeep = tokio::spawn(audit_upkeep.run());
        let backups = state.config.backups.clone().map(|plan| {
            let job = backups::BackupJob { store: state.store.clone(), plan, monitor: Arc::clone(&state.monitor), clock: state::now };
            tokio::spawn(backups::run(job))
        });
        let router = router::router(state.clone());
        let limits = state.config.connections;
        listener::serve(self.listener, self.tls, router, limits, self.max_connections, shutdown, Duration::from_secs(10)).await;
        maintenance.abort();
        alerts.abort();
        audit_upkeep.abort();
        if let Some(backups) = backups {
            backups.abort();
        }
        state.store.close().await;
    }
}

/// The recurring jobs' contexts: the audit trail's upkeep with the tenant lifecycle, and the
/// maintenance tick. Both reload this process's caches through the state.
fn upkeep(state: &AppState) -> (AuditUpkeep, Maintenance) {
    let monitoring = &state.config.monitoring;
    let caches: Arc<dyn CacheReload> = Arc::new(state.clone());
    let trail = monitor::trail::TrailJob {
        audit: state.store.clone(),
        sign_ins: state.store.clone(),
        alerts: state.store.clone(),
        monitor: Arc::clone(&state.monitor),
        checkpoint_key: monitoring.checkpoint_key.clone(),
        retention: monitoring.retention,
    };
    let lifecycle = privacy::lifecycle::LifecycleJob {
        store: state.store.clone(),
        reports_dir: state.config.reports_dir.clone(),
        outbox: Arc::clone(&state.factors.services.outbox),
    };
    let audit = AuditUpkeep {
        trail,
        lifecycle,
        backups: state.config.backups.clone(),
        snapshots: state.store.clone(),
        monitor: Arc::clone(&state.monitor),
        caches: Arc::clone(&caches),
        clock: state::now,
    };
    let maintenance = Maintenance {
        grants: state.store.clone(),
        keys: state.store.clone(),
        caches,
        interval: state.config.reload_interval,
        key_publication_grace: state.config.key_publication_grace(),
        clock: state::now,
    };
    (audit, maintenance)
}
