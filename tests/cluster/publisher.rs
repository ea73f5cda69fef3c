//! The outbox publisher on a three-server NATS cluster: `CRISIS_EVENTS` keeps taking every
//! event, once and in order, when its Raft leader moves to a server that was down and
//! caught up from its peers.

use std::time::Duration;

use async_nats::jetstream;
use chrono::Utc;
use crisisd::bus::{Publisher, PublisherConfig};
use crisisd::store::{Actor, AppendRequest, ExpectedVersion, NewEvent, SledStore, StoreConfig};
use tokio::time::Instant;

use crate::nats_cluster::{NatsCluster, stream_leader};

const STREAM: &str = "CRISIS_EVENTS";

async fn append(store: &SledStore, count: u64) {
    let actor = Actor {
        id: "agent-7".into(),
        role: "crisis_lead".into(),
    };
    for n in 0..count {
        let event = NewEvent::new(
            "incident.assessed",
            serde_json::json!({"n": n}),
            actor.clone(),
            Utc::now(),
        );
        store
            .append(AppendRequest::single(
                format!("incident-{}", n % 7),
                ExpectedVersion::Any,
                vec![event],
            ))
            .await
            .unwrap();
    }
}

/// Waits until the stream holds `count` messages (at most 60 s).
async fn wait_for(js: &jetstream::Context, count: u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let held = match js.get_stream(STREAM).await {
            Ok(mut stream) => stream.info().await.map(|i| i.state.messages).ok(),
            Err(_) => None,
        };
        if held == Some(count) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{STREAM} holds {held:?} messages of {count} after 60 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Asks the stream's leader to step down until server `name` leads it.
async fn move_leader_to(client: &async_nats::Client, js: &jetstream::Context, name: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while stream_leader(js, STREAM).await != name {
        assert!(
            Instant::now() < deadline,
            "{name} did not become {STREAM}'s leader within 60 s"
        );
        let request = serde_json::json!({"placement": {"preferred": name}}).to_string();
        let _ = client
            .request(
                format!("$JS.API.STREAM.LEADER.STEPDOWN.{STREAM}"),
                request.into(),
            )
            .await;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Waits until every replica of the stream is current.
async fn wait_replicas_current(js: &jetstream::Context) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(mut stream) = js.get_stream(STREAM).await
            && let Ok(info) = stream.info().await
            && let Some(cluster) = &info.cluster
            && cluster.replicas.len() == 2
            && cluster
                .replicas
                .iter()
                .all(|r| r.current && r.lag.unwrap_or(0) == 0)
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{STREAM}'s replicas are not current within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A NATS server that was down catches up on the messages it missed from its peers; it
/// then knows the stream's sequence but not the id of its last message (nats-server keeps
/// that in memory and sets it only when it applies a publish itself). When it led the
/// stream, a publisher that named its predecessor by id was refused for good; naming the
/// expected stream sequence goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn publishing_goes_on_when_a_server_that_caught_up_leads_the_stream() {
    let mut nats = NatsCluster::start().await;
    let client = nats.client().await;
    let js = jetstream::new(client.clone());
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(StoreConfig::new(dir.path())).unwrap();
    let (shutdown, shutdown_rx) = tokio::sync::watch::channel(false);
    let publisher = Publisher::new(
        store.clone(),
        client.clone(),
        PublisherConfig {
            replicas: 3,
            ack_timeout: Duration::from_secs(2),
            ..PublisherConfig::default()
        },
    );
    let task = tokio::spawn(publisher.run(shutdown_rx));

    append(&store, 100).await;
    wait_for(&js, 100).await;
    let leader = nats.index_of(&stream_leader(&js, STREAM).await);
    let behind = (leader + 1) % 3;
    nats.kill(behind);
    append(&store, 100).await;
    wait_for(&js, 200).await;
    nats.restart(behind);
    wait_replicas_current(&js).await;
    let name = nats.name(behind).to_owned();
    move_leader_to(&client, &js, &name).await;

    append(&store, 100).await;
    wait_for(&js, 300).await;
    let _ = shutdown.send(true);
    task.await.unwrap();

    let stream = js.get_stream(STREAM).await.unwrap();
    for position in 1..=300u64 {
        let message = stream.get_raw_message(position).await.unwrap();
        let sequence = message.headers.get("ce-sequence").map(|v| v.as_str());
        assert_eq!(sequence, Some(position.to_string().as_str()));
    }
}
