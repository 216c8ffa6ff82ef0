//! What one connection is doing, shared between hyper's service (requests begin and end), the
//! socket (bytes arrive) and the connection's watchdog, which closes it when it has waited too
//! long with no request in flight. The counters are atomics: the service and the socket touch
//! them on every request, the watchdog only when they tell it something changed.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::settings::ConnectionLimits;

/// `head_started` when no request head has begun since the connection went idle.
const NO_HEAD: u64 = u64::MAX;

/// Why a connection with nothing in flight is closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wait {
    /// Accepted, but no request's headers complete (TLS handshake, silence or a slow head).
    FirstHead,
    /// A later request's head began but did not complete.
    Head,
    /// Nothing since the last response.
    Idle,
}

pub struct Activity {
    opened: Instant,
    in_flight: AtomicUsize,
    /// Requests whose handling began (their heads complete).
    requests: AtomicU64,
    /// Milliseconds after `opened` when the last request in flight finished.
    idle_since: AtomicU64,
    /// Milliseconds after `opened` of the first byte read while idle, or [`NO_HEAD`].
    head_started: AtomicU64,
    /// The client spoke HTTP/2: its control frames (pings, window updates) arrive while it is
    /// idle, so they must not count as the start of a request head.
    http2: AtomicBool,
    /// Wakes the watchdog when the deadline may have moved.
    changed: Notify,
    /// Set off by the registry to close this connection for a new one at the cap.
    evict: Notify,
}

impl Activity {
    pub fn new() -> Self {
        Self::opened_at(Instant::now())
    }

    fn opened_at(opened: Instant) -> Self {
        Self {
            opened,
            in_flight: AtomicUsize::new(0),
            requests: AtomicU64::new(0),
            idle_since: AtomicU64::new(0),
            head_started: AtomicU64::new(NO_HEAD),
            http2: AtomicBool::new(false),
            changed: Notify::new(),
            evict: Notify::new(),
        }
    }

    fn millis(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.opened).as_millis()).unwrap_or(u64::MAX - 1)
    }

    fn at(&self, millis: u64) -> Instant {
        self.opened + std::time::Duration::from_millis(millis)
    }

    /// Requests being handled now: a busy connection is never evicted or timed out as idle.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    /// A request's head is complete and its handling begins; the guard ends it when dropped
    /// (response ready, or the connection gone).
    pub fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.requests.fetch_add(1, Ordering::AcqRel);
        self.head_started.store(NO_HEAD, Ordering::Release);
        InFlight(Arc::clone(self))
    }

    fn end_at(&self, now: Instant) {
        if self.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.idle_since.store(self.millis(now), Ordering::Release);
            self.changed.notify_one();
        }
    }

    /// Bytes arrived: while idle, that is the start of the next request's head. The clock is
    /// read only then, not on every read.
    fn bytes_arrived(&self) {
        if self.in_flight() == 0 && self.head_started.load(Ordering::Acquire) == NO_HEAD {
            self.bytes_at(Instant::now());
        }
    }

    fn bytes_at(&self, now: Instant) {
        if self.in_flight() == 0 && self.head_started.load(Ordering::Acquire) == NO_HEAD {
            let _ = self.head_started.compare_exchange(NO_HEAD, self.millis(now), Ordering::AcqRel, Ordering::Acquire);
            self.changed.notify_one();
        }
    }

    /// When the connection is to be closed if nothing changes, and why; `None` while a request
    /// is in flight (the request timeout bounds it).
    pub fn deadline(&self, limits: &ConnectionLimits) -> Option<(Instant, Wait)> {
        if self.in_flight() > 0 {
            return None;
        }
        if self.requests.load(Ordering::Acquire) == 0 {
            return Some((self.opened + limits.header_read_timeout, Wait::FirstHead));
        }
        let head = self.head_started.load(Ordering::Acquire);
        if head != NO_HEAD && !self.http2.load(Ordering::Acquire) {
            return Some((self.at(head) + limits.header_read_timeout, Wait::Head));
        }
        Some((self.at(self.idle_since.load(Ordering::Acquire)) + limits.idle_timeout, Wait::Idle))
    }

    /// Resolves when the deadline may have moved.
    pub async fn changed(&self) {
        self.changed.notified().await;
    }

    /// Asks the connection to close (a permit is kept if its task is not waiting yet).
    pub fn evict(&self) {
        self.evict.notify_one();
    }

    pub async fn evicted(&self) {
        self.evict.notified().await;
    }
}

/// One request in flight; dropping it ends the request.
pub struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.end_at(Instant::now());
    }
}

/// The connection's byte stream (decrypted, under TLS), noting when bytes arrive and whether
/// the client opened with the HTTP/2 preface.
pub struct Tracked<I> {
    inner: I,
    activity: Arc<Activity>,
    /// The first bytes, until there are enough to tell HTTP/2's preface (`PRI * HTTP/2.0`).
    prefix: [u8; 3],
    prefix_len: usize,
}

impl<I> Tracked<I> {
    pub fn new(inner: I, activity: Arc<Activity>) -> Self {
        Self { inner, activity, prefix: [0; 3], prefix_len: 0 }
    }

    fn saw(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        if self.prefix_len < self.prefix.len() {
            for (slot, byte) in self.prefix.iter_mut().skip(self.prefix_len).zip(bytes) {
                *slot = *byte;
                self.prefix_len += 1;
            }
            if self.prefix_len == self.prefix.len() && &self.prefix == b"PRI" {
                self.activity.http2.store(true, Ordering::Release);
            }
        }
        self.activity.bytes_arrived();
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for Tracked<I> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            let this = &mut *self;
            this.saw(buf.filled().get(before..).unwrap_or_default());
        }
        polled
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Tracked<I> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(mut self: Pin<&mut Self>, cx: &mut Context<'_>, bufs: &[io::IoSlice<'_>]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn limits() -> ConnectionLimits {
        ConnectionLimits {
            max_connections: None,
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            request_timeout: Duration::from_secs(30),
        }
    }

    #[test]
    fn a_new_connection_has_the_header_timeout_from_its_accept() {
        let opened = Instant::now();
        let activity = Arc::new(Activity::opened_at(opened));
        assert_eq!(activity.deadline(&limits()), Some((opened + Duration::from_secs(10), Wait::FirstHead)));
        // Bytes of a slow first head do not extend it.
        activity.bytes_at(opened + Duration::from_secs(5));
        assert_eq!(activity.deadline(&limits()), Some((opened + Duration::from_secs(10), Wait::FirstHead)));
    }

    #[test]
    fn no_deadline_while_a_request_is_in_flight_then_the_idle_timeout() {
        let opened = Instant::now();
        let activity = Arc::new(Activity::opened_at(opened));
        let first = activity.begin();
        let second = activity.begin();
        assert_eq!(activity.deadline(&limits()), None);
        std::mem::forget(first);
        activity.end_at(opened + Duration::from_secs(1));
        assert_eq!(activity.deadline(&limits()), None, "one request is still in flight");
        std::mem::forget(second);
        activity.end_at(opened + Duration::from_secs(3));
        assert_eq!(activity.deadline(&limits()), Some((opened + Duration::from_secs(63), Wait::Idle)));
    }

    #[test]
    fn a_later_head_has_the_header_timeout_from_its_first_byte() {
        let opened = Instant::now();
        let activity = Arc::new(Activity::opened_at(opened));
        std::mem::forget(activity.begin());
        activity.end_at(opened + Duration::from_secs(1));
        activity.bytes_at(opened + Duration::from_secs(20));
        activity.bytes_at(opened + Duration::from_secs(25));
        assert_eq!(activity.deadline(&limits()), Some((opened + Duration::from_secs(30), Wait::Head)));
        // The head completes: the next idle period starts afresh.
        let request = activity.begin();
        drop(request);
        assert_eq!(activity.deadline(&limits()).map(|(_, wait)| wait), Some(Wait::Idle));
    }

    #[test]
    fn http2_frames_while_idle_are_not_a_request_head() {
        let opened = Instant::now();
        let activity = Arc::new(Activity::opened_at(opened));
        let mut stream = Tracked::new(tokio::io::empty(), Arc::clone(&activity));
        stream.saw(b"PR");
        stream.saw(b"I * HTTP/2.0\r\n\r\nSM\r\n\r\n");
        assert!(activity.http2.load(Ordering::Acquire));
        std::mem::forget(activity.begin());
        activity.end_at(opened + Duration::from_secs(1));
        stream.saw(b"ping frame");
        assert_eq!(activity.deadline(&limits()), Some((opened + Duration::from_secs(61), Wait::Idle)));
        let plain = Arc::new(Activity::opened_at(opened));
        Tracked::new(tokio::io::empty(), Arc::clone(&plain)).saw(b"GET / HTTP/1.1\r\n");
        assert!(!plain.http2.load(Ordering::Acquire));
    }
}
