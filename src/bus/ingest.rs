//! The ingest consumer: flight-ops and channel systems publish to `crisis.ingest.<kind>`,
//! captured by the JetStream stream `CRISIS_INGEST` (so nothing is lost while crisisd is
//! down) and read by the durable pull consumer `crisisd-ingest`.
//!
//! - A message is acknowledged only after its events are durable in the store. The
//!   handler derives event ids from the source message id, so a redelivery changes
//!   nothing.
//! - Invalid input is never stored: a rejection (code, message, JSON pointer, source
//!   message id, the ingest message's stream sequence) is published to
//!   `crisis.rejected.<kind>`, captured by the JetStream stream `CRISIS_REJECTED` (kept 7
//!   days, at most 256 MiB) so a sender that was not listening reads it later; once
//!   JetStream holds it, the ingest message is terminated.
//! - A transient failure (the store refusing writes) naks the message with a delay;
//!   JetStream redelivers it.
//! - Order: messages with the same lane key (e.g. one flight) are handled one at a time,
//!   in stream order; different keys run concurrently in [`IngestConfig::lanes`] lanes,
//!   each with a bounded queue, so a slow lane applies backpressure instead of growing.

use std::future::Future;
use std::time::Duration;

use async_nats::jetstream::{self, AckKind, consumer::pull};
use futures_util::StreamExt;
use tokio::sync::{mpsc, watch};

use super::connection::Backoff;

pub const INGEST_STREAM: &str = "CRISIS_INGEST";
pub const INGEST_SUBJECTS: &str = "crisis.ingest.>";
pub const REJECTED_STREAM: &str = "CRISIS_REJECTED";
pub const REJECTED_SUBJECTS: &str = "crisis.rejected.>";

/// `CRISIS_REJECTED`: every rejection, kept 7 days and at most 256 MiB (the oldest go
/// first), for senders to read what they must fix, when they look. Rejections hold no
/// personal data (messages say what is wrong, never quote it).
pub fn rejected_stream_config() -> jetstream::stream::Config {
    jetstream::stream::Config {
        name: REJECTED_STREAM.into(),
        subjects: vec![REJECTED_SUBJECTS.into()],
        storage: jetstream::stream::StorageType::File,
        retention: jetstream::stream::RetentionPolicy::Limits,
        max_age: Duration::from_secs(7 * 24 * 3600),
        max_bytes: 256 * 1024 * 1024,
        discard: jetstream::stream::DiscardPolicy::Old,
        ..Default::default()
    }
}

/// `CRISIS_INGEST` as the consumer creates it when it is missing (file storage, every
/// `crisis.ingest.>` subject), and as producers that create it first must: with
/// work-queue retention, so a message is removed once crisisd has acknowledged (or
/// rejected) it — feedback holds customers' own words, which crisisd keeps only
/// sealed in its log.
pub fn stream_config() -> jetstream::stream::Config {
    jetstream::stream::Config {
        name: INGEST_STREAM.into(),
        subjects: vec![INGEST_SUBJECTS.into()],
        storage: jetstream::stream::StorageType::File,
        retention: jetstream::stream::RetentionPolicy::WorkQueue,
        ..Default::default()
    }
}

/// A message the handler refuses, with what the sender must fix.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Rejection {
    /// Stable machine-readable code, e.g. `missing_field`.
    pub code: String,
    /// Human message (never contains the message's personal data).
    pub message: String,
    /// JSON pointer of the offending field (`""` for the whole message).
    pub pointer: String,
    pub source_message_id: Option<String>,
    /// The ingest message's sequence in `CRISIS_INGEST` (over NATS).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ingest_sequence: Option<u64>,
}

/// What became of one ingest message.
#[derive(Debug, Clone, PartialEq)]
pub enum Handled {
    /// Its events are durable (or were already: a redelivery).
    Stored,
    Rejected(Rejection),
}

/// What the application does with one ingest message of `kind` (`flightops`, `feedback`).
pub trait IngestHandler: Clone + Send + Sync + 'static {
    /// Messages with equal keys are handled one at a time, in order.
    fn lane_key(&self, kind: &str, payload: &[u8]) -> u64;
    /// Validates and stores; `Err` is a transient failure worth a redelivery.
    fn handle(
        &self,
        kind: &str,
        payload: &[u8],
        source_message_id: Option<&str>,
    ) -> impl Future<Output = Result<Handled, String>> + Send;
}

/// Consumer settings.
#[derive(Debug, Clone)]
pub struct IngestConfig {
    pub consumer_name: String,
    /// Concurrent lanes.
    pub lanes: usize,
    /// Messages queued per lane before the dispatcher waits.
    pub lane_queue_messages: usize,
    /// Messages delivered but not yet acknowledged, across all lanes.
    pub max_ack_pending: i64,
    /// Messages asked for in one pull request.
    pub pull_batch_messages: usize,
    /// Redelivery after this long without an ack.
    pub ack_wait: Duration,
    /// Delay before a nak'ed message comes back.
    pub nak_delay: Duration,
    /// Replicas of `CRISIS_INGEST` and `CRISIS_REJECTED` when the consumer creates them
    /// (3 in cluster mode, on a three-server JetStream cluster).
    pub replicas: usize,
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            consumer_name: "crisisd-ingest".into(),
            lanes: 256,
            lane_queue_messages: 16,
            max_ack_pending: 8_192,
            pull_batch_messages: 1_024,
            ack_wait: Duration::from_secs(30),
            nak_delay: Duration::from_secs(1),
            replicas: 1,
        }
    }
}

pub struct IngestConsumer<H: IngestHandler> {
    js: jetstream::Context,
    handler: H,
    config: IngestConfig,
}

impl<H: IngestHandler> IngestConsumer<H> {
    pub fn new(client: async_nats::Client, handler: H, config: IngestConfig) -> Self {
        let js = jetstream::new(client);
        IngestConsumer {
            js,
            handler,
            config,
        }
    }

    /// Consumes until `shutdown` turns true; every failure is retried with backoff.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut backoff = Backoff::default();
        while !*shutdown.borrow() {
            let Err(err) = self.consume(&mut shutdown, &mut backoff).await else {
                break;
            };
            tracing::warn!(cause = %err, "NATS ingest paused; HTTP keeps working and ingest resumes when NATS is back");
            tokio::select! {
                _ = tokio::time::sleep(backoff.next_delay()) => {}
                _ = shutdown.changed() => {}
            }
        }
        tracing::info!("NATS ingest stopped");
    }

    async fn consume(
        &self,
        shutdown: &mut watch::Receiver<bool>,
        backoff: &mut Backoff,
    ) -> Result<(), String> {
        self.js
            .get_or_create_stream(jetstream::stream::Config {
                num_replicas: self.config.replicas,
                ..rejected_stream_config()
            })
            .await
            .map_err(|err| format!("creating stream {REJECTED_STREAM}: {err}"))?;
        let mut stream = self
            .js
            .get_or_create_stream(jetstream::stream::Config {
                num_replicas: self.config.replicas,
                ..stream_config()
            })
            .await
            .map_err(|err| format!("creating stream {INGEST_STREAM}: {err}"))?;
        let retention = stream.cached_info().config.retention;
        if retention != jetstream::stream::RetentionPolicy::WorkQueue {
            let messages = stream.info().await.map_or(0, |info| info.state.messages);
            tracing::warn!(
                stream = INGEST_STREAM,
                ?retention,
                messages,
                "the ingest stream keeps messages crisisd has acknowledged, customers' words among them: once it is drained, delete it (`nats stream rm CRISIS_INGEST`) and crisisd recreates it with work-queue retention"
            );
        }
        let consumer = stream
            .get_or_create_consumer(
                &self.config.consumer_name,
                pull::Config {
                    durable_name: Some(self.config.consumer_name.clone()),
                    ack_policy: jetstream::consumer::AckPolicy::Explicit,
                    ack_wait: self.config.ack_wait,
                    max_ack_pending: self.config.max_ack_pending,
                    ..Default::default()
                },
            )
            .await
            .map_err(|err| format!("creating consumer {}: {err}", self.config.consumer_name))?;
        let mut messages = consumer
            .stream()
            .max_messages_per_batch(self.config.pull_batch_messages.max(1))
            .messages()
            .await
            .map_err(|err| format!("pulling messages: {err}"))?;
        backoff.reset();
        tracing::info!(stream = INGEST_STREAM, consumer = %self.config.consumer_name, "consuming NATS ingest");
        let mut lane_tasks = tokio::task::JoinSet::new();
        let lanes: Vec<mpsc::Sender<jetstream::Message>> = (0..self.config.lanes.max(1))
            .map(|_| {
                let (tx, rx) = mpsc::channel(self.config.lane_queue_messages.max(1));
                lane_tasks.spawn(lane(
                    rx,
                    self.handler.clone(),
                    self.js.clone(),
                    self.config.nak_delay,
                ));
                tx
            })
            .collect();
        let result = self.dispatch(&mut messages, &lanes, shutdown).await;
        // Let the lanes finish (and acknowledge) what they hold; messages fetched but not
        // dispatched come back after ack_wait.
        drop(lanes);
        while lane_tasks.join_next().await.is_some() {}
        result
    }

    async fn dispatch(
        &self,
        messages: &mut pull::Stream,
        lanes: &[mpsc::Sender<jetstream::Message>],
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<(), String> {
        loop {
            let message = tokio::select! {
                next = messages.next() => next,
                _ = shutdown.changed() => return Ok(()),
            };
            let message = match message {
                Some(Ok(message)) => message,
                Some(Err(err)) => return Err(format!("receiving: {err}")),
                None => return Err("the message stream ended".into()),
            };
            let kind = ingest_kind(message.subject.as_str());
            let lane_index =
                (self.handler.lane_key(&kind, &message.payload) % lanes.len() as u64) as usize;
            if lanes[lane_index].send(message).await.is_err() {
                return Err("an ingest lane stopped".into());
            }
        }
    }
}

/// `flightops` for `crisis.ingest.flightops`; anything unexpected keeps its last token.
pub fn ingest_kind(subject: &str) -> String {
    subject.rsplit('.').next().unwrap_or("unknown").to_owned()
}

/// Handles one lane's messages in order.
async fn lane<H: IngestHandler>(
    mut rx: mpsc::Receiver<jetstream::Message>,
    handler: H,
    js: jetstream::Context,
    nak_delay: Duration,
) {
    while let Some(message) = rx.recv().await {
        let kind = ingest_kind(message.subject.as_str());
        let source_id = message
            .headers
            .as_ref()
            .and_then(|h| h.get(async_nats::header::NATS_MESSAGE_ID))
            .map(|v| v.as_str().to_owned());
        // Every log line of this message's handling names it by the sender's id.
        let span = tracing::info_span!(
            "ingest",
            %kind,
            source_message_id = source_id.as_deref().unwrap_or("")
        );
        use tracing::Instrument;
        handle_one(&handler, &js, nak_delay, message, kind, source_id)
            .instrument(span)
            .await;
    }
}

/// Handles one message: stores it or its rejection, then acknowledges it.
async fn handle_one<H: IngestHandler>(
    handler: &H,
    js: &jetstream::Context,
    nak_delay: Duration,
    message: jetstream::Message,
    kind: String,
    source_id: Option<String>,
) {
    let ack = match handler
        .handle(&kind, &message.payload, source_id.as_deref())
        .await
    {
        Ok(Handled::Stored) => {
            crate::metrics::METRICS.ingested("nats", "accepted");
            AckKind::Ack
        }
        Ok(Handled::Rejected(mut rejection)) => {
            crate::metrics::METRICS.ingested("nats", &rejection.code);
            rejection.ingest_sequence = message.info().ok().map(|info| info.stream_sequence);
            // The message says what is wrong and never quotes personal data.
            tracing::info!(kind, code = %rejection.code, pointer = %rejection.pointer,
                source_message_id = rejection.source_message_id.as_deref().unwrap_or(""),
                ingest_sequence = rejection.ingest_sequence.unwrap_or(0),
                why = %rejection.message, "ingest message rejected");
            let body = serde_json::to_vec(&rejection).expect("a rejection serializes");
            let published = match js
                .publish(format!("crisis.rejected.{kind}"), body.into())
                .await
            {
                Ok(ack) => ack.await.map(drop).map_err(|err| err.to_string()),
                Err(err) => Err(err.to_string()),
            };
            match published {
                Ok(()) => AckKind::Term,
                Err(cause) => {
                    tracing::warn!(%cause, "could not store a rejection in CRISIS_REJECTED; the message is redelivered");
                    AckKind::Nak(Some(nak_delay))
                }
            }
        }
        Err(transient) => {
            tracing::warn!(kind, cause = %transient, "ingest message not stored; it will be redelivered");
            AckKind::Nak(Some(nak_delay))
        }
    };
    if let Err(err) = message.ack_with(ack).await {
        tracing::warn!(cause = %err, "could not acknowledge an ingest message; JetStream redelivers it after ack_wait");
    }
}
