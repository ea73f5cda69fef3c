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
//! | [`writer`] | the single writer thread: group commit, one atomic batch, fdatasync, ack |
//! | [`subscription`] | history-then-live subscriptions that never block the writer |
//!
//! The store knows nothing of the domain: events are typed strings with JSON data.
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
pub mod sled_store;
pub mod subscription;
pub mod tail;
pub mod types;
pub mod verify;
pub mod writer;

use std::future::Future;

pub use error::{AppendError, StoreError};
pub use sled_store::{SledStore, StoreConfig, truncate_from};
pub use subscription::{Subscription, SubscriptionFilter};
pub use types::{
    Actor, AppendOutcome, AppendRequest, Committed, Direction, ExpectedVersion, Head, NewEvent,
    RangeError, RecordedEvent, StreamAppend, position_range,
};
pub use verify::{Damage, DamageKind, VerifyReport};

/// The event store contract. The sled implementation is [`SledStore`]; a replicated
/// backend (JetStream) can implement the same trait when one machine is outgrown.
pub trait EventStore: Clone + Send + Sync + 'static {
    /// Appends events to one or more streams atomically, each checked against its
    /// expected version. Resolves only once the events are durable.
    fn append(
        &self,
        request: AppendRequest,
    ) -> impl Future<Output = Result<AppendOutcome, AppendError>> + Send;

    /// Reads up to `max_count` events of one stream starting at `from_version`
    /// (inclusive) in `direction`.
    fn read_stream(
        &self,
        stream: &str,
        from_version: u64,
        direction: Direction,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError>;

    /// Reads up to `max_count` committed events from global position `from` (inclusive).
    fn read_all(&self, from: u64, max_count: usize) -> Result<Vec<RecordedEvent>, StoreError>;

    /// The committed event with this id, if it is stored.
    fn read_event(&self, id: &uuid::Uuid) -> Result<Option<RecordedEvent>, StoreError>;

    /// The current version of a stream, `None` when it has no events.
    fn stream_version(&self, stream: &str) -> Result<Option<u64>, StoreError>;

    /// The last committed position and its hash.
    fn head(&self) -> Head;

    /// The first position whose `recorded_at` is at or after `instant`, `None` if none is.
    fn position_at(
        &self,
        instant: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<u64>, StoreError>;

    /// Verifies the hash chain over `[from, to]` (clamped to the log).
    fn verify(&self, from: u64, to: u64) -> Result<VerifyReport, StoreError>;

    /// Events from `from` (inclusive) matching `filter`: history, then live.
    fn subscribe(&self, from: u64, filter: SubscriptionFilter) -> Subscription;
}
