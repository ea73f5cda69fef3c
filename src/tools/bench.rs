//! `crisisd bench store`: durable append throughput and latency at 1, 16 and 256
//! concurrent writers, replay-with-verify throughput, and — measured in the same run,
//! on the same disk — the baselines they are judged against: raw sled
//! `apply_batch(256)` + flush + fdatasync, and a raw scan with typed parse.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use chrono::Utc;
use serde_json::json;

use crate::store::codec::{PreparedEvent, RawRecord};
use crate::store::verify::{ChainItem, ChainVerifier, with_hashes_ahead};
use crate::store::{
    Actor, AppendRequest, ExpectedVersion, NewEvent, RecordedEvent, SledStore, StoreConfig,
};

/// Canonical size of every benchmark event, as the issue specifies.
pub const BENCH_EVENT_BYTES: usize = 531;
/// Streams the appends are spread over.
pub const BENCH_STREAMS: u64 = 10_000;

#[derive(Debug, clap::Subcommand)]
pub enum BenchCommand {
    /// Event store: durable appends, replay with verification, raw sled baselines.
    Store {
        /// Events appended at 16 and 256 writers (1 writer appends a twentieth).
        #[arg(long, default_value_t = 200_000)]
        events: u64,
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
        /// Scratch directory (default: a fresh one under the system temp dir, removed after).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Instead: both ratios as one log grows from 10 thousand events to this many
        /// (powers of ten), with the process's RSS at each size (10000000 for the curve
        /// docs/benchmarks.md reports; it needs about 15 GB of scratch disk).
        #[arg(long, conflicts_with = "events")]
        curve_to: Option<u64>,
    },
    /// Read models: rebuild speed of every projection beside a scan + typed parse.
    Projections {
        /// Events in the log (built from synthetic crisis scenarios).
        #[arg(long, default_value_t = 1_000_000)]
        events: u64,
        #[arg(long)]
        json: bool,
        /// Scratch directory (default: a fresh one under the system temp dir, removed after).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Durable appends of a cluster leader, each batch in a three-server JetStream
    /// cluster's log (quorum, fsync) before it is acknowledged, beside a single node and
    /// a leader whose log has one replica: what the cluster costs per write.
    Cluster {
        /// Events appended per configuration and writer count.
        #[arg(long, default_value_t = 20_000)]
        events: u64,
        #[arg(long)]
        json: bool,
    },
    /// Ingest → durable → published, against a nats-server this command starts, beside
    /// raw JetStream baselines and the relay floor (crisisd's NATS edges with no store),
    /// which is offered the same messages first.
    Pipeline {
        /// Feedback messages published to crisis.ingest.feedback.
        #[arg(long, default_value_t = 20_000)]
        messages: u64,
        /// Offer this many messages/s (default: as fast as JetStream takes them, so the
        /// latency includes the backlog).
        #[arg(long, conflicts_with = "rate_of_floor")]
        rate: Option<u64>,
        /// Offer this fraction of the relay floor's drained rate (the relay runs first, as
        /// fast as JetStream takes them); the latency target is measured at 0.5.
        #[arg(long)]
        rate_of_floor: Option<f64>,
        /// Also run every read model's projector live, as `serve` does; the run then
        /// ends when they have all applied the last event, and their CPU counts.
        #[arg(long)]
        projections: bool,
        /// Also run the same pipeline without sealing personal data (plain text, and
        /// CRISIS_INGEST keeping acknowledged messages, as before data protection), first,
        /// and report what sealing costs.
        #[arg(long)]
        sealing_cost: bool,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(command: BenchCommand) -> anyhow::Result<ExitCode> {
    let (events, json, dir) = match command {
        BenchCommand::Store {
            events,
            json,
            dir,
            curve_to,
        } => {
            if let Some(largest) = curve_to {
                let scratch = super::scratch::Scratch::new("crisisd-bench-", dir.as_deref())?;
                return super::bench_curve::run(scratch.path(), largest, json).await;
            }
            (events, json, dir)
        }
        BenchCommand::Projections { events, json, dir } => {
            return super::bench_projections::run(events, json, dir).await;
        }
        BenchCommand::Cluster { events, json } => {
            return super::bench_cluster::run(events.max(1_000), json).await;
        }
        BenchCommand::Pipeline {
            messages,
            rate,
            rate_of_floor,
            projections,
            sealing_cost,
            json,
        } => {
            use super::bench_pipeline::Pace;
            let pace = match (rate, rate_of_floor) {
                (Some(rate), _) => Pace::Rate(rate),
                (None, Some(fraction)) => Pace::OfFloor(fraction),
                (None, None) => Pace::Fast,
            };
            return super::bench_pipeline::run(messages, pace, projections, sealing_cost, json)
                .await;
        }
    };
    let scratch = super::scratch::Scratch::new("crisisd-bench-", dir.as_deref())?;
    let report = bench_store(scratch.path(), events.max(1_000)).await?;
    emit(&report, json, print_table)
}

#[derive(Debug, serde::Serialize)]
pub(crate) struct AppendFigures {
    pub writers: usize,
    pub events: u64,
    pub events_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

#[derive(Debug, serde::Serialize)]
struct StoreReport {
    event_bytes: usize,
    append_events_per_s: f64,
    append_p50_ms: f64,
    append_p99_ms: f64,
    baseline_batch_events_per_s: f64,
    replay_verify_events_per_s: f64,
    baseline_scan_events_per_s: f64,
    append_vs_baseline: f64,
    replay_vs_baseline: f64,
    appends: Vec<AppendFigures>,
    log_events: u64,
    targets: Vec<Target>,
}

async fn bench_store(scratch: &Path, events: u64) -> anyhow::Result<StoreReport> {
    let padding = padding_for(BENCH_EVENT_BYTES)?;
    let raw = scratch.join("raw");
    let baseline_batch_events_per_s =
        tokio::task::spawn_blocking(move || raw_batch_baseline(&raw, events)).await??;
    let store = SledStore::open(StoreConfig::new(scratch.join("store")))?;
    let mut appends = Vec::new();
    for writers in [1usize, 16, 256] {
        let count = if writers == 1 {
            (events / 20).max(500)
        } else {
            events
        };
        appends.push(append_phase(&store, writers, count, &padding).await?);
    }
    let log_events = store.head().position;
    let (replay_verify_events_per_s, baseline_scan_events_per_s) = {
        let store = store.clone();
        tokio::task::spawn_blocking(move || replay_phases(&store)).await??
    };
    store.close().await;
    let top = appends.last().expect("three phases ran");
    let append_vs_baseline = top.events_per_s / baseline_batch_events_per_s;
    let replay_vs_baseline = replay_verify_events_per_s / baseline_scan_events_per_s;
    let targets = vec![
        Target::at_least(
            "durable append, 256 writers / raw sled batch",
            append_vs_baseline,
            0.7,
        ),
        Target::at_least(
            "replay with chain verification / raw scan",
            replay_vs_baseline,
            0.8,
        ),
    ];
    Ok(StoreReport {
        event_bytes: BENCH_EVENT_BYTES,
        append_events_per_s: top.events_per_s,
        append_p50_ms: top.p50_ms,
        append_p99_ms: top.p99_ms,
        baseline_batch_events_per_s,
        replay_verify_events_per_s,
        baseline_scan_events_per_s,
        append_vs_baseline,
        replay_vs_baseline,
        appends,
        log_events,
        targets,
    })
}

fn bench_event(seq: u64, padding: &str) -> NewEvent {
    let data = json!({"flight": "LH1234-2026-11-22", "seq": seq, "note": padding, "category": "delay", "severity": "high"});
    NewEvent::new(
        "bench.appended",
        data,
        Actor {
            id: "bench".into(),
            role: "admin".into(),
        },
        Utc::now(),
    )
}

fn bench_stream(seq: u64) -> String {
    format!(
        "bench-{:05}",
        seq.wrapping_mul(2_654_435_761) % BENCH_STREAMS
    )
}

/// Prints a benchmark's report: one JSON object with `--json`, else its table.
pub(crate) fn emit<R: serde::Serialize>(
    report: &R,
    json: bool,
    table: impl FnOnce(&R),
) -> anyhow::Result<ExitCode> {
    if json {
        println!("{}", serde_json::to_string(report)?);
    } else {
        table(report);
    }
    Ok(ExitCode::SUCCESS)
}

/// One figure of a benchmark beside its target, with the verdict, so a reader does not
/// have to compute ratios. Targets are ratios to a floor or baseline measured in the
/// same run (docs/benchmarks.md says why), or a latency bound.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct Target {
    /// What is measured.
    pub what: String,
    pub value: f64,
    /// `≥` or `≤`.
    pub relation: &'static str,
    pub bound: f64,
    pub met: bool,
}

impl Target {
    pub fn at_least(what: impl Into<String>, value: f64, bound: f64) -> Target {
        Target {
            what: what.into(),
            value,
            relation: "≥",
            bound,
            met: value >= bound,
        }
    }

    pub fn at_most(what: impl Into<String>, value: f64, bound: f64) -> Target {
        Target {
            what: what.into(),
            value,
            relation: "≤",
            bound,
            met: value <= bound,
        }
    }
}

/// Prints each target with its figure and whether it was met.
pub(crate) fn print_targets(targets: &[Target]) {
    if targets.is_empty() {
        return;
    }
    println!("targets:");
    for t in targets {
        let verdict = if t.met { "met" } else { "NOT met" };
        println!(
            "  {:<58} {:>8.2} (target {} {}: {verdict})",
            t.what, t.value, t.relation, t.bound
        );
    }
}

/// Padding that makes a stored event's canonical body `target` bytes long.
pub(crate) fn padding_for(target: usize) -> anyhow::Result<String> {
    let probe = |padding: &str| -> anyhow::Result<usize> {
        let prepared = PreparedEvent::prepare(&bench_stream(1), &bench_event(100_000, padding))?;
        Ok(prepared.canonical(1_000, 100_000, &Utc::now()).len())
    };
    let base = probe("")?;
    anyhow::ensure!(
        base <= target,
        "benchmark event skeleton is {base} bytes, over {target}"
    );
    Ok("x".repeat(target - base))
}

pub(crate) async fn append_phase(
    store: &SledStore,
    writers: usize,
    count: u64,
    padding: &str,
) -> anyhow::Result<AppendFigures> {
    // Requests are built before the clock starts, as the raw baseline's records are:
    // the figure is the store's work (validation, canonical JSON, hashing, writing,
    // fsync), not the client's JSON building.
    let mut requests: Vec<Vec<AppendRequest>> = (0..writers).map(|_| Vec::new()).collect();
    for seq in 0..count {
        requests[seq as usize % writers].push(AppendRequest::single(
            bench_stream(seq),
            ExpectedVersion::Any,
            vec![bench_event(seq, padding)],
        ));
    }
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(writers);
    for own in requests {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies_us = Vec::with_capacity(own.len());
            for request in own {
                let sent = Instant::now();
                store.append(request).await?;
                latencies_us.push(sent.elapsed().as_micros() as u64);
            }
            anyhow::Ok(latencies_us)
        }));
    }
    let mut latencies = Vec::with_capacity(count as usize);
    for task in tasks {
        latencies.extend(task.await??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let percentile =
        |p: f64| latencies[((latencies.len() - 1) as f64 * p) as usize] as f64 / 1000.0;
    Ok(AppendFigures {
        writers,
        events: count,
        events_per_s: count as f64 / elapsed,
        p50_ms: percentile(0.50),
        p99_ms: percentile(0.99),
    })
}

/// Raw sled: batches of 256 pre-built records on one tree, one key per record, flush,
/// fdatasync. The directory is removed afterwards so the store's phases start on the
/// same footing.
fn raw_batch_baseline(dir: &Path, count: u64) -> anyhow::Result<f64> {
    let mut raw = RawLog::open(dir)?;
    let events_per_s = raw.append(count)?;
    drop(raw);
    std::fs::remove_dir_all(dir)?;
    Ok(events_per_s)
}

/// The raw sled baseline's log: records as the store writes them (canonical bytes of the
/// benchmark events), one key each, with the store's page cache size.
pub(crate) struct RawLog {
    db: sled::Db,
    data_file: std::fs::File,
    values: Vec<Vec<u8>>,
    written: u64,
}

impl RawLog {
    pub(crate) fn open(dir: &Path) -> anyhow::Result<RawLog> {
        let padding = padding_for(BENCH_EVENT_BYTES)?;
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(StoreConfig::new(dir).cache_capacity_bytes)
            .flush_every_ms(None)
            .mode(sled::Mode::HighThroughput)
            .segment_size(8 * 1024 * 1024)
            .open()?;
        let data_file = std::fs::File::open(dir.join("db"))?;
        let values = (0..256u64)
            .map(|i| {
                let prepared = PreparedEvent::prepare(&bench_stream(i), &bench_event(i, &padding))
                    .expect("bench events are valid");
                prepared.canonical(1, i + 1, &Utc::now())
            })
            .collect();
        Ok(RawLog {
            db,
            data_file,
            values,
            written: 0,
        })
    }

    /// Appends `count` records in batches of 256 (the last one may be smaller), each
    /// applied, flushed and fdatasynced: records/s.
    pub(crate) fn append(&mut self, count: u64) -> anyhow::Result<f64> {
        let started = Instant::now();
        let end = self.written + count;
        while self.written < end {
            let mut batch = sled::Batch::default();
            let take = (end - self.written).min(self.values.len() as u64) as usize;
            for value in &self.values[..take] {
                self.written += 1;
                batch.insert(&crate::store::keys::log(self.written), value.as_slice());
            }
            self.db.apply_batch(batch)?;
            self.db.flush()?;
            self.data_file.sync_data()?;
        }
        Ok(count as f64 / started.elapsed().as_secs_f64())
    }

    pub(crate) fn len(&self) -> u64 {
        self.written
    }
}

/// A stored record parsed once, for both the chain check and the caller.
struct Parsed {
    slot: u64,
    bytes: sled::IVec,
    event: Option<RecordedEvent>,
    content_ok: bool,
}

impl ChainItem for Parsed {
    fn slot(&self) -> u64 {
        self.slot
    }
    fn raw(&self) -> Option<RawRecord<'_>> {
        RawRecord::decode(&self.bytes)
    }
    fn body_position(&self) -> Option<u64> {
        self.event.as_ref().map(|e| e.position)
    }
    fn content_ok(&self) -> bool {
        self.content_ok
    }
}

/// (replay with verification, raw scan with typed parse), events/s, best of two runs each.
/// Replay hashes on a helper thread a chunk ahead while this thread parses and links:
/// the way `crisisd verify` runs.
pub(crate) fn replay_phases(store: &SledStore) -> anyhow::Result<(f64, f64)> {
    let head = store.head().position;
    let scan = || -> anyhow::Result<f64> {
        let started = Instant::now();
        let mut n = 0u64;
        for entry in store.raw_range(1, head) {
            let (_, bytes) = entry?;
            let event = RawRecord::decode(&bytes).and_then(|raw| raw.parse().ok());
            anyhow::ensure!(event.is_some(), "unreadable record");
            n += 1;
        }
        Ok(n as f64 / started.elapsed().as_secs_f64())
    };
    let replay = || -> anyhow::Result<f64> {
        let started = Instant::now();
        let n = with_hashes_ahead(store.raw_range(1, head).map_while(Result::ok), |records| {
            let items = records.map(|(slot, bytes, content_ok)| {
                let event = RawRecord::decode(&bytes).and_then(|raw| raw.parse().ok());
                Parsed {
                    slot,
                    bytes,
                    event,
                    content_ok,
                }
            });
            let mut n = 0u64;
            for item in ChainVerifier::new(items, 1, crate::store::codec::HashBytes::ZERO) {
                let item =
                    item.map_err(|damage| anyhow::anyhow!("benchmark log damaged: {damage}"))?;
                std::hint::black_box(&item.event);
                n += 1;
            }
            anyhow::Ok(n)
        })?;
        anyhow::ensure!(n == head, "replay saw {n} of {head} events");
        Ok(n as f64 / started.elapsed().as_secs_f64())
    };
    let scan_best = scan()?.max(scan()?);
    let replay_best = replay()?.max(replay()?);
    Ok((replay_best, scan_best))
}

fn print_table(r: &StoreReport) {
    println!(
        "crisisd bench store — {} B events over {BENCH_STREAMS} streams, {} events in the log",
        r.event_bytes, r.log_events
    );
    println!(
        "{:<44} {:>12} {:>9} {:>9}",
        "measure", "events/s", "p50 ms", "p99 ms"
    );
    println!(
        "{:<44} {:>12.0}",
        "baseline: raw sled apply_batch(256)+flush+fdatasync", r.baseline_batch_events_per_s
    );
    for a in &r.appends {
        println!(
            "{:<44} {:>12.0} {:>9.2} {:>9.2}",
            format!(
                "durable append, {} writers ({} events)",
                a.writers, a.events
            ),
            a.events_per_s,
            a.p50_ms,
            a.p99_ms
        );
    }
    println!(
        "{:<44} {:>12.0}",
        "baseline: raw scan + typed parse", r.baseline_scan_events_per_s
    );
    println!(
        "{:<44} {:>12.0}",
        "replay with chain verification", r.replay_verify_events_per_s
    );
    print_targets(&r.targets);
}
