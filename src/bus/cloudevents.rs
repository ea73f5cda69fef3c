//! CloudEvents 1.0 in NATS binary mode: attributes as `ce-` headers, the event data as the
//! payload. Extension attribute names are lower-case alphanumerics, as the spec requires.

use async_nats::HeaderMap;

use crate::store::RecordedEvent;
use crate::store::codec::format_timestamp;

pub const SPEC_VERSION: &str = "1.0";

/// The headers of one published event.
pub fn headers(event: &RecordedEvent, source: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let id = event.id.to_string();
    headers.insert("ce-specversion", SPEC_VERSION);
    headers.insert("ce-id", id.as_str());
    headers.insert("ce-source", source);
    headers.insert("ce-type", event.event_type.as_str());
    headers.insert("ce-time", format_timestamp(&event.occurred_at).as_str());
    headers.insert("ce-subject", event.stream.as_str());
    headers.insert(
        "ce-dataschema",
        dataschema(&event.event_type, event.schema_version).as_str(),
    );
    headers.insert("ce-sequence", event.position.to_string().as_str());
    headers.insert(
        "ce-streamversion",
        event.stream_version.to_string().as_str(),
    );
    headers.insert(
        "ce-correlationid",
        event.correlation_id.to_string().as_str(),
    );
    headers.insert("ce-causationid", event.causation_id.to_string().as_str());
    headers.insert("ce-actorid", event.actor.id.as_str());
    headers.insert("ce-actorrole", event.actor.role.as_str());
    headers.insert(
        "ce-recordedtime",
        format_timestamp(&event.recorded_at).as_str(),
    );
    headers.insert("ce-hash", event.hash.to_hex().as_str());
    headers.insert("ce-prevhash", event.prev_hash.to_hex().as_str());
    headers.insert("content-type", "application/json");
    headers.insert(async_nats::header::NATS_MESSAGE_ID, id.as_str());
    headers
}

/// The schema of an event type, as a path under the repository's `schemas/`.
pub fn dataschema(event_type: &str, schema_version: u32) -> String {
    format!("/schemas/events/{event_type}.v{schema_version}.json")
}
