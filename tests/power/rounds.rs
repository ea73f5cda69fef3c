//! Power cuts under load through the real binary: `crisisd serve` on lazyfs with a real
//! nats-server, HTTP commands and NATS ingest at once, then kill -9 and a power cut at
//! a random moment (a fixed seed), and a check of what the disk kept before the next
//! start on the same data directory.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::jetstream;
use crisisd::store::{SledStore, StoreConfig};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::lazyfs::{self, CutReport};
use crate::nats_server::NatsServer;
use crate::support::{Crisisd, crisisd, http, token_add};

/// Rounds of the test (`POWER_CUT_ROUNDS` sets another number, e.g. for a longer soak).
const ROUNDS: usize = 100;
/// Every this many rounds (and in the last), every read model is compared with a
/// replay of the log up to its checkpoint; every round checks the checkpoints.
const MODEL_CHECK_EVERY: usize = 5;
/// Feedback messages published to NATS per round.
const FEEDBACK_PER_ROUND: u32 = 12;

/// The test's directories: `backing` is what the disk keeps, `mnt` the lazyfs mount of
/// it; the data directory is `data` in either.
pub struct Lab {
    pub base: tempfile::TempDir,
}

impl Lab {
    pub fn new() -> Lab {
        let lab = Lab {
            base: tempfile::tempdir().unwrap(),
        };
        std::fs::create_dir_all(lab.backing().join("data")).unwrap();
        std::fs::create_dir_all(lab.mountpoint()).unwrap();
        lab
    }

    pub fn backing(&self) -> PathBuf {
        self.base.path().join("backing")
    }

    pub fn mountpoint(&self) -> PathBuf {
        self.base.path().join("mnt")
    }

    pub fn mount(&self) -> lazyfs::Mounted {
        lazyfs::mount(
            &self.backing(),
            &self.base.path().join("graveyard"),
            &self.mountpoint(),
        )
        .expect("mount lazyfs (needs root and /dev/fuse)")
    }

    /// The data directory as crisisd sees it (on the mount).
    pub fn data(&self) -> PathBuf {
        self.mountpoint().join("data")
    }

    /// The data directory on the backing disk (after a cut: what survived).
    pub fn kept(&self) -> PathBuf {
        self.backing().join("data")
    }

    /// Keeps everything for a post-mortem: the backing directory, the operation log of
    /// the round and crisisd's log; returns where.
    pub fn keep(self, round: usize, log: &[String], cut: &CutReport) -> PathBuf {
        let path = self.base.keep();
        std::fs::write(
            path.join(format!("operations-round-{round}.log")),
            log.join("\n"),
        )
        .unwrap();
        std::fs::write(path.join("cut.txt"), format!("{cut:#?}\n")).unwrap();
        path
    }
}

/// What crisisd acknowledged, over all rounds.
#[derive(Clone, Default)]
pub struct Acked {
    /// Every event id an HTTP answer named.
    pub events: HashSet<Uuid>,
    /// Registered passengers and the name each was registered with.
    pub passengers: BTreeMap<String, String>,
    pub erased: BTreeSet<String>,
    /// Feedback published to CRISIS_INGEST: stream sequence → source id.
    pub published: BTreeMap<u64, String>,
    /// Source ids crisisd took from CRISIS_INGEST (it acknowledges a message to NATS
    /// once its events are stored).
    pub ingested: BTreeSet<String>,
    /// Actors of tokens `token add` reported added.
    pub tokens: Vec<String>,
}

struct Tokens {
    agent: String,
    lead: String,
    admin: String,
}

#[test]
fn power_cuts_under_load_lose_nothing_acknowledged() {
    let started = Instant::now();
    let rounds: usize = std::env::var("POWER_CUT_ROUNDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(ROUNDS);
    let lab = Lab::new();
    let nats = NatsServer::start();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let js = runtime.block_on(async {
        let client = async_nats::connect(nats.url()).await.unwrap();
        let js = jetstream::new(client);
        js.get_or_create_stream(crisisd::bus::ingest::stream_config())
            .await
            .unwrap();
        js
    });
    // The tokens come first, on the disk itself (durable before the first mount).
    let tokens = Tokens {
        agent: token_add(&lab.kept(), "agent", "agent-ann").unwrap(),
        lead: token_add(&lab.kept(), "crisis_lead", "lead-lee").unwrap(),
        admin: token_add(&lab.kept(), "admin", "privacy-officer").unwrap(),
    };
    let mut acked = Acked::default();
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let (mut dropped, mut torn, mut names) = (0u64, 0usize, 0usize);
    for round in 0..rounds {
        let t0 = Instant::now();
        let mount = lab.mount();
        let log_path = lab.base.path().join("crisisd.log");
        let mut server = Crisisd::serve(&lab.data(), Some(&nats.url()), &log_path);
        let t_started = t0.elapsed();
        let stop = Arc::new(AtomicBool::new(false));
        let answers = Arc::new(Mutex::new(Answers::default()));
        let (first_tx, first_rx) = std::sync::mpsc::channel();
        let mut load = vec![
            spawn_registrations(round, server.port, &tokens, &stop, &answers, first_tx),
            spawn_incidents(round, server.port, &tokens, &stop, &answers),
        ];
        let mut erasing = false;
        if round % 3 == 1
            && let Some(passenger) = acked
                .passengers
                .keys()
                .find(|p| !acked.erased.contains(*p))
                .cloned()
        {
            load.push(spawn_erasure(server.port, &tokens, passenger, &answers));
            erasing = true;
        }
        let publishing = runtime.spawn(publish_feedback(js.clone(), round));
        let token_actor = format!("agent-r{round}");
        let token_added = (round % 10 == 5).then(|| {
            let data = lab.data();
            let actor = token_actor.clone();
            std::thread::spawn(move || token_add(&data, "agent", &actor).is_some())
        });
        // Odd rounds cut only once something is acknowledged, however slow the machine.
        if round % 2 == 1 {
            first_rx
                .recv_timeout(Duration::from_secs(60))
                .unwrap_or_else(|_| panic!("round {round}: nothing acknowledged in 60 s"));
        }
        std::thread::sleep(Duration::from_millis(100 + next() % 700));
        server.kill();
        stop.store(true, Ordering::SeqCst);
        for thread in load {
            thread.join().unwrap();
        }
        if let Some(adding) = token_added
            && adding.join().unwrap()
        {
            acked.tokens.push(token_actor);
        }
        let published = runtime.block_on(publishing).unwrap();
        acked.published.extend(published);
        let taken = runtime.block_on(taken(&js, &acked));
        acked.ingested.extend(taken.iter().cloned());
        let answers = std::mem::take(&mut *answers.lock().unwrap());
        let registered: Vec<String> = answers.passengers.iter().map(|(p, _)| p.clone()).collect();
        acked.events.extend(answers.events);
        acked.passengers.extend(answers.passengers);
        acked.erased.extend(answers.erased);

        let t_load = t0.elapsed();
        let torn_seed = (round % 2 == 0).then(&mut next);
        let cut = mount.control.power_cut(torn_seed).unwrap();
        let log = mount.control.log();
        mount.unmount().unwrap();
        dropped += cut.bytes_dropped;
        torn += usize::from(cut.torn.is_some());
        names += cut.names_reverted;
        let t_cut = t0.elapsed();
        let full = round % MODEL_CHECK_EVERY == MODEL_CHECK_EVERY - 1 || round + 1 == rounds;
        // Only an erasure rewrites what older keys depend on (epochs.json, a re-wrap):
        // other rounds open the values they sealed, the full ones all of them.
        let scope = Scope {
            models: full,
            sealed_only: (!full && !erasing).then_some((&registered[..], &taken[..])),
        };
        if let Err(failure) = check(&lab.kept(), &acked, &scope, &runtime) {
            let log_text = std::fs::read_to_string(&log_path).unwrap_or_default();
            let kept = lab.keep(round, &log, &cut);
            panic!(
                "round {round}: {failure}\nthe backing directory, the operation log and the cut are kept in {}\ncrisisd's log:\n{log_text}",
                kept.display()
            );
        }
        if std::env::var_os("POWER_CUT_TIMES").is_some() {
            eprintln!(
                "round {round}: started {t_started:?}, load until {t_load:?}, cut until {t_cut:?}, checked until {:?}",
                t0.elapsed()
            );
        }
    }
    // The last start drains NATS: every message published is then stored exactly once.
    drain(&lab, &nats, &js, &runtime, &acked);
    eprintln!(
        "{rounds} power cuts in {:.0} s: {} events acknowledged over HTTP, {} feedback messages acknowledged to NATS, {} erasures, {} tokens; {dropped} unsynced bytes and {names} unsynced names dropped, {torn} torn writes",
        started.elapsed().as_secs_f64(),
        acked.events.len(),
        acked.ingested.len(),
        acked.erased.len(),
        acked.tokens.len(),
    );
    assert!(
        acked.events.len() > rounds && acked.ingested.len() > rounds,
        "the load ran: {} events, {} messages acknowledged",
        acked.events.len(),
        acked.ingested.len()
    );
}

/// What this round's HTTP clients were answered 200.
#[derive(Default)]
struct Answers {
    events: Vec<Uuid>,
    passengers: Vec<(String, String)>,
    erased: Vec<String>,
}

impl Answers {
    fn record(&mut self, body: &str) {
        let answer: Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("{body}"));
        for event in answer["events"].as_array().into_iter().flatten() {
            self.events
                .push(event["id"].as_str().unwrap().parse().unwrap());
        }
    }
}

fn spawn_registrations(
    round: usize,
    port: u16,
    tokens: &Tokens,
    stop: &Arc<AtomicBool>,
    answers: &Arc<Mutex<Answers>>,
    first: std::sync::mpsc::Sender<()>,
) -> std::thread::JoinHandle<()> {
    let (token, stop, answers) = (tokens.agent.clone(), stop.clone(), answers.clone());
    std::thread::spawn(move || {
        for n in 0.. {
            if stop.load(Ordering::SeqCst) {
                return;
            }
            let passenger = format!("R{round}-{n}");
            let name = format!("Name of {passenger}");
            let body = json!({"tier": "gold",
                "contact": {"name": name, "email": format!("{}@example.org", passenger.to_lowercase()),
                    "phone": "+44 7700 900123", "language": "en-GB"},
                "consent": {"email": true, "sms": false, "phone": true, "app_push": false}});
            let path = format!("/v1/passengers/{passenger}/register_passenger");
            match http(port, "POST", &path, &token, &body.to_string()) {
                Some((200, body)) => {
                    let mut answers = answers.lock().unwrap();
                    answers.record(&body);
                    answers.passengers.push((passenger, name));
                    let _ = first.send(());
                }
                Some((status, body)) => panic!("register {passenger}: {status} {body}"),
                None => return, // killed
            }
        }
    })
}

fn spawn_incidents(
    round: usize,
    port: u16,
    tokens: &Tokens,
    stop: &Arc<AtomicBool>,
    answers: &Arc<Mutex<Answers>>,
) -> std::thread::JoinHandle<()> {
    let (token, stop, answers) = (tokens.lead.clone(), stop.clone(), answers.clone());
    std::thread::spawn(move || {
        for n in 0.. {
            if stop.load(Ordering::SeqCst) {
                return;
            }
            let open = json!({"title": format!("round {round} incident {n}"), "category": "cancellation",
                "severity": "high", "flight": null, "correlation_key": null, "signal_ids": []});
            match http(port, "POST", "/v1/incidents", &token, &open.to_string()) {
                Some((200, body)) => answers.lock().unwrap().record(&body),
                Some((status, body)) => panic!("open an incident: {status} {body}"),
                None => return,
            }
        }
    })
}

fn spawn_erasure(
    port: u16,
    tokens: &Tokens,
    passenger: String,
    answers: &Arc<Mutex<Answers>>,
) -> std::thread::JoinHandle<()> {
    let (token, answers) = (tokens.admin.clone(), answers.clone());
    std::thread::spawn(move || {
        let path = format!("/v1/passengers/{passenger}/erase");
        match http(
            port,
            "POST",
            &path,
            &token,
            r#"{"reason": "power cut test"}"#,
        ) {
            Some((200, body)) => {
                let mut answers = answers.lock().unwrap();
                answers.record(&body);
                answers.erased.push(passenger);
            }
            Some((status, body)) => panic!("erase {passenger}: {status} {body}"),
            None => {}
        }
    })
}

/// The feedback of round `round`, as a channel would send it: a complaint (signal and
/// complaint in one append, the words sealed).
fn feedback(source: &str) -> Value {
    let now = chrono::Utc::now();
    let received_at =
        (now - chrono::Duration::hours(1)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    json!({
        "v": 1, "source_message_id": source, "channel": "hotline", "text": words(source),
        "passenger_ref": format!("FB-{source}"), "category_hint": "delay", "received_at": received_at,
        "reach": 1, "flight": {"carrier": "LH", "flight_number": "999",
            "origin_date": (now - chrono::Duration::days(2)).date_naive().to_string()}
    })
}

/// The id of the signal or complaint crisisd records for a feedback message (as
/// `src/app/feedback.rs` derives it, which the library does not export).
fn feedback_id(kind: &str, source: &str) -> Uuid {
    const FEEDBACK_NAMESPACE: Uuid = Uuid::from_u128(0x2b8e_91c4_7f0a_4d3e_b6a1_58c2_e7d9_0f14);
    Uuid::new_v5(&FEEDBACK_NAMESPACE, format!("{kind}\n{source}").as_bytes())
}

fn words(source: &str) -> String {
    format!("waited four hours at gate B7 ({source})")
}

/// Publishes this round's feedback; returns stream sequence → source id of each
/// message nats-server stored.
async fn publish_feedback(js: jetstream::Context, round: usize) -> Vec<(u64, String)> {
    let mut stored = Vec::new();
    for n in 0..FEEDBACK_PER_ROUND {
        let source = format!("fb-{round}-{n}");
        let payload = serde_json::to_vec(&feedback(&source)).unwrap();
        let ack = js
            .publish("crisis.ingest.feedback", payload.into())
            .await
            .unwrap()
            .await
            .unwrap();
        stored.push((ack.sequence, source));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stored
}

/// The published messages, not yet known as taken, that crisisd has taken: it
/// acknowledges a message once its events are stored, and CRISIS_INGEST (a work queue)
/// then drops it.
async fn taken(js: &jetstream::Context, acked: &Acked) -> Vec<String> {
    use async_nats::jetstream::stream::LastRawMessageErrorKind;
    let stream = js.get_stream("CRISIS_INGEST").await.unwrap();
    let mut taken = Vec::new();
    for (sequence, source) in &acked.published {
        if acked.ingested.contains(source) {
            continue;
        }
        match stream.get_raw_message(*sequence).await {
            Ok(_) => {}
            Err(err) if err.kind() == LastRawMessageErrorKind::NoMessageFound => {
                taken.push(source.clone())
            }
            Err(err) => panic!("CRISIS_INGEST message {sequence}: {err}"),
        }
    }
    taken
}

/// How much of what was acknowledged a check opens.
pub struct Scope<'a> {
    /// Replay every read model up to its checkpoint.
    pub models: bool,
    /// Open only the sealed values of these passengers and feedback messages (all when
    /// `None`).
    pub sealed_only: Option<(&'a [String], &'a [String])>,
}

/// What survived the cut in `data`, against what was acknowledged, as far as `scope`
/// says.
pub fn check(
    data: &Path,
    acked: &Acked,
    scope: &Scope<'_>,
    runtime: &tokio::runtime::Runtime,
) -> Result<(), String> {
    let verify = crisisd(data, &["verify"]);
    if !verify.status.success() {
        return Err(format!(
            "crisisd verify failed: {}{}",
            String::from_utf8_lossy(&verify.stdout),
            String::from_utf8_lossy(&verify.stderr)
        ));
    }
    let store = SledStore::open(StoreConfig::new(data))
        .map_err(|err| format!("the store does not open after the cut: {err}"))?;
    let result = check_store(&store, data, acked, scope);
    runtime.block_on(store.close());
    drop(store);
    assert!(
        crisisd::store::sled_store::wait_for_release(data, Duration::from_secs(60)),
        "the check's store released the data directory"
    );
    result?;
    let listed = crisisd(data, &["token", "list"]);
    let listed = String::from_utf8_lossy(&listed.stdout);
    for actor in &acked.tokens {
        if !listed.contains(actor.as_str()) {
            return Err(format!(
                "the token of {actor} was added, and is gone: {listed}"
            ));
        }
    }
    Ok(())
}

fn check_store(
    store: &SledStore,
    data: &Path,
    acked: &Acked,
    scope: &Scope<'_>,
) -> Result<(), String> {
    let head = store.head().position;
    let events = store.read_all(1, usize::MAX).map_err(|e| e.to_string())?;
    let mut ids = HashMap::new();
    for (i, event) in events.iter().enumerate() {
        if event.position != i as u64 + 1 {
            return Err(format!("position {} at index {i}: a gap", event.position));
        }
        if let Some(before) = ids.insert(event.id, event.position) {
            return Err(format!(
                "event {} twice, at {before} and {}",
                event.id, event.position
            ));
        }
    }
    if events.len() as u64 != head {
        return Err(format!("{} events, head {head}", events.len()));
    }
    if let Some(lost) = acked.events.iter().find(|id| !ids.contains_key(id)) {
        let count = acked
            .events
            .iter()
            .filter(|id| !ids.contains_key(id))
            .count();
        return Err(format!("{count} acknowledged events lost, e.g. {lost}"));
    }
    let streams: HashSet<String> = events.iter().map(|e| e.stream.clone()).collect();
    // A complaint's signal and complaint are one append: both or neither.
    for source in acked.published.values() {
        let signal = streams.contains(&format!("signal-{}", feedback_id("signal", source)));
        let complaint =
            streams.contains(&format!("complaint-{}", feedback_id("complaint", source)));
        if signal != complaint {
            return Err(format!(
                "feedback {source}: half an append (signal {signal}, complaint {complaint})"
            ));
        }
        if acked.ingested.contains(source) && !signal {
            return Err(format!(
                "feedback {source} was acknowledged to NATS and is not stored"
            ));
        }
    }
    check_checkpoints(store, head)?;
    check_sealed(store, data, acked, scope, &events)?;
    if scope.models {
        crisisd::projection::check::check_against_replay(store, &events)?;
    }
    Ok(())
}

fn check_checkpoints(store: &SledStore, head: u64) -> Result<(), String> {
    let named = [
        crisisd::bus::publisher::CHECKPOINT_NAME,
        "erasures",
        "entitlement-reactor",
        "spike-reactor",
        "settlement-reactor",
    ];
    for name in named {
        let at = store.checkpoint(name).map_err(|e| e.to_string())?;
        if at > head {
            return Err(format!("checkpoint {name} at {at}, past the head {head}"));
        }
    }
    Ok(())
}

/// Every sealed value the log kept opens with the key store as it survived (a key is
/// never lost while its ciphertext survives; the acknowledged ones must all be there);
/// every acknowledged erasure stays erased. An erasure crisisd did not answer may be
/// either: its event may have landed before the key was destroyed, which the next
/// start finishes. `scope` may narrow which values are opened.
fn check_sealed(
    store: &SledStore,
    data: &Path,
    acked: &Acked,
    scope: &Scope<'_>,
    events: &[crisisd::store::RecordedEvent],
) -> Result<(), String> {
    let of_type = |kind: &'static str, prefix: &'static str| {
        events
            .iter()
            .filter(move |e| e.event_type == kind)
            .map(move |e| (e.stream.trim_start_matches(prefix), e))
    };
    let registered: HashMap<&str, _> = of_type("passenger.registered", "passenger-").collect();
    let erased_in_log: HashSet<&str> = of_type("passenger.erased", "passenger-")
        .map(|(passenger, _)| passenger)
        .collect();
    let complaints: HashMap<&str, _> = of_type("complaint.received", "").collect();
    let complaint_of = |source: &str| {
        let stream = format!("complaint-{}", feedback_id("complaint", source));
        complaints.get(stream.as_str()).copied()
    };
    if let Some(gone) = acked
        .passengers
        .keys()
        .find(|p| !registered.contains_key(p.as_str()))
    {
        return Err(format!("the registration of {gone} is gone"));
    }
    if let Some(gone) = acked.ingested.iter().find(|s| complaint_of(s).is_none()) {
        return Err(format!("the complaint of {gone} is gone"));
    }
    if registered.is_empty() && complaints.is_empty() {
        return Ok(());
    }
    let (passengers, sources): (Vec<&str>, Vec<&str>) = match scope.sealed_only {
        Some((passengers, sources)) => (
            passengers.iter().map(String::as_str).collect(),
            sources.iter().map(String::as_str).collect(),
        ),
        None => (
            registered.keys().copied().collect(),
            acked
                .published
                .values()
                .map(String::as_str)
                .filter(|s| complaint_of(s).is_some())
                .collect(),
        ),
    };
    let master = crisisd::privacy::keys::read_master_key(&data.join("master.key"))
        .map_err(|err| format!("the master key: {err}"))?;
    let privacy = crisisd::privacy::Privacy::open(store, master)
        .map_err(|err| format!("the key store does not open: {err}"))?;
    let revealed = |event: &crisisd::store::RecordedEvent| {
        let mut value: Value = serde_json::from_str(event.data.get()).unwrap();
        privacy.reveal(&mut value, Some(event.id));
        value.to_string()
    };
    for passenger in passengers {
        let text = revealed(registered[passenger]);
        let opens = text.contains(&format!("\"Name of {passenger}\""));
        if acked.erased.contains(passenger) && opens {
            return Err(format!("{passenger} was erased, and still reads: {text}"));
        }
        if !erased_in_log.contains(passenger) && !opens {
            return Err(format!("{passenger}'s name does not open: {text}"));
        }
    }
    for source in sources {
        let text = revealed(complaint_of(source).unwrap());
        if !text.contains(&words(source)) {
            return Err(format!("the words of {source} do not open: {text}"));
        }
    }
    Ok(())
}

/// A last start without a cut: crisisd takes every message still in CRISIS_INGEST and
/// publishes the log to CRISIS_EVENTS; then each message published to it is stored
/// exactly once, and CRISIS_EVENTS holds the log, each position once, as stored.
fn drain(
    lab: &Lab,
    nats: &NatsServer,
    js: &jetstream::Context,
    runtime: &tokio::runtime::Runtime,
    acked: &Acked,
) {
    let mount = lab.mount();
    let log_path = lab.base.path().join("crisisd.log");
    let mut server = Crisisd::serve(&lab.data(), Some(&nats.url()), &log_path);
    let mut all = acked.clone();
    let deadline = Instant::now() + Duration::from_secs(120);
    while all.ingested.len() < all.published.len() {
        assert!(Instant::now() < deadline, "ingest not drained in 120 s");
        std::thread::sleep(Duration::from_millis(100));
        all.ingested.extend(runtime.block_on(taken(js, &all)));
    }
    // Then the publisher catches up with the log (reactors may still append).
    let (mut last, mut steady_since) = (0, Instant::now());
    loop {
        assert!(
            Instant::now() < deadline,
            "CRISIS_EVENTS not caught up with the log in 120 s (last seen: {last})"
        );
        std::thread::sleep(Duration::from_millis(100));
        let (_, ready) = http(server.port, "GET", "/readyz", "", "").expect("crisisd answers");
        let ready: Value = serde_json::from_str(&ready).unwrap();
        let head = ready[0]["head"].as_u64().unwrap();
        let published = runtime.block_on(async {
            let mut stream = js.get_stream("CRISIS_EVENTS").await.unwrap();
            stream.info().await.unwrap().state.messages
        });
        if (head, published) != (last, last) {
            (last, steady_since) = (if head == published { head } else { 0 }, Instant::now());
        } else if steady_since.elapsed() >= Duration::from_secs(1) {
            break;
        }
    }
    server.kill();
    drop(mount);
    let scope = Scope {
        models: true,
        sealed_only: None,
    };
    if let Err(failure) = check(&lab.kept(), &all, &scope, runtime) {
        panic!("after the last start: {failure}");
    }
    let store = SledStore::open(StoreConfig::new(lab.kept())).unwrap();
    let events = store.read_all(1, usize::MAX).unwrap();
    runtime.block_on(store.close());
    drop(store);
    assert!(crisisd::store::sled_store::wait_for_release(
        &lab.kept(),
        Duration::from_secs(60)
    ));
    let published = runtime.block_on(published_ids(js, events.len()));
    assert_eq!(published.len(), events.len(), "CRISIS_EVENTS holds the log");
    for (event, (position, id)) in events.iter().zip(&published) {
        assert_eq!(
            (event.position, event.id),
            (*position, *id),
            "CRISIS_EVENTS holds each position once, with the event stored there"
        );
    }
}

/// (ce-sequence, ce-id) of the first `count` messages of CRISIS_EVENTS, in order.
async fn published_ids(js: &jetstream::Context, count: usize) -> Vec<(u64, Uuid)> {
    use futures_util::StreamExt;
    let stream = js.get_stream("CRISIS_EVENTS").await.unwrap();
    let consumer = stream
        .create_consumer(jetstream::consumer::pull::Config {
            deliver_policy: jetstream::consumer::DeliverPolicy::All,
            ack_policy: jetstream::consumer::AckPolicy::None,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut messages = consumer.messages().await.unwrap();
    let mut ids = Vec::with_capacity(count);
    while ids.len() < count {
        let message = tokio::time::timeout(Duration::from_secs(30), messages.next())
            .await
            .expect("CRISIS_EVENTS delivers")
            .unwrap()
            .unwrap();
        let headers = message.headers.as_ref().expect("ce- headers");
        let header = |name: &str| headers.get(name).unwrap().as_str().to_owned();
        ids.push((
            header("ce-sequence").parse().unwrap(),
            header("ce-id").parse().unwrap(),
        ));
    }
    ids
}
