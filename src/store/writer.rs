//! The single writer: group commit, pipelined.
//!
//! One thread owns every write. It takes the queued appends (bounded by
//! [`StoreConfig::batch_events_max`] and [`StoreConfig::batch_bytes_max`]), checks
//! idempotency and expected versions, assigns positions and hashes and writes ONE atomic
//! sled batch (the records, the batch's index chunk, the head) and adds the batch to the
//! in-memory index ([`super::index`]). It then hands the batch to the
//! syncer thread, which makes it durable (sled flush, then fdatasync of sled's files),
//! hands its records to the in-memory tail ([`super::tail`]), publishes the new head and
//! only then answers every waiter, while the writer already
//! applies the next batches: CPU work overlaps the disk wait. Batches applied while the
//! syncer is busy are merged and made durable by its next single flush + fdatasync, so
//! the sync rate never limits throughput; at most [`UNSYNCED_APPENDS_MAX`] applied
//! appends wait for it (the writer blocks beyond that). sled charges each `apply_batch` a
//! fixed price, so while the syncer is busy the writer gathers at least
//! [`GATHER_EVENTS`] events before applying; when it is idle, the writer applies at once.
//!
//! Every answer — success, duplicate, version conflict — leaves through the syncer, in
//! batch order, after everything before it is durable: no caller learns of a version or
//! an event that a crash could still take back. Readers never look past the published
//! head, so nobody sees an event before it is durable, and positions become visible
//! strictly in order.
//!
//! If a write or fsync fails, what is on disk is uncertain (fsync errors are not
//! retryable on Linux): the batch and every later append fail with
//! [`AppendError::Unavailable`], and crisisd must be restarted to recover from disk.

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::fs::File;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Instant;

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, oneshot, watch};
use uuid::Uuid;

use super::codec::{self, PreparedEvent, RawRecord};
use super::error::AppendError;
use super::index::{self, SharedIndex};
use super::keys;
use super::log;
use super::replication::{AppendSpan, SharedRole};
use super::tail::Tail;
use super::types::{AppendOutcome, Committed, ExpectedVersion, Head};

/// A validated append on its way to the writer.
pub(crate) struct PreparedAppend {
    pub streams: Vec<PreparedStream>,
    pub bytes: usize,
    /// See [`crate::store::AppendRequest::side`].
    pub side: Vec<u8>,
}

pub(crate) struct PreparedStream {
    pub stream: String,
    pub expected: ExpectedVersion,
    pub events: Vec<PreparedEvent>,
}

impl PreparedAppend {
    fn event_count(&self) -> usize {
        self.streams.iter().map(|s| s.events.len()).sum()
    }

    fn event_ids(&self) -> impl Iterator<Item = Uuid> + '_ {
        self.streams
            .iter()
            .flat_map(|s| s.events.iter().map(|e| e.id))
    }
}

pub(crate) type Reply = oneshot::Sender<Result<AppendOutcome, AppendError>>;

pub(crate) enum WriterMsg {
    Append(PreparedAppend, Reply),
    /// A cluster leader's records, applied as they are, and the side records that
    /// travelled with them, length-prefixed as a side chunk (followers; see
    /// [`super::replication`]).
    Replicated(Vec<Vec<u8>>, Vec<u8>, Reply),
    /// Finish what is queued before this message, then stop.
    Close(oneshot::Sender<()>),
}

pub(crate) struct Writer {
    /// The data directory (named in failures).
    pub dir: PathBuf,
    pub tree: sled::Tree,
    /// Puts records into log keys, holding the partly filled last one.
    pub appender: log::Appender,
    /// Head of what is applied to sled (ahead of the published head by at most the
    /// batches the syncer has not finished).
    pub head: Head,
    pub last_recorded_at: DateTime<Utc>,
    pub batch_events_max: usize,
    pub batch_bytes_max: usize,
    /// Set by whichever thread meets a write or fsync failure; ends all appends.
    pub failure: Failure,
    /// Stream and id index, shared with readers; the writer alone inserts.
    pub index: SharedIndex,
    pub stats: WriterStats,
    /// Moved to its own thread when the writer starts.
    pub syncer: Option<Syncer>,
    /// The sequence number of the last batch of side records written.
    pub side_sequence: u64,
    /// Where [`super::SledStore::replicated_side_records`] reads up to.
    pub replicated_sides: Arc<std::sync::atomic::AtomicU64>,
    /// Single node, cluster leader or follower.
    pub role: SharedRole,
}

/// Makes applied batches durable, publishes the head and answers the waiters.
pub(crate) struct Syncer {
    /// The data directory (named in failures).
    pub dir: PathBuf,
    pub db: sled::Db,
    pub data_file: File,
    pub blobs_dir: PathBuf,
    pub synced_blobs: HashSet<OsString>,
    pub head_tx: watch::Sender<Head>,
    /// Recent records for live subscribers, filled before each head is published.
    pub tail: Arc<Tail>,
    pub failure: Failure,
    pub stats: SyncStats,
    /// A leader's batches go to the replicated log before they are visible.
    pub role: SharedRole,
}

/// Why the store refuses appends, once it does: set once (the first reason stays) and
/// never cleared until crisisd restarts; read with `borrow`, awaited with `subscribe`.
pub(crate) type Failure = Arc<watch::Sender<Option<String>>>;

/// Where the writer's time goes, logged when it stops (tuning aid; later a metric).
#[derive(Debug, Default)]
pub(crate) struct WriterStats {
    pub batches: u64,
    pub events: u64,
    pub plan_us: u64,
    pub apply_us: u64,
    /// Time the writer waited for the syncer to take a batch.
    pub handoff_us: u64,
}

#[derive(Debug, Default)]
pub(crate) struct SyncStats {
    pub syncs: u64,
    pub flush_us: u64,
    pub fsync_us: u64,
}

/// An applied batch on its way to the disk: the head it reaches (if it wrote events)
/// and the answers to give once it is durable.
struct Applied {
    head: Option<Head>,
    /// Something was written (events or side records): answer once it is durable.
    wrote: bool,
    answers: Vec<(Result<AppendOutcome, AppendError>, Reply)>,
    /// The batch's records with their positions, for the in-memory tail once durable.
    records: Vec<(u64, Vec<u8>)>,
    /// Where each append ends in `records` (a replicated batch may be cut there without
    /// splitting an append), and its side record.
    ends: Vec<AppendSpan>,
}

/// While the syncer is busy, the writer waits for this many events before applying
/// (measured: 32–128 are alike; 256 loses the overlap of apply and fsync).
const GATHER_EVENTS: usize = 64;
/// How often the writer looks for more requests while it gathers a batch.
const GATHER_POLL: std::time::Duration = std::time::Duration::from_micros(50);

/// Most applied appends (requests) that wait for the syncer; the writer blocks beyond.
pub(crate) const UNSYNCED_APPENDS_MAX: usize = 4096;

/// Applied batches waiting for the syncer, merged into one piece of work.
#[derive(Default)]
struct Handoff {
    state: Mutex<Waiting>,
    changed: Condvar,
}

#[derive(Default)]
struct Waiting {
    work: Option<Applied>,
    appends: usize,
    /// The writer is done: the syncer drains what waits and stops.
    closed: bool,
    /// The syncer is making a batch durable.
    syncing: bool,
    /// The syncer stopped: nothing waiting will ever be synced.
    syncer_gone: bool,
}

impl Handoff {
    fn lock(&self) -> MutexGuard<'_, Waiting> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Merges `applied` into the waiting work, blocking while the syncer is too far
    /// behind. Gives it back if the syncer is gone.
    fn put(&self, applied: Applied) -> Result<(), Box<Applied>> {
        let mut waiting = self.lock();
        while waiting.appends >= UNSYNCED_APPENDS_MAX && !waiting.syncer_gone {
            waiting = self
                .changed
                .wait(waiting)
                .unwrap_or_else(|e| e.into_inner());
        }
        if waiting.syncer_gone {
            return Err(Box::new(applied));
        }
        waiting.appends += applied.answers.len();
        match &mut waiting.work {
            Some(work) => work.merge(applied),
            None => waiting.work = Some(applied),
        }
        self.changed.notify_all();
        Ok(())
    }

    /// The next work for the syncer; `None` once the writer closed and all is drained.
    fn take(&self) -> Option<Applied> {
        let mut waiting = self.lock();
        waiting.syncing = false;
        loop {
            if let Some(work) = waiting.work.take() {
                waiting.appends = 0;
                waiting.syncing = true;
                self.changed.notify_all();
                return Some(work);
            }
            if waiting.closed {
                return None;
            }
            waiting = self
                .changed
                .wait(waiting)
                .unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Whether a batch applied now would wait for the syncer anyway.
    fn syncer_busy(&self) -> bool {
        let waiting = self.lock();
        (waiting.syncing || waiting.work.is_some()) && !waiting.syncer_gone
    }

    fn set(&self, flag: impl FnOnce(&mut Waiting)) {
        flag(&mut self.lock());
        self.changed.notify_all();
    }
}

/// Marks the syncer gone however its thread ends, so the writer never waits for it.
struct SyncerGone<'a>(&'a Handoff);

impl Drop for SyncerGone<'_> {
    fn drop(&mut self) {
        self.0.set(|w| w.syncer_gone = true);
    }
}

/// Adds `side` (if any) to a side chunk: each side record length-prefixed.
pub(crate) fn push_side(chunk: &mut Vec<u8>, side: &[u8]) {
    if !side.is_empty() {
        chunk.extend_from_slice(&(side.len() as u32).to_be_bytes());
        chunk.extend_from_slice(side);
    }
}

/// What a batch's new events add beside their log keys.
#[derive(Default)]
struct NewEntries {
    /// The batch's index chunk.
    index: Vec<index::Entry>,
    /// Their records, for the in-memory tail once durable.
    records: Vec<(u64, Vec<u8>)>,
    /// Where each append ends in `records`, and its side record.
    ends: Vec<AppendSpan>,
}

/// What one request turned into while planning a batch.
enum Planned {
    New(Vec<Committed>),
    /// Every id was stored already; positions of the originals (resolved after commit).
    Duplicate(Vec<Uuid>),
}

impl Writer {
    /// Runs until every sender is gone or a `Close` arrives; releases sled (and so its
    /// directory lock) before acknowledging the close.
    pub fn run(mut self, rx: mpsc::Receiver<WriterMsg>) {
        let handoff = Arc::new(Handoff::default());
        let syncer = self.syncer.take().expect("a writer runs once");
        let syncer_handoff = handoff.clone();
        let syncer = std::thread::Builder::new()
            .name("crisisd-store-syncer".into())
            .spawn(move || syncer.run(&syncer_handoff));
        let close = match syncer {
            Ok(syncer) => {
                let close = self.run_batches(rx, &handoff);
                handoff.set(|w| w.closed = true);
                let sync_stats = syncer.join().unwrap_or_default();
                let st = &self.stats;
                tracing::info!(
                    batches = st.batches,
                    events = st.events,
                    plan_us = st.plan_us,
                    apply_us = st.apply_us,
                    handoff_us = st.handoff_us,
                    syncs = sync_stats.syncs,
                    flush_us = sync_stats.flush_us,
                    fsync_us = sync_stats.fsync_us,
                    "event store writer stopped"
                );
                close
            }
            Err(err) => {
                tracing::error!(cause = %err, "cannot start the event store syncer thread; appends fail");
                None
            }
        };
        drop(self);
        if let Some(done) = close {
            let _ = done.send(());
        }
    }

    fn run_batches(
        &mut self,
        mut rx: mpsc::Receiver<WriterMsg>,
        handoff: &Handoff,
    ) -> Option<oneshot::Sender<()>> {
        let mut batch: Vec<(PreparedAppend, Reply)> = Vec::new();
        while let Some(first) = rx.blocking_recv() {
            let mut close = None;
            // A leader's records end the batch gathered before them.
            let mut replicated = None;
            match first {
                WriterMsg::Append(req, reply) => batch.push((req, reply)),
                WriterMsg::Replicated(records, side, reply) => {
                    replicated = Some((records, side, reply))
                }
                WriterMsg::Close(done) => close = Some(done),
            }
            let (mut events, mut bytes) = batch
                .first()
                .map_or((0, 0), |(r, _)| (r.event_count(), r.bytes));
            while close.is_none()
                && replicated.is_none()
                && events < self.batch_events_max
                && bytes < self.batch_bytes_max
            {
                match rx.try_recv() {
                    Ok(WriterMsg::Append(req, reply)) => {
                        events += req.event_count();
                        bytes += req.bytes;
                        batch.push((req, reply));
                    }
                    Ok(WriterMsg::Replicated(records, side, reply)) => {
                        replicated = Some((records, side, reply))
                    }
                    Ok(WriterMsg::Close(done)) => close = Some(done),
                    Err(mpsc::error::TryRecvError::Empty) => {
                        // sled charges every apply_batch a fixed price: while the
                        // syncer is busy anyway, gather a batch worth applying.
                        if events >= GATHER_EVENTS || !handoff.syncer_busy() {
                            break;
                        }
                        std::thread::sleep(GATHER_POLL);
                    }
                    Err(mpsc::error::TryRecvError::Disconnected) => break,
                }
            }
            if !batch.is_empty() {
                let applied = self.apply(std::mem::take(&mut batch));
                self.hand_off(applied, handoff);
            }
            if let Some((records, side, reply)) = replicated {
                let applied = self.apply_replicated(records, side, reply);
                self.hand_off(applied, handoff);
            }
            if close.is_some() {
                return close;
            }
        }
        None
    }

    fn hand_off(&mut self, applied: Applied, handoff: &Handoff) {
        let waited = Instant::now();
        if let Err(applied) = handoff.put(applied) {
            let reason = "the event store syncer stopped; restart crisisd";
            set_failure(&self.failure, reason);
            let replies = applied.answers.into_iter().map(|(_, reply)| reply);
            Applied::failed(replies, reason).answer();
        }
        self.stats.handoff_us += waited.elapsed().as_micros() as u64;
    }

    /// Plans and applies one batch to sled (not yet durable) and says what to answer
    /// once it is.
    fn apply(&mut self, mut batch: Vec<(PreparedAppend, Reply)>) -> Applied {
        if let Some(reason) = current_failure(&self.failure) {
            return Applied::failed(batch.into_iter().map(|(_, reply)| reply), &reason);
        }
        // A follower's log is the leader's, but side records of its own (the key
        // store's, finishing an erasure here) change no position: it takes those.
        let mut refused = Vec::new();
        if let Some(reason) = self.role.refuses_appends() {
            let (local, events): (Vec<_>, Vec<_>) = batch
                .into_iter()
                .partition(|(req, _)| req.event_count() == 0);
            batch = local;
            refused = Applied::failed(events.into_iter().map(|(_, reply)| reply), &reason).answers;
        }
        let started = Instant::now();
        let recorded_at = codec::truncate_to_micros(Utc::now()).max(self.last_recorded_at);
        let recorded_at_text = codec::format_timestamp(&recorded_at);
        let mut sled_batch = sled::Batch::default();
        // Versions of the streams this batch touches, ahead of the index.
        let mut versions = HashMap::new();
        let mut entries = NewEntries::default();
        let mut pending: HashMap<Uuid, Committed> = HashMap::new();
        let mut head = self.head;
        let mut planned = Vec::with_capacity(batch.len());
        let mut sides: Vec<u8> = Vec::new();
        for (mut req, reply) in batch {
            let plan = self.plan(&req, &mut versions, &pending);
            let plan = plan.map(|p| match p {
                Planned::Duplicate(ids) => Planned::Duplicate(ids),
                Planned::New(_) => {
                    let side = std::mem::take(&mut req.side);
                    push_side(&mut sides, &side);
                    let committed = self.assign(
                        req,
                        &mut head,
                        &recorded_at_text,
                        &mut versions,
                        &mut sled_batch,
                        &mut entries,
                    );
                    entries.ends.push(AppendSpan {
                        end: entries.records.len(),
                        side,
                    });
                    for c in &committed {
                        pending.insert(c.id, c.clone());
                    }
                    Planned::New(committed)
                }
            });
            planned.push((plan, reply));
        }
        let advanced = head.position != self.head.position;
        let wrote_side = self.put_sides(sides, &mut sled_batch);
        if (advanced || wrote_side)
            && let Err(reason) =
                self.write_batch(sled_batch, head, &entries.index, recorded_at, started)
        {
            return Applied::failed(planned.into_iter().map(|(_, reply)| reply), &reason);
        }
        let answers = planned
            .into_iter()
            .map(|(plan, reply)| {
                let outcome = plan.and_then(|p| match p {
                    Planned::New(events) => Ok(AppendOutcome {
                        events,
                        duplicate: false,
                    }),
                    Planned::Duplicate(ids) => {
                        self.originals(&ids, &pending).map(|events| AppendOutcome {
                            events,
                            duplicate: true,
                        })
                    }
                });
                (outcome, reply)
            })
            .chain(refused)
            .collect();
        Applied {
            head: advanced.then_some(head),
            wrote: advanced || wrote_side,
            answers,
            records: entries.records,
            ends: entries.ends,
        }
    }

    /// Applies a cluster leader's records as they are, after checking that each one
    /// continues this log: its hash covers its content, its position and `prev_hash`
    /// follow the head, its stream version follows the stream's, its id is new and
    /// `recorded_at` does not go back. Anything else is refused whole, nothing written:
    /// this node's log has diverged from the leader's.
    fn apply_replicated(&mut self, records: Vec<Vec<u8>>, side: Vec<u8>, reply: Reply) -> Applied {
        match self.write_replicated(records, side) {
            Ok((head, committed, records)) => Applied {
                head: Some(head),
                wrote: true,
                answers: vec![(
                    Ok(AppendOutcome {
                        events: committed,
                        duplicate: false,
                    }),
                    reply,
                )],
                ends: vec![AppendSpan {
                    end: records.len(),
                    side: Vec::new(),
                }],
                records,
            },
            Err(reason) => {
                let mut refused = Applied::failed(std::iter::empty(), "");
                refused
                    .answers
                    .push((Err(AppendError::Unavailable { reason }), reply));
                refused
            }
        }
    }

    /// Puts a batch's side records (a side chunk) under the next side key; false if
    /// there are none.
    fn put_sides(&mut self, sides: Vec<u8>, sled_batch: &mut sled::Batch) -> bool {
        if sides.is_empty() {
            return false;
        }
        self.side_sequence += 1;
        sled_batch.insert(&keys::side(self.side_sequence), sides);
        true
    }

    /// [`Writer::apply_replicated`]'s checks and write: the new head, what was
    /// committed and the records, or why nothing was written.
    #[allow(clippy::type_complexity)]
    fn write_replicated(
        &mut self,
        records: Vec<Vec<u8>>,
        side: Vec<u8>,
    ) -> Result<(Head, Vec<Committed>, Vec<(u64, Vec<u8>)>), String> {
        if let Some(reason) = current_failure(&self.failure) {
            return Err(reason);
        }
        if !self.role.is_follower() {
            return Err("only a follower applies the cluster's log; this node takes writes".into());
        }
        if records.is_empty() {
            return Err("no records to apply".into());
        }
        let started = Instant::now();
        let mut sled_batch = sled::Batch::default();
        let mut versions = HashMap::new();
        let mut ids = HashSet::new();
        let mut entries = NewEntries::default();
        let mut committed = Vec::with_capacity(records.len());
        let mut head = self.head;
        let mut recorded_at = self.last_recorded_at;
        for record in records {
            let at = head.position + 1;
            let Some(raw) = RawRecord::decode(&record) else {
                return Err(format!(
                    "the leader's record for position {at} is not a record"
                ));
            };
            if !raw.content_matches_hash() {
                return Err(format!(
                    "the leader's record for position {at} does not match its hash"
                ));
            }
            let event = match raw.parse() {
                Ok(event) => event,
                Err(err) => {
                    return Err(format!(
                        "the leader's record for position {at} is not an envelope: {err}"
                    ));
                }
            };
            if event.position != at || raw.prev_hash != head.hash {
                return Err(format!(
                    "the leader's record for position {} does not continue this log at {} ({}): the logs have diverged; rebuild this node from the cluster's log",
                    event.position, head.position, head.hash
                ));
            }
            let version = match self.current_version(&event.stream, &mut versions) {
                Ok(version) => version.unwrap_or(0),
                Err(err) => return Err(err.to_string()),
            };
            if event.stream_version != version + 1 {
                return Err(format!(
                    "the leader's record for position {at} is version {} of {} where {} is next here: the logs have diverged",
                    event.stream_version,
                    event.stream,
                    version + 1
                ));
            }
            if !ids.insert(event.id) || self.index.read().position_of(&event.id).is_some() {
                return Err(format!(
                    "the leader's record for position {at} repeats event id {}",
                    event.id
                ));
            }
            if event.recorded_at < recorded_at {
                return Err(format!(
                    "the leader's record for position {at} is recorded before its predecessor"
                ));
            }
            recorded_at = event.recorded_at;
            versions.insert(event.stream.clone(), Some(event.stream_version));
            entries.index.push(index::Entry {
                id: event.id,
                stream: event.stream.clone(),
                version: event.stream_version,
            });
            head = Head {
                position: at,
                hash: raw.hash,
            };
            committed.push(Committed {
                id: event.id,
                stream: event.stream,
                stream_version: event.stream_version,
                position: at,
                hash: raw.hash,
            });
            entries.records.push((at, record));
        }
        // Only a batch checked whole touches the appender's partly filled key.
        for (_, record) in &entries.records {
            self.appender.push(record, &mut sled_batch);
        }
        let wrote_side = self.put_sides(side, &mut sled_batch);
        self.write_batch(sled_batch, head, &entries.index, recorded_at, started)?;
        if wrote_side {
            self.replicated_sides
                .store(self.side_sequence, std::sync::atomic::Ordering::Release);
        }
        Ok((head, committed, entries.records))
    }

    /// Writes `sled_batch` in one atomic apply — with, when it advances the head to
    /// `head`, the appender's open key, the batch's `index` chunk and the new head — then
    /// indexes it. A failure leaves what is on disk uncertain: the store takes no more
    /// appends, and the reason says so.
    fn write_batch(
        &mut self,
        mut sled_batch: sled::Batch,
        head: Head,
        index: &[index::Entry],
        recorded_at: DateTime<Utc>,
        started: Instant,
    ) -> Result<(), String> {
        let events = head.position - self.head.position;
        if events > 0 {
            self.appender.finish(&mut sled_batch);
            sled_batch.insert(
                &keys::index_chunk(self.head.position + 1),
                index::encode_chunk(index),
            );
            let mut head_value = head.position.to_be_bytes().to_vec();
            head_value.extend_from_slice(&head.hash.0);
            sled_batch.insert(keys::HEAD, head_value);
            self.stats.batches += 1;
            self.stats.events += events;
            crate::metrics::METRICS.batch_events.observe(events as f64);
        }
        let applying = Instant::now();
        self.stats.plan_us += (applying - started).as_micros() as u64;
        let result = self.tree.apply_batch(sled_batch);
        self.stats.apply_us += applying.elapsed().as_micros() as u64;
        if let Err(err) = result {
            let reason = format!(
                "writing the batch ending at position {} to the event store in {} failed: {err}; {RECOVER}",
                head.position,
                self.dir.display()
            );
            tracing::error!(cause = %err, position = head.position, dir = %self.dir.display(), "event store write failed; refusing further appends");
            set_failure(&self.failure, &reason);
            return Err(reason);
        }
        if events > 0 {
            if let Err(reason) = self.index.write().insert(self.head.position + 1, index) {
                let reason = format!(
                    "the index refused batch ending at {}: {reason}; restart crisisd",
                    head.position
                );
                tracing::error!(%reason, "event store index inconsistent; refusing further appends");
                set_failure(&self.failure, &reason);
                return Err(reason);
            }
            self.head = head;
            self.last_recorded_at = recorded_at;
        }
        Ok(())
    }

    /// Checks idempotency and expected versions without changing anything.
    fn plan(
        &self,
        req: &PreparedAppend,
        versions: &mut HashMap<String, Option<u64>>,
        pending: &HashMap<Uuid, Committed>,
    ) -> Result<Planned, AppendError> {
        let mut stored = None;
        let mut new = None;
        let index = self.index.read();
        for id in req.event_ids() {
            let known = pending.contains_key(&id) || index.position_of(&id).is_some();
            if known {
                stored.get_or_insert(id)
            } else {
                new.get_or_insert(id)
            };
        }
        drop(index);
        match (stored, new) {
            (Some(stored), Some(new)) => return Err(AppendError::PartiallyStored { stored, new }),
            (Some(_), None) => return Ok(Planned::Duplicate(req.event_ids().collect())),
            _ => {}
        }
        for s in &req.streams {
            let actual = self.current_version(&s.stream, versions)?;
            let ok = match s.expected {
                ExpectedVersion::Any => true,
                ExpectedVersion::NoStream => actual.is_none(),
                ExpectedVersion::Exact(v) => actual == Some(v),
            };
            if !ok {
                return Err(AppendError::WrongExpectedVersion {
                    stream: s.stream.clone(),
                    expected: s.expected,
                    actual,
                });
            }
        }
        Ok(Planned::New(Vec::new()))
    }

    fn current_version(
        &self,
        stream: &str,
        versions: &mut HashMap<String, Option<u64>>,
    ) -> Result<Option<u64>, AppendError> {
        if let Some(v) = versions.get(stream) {
            return Ok(*v);
        }
        let version = self.index.read().version(stream);
        versions.insert(stream.to_owned(), version);
        Ok(version)
    }

    /// Assigns versions, positions and hashes, and adds the keys to the batch.
    fn assign(
        &mut self,
        req: PreparedAppend,
        head: &mut Head,
        recorded_at: &str,
        versions: &mut HashMap<String, Option<u64>>,
        sled_batch: &mut sled::Batch,
        entries: &mut NewEntries,
    ) -> Vec<Committed> {
        let mut committed = Vec::with_capacity(req.event_count());
        for s in req.streams {
            let mut version = versions.get(&s.stream).copied().flatten().unwrap_or(0);
            for event in s.events {
                version += 1;
                let position = head.position + 1;
                let (record, hash) = event.record(&head.hash, version, position, recorded_at);
                self.appender.push(&record, sled_batch);
                entries.records.push((position, record));
                entries.index.push(index::Entry {
                    id: event.id,
                    stream: s.stream.clone(),
                    version,
                });
                *head = Head { position, hash };
                committed.push(Committed {
                    id: event.id,
                    stream: s.stream.clone(),
                    stream_version: version,
                    position,
                    hash,
                });
            }
            versions.insert(s.stream, Some(version));
        }
        committed
    }

    /// The original records of a duplicate request, from this batch or from disk.
    fn originals(
        &self,
        ids: &[Uuid],
        pending: &HashMap<Uuid, Committed>,
    ) -> Result<Vec<Committed>, AppendError> {
        ids.iter()
            .map(|id| {
                if let Some(c) = pending.get(id) {
                    return Ok(c.clone());
                }
                let position = self.index.read().position_of(id);
                let record = position.map(|p| log::get(&self.tree, p)).transpose().map_err(unavailable)?.flatten();
                let event = record
                    .as_deref()
                    .and_then(RawRecord::decode)
                    .and_then(|raw| raw.parse().ok())
                    .unwrap_or_else(|| panic!("id index names position {position:?} for event {id} but its record is unreadable"));
                Ok(Committed { id: *id, stream: event.stream, stream_version: event.stream_version, position: event.position, hash: event.hash })
            })
            .collect()
    }
}

impl Applied {
    fn failed(replies: impl Iterator<Item = Reply>, reason: &str) -> Applied {
        let answers = replies
            .map(|reply| {
                let err = AppendError::Unavailable {
                    reason: reason.to_owned(),
                };
                (Err(err), reply)
            })
            .collect();
        Applied {
            head: None,
            wrote: false,
            answers,
            records: Vec::new(),
            ends: Vec::new(),
        }
    }

    /// Appends a later batch: its answers follow, its head (if any) supersedes.
    fn merge(&mut self, later: Applied) {
        self.answers.extend(later.answers);
        let offset = self.records.len();
        self.ends
            .extend(later.ends.into_iter().map(|span| AppendSpan {
                end: span.end + offset,
                side: span.side,
            }));
        self.records.extend(later.records);
        self.head = later.head.or(self.head);
        self.wrote |= later.wrote;
    }

    fn answer(self) {
        for (outcome, reply) in self.answers {
            let _ = reply.send(outcome);
        }
    }
}

impl Syncer {
    fn run(mut self, handoff: &Handoff) -> SyncStats {
        let _gone = SyncerGone(handoff);
        while let Some(mut applied) = handoff.take() {
            // Checked even for batches that wrote nothing: their answers (duplicates,
            // conflicts) may name events of an earlier batch whose sync failed.
            if let Some(reason) = current_failure(&self.failure) {
                let replies = applied.answers.into_iter().map(|(_, reply)| reply);
                Applied::failed(replies, &reason).answer();
                continue;
            }
            if !applied.wrote {
                applied.answer();
                continue;
            }
            // A leader fsyncs its sled and waits for the cluster's log at the same time:
            // the append waits for the slower of the two, not their sum. The log is the
            // source of truth, so a batch it took whose local fsync then failed is not
            // lost: this node refuses appends, restarts and follows (see
            // `super::replication`); the batch's callers are told it failed, and a retry
            // with the same idempotency key finds it.
            let (durable, replicated) = if self.role.is_leader() {
                let role = self.role.clone();
                let (records, ends) = (&applied.records, &applied.ends);
                std::thread::scope(|scope| {
                    let replicating = std::thread::Builder::new()
                        .name("crisisd-store-replicate".into())
                        .spawn_scoped(scope, move || role.replicate(records, ends));
                    let durable = self.make_durable();
                    let replicated = match replicating {
                        Ok(thread) => thread.join().unwrap_or_else(|_| {
                            Err("sending the batch to the cluster's log panicked; restart this node".to_owned())
                        }),
                        Err(err) => Err(format!(
                            "cannot start a thread to send the batch to the cluster's log: {err}; restart this node"
                        )),
                    };
                    (durable, replicated)
                })
            } else {
                (self.make_durable(), Ok(()))
            };
            if let Err((step, err)) = durable {
                let at = applied.head.map_or(0, |h| h.position);
                let dir = self.dir.display();
                let reason = format!(
                    "{step} the batch ending at position {at} in the event store in {dir} failed: {err}; {RECOVER}"
                );
                match step {
                    DurableStep::Writing => {
                        tracing::error!(cause = %err, position = at, %dir, "event store write failed; refusing further appends")
                    }
                    DurableStep::Syncing => {
                        tracing::error!(cause = %err, position = at, %dir, "event store fsync failed; refusing further appends")
                    }
                }
                set_failure(&self.failure, &reason);
                let replies = applied.answers.into_iter().map(|(_, reply)| reply);
                Applied::failed(replies, &reason).answer();
                continue;
            }
            // A leader's batch is visible and acknowledged only once the cluster's
            // log holds it; what it refuses stays invisible, and no append after it
            // is taken (see `super::replication`).
            if let Err(reason) = replicated {
                let at = applied.head.map_or(0, |h| h.position);
                tracing::error!(%reason, position = at, "the cluster's log did not take a batch; refusing further appends");
                set_failure(&self.failure, &reason);
                let replies = applied.answers.into_iter().map(|(_, reply)| reply);
                Applied::failed(replies, &reason).answer();
                continue;
            }
            if let Some(head) = applied.head {
                // The tail first: a subscriber that sees the new head finds its records there.
                self.tail.extend(std::mem::take(&mut applied.records));
                self.head_tx.send_replace(head);
            }
            applied.answer();
        }
        self.stats
    }

    /// sled's flush (write + sync_file_range), then fdatasync of its files: everything
    /// applied so far is on disk.
    /// Writes sled's buffers, then syncs them: which step failed, and why.
    fn make_durable(&mut self) -> Result<(), (DurableStep, std::io::Error)> {
        let t0 = Instant::now();
        self.db
            .flush()
            .map_err(|err| (DurableStep::Writing, std::io::Error::other(err)))?;
        let t1 = Instant::now();
        let syncing = |err| (DurableStep::Syncing, err);
        self.data_file.sync_data().map_err(syncing)?;
        self.sync_new_blobs().map_err(syncing)?;
        self.stats.syncs += 1;
        crate::metrics::METRICS
            .commit_seconds
            .observe_duration(t0.elapsed());
        self.stats.flush_us += (t1 - t0).as_micros() as u64;
        self.stats.fsync_us += t1.elapsed().as_micros() as u64;
        Ok(())
    }

    /// sled writes pages over a quarter segment (2 MiB) as separate blob files and
    /// never fsyncs them; a log key holds up to eight events of up to 64 KiB, and a
    /// leaf of such keys can pass that size.
    fn sync_new_blobs(&mut self) -> std::io::Result<()> {
        let mut synced_any = false;
        let mut present = HashSet::new();
        for entry in std::fs::read_dir(&self.blobs_dir)? {
            let name = entry?.file_name();
            if !self.synced_blobs.contains(&name) {
                File::open(self.blobs_dir.join(&name))?.sync_data()?;
                synced_any = true;
            }
            present.insert(name);
        }
        if synced_any {
            File::open(&self.blobs_dir)?.sync_all()?;
        }
        self.synced_blobs = present;
        Ok(())
    }
}

/// What an operator does after a write or fsync failure (docs/store.md says more).
const RECOVER: &str = "nothing acknowledged is lost; appends are refused until crisisd restarts: free space on a full disk (or replace a failing one), restart crisisd, then run `crisisd verify`";

/// The step of [`Syncer::make_durable`] that failed.
#[derive(Debug, Clone, Copy)]
enum DurableStep {
    /// sled writing its buffers to its files (a full disk fails here).
    Writing,
    /// fsync of what was written.
    Syncing,
}

impl std::fmt::Display for DurableStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DurableStep::Writing => "writing",
            DurableStep::Syncing => "fsyncing",
        })
    }
}

fn current_failure(failure: &Failure) -> Option<String> {
    failure.borrow().clone()
}

fn set_failure(failure: &Failure, reason: &str) {
    failure.send_if_modified(|current| {
        let first = current.is_none();
        if first {
            *current = Some(reason.to_owned());
        }
        first
    });
}

fn unavailable(err: sled::Error) -> AppendError {
    AppendError::Unavailable {
        reason: format!("reading the store failed: {err}; restart crisisd"),
    }
}
