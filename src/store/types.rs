//! Values crossing the store boundary: what callers append and what they read back.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use uuid::Uuid;

use super::codec::HashBytes;

/// Who caused an event (from the authenticated token, never from a request body).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub id: String,
    pub role: String,
}

/// The version a stream must be at for an append to it to succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExpectedVersion {
    /// No check.
    Any,
    /// The stream must not exist yet.
    NoStream,
    /// The stream must be exactly at this version (its last event has this version).
    Exact(u64),
}

impl std::fmt::Display for ExpectedVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExpectedVersion::Any => f.write_str("any"),
            ExpectedVersion::NoStream => f.write_str("no stream"),
            ExpectedVersion::Exact(v) => write!(f, "version {v}"),
        }
    }
}

/// An event to append. The store assigns stream version, position, `recorded_at` and hashes.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// Unique event id (UUID v7 for new facts, v5 when derived from a source message id).
    pub id: Uuid,
    /// `<aggregate>.<fact>`, e.g. `incident.opened`.
    pub event_type: String,
    pub schema_version: u32,
    /// When the fact happened in the world (truncated to microseconds when stored).
    pub occurred_at: DateTime<Utc>,
    pub actor: Actor,
    pub correlation_id: Uuid,
    pub causation_id: Uuid,
    /// The event's data: a JSON object.
    pub data: serde_json::Value,
}

impl NewEvent {
    /// A new root event: fresh UUID v7 id, correlation and causation equal to the id.
    pub fn new(
        event_type: impl Into<String>,
        data: serde_json::Value,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Self {
        let id = Uuid::now_v7();
        NewEvent {
            id,
            event_type: event_type.into(),
            schema_version: 1,
            occurred_at: now,
            actor,
            correlation_id: id,
            causation_id: id,
            data,
        }
    }
}

/// Events for one stream inside an [`AppendRequest`].
#[derive(Debug, Clone, PartialEq)]
pub struct StreamAppend {
    pub stream: String,
    pub expected: ExpectedVersion,
    pub events: Vec<NewEvent>,
}

/// One atomic append: all streams are checked and written together, or none is.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AppendRequest {
    pub streams: Vec<StreamAppend>,
}

impl AppendRequest {
    /// An append to a single stream.
    pub fn single(
        stream: impl Into<String>,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Self {
        AppendRequest {
            streams: vec![StreamAppend {
                stream: stream.into(),
                expected,
                events,
            }],
        }
    }

    pub fn event_count(&self) -> usize {
        self.streams.iter().map(|s| s.events.len()).sum()
    }
}

/// Where one appended event landed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    pub id: Uuid,
    pub stream: String,
    pub stream_version: u64,
    pub position: u64,
    pub hash: HashBytes,
}

/// The result of a successful append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendOutcome {
    /// One entry per event, in request order.
    pub events: Vec<Committed>,
    /// True when every event id was already stored: nothing was written and
    /// `events` are the original records.
    pub duplicate: bool,
}

impl AppendOutcome {
    /// Position of the last event of this append.
    pub fn last_position(&self) -> u64 {
        self.events.iter().map(|e| e.position).max().unwrap_or(0)
    }
}

/// The last committed position and its hash (position 0 and zero hash when empty).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    pub position: u64,
    pub hash: HashBytes,
}

/// Direction of a stream read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Forward,
    Backward,
}

/// A stored event, as in the envelope of DESIGN.md.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecordedEvent {
    pub id: Uuid,
    pub stream: String,
    pub stream_version: u64,
    pub position: u64,
    #[serde(rename = "type")]
    pub event_type: String,
    pub schema_version: u32,
    pub occurred_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
    pub actor: Actor,
    pub correlation_id: Uuid,
    pub causation_id: Uuid,
    pub data: Box<RawValue>,
    pub prev_hash: HashBytes,
    pub hash: HashBytes,
}

impl PartialEq for RecordedEvent {
    fn eq(&self, other: &Self) -> bool {
        // Positions and hashes identify a record; the data is compared by its exact bytes.
        self.position == other.position
            && self.hash == other.hash
            && self.prev_hash == other.prev_hash
            && self.id == other.id
            && self.stream == other.stream
            && self.stream_version == other.stream_version
            && self.event_type == other.event_type
            && self.schema_version == other.schema_version
            && self.occurred_at == other.occurred_at
            && self.recorded_at == other.recorded_at
            && self.actor == other.actor
            && self.correlation_id == other.correlation_id
            && self.causation_id == other.causation_id
            && self.data.get() == other.data.get()
    }
}
