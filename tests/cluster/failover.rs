//! Cluster mode end to end (issue 24): three `crisisd serve --cluster` nodes on the
//! three-server NATS cluster, under load from outside clients that record every
//! acknowledgement — HTTP commands and HTTP feedback sent to any node (following 307s to
//! the leader), and feedback published to `crisis.ingest.feedback` with JetStream acks.
//! One leader at a time, followers redirect; a leader killed (`kill -9`), a NATS server
//! killed, a leader paused past its lease: every acknowledged event ends up on every node
//! exactly once, every node's log verifies and all logs are byte-identical.
//!
//! No timing is asserted beyond generous bounds (the machine has two shared cores); the
//! failover times are printed.

use std::collections::{BTreeMap, HashMap};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::jetstream;
use crisisd::cluster::LogConfig;
use serde_json::{Value, json};

use crate::lazyfs;
use crate::nats_cluster::{NatsCluster, stream_leader};
use crate::nodes::{self, Acked, Nodes, Start, Tally, parse_location, post, runtime};

/// How long one write may take to be acknowledged, retries and failovers included.
const WRITE_WITHIN: Duration = Duration::from_secs(60);
/// Pause between a writer's writes: a steady load that leaves the two cores room for the
/// lease renewals.
const WRITER_PACE: Duration = Duration::from_millis(20);
/// Pause between NATS ingest publishes.
const PUBLISH_PACE: Duration = Duration::from_millis(50);
/// How long a leader may take to appear (a lease TTL of 3 s, campaigns every ~1 s).
const ELECTION_WITHIN: Duration = Duration::from_secs(60);
/// Rounds of `kill -9` of the leader, unless `CRISISD_CLUSTER_ROUNDS` says otherwise.
const ROUNDS_DEFAULT: usize = 20;
/// Writes the leader acknowledges in each round before it is killed.
const ACKS_BEFORE_KILL: usize = 20;
/// Commands sent straight to the paused leader, waiting in its socket while it sleeps.
const QUEUED_COMMANDS: usize = 4;

fn open_incident(title: &str) -> String {
    json!({"title": title, "category": "cancellation", "severity": "high", "flight": null,
        "correlation_key": null, "signal_ids": []})
    .to_string()
}

/// A channel's feedback message (no passenger: an inquiry, so a signal and no personal
/// key is involved beyond the text's).
fn feedback(source: &str, received_at: &str) -> String {
    json!({"v": 1, "source_message_id": source, "channel": "web",
        "text": "is my connection still on?", "category_hint": "delay",
        "received_at": received_at, "reach": 1})
    .to_string()
}

/// What a client was told was stored.
#[derive(Debug, Clone)]
enum Stored {
    /// Event ids from a command's answer.
    Events(Vec<String>),
    /// A feedback message by its source id: its signal id derives from it.
    Feedback(String),
}

#[derive(Debug, Clone)]
struct Write {
    stored: Stored,
    /// The node that took it: the one that answered, or the leader a follower forwarded
    /// it to (`X-Crisisd-Leader`).
    by: String,
    at: Instant,
}

#[derive(Default)]
struct Ledger {
    /// HTTP writes some node acknowledged.
    writes: Vec<Write>,
    /// Source ids of feedback JetStream acknowledged into CRISIS_INGEST.
    published: Vec<String>,
    /// Writers that gave up, and why.
    errors: Vec<String>,
}

/// Writers: two opening incidents and one posting feedback over HTTP, each to any node in
/// turn, plus one publishing feedback to NATS.
struct Load {
    stop: Arc<AtomicBool>,
    ledger: Arc<Mutex<Ledger>>,
    tally: Arc<Tally>,
    threads: Vec<std::thread::JoinHandle<()>>,
    publisher: Option<tokio::task::JoinHandle<()>>,
}

impl Load {
    fn start(nodes: &Nodes, nats: Option<(&tokio::runtime::Runtime, &NatsCluster)>) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let ledger = Arc::new(Mutex::new(Ledger::default()));
        let tally = Arc::new(Tally::default());
        let received_at = (chrono::Utc::now() - chrono::Duration::hours(1))
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let mut threads = Vec::new();
        for writer in 0..3usize {
            let (stop, ledger, tally) = (stop.clone(), ledger.clone(), tally.clone());
            let ports = nodes.ports();
            let ids: Vec<String> = (0..nodes.len()).map(|i| nodes.id(i).to_owned()).collect();
            let token = if writer < 2 {
                nodes.tokens.lead.clone()
            } else {
                nodes.tokens.channel.clone()
            };
            let received_at = received_at.clone();
            threads.push(std::thread::spawn(move || {
                let mut n = 0usize;
                while !stop.load(Ordering::SeqCst) {
                    let key = format!("w{writer}-{n}");
                    let sent = if writer < 2 {
                        let body = open_incident(&format!("load {key}"));
                        post(
                            &ports,
                            n + writer,
                            "/v1/incidents",
                            &token,
                            &[("Idempotency-Key", &key)],
                            &body,
                            WRITE_WITHIN,
                            &tally,
                        )
                        .map(|acked| (Stored::Events(event_ids(&acked)), acked))
                    } else {
                        let body = feedback(&format!("http-{key}"), &received_at);
                        post(
                            &ports,
                            n + writer,
                            "/v1/ingest/feedback",
                            &token,
                            &[],
                            &body,
                            WRITE_WITHIN,
                            &tally,
                        )
                        .map(|acked| (Stored::Feedback(format!("http-{key}")), acked))
                    };
                    match sent {
                        Ok((stored, acked)) => {
                            let by = match acked.answer.header("x-crisisd-leader") {
                                Some(leader) => leader.to_owned(),
                                None => ids[ports.iter().position(|&p| p == acked.port).unwrap()]
                                    .clone(),
                            };
                            ledger.lock().unwrap().writes.push(Write {
                                stored,
                                by,
                                at: acked.at,
                            })
                        }
                        Err(why) => {
                            ledger.lock().unwrap().errors.push(why);
                            return;
                        }
                    }
                    n += 1;
                    std::thread::sleep(WRITER_PACE);
                }
            }));
        }
        let publisher = nats.map(|(rt, nats)| {
            rt.spawn(publish_feedback(
                nats.urls(),
                stop.clone(),
                ledger.clone(),
                received_at,
            ))
        });
        Load {
            stop,
            ledger,
            tally,
            threads,
            publisher,
        }
    }

    /// The first HTTP acknowledgement that arrived after `after`, waiting up to `within`.
    fn wait_ack_after(&self, after: Instant, within: Duration) -> Write {
        self.wait_ack_from_other(after, "", within)
    }

    /// The first HTTP acknowledgement after `after` by a node other than `node` (whose
    /// answers sent before it died or froze may still be read after).
    fn wait_ack_from_other(&self, after: Instant, node: &str, within: Duration) -> Write {
        let started = Instant::now();
        loop {
            {
                let ledger = self.ledger.lock().unwrap();
                assert!(
                    ledger.errors.is_empty(),
                    "a writer gave up: {:?}",
                    ledger.errors
                );
                if let Some(write) = ledger
                    .writes
                    .iter()
                    .filter(|w| w.at > after && w.by != node)
                    .min_by_key(|w| w.at)
                {
                    return write.clone();
                }
            }
            assert!(
                started.elapsed() < within,
                "no write acknowledged within {within:?} (what the clients met: {:?})",
                self.tally.snapshot()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until `count` HTTP acknowledgements have arrived after `after`.
    fn wait_acks_after(&self, after: Instant, count: usize, within: Duration) {
        let started = Instant::now();
        while self.acks_between(after, Instant::now(), "").0 < count {
            assert!(
                started.elapsed() < within,
                "fewer than {count} writes acknowledged within {within:?} (what the clients met: {:?})",
                self.tally.snapshot()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// HTTP acknowledgements that arrived in `[from, to)`, and how many of them `node`
    /// took.
    fn acks_between(&self, from: Instant, to: Instant, node: &str) -> (usize, usize) {
        let ledger = self.ledger.lock().unwrap();
        let window: Vec<&Write> = ledger
            .writes
            .iter()
            .filter(|w| w.at >= from && w.at < to)
            .collect();
        let by_node = window.iter().filter(|w| w.by == node).count();
        (window.len(), by_node)
    }

    /// The writes `node` acknowledged from `from` until `to`.
    fn acks_of_between(&self, from: Instant, to: Instant, node: &str) -> Vec<Write> {
        let ledger = self.ledger.lock().unwrap();
        ledger
            .writes
            .iter()
            .filter(|w| w.at >= from && w.at < to && w.by == node)
            .cloned()
            .collect()
    }

    fn published_count(&self) -> usize {
        self.ledger.lock().unwrap().published.len()
    }

    /// Stops the writers and waits for them; returns what they recorded.
    fn finish(mut self, rt: &tokio::runtime::Runtime) -> Ledger {
        self.stop.store(true, Ordering::SeqCst);
        for thread in self.threads.drain(..) {
            thread.join().expect("a writer thread panicked");
        }
        if let Some(publisher) = self.publisher.take() {
            rt.block_on(async {
                tokio::time::timeout(Duration::from_secs(30), publisher)
                    .await
                    .expect("the NATS publisher stops within 30 s")
                    .expect("the NATS publisher task panicked");
            });
        }
        println!("what the HTTP clients met: {:?}", self.tally.snapshot());
        std::mem::take(&mut *self.ledger.lock().unwrap())
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn event_ids(acked: &Acked) -> Vec<String> {
    let answer = acked.answer.json();
    let ids: Vec<String> = answer["events"]
        .as_array()
        .unwrap_or_else(|| panic!("a command's answer names its events: {answer}"))
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        !ids.is_empty(),
        "a command's answer names its events: {answer}"
    );
    ids
}

/// Publishes feedback to `crisis.ingest.feedback` until `stop`, recording each message
/// JetStream acknowledged; a message not acknowledged is sent again (same source id and
/// `Nats-Msg-Id`, so it is stored once either way).
async fn publish_feedback(
    urls: Vec<String>,
    stop: Arc<AtomicBool>,
    ledger: Arc<Mutex<Ledger>>,
    received_at: String,
) {
    let client = async_nats::ConnectOptions::new()
        .retry_on_initial_connect()
        .max_reconnects(None)
        .connect(urls)
        .await
        .expect("connect to the nats cluster");
    let js = jetstream::new(client);
    // The leader's ingest consumer creates CRISIS_INGEST; producers publish once it is there.
    let started = Instant::now();
    while js.get_stream("CRISIS_INGEST").await.is_err() {
        if started.elapsed() > Duration::from_secs(60) {
            ledger
                .lock()
                .unwrap()
                .errors
                .push("no CRISIS_INGEST stream 60 s after the nodes started".to_owned());
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut n = 0u64;
    let mut failing_since: Option<Instant> = None;
    while !stop.load(Ordering::SeqCst) {
        let source = format!("nats-{n}");
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", source.as_str());
        let payload = feedback(&source, &received_at);
        let sent = tokio::time::timeout(Duration::from_secs(10), async {
            let ack = js
                .publish_with_headers("crisis.ingest.feedback", headers, payload.into())
                .await
                .map_err(|err| err.to_string())?;
            ack.await.map_err(|err| err.to_string())
        })
        .await;
        match sent {
            Ok(Ok(_)) => {
                ledger.lock().unwrap().published.push(source);
                n += 1;
                failing_since = None;
                tokio::time::sleep(PUBLISH_PACE).await;
            }
            failed => {
                let since = *failing_since.get_or_insert_with(Instant::now);
                if since.elapsed() > Duration::from_secs(120) {
                    ledger.lock().unwrap().errors.push(format!(
                        "no JetStream ack for {source} for 120 s: {failed:?}"
                    ));
                    return;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

/// Waits until CRISIS_INGEST is empty (work-queue retention: crisisd acknowledged every
/// message, which it does once the message's events are stored).
fn wait_ingest_drained(rt: &tokio::runtime::Runtime, nats: &NatsCluster, within: Duration) {
    rt.block_on(async {
        let js = jetstream::new(nats.client().await);
        let started = Instant::now();
        loop {
            let left = match js.get_stream("CRISIS_INGEST").await {
                Ok(mut stream) => stream
                    .info()
                    .await
                    .map(|i| i.state.messages)
                    .unwrap_or(u64::MAX),
                Err(_) => u64::MAX,
            };
            if left == 0 {
                println!(
                    "CRISIS_INGEST drained {:.1} s after the load stopped",
                    started.elapsed().as_secs_f64()
                );
                return;
            }
            assert!(
                started.elapsed() < within,
                "CRISIS_INGEST still holds {left} messages {within:?} after the load stopped"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    });
}

/// Waits until `CRISIS_EVENTS` holds the whole log — leaders come and go, each resuming
/// the publishing where the stream ends — then checks it holds each position once: as
/// many messages as the head, the last one naming the head's position.
fn check_events_stream(rt: &tokio::runtime::Runtime, nats: &NatsCluster, head: u64) {
    rt.block_on(async {
        let js = jetstream::new(nats.client().await);
        let started = Instant::now();
        loop {
            let state = match js.get_stream("CRISIS_EVENTS").await {
                Ok(mut stream) => stream.info().await.ok().map(|i| i.state.clone()),
                Err(_) => None,
            };
            if let Some(state) = &state
                && state.messages >= head
            {
                assert_eq!(
                    state.messages, head,
                    "CRISIS_EVENTS holds {} messages for a log of {head}: some were published twice",
                    state.messages
                );
                let stream = js.get_stream("CRISIS_EVENTS").await.unwrap();
                let last = stream.get_raw_message(state.last_sequence).await.unwrap();
                let position = last
                    .headers
                    .get("ce-sequence")
                    .map(|v| v.as_str().to_owned());
                assert_eq!(position.as_deref(), Some(head.to_string().as_str()));
                println!(
                    "CRISIS_EVENTS holds every position once ({head}), {:.1} s after the nodes converged",
                    started.elapsed().as_secs_f64()
                );
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "CRISIS_EVENTS holds {:?} messages of {head} after 60 s",
                state.as_ref().map(|s| s.messages)
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    });
}

/// Every page of the incident board on node `i` once its read model has applied
/// `after`, without the field that grows with the clock.
fn board(nodes: &Nodes, i: usize, after: u64) -> Vec<Value> {
    let mut rows = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/v1/incidents?after={after}&limit=500");
        if let Some(cursor) = &cursor {
            path.push_str(&format!("&cursor={}", percent_encode(cursor)));
        }
        let answer = nodes::http(
            nodes.port(i),
            "GET",
            &path,
            &nodes.tokens.auditor,
            &[],
            "",
            Duration::from_secs(30),
        )
        .unwrap_or_else(|err| panic!("GET {path} on {}: {err}", nodes.id(i)));
        assert_eq!(
            answer.status,
            200,
            "GET {path} on {}: {}",
            nodes.id(i),
            answer.body
        );
        let page = answer.json();
        for row in page["items"].as_array().unwrap() {
            let mut row = row.clone();
            row.as_object_mut().unwrap().remove("age_in_stage_seconds");
            rows.push(row);
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return rows,
        }
    }
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Waits until every read model of node `i` has applied `head` and none has failed.
fn wait_read_models(nodes: &Nodes, i: usize, head: u64, within: Duration) {
    let started = Instant::now();
    loop {
        let lags = nodes
            .get(i, "/v1/projections")
            .ok()
            .filter(|a| a.status == 200)
            .map(|a| a.json());
        if let Some(lags) = &lags {
            let lags = lags.as_array().unwrap();
            for lag in lags {
                assert!(
                    lag["failed"].is_null(),
                    "a read model of {} failed: {lag}",
                    nodes.id(i)
                );
            }
            if lags
                .iter()
                .all(|l| l["position"].as_u64().unwrap_or(0) >= head)
            {
                return;
            }
        }
        assert!(
            started.elapsed() < within,
            "the read models of {} have not applied position {head} within {within:?}: {lags:?}",
            nodes.id(i)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// One event of a node's log, as `crisisd replay` prints it.
struct Logged {
    id: String,
    kind: String,
    /// A `signal.recorded`'s source message id.
    source: Option<String>,
}

/// After the load: waits for the ingest backlog to drain and the nodes to agree, compares
/// their read models, stops them, then checks each data directory offline — `crisisd
/// verify` passes, every read model equals a rebuild, `crisisd replay` prints the same
/// bytes on every node — and that every acknowledged write is in the log exactly once. Returns the log (node 0's replay).
fn settle_and_check(
    rt: &tokio::runtime::Runtime,
    nats: &NatsCluster,
    nodes: &mut Nodes,
    ledger: &Ledger,
) -> Vec<Logged> {
    assert!(
        ledger.errors.is_empty(),
        "writers gave up: {:?}",
        ledger.errors
    );
    if !ledger.published.is_empty() {
        wait_ingest_drained(rt, nats, Duration::from_secs(150));
    }
    let head = nodes.wait_converged(Duration::from_secs(120), Duration::from_secs(3));
    for i in 0..nodes.len() {
        let view = nodes.view(i).expect("every node answers /v1/cluster");
        println!(
            "{}: role {}, head {:?}, log_last {}",
            nodes.id(i),
            view["role"],
            head,
            view["log_last"]
        );
    }
    for i in 0..nodes.len() {
        wait_read_models(nodes, i, head.position, Duration::from_secs(60));
    }
    let boards: Vec<Vec<Value>> = (0..nodes.len())
        .map(|i| board(nodes, i, head.position))
        .collect();
    for i in 1..nodes.len() {
        assert!(
            boards[i] == boards[0],
            "the incident board of {} ({} rows) differs from {}'s ({} rows)",
            nodes.id(i),
            boards[i].len(),
            nodes.id(0),
            boards[0].len()
        );
    }

    check_events_stream(rt, nats, head.position);
    let stopped = nodes.stop_all();
    let mut replays = Vec::new();
    for i in 0..nodes.len() {
        let dir = nodes.dir(i).to_owned();
        assert!(
            crisisd::store::sled_store::wait_for_release(&dir, Duration::from_secs(60)),
            "{}'s store is still locked 60 s after it stopped",
            nodes.id(i)
        );
        let verify = offline(&dir, &["verify"]);
        assert!(
            verify.status.success(),
            "crisisd verify on {}: {}{}",
            nodes.id(i),
            String::from_utf8_lossy(&verify.stdout),
            String::from_utf8_lossy(&verify.stderr)
        );
        let report: Value = serde_json::from_slice(&verify.stdout).unwrap();
        assert_eq!(
            (report["to"].as_u64(), report["last_hash"].as_str()),
            (Some(head.position), Some(head.hash.as_str())),
            "{}'s verified log ends at the head /v1/cluster reported: {report}",
            nodes.id(i)
        );
        let replay = offline(&dir, &["replay"]);
        assert!(replay.status.success(), "crisisd replay on {}", nodes.id(i));
        replays.push(replay.stdout);
        // Every read model holds what a replay of the log gives up to its checkpoint.
        let store =
            crisisd::store::SledStore::open_for_inspection(crisisd::store::StoreConfig::new(&dir))
                .unwrap_or_else(|err| panic!("{}'s store opens: {err}", nodes.id(i)));
        let events = store.read_all(1, usize::MAX).unwrap();
        if let Err(why) = crisisd::projection::check::check_against_replay(&store, &events) {
            panic!("{}'s read models differ from a rebuild: {why}", nodes.id(i));
        }
    }
    for i in 1..nodes.len() {
        if replays[i] != replays[0] {
            let (a, b) = (
                String::from_utf8_lossy(&replays[0]).into_owned(),
                String::from_utf8_lossy(&replays[i]).into_owned(),
            );
            let first = a
                .lines()
                .zip(b.lines())
                .position(|(x, y)| x != y)
                .unwrap_or(a.lines().count().min(b.lines().count()));
            panic!(
                "the logs of {} and {} differ from line {} ({} and {} lines)",
                nodes.id(0),
                nodes.id(i),
                first + 1,
                a.lines().count(),
                b.lines().count()
            );
        }
    }
    let log = parse_log(&replays[0], head.position);
    check_ledger(&log, ledger);
    for (i, end) in stopped.iter().enumerate() {
        match end {
            Ok(status) => assert!(status.success(), "node {i} exited with {status} on SIGTERM"),
            Err(why) => panic!("{why}"),
        }
    }
    log
}

fn offline(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_crisisd"))
        .args(["--data-dir", dir.to_str().unwrap()])
        .args(args)
        .output()
        .unwrap()
}

/// Parses a replay; checks positions run 1..=head without a gap and no id repeats.
fn parse_log(replay: &[u8], head: u64) -> Vec<Logged> {
    let text = std::str::from_utf8(replay).unwrap();
    let mut log = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let event: Value = serde_json::from_str(line).unwrap();
        assert_eq!(
            event["position"].as_u64(),
            Some(n as u64 + 1),
            "positions run from 1 without a gap"
        );
        log.push(Logged {
            id: event["id"].as_str().unwrap().to_owned(),
            kind: event["type"].as_str().unwrap().to_owned(),
            source: event["data"]["source_ref"].as_str().map(str::to_owned),
        });
    }
    assert_eq!(log.len() as u64, head, "the replay ends at the head");
    let mut ids = HashMap::new();
    for event in &log {
        *ids.entry(event.id.as_str()).or_insert(0u32) += 1;
    }
    let repeated: Vec<_> = ids.iter().filter(|(_, n)| **n > 1).collect();
    assert!(repeated.is_empty(), "event ids stored twice: {repeated:?}");
    log
}

/// Every acknowledged write is in the log exactly once: a command's events by id, a
/// feedback message as one `signal.recorded` naming it as its source.
fn check_ledger(log: &[Logged], ledger: &Ledger) {
    let mut ids: HashMap<&str, u32> = HashMap::new();
    let mut signals: HashMap<&str, u32> = HashMap::new();
    for event in log {
        *ids.entry(event.id.as_str()).or_default() += 1;
        if event.kind == "signal.recorded"
            && let Some(source) = &event.source
        {
            *signals.entry(source.as_str()).or_default() += 1;
        }
    }
    let (mut events, mut feedback) = (0, 0);
    for write in &ledger.writes {
        match &write.stored {
            Stored::Events(acked) => {
                for id in acked {
                    assert_eq!(
                        ids.get(id.as_str()).copied().unwrap_or(0),
                        1,
                        "acknowledged event {id} is in the log exactly once"
                    );
                    events += 1;
                }
            }
            Stored::Feedback(source) => {
                assert_eq!(
                    signals.get(source.as_str()).copied(),
                    Some(1),
                    "acknowledged HTTP feedback {source} is one signal.recorded"
                );
                feedback += 1;
            }
        }
    }
    for source in &ledger.published {
        assert_eq!(
            signals.get(source.as_str()).copied(),
            Some(1),
            "feedback {source}, acknowledged by JetStream, is one signal.recorded"
        );
    }
    println!(
        "in every node's log exactly once: {events} acknowledged command events, {feedback} HTTP feedback messages, {} NATS feedback messages; {} events in all",
        ledger.published.len(),
        log.len()
    );
}

/// The log positions of the events `writes` stored.
fn positions_of(log: &[Logged], writes: &[Write]) -> Vec<u64> {
    let mut positions = Vec::new();
    for write in writes {
        let found: Vec<u64> = match &write.stored {
            Stored::Events(ids) => ids
                .iter()
                .map(|id| {
                    log.iter()
                        .position(|e| &e.id == id)
                        .unwrap_or_else(|| panic!("acknowledged event {id} is in the log"))
                        as u64
                        + 1
                })
                .collect(),
            Stored::Feedback(source) => log
                .iter()
                .position(|e| e.kind == "signal.recorded" && e.source.as_ref() == Some(source))
                .map(|p| vec![p as u64 + 1])
                .unwrap_or_else(|| panic!("acknowledged feedback {source} is in the log")),
        };
        positions.extend(found);
    }
    positions
}

fn median_and_max(values: &mut [f64]) -> (f64, f64) {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let median = if values.is_empty() {
        f64::NAN
    } else if values.len() % 2 == 1 {
        values[values.len() / 2]
    } else {
        (values[values.len() / 2 - 1] + values[values.len() / 2]) / 2.0
    };
    (median, values.last().copied().unwrap_or(f64::NAN))
}

#[test]
fn three_nodes_elect_one_leader_and_followers_redirect_commands() {
    let _turn = nodes::serial();
    let rt = runtime();
    let nats = rt.block_on(NatsCluster::start());
    let mut nodes = Nodes::start(&nats, 3, Start::Together);
    let leader = nodes.wait_leader(ELECTION_WITHIN);
    // Once the followers know the leader, every node tells the same story.
    let started = Instant::now();
    let views: Vec<Value> = loop {
        let views: Vec<Option<Value>> = (0..3).map(|i| nodes.view(i)).collect();
        let agreed = views.iter().enumerate().all(|(i, v)| {
            v.as_ref()
                .is_some_and(|v| i == leader || v["leader"]["node_id"] == nodes.id(leader))
        });
        if agreed {
            break views.into_iter().map(Option::unwrap).collect();
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the followers do not name {} as leader within 30 s: {views:?}",
            nodes.id(leader)
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let term = views[leader]["term"]
        .as_u64()
        .expect("the leader has a term");
    for (i, view) in views.iter().enumerate() {
        assert_eq!(view["cluster"], nodes::CLUSTER, "{view}");
        assert_eq!(view["node_id"], nodes.id(i), "{view}");
        assert!(view["head"]["position"].is_u64(), "{view}");
        assert!(view["head"]["hash"].is_string(), "{view}");
        if i == leader {
            assert_eq!(view["role"], "leader", "{view}");
            // The leader names itself or no one.
            assert!(
                view["leader"].is_null() || view["leader"]["node_id"] == nodes.id(leader),
                "{view}"
            );
        } else {
            assert_eq!(view["role"], "follower", "exactly one leader: {views:?}");
            assert!(view["term"].is_null(), "a follower has no term: {view}");
            assert_eq!(view["leader"]["node_id"], nodes.id(leader), "{view}");
            assert_eq!(view["leader"]["url"], nodes.url(leader), "{view}");
            assert_eq!(view["leader"]["term"], term, "{view}");
        }
    }

    let follower = (leader + 1) % 3;
    let lead = nodes.tokens.lead.clone();
    // Reads are served where they are asked.
    let read = nodes.get(follower, "/v1/incidents").unwrap();
    assert_eq!(read.status, 200, "a follower serves reads: {read:?}");
    assert!(read.header("x-crisisd-leader").is_none(), "{read:?}");

    // A command sent to a follower reaches the leader: redirected (307 to the same path
    // on the leader) or forwarded (the leader's own answer relayed), and either way the
    // answer names the leader.
    let body = open_incident("LH400 cancelled, asked of a follower");
    let headers = [("Idempotency-Key", "redirected-1")];
    let first = nodes::http(
        nodes.port(follower),
        "POST",
        "/v1/incidents",
        &lead,
        &headers,
        &body,
        nodes::HTTP_TIMEOUT,
    )
    .unwrap();
    assert_eq!(
        first.header("x-crisisd-leader"),
        Some(nodes.id(leader)),
        "{first:?}"
    );
    let answer = match first.status {
        307 => {
            let (port, path) = parse_location(first.header("location").unwrap()).unwrap();
            assert_eq!((port, path.as_str()), (nodes.port(leader), "/v1/incidents"));
            nodes::http(
                port,
                "POST",
                &path,
                &lead,
                &headers,
                &body,
                nodes::HTTP_TIMEOUT,
            )
            .unwrap()
        }
        200 => {
            println!("the follower forwarded the command to the leader instead of answering 307");
            first
        }
        status => panic!("a follower answers a command with {status}: {first:?}"),
    };
    assert_eq!(
        answer.status, 200,
        "the leader takes the command: {answer:?}"
    );
    let port = nodes.port(leader);
    // The same command again, through the other follower: the original events.
    let other = (leader + 2) % 3;
    let again = nodes::post(
        &[nodes.port(other)],
        0,
        "/v1/incidents",
        &lead,
        &headers,
        &body,
        WRITE_WITHIN,
        &Tally::default(),
    )
    .unwrap();
    let (first_json, again_json) = (answer.json(), again.answer.json());
    assert_eq!(again_json["duplicate"], true, "{again_json}");
    assert_eq!(
        (&again_json["events"], &again_json["position"]),
        (&first_json["events"], &first_json["position"]),
        "a retry finds the original events"
    );
    let position = answer.json()["position"].as_u64().unwrap();

    // The event reaches every node: the same head, and the incident on every board.
    let head = nodes.wait_converged(Duration::from_secs(60), Duration::from_millis(500));
    assert!(head.position >= position, "{head:?} covers {position}");
    for i in 0..3 {
        let rows = board(&nodes, i, position);
        assert!(
            rows.iter()
                .any(|r| r["title"] == "LH400 cancelled, asked of a follower"),
            "{}'s board shows the incident: {rows:?}",
            nodes.id(i)
        );
        let verify = nodes::http(
            nodes.port(i),
            "GET",
            "/v1/audit/verify",
            &lead,
            &[],
            "",
            Duration::from_secs(30),
        )
        .unwrap();
        assert_eq!(verify.status, 200, "{}: {verify:?}", nodes.id(i));
        let report = verify.json();
        assert!(report["damage"].is_null(), "{}: {report}", nodes.id(i));
        assert_eq!(
            report["last_hash"],
            head.hash.as_str(),
            "{}: {report}",
            nodes.id(i)
        );
    }
    let ledger = Ledger {
        writes: vec![Write {
            stored: Stored::Events(event_ids(&Acked {
                answer,
                port,
                at: Instant::now(),
            })),
            by: nodes.id(leader).to_owned(),
            at: Instant::now(),
        }],
        ..Ledger::default()
    };
    let log = settle_and_check(&rt, &nats, &mut nodes, &ledger);
    assert_eq!(
        log.iter().filter(|e| e.kind == "incident.opened").count(),
        1,
        "the command, sent twice, was stored once"
    );
}

#[test]
fn kill_9_of_the_leader_under_load_loses_no_acknowledged_event() {
    let _turn = nodes::serial();
    let rounds = std::env::var("CRISISD_CLUSTER_ROUNDS")
        .ok()
        .map(|r| {
            r.parse::<usize>()
                .expect("CRISISD_CLUSTER_ROUNDS is a number")
        })
        .unwrap_or(ROUNDS_DEFAULT);
    let rt = runtime();
    let nats = rt.block_on(NatsCluster::start());
    let mut nodes = Nodes::start(&nats, 3, Start::OneByOne);
    nodes.wait_leader(ELECTION_WITHIN);
    let load = Load::start(&nodes, Some((&rt, &nats)));
    let (mut elections, mut failovers) = (Vec::new(), Vec::new());
    for round in 1..=rounds {
        let leader = nodes.wait_leader(ELECTION_WITHIN);
        // The kill lands amid writes.
        load.wait_acks_after(Instant::now(), ACKS_BEFORE_KILL, WRITE_WITHIN);
        let killed_at = Instant::now();
        nodes.kill(leader);
        let successor = nodes.wait_leader(ELECTION_WITHIN);
        let elected = killed_at.elapsed();
        let first = load.wait_ack_from_other(killed_at, nodes.id(leader), WRITE_WITHIN);
        let failover = first.at - killed_at;
        assert_eq!(
            first.by,
            nodes.id(successor),
            "the first write after the kill is acknowledged by the new leader"
        );
        println!(
            "round {round}: killed {} (leader), {} leads after {:.2} s, first acknowledged write {:.2} s after the kill",
            nodes.id(leader),
            nodes.id(successor),
            elected.as_secs_f64(),
            failover.as_secs_f64()
        );
        elections.push(elected.as_secs_f64());
        failovers.push(failover.as_secs_f64());
        nodes.restart(leader);
        for i in 0..nodes.len() {
            nodes.assert_alive(i, &format!("in round {round}"));
        }
    }
    // Let the restarted node rejoin under load before the load stops.
    std::thread::sleep(Duration::from_secs(2));
    let published = load.published_count();
    let ledger = load.finish(&rt);
    let (election_median, election_max) = median_and_max(&mut elections);
    let (failover_median, failover_max) = median_and_max(&mut failovers);
    println!(
        "{rounds} rounds: leader seen after the kill in median {election_median:.2} s, max {election_max:.2} s; failover (kill → first acknowledged write) median {failover_median:.2} s, max {failover_max:.2} s; {} HTTP writes and {published} NATS messages acknowledged",
        ledger.writes.len()
    );
    settle_and_check(&rt, &nats, &mut nodes, &ledger);
}

/// Where a stream lives (replicas, Raft leader), for the test's output.
async fn placement(js: &jetstream::Context, stream: &str) -> String {
    match js.get_stream(stream).await {
        Ok(mut s) => match s.info().await {
            Ok(info) => format!(
                "R{}, led by {:?}",
                info.config.num_replicas,
                info.cluster.as_ref().and_then(|c| c.leader.clone())
            ),
            Err(err) => format!("no info: {err}"),
        },
        Err(err) => format!("not found: {err}"),
    }
}

#[test]
fn kill_9_of_one_nats_server_under_load_loses_nothing_and_writes_continue() {
    let _turn = nodes::serial();
    let rt = runtime();
    let mut nats = rt.block_on(NatsCluster::start());
    let mut nodes = Nodes::start(&nats, 3, Start::OneByOne);
    let leader = nodes.wait_leader(ELECTION_WITHIN);
    let load = Load::start(&nodes, Some((&rt, &nats)));
    load.wait_ack_after(Instant::now(), WRITE_WITHIN);
    std::thread::sleep(Duration::from_secs(2));
    // The hardest server to lose: the one leading the replicated log's Raft group.
    let (victim, lease_leader, ingest) = rt.block_on(async {
        let js = jetstream::new(nats.client().await);
        let log = stream_leader(&js, "CRISIS_LOG").await;
        let lease = placement(&js, &format!("KV_CRISIS_LEADER_{}", nodes::CLUSTER)).await;
        let ingest = placement(&js, "CRISIS_INGEST").await;
        (nats.index_of(&log), lease, ingest)
    });
    println!(
        "killing nats server {victim}, leader of CRISIS_LOG; the lease bucket: {lease_leader}; CRISIS_INGEST: {ingest}; crisisd leader {}",
        nodes.id(leader)
    );
    let published_before = load.published_count();
    let killed_at = Instant::now();
    nats.kill(victim);
    let first = load.wait_ack_after(killed_at, WRITE_WITHIN);
    println!(
        "first acknowledged write {:.2} s after the nats server's death",
        (first.at - killed_at).as_secs_f64()
    );
    // Writes go on while the server stays down.
    load.wait_acks_after(first.at, 20, WRITE_WITHIN);
    std::thread::sleep(Duration::from_secs(5));
    let restarted_at = Instant::now();
    let (down_acks, _) = load.acks_between(killed_at, restarted_at, "");
    println!(
        "while the nats server was down ({:.1} s): {down_acks} HTTP writes and {} NATS messages acknowledged",
        (restarted_at - killed_at).as_secs_f64(),
        load.published_count() - published_before
    );
    nats.restart(victim);
    rt.block_on(nats.wait_ready());
    load.wait_ack_after(Instant::now(), WRITE_WITHIN);
    std::thread::sleep(Duration::from_secs(3));
    let ledger = load.finish(&rt);
    settle_and_check(&rt, &nats, &mut nodes, &ledger);
}

#[test]
fn a_paused_leader_cannot_append_after_it_wakes() {
    let _turn = nodes::serial();
    let rt = runtime();
    let nats = rt.block_on(NatsCluster::start());
    let mut nodes = Nodes::start(&nats, 3, Start::OneByOne);
    let old = nodes.wait_leader(ELECTION_WITHIN);
    let old_port = nodes.port(old);
    let old_pid = nodes.pid(old);
    let load = Load::start(&nodes, None);
    load.wait_ack_after(Instant::now(), WRITE_WITHIN);
    let paused_at = Instant::now();
    nodes.pause(old);
    // A command sent straight to the paused leader waits in its socket; when it wakes it
    // must not store it.
    let lead = nodes.tokens.lead.clone();
    let queued: Vec<_> = (0..QUEUED_COMMANDS)
        .map(|k| {
            let lead = lead.clone();
            std::thread::spawn(move || {
                nodes::http(
                    old_port,
                    "POST",
                    "/v1/incidents",
                    &lead,
                    &[("Idempotency-Key", &format!("sent-to-the-paused-leader-{k}"))],
                    &open_incident(&format!("sent to the paused leader {k}")),
                    Duration::from_secs(60),
                )
            })
        })
        .collect();
    let successor = nodes.wait_leader(ELECTION_WITHIN);
    assert_ne!(successor, old);
    let taken = load.wait_ack_from_other(paused_at, nodes.id(old), WRITE_WITHIN);
    assert_eq!(
        taken.by,
        nodes.id(successor),
        "the new leader takes writes while the old one is paused"
    );
    let pause = Duration::from_secs(8);
    if let Some(left) = pause.checked_sub(paused_at.elapsed()) {
        std::thread::sleep(left);
    }
    println!(
        "{} paused for {:.1} s; {} took the lead and its first write meanwhile",
        nodes.id(old),
        paused_at.elapsed().as_secs_f64(),
        nodes.id(successor)
    );
    // Anything the log stores from now on was sent after the old leader woke.
    let woke_at = chrono::Utc::now();
    nodes.resume(old);
    let resumed_at = Instant::now();
    // It steps down and follows the new leader.
    nodes.wait_following(old, successor, "after SIGCONT");
    let following_at = Instant::now();
    let same_process = nodes.still_running(old);
    println!(
        "{} follows {:.2} s after SIGCONT (PID {old_pid} {})",
        nodes.id(old),
        (following_at - resumed_at).as_secs_f64(),
        if same_process { "unchanged" } else { "gone" }
    );
    // What the old leader acknowledged after the pause began: an answer it had ready (or
    // a record the log had taken) when SIGSTOP came, written after SIGCONT. Each must be
    // a record the log stored before the old leader woke — checked below.
    let late: Vec<Write> = load.acks_of_between(
        paused_at + Duration::from_millis(500),
        following_at,
        nodes.id(old),
    );
    load.wait_ack_after(Instant::now(), WRITE_WITHIN);
    let ledger = load.finish(&rt);
    for queued in queued {
        let queued = queued.join().unwrap();
        println!("a command queued on the paused leader: {queued:?}");
        if let Ok(answer) = &queued {
            assert!(
                answer.status != 200 && answer.status != 202,
                "the woken leader stored a command sent while it was paused: {answer:?}"
            );
        }
    }
    let log = settle_and_check(&rt, &nats, &mut nodes, &ledger);
    // The woken leader appended nothing: whatever it acknowledged late, the log had stored
    // while it slept (the stream's own timestamp of each record).
    let positions = positions_of(&log, &late);
    rt.block_on(async {
        let js = jetstream::new(nats.client().await);
        let stream = js
            .get_stream(LogConfig::for_cluster("test").stream)
            .await
            .unwrap();
        for &position in &positions {
            let record = stream.get_raw_message(position).await.unwrap();
            let stored_ns = record.time.unix_timestamp_nanos();
            let woke_ns = i128::from(woke_at.timestamp_nanos_opt().unwrap());
            assert!(
                stored_ns < woke_ns,
                "{} appended position {position} {:.3} s after it woke",
                nodes.id(old),
                (stored_ns - woke_ns) as f64 / 1e9
            );
        }
    });
    println!(
        "{} answered {} writes after its pause; the log had stored all {} of their events before it woke",
        nodes.id(old),
        late.len(),
        positions.len()
    );
    let mut by_stream: BTreeMap<&str, usize> = BTreeMap::new();
    for event in &log {
        *by_stream.entry(event.kind.as_str()).or_default() += 1;
    }
    println!("event types in the log: {by_stream:?}");
    let titles = offline(nodes.dir(0), &["replay"]);
    assert!(
        !String::from_utf8_lossy(&titles.stdout).contains("sent to the paused leader"),
        "no node stored the command sent to the paused leader"
    );
}

/// A leader whose disk fails (an fsync of its event store returns `EIO`) can no longer
/// write: it gives the lease up at once and restarts as a follower, another node takes the
/// writes, and every acknowledged write is on both nodes exactly once. The fault fires
/// once, as a disk hiccup: the restarted node's store works again and it catches up.
#[test]
fn a_leader_whose_disk_fails_gives_up_the_lease_and_a_follower_takes_over() {
    let _turn = nodes::serial();
    let rt = runtime();
    let nats = rt.block_on(NatsCluster::start());
    let disks = Disks::mount(2);
    let mut nodes = Nodes::start_on(&nats, &disks.data_dirs(), Start::OneByOne);
    let old = nodes.wait_leader(ELECTION_WITHIN);
    let load = Load::start(&nodes, None);
    load.wait_acks_after(Instant::now(), ACKS_BEFORE_KILL, WRITE_WITHIN);
    let failed_at = Instant::now();
    disks.mounts[old].control.inject(failed_fsyncs(Some(1)));
    let taken = load.wait_ack_from_other(failed_at, nodes.id(old), WRITE_WITHIN);
    assert_eq!(
        disks.mounts[old].control.faults_fired(),
        1,
        "the fsync of {}'s event store failed once",
        nodes.id(old)
    );
    let successor = nodes.wait_leader(ELECTION_WITHIN);
    assert_ne!(successor, old, "the node whose disk failed does not lead");
    assert_eq!(taken.by, nodes.id(successor));
    println!(
        "{}'s fsync failed; {} took its first write {:.2} s later",
        nodes.id(old),
        nodes.id(successor),
        (taken.at - failed_at).as_secs_f64()
    );
    // It restarted itself and follows the new leader.
    nodes.wait_following(old, successor, "after its disk failed");
    let log = nodes.log_tail(old, 200);
    println!(
        "{} resigned the lease before restarting: {}",
        nodes.id(old),
        log.contains("resigned the cluster's lease")
    );
    assert!(
        log.contains("event store refuses appends"),
        "{} says why it stepped down; its log ends:\n{log}",
        nodes.id(old)
    );
    load.wait_acks_after(Instant::now(), ACKS_BEFORE_KILL, WRITE_WITHIN);
    let ledger = load.finish(&rt);
    // The key store is shared: on the new leader, customers' words sealed by the old one
    // read as written, as its own do.
    let replay = nodes.revealed_replay(successor, &nodes.tokens.lead);
    assert!(
        !replay.contains("[unavailable]")
            && replay.contains("is my connection still on?")
            && !replay.contains("[erased]"),
        "feedback sealed by either leader, as {} reads it",
        nodes.id(successor)
    );
    settle_and_check(&rt, &nats, &mut nodes, &ledger);
    drop(nodes);
    disks.unmount();
}

/// A follower whose disk keeps failing cannot apply the log: it waits 10 s before it
/// restarts to try again (not in a loop), and when its store cannot even open it exits
/// for its supervisor, saying why; the leader takes writes throughout, and once the disk
/// works again the follower, restarted, catches up.
#[test]
fn a_follower_whose_disk_keeps_failing_waits_between_restarts_and_catches_up_after() {
    let _turn = nodes::serial();
    let rt = runtime();
    let nats = rt.block_on(NatsCluster::start());
    let disks = Disks::mount(2);
    let mut nodes = Nodes::start_on(&nats, &disks.data_dirs(), Start::OneByOne);
    let leader = nodes.wait_leader(ELECTION_WITHIN);
    let follower = 1 - leader;
    let load = Load::start(&nodes, None);
    load.wait_acks_after(Instant::now(), ACKS_BEFORE_KILL, WRITE_WITHIN);
    let restarts_before = nodes
        .log_tail(follower, 100_000)
        .matches("stepping down")
        .count();
    let failing_at = Instant::now();
    disks.mounts[follower].control.inject(failed_fsyncs(None));
    let failing = Duration::from_secs(15);
    let mut exited = None;
    while failing_at.elapsed() < failing {
        if exited.is_none() {
            exited = nodes
                .exited(follower)
                .map(|status| (status, failing_at.elapsed()));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        disks.mounts[follower].control.faults_fired() > 0,
        "the follower's fsyncs failed"
    );
    let restarts = nodes
        .log_tail(follower, 100_000)
        .matches("stepping down")
        .count()
        - restarts_before;
    println!(
        "{}'s disk failed every fsync for {:.0} s: it restarted {restarts} times",
        nodes.id(follower),
        failing.as_secs_f64()
    );
    assert!(
        (1..=2).contains(&restarts),
        "{} restarted {restarts} times in {failing:?} (once per 10 s expected); its log ends:\n{}",
        nodes.id(follower),
        nodes.log_tail(follower, 40)
    );
    if let Some((status, after)) = exited {
        println!(
            "{} exited with {status} {:.1} s after its disk began failing",
            nodes.id(follower),
            after.as_secs_f64()
        );
        assert!(
            !status.success() && after >= Duration::from_secs(9),
            "{} exited with {status} after {after:?}",
            nodes.id(follower)
        );
        let log = nodes.log_tail(follower, 5);
        assert!(
            log.contains("cannot open the event store"),
            "it says why it exited: {log}"
        );
    }
    let (taken, by_leader) = load.acks_between(failing_at, Instant::now(), nodes.id(leader));
    assert!(
        taken > 0 && by_leader == taken,
        "the leader took every write while the follower's disk failed ({by_leader} of {taken})"
    );
    assert_eq!(nodes.wait_leader(ELECTION_WITHIN), leader);
    disks.mounts[follower].control.clear_faults();
    if exited.is_some() {
        nodes.restart(follower);
    }
    load.wait_acks_after(Instant::now(), ACKS_BEFORE_KILL, WRITE_WITHIN);
    let ledger = load.finish(&rt);
    settle_and_check(&rt, &nats, &mut nodes, &ledger);
    drop(nodes);
    disks.unmount();
}

/// One LazyFs mount per node, each with an empty `data` directory, under a temporary
/// directory of their own.
struct Disks {
    mounts: Vec<lazyfs::Mounted>,
    _base: tempfile::TempDir,
}

impl Disks {
    fn mount(count: usize) -> Disks {
        let base = tempfile::tempdir().unwrap();
        let mounts = (1..=count)
            .map(|n| {
                let disk = base.path().join(format!("disk-{n}"));
                let (backing, mountpoint) = (disk.join("backing"), disk.join("mnt"));
                std::fs::create_dir_all(backing.join("data")).unwrap();
                std::fs::create_dir_all(&mountpoint).unwrap();
                lazyfs::mount(&backing, &disk.join("graveyard"), &mountpoint)
                    .expect("mount lazyfs (needs root and /dev/fuse)")
            })
            .collect();
        Disks {
            mounts,
            _base: base,
        }
    }

    /// The nodes' data directories, as crisisd sees them (on the mounts).
    fn data_dirs(&self) -> Vec<std::path::PathBuf> {
        self.mounts
            .iter()
            .map(|m| m.mountpoint.join("data"))
            .collect()
    }

    /// Unmounts each, once the nodes on them have stopped.
    fn unmount(mut self) {
        for mount in self.mounts.drain(..) {
            mount.unmount().unwrap();
        }
    }
}

/// Fsyncs of a node's event store that fail with `EIO`: the next `times` (every one if
/// `None`).
fn failed_fsyncs(times: Option<u64>) -> lazyfs::Fault {
    lazyfs::Fault {
        op: lazyfs::FaultOp::Fsync,
        path_contains: "data/db".into(),
        skip: 0,
        times,
    }
}

/// A manifest that changes more than one atomic batch of the cluster's log takes (a list
/// of 1,000 passengers replaced by 1,000 others: 2,001 events) is stored, in several
/// appends, and the leader stays the leader: an append the log could not take whole
/// would have made it step down, and the redelivered manifest every next leader.
#[test]
fn a_manifest_larger_than_one_log_batch_is_stored_and_the_leader_stays() {
    let _turn = nodes::serial();
    let rt = runtime();
    let nats = rt.block_on(NatsCluster::start());
    let mut nodes = Nodes::start(&nats, 2, Start::OneByOne);
    let leader = nodes.wait_leader(ELECTION_WITHIN);
    let date = chrono::Utc::now().date_naive();
    for (source, prefix) in [("dcs-a", "A"), ("dcs-b", "B")] {
        let passengers: Vec<Value> = (0..1000)
            .map(|n| json!({"passenger_ref": format!("{prefix}{n}"), "tier": "none", "booking_class": "Y"}))
            .collect();
        let body = json!({"v": 1, "source_message_id": source, "carrier": "LH",
            "flight_number": "400", "origin_date": date.to_string(), "passengers": passengers})
        .to_string();
        nodes::post(
            &[nodes.port(leader)],
            0,
            "/v1/ingest/manifest",
            &nodes.tokens.ops,
            &[],
            &body,
            WRITE_WITHIN,
            &Tally::default(),
        )
        .unwrap_or_else(|why| panic!("manifest {source}: {why}"));
    }
    let head = nodes.wait_converged(Duration::from_secs(60), Duration::from_millis(500));
    assert_eq!(
        head.position,
        1001 + 2001,
        "the first list (1,000 bookings and the list), then the second (1,000 bookings, 1,000 removals, the list)"
    );
    assert_eq!(nodes.wait_leader(ELECTION_WITHIN), leader);
    let log = nodes.log_tail(leader, 100_000);
    assert!(
        !log.contains("stepping down"),
        "{} never stepped down; its log ends:\n{}",
        nodes.id(leader),
        nodes.log_tail(leader, 20)
    );
    let ledger = Ledger::default();
    settle_and_check(&rt, &nats, &mut nodes, &ledger);
}
