//! What the listener needs to know, filled in by its caller from its own configuration: where
//! the TLS certificate and key are, and the bounds on every connection.

use std::path::PathBuf;

/// A PEM certificate chain and its private key, read at start-up (see [`crate::tls_acceptor`]).
#[derive(Clone, Debug)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Bounds on every client connection, so slow or idle clients cannot hold sockets (and file
/// descriptors) forever (see [`crate::serve`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// The most client connections open at once. At the cap a new connection evicts the oldest
    /// one with no request in flight; when every one is busy the new one is closed at once.
    /// `None`: [`ConnectionLimits::DEFAULT_MAX`], lowered to fit the open-file limit; a number set
    /// by the operator that does not fit is a start-up error instead.
    pub max_connections: Option<usize>,
    /// From accepting a connection (TLS handshake included) to its first request's complete
    /// headers, and from the first byte of each later request to its complete headers.
    pub header_read_timeout: std::time::Duration,
    /// How long a connection with no request in flight and none begun stays open after its
    /// last response.
    pub idle_timeout: std::time::Duration,
    /// From complete headers to the response's head: a slow body or a slow handler is answered
    /// 408 and the connection closed.
    pub request_timeout: std::time::Duration,
}

impl ConnectionLimits {
    pub const DEFAULT_MAX: usize = 10_000;
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            max_connections: None,
            header_read_timeout: std::time::Duration::from_secs(10),
            // Long enough for a browser's next click to reuse its connection, shorter than most
            // clients' own pools, so they rarely send on a connection being closed.
            idle_timeout: std::time::Duration::from_secs(60),
            // Argon2 waits its turn under load; 30 s still fits a busy sign-in.
            request_timeout: std::time::Duration::from_secs(30),
        }
    }
}
