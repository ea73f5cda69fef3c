//! The relay floor of `bench pipeline`: crisisd's NATS edges as built, with no domain and
//! no store.
//!
//! crisisd's own ingest consumer (the same pull, lanes and acks) runs with a handler that
//! reads each message's source id, derives the event ids as crisisd does and hands them
//! to a publisher that sends one event (two for a complaint) with crisisd's headers,
//! `Nats-Msg-Id` and `Nats-Expected-Last-Sequence`, acks pipelined as crisisd's publisher
//! does. It is offered the same messages at the same rate and timed the same way as the
//! pipeline. What it skips is everything crisisd adds between the two edges: validation,
//! the command, canonical JSON and hashing, the durable store, following the log.
//!
//! Doing a subset of the pipeline's work in the same process, the relay is expected to
//! bound what the pipeline reaches in throughput, latency and the CPU of its own process
//! (and did in every run so far). nats-server's share is not such a bound: the relay acks each message and publishes each event as its
//! lane finishes, while the pipeline acks and publishes in group-commit bursts, so
//! nats-server may spend less per message on the pipeline. Both of the relay's events carry
//! one `signal.recorded`'s data, a little smaller than a complaint's.

use std::time::{Duration, Instant};

use anyhow::Context;
use async_nats::jetstream;
use tokio::sync::{mpsc, watch};

use super::arrivals::Arrivals;
use super::bench_pipeline::{
    AckWindow, CpuMark, Load, Measured, events_for, nats_address, shaped_event, stream_messages,
};
use crate::app::feedback::{Recorded, complaint_id, signal_id};
use crate::bus::ingest::{
    Handled, INGEST_STREAM, IngestConfig, IngestConsumer, IngestHandler, Rejection,
};
use crate::bus::{PublisherConfig, cloudevents};

const RELAY_STREAM: &str = "BENCH_RELAY";

/// The relay's handler: what crisisd's ingest consumer hands each message to, minus the
/// domain and the store.
#[derive(Clone)]
struct Relay(mpsc::Sender<Recorded>);

/// The two fields the relay reads; the rest is skipped unparsed.
#[derive(serde::Deserialize)]
struct RelayKeys<'a> {
    #[serde(borrow)]
    source_message_id: std::borrow::Cow<'a, str>,
    passenger_ref: Option<serde::de::IgnoredAny>,
}

impl IngestHandler for Relay {
    fn lane_key(&self, kind: &str, payload: &[u8]) -> u64 {
        crate::app::ingest::lane_key(kind, payload)
    }

    async fn handle(
        &self,
        _kind: &str,
        payload: &[u8],
        _nats_message_id: Option<&str>,
    ) -> Result<Handled, String> {
        let keys: RelayKeys<'_> = match serde_json::from_slice(payload) {
            Ok(keys) => keys,
            // The bench makes every message; one the relay cannot read is terminated
            // like any invalid message rather than redelivered.
            Err(err) => {
                return Ok(Handled::Rejected(Rejection {
                    code: "relay_unreadable".into(),
                    message: err.to_string(),
                    pointer: String::new(),
                    source_message_id: None,
                    ingest_sequence: None,
                }));
            }
        };
        let recorded = Recorded {
            signal_id: signal_id(&keys.source_message_id),
            complaint_id: keys
                .passenger_ref
                .is_some()
                .then(|| complaint_id(&keys.source_message_id)),
            suggestion_id: None,
        };
        self.0
            .send(recorded)
            .await
            .map_err(|_| "the relay's publisher stopped".to_owned())?;
        Ok(Handled::Stored)
    }
}

/// Publishes what the lanes hand over as crisisd's publisher does: positions in the order
/// received, crisisd's headers with `Nats-Expected-Last-Sequence`, acks pipelined. Returns
/// when JetStream has acknowledged exactly `events`.
async fn relay_publish(
    js: jetstream::Context,
    mut handed_rx: mpsc::Receiver<Recorded>,
    events: u64,
) -> anyhow::Result<Instant> {
    let source = PublisherConfig::default().source;
    let mut event = shaped_event()?;
    let payload = bytes::Bytes::copy_from_slice(event.data.get().as_bytes());
    let mut pending = AckWindow::new();
    while event.position < events {
        let recorded = handed_rx
            .recv()
            .await
            .context("the relay stopped handing over events")?;
        let facts = [
            Some((recorded.signal_id, "signal", "recorded")),
            recorded
                .complaint_id
                .map(|id| (id, "complaint", "received")),
        ];
        for (id, aggregate, fact) in facts.into_iter().flatten() {
            event.id = id;
            // The relay's stream is new: position n is its message n.
            let expected_last_sequence = event.position;
            event.position += 1;
            event.stream = format!("{aggregate}-{id}");
            event.event_type = format!("{aggregate}.{fact}");
            let headers = cloudevents::headers(&event, &source, expected_last_sequence);
            let subject = format!("bench.relay.{aggregate}.{id}.{fact}");
            pending
                .push(
                    js.publish_with_headers(subject, headers, payload.clone())
                        .await?,
                )
                .await?;
        }
    }
    pending.drain().await?;
    anyhow::ensure!(
        event.position == events,
        "the relay published {} events, {events} expected",
        event.position
    );
    Ok(Instant::now())
}

/// Measures the relay floor on `payloads` (see the module doc), then removes its streams
/// so the pipeline's consumer starts on a fresh `CRISIS_INGEST`.
pub(super) async fn relay_floor(load: &Load<'_>) -> anyhow::Result<Measured> {
    let (js, url, server_pid) = (load.js, load.url, load.server_pid);
    let messages = load.messages();
    let events = events_for(messages);
    js.create_stream(jetstream::stream::Config {
        name: RELAY_STREAM.into(),
        subjects: vec!["bench.relay.>".into()],
        duplicate_window: PublisherConfig::default().duplicate_window,
        ..Default::default()
    })
    .await?;
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    // Messages handed over and not yet published: as many as the consumer may have
    // unacknowledged (the relay acks on handing over).
    let ingest_config = IngestConfig::default();
    let (handed_tx, handed_rx) = mpsc::channel(ingest_config.max_ack_pending.max(1) as usize);
    let publisher = tokio::spawn(relay_publish(
        jetstream::new(async_nats::connect(url).await?),
        handed_rx,
        events,
    ));
    let consumer = IngestConsumer::new(
        async_nats::connect(url).await?,
        Relay(handed_tx),
        ingest_config,
    );
    let consumer = tokio::spawn(consumer.run(shutdown_rx));
    let arrivals = Arrivals::subscribe(nats_address(url), "bench.relay.signal.*.recorded").await?;
    let cpu_at_start = CpuMark::now(server_pid);
    let offered = load.offer(arrivals).await?;
    let arrived = offered.latencies_us.len();
    if arrived as u64 != messages {
        if publisher.is_finished() {
            // A publisher that stopped early says why signals are missing.
            publisher.await??;
        }
        anyhow::bail!(
            "relay floor: {arrived} of {messages} signals arrived within 60 s of the last"
        );
    }
    // Every signal arrived, so the publisher is at most a window of acks from done.
    let published = tokio::time::timeout(Duration::from_secs(60), publisher)
        .await
        .context("the relay's publisher did not finish within 60 s of the last signal")???;
    let cpu_at_end = CpuMark::now(server_pid);
    let _ = shutdown_tx.send(true);
    consumer.await?;
    let in_stream = stream_messages(js, RELAY_STREAM).await?;
    anyhow::ensure!(
        in_stream == events,
        "relay floor: {in_stream} of {events} events are in {RELAY_STREAM}"
    );
    js.delete_stream(INGEST_STREAM).await?;
    js.delete_stream(RELAY_STREAM).await?;
    let finished = published.max(offered.last_arrival);
    Ok(Measured::new(
        offered,
        finished,
        (&cpu_at_start, &cpu_at_end),
        messages,
    ))
}
