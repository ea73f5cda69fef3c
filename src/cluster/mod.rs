//! Cluster mode (`serve --cluster NAME --node-id ID`, docs/cluster.md): several crisisd
//! nodes on a NATS JetStream cluster, one leader at a time.
//!
//! | module | owns |
//! |---|---|
//! | [`keys`] | the key store across nodes: epoch keys shared over core NATS, data keys learned from the log |
//! | [`lease`] | the leader lease in a KV bucket: one leader at a time, its term and address |
//! | [`log`] | the replicated log stream: atomic batches fenced by the expected last sequence |
//! | [`node`] | a node: joining (reconciling its store with the log), following, leading, stepping down |
//!
//! Safety comes from the log, liveness from the lease: a node that wrongly believes it
//! leads (paused past its lease) is refused by the stream's expected-sequence check.

pub mod keys;
pub mod lease;
pub mod log;
pub mod node;

pub use lease::{
    LeaderInfo, LeaseBucket, LeaseConfig, LeaseError, LeaseHandle, NodeIdentity, Role, TermCheck,
};
pub use log::{LogConfig, LogError, LogRecord, ReplicatedLog};
