//! Process-wide measurements for `GET /metrics`: the event store's append and commit
//! latency and batch sizes, HTTP latency per route, ingest outcomes per rejection code,
//! live SSE clients, SLA breaches recorded.
//!
//! Hand-written on purpose: each measurement is a few relaxed atomic adds (the store's
//! writer and syncer threads record into it), and the Prometheus text exposition is a
//! loop over them — a metrics crate would add a registry and locks to the hot path for
//! nothing crisisd needs. Labels are route templates, rejection codes and the like:
//! bounded sets, never an id or anything a passenger wrote.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

/// Upper bounds of latency buckets, in seconds.
const LATENCY_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];
/// Upper bounds of batch-size buckets, in events.
const BATCH_BUCKETS: [f64; 10] = [
    1.0, 2.0, 4.0, 8.0, 16.0, 64.0, 256.0, 1024.0, 4096.0, 16384.0,
];

/// A Prometheus histogram: cumulative counts per bucket, sum and count.
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [f64],
    /// Observations per bucket (not cumulative), the last one above every bound.
    counts: Vec<AtomicU64>,
    /// Sum of observations, in millionths of the unit.
    sum_micros: AtomicU64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Histogram {
        Histogram {
            bounds,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_micros: AtomicU64::new(0),
        }
    }

    /// Records one observation of `value` (seconds, or events).
    pub fn observe(&self, value: f64) {
        let bucket = self
            .bounds
            .iter()
            .position(|bound| value <= *bound)
            .unwrap_or(self.bounds.len());
        self.counts[bucket].fetch_add(1, Ordering::Relaxed);
        self.sum_micros
            .fetch_add((value * 1e6) as u64, Ordering::Relaxed);
    }

    pub fn observe_duration(&self, elapsed: Duration) {
        self.observe(elapsed.as_secs_f64());
    }

    /// Observations so far.
    pub fn count(&self) -> u64 {
        self.counts.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        let mut cumulative = 0;
        for (bound, count) in self.bounds.iter().zip(&self.counts) {
            cumulative += count.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {cumulative}"
            );
        }
        let total = self.count();
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {total}");
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let braces = |s: &str| {
            if s.is_empty() {
                String::new()
            } else {
                format!("{{{s}}}")
            }
        };
        let _ = writeln!(out, "{name}_sum{} {sum}", braces(labels));
        let _ = writeln!(out, "{name}_count{} {total}", braces(labels));
    }
}

/// Every measurement of the process.
#[derive(Debug)]
pub struct Metrics {
    /// An append, from its request to its durable answer.
    pub append_seconds: Histogram,
    /// Making applied batches durable (sled flush and fdatasync).
    pub commit_seconds: Histogram,
    /// Events per batch the writer applied.
    pub batch_events: Histogram,
    /// HTTP answers per method and route template.
    http: Mutex<BTreeMap<(String, String), Histogram>>,
    /// Ingest outcomes per edge (`nats`, `http`) and code (`accepted` or a rejection
    /// code).
    ingest: Mutex<BTreeMap<(&'static str, String), u64>>,
    /// Server-Sent Events clients connected now.
    pub sse_clients: AtomicI64,
    /// Service-level breaches crisisd recorded.
    pub sla_breaches: AtomicU64,
}

/// The process's measurements.
pub static METRICS: LazyLock<Metrics> = LazyLock::new(|| Metrics {
    append_seconds: Histogram::new(&LATENCY_BUCKETS),
    commit_seconds: Histogram::new(&LATENCY_BUCKETS),
    batch_events: Histogram::new(&BATCH_BUCKETS),
    http: Mutex::new(BTreeMap::new()),
    ingest: Mutex::new(BTreeMap::new()),
    sse_clients: AtomicI64::new(0),
    sla_breaches: AtomicU64::new(0),
});

impl Metrics {
    /// One HTTP answer to `method` on `route` (a route template such as
    /// `/v1/incidents/{id}`, never a concrete path) after `elapsed`.
    pub fn http_answered(&self, method: &str, route: &str, elapsed: Duration) {
        let mut http = self.http.lock().unwrap_or_else(|e| e.into_inner());
        http.entry((method.to_owned(), route.to_owned()))
            .or_insert_with(|| Histogram::new(&LATENCY_BUCKETS))
            .observe_duration(elapsed);
    }

    /// One ingest message on `edge`: `accepted`, or the code it was rejected with.
    pub fn ingested(&self, edge: &'static str, code: &str) {
        let mut ingest = self.ingest.lock().unwrap_or_else(|e| e.into_inner());
        *ingest.entry((edge, code.to_owned())).or_default() += 1;
    }

    /// The Prometheus text of every measurement.
    pub fn render(&self, out: &mut String) {
        for (name, help, histogram) in [
            (
                "crisisd_store_append_seconds",
                "Appends, from request to durable answer.",
                &self.append_seconds,
            ),
            (
                "crisisd_store_commit_seconds",
                "Making applied batches durable: sled flush and fdatasync.",
                &self.commit_seconds,
            ),
            (
                "crisisd_store_batch_events",
                "Events per batch the store's writer applied.",
                &self.batch_events,
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} histogram");
            histogram.render(out, name, "");
        }
        let name = "crisisd_http_request_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} HTTP requests until their answer's head, per method and route."
        );
        let _ = writeln!(out, "# TYPE {name} histogram");
        for ((method, route), histogram) in
            self.http.lock().unwrap_or_else(|e| e.into_inner()).iter()
        {
            histogram.render(out, name, &format!("method=\"{method}\",route=\"{route}\""));
        }
        let _ = writeln!(
            out,
            "# HELP crisisd_ingest_messages_total Ingest messages per edge and outcome: accepted, or the rejection code."
        );
        let _ = writeln!(out, "# TYPE crisisd_ingest_messages_total counter");
        for ((edge, code), n) in self.ingest.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            let _ = writeln!(
                out,
                "crisisd_ingest_messages_total{{edge=\"{edge}\",code=\"{code}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP crisisd_sse_clients Server-Sent Events streams open now."
        );
        let _ = writeln!(out, "# TYPE crisisd_sse_clients gauge");
        let _ = writeln!(
            out,
            "crisisd_sse_clients {}",
            self.sse_clients.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP crisisd_sla_breaches_total Complaint service levels crisisd recorded as breached."
        );
        let _ = writeln!(out, "# TYPE crisisd_sla_breaches_total counter");
        let _ = writeln!(
            out,
            "crisisd_sla_breaches_total {}",
            self.sla_breaches.load(Ordering::Relaxed)
        );
    }
}

/// Counts an SSE client for as long as it lives.
pub struct SseClient(());

impl SseClient {
    pub fn connected() -> SseClient {
        METRICS.sse_clients.fetch_add(1, Ordering::Relaxed);
        SseClient(())
    }
}

impl Drop for SseClient {
    fn drop(&mut self) {
        METRICS.sse_clients.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_histogram_renders_cumulative_buckets_sum_and_count() {
        let h = Histogram::new(&BATCH_BUCKETS);
        for n in [1.0, 3.0, 3.0, 100_000.0] {
            h.observe(n);
        }
        let mut out = String::new();
        h.render(&mut out, "x", "");
        assert!(out.contains("x_bucket{le=\"1\"} 1\n"), "{out}");
        assert!(out.contains("x_bucket{le=\"4\"} 3\n"), "{out}");
        assert!(out.contains("x_bucket{le=\"16384\"} 3\n"), "{out}");
        assert!(out.contains("x_bucket{le=\"+Inf\"} 4\n"), "{out}");
        assert!(out.contains("x_sum 100007\n"), "{out}");
        assert!(out.contains("x_count 4\n"), "{out}");
        let mut labelled = String::new();
        h.render(&mut labelled, "x", "route=\"/v1\"");
        assert!(labelled.contains("x_bucket{route=\"/v1\",le=\"1\"} 1\n"));
        assert!(labelled.contains("x_count{route=\"/v1\"} 4\n"));
    }
}
