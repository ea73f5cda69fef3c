//! The store's side of a cluster: a leader hands every committed batch to a replicated
//! log before anyone learns of it, and a follower applies that log's records verbatim.
//!
//! The store knows nothing of NATS: a [`Replicator`] (cluster mode's JetStream stream)
//! takes the exact record bytes. Three roles ([`Role`]):
//!
//! - **single** (the default): appends are made durable in sled and acknowledged.
//! - **leader**: while the syncer makes a batch durable in sled, a thread of its own
//!   hands the records past what the replicated log already holds to the replicator;
//!   only once both are done does the batch become visible (the published head) and
//!   are its appends acknowledged. If the log refuses or fails, the store takes no more
//!   appends (like an fsync failure): the records past the replicated log stay in sled,
//!   invisible to readers and never acknowledged, and the node must restart and drop
//!   them ([`super::truncate_from`]) before it follows. If the log took the batch but
//!   the local fsync failed, the store stops the same way; the log is the source of
//!   truth, so the node finds the batch there when it restarts and follows.
//! - **follower**: client appends are refused with the leader's address;
//!   [`super::SledStore::apply_replicated`] writes the leader's records as they are —
//!   same positions, bytes and hashes, each checked to continue the chain — so every
//!   node's log is byte-identical.

use std::sync::{Arc, Mutex, MutexGuard};

/// Stores committed records in the cluster's replicated log. Called from the store's
/// syncer's replicating thread, while the syncer fsyncs the same batch: it may block, and
/// must give up within the leader's lease.
pub trait Replicator: Send {
    /// Appends `records` — `(position, exact record bytes)`, contiguous, continuing the
    /// replicated log right after `records[0].0 - 1` — all or nothing per group:
    /// `appends` say where each append's events end, so a group boundary never splits
    /// one append's events, and the side record each carries, which must travel with
    /// its first event.
    fn replicate(
        &mut self,
        records: &[(u64, Vec<u8>)],
        appends: &[AppendSpan],
    ) -> Result<(), ReplicationError>;
}

/// One append among a batch's records: the index one past its last event, and its side
/// record ([`crate::store::AppendRequest::side`], empty if none).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppendSpan {
    pub end: usize,
    pub side: Vec<u8>,
}

/// Why the replicated log did not take a batch.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ReplicationError {
    /// The log's last position is not what this node expected: another node has
    /// written to it, so this one is no longer the leader.
    #[error(
        "the cluster's log refused the batch: {0}; another node leads now — restart this one to follow"
    )]
    Fenced(String),
    /// No confirmation in time (quorum lost, NATS unreachable): whether the records
    /// are in the log is unknown, so this node must step down and find out.
    #[error(
        "the cluster's log did not confirm the batch: {0}; restart this node to learn what the log holds"
    )]
    Unconfirmed(String),
}

/// What this store does with appends.
pub enum Role {
    Single,
    /// `replicated` is the replicated log's last position when leadership began.
    Leader {
        replicator: Box<dyn Replicator>,
        replicated: u64,
    },
    /// `leader`: where commands go instead (an address or node name, if known).
    Follower {
        leader: Option<String>,
    },
}

impl std::fmt::Debug for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Role::Single => f.write_str("Single"),
            Role::Leader { replicated, .. } => write!(f, "Leader {{ replicated: {replicated} }}"),
            Role::Follower { leader } => write!(f, "Follower {{ leader: {leader:?} }}"),
        }
    }
}

/// A leader's replicator and the replicated log's last position.
type Leading = Option<(Box<dyn Replicator>, u64)>;

/// The role, shared by the store's handle, its writer and its syncer. Two locks, so the
/// writer never waits while the syncer waits for the replicated log.
#[derive(Clone, Default)]
pub(crate) struct SharedRole {
    /// Leader: the replicator and the replicated log's last position.
    replicator: Arc<Mutex<Leading>>,
    /// Follower: the leader, if known.
    following: Arc<Mutex<Option<Option<String>>>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl SharedRole {
    pub fn set(&self, role: Role) {
        let (replicator, following) = match role {
            Role::Single => (None, None),
            Role::Leader {
                replicator,
                replicated,
            } => (Some((replicator, replicated)), None),
            Role::Follower { leader } => (None, Some(leader)),
        };
        // Following first: no client append slips in between as a single node's.
        *lock(&self.following) = following;
        *lock(&self.replicator) = replicator;
    }

    pub fn is_leader(&self) -> bool {
        lock(&self.replicator).is_some()
    }

    pub fn is_follower(&self) -> bool {
        lock(&self.following).is_some()
    }

    /// Why a client append is refused in this role, if it is.
    pub fn refuses_appends(&self) -> Option<String> {
        lock(&self.following).as_ref().map(|leader| {
            format!(
                "this node follows the cluster's leader{}: send commands there",
                leader
                    .as_deref()
                    .map_or(String::new(), |l| format!(" ({l})"))
            )
        })
    }

    /// Hands the records past the replicated log to the replicator (leader only).
    pub fn replicate(
        &self,
        records: &[(u64, Vec<u8>)],
        appends: &[AppendSpan],
    ) -> Result<(), String> {
        let mut leader = lock(&self.replicator);
        let Some((replicator, replicated)) = &mut *leader else {
            return Ok(());
        };
        let skip = records.partition_point(|(p, _)| *p <= *replicated);
        if skip == records.len() {
            return Ok(());
        }
        let appends: Vec<AppendSpan> = appends
            .iter()
            .filter(|span| span.end > skip)
            .map(|span| AppendSpan {
                end: span.end - skip,
                side: span.side.clone(),
            })
            .collect();
        let rest = &records[skip..];
        replicator
            .replicate(rest, &appends)
            .map_err(|err| err.to_string())?;
        *replicated = rest.last().map_or(*replicated, |(p, _)| *p);
        Ok(())
    }
}
