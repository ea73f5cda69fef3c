//! The event store: the system of record.
//!
//! | module | owns |
//! |---|---|
//! | [`types`] | what callers hand in ([`NewEvent`], [`AppendRequest`]) and get back ([`RecordedEvent`], [`Committed`]) |
//! | [`error`] | [`AppendError`] and [`StoreError`]: what went wrong and what the caller does about it |
//! | [`codec`] | the stored record: RFC 8785 canonical bytes and the BLAKE3 hash chain |
//! | [`verify`] | chain verification that names the first bad position and the kind of damage |
//! | [`keys`] | the key layout of the single sled tree (log, index chunks, head) |
//! | [`log`] | the stored records, eight to a sled key, read by position or range |
//! | [`index`] | the stream and id indexes: in memory, one persisted chunk per batch |
//! | [`import`] | offline import of exported envelopes, verified before anything is written |
//! | [`sled_store`] | [`SledStore`]: open (with a tail check), reads, verify |
//! | [`replication`] | cluster mode's hooks: a leader's batches go to the replicated log before they are visible; a follower applies that log's records verbatim |
//! | [`writer`] | the single writer thread: group commit, one atomic batch, fdatasync, ack |
//! | [`subscription`] | history-then-live subscriptions that never block the writer |
//!
//! The store knows nothing of the domain: events are typed strings with JSON data.
//! sled is the store: [`SledStore`] is one type, not an implementation of a trait, since
//! the read models, checkpoints and the key store share its database and its atomic
//! batches (docs/architecture.md, "Shape", says why).
//!
//! Guarantees (see docs/store.md for the full statement): an append is acknowledged only
//! after its batch is on disk (sled flush + fdatasync); positions are contiguous from 1
//! in commit order; each stream's versions are contiguous from 1; an event id is stored
//! at most once; every record links to its predecessor by hash.

pub mod codec;
pub mod error;
pub mod import;
pub mod index;
pub mod keys;
pub mod log;
pub mod replication;
pub mod sled_store;
pub mod subscription;
pub mod tail;
pub mod types;
pub mod verify;
pub mod writer;

pub use error::{AppendError, StoreError};
pub use replication::{AppendSpan, ReplicationError, Replicator, Role};
pub use sled_store::{APPEND_EVENTS_MAX, SledStore, StoreConfig, truncate_from};
pub use subscription::{Subscription, SubscriptionFilter};
pub use types::{
    Actor, AppendOutcome, AppendRequest, Committed, DecodedData, Direction, ExpectedVersion, Head,
    NewEvent, RangeError, RecordedEvent, StreamAppend, position_range,
};
pub use verify::{Damage, DamageKind, VerifyReport};
