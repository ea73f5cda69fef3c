//! `GET /metrics`: Prometheus text format — the process's measurements
//! ([`crate::metrics`]) and the store's, read models' and followers' positions. Labels
//! are projection and follower names, route templates, rejection codes and status
//! classes only — never ids or anything a passenger wrote.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use chrono::Utc;

use super::AppState;
use crate::projection::{ProjectionLag, ProjectionStatus};

/// Log followers whose checkpoints are reported (publisher and reactors).
const FOLLOWERS: [&str; 4] = [
    crate::bus::publisher::CHECKPOINT_NAME,
    <crate::app::spikes::SpikeReaction as crate::app::reactor::Reaction>::CHECKPOINT,
    <crate::app::entitlements::EntitlementReaction as crate::app::reactor::Reaction>::CHECKPOINT,
    <crate::app::settlements::SettlementReaction as crate::app::reactor::Reaction>::CHECKPOINT,
];

/// HTTP answers counted by status class (1xx..5xx).
#[derive(Debug, Default)]
pub struct HttpCounters {
    by_class: [AtomicU64; 5],
}

impl HttpCounters {
    pub fn count(&self, status: u16) {
        if let Some(counter) = self.by_class.get(usize::from(status / 100).wrapping_sub(1)) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }
}

pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let mut out = String::new();
    crate::metrics::METRICS.render(&mut out);
    let head = state.store().head().position;
    let _ = writeln!(
        out,
        "# HELP crisisd_store_head_position Last committed position of the event log."
    );
    let _ = writeln!(out, "# TYPE crisisd_store_head_position gauge");
    let _ = writeln!(out, "crisisd_store_head_position {head}");
    let now = Utc::now();
    let projections: Vec<_> = state
        .projection_names()
        .filter_map(|name| state.projection(name))
        .filter_map(|status| Some((status.lag(state.store(), now).ok()?, status)))
        .collect();
    type Read = fn(&ProjectionLag, &ProjectionStatus) -> f64;
    let families: [(&str, &str, &str, Read); 6] = [
        (
            "crisisd_projection_position",
            "gauge",
            "Last position a read model applied.",
            |l, _| l.position as f64,
        ),
        (
            "crisisd_projection_lag_events",
            "gauge",
            "Events committed but not yet applied by a read model.",
            |l, _| l.lag_events as f64,
        ),
        (
            "crisisd_projection_lag_seconds",
            "gauge",
            "Age of the oldest event a read model has not applied.",
            |l, _| l.lag_seconds,
        ),
        (
            "crisisd_projection_failed",
            "gauge",
            "1 when a read model stopped on an event it cannot apply.",
            |l, _| f64::from(u8::from(l.failed.is_some())),
        ),
        (
            "crisisd_projection_batches_total",
            "counter",
            "Batches a read model committed since the service started.",
            |_, s| s.batches as f64,
        ),
        (
            "crisisd_projection_keys_written_total",
            "counter",
            "Keys a read model wrote to its tree (sled inserts and removals, checkpoints included) since the service started.",
            |_, s| s.keys_written as f64,
        ),
    ];
    for (metric, kind, help, value) in families {
        let _ = writeln!(out, "# HELP {metric} {help}");
        let _ = writeln!(out, "# TYPE {metric} {kind}");
        for (lag, status) in &projections {
            let _ = writeln!(
                out,
                "{metric}{{projection=\"{}\"}} {}",
                lag.name,
                value(lag, status)
            );
        }
    }
    let _ = writeln!(
        out,
        "# HELP crisisd_follower_lag_events Events a log follower (NATS publisher, reactor) has not yet handled."
    );
    let _ = writeln!(out, "# TYPE crisisd_follower_lag_events gauge");
    for follower in FOLLOWERS {
        if let Ok(checkpoint) = state.store().checkpoint(follower) {
            let _ = writeln!(
                out,
                "crisisd_follower_lag_events{{follower=\"{follower}\"}} {}",
                head.saturating_sub(checkpoint)
            );
        }
    }
    let _ = writeln!(
        out,
        "# HELP crisisd_http_responses_total HTTP answers by status class."
    );
    let _ = writeln!(out, "# TYPE crisisd_http_responses_total counter");
    for (i, counter) in state.http_counters().by_class.iter().enumerate() {
        let _ = writeln!(
            out,
            "crisisd_http_responses_total{{class=\"{}xx\"}} {}",
            i + 1,
            counter.load(Ordering::Relaxed)
        );
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out)
}
