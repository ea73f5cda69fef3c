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
    /// An opaque side record written in the same atomic batch as the events (and only if
    /// they are written: not for a duplicate or a refused append), read back in write
    /// order with [`crate::store::SledStore::side_records`]. The key store keeps its new
    /// keys there, so a key is durable exactly when the first event it seals is. An
    /// append may carry a side record and no events.
    pub side: Vec<u8>,
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
            side: Vec::new(),
        }
    }

    /// This append, carrying `side` too.
    pub fn with_side(mut self, side: Vec<u8>) -> Self {
        self.side = side;
        self
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

/// A stored event, as in the envelope of docs/architecture.md ("Event envelope").
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecordedEvent {
    pub id: Uuid,
    pub stream: String,
    pub stream_version: u64,
    pub position: u64,
    #[serde(rename = "type")]
    pub event_type: String,
    pub schema_version: u32,
    /// Written as stored (RFC 3339, microseconds, `Z`), so a serialized envelope hashes
    /// to its stored hash; chrono's own form drops trailing zeros.
    #[serde(serialize_with = "super::codec::serialize_timestamp")]
    pub occurred_at: DateTime<Utc>,
    #[serde(serialize_with = "super::codec::serialize_timestamp")]
    pub recorded_at: DateTime<Utc>,
    pub actor: Actor,
    pub correlation_id: Uuid,
    pub causation_id: Uuid,
    pub data: Box<RawValue>,
    pub prev_hash: HashBytes,
    pub hash: HashBytes,
    /// The data as its first reader decoded it, shared with every later reader of this
    /// copy: see [`DecodedData`]. Not part of the envelope.
    #[serde(skip)]
    pub decoded: DecodedData,
}

/// An event's data decoded once and shared: read models at the log's tip receive one
/// `Arc<RecordedEvent>` between them, and a rebuild hands each event to every model,
/// so the first model to decode it parses the JSON and the others clone the result.
/// The store never fills it; it holds whatever type the first reader decoded to (the
/// aggregate's event enum), and a reader asking for another type decodes for itself.
#[derive(Clone, Default)]
pub struct DecodedData(std::sync::OnceLock<std::sync::Arc<dyn std::any::Any + Send + Sync>>);

impl std::fmt::Debug for DecodedData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.get().is_some() {
            "DecodedData(decoded)"
        } else {
            "DecodedData(empty)"
        })
    }
}

impl DecodedData {
    /// The shared decoded value if it is a `T`; otherwise `decode()`, kept for the next
    /// reader when nothing was kept yet. A failed decode keeps nothing.
    pub fn get_or_decode<T, E>(&self, decode: impl FnOnce() -> Result<T, E>) -> Result<T, E>
    where
        T: Clone + Send + Sync + 'static,
    {
        if let Some(value) = self.0.get() {
            if let Some(value) = value.downcast_ref::<T>() {
                return Ok(value.clone());
            }
            return decode();
        }
        let value = decode()?;
        // Another reader may have been first; either copy is the same data.
        let _ = self.0.set(std::sync::Arc::new(value.clone()));
        Ok(value)
    }
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

/// A range of positions asked for by a reader (`verify`, `replay`, `export`, the audit
/// API) that cannot be read as asked. Not damage: the caller fixes the range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    #[error("from ({from}) is after to ({to}); give from <= to")]
    Reversed { from: u64, to: u64 },
    #[error("from ({from}) is beyond the log's head ({head}); give a position from 1 to {head}")]
    BeyondHead { from: u64, head: u64 },
}

/// The positions `[from, to]` to read of a log whose head is `head`: `from` defaults to
/// 1 (0 counts as 1), `to` to the head and is clamped to it. A reversed range, or a
/// `from` past the head of a non-empty log, is refused; an empty log reads as empty.
pub fn position_range(
    from: Option<u64>,
    to: Option<u64>,
    head: u64,
) -> Result<(u64, u64), RangeError> {
    let first = from.unwrap_or(1).max(1);
    if let Some(to) = to
        && first > to
    {
        return Err(RangeError::Reversed { from: first, to });
    }
    if from.is_some() && first > head && head > 0 {
        return Err(RangeError::BeyondHead { from: first, head });
    }
    Ok((first, to.unwrap_or(head).min(head)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_past_the_head_or_reversed_are_refused_and_the_rest_clamped() {
        assert_eq!(position_range(None, None, 10), Ok((1, 10)));
        assert_eq!(position_range(Some(0), Some(99), 10), Ok((1, 10)));
        assert_eq!(position_range(Some(10), None, 10), Ok((10, 10)));
        assert_eq!(
            position_range(None, None, 0),
            Ok((1, 0)),
            "an empty log is empty"
        );
        assert_eq!(
            position_range(Some(11), None, 10),
            Err(RangeError::BeyondHead { from: 11, head: 10 })
        );
        assert_eq!(
            position_range(Some(3), Some(1), 10),
            Err(RangeError::Reversed { from: 3, to: 1 })
        );
    }
}

#[cfg(test)]
mod decoded_tests {
    use super::DecodedData;

    /// The first reader decodes, later readers of the same copy share its result; a
    /// failure keeps nothing, and a reader of another type decodes for itself.
    #[test]
    fn data_is_decoded_once_per_copy_and_shared() {
        let shared = DecodedData::default();
        let failed: Result<u32, &str> = shared.get_or_decode(|| Err("bad data"));
        assert_eq!(failed, Err("bad data"));
        let first: Result<u32, &str> = shared.get_or_decode(|| Ok(7));
        assert_eq!(first, Ok(7));
        let again: Result<u32, &str> = shared.get_or_decode(|| panic!("decoded twice"));
        assert_eq!(again, Ok(7));
        let other: Result<String, &str> = shared.get_or_decode(|| Ok("outline".to_owned()));
        assert_eq!(other.as_deref(), Ok("outline"));
        let still: Result<u32, &str> = shared.get_or_decode(|| panic!("decoded twice"));
        assert_eq!(still, Ok(7), "the first type stays shared");
        let copy = shared.clone();
        let cloned: Result<u32, &str> = copy.get_or_decode(|| panic!("a clone shares it"));
        assert_eq!(cloned, Ok(7));
    }
}
