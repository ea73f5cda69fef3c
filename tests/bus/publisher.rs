//! The outbox publisher against a real JetStream: every committed event exactly once,
//! in order, with the CloudEvents headers; through restarts and a NATS outage.

use std::time::{Duration, Instant};

use async_nats::jetstream;
use chrono::Utc;
use crisisd::bus::{Publisher, PublisherConfig};
use crisisd::store::{Actor, AppendRequest, ExpectedVersion, NewEvent, SledStore, StoreConfig};
use serde_json::json;
use tokio::sync::watch;

use crate::nats_server::NatsServer;

fn event(n: u64) -> NewEvent {
    let actor = Actor {
        id: "agent-7".into(),
        role: "crisis_lead".into(),
    };
    NewEvent::new(
        "incident.assessed",
        json!({"n": n, "note": "impact assessed"}),
        actor,
        Utc::now(),
    )
}

async fn append(store: &SledStore, from: u64, count: u64) {
    for n in from..from + count {
        let stream = format!("incident-{}", n % 13);
        store
            .append(AppendRequest::single(
                stream,
                ExpectedVersion::Any,
                vec![event(n)],
            ))
            .await
            .unwrap();
    }
}

struct Running {
    shutdown: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

async fn start_publisher(store: &SledStore, url: &str) -> Running {
    start_publisher_with(store, url, PublisherConfig::default()).await
}

async fn start_publisher_with(store: &SledStore, url: &str, config: PublisherConfig) -> Running {
    let client = async_nats::ConnectOptions::new()
        .retry_on_initial_connect()
        .connect(url)
        .await
        .unwrap();
    let config = PublisherConfig {
        checkpoint_every: Duration::from_millis(20),
        ack_timeout: Duration::from_secs(2),
        ..config
    };
    let publisher = Publisher::new(store.clone(), client, config);
    let (shutdown, rx) = watch::channel(false);
    Running {
        shutdown,
        task: tokio::spawn(publisher.run(rx)),
    }
}

impl Running {
    async fn stop(self) {
        self.shutdown.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(30), self.task)
            .await
            .expect("publisher stops")
            .unwrap();
    }
}

/// Messages in CRISIS_EVENTS; 0 while NATS or the stream is not there yet.
async fn stream_messages(url: &str) -> u64 {
    let Ok(client) = async_nats::connect(url).await else {
        return 0;
    };
    let Ok(mut stream) = jetstream::new(client).get_stream("CRISIS_EVENTS").await else {
        return 0;
    };
    stream.info().await.map_or(0, |info| info.state.messages)
}

async fn wait_for_messages(url: &str, count: u64) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let have = async { stream_messages(url).await };
        let have = tokio::time::timeout(Duration::from_secs(5), have)
            .await
            .unwrap_or(0);
        if have >= count {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "JetStream holds {have} of {count} events after 90 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every stream message i is store position i, with the contract's headers and data.
async fn check_stream_matches_store(url: &str, store: &SledStore) {
    let js = jetstream::new(async_nats::connect(url).await.unwrap());
    let mut stream = js.get_stream("CRISIS_EVENTS").await.unwrap();
    let head = store.head().position;
    assert_eq!(
        stream.info().await.unwrap().state.messages,
        head,
        "exactly one message per committed event"
    );
    for event in store.read_all(1, usize::MAX).unwrap() {
        let message = stream.get_raw_message(event.position).await.unwrap();
        let header = |name: &str| {
            message
                .headers
                .get(name)
                .map(|v| v.as_str().to_owned())
                .unwrap_or_else(|| panic!("header {name} missing"))
        };
        assert_eq!(
            header("ce-sequence"),
            event.position.to_string(),
            "stream order is position order"
        );
        assert_eq!(header("ce-id"), event.id.to_string());
        assert_eq!(header("Nats-Msg-Id"), event.id.to_string());
        assert_eq!(header("ce-specversion"), "1.0");
        assert_eq!(header("ce-type"), "incident.assessed");
        assert_eq!(header("ce-subject"), event.stream);
        assert_eq!(header("ce-source"), "/crisisd");
        assert_eq!(
            header("ce-dataschema"),
            "/schemas/events/incident.assessed.v1.json"
        );
        assert_eq!(header("ce-streamversion"), event.stream_version.to_string());
        assert_eq!(header("ce-correlationid"), event.correlation_id.to_string());
        assert_eq!(header("ce-causationid"), event.causation_id.to_string());
        assert_eq!(header("ce-actorid"), "agent-7");
        assert_eq!(header("ce-actorrole"), "crisis_lead");
        assert_eq!(header("ce-hash"), event.hash.to_hex());
        // Written by crisisd's own formatters; compared with chrono's and hex's here.
        let rfc3339 = |t: &chrono::DateTime<chrono::Utc>| {
            t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
        };
        assert_eq!(header("ce-time"), rfc3339(&event.occurred_at));
        assert_eq!(header("ce-recordedtime"), rfc3339(&event.recorded_at));
        assert_eq!(header("ce-prevhash"), hex::encode(event.prev_hash.0));
        assert_eq!(header("content-type"), "application/json");
        // Each message names the stream sequence it follows; here the stream holds
        // nothing but these events, one per position.
        assert_eq!(
            header("Nats-Expected-Last-Sequence"),
            (event.position - 1).to_string()
        );
        let (aggregate, id) = event.stream.split_once('-').unwrap();
        assert_eq!(
            message.subject.as_str(),
            format!("crisis.events.{aggregate}.{id}.assessed")
        );
        assert_eq!(message.payload.as_ref(), event.data.get().as_bytes());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_event_is_published_once_in_order_across_restarts() {
    let nats = NatsServer::start();
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(StoreConfig::new(dir.path())).unwrap();
    append(&store, 0, 1500).await;
    let client = async_nats::connect(nats.url()).await.unwrap();
    let mut live = client.subscribe("crisis.events.>").await.unwrap();
    client.flush().await.unwrap(); // the server knows the subscription before we publish

    let publisher = start_publisher(&store, &nats.url()).await;
    append(&store, 1500, 500).await; // published live, after the backlog
    wait_for_messages(&nats.url(), 2000).await;
    publisher.stop().await;

    // A core subscriber sees the same order as the stream. Delivery is at least once: a
    // batch republished after an ack timeout (a loaded machine) repeats what it saw.
    let mut expected = 1u64;
    while expected <= 2000 {
        let message = tokio::time::timeout(Duration::from_secs(60), futures_next(&mut live))
            .await
            .unwrap_or_else(|_| panic!("no live message {expected} within 60 s"));
        let sequence: u64 = message
            .headers
            .unwrap()
            .get("ce-sequence")
            .unwrap()
            .as_str()
            .parse()
            .unwrap();
        if sequence < expected {
            continue; // a repeat
        }
        assert_eq!(sequence, expected, "a gap in the live order");
        expected += 1;
    }

    // A restarted publisher resumes from its checkpoint: nothing twice, nothing skipped.
    append(&store, 2000, 25).await;
    let publisher = start_publisher(&store, &nats.url()).await;
    wait_for_messages(&nats.url(), 2025).await;
    publisher.stop().await;
    check_stream_matches_store(&nats.url(), &store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_publisher_that_lost_its_checkpoint_does_not_publish_twice() {
    let nats = NatsServer::start();
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(StoreConfig::new(dir.path())).unwrap();
    append(&store, 0, 300).await;
    let short_window = PublisherConfig {
        duplicate_window: Duration::from_millis(100),
        ..PublisherConfig::default()
    };
    let publisher = start_publisher_with(&store, &nats.url(), short_window).await;
    wait_for_messages(&nats.url(), 300).await;
    publisher.stop().await;
    tokio::time::sleep(Duration::from_millis(300)).await; // past the duplicate window
    // As after a power loss that kept the messages in JetStream but not the checkpoint,
    // and long enough ago that JetStream's duplicate window no longer covers them.
    store
        .save_checkpoint(crisisd::bus::publisher::CHECKPOINT_NAME, 100)
        .unwrap();
    append(&store, 300, 10).await;
    let short_window = PublisherConfig {
        duplicate_window: Duration::from_millis(100),
        ..PublisherConfig::default()
    };
    let publisher = start_publisher_with(&store, &nats.url(), short_window).await;
    wait_for_messages(&nats.url(), 310).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    publisher.stop().await;
    check_stream_matches_store(&nats.url(), &store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stream_that_lost_acknowledged_messages_gets_them_published_again() {
    let nats = NatsServer::start();
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(StoreConfig::new(dir.path())).unwrap();
    append(&store, 0, 60).await;
    let publisher = start_publisher(&store, &nats.url()).await;
    wait_for_messages(&nats.url(), 60).await;
    publisher.stop().await;
    // As after a power cut that JetStream's store did not survive whole: the checkpoint
    // says positions up to 100 were acknowledged, the stream holds 60.
    append(&store, 60, 40).await;
    store
        .save_checkpoint(crisisd::bus::publisher::CHECKPOINT_NAME, 100)
        .unwrap();
    let publisher = start_publisher(&store, &nats.url()).await;
    wait_for_messages(&nats.url(), 100).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    publisher.stop().await;
    check_stream_matches_store(&nats.url(), &store).await;
}

/// A NATS server remembers the id of a stream's last message only in memory and, after a
/// restart, only if that message is inside the duplicate window: publishing must not
/// depend on it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn publishing_goes_on_after_nats_restarts_past_the_duplicate_window() {
    let mut nats = NatsServer::start();
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(StoreConfig::new(dir.path())).unwrap();
    append(&store, 0, 50).await;
    let short_window = PublisherConfig {
        duplicate_window: Duration::from_millis(100),
        ..PublisherConfig::default()
    };
    let publisher = start_publisher_with(&store, &nats.url(), short_window).await;
    wait_for_messages(&nats.url(), 50).await;
    tokio::time::sleep(Duration::from_millis(300)).await; // past the duplicate window
    nats.stop();
    nats.restart();
    append(&store, 50, 20).await;
    wait_for_messages(&nats.url(), 70).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    publisher.stop().await;
    check_stream_matches_store(&nats.url(), &store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nats_outage_during_load_loses_and_duplicates_nothing() {
    let mut nats = NatsServer::start();
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(StoreConfig::new(dir.path())).unwrap();
    let publisher = start_publisher(&store, &nats.url()).await;
    // The load runs until NATS is back (and at least 40 chunks), however fast the disk.
    let (outage_over, mut over) = tokio::sync::watch::channel(false);
    let load = tokio::spawn({
        let store = store.clone();
        async move {
            let mut appended = 0;
            while appended < 4000 || !*over.borrow_and_update() {
                append(&store, appended, 100).await;
                appended += 100;
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            appended
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    nats.stop();
    let stopped_at = store.head().position;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while store.head().position <= stopped_at {
        assert!(
            tokio::time::Instant::now() < deadline,
            "commands keep being accepted while NATS is down"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    nats.restart();
    let _ = outage_over.send(true); // (if the load failed, awaiting it says why)
    let appended = load.await.unwrap();
    assert_eq!(store.head().position, appended);
    wait_for_messages(&nats.url(), appended).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    publisher.stop().await;
    check_stream_matches_store(&nats.url(), &store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_publisher_waits_for_nats_that_is_not_there_yet() {
    let mut nats = NatsServer::start();
    let url = nats.url();
    nats.stop();
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(StoreConfig::new(dir.path())).unwrap();
    let publisher = start_publisher(&store, &url).await;
    append(&store, 0, 50).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    nats.restart();
    wait_for_messages(&url, 50).await;
    publisher.stop().await;
    check_stream_matches_store(&url, &store).await;
}

async fn futures_next(subscriber: &mut async_nats::Subscriber) -> async_nats::Message {
    use futures_util::StreamExt;
    subscriber.next().await.expect("subscription open")
}

/// With nothing left to publish the publisher's checkpoint reaches the head, so its
/// lag reads zero when idle (the last acks of a burst used to wait for the next event).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_checkpoint_reaches_the_head_when_the_log_goes_quiet() {
    let nats = NatsServer::start();
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(StoreConfig::new(dir.path())).unwrap();
    let config = PublisherConfig {
        // Longer than the burst takes: its last acks arrive before a save is due.
        checkpoint_every: Duration::from_millis(300),
        ..PublisherConfig::default()
    };
    let client = async_nats::connect(nats.url()).await.unwrap();
    let publisher = Publisher::new(store.clone(), client, config);
    let (shutdown, rx) = watch::channel(false);
    let task = tokio::spawn(publisher.run(rx));
    append(&store, 0, 200).await;
    wait_for_messages(&nats.url(), 200).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while store
        .checkpoint(crisisd::bus::publisher::CHECKPOINT_NAME)
        .unwrap()
        < 200
    {
        assert!(
            Instant::now() < deadline,
            "the checkpoint stays at {} of 200 with nothing left to publish",
            store
                .checkpoint(crisisd::bus::publisher::CHECKPOINT_NAME)
                .unwrap()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    shutdown.send(true).unwrap();
    task.await.unwrap();
}
