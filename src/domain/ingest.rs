//! Versioned ingest message formats published by flight-ops and channel systems to
//! `crisis.ingest.flightops`, `crisis.ingest.feedback` and `crisis.ingest.manifest`, and
//! their pure validation.
//!
//! Parsing goes bytes → JSON value → fields one by one, so every refusal names the exact
//! field as a JSON pointer (`/delays/2/minutes`) with a stable code:
//!
//! | code | meaning |
//! |---|---|
//! | `too_large` | the message is over the size limit |
//! | `not_json` | the bytes are not a JSON object |
//! | `duplicate_key` | an object repeats a key (pointer: the second occurrence) |
//! | `unsupported_version` | `v` is not a version this build reads |
//! | `unknown_field` | a field this version does not have (pointer: that field) |
//! | `missing_field` | a required field is absent or null |
//! | `invalid_field` | a field has the wrong type or shape |
//! | `out_of_range` | a value is outside its allowed range, or implausible (below) |
//! | `unknown_airport` | an IATA code the airport table does not know |
//!
//! Unknown fields are refused, not ignored: a sender that adds a field crisisd does not
//! read learns it at once instead of seeing it silently dropped. A new field comes with
//! a new version. A repeated key is refused because JSON readers disagree on which
//! occurrence counts (`ingest_json.rs` finds it while reading).
//!
//! Plausibility, relative to `now` ([`IngestLimits`]; the parse functions are pure and
//! take it as input):
//!
//! | what | bound |
//! |---|---|
//! | `origin_date` (both formats) | from 366 days before to 731 days after today (UTC) |
//! | `received_at`, `notified_at`, `actual_departure`, `actual_arrival` | at most 366 days ago; at most the clock-skew tolerance (default 5 min) ahead of `now` |
//! | `scheduled_arrival` | after `scheduled_departure`, at most 30 h later (block time) |
//! | `origin_date` against `scheduled_departure` | the UTC date of `scheduled_departure`, or the day before or after (the origin date is local to the origin airport, up to 14 h from UTC) |
//!
//! A time within the skew tolerance ahead of `now` is kept as sent in the parsed
//! message (it is part of what the message says, so of its fingerprint, and a redelivery
//! must match); the app takes it as `now` where the domain refuses the future.
//!
//! Passenger free text is personal data: it never appears in a rejection or in `Debug`.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::common::{Category, Channel, FlightKey, PassengerId, PersonalData};
use crate::domain::flight::{DelayCode, FlightStatus};

#[path = "ingest_fields.rs"]
mod fields;
#[path = "ingest_json.rs"]
mod ingest_json;
#[path = "ingest_manifest.rs"]
mod manifest;

pub use manifest::{MANIFEST_BYTES_MAX, ManifestMessageV1, ManifestPassengerV1, parse_manifest};

use fields::Fields;

/// Default size limit of one ingest message.
pub const INGEST_MESSAGE_BYTES_MAX: usize = 64 * 1024;
/// Default tolerance for a sender's clock running ahead of crisisd's, in seconds.
pub const CLOCK_SKEW_S_DEFAULT: u64 = 300;
/// Largest tolerance accepted: a clock an hour off is broken, not skewed.
pub const CLOCK_SKEW_S_MAX: u64 = 3600;
/// Longest scheduled block time: the longest non-stop flights take about 19 h; 30 h
/// leaves room for a through flight with a stop under one flight number.
pub const BLOCK_HOURS_MAX: i64 = 30;
/// Delay codes one flight-ops message may carry.
const DELAYS_MAX: usize = 32;
/// Longest free text (characters) in a feedback message.
const TEXT_CHARS_MAX: usize = 10_000;

/// The fields each format has; any other is `unknown_field`.
const FLIGHT_OPS_FIELDS: &[&str] = &[
    "v",
    "source_message_id",
    "carrier",
    "flight_number",
    "origin_date",
    "origin",
    "destination",
    "scheduled_departure",
    "scheduled_arrival",
    "estimated_departure",
    "estimated_arrival",
    "actual_departure",
    "actual_arrival",
    "arrival_airport",
    "status",
    "delays",
    "change_reason",
    "notified_at",
    "passenger_count",
];
const DELAY_FIELDS: &[&str] = &["code", "minutes"];
const FEEDBACK_FIELDS: &[&str] = &[
    "v",
    "source_message_id",
    "channel",
    "text",
    "passenger_ref",
    "flight",
    "category_hint",
    "received_at",
    "reach",
    "kind",
];
const FLIGHT_REF_FIELDS: &[&str] = &["carrier", "flight_number", "origin_date"];

/// What a message is held against: its size, and the clock it is read by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IngestLimits {
    pub max_bytes: usize,
    /// When the message is read; every time bound is relative to it.
    pub now: DateTime<Utc>,
    /// How far ahead of `now` a sender's clock may run: a time something happened may be
    /// this far in the future.
    pub clock_skew: TimeDelta,
}

impl IngestLimits {
    /// The default limits at `now`.
    pub fn at(now: DateTime<Utc>) -> Self {
        IngestLimits {
            max_bytes: INGEST_MESSAGE_BYTES_MAX,
            now,
            clock_skew: TimeDelta::seconds(CLOCK_SKEW_S_DEFAULT as i64),
        }
    }
}

/// A refused ingest message: what to fix, where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejection {
    pub code: &'static str,
    /// Human message; never quotes personal data.
    pub message: String,
    /// JSON pointer of the offending field (`""`: the whole message).
    pub pointer: String,
    pub source_message_id: Option<String>,
}

/// One delay code with its minutes (IATA AHM 730).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DelayEntry {
    /// Two-digit numeric code, `"00"`–`"99"`.
    #[schemars(regex(pattern = r"^[0-9]{2}$"))]
    pub code: String,
    #[schemars(range(max = 2880))]
    pub minutes: u32,
}

/// `crisis.ingest.flightops`, version 1: what flight ops knows about one flight (as
/// AIDX/MVT messages carry it). Each message is the whole current picture. Fields not
/// listed here are refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FlightOpsMessageV1 {
    /// Format version: 1.
    pub v: u32,
    /// The sender's unique id of this message; redeliveries repeat it.
    pub source_message_id: String,
    /// IATA airline designator, e.g. `LH`.
    pub carrier: String,
    /// 1–4 digits and an optional letter, e.g. `400`.
    pub flight_number: String,
    /// Scheduled departure date at the origin (local): from 366 days before to 731 days
    /// after today, and the UTC date of `scheduled_departure` or the day before or after.
    pub origin_date: NaiveDate,
    pub origin: String,
    pub destination: String,
    pub scheduled_departure: DateTime<Utc>,
    /// After `scheduled_departure`, at most 30 h later.
    pub scheduled_arrival: DateTime<Utc>,
    pub estimated_departure: Option<DateTime<Utc>>,
    pub estimated_arrival: Option<DateTime<Utc>>,
    /// Off-block; at most 366 days ago and not in the future (beyond the clock-skew
    /// tolerance).
    pub actual_departure: Option<DateTime<Utc>>,
    /// On-block; after `actual_departure`; at most 366 days ago and not in the future.
    pub actual_arrival: Option<DateTime<Utc>>,
    /// Where the flight arrived at `actual_arrival`, when not at `destination`: a
    /// diversion. A later message reports the arrival at `destination` (of the flight,
    /// or of its passengers by other means) with this field left out; the delay that
    /// counts for compensation is to that arrival.
    pub arrival_airport: Option<String>,
    pub status: FlightStatus,
    #[serde(default)]
    pub delays: Vec<DelayEntry>,
    /// Operational reason (not personal data); not blank when given.
    pub change_reason: Option<String>,
    /// When passengers were told of the change: at most 366 days ago and not in the
    /// future (beyond the clock-skew tolerance).
    pub notified_at: Option<DateTime<Utc>>,
    #[schemars(range(max = 1000))]
    pub passenger_count: u32,
}

/// A flight named in a feedback message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FlightRef {
    pub carrier: String,
    pub flight_number: String,
    /// From 366 days before to 731 days after today.
    pub origin_date: NaiveDate,
}

/// `crisis.ingest.feedback`, version 1: one message from a customer channel. Fields not
/// listed here are refused.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FeedbackMessageV1 {
    pub v: u32,
    pub source_message_id: String,
    pub channel: Channel,
    /// The customer's words (personal data).
    pub text: PersonalData<String>,
    /// Loyalty or customer number (pseudonymous; never a name or e-mail address).
    #[schemars(regex(pattern = r"^[A-Za-z0-9._-]{1,64}$"))]
    pub passenger_ref: Option<String>,
    pub flight: Option<FlightRef>,
    pub category_hint: Option<Category>,
    /// When the channel received the message; complaint service levels count from it.
    /// At most 366 days ago and not in the future (beyond the clock-skew tolerance).
    pub received_at: DateTime<Utc>,
    /// Audience of the message, e.g. followers of a social post.
    pub reach: Option<u64>,
    /// What the message is: `complaint` (needs `passenger_ref` and a `category_hint`
    /// other than `other`), `inquiry` (a question: a signal only) or `suggestion` (an
    /// idea: also a suggestion in its own loop). Left out: a complaint when an
    /// identified passenger names a problem, else an inquiry.
    #[serde(default)]
    pub kind: Option<crate::domain::common::FeedbackKind>,
}

impl std::fmt::Debug for FeedbackMessageV1 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FeedbackMessageV1")
            .field("source_message_id", &self.source_message_id)
            .field("channel", &self.channel)
            .field("text", &self.text)
            .field(
                "passenger_ref",
                &self.passenger_ref.as_ref().map(|_| "<pseudonymous id>"),
            )
            .field("flight", &self.flight)
            .field("category_hint", &self.category_hint)
            .field("received_at", &self.received_at)
            .finish()
    }
}

impl FlightOpsMessageV1 {
    /// The flight this message is about.
    pub fn flight_key(&self) -> FlightKey {
        FlightKey::new(&self.carrier, &self.flight_number, self.origin_date)
            .expect("validated when parsed")
    }
}

impl FlightRef {
    pub fn flight_key(&self) -> FlightKey {
        FlightKey::new(&self.carrier, &self.flight_number, self.origin_date)
            .expect("validated when parsed")
    }
}

/// Size, JSON, repeated keys, version and source id: the checks every format shares.
fn envelope<'a>(
    bytes: &[u8],
    limits: &'a IngestLimits,
    value: &'a mut Value,
) -> Result<Fields<'a>, Rejection> {
    let whole = |code, message: String| Rejection {
        code,
        message,
        pointer: String::new(),
        source_message_id: None,
    };
    if bytes.len() > limits.max_bytes {
        return Err(whole(
            "too_large",
            format!(
                "the message is {} bytes, over the limit of {}",
                bytes.len(),
                limits.max_bytes
            ),
        ));
    }
    let read = ingest_json::read(bytes)
        .ok_or_else(|| whole("not_json", "the message is not valid JSON".into()))?;
    *value = read.value;
    let object = value
        .as_object()
        .ok_or_else(|| whole("not_json", "the message must be a JSON object".into()))?;
    let source_id = object
        .get("source_message_id")
        .and_then(Value::as_str)
        .filter(|s| valid_source_id(s))
        .map(str::to_owned);
    let fields = Fields {
        object,
        base: String::new(),
        source_id,
        limits,
    };
    if let Some(pointer) = read.duplicate_key {
        return Err(Rejection {
            code: "duplicate_key",
            message: "this key repeats an earlier key of its object; JSON readers disagree on which one counts, so send each key once".into(),
            pointer,
            source_message_id: fields.source_id.clone(),
        });
    }
    match fields.required("v")?.as_u64() {
        Some(1) => {}
        _ => {
            return Err(fields.reject(
                "unsupported_version",
                "v",
                "this build reads version 1 (\"v\": 1)".into(),
            ));
        }
    }
    let id = fields.required_string("source_message_id", 128)?;
    if !valid_source_id(id) {
        return Err(fields.reject(
            "invalid_field",
            "source_message_id",
            "source_message_id must be 1-128 printable ASCII characters".into(),
        ));
    }
    Ok(fields)
}

fn valid_source_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_graphic())
}

fn flight_key(fields: &Fields<'_>, date: NaiveDate) -> Result<(String, String), Rejection> {
    let carrier = fields.required_string("carrier", 3)?;
    let number = fields.required_string("flight_number", 5)?;
    FlightKey::new(carrier, number, date).map_err(|why| {
        let field = if why.starts_with("carrier") {
            "carrier"
        } else {
            "flight_number"
        };
        fields.reject("invalid_field", field, why)
    })?;
    Ok((carrier.to_owned(), number.to_owned()))
}

/// Parses and validates a flight-ops message read at `limits.now`.
pub fn parse_flight_ops(
    bytes: &[u8],
    limits: &IngestLimits,
    is_known_airport: &dyn Fn(&str) -> bool,
) -> Result<FlightOpsMessageV1, Rejection> {
    let mut value = Value::Null;
    let f = envelope(bytes, limits, &mut value)?;
    f.only(FLIGHT_OPS_FIELDS)?;
    let origin_date = f.origin_date("origin_date")?;
    let (carrier, flight_number) = flight_key(&f, origin_date)?;
    let origin = f.airport("origin", is_known_airport)?;
    let destination = f.airport("destination", is_known_airport)?;
    if origin == destination {
        return Err(f.reject(
            "invalid_field",
            "destination",
            "destination must differ from origin".into(),
        ));
    }
    let (scheduled_departure, scheduled_arrival) = schedule(&f, origin_date)?;
    let (actual_departure, actual_arrival) = (
        f.happened("actual_departure")?,
        f.happened("actual_arrival")?,
    );
    if let (Some(dep), Some(arr)) = (actual_departure, actual_arrival)
        && arr <= dep
    {
        return Err(f.reject(
            "out_of_range",
            "actual_arrival",
            "actual_arrival must be after actual_departure".into(),
        ));
    }
    let status = f
        .enumeration(
            "status",
            "on_time, delayed, cancelled, diverted, return_to_ramp",
        )?
        .ok_or_else(|| f.reject("missing_field", "status", "status is required".into()))?;
    let delays = delays(&f)?;
    let change_reason = f.string("change_reason", 500)?;
    if change_reason.is_some_and(|reason| reason.trim().is_empty()) {
        return Err(f.reject(
            "invalid_field",
            "change_reason",
            "change_reason must say the reason; leave it out if there is none".into(),
        ));
    }
    Ok(FlightOpsMessageV1 {
        v: 1,
        source_message_id: f.source_id.clone().expect("checked by envelope"),
        carrier,
        flight_number,
        origin_date,
        origin,
        destination,
        scheduled_departure,
        scheduled_arrival,
        estimated_departure: f.time("estimated_departure")?,
        estimated_arrival: f.time("estimated_arrival")?,
        actual_departure,
        actual_arrival,
        arrival_airport: match f.optional_airport("arrival_airport", is_known_airport)? {
            Some(_) if actual_arrival.is_none() => {
                return Err(f.reject(
                    "invalid_field",
                    "arrival_airport",
                    "arrival_airport says where actual_arrival happened; give actual_arrival too"
                        .into(),
                ));
            }
            airport => airport,
        },
        status,
        delays,
        change_reason: change_reason.map(str::to_owned),
        notified_at: f.happened("notified_at")?,
        passenger_count: f.number("passenger_count", 1000)?.ok_or_else(|| {
            f.reject(
                "missing_field",
                "passenger_count",
                "passenger_count is required".into(),
            )
        })? as u32,
    })
}

/// The scheduled departure and arrival: in order, a plausible block time, and a
/// departure on the origin date (which is local, so one day either side of the UTC date).
fn schedule(
    f: &Fields<'_>,
    origin_date: NaiveDate,
) -> Result<(DateTime<Utc>, DateTime<Utc>), Rejection> {
    let departure = f.required_time("scheduled_departure")?;
    let arrival = f.required_time("scheduled_arrival")?;
    if arrival <= departure {
        return Err(f.reject(
            "out_of_range",
            "scheduled_arrival",
            "scheduled_arrival must be after scheduled_departure".into(),
        ));
    }
    if arrival - departure > TimeDelta::hours(BLOCK_HOURS_MAX) {
        return Err(f.reject(
            "out_of_range",
            "scheduled_arrival",
            format!(
                "scheduled_arrival is {} h after scheduled_departure; a scheduled block time is at most {BLOCK_HOURS_MAX} h",
                (arrival - departure).num_hours()
            ),
        ));
    }
    if (origin_date - departure.date_naive()).num_days().abs() > 1 {
        return Err(f.reject(
            "out_of_range",
            "origin_date",
            format!(
                "origin_date must be the scheduled departure's date at the origin: {} (UTC) or the day before or after",
                departure.date_naive()
            ),
        ));
    }
    Ok((departure, arrival))
}

fn delays(f: &Fields<'_>) -> Result<Vec<DelayEntry>, Rejection> {
    match f.value("delays") {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) if items.len() <= DELAYS_MAX => items
            .iter()
            .enumerate()
            .map(|(i, item)| delay(f, i, item))
            .collect(),
        Some(Value::Array(_)) => Err(f.reject(
            "out_of_range",
            "delays",
            format!("at most {DELAYS_MAX} delay codes"),
        )),
        Some(_) => Err(f.reject(
            "invalid_field",
            "delays",
            "delays must be an array of {\"code\", \"minutes\"}".into(),
        )),
    }
}

fn delay(f: &Fields<'_>, index: usize, item: &Value) -> Result<DelayEntry, Rejection> {
    let Some(object) = item.as_object() else {
        return Err(f.reject(
            "invalid_field",
            &format!("delays/{index}"),
            "each delay is an object {\"code\", \"minutes\"}".into(),
        ));
    };
    let entry = f.nested(object, format!("{}/delays/{index}", f.base));
    entry.only(DELAY_FIELDS)?;
    let code = entry.required_string("code", 2)?;
    let valid = code.len() == 2
        && code.bytes().all(|b| b.is_ascii_digit())
        && code.parse().ok().and_then(DelayCode::new).is_some();
    if !valid {
        return Err(entry.reject(
            "invalid_field",
            "code",
            "code must be a two-digit IATA delay code, \"00\" to \"99\"".into(),
        ));
    }
    let minutes = entry
        .number("minutes", 2880)?
        .ok_or_else(|| entry.reject("missing_field", "minutes", "minutes is required".into()))?;
    Ok(DelayEntry {
        code: code.to_owned(),
        minutes: minutes as u32,
    })
}

/// Parses and validates a feedback message read at `limits.now`.
pub fn parse_feedback(bytes: &[u8], limits: &IngestLimits) -> Result<FeedbackMessageV1, Rejection> {
    let mut value = Value::Null;
    let f = envelope(bytes, limits, &mut value)?;
    f.only(FEEDBACK_FIELDS)?;
    let channel = f
        .enumeration(
            "channel",
            "social_media, hotline, email, web, app, flight_ops, airport",
        )?
        .ok_or_else(|| f.reject("missing_field", "channel", "channel is required".into()))?;
    f.required("text")?;
    let text = f
        .string("text", TEXT_CHARS_MAX)?
        .expect("required")
        .to_owned();
    let passenger_ref = match f.string("passenger_ref", PassengerId::BYTES_MAX)? {
        Some(id) => Some(
            PassengerId::parse(id)
                .map_err(|rule| f.reject("invalid_field", "passenger_ref", rule.into()))?
                .0,
        ),
        None => None,
    };
    let flight = match f.value("flight") {
        None => None,
        Some(Value::Object(object)) => Some(flight_ref(&f.nested(object, "/flight".into()))?),
        Some(_) => {
            return Err(f.reject(
                "invalid_field",
                "flight",
                "flight must be an object {carrier, flight_number, origin_date}".into(),
            ));
        }
    };
    Ok(FeedbackMessageV1 {
        v: 1,
        source_message_id: f.source_id.clone().expect("checked by envelope"),
        channel,
        text: PersonalData(text),
        passenger_ref,
        flight,
        category_hint: f.enumeration("category_hint", "delay, cancellation, baggage_lost, baggage_damaged, overbooking, service, refund, safety, other")?,
        received_at: f.required_happened("received_at")?,
        reach: f.number("reach", 10_000_000_000)?,
        kind: feedback_kind(&f)?,
    })
}

/// The message's `kind`; a complaint names its passenger and its problem.
fn feedback_kind(f: &Fields<'_>) -> Result<Option<crate::domain::common::FeedbackKind>, Rejection> {
    use crate::domain::common::FeedbackKind;
    let kind = f.enumeration::<FeedbackKind>("kind", "complaint, inquiry, suggestion")?;
    if kind == Some(FeedbackKind::Complaint) {
        if f.value("passenger_ref").is_none() {
            return Err(f.reject(
                "missing_field",
                "passenger_ref",
                "a complaint names its passenger: send passenger_ref, or kind inquiry".into(),
            ));
        }
        let category = f.enumeration::<Category>("category_hint", "delay, cancellation, baggage_lost, baggage_damaged, overbooking, service, refund, safety, other")?;
        if category.is_none_or(|c| c == Category::Other) {
            return Err(f.reject(
                "invalid_field",
                "category_hint",
                "a complaint names its problem: send a category_hint other than other".into(),
            ));
        }
    }
    Ok(kind)
}

fn flight_ref(f: &Fields<'_>) -> Result<FlightRef, Rejection> {
    f.only(FLIGHT_REF_FIELDS)?;
    let origin_date = f.origin_date("origin_date")?;
    let (carrier, flight_number) = flight_key(f, origin_date)?;
    Ok(FlightRef {
        carrier,
        flight_number,
        origin_date,
    })
}

impl FeedbackMessageV1 {
    /// The pseudonymous passenger id, if the channel knows the passenger.
    pub fn passenger(&self) -> Option<PassengerId> {
        self.passenger_ref.clone().map(PassengerId)
    }
}

/// The JSON Schemas of the ingest formats: (subject token, version, schema).
#[cfg(test)]
pub fn schemas() -> Vec<(&'static str, u32, schemars::Schema)> {
    vec![
        ("flightops", 1, schemars::schema_for!(FlightOpsMessageV1)),
        ("feedback", 1, schemars::schema_for!(FeedbackMessageV1)),
        ("manifest", 1, schemars::schema_for!(ManifestMessageV1)),
    ]
}

#[cfg(test)]
#[path = "ingest_tests.rs"]
mod tests;
