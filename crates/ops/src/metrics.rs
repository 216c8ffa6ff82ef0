//! Prometheus text exposition (format 0.0.4) from atomic counters: no registry, no locks on the
//! request path.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use time::OffsetDateTime;

#[derive(Default)]
pub struct Counter(AtomicU64);

impl Counter {
    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

pub struct Metrics {
    started: OffsetDateTime,
    /// Responses by status class 1xx..5xx.
    pub responses: [Counter; 5],
    pub tokens_authorization_code: Counter,
    pub tokens_refresh: Counter,
    pub tokens_client_credentials: Counter,
    pub token_errors: Counter,
    pub logins_succeeded: Counter,
    pub logins_failed: Counter,
    pub logins_throttled: Counter,
    pub code_replays: Counter,
    pub refresh_replays: Counter,
}

impl Metrics {
    pub fn new(started: OffsetDateTime) -> Self {
        Self {
            started,
            responses: Default::default(),
            tokens_authorization_code: Counter::default(),
            tokens_refresh: Counter::default(),
            tokens_client_credentials: Counter::default(),
            token_errors: Counter::default(),
            logins_succeeded: Counter::default(),
            logins_failed: Counter::default(),
            logins_throttled: Counter::default(),
            code_replays: Counter::default(),
            refresh_replays: Counter::default(),
        }
    }

    pub fn record_status(&self, status: u16) {
        if let Some(counter) = self.responses.get(usize::from(status / 100).saturating_sub(1)) {
            counter.inc();
        }
    }

    pub fn render(&self) -> String {
        let mut out = String::with_capacity(2048);
        let mut family = |name: &str, help: &str, kind: &str, samples: &[(&str, u64)]| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (labels, value) in samples {
                let _ = writeln!(out, "{name}{labels} {value}");
            }
        };
        let classes: Vec<(String, u64)> = self.responses.iter().enumerate().map(|(i, c)| (format!("{{class=\"{}xx\"}}", i + 1), c.get())).collect();
        let class_refs: Vec<(&str, u64)> = classes.iter().map(|(l, v)| (l.as_str(), *v)).collect();
        family("gatehouse_http_responses_total", "HTTP responses by status class.", "counter", &class_refs);
        family(
            "gatehouse_tokens_issued_total",
            "Token responses by grant type.",
            "counter",
            &[
                ("{grant_type=\"authorization_code\"}", self.tokens_authorization_code.get()),
                ("{grant_type=\"refresh_token\"}", self.tokens_refresh.get()),
                ("{grant_type=\"client_credentials\"}", self.tokens_client_credentials.get()),
            ],
        );
        family("gatehouse_token_errors_total", "Token endpoint error responses.", "counter", &[("", self.token_errors.get())]);
        family(
            "gatehouse_logins_total",
            "Password sign-in attempts by result.",
            "counter",
            &[
                ("{result=\"success\"}", self.logins_succeeded.get()),
                ("{result=\"failure\"}", self.logins_failed.get()),
                ("{result=\"throttled\"}", self.logins_throttled.get()),
            ],
        );
        family(
            "gatehouse_replays_detected_total",
            "Reused authorization codes and refresh tokens (their grants were revoked).",
            "counter",
            &[("{kind=\"authorization_code\"}", self.code_replays.get()), ("{kind=\"refresh_token\"}", self.refresh_replays.get())],
        );
        family(
            "process_start_time_seconds",
            "Start time of the process since the Unix epoch.",
            "gauge",
            &[("", u64::try_from(self.started.unix_timestamp()).unwrap_or(0))],
        );
        if let Some(rss) = resident_memory_bytes() {
            family("process_resident_memory_bytes", "Resident memory size in bytes.", "gauge", &[("", rss)]);
        }
        out
    }
}

/// Resident set size from `/proc/self/statm` (Linux); `None` elsewhere.
pub fn resident_memory_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::new(OffsetDateTime::UNIX_EPOCH);
        m.record_status(200);
        m.record_status(404);
        m.tokens_client_credentials.inc();
        let text = m.render();
        assert!(text.contains("gatehouse_http_responses_total{class=\"2xx\"} 1"));
        assert!(text.contains("gatehouse_http_responses_total{class=\"4xx\"} 1"));
        assert!(text.contains("gatehouse_tokens_issued_total{grant_type=\"client_credentials\"} 1"));
        assert!(text.contains("# TYPE gatehouse_logins_total counter"));
    }
}
