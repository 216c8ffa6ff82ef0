//! One client connection from accept to close: the TLS handshake, hyper serving HTTP/1.1 or
//! HTTP/2, the request timeout, and a watchdog that closes the connection when it waits too
//! long with no request in flight (see [`Activity::deadline`]), when the registry evicts it at
//! the cap, or when the server shuts down.
//!
//! Why a watchdog besides hyper's own `header_read_timeout`: hyper starts that timer only once
//! the HTTP/1 parser runs, so it never covers the TLS handshake or the auto builder's version
//! sniffing (a socket that never sends a byte stays open), nor HTTP/2; and it restarts the timer
//! the moment a kept-alive connection goes idle, so it cannot tell "idle between requests" from
//! "sending a head slowly". Hyper's timer stays on as a backstop at header + idle timeout, the
//! longest the watchdog ever allows.

use axum::Router;
use axum::extract::connect_info::ConnectInfo;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, Version, header};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use super::activity::{Activity, Tracked, Wait};
use super::registry::Registration;
use crate::settings::ConnectionLimits;

/// How long a connection asked to close (timed out or evicted) may take to finish writing.
const GRACE: Duration = Duration::from_secs(1);
/// Requests one HTTP/2 connection may have open at once (hyper's default is 200). Each open
/// stream holds its head and buffers until the request timeout, so this and the cap on
/// connections bound what a client that opens streams and never sends their bodies can hold.
const MAX_STREAMS_PER_CONNECTION: u32 = 16;
/// The largest HTTP/2 request head (HTTP/1.1 keeps hyper's own buffer limit).
const MAX_HEAD_BYTES: u32 = 64 * 1024;
/// Requests in flight on the whole listener: past this a new request is answered 503 at once
/// rather than held, so memory stays bounded whatever the mix of connections and streams.
const MAX_REQUESTS_IN_FLIGHT: usize = 4096;

/// What every connection of one listener shares.
pub struct Shared {
    builder: auto::Builder<TokioExecutor>,
    router: Router,
    limits: ConnectionLimits,
    in_flight: Arc<tokio::sync::Semaphore>,
}

impl Shared {
    pub fn new(router: Router, limits: ConnectionLimits) -> Self {
        let mut builder = auto::Builder::new(TokioExecutor::new());
        // Without a timer hyper ignores its header timeout; the watchdog is the real bound.
        builder.http1().timer(TokioTimer::new()).header_read_timeout(limits.header_read_timeout + limits.idle_timeout);
        builder.http2().max_concurrent_streams(MAX_STREAMS_PER_CONNECTION).max_header_list_size(MAX_HEAD_BYTES).max_pending_accept_reset_streams(16);
        Self { builder, router, limits, in_flight: Arc::new(tokio::sync::Semaphore::new(MAX_REQUESTS_IN_FLIGHT)) }
    }
}

/// Why a connection is being closed.
#[derive(Clone, Copy, Debug)]
enum Stop {
    TimedOut(Wait),
    Evicted,
    Shutdown,
}

impl Stop {
    fn reason(self) -> &'static str {
        match self {
            Self::TimedOut(Wait::FirstHead) => "no complete request head within the header-read timeout",
            Self::TimedOut(Wait::Head) => "a request head not complete within the header-read timeout",
            Self::TimedOut(Wait::Idle) => "idle past the idle timeout",
            Self::Evicted => "evicted at the connection cap",
            Self::Shutdown => "server shutting down",
        }
    }
}

/// Serves one accepted connection until it closes; dropping `registration` then frees its place
/// under the cap.
pub async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    tls: Option<TlsAcceptor>,
    shared: Arc<Shared>,
    activity: Arc<Activity>,
    registration: Registration,
    mut shutdown: watch::Receiver<bool>,
) {
    match tls {
        None => drive(stream, peer, &shared, &activity, &mut shutdown).await,
        Some(acceptor) => {
            // The handshake counts against the header timeout, so a client that never finishes
            // it is closed like one that never sends a head.
            let handshake = tokio::select! {
                done = acceptor.accept(stream) => done,
                stop = stopped(&activity, &shared.limits, &mut shutdown) => {
                    tracing::debug!(%peer, reason = stop.reason(), "connection closed during the TLS handshake");
                    return;
                }
            };
            match handshake {
                Ok(stream) => drive(stream, peer, &shared, &activity, &mut shutdown).await,
                Err(e) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
            }
        }
    }
    drop(registration);
}

async fn drive<I>(io: I, peer: SocketAddr, shared: &Shared, activity: &Arc<Activity>, shutdown: &mut watch::Receiver<bool>)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let router = shared.router.clone();
    let request_timeout = shared.limits.request_timeout;
    let requests = Arc::clone(activity);
    let listener_in_flight = Arc::clone(&shared.in_flight);
    let service = hyper::service::service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        let version = request.version();
        let in_flight = requests.begin();
        let permit = Arc::clone(&listener_in_flight).try_acquire_owned();
        let response = router.clone().oneshot(request);
        async move {
            let Ok(permit) = permit else {
                drop(in_flight);
                tracing::debug!(%peer, "too many requests in flight on this listener");
                return Ok(overloaded());
            };
            // The handler reads the body: a slow body and a slow handler are both bounded here.
            let outcome = tokio::time::timeout(request_timeout, response).await;
            drop((in_flight, permit));
            match outcome {
                Ok(response) => response,
                Err(_) => {
                    tracing::debug!(%peer, "request timed out");
                    Ok(timed_out(version))
                }
            }
        }
    });
    let conn = shared.builder.serve_connection_with_upgrades(TokioIo::new(Tracked::new(io, Arc::clone(activity))), service);
    tokio::pin!(conn);
    let stop = tokio::select! {
        result = conn.as_mut() => {
            if let Err(e) = result {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
            return;
        }
        stop = stopped(activity, &shared.limits, shutdown) => stop,
    };
    tracing::debug!(%peer, reason = stop.reason(), "closing connection");
    // HTTP/1.1: closes at once when idle, else after the response in progress; HTTP/2: GOAWAY.
    conn.as_mut().graceful_shutdown();
    match stop {
        // The server's drain period bounds this.
        Stop::Shutdown => {
            let _ = conn.await;
        }
        Stop::TimedOut(_) | Stop::Evicted => {
            // A request may have begun just before the stop: let it finish within its timeout.
            // With none in flight there is nothing to finish (a half-sent head is not a
            // request): the connection is dropped now, so its socket is closed before the
            // connection that evicted it takes its place under the cap.
            if activity.in_flight() > 0 {
                let _ = tokio::time::timeout(shared.limits.request_timeout + GRACE, conn).await;
            }
        }
    }
}

/// 503 for a request past the listener's cap on requests in flight.
fn overloaded() -> Response {
    let mut response = (StatusCode::SERVICE_UNAVAILABLE, "too many requests in flight; retry shortly\n").into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

/// 408 for a request that took longer than the request timeout; HTTP/1.1 connections close
/// after it, since the rest of a slow body may still be on its way.
fn timed_out(version: Version) -> Response {
    let mut response = (StatusCode::REQUEST_TIMEOUT, "request timed out\n").into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if version < Version::HTTP_2 {
        headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// Resolves when the connection is to be closed.
async fn stopped(activity: &Activity, limits: &ConnectionLimits, shutdown: &mut watch::Receiver<bool>) -> Stop {
    tokio::select! {
        wait = watchdog(activity, limits) => Stop::TimedOut(wait),
        () = activity.evicted() => Stop::Evicted,
        () = until_shutdown(shutdown) => Stop::Shutdown,
    }
}

async fn until_shutdown(shutdown: &mut watch::Receiver<bool>) {
    // An error means the accept loop is gone, which is a shutdown too.
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// Resolves when the connection has waited past its deadline with nothing in flight.
async fn watchdog(activity: &Activity, limits: &ConnectionLimits) -> Wait {
    loop {
        match activity.deadline(limits) {
            None => activity.changed().await,
            Some((at, wait)) if at <= tokio::time::Instant::now() => return wait,
            Some((at, _)) => {
                tokio::select! {
                    () = tokio::time::sleep_until(at) => {}
                    () = activity.changed() => {}
                }
            }
        }
    }
}
