//! Why the listener could not start: the caller maps these into its own errors.

/// A start-up failure. The messages name the file or setting to fix; the server shows them as
/// its own `TLS configuration: …` and `configuration: …` errors.
#[derive(Debug, thiserror::Error)]
pub enum ListenerError {
    /// The certificate or key cannot be read, or they do not belong together.
    #[error("TLS configuration: {0}")]
    Tls(String),
    /// The connection cap does not fit under the open-file limit.
    #[error("configuration: {0}")]
    Config(String),
}
