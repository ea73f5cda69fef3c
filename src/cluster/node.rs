//! A crisisd node in a cluster (`serve --cluster NAME --node-id ID`): the lease decides
//! who writes, the replicated log is the source of truth, and every node's sled store
//! is a byte-identical copy of it.
//!
//! - **Joining** ([`join`], before the store opens): the local log is checked against the
//!   cluster's. A record both hold must be the same bytes (else the node refuses to
//!   start: its log has diverged); records past the cluster log's end were never
//!   acknowledged (a leader acknowledges only what the log took) and are dropped.
//! - **Following** ([`Node::run`]): the node applies the log's records into its store
//!   (the read models follow as on a single node) and refuses commands, naming the
//!   leader (the HTTP API redirects them there).
//! - **Leading**: when the lease makes this node leader, it first applies the whole log,
//!   then stops following, hands the store a replicator and starts the
//!   leader's duties (the publisher to `CRISIS_EVENTS`, the ingest consumer, reactors,
//!   deadlines). Each batch reaches the log — fenced by its expected last sequence —
//!   before anyone learns of it.
//! - **Stepping down** is a restart: a leader that loses its lease, or whose batch the
//!   log refuses, executes itself again (same process id, fresh state) and joins as a
//!   follower, dropping whatever the log never took. One way out, no half states.
//!
//! A log's sequence number is the event's position: the log's record n is position n.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{FutureExt, StreamExt};
use serde::Serialize;
use tokio::sync::{mpsc, watch};

use super::lease::{LeaseBucket, LeaseConfig, NodeIdentity, Role as LeaseRole, TermCheck};
use super::log::{BATCH_RECORDS_MAX, LogConfig, LogError, ReplicatedLog};
use crate::store::codec::{HashBytes, RawRecord};
use crate::store::{
    AppendSpan, ReplicationError, Replicator, Role as StoreRole, SledStore, StoreConfig,
};

/// Records a follower applies in one store batch at most.
const FOLLOW_BATCH_RECORDS: usize = 1024;
/// How long `join` waits for the cluster's log to answer before giving up.
const JOIN_PATIENCE: Duration = Duration::from_secs(120);
/// How often the view's `log_last` is refreshed.
const VIEW_REFRESH: Duration = Duration::from_secs(1);
/// Most local records a restarting node drops because the cluster's log does not hold
/// them: more is not a deposed leader's unacknowledged tail but another log.
const UNACKNOWLEDGED_TAIL_MAX: u64 = 100_000;
/// A new leader whose log stops catching up for this long steps down.
const CATCH_UP_STALL: Duration = Duration::from_secs(10);
/// How often a node that has not caught up with the cluster's log since it started
/// compares its head with the log's end (it campaigns only once it has).
const CAUGHT_UP_POLL: Duration = Duration::from_millis(200);
/// Records a node may be behind the log's end and still count as caught up: a follower
/// under a busy leader is always a little behind, and a new leader applies this many in
/// well under a second before it takes writes.
const CAUGHT_UP_SLACK: u64 = 10_000;
/// How long a node stepping down or stopping waits to release its lease.
const RESIGN_PATIENCE: Duration = Duration::from_secs(2);
/// How long a follower whose store refuses appends waits before it restarts to try again.
const STORE_FAILED_RESTART: Duration = Duration::from_secs(10);
/// Exit code when a re-execution fails (the supervisor restarts the node).
const STEP_DOWN_EXIT: i32 = 75;

/// Who this node is in its cluster.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    pub name: String,
    pub node_id: String,
    /// Where clients reach this node's HTTP API (redirects from followers point here).
    pub advertise_url: String,
}

/// This node's role, as `GET /v1/cluster` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NodeRole {
    /// Not in a cluster: this node takes writes on its own.
    Single,
    Leader,
    Follower,
}

/// The leader as a follower knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct LeaderView {
    pub node_id: String,
    /// Its HTTP API.
    pub url: String,
    pub term: u64,
}

/// What a node knows of its cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ClusterView {
    /// The cluster's name (`--cluster`); null for a single node.
    pub cluster: Option<String>,
    pub node_id: Option<String>,
    pub role: NodeRole,
    /// The lease term this node leads in.
    pub term: Option<u64>,
    /// The leader, when this node follows one it knows.
    pub leader: Option<LeaderView>,
    /// The cluster log's last position when last read.
    pub log_last: Option<u64>,
}

impl ClusterView {
    pub fn single() -> ClusterView {
        ClusterView {
            cluster: None,
            node_id: None,
            role: NodeRole::Single,
            term: None,
            leader: None,
            log_last: None,
        }
    }
}

/// What a leader starts, once: the tasks only one node may run.
pub type LeaderDuties = Box<
    dyn FnOnce(
            watch::Receiver<bool>,
        )
            -> Pin<Box<dyn Future<Output = anyhow::Result<tokio::task::JoinSet<()>>> + Send>>
        + Send,
>;

/// The cluster's log and lease, with the local log reconciled against the log.
pub struct Joined {
    options: ClusterOptions,
    log: ReplicatedLog,
    bucket: LeaseBucket,
}

/// Opens the cluster's log and lease and reconciles the data directory with the log.
/// Call before the store opens for serving.
pub async fn join(
    options: ClusterOptions,
    client: async_nats::Client,
    store: &StoreConfig,
) -> anyhow::Result<Joined> {
    let (log, last) = patiently("open the cluster's log", || async {
        let log =
            ReplicatedLog::open(client.clone(), LogConfig::for_cluster(&options.name)).await?;
        let last = log.last_sequence().await?;
        Ok::<_, LogError>((log, last))
    })
    .await?;
    reconcile(store, &log, last).await?;
    let bucket = patiently("open the cluster's lease bucket", || {
        LeaseBucket::open(
            async_nats::jetstream::new(client.clone()),
            LeaseConfig::for_cluster(&options.name),
        )
    })
    .await?;
    Ok(Joined {
        options,
        log,
        bucket,
    })
}

/// Runs `attempt` until it succeeds, again with backoff (200 ms doubling to 5 s) while
/// NATS does not answer (a server of the cluster just lost, a stream leader being
/// elected), for at most [`JOIN_PATIENCE`]; `what` says what is being done.
async fn patiently<T, E, F>(what: &str, mut attempt: impl FnMut() -> F) -> anyhow::Result<T>
where
    E: std::fmt::Display,
    F: std::future::Future<Output = Result<T, E>>,
{
    let started = std::time::Instant::now();
    let mut delay = Duration::from_millis(200);
    loop {
        match attempt().await {
            Ok(done) => return Ok(done),
            Err(err) if started.elapsed() < JOIN_PATIENCE => {
                tracing::warn!(cause = %err, "cannot {what} yet; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            Err(err) => anyhow::bail!("cannot {what} after {JOIN_PATIENCE:?}: {err}"),
        }
    }
}

/// The log's record at `seq`.
async fn record_at(log: &ReplicatedLog, seq: u64) -> anyhow::Result<Bytes> {
    let what = format!("read record {seq} of the cluster's log");
    let record = patiently(&what, || log.record(seq)).await?;
    Ok(record.payload)
}

/// Checks the local log against the cluster's (`last` records) and drops the local
/// records the log does not hold: past its end, or differing from it. The log is the
/// truth and a leader acknowledges only what it holds, so such records were never
/// acknowledged (a deposed leader's last batches). A local log that shares no record
/// with the cluster's, or differs from it over more than [`UNACKNOWLEDGED_TAIL_MAX`]
/// records, is another log: the node refuses to start.
async fn reconcile(config: &StoreConfig, log: &ReplicatedLog, last: u64) -> anyhow::Result<()> {
    let inspect = config.clone();
    let store =
        tokio::task::spawn_blocking(move || SledStore::open_for_inspection(inspect)).await??;
    let head = store.head().position;
    let common = head.min(last);
    let local = |position: u64| -> anyhow::Result<HashBytes> {
        let (_, record) = store
            .raw_range(position, position)
            .next()
            .transpose()?
            .ok_or_else(|| anyhow::anyhow!("this node's log has no record {position}"))?;
        record_hash(&record, position)
    };
    let remote = async |position: u64| -> anyhow::Result<HashBytes> {
        record_hash(&record_at(log, position).await?, position)
    };
    // Positions 1..=keep are the same here and in the cluster's log.
    let mut keep = common;
    if common > 0 && local(common)? != remote(common).await? {
        // The hash chain makes agreement a prefix: search for its end.
        let (mut agrees, mut differs) = (0, common);
        while differs - agrees > 1 {
            let middle = agrees + (differs - agrees) / 2;
            if local(middle)? == remote(middle).await? {
                agrees = middle;
            } else {
                differs = middle;
            }
        }
        keep = agrees;
        let dir = config.path.display();
        if keep == 0 || head - keep > UNACKNOWLEDGED_TAIL_MAX {
            anyhow::bail!(
                "this node's log differs from the cluster's from position {}: it is not this cluster's log (or a copy far behind it). Move {dir} aside and start this node with an empty data directory to copy the cluster's log",
                keep + 1
            );
        }
    }
    drop(store);
    let dir = config.path.clone();
    tokio::task::spawn_blocking(move || {
        crate::store::sled_store::wait_for_release(&dir, Duration::from_secs(10))
    })
    .await?;
    if last > 0 && head > keep {
        let truncate = config.clone();
        let dropped =
            tokio::task::spawn_blocking(move || crate::store::truncate_from(&truncate, keep + 1))
                .await??;
        tracing::warn!(
            dropped,
            from = keep + 1,
            "dropped this node's records that the cluster's log does not hold (never acknowledged)"
        );
    }
    Ok(())
}

/// The hash a stored record carries.
fn record_hash(record: &[u8], position: u64) -> anyhow::Result<HashBytes> {
    RawRecord::decode(record)
        .map(|raw| raw.hash)
        .ok_or_else(|| anyhow::anyhow!("record {position} is not a record"))
}

/// A node of the cluster, its store open.
pub struct Node {
    joined: Joined,
    store: SledStore,
    view_tx: watch::Sender<ClusterView>,
}

impl Joined {
    /// The node, following until the lease says otherwise.
    pub fn node(self, store: SledStore) -> Node {
        store.set_role(StoreRole::Follower { leader: None });
        let view = ClusterView {
            cluster: Some(self.options.name.clone()),
            node_id: Some(self.options.node_id.clone()),
            role: NodeRole::Follower,
            term: None,
            leader: None,
            log_last: None,
        };
        Node {
            joined: self,
            store,
            view_tx: watch::channel(view).0,
        }
    }
}

impl Node {
    /// What `GET /v1/cluster` shows, kept current.
    pub fn view(&self) -> watch::Receiver<ClusterView> {
        self.view_tx.subscribe()
    }

    /// Follows, campaigns, leads; returns at shutdown (a step-down never returns: it
    /// restarts the process).
    pub async fn run(self, duties: LeaderDuties, mut shutdown: watch::Receiver<bool>) {
        let Node {
            joined,
            store,
            view_tx,
        } = self;
        let me = NodeIdentity {
            node_id: joined.options.node_id.clone(),
            http_addr: joined.options.advertise_url.clone(),
        };
        // A node campaigns once its log has caught up with the cluster's, so a node that
        // just restarted far behind does not take the lease from one that could lead at
        // once, and only while its store takes appends.
        let (ready_tx, ready) = watch::channel(false);
        tokio::spawn(readiness(joined.log.clone(), store.clone(), ready_tx));
        let lease = joined
            .bucket
            .campaign_when_ready(me, shutdown.clone(), ready);
        let term_check = lease.term_check();
        let mut roles = lease.roles();
        let (lost_tx, mut lost_rx) = mpsc::channel::<String>(1);
        let (stop_follow, follow_stopped) = watch::channel(false);
        let mut follower = Some(tokio::spawn(follow(
            joined.log.clone(),
            store.clone(),
            follow_stopped,
        )));
        let mut duties = Some(duties);
        let mut leading: Option<tokio::task::JoinSet<()>> = None;
        let mut refresh = tokio::time::interval(VIEW_REFRESH);
        // Why this node, leading, can no longer write: its store refuses appends.
        let store_failed = loop {
            // Once shutting down, a lost lease ends the node; it does not restart.
            if *shutdown.borrow() {
                break None;
            }
            let role = roles.borrow_and_update().clone();
            match role {
                LeaseRole::Leader { term, .. } if leading.is_none() => {
                    let took = take_over(
                        &joined.log,
                        &store,
                        term,
                        &term_check,
                        &stop_follow,
                        &mut follower,
                    )
                    .await;
                    if let Err(reason) = took {
                        step_down(&format!("could not take over as leader: {reason}"));
                        break None;
                    }
                    store.set_role(StoreRole::Leader {
                        replicator: replicator(
                            joined.log.clone(),
                            term,
                            term_check.clone(),
                            lost_tx.clone(),
                        ),
                        replicated: store.head().position,
                    });
                    let start = duties.take().expect("a node leads once per process");
                    match start(shutdown.clone()).await {
                        Ok(tasks) => leading = Some(tasks),
                        Err(err) => {
                            step_down(&format!("the leader's tasks did not start: {err}"));
                            break None;
                        }
                    }
                    let me = LeaderView {
                        node_id: joined.options.node_id.clone(),
                        url: joined.options.advertise_url.clone(),
                        term,
                    };
                    view_tx.send_modify(|v| {
                        v.role = NodeRole::Leader;
                        v.term = Some(term);
                        v.leader = Some(me);
                    });
                    tracing::info!(term, head = store.head().position, "leading the cluster");
                }
                LeaseRole::Leader { .. } => {}
                LeaseRole::Follower { .. } if leading.is_some() => {
                    step_down("this node's lease was lost");
                    break None;
                }
                LeaseRole::Follower { leader } => {
                    let known = leader.map(|l| LeaderView {
                        node_id: l.node_id,
                        url: l.http_addr,
                        term: l.term,
                    });
                    store.set_role(StoreRole::Follower {
                        leader: known
                            .as_ref()
                            .map(|l| format!("{} at {}", l.node_id, l.url)),
                    });
                    view_tx.send_modify(|v| {
                        v.role = NodeRole::Follower;
                        v.term = None;
                        v.leader = known;
                    });
                }
            }
            tokio::select! {
                changed = roles.changed() => if changed.is_err() { break None },
                Some(reason) = lost_rx.recv() => {
                    step_down(&reason);
                    break None;
                }
                reason = store.failed(), if leading.is_some() => break Some(reason),
                _ = refresh.tick() => {
                    if let Ok(last) = joined.log.last_sequence().await {
                        view_tx.send_modify(|v| v.log_last = Some(last));
                    }
                }
                _ = shutdown.changed() => break None,
            }
        };
        let mut lease = Some(lease);
        if let Some(reason) = store_failed {
            // The lease goes first, so that a follower takes over now rather than when it
            // expires; the leader's tasks end with the restart.
            resign(lease.take()).await;
            step_down(&format!(
                "this node's event store refuses appends: {reason}"
            ));
        }
        let _ = stop_follow.send(true);
        if let Some(follower) = follower.take() {
            let _ = follower.await;
        }
        if let Some(mut tasks) = leading.take() {
            while tasks.join_next().await.is_some() {}
        }
        resign(lease).await;
    }
}

/// Releases the lease if this node still holds it (waiting at most [`RESIGN_PATIENCE`]:
/// otherwise it expires by itself).
async fn resign(lease: Option<super::lease::LeaseHandle>) {
    let Some(lease) = lease else { return };
    match tokio::time::timeout(RESIGN_PATIENCE, lease.resign()).await {
        Ok(Ok(true)) => tracing::info!("resigned the cluster's lease"),
        Ok(Ok(false)) => {}
        Ok(Err(err)) => tracing::warn!(cause = %err, "could not resign the lease"),
        Err(_) => tracing::warn!("resigning the lease took too long; it expires by itself"),
    }
}

/// Whether this node may take the lease: `ready` is true while its log is within
/// [`CAUGHT_UP_SLACK`] records of the cluster's (checked every [`CAUGHT_UP_POLL`], every
/// five once caught up: a node that falls far behind later stops campaigning until it
/// catches up), and false for good once its store refuses appends (a node that cannot
/// write must not lead). Stops when no one listens.
async fn readiness(log: ReplicatedLog, store: SledStore, ready: watch::Sender<bool>) {
    loop {
        if let Ok(last) = log.last_sequence().await {
            let head = store.head().position;
            let caught_up = head + CAUGHT_UP_SLACK >= last;
            if *ready.borrow() != caught_up && store.failure().is_none() {
                ready.send_replace(caught_up);
                if caught_up {
                    tracing::info!(head, "caught up with the cluster's log");
                } else {
                    tracing::warn!(
                        head,
                        last,
                        "this node is more than {CAUGHT_UP_SLACK} records behind the cluster's log: it does not campaign for the lease until it catches up"
                    );
                }
            }
        }
        let poll = if *ready.borrow() {
            CAUGHT_UP_POLL * 5
        } else {
            CAUGHT_UP_POLL
        };
        tokio::select! {
            reason = store.failed() => {
                ready.send_replace(false);
                tracing::warn!(%reason, "this node's store refuses appends: it no longer campaigns for the lease");
                return;
            }
            _ = ready.closed() => return,
            _ = tokio::time::sleep(poll) => {}
        }
    }
}

/// Becomes leader in `term`: applies the whole log, stops following, and publishes a
/// local history the log does not hold yet (a node started on existing data seeds an
/// empty cluster).
async fn take_over(
    log: &ReplicatedLog,
    store: &SledStore,
    term: u64,
    term_check: &TermCheck,
    stop_follow: &watch::Sender<bool>,
    follower: &mut Option<tokio::task::JoinHandle<()>>,
) -> Result<(), String> {
    let still_leading = || {
        (term_check.valid_term() == Some(term))
            .then_some(())
            .ok_or("the lease expired while catching up")
    };
    // A node that cannot catch up must not sit on the lease: it steps down when its
    // head stops moving while behind.
    let mut progress = (store.head().position, std::time::Instant::now());
    loop {
        still_leading()?;
        let last = log.last_sequence().await.map_err(|e| e.to_string())?;
        let head = store.head().position;
        if head >= last {
            break;
        }
        if head != progress.0 {
            progress = (head, std::time::Instant::now());
        } else if progress.1.elapsed() > CATCH_UP_STALL {
            return Err(format!(
                "this node's log stays at {head} while the cluster's is at {last}"
            ));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = stop_follow.send(true);
    if let Some(follower) = follower.take() {
        follower.await.map_err(|e| e.to_string())?;
    }
    let last = log.last_sequence().await.map_err(|e| e.to_string())?;
    let head = store.head().position;
    if head < last {
        return Err(format!(
            "the log grew to {last} past this node's {head} after it took the lease"
        ));
    }
    let mut next = last + 1;
    // The history's data keys go with its first records, so that every node opens its
    // personal data (in order: an erasure's record after the key it destroys).
    let mut sides = if next <= head {
        seed_side_chunks(store).map_err(|e| e.to_string())?
    } else {
        Default::default()
    };
    while next <= head {
        still_leading()?;
        let to = (next + BATCH_RECORDS_MAX as u64 - 1).min(head);
        let records: Vec<Bytes> = store
            .raw_range(next, to)
            .map(|r| r.map(|(_, record)| Bytes::copy_from_slice(&record)))
            .collect::<Result<_, _>>()
            .map_err(|e| e.to_string())?;
        // One chunk per record; what is left at the last record goes with it.
        let mut carried: Vec<(usize, Bytes)> = Vec::new();
        for at in 0..records.len() {
            let Some(mut chunk) = sides.pop_front() else {
                break;
            };
            if to == head && at + 1 == records.len() {
                chunk = sides
                    .drain(..)
                    .fold(chunk, |all, more| [all, more].concat().into());
            }
            carried.push((at, chunk));
        }
        log.append_batch_with_sides(next - 1, &records, &carried)
            .await
            .map_err(|e| e.to_string())?;
        tracing::info!(
            from = next,
            to,
            "seeded the cluster's log with this node's history"
        );
        next = to + 1;
    }
    Ok(())
}

/// Most bytes of side records a seeded record carries.
const SEED_SIDE_BYTES: usize = 256 * 1024;

/// This node's side records as side chunks of at most [`SEED_SIDE_BYTES`] (a larger
/// record makes a chunk of its own), in order.
fn seed_side_chunks(
    store: &SledStore,
) -> Result<std::collections::VecDeque<Bytes>, crate::store::StoreError> {
    let mut chunks = std::collections::VecDeque::new();
    let mut chunk = Vec::new();
    for side in store.side_records() {
        let side = side?;
        if !chunk.is_empty() && chunk.len() + 4 + side.len() > SEED_SIDE_BYTES {
            chunks.push_back(Bytes::from(std::mem::take(&mut chunk)));
        }
        crate::store::writer::push_side(&mut chunk, &side);
    }
    if !chunk.is_empty() {
        chunks.push_back(Bytes::from(chunk));
    }
    Ok(chunks)
}

/// Applies the log into the store from its head on, until told to stop.
async fn follow(log: ReplicatedLog, store: SledStore, mut stop: watch::Receiver<bool>) {
    let mut delay = Duration::from_millis(100);
    while !*stop.borrow() {
        let from = store.head().position + 1;
        let mut records = match log.read_from(from).await {
            Ok(records) => records,
            Err(err) => {
                tracing::warn!(cause = %err, from, "cannot read the cluster's log; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = stop.changed() => return,
                }
                delay = (delay * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        loop {
            let first = tokio::select! {
                next = records.next() => next,
                _ = stop.changed() => return,
            };
            let first = match first {
                Some(Ok(record)) => record,
                Some(Err(err)) => {
                    tracing::warn!(cause = %err, "reading the cluster's log failed; reopening");
                    break;
                }
                None => break,
            };
            let mut batch = vec![first];
            while batch.len() < FOLLOW_BATCH_RECORDS {
                match records.next().now_or_never() {
                    Some(Some(Ok(record))) => batch.push(record),
                    _ => break,
                }
            }
            let expected = store.head().position + 1;
            let contiguous = batch
                .iter()
                .enumerate()
                .all(|(i, r)| r.seq == expected + i as u64);
            if !contiguous {
                tracing::warn!(
                    expected,
                    got = batch[0].seq,
                    "the cluster's log delivered out of order; reopening"
                );
                break;
            }
            let side_chunk = batch.iter().flat_map(|r| r.side.iter().copied()).collect();
            let payloads = batch.into_iter().map(|r| r.payload.to_vec()).collect();
            if let Err(err) = store.apply_replicated(payloads, side_chunk).await {
                // A store that refuses appends (its disk failed) may work again after a
                // restart, but a disk that keeps failing must not make the node restart
                // in a loop: it waits first.
                if store.failure().is_some() {
                    tracing::error!(cause = %err, "this node's event store refuses appends; restarting in {STORE_FAILED_RESTART:?} to try again");
                    tokio::select! {
                        _ = tokio::time::sleep(STORE_FAILED_RESTART) => {}
                        _ = stop.changed() => return,
                    }
                }
                // Restarting checks this node's log against the cluster's and says
                // what to do if they diverged.
                step_down(&format!(
                    "this node cannot apply the cluster's log at position {expected}: {err}"
                ));
                return;
            }
            delay = Duration::from_millis(100);
        }
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = stop.changed() => return,
        }
    }
}

/// The replicator a leader in `term` hands its store (also used by `bench cluster`);
/// `lost` hears why, when the log refuses a batch or the lease runs out.
pub fn replicator(
    log: ReplicatedLog,
    term: u64,
    term_check: TermCheck,
    lost: mpsc::Sender<String>,
) -> Box<dyn Replicator> {
    Box::new(JetStreamReplicator {
        log,
        runtime: tokio::runtime::Handle::current(),
        term,
        term_check,
        lost,
    })
}

/// The store's [`Replicator`] on a leader: each group of appends goes to the log as one
/// atomic batch whose expected last sequence is the position before it.
struct JetStreamReplicator {
    log: ReplicatedLog,
    runtime: tokio::runtime::Handle,
    term: u64,
    term_check: TermCheck,
    /// Tells the node to step down.
    lost: mpsc::Sender<String>,
}

impl JetStreamReplicator {
    /// Sends `group` as one atomic batch; `sides` are `(index in group, side chunk)`.
    fn send(
        &self,
        group: &[(u64, Vec<u8>)],
        sides: &[(usize, Bytes)],
    ) -> Result<(), ReplicationError> {
        let payloads: Vec<Bytes> = group
            .iter()
            .map(|(_, record)| Bytes::copy_from_slice(record))
            .collect();
        let expected = group[0].0 - 1;
        let mut delay = Duration::from_millis(20);
        loop {
            if self.term_check.valid_term() != Some(self.term) {
                return Err(self.lost(ReplicationError::Unconfirmed(
                    "this node's lease expired before the log confirmed the batch".into(),
                )));
            }
            match self
                .runtime
                .block_on(self.log.append_batch_with_sides(expected, &payloads, sides))
            {
                Ok(_) => return Ok(()),
                Err(LogError::Unavailable(cause)) => {
                    tracing::warn!(%cause, "the cluster's log is unavailable; retrying the batch");
                    std::thread::sleep(delay);
                    delay = (delay * 2).min(Duration::from_millis(500));
                }
                Err(err @ LogError::Fenced { .. }) => {
                    return Err(self.lost(ReplicationError::Fenced(err.to_string())));
                }
                Err(err) => {
                    return Err(self.lost(ReplicationError::Unconfirmed(err.to_string())));
                }
            }
        }
    }

    fn lost(&self, err: ReplicationError) -> ReplicationError {
        let _ = self.lost.try_send(err.to_string());
        err
    }
}

impl Replicator for JetStreamReplicator {
    fn replicate(
        &mut self,
        records: &[(u64, Vec<u8>)],
        appends: &[AppendSpan],
    ) -> Result<(), ReplicationError> {
        // Each append's side record travels with its first event. An append of side
        // records alone has no event to carry it: it stays on this node (the key store
        // makes none in a cluster: an erasure's re-wrap travels with its event).
        let mut sides: Vec<(usize, Bytes)> = Vec::new();
        let mut begin = 0;
        for span in appends {
            if span.end > begin && !span.side.is_empty() {
                let mut chunk = Vec::with_capacity(span.side.len() + 4);
                crate::store::writer::push_side(&mut chunk, &span.side);
                sides.push((begin, Bytes::from(chunk)));
            }
            begin = span.end;
        }
        let group_sides = |from: usize, to: usize| -> Vec<(usize, Bytes)> {
            sides
                .iter()
                .filter(|(at, _)| (from..to).contains(at))
                .map(|(at, side)| (at - from, side.clone()))
                .collect()
        };
        // Groups of whole appends, each within the log's batch limit.
        let mut start = 0;
        let mut cut = 0;
        for span in appends {
            let end = span.end;
            while end - start > BATCH_RECORDS_MAX {
                if cut == start {
                    return Err(self.lost(ReplicationError::Unconfirmed(format!(
                        "one append of {} events is over the cluster log's batch limit of {BATCH_RECORDS_MAX}",
                        end - start
                    ))));
                }
                self.send(&records[start..cut], &group_sides(start, cut))?;
                start = cut;
            }
            cut = end;
        }
        if start < records.len() {
            self.send(&records[start..], &group_sides(start, records.len()))?;
        }
        Ok(())
    }
}

/// Set once `serve` shuts down: a node that loses its lease then just stops.
static SHUTTING_DOWN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Tells cluster mode that the process is shutting down (no restart after that).
pub fn shutting_down() {
    SHUTTING_DOWN.store(true, std::sync::atomic::Ordering::SeqCst);
}

/// Restarts this process (same id, same arguments): a deposed leader comes back as a
/// follower, dropping what the log never took. Returns only while shutting down (a
/// signal to stop must not be forgotten by a restart); the caller then stops.
pub fn step_down(reason: &str) {
    use std::os::unix::process::CommandExt;
    if SHUTTING_DOWN.load(std::sync::atomic::Ordering::SeqCst) {
        tracing::warn!(reason, "not restarting: shutting down");
        return;
    }
    tracing::error!(
        reason,
        "stepping down: restarting to follow the cluster's log"
    );
    let mut args = std::env::args_os();
    let arg0 = args.next().unwrap_or_else(|| "crisisd".into());
    let err = std::process::Command::new("/proc/self/exe")
        .arg0(arg0)
        .args(args)
        .exec();
    eprintln!(
        "crisisd: could not restart itself to step down ({err}); exiting for the supervisor to restart it"
    );
    std::process::exit(STEP_DOWN_EXIT)
}
