//! `crisisd bench store --curve-to N`: the event store's two ratios as its log grows,
//! from 10 thousand events to `N` (powers of ten), with the process's memory at each
//! size. One store and one raw sled log grow side by side; at each size the last
//! [`PROBE_EVENTS`] appends of each are timed (the store with 256 writers, raw sled in
//! batches of 256 with flush and fdatasync, as in `bench store`), then the whole log is
//! replayed with chain verification beside a raw scan with typed parse.
//!
//! Memory is the process's resident set after each size's replays: both sled page
//! caches (256 MiB each at most) and whatever the store keeps per event, which is what
//! "bounded" is about: RSS per million events falls as the log grows when it is bounded.

use std::path::Path;
use std::process::ExitCode;

use super::bench::{
    AppendFigures, BENCH_EVENT_BYTES, RawLog, Target, append_phase, emit, padding_for,
    print_targets, replay_phases,
};
use super::bench_projections::rss_mib;
use crate::store::{SledStore, StoreConfig};

/// Appends timed at each size (fewer when the log grew by fewer since the last size).
pub const PROBE_EVENTS: u64 = 100_000;
/// Appends built and sent at a time while the log grows to the next size.
const FILL_CHUNK: u64 = 250_000;
const WRITERS: usize = 256;
/// The first size of the curve.
const FIRST_SIZE: u64 = 10_000;

#[derive(Debug, serde::Serialize)]
struct CurvePoint {
    log_events: u64,
    raw_batch_events_per_s: f64,
    append: AppendFigures,
    append_vs_baseline: f64,
    baseline_scan_events_per_s: f64,
    replay_verify_events_per_s: f64,
    replay_vs_baseline: f64,
    rss_mib: Option<f64>,
    rss_mib_per_million_events: Option<f64>,
}

#[derive(Debug, serde::Serialize)]
struct CurveReport {
    event_bytes: usize,
    writers: usize,
    probe_events: u64,
    points: Vec<CurvePoint>,
    targets: Vec<Target>,
}

/// The sizes of a curve up to `largest`: 10 thousand, then ten times more each step.
pub fn sizes(largest: u64) -> Vec<u64> {
    std::iter::successors(Some(FIRST_SIZE), |size| size.checked_mul(10))
        .take_while(|size| *size <= largest)
        .collect()
}

pub async fn run(scratch: &Path, largest: u64, json: bool) -> anyhow::Result<ExitCode> {
    let sizes = sizes(largest);
    anyhow::ensure!(
        !sizes.is_empty(),
        "--curve-to must be at least {FIRST_SIZE} events"
    );
    let padding = padding_for(BENCH_EVENT_BYTES)?;
    let raw_dir = scratch.join("raw");
    let mut raw = tokio::task::spawn_blocking(move || RawLog::open(&raw_dir)).await??;
    let store = SledStore::open(StoreConfig::new(scratch.join("store")))?;
    let mut points = Vec::new();
    for size in sizes {
        let grown = raw.len();
        let probe = (size - grown).min(PROBE_EVENTS);
        let fill = size - grown - probe;
        let raw_rate;
        (raw, raw_rate) = tokio::task::spawn_blocking(move || {
            raw.append(fill)?;
            let rate = raw.append(probe)?;
            anyhow::Ok((raw, rate))
        })
        .await??;
        let mut left = fill;
        while left > 0 {
            let chunk = left.min(FILL_CHUNK);
            append_phase(&store, WRITERS, chunk, &padding).await?;
            left -= chunk;
        }
        let append = append_phase(&store, WRITERS, probe, &padding).await?;
        let (replay, scan) = {
            let store = store.clone();
            tokio::task::spawn_blocking(move || replay_phases(&store)).await??
        };
        let log_events = store.head().position;
        let rss = rss_mib();
        points.push(CurvePoint {
            log_events,
            raw_batch_events_per_s: raw_rate,
            append_vs_baseline: append.events_per_s / raw_rate,
            append,
            baseline_scan_events_per_s: scan,
            replay_verify_events_per_s: replay,
            replay_vs_baseline: replay / scan,
            rss_mib: rss,
            rss_mib_per_million_events: rss.map(|mib| mib * 1e6 / log_events as f64),
        });
        if !json {
            eprintln!("measured at {log_events} events");
        }
    }
    store.close().await;
    let mut targets = Vec::new();
    for point in &points {
        targets.push(Target::at_least(
            format!("append / raw sled batch at {} events", point.log_events),
            point.append_vs_baseline,
            0.7,
        ));
        targets.push(Target::at_least(
            format!(
                "replay with verification / raw scan at {} events",
                point.log_events
            ),
            point.replay_vs_baseline,
            0.8,
        ));
    }
    let report = CurveReport {
        event_bytes: BENCH_EVENT_BYTES,
        writers: WRITERS,
        probe_events: PROBE_EVENTS,
        points,
        targets,
    };
    emit(&report, json, print_table)
}

fn print_table(r: &CurveReport) {
    println!(
        "crisisd bench store --curve-to — {} B events, {} writers, the last {} appends timed at each size",
        r.event_bytes, r.writers, r.probe_events
    );
    println!(
        "{:>10} {:>10} {:>10} {:>6} {:>8} {:>10} {:>10} {:>6} {:>8} {:>9}",
        "log",
        "raw ev/s",
        "append",
        "ratio",
        "p99 ms",
        "scan ev/s",
        "replay",
        "ratio",
        "RSS MiB",
        "MiB/M ev"
    );
    let show = |v: Option<f64>| v.map_or("n/a".to_owned(), |v| format!("{v:.0}"));
    for p in &r.points {
        println!(
            "{:>10} {:>10.0} {:>10.0} {:>6.2} {:>8.2} {:>10.0} {:>10.0} {:>6.2} {:>8} {:>9}",
            p.log_events,
            p.raw_batch_events_per_s,
            p.append.events_per_s,
            p.append_vs_baseline,
            p.append.p99_ms,
            p.baseline_scan_events_per_s,
            p.replay_verify_events_per_s,
            p.replay_vs_baseline,
            show(p.rss_mib),
            show(p.rss_mib_per_million_events),
        );
    }
    print_targets(&r.targets);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_curve_goes_up_by_tens_from_ten_thousand_to_at_most_the_largest() {
        assert_eq!(
            sizes(10_000_000),
            vec![10_000, 100_000, 1_000_000, 10_000_000]
        );
        assert_eq!(sizes(999_999), vec![10_000, 100_000]);
        assert!(sizes(9_999).is_empty());
        assert_eq!(sizes(u64::MAX).len(), 16, "no overflow");
    }
}
