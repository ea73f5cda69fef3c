//! Errors at the store boundary. Each variant says what the caller does about it.

use uuid::Uuid;

use super::types::ExpectedVersion;

/// Why an append was not stored. Nothing of a refused append is written.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AppendError {
    /// Optimistic concurrency: reload the stream, decide again, retry.
    #[error("stream {stream} is at {}, expected {expected}: reload it and decide again", actual.map_or("no stream".to_owned(), |v| format!("version {v}")))]
    WrongExpectedVersion {
        stream: String,
        expected: ExpectedVersion,
        actual: Option<u64>,
    },

    /// Some event ids of the request are stored and some are not: a retry must resend
    /// exactly the original request.
    #[error(
        "event {stored} is already stored but {new} is not: a retry must resend exactly the original events"
    )]
    PartiallyStored { stored: Uuid, new: Uuid },

    /// The request itself is malformed; fix the named field.
    #[error("event {event_id}: {field}: {reason}")]
    InvalidEvent {
        event_id: Uuid,
        field: String,
        reason: String,
    },

    #[error("invalid stream name {stream:?}: {reason}")]
    InvalidStream { stream: String, reason: String },

    #[error("invalid event type {event_type:?}: {reason}")]
    InvalidEventType { event_type: String, reason: String },

    #[error("invalid append request: {reason}")]
    InvalidRequest { reason: String },

    #[error(
        "event {event_id} is {bytes} bytes canonical, over the limit of {max_bytes}: store large content elsewhere and reference it"
    )]
    EventTooLarge {
        event_id: Uuid,
        bytes: usize,
        max_bytes: usize,
    },

    /// The store stopped accepting writes (it is shutting down, or a disk write or
    /// fsync failed and the state on disk is uncertain). Restart crisisd: it reopens
    /// from the last durable state.
    #[error("the event store is not accepting writes: {reason}")]
    Unavailable { reason: String },
}

impl AppendError {
    pub(crate) fn invalid(event_id: Uuid, field: &str, reason: &str) -> Self {
        AppendError::InvalidEvent {
            event_id,
            field: field.to_owned(),
            reason: reason.to_owned(),
        }
    }
}

/// Failures of reads, opening and verification.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// sled or the file system failed; the message names the path or operation.
    #[error("storage error: {0}")]
    Storage(String),

    /// The log is damaged; the message says where and which command inspects it.
    #[error("{0}")]
    Damaged(String),

    /// Another process holds the data directory.
    #[error("{0}")]
    Locked(String),
}

impl From<sled::Error> for StoreError {
    fn from(err: sled::Error) -> Self {
        StoreError::Storage(err.to_string())
    }
}

impl From<std::io::Error> for StoreError {
    fn from(err: std::io::Error) -> Self {
        StoreError::Storage(err.to_string())
    }
}
