//! `crisisd bench projections`: how fast every read model rebuilds, beside a raw scan
//! with typed parse of the same log in the same run.
//!
//! The log is made of [`workload`](crate::testing::workload) scenarios (signals, incidents
//! through the pipeline, passengers, compensations, complaints), so every projection
//! has real work. The baseline reads the log through the same API a rebuild uses and
//! decodes every event into its domain type: what a rebuild costs beyond that is the
//! projection's own work and its model writes.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use chrono::{DateTime, Utc};

use super::bench::{Target, emit, print_targets};
use crate::domain::{DomainEvent, compensation, complaint, incident, passenger, signal};
use crate::projection::{APPLY_BATCH_EVENTS_MAX, all, rebuild};
use crate::store::{
    AppendRequest, ExpectedVersion, RecordedEvent, SledStore, StoreConfig, StreamAppend,
};
use crate::testing::workload;

/// Scenarios appended concurrently while the log is built.
const BUILDERS: u64 = 32;

#[derive(Debug, serde::Serialize)]
struct ProjectionFigures {
    name: &'static str,
    events_per_s: f64,
    vs_baseline: f64,
}

#[derive(Debug, serde::Serialize)]
struct ProjectionsReport {
    log_events: u64,
    baseline_scan_parse_events_per_s: f64,
    projections: Vec<ProjectionFigures>,
    /// Every projection rebuilt together in one pass over the log, as
    /// `crisisd rebuild --all` does.
    all_events_per_s: f64,
    slowest_vs_baseline: f64,
    peak_rss_mib: Option<f64>,
    targets: Vec<Target>,
}

pub async fn run(events: u64, json: bool, dir: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let scratch = super::scratch::Scratch::new("crisisd-bench-", dir.as_deref())?;
    let report = bench(scratch.path(), events.max(1_000)).await?;
    emit(&report, json, print_table)
}

async fn bench(scratch: &Path, events: u64) -> anyhow::Result<ProjectionsReport> {
    let store = SledStore::open(StoreConfig::new(scratch.join("store")))?;
    build_log(&store, events).await?;
    let log_events = store.head().position;
    let measured = {
        let store = store.clone();
        tokio::task::spawn_blocking(move || measure(&store)).await??
    };
    store.close().await;
    let (baseline, projections, all_events_per_s) = measured;
    let slowest = projections
        .iter()
        .map(|p| p.vs_baseline)
        .fold(f64::INFINITY, f64::min);
    Ok(ProjectionsReport {
        log_events,
        baseline_scan_parse_events_per_s: baseline,
        projections,
        all_events_per_s,
        slowest_vs_baseline: slowest,
        peak_rss_mib: peak_rss_mib(),
        targets: vec![
            Target::at_least("slowest rebuild / read-and-decode baseline", slowest, 0.8),
            Target::at_least(
                "rebuild --all / read-and-decode baseline",
                all_events_per_s / baseline,
                0.5,
            ),
        ],
    })
}

/// Appends whole scenarios (one atomic multi-stream append each) until `events`.
async fn build_log(store: &SledStore, events: u64) -> anyhow::Result<()> {
    let start: DateTime<Utc> = "2026-11-22T06:00:00Z".parse()?;
    // Scenarios go through the pipeline to different depths, repeating every 8.
    let per_scenario = ((0..8)
        .flat_map(|n| workload::scenario(n, start))
        .map(|s| s.events.len() as u64)
        .sum::<u64>()
        / 8)
    .max(1);
    let scenarios = events.div_ceil(per_scenario);
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for builder in 0..BUILDERS {
        let store = store.clone();
        tasks.spawn(async move {
            let mut n = builder;
            while n < scenarios {
                store.append(scenario_request(n, start)).await?;
                n += BUILDERS;
            }
            anyhow::Ok(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    eprintln!(
        "built a log of {} events ({scenarios} scenarios) in {:.1}s",
        store.head().position,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// One scenario as one append: each stream's events in order, streams in the order
/// they first act.
fn scenario_request(n: u64, start: DateTime<Utc>) -> AppendRequest {
    let mut streams: Vec<StreamAppend> = Vec::new();
    for step in workload::scenario(n, start) {
        match streams.iter_mut().find(|s| s.stream == step.stream) {
            Some(stream) => stream.events.extend(step.events),
            None => streams.push(StreamAppend {
                stream: step.stream,
                expected: ExpectedVersion::NoStream,
                events: step.events,
            }),
        }
    }
    AppendRequest {
        streams,
        ..Default::default()
    }
}

/// Decodes a stored event into its aggregate's event type (the typed parse).
fn decode(event: &RecordedEvent) -> anyhow::Result<()> {
    let (t, v, d) = (
        event.event_type.as_str(),
        event.schema_version,
        event.data.get(),
    );
    let aggregate = event.stream.split('-').next().unwrap_or_default();
    match aggregate {
        "incident" => incident::IncidentEvent::from_data(t, v, d).map(drop),
        "complaint" => complaint::ComplaintEvent::from_data(t, v, d).map(drop),
        "compensation" => compensation::CompensationEvent::from_data(t, v, d).map(drop),
        "signal" => signal::SignalEvent::from_data(t, v, d).map(drop),
        "passenger" => passenger::PassengerEvent::from_data(t, v, d).map(drop),
        other => anyhow::bail!("no aggregate {other:?} in the benchmark log"),
    }
    .map_err(|err| anyhow::anyhow!("{} at {}: {err}", event.stream, event.position))
}

type Measured = (f64, Vec<ProjectionFigures>, f64);

fn measure(store: &SledStore) -> anyhow::Result<Measured> {
    let head = store.head().position;
    let scan = || -> anyhow::Result<f64> {
        let started = Instant::now();
        let mut next = 1;
        while next <= head {
            let page = store.read_all(next, APPLY_BATCH_EVENTS_MAX)?;
            for event in &page {
                decode(event)?;
            }
            next = page.last().map_or(head + 1, |e| e.position + 1);
        }
        Ok(head as f64 / started.elapsed().as_secs_f64())
    };
    let baseline = scan()?.max(scan()?);
    let mut figures = Vec::new();
    for projection in all(&Default::default()) {
        let name = projection.name();
        // Best of two, as for the baseline: the machine is shared and noisy.
        let mut seconds = f64::INFINITY;
        for _ in 0..2 {
            let projection = crate::projection::by_name(name, &Default::default())
                .expect("a registered projection");
            let started = Instant::now();
            rebuild(store, projection, |_, _| {})?;
            seconds = seconds.min(started.elapsed().as_secs_f64());
        }
        let events_per_s = head as f64 / seconds;
        figures.push(ProjectionFigures {
            name,
            events_per_s,
            vs_baseline: events_per_s / baseline,
        });
    }
    // `crisisd rebuild --all`: every model in one pass over the log.
    let started = Instant::now();
    crate::projection::rebuild_together(store, all(&Default::default()), |_, _| {})?;
    let together = head as f64 / started.elapsed().as_secs_f64();
    Ok((baseline, figures, together))
}

/// The process's peak resident set (Linux), in MiB.
pub fn peak_rss_mib() -> Option<f64> {
    status_mib("VmHWM:")
}

/// The process's resident set now (Linux), in MiB.
pub fn rss_mib() -> Option<f64> {
    status_mib("VmRSS:")
}

fn status_mib(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn print_table(r: &ProjectionsReport) {
    println!(
        "crisisd bench projections — rebuild from position 1 over {} events",
        r.log_events
    );
    println!("{:<40} {:>12} {:>12}", "measure", "events/s", "× baseline");
    println!(
        "{:<40} {:>12.0} {:>12.2}",
        "baseline: read_all + typed parse", r.baseline_scan_parse_events_per_s, 1.0
    );
    for p in &r.projections {
        println!(
            "{:<40} {:>12.0} {:>12.2}",
            format!("rebuild {}", p.name),
            p.events_per_s,
            p.vs_baseline
        );
    }
    println!(
        "{:<40} {:>12.0} {:>12.2}",
        "rebuild --all (one pass, every model)",
        r.all_events_per_s,
        r.all_events_per_s / r.baseline_scan_parse_events_per_s
    );
    println!(
        "peak RSS {}",
        r.peak_rss_mib
            .map_or("unknown".to_owned(), |m| format!("{m:.0} MiB"))
    );
    print_targets(&r.targets);
}
