//! [`SledStore`]: the event store, on sled.
//!
//! Opening checks the tail of the log (contiguous positions, chain links, the stored
//! head) and refuses to serve a damaged store, naming the position and the command
//! that inspects it. Reads never look past the durable head published by the writer.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, oneshot, watch};

use super::codec::{HashBytes, PreparedEvent, RawRecord};
use super::error::{AppendError, StoreError};
use super::index::{self, Index, SharedIndex};
use super::keys;
use super::log;
use super::replication::{Role, SharedRole};
use super::subscription::{SUBSCRIPTION_CHUNK_EVENTS, Subscription, SubscriptionFilter};
use super::tail::{TAIL_EVENTS, Tail};
use super::types::{AppendOutcome, AppendRequest, Direction, Head, RecordedEvent};
use super::verify::{
    ChainVerifier, Damage, DamageKind, StoredItem, VerifyReport, with_hashes_ahead,
};
use super::writer::{Failure, PreparedAppend, PreparedStream, Syncer, Writer, WriterMsg};

/// How many records at the end of the log `open` verifies.
pub const TAIL_CHECK_RECORDS: u64 = 1024;
/// sled segment size: pages over a quarter of it would go to unsynced blob files.
pub const SEGMENT_BYTES: usize = 8 * 1024 * 1024;

/// Store settings. Defaults suit the service; every field is a bound, not a hint.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    pub path: PathBuf,
    /// sled page cache.
    pub cache_capacity_bytes: u64,
    /// Most events the writer puts in one atomic batch.
    pub batch_events_max: usize,
    /// Most canonical bytes the writer puts in one batch.
    pub batch_bytes_max: usize,
    /// Appends that may wait for the writer; callers beyond it wait (backpressure).
    pub queue_requests_max: usize,
}

impl StoreConfig {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        StoreConfig {
            path: path.into(),
            cache_capacity_bytes: 256 * 1024 * 1024,
            batch_events_max: 2048,
            batch_bytes_max: 8 * 1024 * 1024,
            queue_requests_max: 4096,
        }
    }
}

/// The sled event store. Cheap to clone; all clones share one writer.
#[derive(Clone)]
pub struct SledStore {
    inner: Arc<Inner>,
}

struct Inner {
    db: sled::Db,
    tree: sled::Tree,
    path: PathBuf,
    head_rx: watch::Receiver<Head>,
    writer_tx: Option<mpsc::Sender<WriterMsg>>,
    index: SharedIndex,
    /// Recent records for live subscribers (empty for a store opened for inspection).
    tail: Arc<Tail>,
    /// Single node, cluster leader or follower ([`super::replication`]).
    role: SharedRole,
    /// Why the store refuses appends, once a write or fsync failed.
    failure: Failure,
    /// One writer per read model ([`SledStore::model_writer`]).
    model_writers: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Semaphore>>>,
    /// The sequence of the last batch of side records written from the cluster's log
    /// (0: none since the store opened).
    replicated_sides: Arc<AtomicU64>,
}

impl SledStore {
    /// Opens (or creates) the store for serving: checks the tail and starts the writer.
    pub fn open(config: StoreConfig) -> Result<SledStore, StoreError> {
        let (db, tree, head) = open_tree(&config)?;
        if let Err(damage) = check_tail(&tree, &head) {
            return Err(damaged(&config.path, &damage));
        }
        let last_recorded_at = match head.position {
            0 => DateTime::<Utc>::MIN_UTC,
            p => read_event(&tree, p)?
                .map(|e| e.recorded_at)
                .unwrap_or(DateTime::<Utc>::MIN_UTC),
        };
        let index = SharedIndex::new(Index::load(&tree, head.position)?);
        let (head_tx, head_rx) = watch::channel(head);
        let (writer_tx, writer_rx) = mpsc::channel(config.queue_requests_max);
        let failure = Failure::default();
        let tail = Arc::new(Tail::new(TAIL_EVENTS));
        let role = SharedRole::default();
        let replicated_sides = Arc::new(AtomicU64::new(0));
        let syncer = Syncer {
            dir: config.path.clone(),
            db: db.clone(),
            data_file: File::open(config.path.join("db"))?,
            blobs_dir: config.path.join("blobs"),
            synced_blobs: HashSet::new(),
            head_tx,
            tail: tail.clone(),
            failure: failure.clone(),
            stats: Default::default(),
            role: role.clone(),
        };
        let writer = Writer {
            dir: config.path.clone(),
            appender: log::Appender::after(&tree, head.position)?,
            tree: tree.clone(),
            head,
            last_recorded_at,
            batch_events_max: config.batch_events_max,
            batch_bytes_max: config.batch_bytes_max,
            failure: failure.clone(),
            index: index.clone(),
            stats: Default::default(),
            syncer: Some(syncer),
            side_sequence: last_side_sequence(&tree)?,
            replicated_sides: replicated_sides.clone(),
            role: role.clone(),
        };
        std::thread::Builder::new()
            .name("crisisd-store-writer".into())
            .spawn(move || writer.run(writer_rx))?;
        Ok(SledStore {
            inner: Arc::new(Inner {
                db,
                tree,
                path: config.path,
                head_rx,
                writer_tx: Some(writer_tx),
                index,
                tail,
                role,
                failure,
                model_writers: Default::default(),
                replicated_sides,
            }),
        })
    }

    /// Opens the store read-only for inspection (verify, replay) even when it is
    /// damaged; appends are refused.
    pub fn open_for_inspection(config: StoreConfig) -> Result<SledStore, StoreError> {
        let (db, tree, head) = open_tree(&config)?;
        let (_head_tx, head_rx) = watch::channel(head);
        // A damaged log may not index; inspection reads the log by position anyway.
        let index = Index::load(&tree, head.position).unwrap_or_else(|err| {
            tracing::warn!(cause = %err, "the store cannot be indexed; reads by stream and id find nothing");
            Index::default()
        });
        Ok(SledStore {
            inner: Arc::new(Inner {
                db,
                tree,
                path: config.path,
                head_rx,
                writer_tx: None,
                index: SharedIndex::new(index),
                tail: Arc::new(Tail::new(0)),
                role: SharedRole::default(),
                failure: Failure::default(),
                model_writers: Default::default(),
                replicated_sides: Default::default(),
            }),
        })
    }

    /// Why the store refuses every append, once a write or an fsync of its data
    /// directory failed (until crisisd restarts); `None` while it takes appends.
    pub fn failure(&self) -> Option<String> {
        self.inner.failure.borrow().clone()
    }

    /// Completes, with the reason [`SledStore::failure`] gives, once the store refuses
    /// appends.
    pub async fn failed(&self) -> String {
        let mut failure = self.inner.failure.subscribe();
        let reason = failure
            .wait_for(Option::is_some)
            .await
            .expect("the store holds the sender of its own failure");
        reason.clone().unwrap_or_default()
    }

    /// The sled tree of a derived model (a projection's read model), beside the log in
    /// the same database. Its writes reach the disk with the next commit's flush; a model
    /// must therefore be derivable from the log, which it always is.
    pub fn model_tree(&self, name: &str) -> Result<sled::Tree, StoreError> {
        Ok(self.inner.db.open_tree(format!("model/{name}"))?)
    }

    /// The right to write the model `name`, held by one projector at a time: a
    /// projector whose task was dropped may still be committing its last batch on a
    /// blocking thread, and another projector of the same model waits for that batch
    /// before it reads the checkpoint.
    pub async fn model_writer(&self, name: &str) -> tokio::sync::OwnedSemaphorePermit {
        let writer = self
            .inner
            .model_writers
            .lock()
            .expect("model writers lock")
            .entry(name.to_owned())
            .or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(1)))
            .clone();
        writer
            .acquire_owned()
            .await
            .expect("a model writer's semaphore is never closed")
    }

    /// Deletes a model's tree (before a rebuild).
    pub fn drop_model_tree(&self, name: &str) -> Result<(), StoreError> {
        self.inner.db.drop_tree(format!("model/{name}"))?;
        Ok(())
    }

    /// Every side record ever appended ([`AppendRequest::side`]), in write order.
    pub fn side_records(&self) -> impl Iterator<Item = Result<Vec<u8>, StoreError>> + '_ {
        self.inner
            .tree
            .scan_prefix([keys::SIDE])
            .flat_map(|entry| match entry {
                Ok((_, chunk)) => split_side_chunk(&chunk).into_iter().map(Ok).collect(),
                Err(err) => vec![Err(StoreError::from(err))],
            })
    }

    /// The sequence of the last batch of side records written (0: none yet).
    pub fn side_sequence(&self) -> Result<u64, StoreError> {
        last_side_sequence(&self.inner.tree)
    }

    /// The sequence of the last batch of side records written from the cluster's log
    /// since the store opened (0: none).
    pub fn replicated_side_sequence(&self) -> u64 {
        self.inner.replicated_sides.load(Ordering::Acquire)
    }

    /// The side records a follower wrote from the cluster's log in batches after
    /// `after` (a [`SledStore::side_sequence`]), in order, and the sequence of the last
    /// batch read (`after` if none): how a key store learns the keys of the leader's
    /// appends. Never returns this node's own side records.
    pub fn replicated_side_records(&self, after: u64) -> Result<(u64, Vec<Vec<u8>>), StoreError> {
        let upto = self.inner.replicated_sides.load(Ordering::Acquire);
        if upto <= after {
            return Ok((after, Vec::new()));
        }
        let mut records = Vec::new();
        for chunk in self
            .inner
            .tree
            .range(keys::side(after + 1)..=keys::side(upto))
        {
            records.extend(split_side_chunk(&chunk?.1));
        }
        Ok((upto, records))
    }

    /// Makes model writes durable now (sled flush + fdatasync), e.g. after a rebuild.
    pub fn flush_models(&self) -> Result<(), StoreError> {
        self.inner.db.flush()?;
        File::open(self.inner.path.join("db"))?.sync_data()?;
        Ok(())
    }

    /// The data directory.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Stops the writer after everything queued so far is durable and acknowledged.
    /// Later appends fail with [`AppendError::Unavailable`].
    pub async fn close(&self) {
        if let Some(tx) = &self.inner.writer_tx {
            let (done_tx, done_rx) = oneshot::channel();
            if tx.send(WriterMsg::Close(done_tx)).await.is_ok() {
                let _ = done_rx.await;
            }
        }
    }

    /// The last position a named log follower (e.g. the NATS publisher) has finished,
    /// 0 if it never saved one.
    pub fn checkpoint(&self, name: &str) -> Result<u64, StoreError> {
        Ok(self
            .inner
            .tree
            .get(keys::checkpoint(name))?
            .map_or(0, |v| keys::u64_value(&v)))
    }

    /// Saves a follower's checkpoint. It is written to the OS at once (it survives a
    /// process crash) and reaches the disk with the next commit; a follower must
    /// therefore tolerate redoing work after a power loss (the publisher does: its
    /// messages carry ids that JetStream deduplicates).
    pub fn save_checkpoint(&self, name: &str, position: u64) -> Result<(), StoreError> {
        self.inner
            .tree
            .insert(keys::checkpoint(name), &position.to_be_bytes())?;
        self.inner.tree.flush()?;
        Ok(())
    }

    /// The in-memory tail of recent records (see [`super::tail`]).
    pub(crate) fn tail(&self) -> &Tail {
        &self.inner.tail
    }

    /// A receiver that changes whenever new events are durable.
    pub fn watch_head(&self) -> watch::Receiver<Head> {
        self.inner.head_rx.clone()
    }

    /// Reads committed stored records in `[from, to]` as raw bytes (for replay and export).
    pub fn raw_range(
        &self,
        from: u64,
        to: u64,
    ) -> impl Iterator<Item = Result<(u64, sled::IVec), StoreError>> + '_ {
        let to = to.min(self.head().position);
        log::range(&self.inner.tree, from, to).map(|entry| entry.map_err(StoreError::from))
    }

    /// Verifies `[from, to]`, calling `progress(verified)` every `every` records.
    pub fn verify_with_progress(
        &self,
        from: u64,
        to: u64,
        every: u64,
        mut progress: impl FnMut(u64),
    ) -> Result<VerifyReport, StoreError> {
        let head = self.head();
        let from = from.max(1);
        let to = to.min(head.position);
        if from > to {
            // Nothing to verify (a range past the head or reversed): not damage.
            return Ok(VerifyReport {
                from,
                to,
                verified: 0,
                last_hash: HashBytes::ZERO,
                damage: None,
            });
        }
        let prev_hash = match from {
            1 => HashBytes::ZERO,
            p => match log::get(&self.inner.tree, p - 1)?
                .as_deref()
                .and_then(RawRecord::decode)
            {
                Some(raw) => raw.hash,
                None => {
                    let damage = Damage {
                        position: p - 1,
                        kind: DamageKind::Missing,
                        detail: "the record before the range is missing or unreadable".into(),
                    };
                    return Ok(VerifyReport {
                        from,
                        to,
                        verified: 0,
                        last_hash: HashBytes::ZERO,
                        damage: Some(damage),
                    });
                }
            },
        };
        let mut report = VerifyReport {
            from,
            to,
            verified: 0,
            last_hash: prev_hash,
            damage: None,
        };
        if from > to {
            return Ok(report);
        }
        let storage_error = std::sync::Mutex::new(None);
        let records = self.raw_range(from, to).map_while(|entry| {
            entry
                .map_err(|err| *storage_error.lock().expect("not poisoned") = Some(err))
                .ok()
        });
        let (last_hash, next_position) = with_hashes_ahead(records, |records| {
            let items = records.map(|(slot, bytes, ok)| StoredItem::prehashed(slot, bytes, ok));
            let mut verifier = ChainVerifier::new(items, from, prev_hash);
            for result in verifier.by_ref() {
                match result {
                    Ok(_) => {
                        report.verified += 1;
                        if report.verified.is_multiple_of(every.max(1)) {
                            progress(report.verified);
                        }
                    }
                    Err(damage) => {
                        report.damage = Some(damage);
                        break;
                    }
                }
            }
            (verifier.last_hash(), verifier.next_position())
        });
        report.last_hash = last_hash;
        if let Some(err) = storage_error.into_inner().expect("not poisoned") {
            return Err(err);
        }
        if report.damage.is_none() && next_position <= to {
            let position = next_position;
            report.damage = Some(Damage {
                position,
                kind: DamageKind::Missing,
                detail: format!("the log ends at {} but the head is {to}", position - 1),
            });
        }
        if report.damage.is_none() && to == head.position && report.last_hash != head.hash {
            report.damage = Some(Damage {
                position: to,
                kind: DamageKind::Edited,
                detail: "the last record's hash differs from the stored head hash".into(),
            });
        }
        Ok(report)
    }

    fn prepare(request: AppendRequest) -> Result<PreparedAppend, AppendError> {
        if request.event_count() == 0 && request.side.is_empty() {
            return Err(AppendError::InvalidRequest {
                reason: "an append needs at least one event".into(),
            });
        }
        if request.event_count() > APPEND_EVENTS_MAX {
            return Err(AppendError::InvalidRequest {
                reason: format!(
                    "an append carries at most {APPEND_EVENTS_MAX} events, not {}: split it into several",
                    request.event_count()
                ),
            });
        }
        if request.side.len() > SIDE_BYTES_MAX {
            return Err(AppendError::InvalidRequest {
                reason: format!(
                    "a side record is {} bytes, over the limit of {SIDE_BYTES_MAX}",
                    request.side.len()
                ),
            });
        }
        let mut streams_seen = HashSet::new();
        let mut ids_seen = HashSet::new();
        let mut bytes = 0;
        let mut streams = Vec::with_capacity(request.streams.len());
        for s in request.streams {
            if !streams_seen.insert(s.stream.clone()) {
                return Err(AppendError::InvalidRequest {
                    reason: format!(
                        "stream {} appears twice; put all its events in one StreamAppend",
                        s.stream
                    ),
                });
            }
            let mut events = Vec::with_capacity(s.events.len());
            for event in &s.events {
                if !ids_seen.insert(event.id) {
                    return Err(AppendError::InvalidRequest {
                        reason: format!("event id {} appears twice in one append", event.id),
                    });
                }
                let prepared = PreparedEvent::prepare(&s.stream, event)?;
                bytes += prepared.canonical_len_max();
                events.push(prepared);
            }
            streams.push(PreparedStream {
                stream: s.stream,
                expected: s.expected,
                events,
            });
        }
        Ok(PreparedAppend {
            streams,
            bytes: bytes + request.side.len(),
            side: request.side,
        })
    }

    #[cfg(test)]
    pub(crate) fn inner_tree(&self) -> sled::Tree {
        self.inner.tree.clone()
    }

    fn read_at(&self, position: u64) -> Result<RecordedEvent, StoreError> {
        read_event(&self.inner.tree, position)?.ok_or_else(|| StoreError::Damaged(format!("position {position} is below the head but has no readable record; run `crisisd verify`")))
    }
}

impl std::fmt::Debug for SledStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SledStore")
            .field("path", &self.path())
            .field("head", &self.head().position)
            .finish()
    }
}

/// The log: what commands, projections, subscribers and auditors read and write.
impl SledStore {
    /// Appends events to one or more streams atomically, each checked against its
    /// expected version. Resolves only once the events are durable.
    pub async fn append(&self, request: AppendRequest) -> Result<AppendOutcome, AppendError> {
        let Some(tx) = &self.inner.writer_tx else {
            return Err(AppendError::Unavailable {
                reason: "the store was opened for inspection only".into(),
            });
        };
        let started = std::time::Instant::now();
        let prepared = Self::prepare(request)?;
        let (reply_tx, reply_rx) = oneshot::channel();
        let closed = || AppendError::Unavailable {
            reason: "the event store is shutting down".into(),
        };
        tx.send(WriterMsg::Append(prepared, reply_tx))
            .await
            .map_err(|_| closed())?;
        let answer = reply_rx.await.map_err(|_| closed())?;
        crate::metrics::METRICS
            .append_seconds
            .observe_duration(started.elapsed());
        answer
    }

    /// Makes this store a single node's, a cluster leader's or a follower's (see
    /// [`super::replication`]). A leader's `replicated` must be the cluster log's last
    /// position, which this store's head must have reached.
    pub fn set_role(&self, role: Role) {
        self.inner.role.set(role);
    }

    /// Applies a cluster leader's records (exact bytes, in order, continuing this
    /// log's head) as a follower, with the side records that travelled with them (a
    /// side chunk: each length-prefixed, as [`SledStore::side_records`] splits them),
    /// written in the same batch; resolves once they are durable and visible. A record
    /// that does not continue this log is refused with everything after it.
    pub async fn apply_replicated(
        &self,
        records: Vec<Vec<u8>>,
        side_chunk: Vec<u8>,
    ) -> Result<AppendOutcome, AppendError> {
        let Some(tx) = &self.inner.writer_tx else {
            return Err(AppendError::Unavailable {
                reason: "the store was opened for inspection only".into(),
            });
        };
        let (reply_tx, reply_rx) = oneshot::channel();
        let closed = || AppendError::Unavailable {
            reason: "the event store is shutting down".into(),
        };
        tx.send(WriterMsg::Replicated(records, side_chunk, reply_tx))
            .await
            .map_err(|_| closed())?;
        reply_rx.await.map_err(|_| closed())?
    }

    /// Reads up to `max_count` events of one stream starting at `from_version`
    /// (inclusive) in `direction`.
    pub fn read_stream(
        &self,
        stream: &str,
        from_version: u64,
        direction: Direction,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let head = self.head().position;
        // Positions of the wanted versions, copied out so no lock is held while reading.
        let positions: Vec<u64> = {
            let index = self.inner.index.read();
            let all = index.stream(stream);
            let visible = &all[..all.partition_point(|p| *p <= head)];
            let from = usize::try_from(from_version.max(1) - 1).unwrap_or(usize::MAX);
            match direction {
                Direction::Forward => visible.iter().skip(from).take(max_count).copied().collect(),
                Direction::Backward => {
                    let end = usize::try_from(from_version)
                        .unwrap_or(usize::MAX)
                        .min(visible.len());
                    visible[..end]
                        .iter()
                        .rev()
                        .take(max_count)
                        .copied()
                        .collect()
                }
            }
        };
        positions.into_iter().map(|p| self.read_at(p)).collect()
    }

    /// Reads up to `max_count` committed events from global position `from` (inclusive).
    pub fn read_all(&self, from: u64, max_count: usize) -> Result<Vec<RecordedEvent>, StoreError> {
        let mut events = Vec::with_capacity(max_count.min(SUBSCRIPTION_CHUNK_EVENTS));
        for entry in self.raw_range(from.max(1), u64::MAX - 1).take(max_count) {
            let (position, bytes) = entry?;
            events.push(parse_record(position, &bytes)?);
        }
        Ok(events)
    }

    /// The committed event with this id, if it is stored.
    pub fn read_event(&self, id: &uuid::Uuid) -> Result<Option<RecordedEvent>, StoreError> {
        let Some(position) = self.inner.index.read().position_of(id) else {
            return Ok(None);
        };
        if position > self.head().position {
            return Ok(None);
        }
        self.read_at(position).map(Some)
    }

    /// The current version of a stream, `None` when it has no events.
    pub fn stream_version(&self, stream: &str) -> Result<Option<u64>, StoreError> {
        let head = self.head().position;
        let index = self.inner.index.read();
        let visible = index.stream(stream).partition_point(|p| *p <= head);
        Ok((visible > 0).then_some(visible as u64))
    }

    /// The last committed position and its hash.
    pub fn head(&self) -> Head {
        *self.inner.head_rx.borrow()
    }

    /// The first position whose `recorded_at` is at or after `instant`, `None` if none is.
    pub fn position_at(&self, instant: DateTime<Utc>) -> Result<Option<u64>, StoreError> {
        // recorded_at never decreases with position (the writer clamps it), so bisect.
        let (mut low, mut high) = (1, self.head().position + 1);
        while low < high {
            let mid = low + (high - low) / 2;
            if self.read_at(mid)?.recorded_at < instant {
                low = mid + 1;
            } else {
                high = mid;
            }
        }
        Ok((low <= self.head().position).then_some(low))
    }

    /// Verifies the hash chain over `[from, to]` (clamped to the log).
    pub fn verify(&self, from: u64, to: u64) -> Result<VerifyReport, StoreError> {
        self.verify_with_progress(from, to, u64::MAX, |_| {})
    }

    /// Events from `from` (inclusive) matching `filter`: history, then live.
    pub fn subscribe(&self, from: u64, filter: SubscriptionFilter) -> Subscription {
        Subscription::new(self.clone(), from, filter)
    }
}

/// Largest side record of one append.
pub const SIDE_BYTES_MAX: usize = 8 * 1024 * 1024;
/// Most events one append carries: what a cluster's log (a JetStream stream) takes in
/// one atomic batch by default. Held on a single node too, so that what a node takes
/// alone, a cluster takes.
pub const APPEND_EVENTS_MAX: usize = 1000;

/// The sequence number of the last batch of side records (0: none yet).
fn last_side_sequence(tree: &sled::Tree) -> Result<u64, StoreError> {
    Ok(tree
        .scan_prefix([keys::SIDE])
        .next_back()
        .transpose()?
        .map_or(0, |(key, _)| keys::u64_value(&key[1..])))
}

/// The side records of one batch (each length-prefixed).
fn split_side_chunk(chunk: &[u8]) -> Vec<Vec<u8>> {
    let mut records = Vec::new();
    let mut rest = chunk;
    while rest.len() >= 4 {
        let len = u32::from_be_bytes(rest[..4].try_into().expect("4 bytes")) as usize;
        let Some(record) = rest.get(4..4 + len) else {
            break;
        };
        records.push(record.to_vec());
        rest = &rest[4 + len..];
    }
    records
}

/// Parses a stored record, naming the position when it cannot be read.
pub(crate) fn parse_record(position: u64, bytes: &[u8]) -> Result<RecordedEvent, StoreError> {
    RawRecord::decode(bytes)
        .and_then(|raw| raw.parse().ok())
        .ok_or_else(|| {
            StoreError::Damaged(format!(
                "the record at position {position} cannot be parsed; run `crisisd verify`"
            ))
        })
}

fn read_event(tree: &sled::Tree, position: u64) -> Result<Option<RecordedEvent>, StoreError> {
    log::get(tree, position)?
        .map(|bytes| parse_record(position, &bytes))
        .transpose()
}

/// Waits up to `within` until nothing holds the lock of the store in `dir` and says
/// whether it was released. sled's IO threads let go of it a moment after the last
/// handle of this process is dropped (a process's exit releases it at once), so code
/// that reopens a directory in the same process (the tests do) waits here instead of
/// failing with [`StoreError::Locked`]. Blocks the calling thread.
pub fn wait_for_release(dir: &Path, within: std::time::Duration) -> bool {
    let deadline = std::time::Instant::now() + within;
    loop {
        let released = match File::options().read(true).write(true).open(dir.join("db")) {
            // The lock sled takes: an exclusive flock on the `db` file.
            Ok(file) => !matches!(file.try_lock(), Err(std::fs::TryLockError::WouldBlock)),
            // No store there, or one this process cannot open: nothing to wait for
            // (opening it says what is wrong).
            Err(_) => true,
        };
        if released || std::time::Instant::now() >= deadline {
            return released;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

pub(crate) fn open_tree(config: &StoreConfig) -> Result<(sled::Db, sled::Tree, Head), StoreError> {
    let path = &config.path;
    let fresh = !path.join("db").exists();
    std::fs::create_dir_all(path).map_err(|err| {
        StoreError::Storage(format!(
            "cannot create data directory {}: {err}",
            path.display()
        ))
    })?;
    let db = sled::Config::new()
        .path(path)
        .cache_capacity(config.cache_capacity_bytes)
        .segment_size(SEGMENT_BYTES)
        .flush_every_ms(None)
        .mode(sled::Mode::HighThroughput)
        .open()
        .map_err(|err| match err {
            sled::Error::Io(io) if io.to_string().contains("could not acquire lock") => StoreError::Locked(format!(
                "the data directory {} is in use by another process (is crisisd already running?); stop it, or use another --data-dir",
                path.display()
            )),
            other => StoreError::Storage(format!("cannot open the event store at {}: {other}", path.display())),
        })?;
    let tree: sled::Tree = (*db).clone();
    match tree.get(keys::FORMAT)? {
        Some(format) if format.as_ref() == keys::FORMAT_NAME => {}
        Some(format) if keys::OLDER_FORMAT_NAMES.contains(&format.as_ref()) => {
            return Err(StoreError::Storage(format!(
                "{} holds the older store format {:?}; this build reads {:?}. Move the log over, keeping every position and hash: `crisisd replay > log.ndjson` with the previous build, then `crisisd --data-dir NEW import log.ndjson` with this one",
                path.display(),
                String::from_utf8_lossy(&format),
                String::from_utf8_lossy(keys::FORMAT_NAME)
            )));
        }
        Some(format) => {
            return Err(StoreError::Storage(format!(
                "{} holds store format {:?}, this build reads {:?}",
                path.display(),
                String::from_utf8_lossy(&format),
                String::from_utf8_lossy(keys::FORMAT_NAME)
            )));
        }
        None if tree.is_empty() => {
            tree.insert(keys::FORMAT, keys::FORMAT_NAME)?;
            db.flush()?;
            File::open(path.join("db"))?.sync_data()?;
        }
        None => {
            return Err(StoreError::Storage(format!(
                "{} is not a crisisd event store (no format marker)",
                path.display()
            )));
        }
    }
    if fresh {
        File::open(path)?.sync_all()?;
    }
    let head = match tree.get(keys::HEAD)? {
        None => Head {
            position: 0,
            hash: HashBytes::ZERO,
        },
        Some(value) if value.len() == 40 => Head {
            position: keys::u64_value(&value),
            hash: HashBytes(value[8..40].try_into().expect("length checked")),
        },
        Some(_) => {
            return Err(StoreError::Damaged(format!(
                "the head record of {} is unreadable; run `crisisd verify --data-dir {}`",
                path.display(),
                path.display()
            )));
        }
    };
    Ok((db, tree, head))
}

/// Verifies the last [`TAIL_CHECK_RECORDS`] records and that the log ends at the head.
pub(crate) fn check_tail(tree: &sled::Tree, head: &Head) -> Result<(), Damage> {
    let last = log::last_slot(tree).map_err(|err| Damage {
        position: head.position,
        kind: DamageKind::Missing,
        detail: format!("the log's last key cannot be read: {err}"),
    })?;
    if last > head.position {
        return Err(Damage {
            position: head.position + 1,
            kind: DamageKind::Inserted,
            detail: format!(
                "records exist up to {last}, past the committed head {}",
                head.position
            ),
        });
    }
    if last < head.position {
        return Err(Damage {
            position: last + 1,
            kind: DamageKind::Missing,
            detail: format!(
                "the log ends at {last} but the committed head is {}",
                head.position
            ),
        });
    }
    if head.position == 0 {
        return Ok(());
    }
    let from = head.position.saturating_sub(TAIL_CHECK_RECORDS - 1).max(1);
    let prev_hash = match from {
        1 => HashBytes::ZERO,
        p => log::get(tree, p - 1)
            .ok()
            .flatten()
            .as_deref()
            .and_then(RawRecord::decode)
            .map(|raw| raw.hash)
            .ok_or_else(|| Damage {
                position: p - 1,
                kind: DamageKind::Missing,
                detail: "record missing or unreadable".into(),
            })?,
    };
    let items = log::range(tree, from, head.position)
        .filter_map(Result::ok)
        .map(|(slot, v)| StoredItem::new(slot, v));
    let mut verifier = ChainVerifier::new(items, from, prev_hash);
    if let Some(Err(damage)) = verifier.by_ref().find(Result::is_err) {
        return Err(damage);
    }
    if verifier.next_position() != head.position + 1 {
        let position = verifier.next_position();
        return Err(Damage {
            position,
            kind: DamageKind::Missing,
            detail: "record missing below the head".into(),
        });
    }
    if verifier.last_hash() != head.hash {
        return Err(Damage {
            position: head.position,
            kind: DamageKind::Edited,
            detail: "the last record's hash differs from the stored head hash".into(),
        });
    }
    Ok(())
}

fn damaged(path: &Path, damage: &Damage) -> StoreError {
    StoreError::Damaged(format!(
        "refusing to serve: the event store at {dir} is damaged: {damage}. Nothing was changed. \
         Inspect it with `crisisd verify --data-dir {dir}` and read the intact prefix with \
         `crisisd replay --data-dir {dir} --to {good}`; `crisisd repair --data-dir {dir} --truncate-from {pos}` \
         drops position {pos} and everything after it (keep a copy of the directory first).",
        dir = path.display(),
        good = damage.position.saturating_sub(1),
        pos = damage.position,
    ))
}

/// Offline repair: drops position `from` and everything after it, with their index
/// entries, and makes `from - 1` the head. Returns how many records were dropped.
/// The store must not be open elsewhere (sled's directory lock enforces it).
pub fn truncate_from(config: &StoreConfig, from: u64) -> Result<u64, StoreError> {
    let from = from.max(1);
    let (db, tree, _head) = open_tree(config)?;
    let mut batch = sled::Batch::default();
    let dropped = log::truncate_from(&tree, from, &mut batch)?;
    // Index chunks: drop those that start at `from` or later, cut the one it falls in.
    for entry in tree.scan_prefix([keys::INDEX]) {
        let (key, value) = entry?;
        let first = keys::index_chunk_position(&key);
        if first >= from {
            batch.remove(key);
            continue;
        }
        let Some(mut entries) = index::decode_chunk(&value) else {
            // Unreadable: drop it; the next open indexes its records from the log.
            batch.remove(key);
            continue;
        };
        let keep = usize::try_from(from - first).unwrap_or(usize::MAX);
        if entries.len() > keep {
            entries.truncate(keep);
            batch.insert(key, index::encode_chunk(&entries));
        }
    }
    let new_head = match from - 1 {
        0 => Head {
            position: 0,
            hash: HashBytes::ZERO,
        },
        p => {
            let bytes = log::get(&tree, p)?.ok_or_else(|| {
                StoreError::Damaged(format!(
                    "position {p} has no record either; truncate from a lower position"
                ))
            })?;
            let raw = RawRecord::decode(&bytes).ok_or_else(|| {
                StoreError::Damaged(format!(
                    "position {p} is unreadable too; truncate from a lower position"
                ))
            })?;
            Head {
                position: p,
                hash: raw.hash,
            }
        }
    };
    if new_head.position == 0 {
        batch.remove(keys::HEAD);
    } else {
        let mut value = new_head.position.to_be_bytes().to_vec();
        value.extend_from_slice(&new_head.hash.0);
        batch.insert(keys::HEAD, value);
    }
    tree.apply_batch(batch)?;
    db.flush()?;
    File::open(config.path.join("db"))?.sync_data()?;
    Ok(dropped)
}
