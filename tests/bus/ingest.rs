//! The ingest consumer against a real JetStream, with a small test handler: acks only
//! after events are durable, redeliveries change nothing, a consumer restart loses
//! nothing, and bad input is rejected on `crisis.rejected.<kind>` without stopping it.

use std::time::{Duration, Instant};

use async_nats::jetstream;
use chrono::Utc;
use crisisd::bus::ingest::{Handled, IngestConfig, IngestConsumer, IngestHandler, Rejection};
use crisisd::store::{Actor, AppendRequest, ExpectedVersion, NewEvent, SledStore, StoreConfig};
use futures_util::StreamExt;
use serde_json::json;
use tokio::sync::watch;
use uuid::Uuid;

use crate::nats_server::NatsServer;

/// Stores `{"id": <source id>, "key": <stream key>, "value": <0..1000>}` as one event whose
/// id is derived from the source id.
#[derive(Clone)]
struct TestHandler {
    store: SledStore,
}

impl IngestHandler for TestHandler {
    fn lane_key(&self, _kind: &str, payload: &[u8]) -> u64 {
        serde_json::from_slice::<serde_json::Value>(payload)
            .ok()
            .and_then(|v| v["key"].as_u64())
            .unwrap_or(0)
    }

    async fn handle(
        &self,
        _kind: &str,
        payload: &[u8],
        _nats_id: Option<&str>,
    ) -> Result<Handled, String> {
        let reject = |code: &str, pointer: &str, id: Option<String>| {
            Ok(Handled::Rejected(Rejection {
                code: code.into(),
                message: format!("{code} at {pointer}"),
                pointer: pointer.into(),
                source_message_id: id,
                ingest_sequence: None,
            }))
        };
        let Ok(value) = serde_json::from_slice::<serde_json::Value>(payload) else {
            return reject("not_json", "", None);
        };
        let Some(id) = value["id"].as_str().map(str::to_owned) else {
            return reject("missing_field", "/id", None);
        };
        let Some(n) = value["value"].as_u64().filter(|n| *n < 1000) else {
            return reject("out_of_range", "/value", Some(id));
        };
        let event_id = Uuid::new_v5(&Uuid::NAMESPACE_OID, id.as_bytes());
        let actor = Actor {
            id: "flight-ops".into(),
            role: "flight_ops".into(),
        };
        let event = NewEvent {
            id: event_id,
            ..NewEvent::new(
                "test.ingested",
                json!({"value": n, "source": id}),
                actor,
                Utc::now(),
            )
        };
        let stream = format!("test-{}", value["key"].as_u64().unwrap_or(0));
        self.store
            .append(AppendRequest::single(
                stream,
                ExpectedVersion::Any,
                vec![event],
            ))
            .await
            .map_err(|e| e.to_string())?;
        Ok(Handled::Stored)
    }
}

struct Running {
    shutdown: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

async fn start_consumer(store: &SledStore, url: &str) -> Running {
    let client = async_nats::ConnectOptions::new()
        .retry_on_initial_connect()
        .connect(url)
        .await
        .unwrap();
    let config = IngestConfig {
        lanes: 8,
        nak_delay: Duration::from_millis(50),
        ack_wait: Duration::from_secs(10), // long enough for a loaded machine, short for the restart test
        ..IngestConfig::default()
    };
    let consumer = IngestConsumer::new(
        client,
        TestHandler {
            store: store.clone(),
        },
        config,
    );
    let (shutdown, rx) = watch::channel(false);
    Running {
        shutdown,
        task: tokio::spawn(consumer.run(rx)),
    }
}

impl Running {
    async fn stop(self) {
        self.shutdown.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(30), self.task)
            .await
            .expect("consumer stops")
            .unwrap();
    }
}

async fn publish(url: &str, messages: impl IntoIterator<Item = Vec<u8>>) {
    let js = jetstream::new(async_nats::connect(url).await.unwrap());
    // The stream exists before any consumer starts: producers rely on it (durable handoff).
    js.get_or_create_stream(crisisd::bus::ingest::stream_config())
        .await
        .unwrap();
    for payload in messages {
        js.publish("crisis.ingest.test", payload.into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
}

fn message(id: u64, key: u64, value: u64) -> Vec<u8> {
    serde_json::to_vec(&json!({"id": format!("msg-{id}"), "key": key, "value": value})).unwrap()
}

async fn wait_for_head(store: &SledStore, count: u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while store.head().position < count {
        assert!(
            Instant::now() < deadline,
            "{} of {count} events stored after 60 s",
            store.head().position
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn stored_sources(store: &SledStore) -> Vec<String> {
    let mut sources: Vec<String> = store
        .read_all(1, usize::MAX)
        .unwrap()
        .iter()
        .map(|e| {
            let data: serde_json::Value = serde_json::from_str(e.data.get()).unwrap();
            data["source"].as_str().unwrap().to_owned()
        })
        .collect();
    sources.sort();
    sources
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redelivered_and_repeated_messages_store_one_set_of_events() {
    let nats = NatsServer::start();
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(StoreConfig::new(dir.path())).unwrap();
    // 600 messages, each published twice (a producer retry), consumed by a consumer that
    // is restarted in the middle.
    let batch: Vec<Vec<u8>> = (0..600)
        .flat_map(|i| [message(i, i % 17, i % 1000), message(i, i % 17, i % 1000)])
        .collect();
    publish(&nats.url(), batch).await;
    let consumer = start_consumer(&store, &nats.url()).await;
    wait_for_head(&store, 150).await;
    consumer.stop().await;
    let consumer = start_consumer(&store, &nats.url()).await;
    wait_for_head(&store, 600).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    consumer.stop().await;
    let expected: Vec<String> = {
        let mut v: Vec<String> = (0..600).map(|i| format!("msg-{i}")).collect();
        v.sort();
        v
    };
    assert_eq!(
        stored_sources(&store),
        expected,
        "every message exactly once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_input_is_rejected_with_code_and_field_and_never_stored() {
    let nats = NatsServer::start();
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(StoreConfig::new(dir.path())).unwrap();
    let client = async_nats::connect(nats.url()).await.unwrap();
    let mut rejections = client.subscribe("crisis.rejected.>").await.unwrap();
    client.flush().await.unwrap();
    let consumer = start_consumer(&store, &nats.url()).await;
    let hostile: Vec<(Vec<u8>, &str, &str)> = vec![
        (b"not json at all".to_vec(), "not_json", ""),
        (vec![0xff, 0xfe, 0x00, 0x01], "not_json", ""),
        (
            br#"{"key": 1, "value": 1}"#.to_vec(),
            "missing_field",
            "/id",
        ),
        (
            br#"{"id": "x", "key": 1, "value": 5000}"#.to_vec(),
            "out_of_range",
            "/value",
        ),
        ("[".repeat(100_000).into_bytes(), "not_json", ""),
    ];
    publish(&nats.url(), hostile.iter().map(|(p, _, _)| p.clone())).await;
    // Lanes run concurrently, so rejections arrive in any order.
    let mut got = Vec::new();
    for _ in &hostile {
        let message = tokio::time::timeout(Duration::from_secs(20), rejections.next())
            .await
            .expect("a rejection arrives")
            .unwrap();
        assert_eq!(message.subject.as_str(), "crisis.rejected.test");
        let rejection: serde_json::Value = serde_json::from_slice(&message.payload).unwrap();
        got.push((
            rejection["code"].as_str().unwrap().to_owned(),
            rejection["pointer"].as_str().unwrap().to_owned(),
        ));
    }
    let mut expected: Vec<(String, String)> = hostile
        .iter()
        .map(|(_, c, p)| (c.to_string(), p.to_string()))
        .collect();
    got.sort();
    expected.sort();
    assert_eq!(got, expected);
    // Durable: a sender that was not listening reads them later from CRISIS_REJECTED,
    // each naming the ingest message's stream sequence.
    let js = async_nats::jetstream::new(client.clone());
    let mut kept = js
        .get_stream(crisisd::bus::ingest::REJECTED_STREAM)
        .await
        .expect("crisisd creates CRISIS_REJECTED");
    assert_eq!(
        kept.info().await.unwrap().state.messages,
        hostile.len() as u64
    );
    let first = kept.get_raw_message(1).await.unwrap();
    let rejection: serde_json::Value = serde_json::from_slice(&first.payload).unwrap();
    assert!(
        rejection["ingest_sequence"]
            .as_u64()
            .is_some_and(|s| s >= 1),
        "{rejection}"
    );
    // Still healthy: a good message after the bad ones is stored.
    publish(&nats.url(), [message(1, 1, 1)]).await;
    wait_for_head(&store, 1).await;
    consumer.stop().await;
    assert_eq!(
        stored_sources(&store),
        vec!["msg-1".to_owned()],
        "nothing invalid is stored"
    );
}
