//! The outbox publisher: follows the committed log from its own checkpoint and publishes
//! every event, in position order, to the JetStream stream `CRISIS_EVENTS`.
//!
//! - Pipelined: up to [`PublisherConfig::window_max`] publishes await their acks at once;
//!   the checkpoint only ever advances over positions whose ack arrived, in order.
//! - Exactly once: each message carries `Nats-Msg-Id` = event id, so JetStream drops a
//!   re-publish within its duplicate window (a duplicate ack counts as done); on start,
//!   it resumes after the newest position the stream holds if that is past its
//!   checkpoint (published just before a crash, or by a cluster's previous leader), so
//!   nothing is published twice even after the window has passed.
//! - In order, without gaps: each message names the stream sequence it must follow
//!   (`Nats-Expected-Last-Sequence`), so JetStream refuses anything that would land after
//!   a missing message (the client replays buffered publishes after a reconnect, which
//!   could otherwise overtake a lost one). This assumes crisisd is the only publisher on
//!   `crisis.events.>`. (Not `Nats-Expected-Last-Msg-Id`: a NATS server keeps the last
//!   message id in memory only, rebuilds it at start only from messages inside the
//!   duplicate window, and not at all from messages it caught up on from its peers; a
//!   stream led by such a server refused every publish, for good.)
//! - The stream is the record of what was published: publishing resumes after the
//!   newest position it holds, also when that is behind the checkpoint (JetStream lost
//!   acknowledged messages, for example to a power cut between its fsyncs): the missing
//!   positions are published again.
//! - NATS down or restarting: publishing stops, the lag (events and seconds) is logged,
//!   and the publisher resumes from its checkpoint with bounded backoff. Commands are
//!   never held up: the store does not wait for the publisher.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_nats::jetstream::stream::RawMessageErrorKind;
use async_nats::jetstream::{self, context::PublishAckFuture};
use futures_util::StreamExt;
use futures_util::stream::FuturesOrdered;
use tokio::sync::watch;

use super::cloudevents;
use super::connection::Backoff;
use super::subjects;
use crate::store::{SledStore, SubscriptionFilter};

/// Name of the publisher's checkpoint in the store.
pub const CHECKPOINT_NAME: &str = "nats-publisher";
/// Most messages read back from the stream's tail when reconciling at start.
const RECONCILE_MESSAGES_MAX: u64 = 200_000;

/// Publisher settings.
#[derive(Debug, Clone)]
pub struct PublisherConfig {
    pub stream_name: String,
    /// CloudEvents `source` of every event.
    pub source: String,
    /// Publishes awaiting their ack at once.
    pub window_max: usize,
    /// How often the checkpoint is saved while publishing.
    pub checkpoint_every: Duration,
    /// JetStream's duplicate window for the stream (set when creating or updating it).
    pub duplicate_window: Duration,
    /// How long one publish waits for its ack.
    pub ack_timeout: Duration,
    /// Replicas of the stream (3 in cluster mode, on a three-server JetStream cluster).
    pub replicas: usize,
}

impl Default for PublisherConfig {
    fn default() -> Self {
        PublisherConfig {
            stream_name: subjects::EVENTS_STREAM.to_owned(),
            source: "/crisisd".to_owned(),
            window_max: 512,
            checkpoint_every: Duration::from_millis(100),
            duplicate_window: Duration::from_secs(120),
            ack_timeout: Duration::from_secs(10),
            replicas: 1,
        }
    }
}

/// Publishes the committed log to JetStream.
pub struct Publisher {
    store: SledStore,
    js: jetstream::Context,
    config: PublisherConfig,
    published: Arc<AtomicU64>,
}

/// What the publishing loop does next.
enum Step {
    Event(Option<Result<Arc<crate::store::RecordedEvent>, crate::store::StoreError>>),
    Acked(u64, Result<(), String>),
    /// Time to save the checkpoint over the acks received since the last save.
    Save,
}

/// Resolves to `position` once JetStream confirmed it.
async fn confirmed(position: u64, ack: PublishAckFuture) -> (u64, Result<(), String>) {
    (
        position,
        ack.await.map(|_| ()).map_err(|err| err.to_string()),
    )
}

/// Where publishing resumes: the first position to publish, and the stream sequence of
/// the stream's newest message, which that position's message must follow.
#[derive(Debug, Clone, Copy)]
struct Resume {
    from: u64,
    last_sequence: u64,
}

/// Why a publishing run stopped before shutdown.
#[derive(Debug, thiserror::Error)]
enum RunError {
    #[error("JetStream: {0}")]
    Nats(String),
    #[error("event store: {0}")]
    Store(#[from] crate::store::StoreError),
}

impl Publisher {
    pub fn new(store: SledStore, client: async_nats::Client, config: PublisherConfig) -> Self {
        let js = jetstream::ContextBuilder::new()
            .timeout(config.ack_timeout)
            .build(client);
        let published = Arc::new(AtomicU64::new(
            store.checkpoint(CHECKPOINT_NAME).unwrap_or(0),
        ));
        Publisher {
            store,
            js,
            config,
            published,
        }
    }

    /// The last position known to be in JetStream (for lag reporting).
    pub fn published_position(&self) -> Arc<AtomicU64> {
        self.published.clone()
    }

    /// Publishes until `shutdown` turns true, retrying every failure with backoff.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut backoff = Backoff::default();
        let mut waiting_since: Option<Instant> = None;
        while !*shutdown.borrow() {
            let outcome = match self.prepare().await {
                Ok(resume) => {
                    if let Some(since) = waiting_since.take() {
                        tracing::info!(
                            waited_s = since.elapsed().as_secs(),
                            from_position = resume.from,
                            "publishing to JetStream"
                        );
                    }
                    backoff.reset();
                    self.publish_from(resume, &mut shutdown).await
                }
                Err(err) => Err(err),
            };
            let Err(err) = outcome else { break };
            waiting_since.get_or_insert_with(Instant::now);
            let (lag_events, lag_s) = self.lag();
            tracing::warn!(cause = %err, lag_events, lag_s, "publishing to NATS paused; commands are still accepted and will be published when NATS is back");
            let delay = backoff.next_delay();
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = shutdown.changed() => {}
            }
        }
        tracing::info!(
            published_position = self.published.load(Ordering::Relaxed),
            "NATS publisher stopped"
        );
    }

    /// Events committed but not yet in JetStream, and the age of the oldest of them.
    pub fn lag(&self) -> (u64, u64) {
        let published = self.published.load(Ordering::Relaxed);
        let head = self.store.head().position;
        let age = self
            .store
            .read_all(published + 1, 1)
            .ok()
            .and_then(|events| {
                events
                    .first()
                    .map(|e| (chrono::Utc::now() - e.recorded_at).num_seconds().max(0) as u64)
            })
            .unwrap_or(0);
        (head.saturating_sub(published), age)
    }

    /// Creates the stream if it is missing (updating its settings where they differ),
    /// then finds where to resume: after the newest position the stream holds, or after
    /// the checkpoint if the stream holds none.
    async fn prepare(&self) -> Result<Resume, RunError> {
        let config = jetstream::stream::Config {
            name: self.config.stream_name.clone(),
            subjects: vec![subjects::EVENTS_ALL.to_owned()],
            storage: jetstream::stream::StorageType::File,
            duplicate_window: self.config.duplicate_window,
            num_replicas: self.config.replicas,
            ..Default::default()
        };
        // Looked up first, not created-or-updated every time: on a NATS cluster that had
        // just lost a server, a create-or-update timed out for over a minute while the
        // cluster took other writes, and publishing waited on it.
        let stream = self
            .js
            .get_or_create_stream(config.clone())
            .await
            .map_err(|err| {
                RunError::Nats(format!(
                    "creating stream {}: {err}",
                    self.config.stream_name
                ))
            })?;
        let mut info = stream.cached_info().clone();
        let settings = |c: &jetstream::stream::Config| {
            (c.subjects.clone(), c.duplicate_window, c.num_replicas)
        };
        if settings(&info.config) != settings(&config) {
            match self.js.update_stream(config).await {
                Ok(updated) => info = updated,
                // Publishing works with the stream as it is; the next start tries again.
                Err(err) => tracing::warn!(
                    stream = %self.config.stream_name,
                    cause = %err,
                    "the events stream's settings could not be updated now; publishing goes on with its current settings"
                ),
            }
        }
        let checkpoint = self.store.checkpoint(CHECKPOINT_NAME)?;
        let head = self.store.head().position;
        if checkpoint > head {
            tracing::error!(
                checkpoint,
                head,
                "the publisher's checkpoint is past the store's head (was the store restored or repaired?); positions the events stream already holds are not published again"
            );
        }
        // Each message names the sequence it follows, so the stream holds every position
        // up to its newest message's: resume after it. This also carries a cluster's
        // publishing over to a new leader, whose own checkpoint may be far behind.
        let last_sequence = info.state.last_sequence;
        let mut sequence = last_sequence;
        let mut in_stream = None;
        while sequence > 0 && last_sequence - sequence < RECONCILE_MESSAGES_MAX {
            match stream.get_raw_message(sequence).await {
                Ok(message) => {
                    in_stream = message
                        .headers
                        .get("ce-sequence")
                        .and_then(|v| v.as_str().parse::<u64>().ok());
                    break;
                }
                // Removed by hand (or by a limit an operator set): look one further back.
                Err(err) if err.kind() == RawMessageErrorKind::NoMessageFound => sequence -= 1,
                // Anything else (no stream leader yet, a timeout) fails this start, to be
                // tried again: walking on past messages that are there but unreadable
                // now took a timeout each, and resumed from a position the stream did
                // not end at.
                Err(err) => {
                    return Err(RunError::Nats(format!(
                        "reading message {sequence} of stream {}: {err}",
                        self.config.stream_name
                    )));
                }
            }
        }
        let published = match in_stream {
            Some(last) if last > checkpoint => {
                tracing::info!(
                    checkpoint,
                    published = last,
                    "the stream already holds the events up to its newest one's position; publishing resumes after it"
                );
                last
            }
            Some(last) if last < checkpoint => {
                tracing::warn!(
                    checkpoint,
                    in_stream = last,
                    stream = %self.config.stream_name,
                    "the stream lacks positions JetStream had acknowledged (lost by NATS, for example to a power cut between its fsyncs, or removed by hand); publishing them again"
                );
                last
            }
            Some(last) => last,
            // Empty (new, or purged by hand): what was acknowledged before is not
            // published again.
            None => checkpoint,
        };
        self.published.store(published, Ordering::Relaxed);
        Ok(Resume {
            from: published + 1,
            last_sequence,
        })
    }

    /// Publishes from `resume.from` until shutdown (Ok) or a failure (Err, checkpoint
    /// saved).
    async fn publish_from(
        &self,
        resume: Resume,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<(), RunError> {
        let from = resume.from;
        let mut subscription = self.store.subscribe(from, SubscriptionFilter::default());
        // Each message names the stream sequence it follows (Nats-Expected-Last-Sequence),
        // so JetStream refuses a message whose predecessor is missing: the stream can never
        // hold a gap, even when the client replays buffered publishes after a reconnect.
        let mut last_sequence = resume.last_sequence;
        // Acks in publish order.
        let mut inflight = FuturesOrdered::new();
        let mut acked = from - 1;
        let mut saved = acked;
        let mut saved_at = Instant::now();
        let result = loop {
            // Whichever comes first: shutdown, the oldest ack, or the next event while the
            // window has room. Both futures below are cancel-safe.
            // The checkpoint follows the acks at most `checkpoint_every` behind, also when
            // the log goes quiet (otherwise the last acks of a burst stay unsaved and the
            // publisher shows a lag with nothing left to publish).
            let save_at = tokio::time::Instant::from_std(saved_at + self.config.checkpoint_every);
            let step = tokio::select! {
                biased;
                _ = shutdown.changed() => break Ok(()),
                Some((position, ack)) = inflight.next(), if !inflight.is_empty() => Step::Acked(position, ack),
                next = subscription.next(), if inflight.len() < self.config.window_max => Step::Event(next),
                () = tokio::time::sleep_until(save_at), if acked != saved => Step::Save,
            };
            match step {
                Step::Save => {
                    self.store.save_checkpoint(CHECKPOINT_NAME, acked)?;
                    (saved, saved_at) = (acked, Instant::now());
                }
                Step::Event(None) => break Ok(()), // the store closed
                Step::Event(Some(event)) => {
                    let event = event?;
                    let subject = subjects::event_subject(&event.stream, &event.event_type);
                    let headers = cloudevents::headers(&event, &self.config.source, last_sequence);
                    last_sequence += 1;
                    let payload = bytes::Bytes::copy_from_slice(event.data.get().as_bytes());
                    match self
                        .js
                        .publish_with_headers(subject, headers, payload)
                        .await
                    {
                        Ok(ack) => inflight.push_back(confirmed(event.position, ack)),
                        Err(err) => {
                            break Err(RunError::Nats(format!(
                                "publishing position {}: {err}",
                                event.position
                            )));
                        }
                    }
                }
                Step::Acked(position, Err(err)) => {
                    break Err(RunError::Nats(format!(
                        "ack for position {position}: {err}"
                    )));
                }
                Step::Acked(position, Ok(())) => {
                    assert_eq!(position, acked + 1, "publisher acks must be contiguous");
                    acked = position;
                    self.published.store(acked, Ordering::Relaxed);
                    if saved_at.elapsed() >= self.config.checkpoint_every {
                        self.store.save_checkpoint(CHECKPOINT_NAME, acked)?;
                        (saved, saved_at) = (acked, Instant::now());
                    }
                }
            }
        };
        // Collect the acks still in flight (each bounded by the ack timeout) so the
        // checkpoint covers everything JetStream confirmed.
        if result.is_ok() {
            while let Some((position, ack)) = inflight.next().await {
                if ack.is_err() || position != acked + 1 {
                    break;
                }
                acked = position;
            }
            self.published.store(acked, Ordering::Relaxed);
        }
        if acked != saved {
            self.store.save_checkpoint(CHECKPOINT_NAME, acked)?;
        }
        result
    }
}
