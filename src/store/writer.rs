//! The single writer: group commit.
//!
//! One thread owns every write. It takes the queued appends (bounded by
//! [`StoreConfig::batch_events_max`] and [`StoreConfig::batch_bytes_max`]), checks
//! idempotency and expected versions, assigns positions and hashes, writes ONE atomic
//! sled batch (log, stream index, id index, head), makes it durable once (sled flush,
//! then fdatasync of sled's files), publishes the new head and only then acks every
//! waiter. Readers never look past the published head, so nobody sees an event before
//! it is durable, and positions become visible strictly in order.
//!
//! If a write or fsync fails, what is on disk is uncertain (fsync errors are not
//! retryable on Linux): the writer fails the batch and every later append with
//! [`AppendError::Unavailable`], and crisisd must be restarted to recover from disk.

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::fs::File;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, oneshot, watch};
use uuid::Uuid;

use super::codec::{self, PreparedEvent, RawRecord};
use super::error::AppendError;
use super::keys;
use super::types::{AppendOutcome, Committed, ExpectedVersion, Head};

/// A validated append on its way to the writer.
pub(crate) struct PreparedAppend {
    pub streams: Vec<PreparedStream>,
    pub bytes: usize,
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

/// Streams whose version the writer remembers between batches; the cache is dropped
/// whole when it grows past this (a miss costs one index read).
const STREAM_VERSION_CACHE_MAX: usize = 100_000;

pub(crate) type Reply = oneshot::Sender<Result<AppendOutcome, AppendError>>;

pub(crate) enum WriterMsg {
    Append(PreparedAppend, Reply),
    /// Finish what is queued before this message, then stop.
    Close(oneshot::Sender<()>),
}

pub(crate) struct Writer {
    pub tree: sled::Tree,
    pub db: sled::Db,
    pub data_file: File,
    pub blobs_dir: PathBuf,
    pub synced_blobs: HashSet<OsString>,
    pub head: Head,
    pub last_recorded_at: DateTime<Utc>,
    pub head_tx: watch::Sender<Head>,
    pub batch_events_max: usize,
    pub batch_bytes_max: usize,
    pub failure: Option<String>,
    /// Current version of recently written streams (`None`: the stream does not exist).
    pub stream_versions: HashMap<String, Option<u64>>,
    pub stats: WriterStats,
}

/// Where the writer's time goes, logged when it stops (tuning aid; later a metric).
#[derive(Debug, Default)]
pub(crate) struct WriterStats {
    pub batches: u64,
    pub events: u64,
    pub plan_us: u64,
    pub apply_us: u64,
    pub flush_us: u64,
    pub fsync_us: u64,
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
        let close = self.run_batches(rx);
        let st = &self.stats;
        tracing::info!(
            batches = st.batches,
            events = st.events,
            plan_us = st.plan_us,
            apply_us = st.apply_us,
            flush_us = st.flush_us,
            fsync_us = st.fsync_us,
            "event store writer stopped"
        );
        drop(self);
        if let Some(done) = close {
            let _ = done.send(());
        }
    }

    fn run_batches(&mut self, mut rx: mpsc::Receiver<WriterMsg>) -> Option<oneshot::Sender<()>> {
        let mut batch: Vec<(PreparedAppend, Reply)> = Vec::new();
        while let Some(first) = rx.blocking_recv() {
            let mut close = None;
            match first {
                WriterMsg::Append(req, reply) => batch.push((req, reply)),
                WriterMsg::Close(done) => close = Some(done),
            }
            let (mut events, mut bytes) = batch
                .first()
                .map_or((0, 0), |(r, _)| (r.event_count(), r.bytes));
            while close.is_none() && events < self.batch_events_max && bytes < self.batch_bytes_max
            {
                match rx.try_recv() {
                    Ok(WriterMsg::Append(req, reply)) => {
                        events += req.event_count();
                        bytes += req.bytes;
                        batch.push((req, reply));
                    }
                    Ok(WriterMsg::Close(done)) => close = Some(done),
                    Err(_) => break,
                }
            }
            if !batch.is_empty() {
                self.commit(std::mem::take(&mut batch));
            }
            if close.is_some() {
                return close;
            }
        }
        None
    }

    fn commit(&mut self, batch: Vec<(PreparedAppend, Reply)>) {
        if let Some(reason) = &self.failure {
            for (_, reply) in batch {
                let _ = reply.send(Err(AppendError::Unavailable {
                    reason: reason.clone(),
                }));
            }
            return;
        }
        let started = std::time::Instant::now();
        let recorded_at = codec::truncate_to_micros(Utc::now()).max(self.last_recorded_at);
        let mut sled_batch = sled::Batch::default();
        // The writer is the only one who appends, so cached versions stay exact.
        let mut versions = std::mem::take(&mut self.stream_versions);
        if versions.len() > STREAM_VERSION_CACHE_MAX {
            versions.clear();
        }
        let mut pending: HashMap<Uuid, Committed> = HashMap::new();
        let mut head = self.head;
        let mut planned = Vec::with_capacity(batch.len());
        for (req, reply) in batch {
            let plan = self.plan(&req, &mut versions, &pending);
            let plan = plan.map(|p| match p {
                Planned::Duplicate(ids) => Planned::Duplicate(ids),
                Planned::New(_) => {
                    let committed =
                        self.assign(req, &mut head, &recorded_at, &mut versions, &mut sled_batch);
                    for c in &committed {
                        pending.insert(c.id, c.clone());
                    }
                    Planned::New(committed)
                }
            });
            planned.push((plan, reply));
        }
        if head.position != self.head.position {
            let mut head_value = head.position.to_be_bytes().to_vec();
            head_value.extend_from_slice(&head.hash.0);
            sled_batch.insert(keys::HEAD, head_value);
            self.stats.batches += 1;
            self.stats.events += head.position - self.head.position;
            self.stats.plan_us += started.elapsed().as_micros() as u64;
            if let Err(err) = self.write_durably(sled_batch) {
                let reason = format!(
                    "writing batch ending at position {} failed: {err}; restart crisisd to recover from disk",
                    head.position
                );
                tracing::error!(cause = %err, position = head.position, "event store write failed; refusing further appends");
                self.failure = Some(reason.clone());
                for (_, reply) in planned {
                    let _ = reply.send(Err(AppendError::Unavailable {
                        reason: reason.clone(),
                    }));
                }
                return;
            }
            self.head = head;
            self.last_recorded_at = recorded_at;
            self.head_tx.send_replace(head);
        }
        self.stream_versions = versions;
        for (plan, reply) in planned {
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
            let _ = reply.send(outcome);
        }
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
        for id in req.event_ids() {
            let known = pending.contains_key(&id)
                || self.tree.contains_key(keys::id(&id)).map_err(unavailable)?;
            if known {
                stored.get_or_insert(id)
            } else {
                new.get_or_insert(id)
            };
        }
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
        let last = self
            .tree
            .scan_prefix(keys::stream_prefix(stream))
            .next_back()
            .transpose()
            .map_err(unavailable)?;
        let version = last.map(|(key, _)| keys::version_of_stream_key(&key));
        versions.insert(stream.to_owned(), version);
        Ok(version)
    }

    /// Assigns versions, positions and hashes, and adds the keys to the batch.
    fn assign(
        &self,
        req: PreparedAppend,
        head: &mut Head,
        recorded_at: &DateTime<Utc>,
        versions: &mut HashMap<String, Option<u64>>,
        sled_batch: &mut sled::Batch,
    ) -> Vec<Committed> {
        let mut committed = Vec::with_capacity(req.event_count());
        for s in req.streams {
            let mut version = versions.get(&s.stream).copied().flatten().unwrap_or(0);
            for event in s.events {
                version += 1;
                let position = head.position + 1;
                let canonical = event.canonical(version, position, recorded_at);
                let hash = codec::chain_hash(&head.hash, &canonical);
                sled_batch.insert(
                    &keys::log(position),
                    codec::encode_record(&head.hash, &hash, &canonical),
                );
                sled_batch.insert(
                    keys::stream_version(&s.stream, version),
                    &position.to_be_bytes(),
                );
                sled_batch.insert(&keys::id(&event.id), &position.to_be_bytes());
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
                let position = self.tree.get(keys::id(id)).map_err(unavailable)?.map(|v| keys::u64_value(&v));
                let record = position.map(|p| self.tree.get(keys::log(p))).transpose().map_err(unavailable)?.flatten();
                let event = record
                    .as_deref()
                    .and_then(RawRecord::decode)
                    .and_then(|raw| raw.parse().ok())
                    .unwrap_or_else(|| panic!("id index names position {position:?} for event {id} but its record is unreadable"));
                Ok(Committed { id: *id, stream: event.stream, stream_version: event.stream_version, position: event.position, hash: event.hash })
            })
            .collect()
    }

    /// One atomic batch, then sled's flush (write + sync_file_range), then fdatasync.
    fn write_durably(&mut self, sled_batch: sled::Batch) -> std::io::Result<()> {
        let t0 = std::time::Instant::now();
        self.tree
            .apply_batch(sled_batch)
            .map_err(std::io::Error::other)?;
        let t1 = std::time::Instant::now();
        self.db.flush().map_err(std::io::Error::other)?;
        let t2 = std::time::Instant::now();
        self.data_file.sync_data()?;
        self.sync_new_blobs()?;
        let t3 = std::time::Instant::now();
        self.stats.apply_us += (t1 - t0).as_micros() as u64;
        self.stats.flush_us += (t2 - t1).as_micros() as u64;
        self.stats.fsync_us += (t3 - t2).as_micros() as u64;
        Ok(())
    }

    /// sled writes pages over a quarter segment as separate blob files and never
    /// fsyncs them. Events are capped well below that size, but a sync here keeps the
    /// guarantee true even if a page ever ends up there.
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

fn unavailable(err: sled::Error) -> AppendError {
    AppendError::Unavailable {
        reason: format!("reading the store failed: {err}; restart crisisd"),
    }
}
