//! The projector runtime.
//!
//! Each projection owns one sled tree (`model/<name>`). The runtime feeds it committed
//! events in position order through a [`ModelTx`]: reads see the transaction's own
//! writes, and the writes of up to [`APPLY_BATCH_EVENTS_MAX`] events are applied as ONE
//! atomic sled batch together with the checkpoint (the last applied position). After any
//! crash the model and its checkpoint therefore agree, and the projector resumes with
//! exactly-once effect.
//!
//! A projection that meets an event it cannot apply stops with an error naming the
//! position and the type; its status says so (the service reports it unhealthy). It
//! never skips an event.

use std::any::Any;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use futures_util::FutureExt;
use tokio::sync::watch;

use super::model::ModelError;
use crate::store::{RecordedEvent, SledStore, StoreError, SubscriptionFilter};

/// Most events applied in one atomic model batch while following the log live.
pub const APPLY_BATCH_EVENTS_MAX: usize = 1_000;
/// Most events applied in one atomic model batch by a rebuild: larger batches let a
/// document rewritten by many events (an incident's summary) be written once.
pub const REBUILD_BATCH_EVENTS_MAX: usize = 8_192;
/// The checkpoint key inside a model's tree (no model key starts with 0xff).
const CHECKPOINT_KEY: &[u8] = b"\xffcheckpoint";
/// The format version of what a model's tree holds (absent: version 1).
const VERSION_KEY: &[u8] = b"\xffversion";

/// Why a projection stopped.
#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    /// The projection cannot apply this event: a bug or a newer event schema. Fix and
    /// `crisisd rebuild <projection>`.
    #[error("projection {projection} cannot apply {event_type} at position {position}: {reason}")]
    CannotApply {
        projection: String,
        position: u64,
        event_type: String,
        reason: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A read model built from the log.
pub trait Projection: Send + 'static {
    /// Stable name: the tree is `model/<name>`, the rebuild command takes it.
    fn name(&self) -> &'static str;
    /// Applies one event; an `Err` reason stops the projection at this event.
    fn apply(&mut self, event: &RecordedEvent, tx: &mut ModelTx<'_>) -> Result<(), ModelError>;
    /// The format of what the model stores. Raise it when a change makes stored values
    /// unreadable or incomplete (a new key, a new decision kind): a model stored under
    /// another version is dropped and rebuilt from position 1 when its projector starts.
    fn version(&self) -> u32 {
        1
    }
}

impl Projection for Box<dyn Projection> {
    fn name(&self) -> &'static str {
        (**self).name()
    }
    fn version(&self) -> u32 {
        (**self).version()
    }
    fn apply(&mut self, event: &RecordedEvent, tx: &mut ModelTx<'_>) -> Result<(), ModelError> {
        (**self).apply(event, tx)
    }
}

/// The model writes of one batch, readable before they are committed.
///
/// Values written with [`ModelTx::insert_json`] stay typed objects until the commit:
/// a model that reads and rewrites the same document for many events of a batch (an
/// incident's summary) pays for one JSON encoding per batch, not one parse and one
/// encoding per event.
pub struct ModelTx<'a> {
    tree: &'a sled::Tree,
    pending: BTreeMap<Vec<u8>, Pending>,
}

/// A write waiting for the commit.
enum Pending {
    Bytes(Option<Vec<u8>>),
    Object {
        value: Box<dyn Any>,
        encode: fn(&dyn Any) -> Vec<u8>,
    },
}

fn encode<T: serde::Serialize + 'static>(value: &dyn Any) -> Vec<u8> {
    let value = value
        .downcast_ref::<T>()
        .expect("a pending object is encoded with its own type's encoder");
    serde_json::to_vec(value).expect("model values serialize")
}

impl Pending {
    fn bytes(&self) -> Option<Vec<u8>> {
        match self {
            Pending::Bytes(bytes) => bytes.clone(),
            Pending::Object { value, encode } => Some(encode(value.as_ref())),
        }
    }
}

impl<'a> ModelTx<'a> {
    fn new(tree: &'a sled::Tree) -> Self {
        ModelTx {
            tree,
            pending: BTreeMap::new(),
        }
    }

    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, ModelError> {
        match self.pending.get(key) {
            Some(value) => Ok(value.bytes()),
            None => Ok(self.tree.get(key)?.map(|v| v.to_vec())),
        }
    }

    pub fn insert(&mut self, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        let key = key.into();
        assert!(
            key.first() != Some(&0xff),
            "model keys must not start with 0xff (reserved)"
        );
        self.pending.insert(key, Pending::Bytes(Some(value.into())));
    }

    pub fn remove(&mut self, key: impl Into<Vec<u8>>) {
        self.pending.insert(key.into(), Pending::Bytes(None));
    }

    /// A JSON value stored under `key` (a copy of the pending object if this batch
    /// wrote one of the same type).
    pub fn get_json<T: serde::de::DeserializeOwned + Clone + 'static>(
        &self,
        key: &[u8],
    ) -> Result<Option<T>, ModelError> {
        if let Some(Pending::Object { value, .. }) = self.pending.get(key)
            && let Some(value) = value.downcast_ref::<T>()
        {
            return Ok(Some(value.clone()));
        }
        match self.get(key)? {
            Some(bytes) => Ok(Some(serde_json::from_slice(&bytes)?)),
            None => Ok(None),
        }
    }

    /// Stores `value` as JSON under `key` (encoded at the commit).
    pub fn insert_json<T: serde::Serialize + Clone + 'static>(
        &mut self,
        key: impl Into<Vec<u8>>,
        value: &T,
    ) {
        let key = key.into();
        assert!(
            key.first() != Some(&0xff),
            "model keys must not start with 0xff (reserved)"
        );
        let pending = Pending::Object {
            value: Box::new(value.clone()),
            encode: encode::<T>,
        };
        self.pending.insert(key, pending);
    }

    /// Writes the batch with its checkpoint; the number of keys written (sled inserts
    /// and removals, the checkpoint included).
    fn commit(self, checkpoint: u64) -> Result<u64, StoreError> {
        let written = self.pending.len() as u64 + 1;
        let mut batch = sled::Batch::default();
        for (key, value) in self.pending {
            match value.bytes() {
                Some(value) => batch.insert(key, value),
                None => batch.remove(key),
            }
        }
        batch.insert(CHECKPOINT_KEY, &checkpoint.to_be_bytes());
        self.tree.apply_batch(batch)?;
        Ok(written)
    }
}

/// A projection applied to a temporary tree, apart from the store: what-if replays run
/// the very decisions `serve` runs, under another policy, and write nothing to the
/// data directory. The tree is gone once this is dropped.
pub struct Scratch<P: Projection> {
    projection: P,
    _db: sled::Db,
    tree: sled::Tree,
}

impl<P: Projection> Scratch<P> {
    pub fn new(projection: P) -> Result<Self, StoreError> {
        let db = sled::Config::new().temporary(true).open()?;
        let tree = db.open_tree(projection.name())?;
        Ok(Scratch {
            projection,
            _db: db,
            tree,
        })
    }

    /// Applies `events` (in log order, after those applied before) in one transaction.
    pub fn apply<'e>(
        &mut self,
        events: impl IntoIterator<Item = &'e RecordedEvent>,
    ) -> Result<(), ProjectionError> {
        let mut tx = ModelTx::new(&self.tree);
        let mut last = 0;
        for event in events {
            apply_one(&mut self.projection, event, &mut tx)?;
            last = event.position;
        }
        tx.commit(last)?;
        Ok(())
    }

    /// The model as far as it was applied.
    pub fn model(&self) -> super::ReadModel {
        super::ReadModel::from_tree(self.tree.clone())
    }
}

/// Applies `events` to `projection`'s tree in `store` in one transaction, as its
/// projector would: tests give events recorded when they choose (the store records
/// every append now).
#[cfg(test)]
pub(crate) fn apply_recorded(
    store: &SledStore,
    projection: &mut dyn Projection,
    events: &[RecordedEvent],
) -> super::ReadModel {
    let tree = store.model_tree(projection.name()).expect("model tree");
    let mut tx = ModelTx::new(&tree);
    for event in events {
        projection.apply(event, &mut tx).expect("applies");
    }
    tx.commit(events.last().map_or(0, |e| e.position))
        .expect("commits");
    super::ReadModel::open(store, projection.name()).expect("model tree")
}

/// Where a projector is, for health checks and metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct ProjectionStatus {
    pub name: String,
    /// Last position applied.
    pub position: u64,
    /// Set when the projector stopped on an event it cannot apply.
    pub failed: Option<String>,
    /// Batches committed since the projector started.
    pub batches: u64,
    /// Keys written to the model's tree since the projector started (each a sled insert
    /// or removal, checkpoints included): what the model costs the store.
    pub keys_written: u64,
}

/// How far a projection is behind the log: what health checks and metrics show.
#[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct ProjectionLag {
    pub name: String,
    /// Last position applied.
    pub position: u64,
    /// The log's head when measured.
    pub head: u64,
    /// Events committed but not yet applied.
    pub lag_events: u64,
    /// Age of the oldest event not yet applied (0 when caught up).
    pub lag_seconds: f64,
    /// Set when the projection stopped on an event it cannot apply.
    pub failed: Option<String>,
}

impl ProjectionStatus {
    /// This projection's lag behind `store`'s head at `now`.
    pub fn lag(
        &self,
        store: &SledStore,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<ProjectionLag, StoreError> {
        let head = store.head().position;
        let lag_seconds = match store.read_all(self.position + 1, 1)?.first() {
            Some(oldest) if self.position < head => {
                (now - oldest.recorded_at)
                    .num_microseconds()
                    .unwrap_or(i64::MAX) as f64
                    / 1e6
            }
            _ => 0.0,
        };
        Ok(ProjectionLag {
            name: self.name.clone(),
            position: self.position,
            head,
            lag_events: head.saturating_sub(self.position),
            lag_seconds: lag_seconds.max(0.0),
            failed: self.failed.clone(),
        })
    }
}

/// Runs one projection as its own task.
pub struct Projector<P: Projection> {
    store: SledStore,
    projection: P,
    tree: sled::Tree,
    status: Arc<Mutex<ProjectionStatus>>,
    /// Held while running, and by a batch being applied ([`SledStore::model_writer`]).
    writer: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl<P: Projection> Projector<P> {
    pub fn new(store: SledStore, projection: P) -> Result<Self, StoreError> {
        let tree = open_model(&store, &projection)?;
        let position = checkpoint(&tree)?;
        let status = Arc::new(Mutex::new(ProjectionStatus {
            name: projection.name().to_owned(),
            position,
            ..Default::default()
        }));
        Ok(Projector {
            store,
            projection,
            tree,
            status,
            writer: None,
        })
    }

    /// Shared status, updated after every batch.
    pub fn status(&self) -> Arc<Mutex<ProjectionStatus>> {
        self.status.clone()
    }

    /// Catches up from the checkpoint, then follows live until `shutdown` turns true
    /// (Ok), the store closes (Ok) or an event cannot be applied (Err).
    ///
    /// Each batch is applied on tokio's blocking pool, not on a runtime worker: a model's
    /// commit waits on sled's process-wide batch lock and on its IO, and a worker stuck
    /// there stalls every task scheduled on it (the NATS edges, HTTP). Measured with
    /// `bench pipeline --projections` (2026-12-07): 1.2-1.3 x the drained rate, and a
    /// fifth less CPU per message, than applying on the worker.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) -> Result<(), ProjectionError> {
        self.writer = Some(self.store.model_writer(self.projection.name()).await);
        // A batch of a projector dropped before this one may have moved the checkpoint.
        let from = checkpoint(&self.tree)? + 1;
        self.status.lock().expect("status lock").position = from - 1;
        let mut subscription = self.store.subscribe(from, SubscriptionFilter::default());
        loop {
            let first = tokio::select! {
                next = subscription.next() => next,
                _ = shutdown.changed() => return Ok(()),
            };
            let Some(first) = first else { return Ok(()) };
            let mut batch = vec![first?];
            while batch.len() < APPLY_BATCH_EVENTS_MAX {
                // Only what is ready now (no timer: `next` is cancel-safe). Outside tokio's
                // budget, which `next` spends: the batch is bounded here, not after 128.
                match tokio::task::unconstrained(subscription.next()).now_or_never() {
                    Some(Some(event)) => batch.push(event?),
                    _ => break,
                }
            }
            // Dropping this future while the batch is applied lets the batch finish: it
            // owns the projector, and with it the model's writer.
            let applying = tokio::task::spawn_blocking(move || {
                let applied = self.apply_batch(&batch);
                (self, applied)
            });
            let applied;
            (self, applied) = match applying.await {
                Ok(done) => done,
                Err(err) if err.is_panic() => std::panic::resume_unwind(err.into_panic()),
                // The runtime shuts down: the batch was never started.
                Err(_) => return Ok(()),
            };
            if let Err(err) = applied {
                tracing::error!(projection = self.projection.name(), cause = %err, "projection stopped");
                self.status.lock().expect("status lock").failed = Some(err.to_string());
                return Err(err);
            }
        }
    }

    fn apply_batch(&mut self, events: &[Arc<RecordedEvent>]) -> Result<(), ProjectionError> {
        let mut tx = ModelTx::new(&self.tree);
        for event in events {
            apply_one(&mut self.projection, event, &mut tx)?;
        }
        let last = events.last().expect("batches are not empty").position;
        let written = tx.commit(last)?;
        let mut status = self.status.lock().expect("status lock");
        status.position = last;
        status.batches += 1;
        status.keys_written += written;
        Ok(())
    }
}

/// Applies `event` to `projection` in `tx`, or says which model could not and why.
fn apply_one<P: Projection + ?Sized>(
    projection: &mut P,
    event: &RecordedEvent,
    tx: &mut ModelTx<'_>,
) -> Result<(), ProjectionError> {
    projection
        .apply(event, tx)
        .map_err(|err| ProjectionError::CannotApply {
            projection: projection.name().to_owned(),
            position: event.position,
            event_type: event.event_type.clone(),
            reason: err.to_string(),
        })
}

/// A model's tree, emptied first when it was stored under another format version (so
/// the projector rebuilds it from position 1), and marked with this one.
fn open_model(store: &SledStore, projection: &dyn Projection) -> Result<sled::Tree, StoreError> {
    let name = projection.name();
    let tree = store.model_tree(name)?;
    let stored = match tree.get(VERSION_KEY)? {
        Some(v) => u32::from_be_bytes(v.as_ref().try_into().unwrap_or([0; 4])),
        None => 1,
    };
    let tree = if stored != projection.version() && !tree.is_empty() {
        tracing::info!(
            projection = name,
            stored_version = stored,
            version = projection.version(),
            "the read model was stored in another format: rebuilding it from position 1"
        );
        store.drop_model_tree(name)?;
        store.model_tree(name)?
    } else {
        tree
    };
    tree.insert(VERSION_KEY, &projection.version().to_be_bytes())?;
    Ok(tree)
}

/// The last position the model in `tree` has applied (0 for a new model).
pub(crate) fn applied_position(tree: &sled::Tree) -> Result<u64, StoreError> {
    checkpoint(tree)
}

/// The last position a model has applied (0 for a new model).
fn checkpoint(tree: &sled::Tree) -> Result<u64, StoreError> {
    Ok(tree.get(CHECKPOINT_KEY)?.map_or(0, |v| {
        u64::from_be_bytes(v.as_ref().try_into().expect("checkpoint is 8 bytes"))
    }))
}

/// Rebuilds a model from position 1 to the current head, calling `progress(position,
/// head)` after each batch. Works on a store opened for inspection (offline).
pub fn rebuild<P: Projection + 'static>(
    store: &SledStore,
    projection: P,
    progress: impl FnMut(u64, u64),
) -> Result<u64, ProjectionError> {
    rebuild_together(store, vec![Box::new(projection)], progress)
}

/// Rebuilds several models in one pass over the log (`crisisd rebuild --all`): each
/// batch of events is read and parsed once, on a thread of its own that reads the next
/// batch while the models apply this one, and applied to every model by up to one
/// worker per core (the models are independent: each writes only its own tree, and
/// applies the batches in log order). The slowest models of the last batch are started
/// first, so one slow model does not leave a core idle at the end of a batch. A model
/// that refuses an event stops the rebuild; every model keeps the batches it committed.
pub fn rebuild_together(
    store: &SledStore,
    projections: Vec<Box<dyn Projection>>,
    mut progress: impl FnMut(u64, u64),
) -> Result<u64, ProjectionError> {
    let started = Instant::now();
    let names: Vec<&str> = projections.iter().map(|p| p.name()).collect();
    let mut models = Vec::with_capacity(projections.len());
    for projection in projections {
        store.drop_model_tree(projection.name())?;
        let tree = open_model(store, projection.as_ref())?;
        models.push(Mutex::new(RebuildingModel {
            projection,
            tree,
            spent: std::time::Duration::ZERO,
        }));
    }
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(models.len())
        .max(1);
    let head = store.head().position;
    std::thread::scope(|scope| {
        // Two batches read ahead at most: the reader never runs far ahead of the models.
        let (batches, ready) = std::sync::mpsc::sync_channel(2);
        scope.spawn(move || {
            let mut next = 1;
            while next <= head {
                let batch = store.read_all(next, REBUILD_BATCH_EVENTS_MAX).and_then(|events| {
                    let last = events.last().ok_or_else(|| {
                        StoreError::Damaged(format!(
                            "the log ends before position {next}, short of its head {head}; run `crisisd verify`"
                        ))
                    })?;
                    next = last.position + 1;
                    Ok(events)
                });
                let failed = batch.is_err();
                // The receiver is gone only when a model failed: nothing left to read for.
                if batches.send(batch).is_err() || failed {
                    break;
                }
            }
        });
        for batch in ready {
            let events = batch?;
            let last = events.last().expect("batches are not empty").position;
            apply_in_parallel(&models, &events, last, workers)?;
            progress(last, head);
        }
        Ok::<_, ProjectionError>(())
    })?;
    store.flush_models()?;
    tracing::info!(
        projections = %names.join(","),
        events = head,
        seconds = started.elapsed().as_secs_f64(),
        "projections rebuilt"
    );
    Ok(head)
}

/// One model being rebuilt, and the time it spent on the last batch.
struct RebuildingModel {
    projection: Box<dyn Projection>,
    tree: sled::Tree,
    spent: std::time::Duration,
}

/// Applies `events` to every model and commits each model's batch with `last` as its
/// checkpoint; up to `workers` models at a time, the slowest of the last batch first.
fn apply_in_parallel(
    models: &[Mutex<RebuildingModel>],
    events: &[RecordedEvent],
    last: u64,
    workers: usize,
) -> Result<(), ProjectionError> {
    // A worker that panicked fails the whole rebuild (the scope re-raises it); the
    // others' models are still whole.
    fn lock(model: &Mutex<RebuildingModel>) -> std::sync::MutexGuard<'_, RebuildingModel> {
        model
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
    let mut order: Vec<usize> = (0..models.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(lock(&models[i]).spent));
    let taken = std::sync::atomic::AtomicUsize::new(0);
    let failure: Mutex<Option<ProjectionError>> = Mutex::new(None);
    let work = || {
        while let Some(&i) = order.get(taken.fetch_add(1, std::sync::atomic::Ordering::Relaxed)) {
            if failure.lock().expect("failure lock").is_some() {
                return;
            }
            let mut model = lock(&models[i]);
            let began = Instant::now();
            let RebuildingModel {
                projection, tree, ..
            } = &mut *model;
            let mut tx = ModelTx::new(tree);
            let applied = events
                .iter()
                .try_for_each(|event| apply_one(projection.as_mut(), event, &mut tx))
                .and_then(|()| tx.commit(last).map_err(ProjectionError::from));
            model.spent = began.elapsed();
            if let Err(err) = applied {
                failure.lock().expect("failure lock").get_or_insert(err);
                return;
            }
        }
    };
    std::thread::scope(|scope| {
        for _ in 1..workers {
            scope.spawn(work);
        }
        work();
    });
    match failure.into_inner().expect("failure lock") {
        Some(err) => Err(err),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Actor, AppendRequest, ExpectedVersion, NewEvent, StoreConfig};
    use chrono::Utc;

    /// Counts events per stream and the sum of `n`; refuses `{"poison": true}`.
    struct Counts;

    impl Projection for Counts {
        fn name(&self) -> &'static str {
            "test-counts"
        }
        fn apply(&mut self, event: &RecordedEvent, tx: &mut ModelTx<'_>) -> Result<(), ModelError> {
            let data: serde_json::Value = serde_json::from_str(event.data.get())?;
            if data["poison"] == true {
                return Err(ModelError::Invalid("poison pill".into()));
            }
            let key = format!("count/{}", event.stream);
            let count: u64 = tx.get_json(key.as_bytes())?.unwrap_or(0);
            tx.insert_json(key, &(count + 1));
            let sum: u64 = tx.get_json(b"sum")?.unwrap_or(0);
            tx.insert_json("sum", &(sum + data["n"].as_u64().unwrap_or(0)));
            Ok(())
        }
    }

    async fn append(store: &SledStore, n: u64, data: serde_json::Value) {
        let actor = Actor {
            id: "a".into(),
            role: "admin".into(),
        };
        let request = AppendRequest::single(
            format!("s-{}", n % 5),
            ExpectedVersion::Any,
            vec![NewEvent::new("test.counted", data, actor, Utc::now())],
        );
        store.append(request).await.unwrap();
    }

    /// Waits (up to 60 s) until the projection has applied `position`.
    async fn applied_up_to(status: &Mutex<ProjectionStatus>, position: u64) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while status.lock().unwrap().position < position {
            assert!(
                std::time::Instant::now() < deadline,
                "the projection is at {} of {position} after 60 s",
                status.lock().unwrap().position
            );
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }

    fn model(store: &SledStore) -> Vec<(Vec<u8>, Vec<u8>)> {
        store
            .model_tree("test-counts")
            .unwrap()
            .iter()
            .map(|e| e.unwrap())
            .map(|(k, v)| (k.to_vec(), v.to_vec()))
            .collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn live_projection_equals_rebuild_and_resumes_exactly_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(StoreConfig::new(dir.path())).unwrap();
        for n in 0..300 {
            append(&store, n, serde_json::json!({"n": n})).await;
        }
        let (stop_tx, stop_rx) = watch::channel(false);
        let projector = Projector::new(store.clone(), Counts).unwrap();
        let status = projector.status();
        let task = tokio::spawn(projector.run(stop_rx.clone()));
        for n in 300..600 {
            append(&store, n, serde_json::json!({"n": n})).await;
        }
        applied_up_to(&status, 600).await;
        // Abort (no clean stop) and run again: the checkpoint resumes without re-applying.
        task.abort();
        let _ = task.await;
        for n in 600..700 {
            append(&store, n, serde_json::json!({"n": n})).await;
        }
        let projector = Projector::new(store.clone(), Counts).unwrap();
        let status = projector.status();
        let task = tokio::spawn(projector.run(stop_rx.clone()));
        applied_up_to(&status, 700).await;
        stop_tx.send(true).unwrap();
        task.await.unwrap().unwrap();
        let live = model(&store);
        let sum: u64 = serde_json::from_slice(
            &store
                .model_tree("test-counts")
                .unwrap()
                .get("sum")
                .unwrap()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(
            sum,
            (0..700).sum::<u64>(),
            "every event applied exactly once"
        );
        rebuild(&store, Counts, |_, _| {}).unwrap();
        assert_eq!(
            model(&store),
            live,
            "the live model equals a rebuild from zero"
        );
    }

    /// [`Counts`] under another format version.
    struct CountsV2;

    impl Projection for CountsV2 {
        fn name(&self) -> &'static str {
            Counts.name()
        }
        fn apply(&mut self, event: &RecordedEvent, tx: &mut ModelTx<'_>) -> Result<(), ModelError> {
            Counts.apply(event, tx)
        }
        fn version(&self) -> u32 {
            2
        }
    }

    /// A model stored under another format version is dropped and rebuilt from
    /// position 1 when its projector starts; under its own version it resumes.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_model_of_another_format_version_is_rebuilt_from_the_start() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(StoreConfig::new(dir.path())).unwrap();
        for n in 0..10 {
            append(&store, n, serde_json::json!({"n": n})).await;
        }
        rebuild(&store, Counts, |_, _| {}).unwrap();
        let v1 = model(&store);
        assert_eq!(
            Projector::new(store.clone(), Counts)
                .unwrap()
                .status()
                .lock()
                .unwrap()
                .position,
            10
        );
        let projector = Projector::new(store.clone(), CountsV2).unwrap();
        assert_eq!(
            projector.status().lock().unwrap().position,
            0,
            "starts over"
        );
        let status = projector.status();
        let (stop_tx, stop_rx) = watch::channel(false);
        let task = tokio::spawn(projector.run(stop_rx));
        applied_up_to(&status, 10).await;
        stop_tx.send(true).unwrap();
        task.await.unwrap().unwrap();
        let v2 = model(&store);
        let without_version = |m: &[(Vec<u8>, Vec<u8>)]| {
            m.iter()
                .filter(|(k, _)| k.as_slice() != VERSION_KEY)
                .cloned()
                .collect::<Vec<_>>()
        };
        assert_eq!(
            without_version(&v2),
            without_version(&v1),
            "applied once, not twice"
        );
        let restarted = Projector::new(store.clone(), CountsV2).unwrap();
        assert_eq!(
            restarted.status().lock().unwrap().position,
            10,
            "same version resumes"
        );
    }

    #[tokio::test]
    async fn lag_counts_unapplied_events_and_the_age_of_the_oldest() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(StoreConfig::new(dir.path())).unwrap();
        for n in 0..3 {
            append(&store, n, serde_json::json!({"n": n})).await;
        }
        let second = store.read_all(2, 1).unwrap()[0].recorded_at;
        let status = ProjectionStatus {
            name: "test-counts".into(),
            position: 1,
            ..Default::default()
        };
        let lag = status
            .lag(&store, second + chrono::Duration::milliseconds(1500))
            .unwrap();
        assert_eq!(
            lag,
            ProjectionLag {
                name: "test-counts".into(),
                position: 1,
                head: 3,
                lag_events: 2,
                lag_seconds: 1.5,
                failed: None,
            }
        );
        let caught_up = ProjectionStatus {
            position: 3,
            ..status
        };
        let lag = caught_up.lag(&store, second).unwrap();
        assert_eq!((lag.lag_events, lag.lag_seconds), (0, 0.0));
    }

    #[tokio::test]
    async fn an_event_that_cannot_be_applied_stops_the_projection_and_names_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(StoreConfig::new(dir.path())).unwrap();
        append(&store, 1, serde_json::json!({"n": 1})).await;
        append(&store, 2, serde_json::json!({"poison": true})).await;
        append(&store, 3, serde_json::json!({"n": 3})).await;
        let (_stop_tx, stop_rx) = watch::channel(false);
        let projector = Projector::new(store.clone(), Counts).unwrap();
        let status = projector.status();
        let err = projector.run(stop_rx).await.unwrap_err();
        assert!(
            err.to_string()
                .contains("test.counted at position 2: poison pill"),
            "{err}"
        );
        let status = status.lock().unwrap().clone();
        assert!(status.failed.is_some());
        assert_eq!(
            status.position, 0,
            "the batch holding the bad event is not applied at all"
        );
        let err = rebuild(&store, Counts, |_, _| {}).unwrap_err();
        assert!(err.to_string().contains("position 2"), "{err}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_projector_waits_for_another_writer_of_its_model_to_let_go() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(StoreConfig::new(dir.path())).unwrap();
        append_many(&store, 0..10).await;
        // What a dropped projector's batch still being applied holds.
        let held = store.model_writer("test-counts").await;
        let (stop_tx, stop_rx) = watch::channel(false);
        let projector = Projector::new(store.clone(), Counts).unwrap();
        let status = projector.status();
        let task = tokio::spawn(projector.run(stop_rx));
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        assert_eq!(
            status.lock().unwrap().position,
            0,
            "nothing applied meanwhile"
        );
        drop(held);
        applied_up_to(&status, 10).await;
        stop_tx.send(true).unwrap();
        task.await.unwrap().unwrap();
        assert_eq!(stored(&store, "test-counts", b"sum"), Some(45));
    }

    /// Refuses the event at one position; applies (and counts) the others.
    struct RefusesAt(u64);

    impl Projection for RefusesAt {
        fn name(&self) -> &'static str {
            "test-refuses"
        }
        fn apply(&mut self, event: &RecordedEvent, tx: &mut ModelTx<'_>) -> Result<(), ModelError> {
            if event.position == self.0 {
                return Err(ModelError::Invalid("refused".into()));
            }
            let count: u64 = tx.get_json(b"count")?.unwrap_or(0);
            tx.insert_json("count", &(count + 1));
            Ok(())
        }
    }

    /// Appends `{"n": n}` for every n in `range`, a thousand events an append.
    async fn append_many(store: &SledStore, range: std::ops::Range<u64>) {
        let actor = Actor {
            id: "a".into(),
            role: "admin".into(),
        };
        let numbers: Vec<u64> = range.collect();
        for chunk in numbers.chunks(1_000) {
            let events = chunk
                .iter()
                .map(|n| {
                    let data = serde_json::json!({ "n": n });
                    NewEvent::new("test.counted", data, actor.clone(), Utc::now())
                })
                .collect();
            let request = AppendRequest::single("s-0", ExpectedVersion::Any, events);
            store.append(request).await.unwrap();
        }
    }

    /// What a model's tree holds under `key`, as JSON.
    fn stored(store: &SledStore, model: &str, key: &[u8]) -> Option<u64> {
        let value = store.model_tree(model).unwrap().get(key).unwrap()?;
        Some(serde_json::from_slice(&value).unwrap())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn models_rebuilt_together_apply_every_batch_in_order_and_a_refusal_keeps_what_was_committed()
     {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(StoreConfig::new(dir.path())).unwrap();
        // Three rebuild batches: 8,192 + 8,192 + 3,616.
        let events = 2 * REBUILD_BATCH_EVENTS_MAX as u64 + 3_616;
        append_many(&store, 0..events).await;
        let mut reported = Vec::new();
        let together: Vec<Box<dyn Projection>> = vec![Box::new(Counts), Box::new(RefusesAt(0))];
        let head =
            rebuild_together(&store, together, |done, head| reported.push((done, head))).unwrap();
        assert_eq!(head, events);
        let batch = REBUILD_BATCH_EVENTS_MAX as u64;
        assert_eq!(
            reported,
            [(batch, events), (2 * batch, events), (events, events)]
        );
        assert_eq!(
            stored(&store, "test-counts", b"sum"),
            Some(events * (events - 1) / 2)
        );
        assert_eq!(stored(&store, "test-refuses", b"count"), Some(events));

        // A model refusing an event of the third batch stops the rebuild and is named;
        // each model keeps whole batches, its state matching its checkpoint.
        let refused = 2 * batch + 100;
        let together: Vec<Box<dyn Projection>> =
            vec![Box::new(Counts), Box::new(RefusesAt(refused))];
        let err = rebuild_together(&store, together, |_, _| {}).unwrap_err();
        assert!(
            err.to_string().contains("test-refuses")
                && err.to_string().contains(&format!("position {refused}")),
            "{err}"
        );
        let refusing = store.model_tree("test-refuses").unwrap();
        assert_eq!(checkpoint(&refusing).unwrap(), 2 * batch);
        assert_eq!(stored(&store, "test-refuses", b"count"), Some(2 * batch));
        let counts = checkpoint(&store.model_tree("test-counts").unwrap()).unwrap();
        assert!(counts == 2 * batch || counts == events, "{counts}");
        assert_eq!(
            stored(&store, "test-counts", b"sum"),
            Some(counts * (counts - 1) / 2)
        );
    }
}
