//! The stored record and the hash chain.
//!
//! A record is `[format=1][hash: 32][prev_hash: 32][canonical]`, where `canonical` is the
//! RFC 8785 (JCS) serialization of the envelope without `hash` and `prev_hash`, and
//! `hash = blake3(prev_hash ‖ canonical)` — the hashed bytes are contiguous on disk. Storing the canonical bytes themselves means
//! verification hashes exactly what an auditor's off-the-shelf JCS library produces,
//! and replay splices the hashes in without re-serializing.
//!
//! The envelope's canonical bytes are assembled by concatenation in JCS key order
//! (`actor`, `causation_id`, `correlation_id`, `data`, `id`, `occurred_at`, `position`,
//! `recorded_at`, `schema_version`, `stream`, `stream_version`, `type`): the expensive
//! part (canonicalizing `data`) happens in the caller's task via [`PreparedEvent`], the
//! writer only splices in what it assigns. A test checks the result byte for byte
//! against a JCS library.

use chrono::{DateTime, Datelike, SecondsFormat, Timelike, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;
use uuid::Uuid;

use super::error::AppendError;
use super::types::{Actor, NewEvent, RecordedEvent};

/// Format byte of a stored record.
pub const RECORD_FORMAT: u8 = 1;
/// Header length: format byte and two hashes.
pub const RECORD_HEADER_BYTES: usize = 1 + 32 + 32;
/// Largest canonical event accepted. Keeps every sled page far below sled's blob
/// threshold (segment size / 4), so all data lives in the one file the writer fsyncs.
pub const EVENT_BYTES_MAX: usize = 64 * 1024;
/// Largest stream name, in bytes.
pub const STREAM_NAME_BYTES_MAX: usize = 200;
/// Largest event type, in bytes.
pub const EVENT_TYPE_BYTES_MAX: usize = 100;
/// Integers beyond this magnitude are not exact IEEE doubles, so JCS would change them.
const JSON_SAFE_INTEGER_MAX: u64 = (1 << 53) - 1;

/// A 32-byte BLAKE3 hash, shown and serialized as lower-case hex.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct HashBytes(pub [u8; 32]);

impl schemars::JsonSchema for HashBytes {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "HashBytes".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "BLAKE3 hash, 64 lowercase hex digits",
            "pattern": "^[0-9a-f]{64}$"
        })
    }
}

impl HashBytes {
    /// The `prev_hash` of position 1.
    pub const ZERO: HashBytes = HashBytes([0; 32]);

    pub fn to_hex(&self) -> String {
        let mut text = [0u8; 64];
        hex::encode_to_slice(self.0, &mut text).expect("64 hex digits for 32 bytes");
        String::from_utf8(text.to_vec()).expect("hex digits are ASCII")
    }

    pub fn from_hex(text: &str) -> Result<Self, hex::FromHexError> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text, &mut bytes)?;
        Ok(HashBytes(bytes))
    }
}

impl std::fmt::Debug for HashBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl std::fmt::Display for HashBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl Serialize for HashBytes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for HashBytes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        HashBytes::from_hex(&text).map_err(serde::de::Error::custom)
    }
}

/// `blake3(prev_hash ‖ canonical)`.
pub fn chain_hash(prev_hash: &HashBytes, canonical: &[u8]) -> HashBytes {
    let mut hasher = blake3::Hasher::new();
    hasher.update(&prev_hash.0);
    hasher.update(canonical);
    HashBytes(*hasher.finalize().as_bytes())
}

/// RFC 3339 with microseconds and `Z`: the one timestamp form stored.
pub fn format_timestamp(instant: &DateTime<Utc>) -> String {
    // Every event carries several timestamps; chrono's general formatter is a visible
    // share of the publisher's time. Years 0-9999 without a leap second are written
    // directly, byte for byte what chrono writes (a property test compares them).
    let (date, time) = (instant.date_naive(), instant.time());
    let (year, nanos) = (date.year(), time.nanosecond());
    if !(0..=9999).contains(&year) || nanos >= 1_000_000_000 {
        return instant.to_rfc3339_opts(SecondsFormat::Micros, true);
    }
    let mut out = *b"0000-00-00T00:00:00.000000Z";
    let mut put = |at: usize, width: usize, mut value: u32| {
        for slot in out[at..at + width].iter_mut().rev() {
            *slot = b'0' + (value % 10) as u8;
            value /= 10;
        }
    };
    put(0, 4, year as u32);
    put(5, 2, date.month());
    put(8, 2, date.day());
    put(11, 2, time.hour());
    put(14, 2, time.minute());
    put(17, 2, time.second());
    put(20, 6, nanos / 1_000);
    String::from_utf8(out.to_vec()).expect("ASCII digits")
}

/// Serializes a timestamp in the stored form ([`format_timestamp`]).
pub fn serialize_timestamp<S: Serializer>(
    instant: &DateTime<Utc>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&format_timestamp(instant))
}

/// Drops sub-microsecond precision, so a stored timestamp reads back equal.
pub fn truncate_to_micros(instant: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(instant.timestamp_micros())
        .expect("micros of a valid instant are valid")
}

/// A view of a stored record.
#[derive(Debug, Clone, Copy)]
pub struct RawRecord<'a> {
    pub prev_hash: HashBytes,
    pub hash: HashBytes,
    pub canonical: &'a [u8],
    /// `prev_hash ‖ canonical`, exactly the bytes the hash covers.
    chained: &'a [u8],
}

impl<'a> RawRecord<'a> {
    /// Splits stored bytes into header and canonical body; `None` if they are not a record.
    pub fn decode(bytes: &'a [u8]) -> Option<RawRecord<'a>> {
        if bytes.len() < RECORD_HEADER_BYTES + 2 || bytes[0] != RECORD_FORMAT {
            return None;
        }
        let hash = HashBytes(bytes[1..33].try_into().ok()?);
        let prev_hash = HashBytes(bytes[33..65].try_into().ok()?);
        Some(RawRecord {
            prev_hash,
            hash,
            canonical: &bytes[RECORD_HEADER_BYTES..],
            chained: &bytes[33..],
        })
    }

    /// True when the stored hash matches `blake3(prev_hash ‖ canonical)`.
    pub fn content_matches_hash(&self) -> bool {
        blake3::hash(self.chained).as_bytes() == &self.hash.0
    }

    /// The full envelope as one JSON object (the canonical fields, then `prev_hash`, `hash`).
    pub fn envelope_json(&self) -> Vec<u8> {
        let body = &self.canonical[..self.canonical.len() - 1];
        let mut out = Vec::with_capacity(self.canonical.len() + 160);
        out.extend_from_slice(body);
        out.extend_from_slice(b",\"prev_hash\":\"");
        out.extend_from_slice(self.prev_hash.to_hex().as_bytes());
        out.extend_from_slice(b"\",\"hash\":\"");
        out.extend_from_slice(self.hash.to_hex().as_bytes());
        out.extend_from_slice(b"\"}");
        out
    }

    /// Parses the canonical body into a typed envelope.
    pub fn parse(&self) -> Result<RecordedEvent, serde_json::Error> {
        let body: EnvelopeBody = serde_json::from_slice(self.canonical)?;
        Ok(RecordedEvent {
            id: body.id,
            stream: body.stream,
            stream_version: body.stream_version,
            position: body.position,
            event_type: body.event_type,
            schema_version: body.schema_version,
            occurred_at: body.occurred_at,
            recorded_at: body.recorded_at,
            actor: body.actor,
            correlation_id: body.correlation_id,
            causation_id: body.causation_id,
            data: body.data,
            prev_hash: self.prev_hash,
            hash: self.hash,
            decoded: Default::default(),
        })
    }
}

/// Encodes a record for storage.
pub fn encode_record(prev_hash: &HashBytes, hash: &HashBytes, canonical: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(RECORD_HEADER_BYTES + canonical.len());
    out.push(RECORD_FORMAT);
    out.extend_from_slice(&hash.0);
    out.extend_from_slice(&prev_hash.0);
    out.extend_from_slice(canonical);
    out
}

#[derive(Deserialize)]
struct EnvelopeBody {
    actor: Actor,
    causation_id: Uuid,
    correlation_id: Uuid,
    data: Box<RawValue>,
    id: Uuid,
    occurred_at: DateTime<Utc>,
    position: u64,
    recorded_at: DateTime<Utc>,
    schema_version: u32,
    stream: String,
    stream_version: u64,
    #[serde(rename = "type")]
    event_type: String,
}

/// Only the position of a canonical body, for verification without a full parse.
#[derive(Deserialize)]
pub struct BodyPosition {
    pub position: u64,
}

/// An event validated and pre-serialized in the caller's task; the writer only
/// splices in stream version, position and `recorded_at`.
#[derive(Debug, Clone)]
pub struct PreparedEvent {
    pub id: Uuid,
    /// Canonical bytes from `{` up to and including `"position":`.
    head: String,
    /// `,"schema_version":N,"stream":"S","stream_version":`
    middle: String,
    /// `,"type":"T"}`
    tail: String,
}

impl PreparedEvent {
    /// Validates an event for `stream` and serializes everything the caller knows.
    pub fn prepare(stream: &str, event: &NewEvent) -> Result<PreparedEvent, AppendError> {
        validate_stream_name(stream)?;
        validate_event_type(&event.event_type)?;
        if !event.data.is_object() {
            return Err(AppendError::invalid(
                event.id,
                "data",
                "event data must be a JSON object",
            ));
        }
        check_safe_integers(&event.data).map_err(|path| {
            AppendError::invalid(
                event.id,
                &format!("data{path}"),
                "integer beyond ±(2^53-1) cannot be stored exactly in canonical JSON (RFC 8785); send it as a string",
            )
        })?;
        let year = chrono::Datelike::year(&event.occurred_at);
        if !(1900..=9999).contains(&year) {
            return Err(AppendError::invalid(
                event.id,
                "occurred_at",
                "occurred_at must be between the years 1900 and 9999",
            ));
        }
        let data = match canonical_without_floats(&event.data) {
            Some(data) => data,
            None => serde_json_canonicalizer::to_string(&event.data).map_err(|err| {
                AppendError::invalid(
                    event.id,
                    "data",
                    &format!("data cannot be canonicalized: {err}"),
                )
            })?,
        };
        let head = format!(
            "{{\"actor\":{{\"id\":{},\"role\":{}}},\"causation_id\":\"{}\",\"correlation_id\":\"{}\",\"data\":{},\"id\":\"{}\",\"occurred_at\":\"{}\",\"position\":",
            json_string(&event.actor.id),
            json_string(&event.actor.role),
            event.causation_id,
            event.correlation_id,
            data,
            event.id,
            format_timestamp(&truncate_to_micros(event.occurred_at)),
        );
        let middle = format!(
            ",\"schema_version\":{},\"stream\":{},\"stream_version\":",
            event.schema_version,
            json_string(stream)
        );
        let tail = format!(",\"type\":{}}}", json_string(&event.event_type));
        let prepared = PreparedEvent {
            id: event.id,
            head,
            middle,
            tail,
        };
        if prepared.canonical_len_max() > EVENT_BYTES_MAX {
            return Err(AppendError::EventTooLarge {
                event_id: event.id,
                bytes: prepared.canonical_len_max(),
                max_bytes: EVENT_BYTES_MAX,
            });
        }
        Ok(prepared)
    }

    /// Upper bound of the canonical length once position, version and time are spliced in.
    pub fn canonical_len_max(&self) -> usize {
        self.head.len() + self.middle.len() + self.tail.len() + 20 + 20 + 64
    }

    /// The canonical bytes of the envelope with the writer's assignments.
    pub fn canonical(
        &self,
        stream_version: u64,
        position: u64,
        recorded_at: &DateTime<Utc>,
    ) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.canonical_len_max());
        self.write_canonical(
            &mut out,
            stream_version,
            position,
            &format_timestamp(recorded_at),
        );
        out
    }

    /// The stored record (see the module docs) and its hash, built in one buffer: the
    /// writer's hot path. `recorded_at` is the formatted timestamp, shared by a batch.
    pub fn record(
        &self,
        prev_hash: &HashBytes,
        stream_version: u64,
        position: u64,
        recorded_at: &str,
    ) -> (Vec<u8>, HashBytes) {
        let mut out = Vec::with_capacity(RECORD_HEADER_BYTES + self.canonical_len_max());
        out.push(RECORD_FORMAT);
        out.extend_from_slice(&[0; 32]);
        out.extend_from_slice(&prev_hash.0);
        self.write_canonical(&mut out, stream_version, position, recorded_at);
        // prev_hash ‖ canonical is contiguous from byte 33: exactly what the hash covers.
        let hash = HashBytes(*blake3::hash(&out[33..]).as_bytes());
        out[1..33].copy_from_slice(&hash.0);
        (out, hash)
    }

    fn write_canonical(
        &self,
        out: &mut Vec<u8>,
        stream_version: u64,
        position: u64,
        recorded_at: &str,
    ) {
        assert!(
            position <= JSON_SAFE_INTEGER_MAX && stream_version <= JSON_SAFE_INTEGER_MAX,
            "position {position} / version {stream_version} beyond 2^53"
        );
        use std::io::Write;
        out.extend_from_slice(self.head.as_bytes());
        let _ = write!(out, "{position}");
        out.extend_from_slice(b",\"recorded_at\":\"");
        out.extend_from_slice(recorded_at.as_bytes());
        out.push(b'"');
        out.extend_from_slice(self.middle.as_bytes());
        let _ = write!(out, "{stream_version}");
        out.extend_from_slice(self.tail.as_bytes());
    }
}

/// RFC 8785 canonical JSON of a value without floating-point numbers (None when it has
/// one: the number rules of RFC 8785 are left to `serde_json_canonicalizer`). Cheaper
/// than the general library, which builds and sorts an intermediate form of every
/// object, and byte-identical to it (a property test compares them): members sorted by
/// their UTF-16 code units, strings escaped as `json_string` does, integers in
/// decimal, no whitespace.
pub fn canonical_without_floats(value: &serde_json::Value) -> Option<String> {
    fn write(value: &serde_json::Value, out: &mut Vec<u8>) -> Option<()> {
        use serde_json::Value;
        match value {
            Value::Null => out.extend_from_slice(b"null"),
            Value::Bool(true) => out.extend_from_slice(b"true"),
            Value::Bool(false) => out.extend_from_slice(b"false"),
            Value::Number(n) => match (n.as_i64(), n.as_u64()) {
                (Some(i), _) => out.extend_from_slice(i.to_string().as_bytes()),
                (None, Some(u)) => out.extend_from_slice(u.to_string().as_bytes()),
                (None, None) => return None,
            },
            Value::String(text) => {
                serde_json::to_writer(&mut *out, text).expect("writing to a Vec never fails")
            }
            Value::Array(items) => {
                out.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write(item, out)?;
                }
                out.push(b']');
            }
            Value::Object(map) => {
                let mut members: Vec<(&String, &Value)> = map.iter().collect();
                // UTF-8 byte order is code point order, which is UTF-16 order unless a
                // key holds a character from U+E000 up (surrogate pairs sort below it).
                if members
                    .iter()
                    .any(|(k, _)| k.chars().any(|c| c >= '\u{e000}'))
                {
                    members.sort_unstable_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
                } else {
                    members.sort_unstable_by(|a, b| a.0.cmp(b.0));
                }
                out.push(b'{');
                for (i, (key, item)) in members.into_iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    serde_json::to_writer(&mut *out, key).expect("writing to a Vec never fails");
                    out.push(b':');
                    write(item, out)?;
                }
                out.push(b'}');
            }
        }
        Some(())
    }
    let mut out = Vec::with_capacity(256);
    write(value, &mut out)?;
    Some(String::from_utf8(out).expect("JSON text is UTF-8"))
}

/// A JSON string literal; serde_json's escaping is the JCS escaping for Rust strings
/// (short escapes for \b \t \n \f \r, lower-case \u00xx for other controls, nothing else).
fn json_string(text: &str) -> String {
    serde_json::to_string(text).expect("a string always serializes")
}

/// Stream names: `<aggregate>-<id>` in `[A-Za-z0-9_-]`, because they become NATS subject tokens.
pub fn validate_stream_name(stream: &str) -> Result<(), AppendError> {
    let valid_chars = stream
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    let has_aggregate = stream
        .find('-')
        .is_some_and(|dash| dash > 0 && dash + 1 < stream.len());
    if stream.is_empty() || stream.len() > STREAM_NAME_BYTES_MAX || !valid_chars || !has_aggregate {
        return Err(AppendError::InvalidStream {
            stream: stream.chars().take(STREAM_NAME_BYTES_MAX).collect(),
            reason: format!(
                "stream names are `<aggregate>-<id>`, 3 to {STREAM_NAME_BYTES_MAX} bytes of A-Z, a-z, 0-9, '-' and '_' (e.g. incident-0190c6f2-…)"
            ),
        });
    }
    Ok(())
}

/// Event types: `<aggregate>.<fact>` in lower-case `[a-z0-9_]` segments.
pub fn validate_event_type(event_type: &str) -> Result<(), AppendError> {
    let segments_ok = event_type.split('.').all(|seg| {
        !seg.is_empty()
            && seg
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    });
    if event_type.len() > EVENT_TYPE_BYTES_MAX || !event_type.contains('.') || !segments_ok {
        return Err(AppendError::InvalidEventType {
            event_type: event_type.chars().take(EVENT_TYPE_BYTES_MAX).collect(),
            reason: format!(
                "event types are `<aggregate>.<fact>`, lower-case a-z, 0-9 and '_', at most {EVENT_TYPE_BYTES_MAX} bytes (e.g. incident.opened)"
            ),
        });
    }
    Ok(())
}

/// Finds the JSON pointer of the first integer that JCS would not preserve.
fn check_safe_integers(value: &serde_json::Value) -> Result<(), String> {
    match value {
        serde_json::Value::Number(n) => {
            let unsafe_int = n.as_u64().is_some_and(|u| u > JSON_SAFE_INTEGER_MAX)
                || n.as_i64()
                    .is_some_and(|i| i.unsigned_abs() > JSON_SAFE_INTEGER_MAX);
            if unsafe_int {
                Err(String::new())
            } else {
                Ok(())
            }
        }
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, item)| check_safe_integers(item).map_err(|p| format!("/{i}{p}"))),
        serde_json::Value::Object(map) => map.iter().try_for_each(|(key, item)| {
            check_safe_integers(item)
                .map_err(|p| format!("/{}{p}", key.replace('~', "~0").replace('/', "~1")))
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    /// Text that exercises JCS: controls, quotes, backslashes, DEL, U+2028, the
    /// U+E000..U+FFFF range and characters beyond the BMP (surrogate pairs in UTF-16).
    fn tricky_text() -> impl Strategy<Value = String> {
        let chars = prop_oneof![
            Just('a'),
            Just('Z'),
            Just('"'),
            Just('\\'),
            Just('/'),
            Just('\u{7f}'),
            Just('\u{2028}'),
            Just('é'),
            Just('\u{e000}'),
            Just('\u{ffff}'),
            Just('\u{fb01}'),
            Just('\u{10000}'),
            Just('😀'),
            (0u32..0x20).prop_map(|c| char::from_u32(c).expect("a control character")),
            any::<char>(),
        ];
        prop::collection::vec(chars, 0..6).prop_map(|cs| cs.into_iter().collect())
    }

    fn json_without_floats() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::Bool),
            (-(1i64 << 53)..=(1i64 << 53)).prop_map(|i| json!(i)),
            tricky_text().prop_map(serde_json::Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::Array),
                prop::collection::btree_map(tricky_text(), inner, 0..6)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// The direct timestamp writer matches chrono's RFC 3339 (micros, `Z`) over
        /// the whole range chrono represents, leap seconds included.
        #[test]
        fn timestamps_are_written_as_chrono_writes_them(
            micros in -8_000_000_000_000_000_000i64..8_000_000_000_000_000_000i64,
            near_now in 0i64..4_102_444_800_000_000,
            leap in any::<bool>(),
        ) {
            for micros in [micros / 30, near_now] {
                let Some(instant) = DateTime::<Utc>::from_timestamp_micros(micros) else { continue };
                prop_assert_eq!(
                    format_timestamp(&instant),
                    instant.to_rfc3339_opts(SecondsFormat::Micros, true)
                );
                // A leap second (nanoseconds past 1e9) at the end of a minute.
                if leap {
                    let base = instant.timestamp() - instant.timestamp().rem_euclid(60) + 59;
                    if let Some(leap) = DateTime::<Utc>::from_timestamp(base, 1_000_000_000 + 1_000) {
                        prop_assert_eq!(
                            format_timestamp(&leap),
                            leap.to_rfc3339_opts(SecondsFormat::Micros, true)
                        );
                    }
                }
            }
        }

        #[test]
        fn hashes_are_lower_case_hex(bytes in any::<[u8; 32]>()) {
            prop_assert_eq!(HashBytes(bytes).to_hex(), hex::encode(bytes));
        }
    }

    proptest! {
        #[test]
        fn the_fast_canonical_form_is_the_libraries(value in json_without_floats()) {
            let fast = canonical_without_floats(&value).expect("no floats");
            let library = serde_json_canonicalizer::to_string(&value).unwrap();
            prop_assert_eq!(fast, library);
        }
    }

    #[test]
    fn the_fast_canonical_form_sorts_keys_by_utf16_and_leaves_floats_to_the_library() {
        let value =
            json!({"\u{10000}": 1, "\u{e000}": 2, "b": [true, null, -3], "a": {"\n": "\u{1}"}});
        assert_eq!(
            canonical_without_floats(&value).unwrap(),
            serde_json_canonicalizer::to_string(&value).unwrap()
        );
        assert!(canonical_without_floats(&json!({"a": [1, 2.5]})).is_none());
    }

    fn event(actor_id: &str, stream_type: &str, data: serde_json::Value) -> NewEvent {
        NewEvent {
            id: Uuid::from_u128(7),
            event_type: stream_type.to_owned(),
            schema_version: 3,
            occurred_at: DateTime::from_timestamp(1_790_000_000, 123_456_789).unwrap(),
            actor: Actor {
                id: actor_id.to_owned(),
                role: "crisis_lead".to_owned(),
            },
            correlation_id: Uuid::from_u128(8),
            causation_id: Uuid::from_u128(9),
            data,
        }
    }

    /// The spliced bytes equal a JCS library's serialization of the whole envelope.
    fn assert_canonical(actor_id: &str, data: serde_json::Value) {
        let ev = event(actor_id, "incident.opened", data.clone());
        let prepared = PreparedEvent::prepare("incident-abc", &ev).unwrap();
        let recorded_at = DateTime::from_timestamp(1_790_000_100, 5_000).unwrap();
        let bytes = prepared.canonical(4, 9_007_199_254_740_991, &recorded_at);
        let expected = json!({
            "id": ev.id, "stream": "incident-abc", "stream_version": 4, "position": 9_007_199_254_740_991u64,
            "type": "incident.opened", "schema_version": 3,
            "occurred_at": "2026-09-21T14:13:20.123456Z", "recorded_at": "2026-09-21T14:15:00.000005Z",
            "actor": {"id": actor_id, "role": "crisis_lead"},
            "correlation_id": ev.correlation_id, "causation_id": ev.causation_id, "data": data,
        });
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            serde_json_canonicalizer::to_string(&expected).unwrap()
        );
    }

    #[test]
    fn spliced_envelope_is_rfc8785_canonical() {
        assert_canonical(
            "agent-17",
            json!({"b": 1, "a": [1.5, "x\u{1}\n\"é€😀"], "é": null, "A": {"z": true, "y": 1e21}}),
        );
    }

    proptest! {
        #[test]
        fn spliced_envelope_is_canonical_for_any_strings(actor in ".{0,20}", key in ".{0,10}", text in ".{0,30}", n in -1_000_000i64..1_000_000, f in -1e6f64..1e6) {
            assert_canonical(&actor, json!({key: text, "n": n, "f": f}));
        }
    }

    #[test]
    fn record_round_trips_and_chains() {
        let ev = event("agent-1", "complaint.received", json!({"x": 1}));
        let prepared = PreparedEvent::prepare("complaint-1", &ev).unwrap();
        let at = truncate_to_micros(ev.occurred_at);
        let canonical = prepared.canonical(1, 1, &at);
        let hash = chain_hash(&HashBytes::ZERO, &canonical);
        let stored = encode_record(&HashBytes::ZERO, &hash, &canonical);
        let raw = RawRecord::decode(&stored).unwrap();
        assert!(raw.content_matches_hash());
        let parsed = raw.parse().unwrap();
        assert_eq!(
            (parsed.position, parsed.stream_version, parsed.occurred_at),
            (1, 1, at)
        );
        assert_eq!(parsed.data.get(), r#"{"x":1}"#);
        let line: serde_json::Value = serde_json::from_slice(&raw.envelope_json()).unwrap();
        assert_eq!(line["hash"], hash.to_hex());
        assert_eq!(line["prev_hash"], HashBytes::ZERO.to_hex());
        assert_eq!(serde_json::to_value(&parsed).unwrap(), line);
    }

    /// A serialized envelope is the stored one: recomputing its hash from it (as an
    /// auditor does from the HTTP API's answers) gives the stored hash, even for times
    /// whose microseconds end in zeros (chrono alone writes `.647Z` for `.647000Z`).
    #[test]
    fn a_serialized_envelope_hashes_to_its_stored_hash() {
        let mut ev = event("agent-1", "complaint.received", json!({"x": 1}));
        ev.occurred_at = DateTime::from_timestamp(1_790_000_000, 647_000_000).unwrap();
        let prepared = PreparedEvent::prepare("complaint-1", &ev).unwrap();
        let recorded_at = DateTime::from_timestamp(1_790_000_001, 0).unwrap();
        let canonical = prepared.canonical(1, 1, &recorded_at);
        let hash = chain_hash(&HashBytes::ZERO, &canonical);
        let stored = encode_record(&HashBytes::ZERO, &hash, &canonical);
        let parsed = RawRecord::decode(&stored).unwrap().parse().unwrap();
        let mut served = serde_json::to_value(&parsed).unwrap();
        assert_eq!(served["occurred_at"], "2026-09-21T14:13:20.647000Z");
        assert_eq!(served["recorded_at"], "2026-09-21T14:13:21.000000Z");
        let object = served.as_object_mut().unwrap();
        object.remove("hash");
        object.remove("prev_hash");
        let recomputed = serde_json_canonicalizer::to_vec(&served).unwrap();
        assert_eq!(chain_hash(&HashBytes::ZERO, &recomputed), hash);
    }

    #[test]
    fn refuses_what_canonical_json_would_alter() {
        let big = event(
            "a",
            "incident.opened",
            json!({"list": [{"n": 9_007_199_254_740_992u64}]}),
        );
        let err = PreparedEvent::prepare("incident-1", &big).unwrap_err();
        assert!(err.to_string().contains("data/list/0/n"), "{err}");
        assert!(
            PreparedEvent::prepare("incident-1", &event("a", "incident.opened", json!([1])))
                .is_err()
        );
        assert!(
            PreparedEvent::prepare("incident-1", &event("a", "Incident.Opened", json!({})))
                .is_err()
        );
        assert!(
            PreparedEvent::prepare("incident.1", &event("a", "incident.opened", json!({})))
                .is_err()
        );
        assert!(PreparedEvent::prepare("-1", &event("a", "incident.opened", json!({}))).is_err());
        let huge = event(
            "a",
            "incident.opened",
            json!({"t": "x".repeat(EVENT_BYTES_MAX)}),
        );
        assert!(matches!(
            PreparedEvent::prepare("incident-1", &huge),
            Err(AppendError::EventTooLarge { .. })
        ));
    }
}
