//! The open-file limit: every connection holds a file descriptor, so the connection cap only
//! protects the server when the process may open that many files. At start-up the soft limit
//! is raised to the hard limit (what the operator or service manager allows) and a cap that
//! still does not fit is refused, rather than found out as "Too many open files" under load.

use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};

use crate::error::ListenerError;
use crate::settings::ConnectionLimits;

/// Descriptors kept for everything that is not a client connection: the listener, the store's
/// database and journal files, logs, outgoing connections (webhooks, SMTP, syslog, S3) and
/// backups being written.
pub const RESERVE: u64 = 256;

/// Raises the soft open-file limit to the hard one and settles the connection cap: the
/// operator's, checked against the limit, or the default lowered to fit it.
pub fn prepare(limits: &ConnectionLimits) -> Result<usize, ListenerError> {
    let before = getrlimit(Resource::Nofile);
    let soft = raise(&before);
    let hard = before.maximum.unwrap_or(u64::MAX);
    let cap = settle(limits.max_connections, soft, hard)?;
    if limits.max_connections.is_none() && cap < ConnectionLimits::DEFAULT_MAX {
        tracing::warn!(
            cap,
            soft_limit = soft,
            "the open-file limit only fits {cap} connections; raise it (ulimit -n, LimitNOFILE=) for the default {}",
            ConnectionLimits::DEFAULT_MAX
        );
    }
    Ok(cap)
}

/// The soft limit after trying to raise it to the hard one.
fn raise(before: &Rlimit) -> u64 {
    let soft = before.current.unwrap_or(u64::MAX);
    if before.current == before.maximum {
        tracing::info!("open files: soft limit {} (already the hard limit)", show(before.current));
        return soft;
    }
    let wanted = Rlimit { current: before.maximum, maximum: before.maximum };
    match setrlimit(Resource::Nofile, wanted) {
        Ok(()) => {
            let after = getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX);
            tracing::info!("open files: soft limit raised from {} to {}", show(before.current), show(Some(after)));
            after
        }
        Err(e) => {
            tracing::warn!(error = %e, "open files: cannot raise the soft limit {} to the hard limit {}", show(before.current), show(before.maximum));
            soft
        }
    }
}

fn show(limit: Option<u64>) -> String {
    limit.map_or_else(|| "unlimited".to_owned(), |n| n.to_string())
}

/// The connection cap for a soft open-file limit: the operator's number if it fits beside
/// [`RESERVE`], else a start-up error naming both numbers and the setting; without one the
/// default, lowered to fit.
pub fn settle(configured: Option<usize>, soft: u64, hard: u64) -> Result<usize, ListenerError> {
    let room = soft.saturating_sub(RESERVE);
    match configured {
        Some(max) if u64::try_from(max).map_or(true, |max| max > room) => Err(ListenerError::Config(format!(
            "connections.max (--max-connections) is {max}, which with {RESERVE} files reserved for the database, logs and outgoing connections needs an open-file limit of {}, but the limit is {soft} (hard limit {}); lower connections.max or raise the limit (ulimit -n, systemd LimitNOFILE=)",
            u64::try_from(max).unwrap_or(u64::MAX).saturating_add(RESERVE),
            show(Some(hard).filter(|h| *h != u64::MAX)),
        ))),
        Some(max) => Ok(max),
        None if room == 0 => Err(ListenerError::Config(format!(
            "the open-file limit is {soft} (hard limit {}), which leaves no room for connections beside the {RESERVE} files reserved for the database, logs and outgoing connections; raise it (ulimit -n, systemd LimitNOFILE=)",
            show(Some(hard).filter(|h| *h != u64::MAX)),
        ))),
        None => Ok(usize::try_from(room).map_or(ConnectionLimits::DEFAULT_MAX, |room| room.min(ConnectionLimits::DEFAULT_MAX))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_configured_cap_must_fit_beside_the_reserve() {
        assert_eq!(settle(Some(768), 1024, 4096).unwrap(), 768);
        let err = settle(Some(769), 1024, 4096).unwrap_err().to_string();
        assert!(
            err.contains("--max-connections")
                && err.contains("769")
                && err.contains("1025")
                && err.contains("limit is 1024")
                && err.contains("hard limit 4096"),
            "{err}"
        );
        assert!(settle(Some(usize::MAX), u64::MAX, u64::MAX).is_err());
    }

    #[test]
    fn the_default_cap_shrinks_to_fit_the_limit() {
        assert_eq!(settle(None, 1_048_576, 1_048_576).unwrap(), ConnectionLimits::DEFAULT_MAX);
        assert_eq!(settle(None, u64::MAX, u64::MAX).unwrap(), ConnectionLimits::DEFAULT_MAX);
        assert_eq!(settle(None, 1024, 1024).unwrap(), 768);
        let err = settle(None, 200, 200).unwrap_err().to_string();
        assert!(err.contains("200"), "{err}");
    }
}
