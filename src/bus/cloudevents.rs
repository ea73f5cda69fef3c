//! CloudEvents 1.0 in NATS binary mode: attributes as `ce-` headers, the event data as the
//! payload. Extension attribute names are lower-case alphanumerics, as the spec requires.
//! Beside them, the two JetStream headers the publisher relies on: `Nats-Msg-Id` (duplicates
//! are dropped) and `Nats-Expected-Last-Sequence` (nothing lands after a missing message).

use async_nats::HeaderMap;
use async_nats::header::{HeaderName, NATS_EXPECTED_LAST_SEQUENCE, NATS_MESSAGE_ID};
use uuid::Uuid;

use crate::store::RecordedEvent;
use crate::store::codec::format_timestamp;

pub const SPEC_VERSION: &str = "1.0";

// Names built once, at compile time: a name parsed from a string is validated and
// copied for every event.
const SPECVERSION: HeaderName = HeaderName::from_static("ce-specversion");
const ID: HeaderName = HeaderName::from_static("ce-id");
const SOURCE: HeaderName = HeaderName::from_static("ce-source");
const TYPE: HeaderName = HeaderName::from_static("ce-type");
const TIME: HeaderName = HeaderName::from_static("ce-time");
const SUBJECT: HeaderName = HeaderName::from_static("ce-subject");
const DATASCHEMA: HeaderName = HeaderName::from_static("ce-dataschema");
const SEQUENCE: HeaderName = HeaderName::from_static("ce-sequence");
const STREAMVERSION: HeaderName = HeaderName::from_static("ce-streamversion");
const CORRELATIONID: HeaderName = HeaderName::from_static("ce-correlationid");
const CAUSATIONID: HeaderName = HeaderName::from_static("ce-causationid");
const ACTORID: HeaderName = HeaderName::from_static("ce-actorid");
const ACTORROLE: HeaderName = HeaderName::from_static("ce-actorrole");
const RECORDEDTIME: HeaderName = HeaderName::from_static("ce-recordedtime");
const HASH: HeaderName = HeaderName::from_static("ce-hash");
const PREVHASH: HeaderName = HeaderName::from_static("ce-prevhash");
const CONTENT_TYPE: HeaderName = HeaderName::from_static("content-type");

/// The headers of one published event; `expected_last_sequence` is the stream sequence
/// of the message published just before it (0 for the first message of a stream).
pub fn headers(event: &RecordedEvent, source: &str, expected_last_sequence: u64) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let id = uuid_text(&event.id);
    headers.insert(SPECVERSION, SPEC_VERSION);
    headers.insert(NATS_MESSAGE_ID, id.as_str());
    headers.insert(ID, id);
    headers.insert(SOURCE, source);
    headers.insert(TYPE, event.event_type.as_str());
    headers.insert(TIME, format_timestamp(&event.occurred_at));
    headers.insert(SUBJECT, event.stream.as_str());
    headers.insert(
        DATASCHEMA,
        dataschema(&event.event_type, event.schema_version),
    );
    headers.insert(SEQUENCE, event.position.to_string());
    headers.insert(STREAMVERSION, event.stream_version.to_string());
    headers.insert(CORRELATIONID, uuid_text(&event.correlation_id));
    headers.insert(CAUSATIONID, uuid_text(&event.causation_id));
    headers.insert(ACTORID, event.actor.id.as_str());
    headers.insert(ACTORROLE, event.actor.role.as_str());
    headers.insert(RECORDEDTIME, format_timestamp(&event.recorded_at));
    headers.insert(HASH, event.hash.to_hex());
    headers.insert(PREVHASH, event.prev_hash.to_hex());
    headers.insert(CONTENT_TYPE, "application/json");
    headers.insert(
        NATS_EXPECTED_LAST_SEQUENCE,
        expected_last_sequence.to_string(),
    );
    headers
}

/// The hyphenated lower-case form, as `Uuid`'s `Display` writes it, without the
/// formatting machinery.
pub fn uuid_text(id: &Uuid) -> String {
    id.hyphenated()
        .encode_lower(&mut Uuid::encode_buffer())
        .to_owned()
}

/// The schema of an event type, as a path under the repository's `schemas/`.
pub fn dataschema(event_type: &str, schema_version: u32) -> String {
    format!("/schemas/events/{event_type}.v{schema_version}.json")
}
