//! Versioned ingest message formats published by flight-ops and channel systems to
//! `crisis.ingest.flightops` and `crisis.ingest.feedback`, and their pure validation.
//!
//! Parsing goes bytes → JSON value → fields one by one, so every refusal names the exact
//! field as a JSON pointer (`/delays/2/minutes`) with a stable code:
//!
//! | code | meaning |
//! |---|---|
//! | `too_large` | the message is over the size limit |
//! | `not_json` | the bytes are not a JSON object |
//! | `unsupported_version` | `v` is not a version this build reads |
//! | `missing_field` | a required field is absent or null |
//! | `invalid_field` | a field has the wrong type or shape |
//! | `out_of_range` | a value is outside its allowed range |
//! | `unknown_airport` | an IATA code the airport table does not know |
//!
//! Unknown fields are ignored (senders may add fields before crisisd reads them).
//! Passenger free text is personal data: it never appears in a rejection or in `Debug`.

use chrono::{DateTime, NaiveDate, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::domain::common::{AirportCode, Category, Channel, FlightKey, PassengerId, PersonalData};
use crate::domain::flight::{DelayCode, FlightStatus};

/// Default size limit of one ingest message.
pub const INGEST_MESSAGE_BYTES_MAX: usize = 64 * 1024;
/// Delay codes one flight-ops message may carry.
const DELAYS_MAX: usize = 32;
/// Longest free text (characters) in a feedback message.
const TEXT_CHARS_MAX: usize = 10_000;

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
pub struct DelayEntry {
    /// Two-digit numeric code, `"00"`–`"99"`.
    #[schemars(regex(pattern = r"^[0-9]{2}$"))]
    pub code: String,
    #[schemars(range(max = 2880))]
    pub minutes: u32,
}

/// `crisis.ingest.flightops`, version 1: what flight ops knows about one flight (as
/// AIDX/MVT messages carry it). Each message is the whole current picture.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FlightOpsMessageV1 {
    /// Format version: 1.
    pub v: u32,
    /// The sender's unique id of this message; redeliveries repeat it.
    pub source_message_id: String,
    /// IATA airline designator, e.g. `LH`.
    pub carrier: String,
    /// 1–4 digits and an optional letter, e.g. `400`.
    pub flight_number: String,
    /// Scheduled departure date at the origin.
    pub origin_date: NaiveDate,
    pub origin: String,
    pub destination: String,
    pub scheduled_departure: DateTime<Utc>,
    pub scheduled_arrival: DateTime<Utc>,
    pub estimated_departure: Option<DateTime<Utc>>,
    pub estimated_arrival: Option<DateTime<Utc>>,
    pub actual_departure: Option<DateTime<Utc>>,
    pub actual_arrival: Option<DateTime<Utc>>,
    pub status: FlightStatus,
    #[serde(default)]
    pub delays: Vec<DelayEntry>,
    /// Operational reason (not personal data).
    pub change_reason: Option<String>,
    /// When passengers were told of the change.
    pub notified_at: Option<DateTime<Utc>>,
    #[schemars(range(max = 1000))]
    pub passenger_count: u32,
}

/// A flight named in a feedback message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FlightRef {
    pub carrier: String,
    pub flight_number: String,
    pub origin_date: NaiveDate,
}

/// `crisis.ingest.feedback`, version 1: one message from a customer channel.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FeedbackMessageV1 {
    pub v: u32,
    pub source_message_id: String,
    pub channel: Channel,
    /// The customer's words (personal data).
    pub text: PersonalData<String>,
    /// Loyalty or customer number (pseudonymous; never a name or e-mail address).
    pub passenger_ref: Option<String>,
    pub flight: Option<FlightRef>,
    pub category_hint: Option<Category>,
    pub received_at: DateTime<Utc>,
    /// Audience of the message, e.g. followers of a social post.
    pub reach: Option<u64>,
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

/// Field access that turns every problem into a [`Rejection`] naming the field.
struct Fields<'a> {
    object: &'a Map<String, Value>,
    base: String,
    source_id: Option<String>,
}

impl<'a> Fields<'a> {
    fn reject(&self, code: &'static str, field: &str, message: String) -> Rejection {
        let pointer = if field.is_empty() {
            self.base.clone()
        } else {
            format!("{}/{}", self.base, field)
        };
        Rejection {
            code,
            message,
            pointer,
            source_message_id: self.source_id.clone(),
        }
    }

    fn value(&self, field: &str) -> Option<&'a Value> {
        self.object.get(field).filter(|v| !v.is_null())
    }

    fn required(&self, field: &str) -> Result<&'a Value, Rejection> {
        self.value(field)
            .ok_or_else(|| self.reject("missing_field", field, format!("{field} is required")))
    }

    fn string(&self, field: &str, max_chars: usize) -> Result<Option<&'a str>, Rejection> {
        let Some(value) = self.value(field) else {
            return Ok(None);
        };
        let text = value.as_str().ok_or_else(|| {
            self.reject("invalid_field", field, format!("{field} must be a string"))
        })?;
        if text.chars().count() > max_chars {
            return Err(self.reject(
                "out_of_range",
                field,
                format!("{field} is longer than {max_chars} characters"),
            ));
        }
        Ok(Some(text))
    }

    fn required_string(&self, field: &str, max_chars: usize) -> Result<&'a str, Rejection> {
        self.required(field)?;
        Ok(self.string(field, max_chars)?.expect("required"))
    }

    fn time(&self, field: &str) -> Result<Option<DateTime<Utc>>, Rejection> {
        let Some(text) = self.string(field, 64)? else {
            return Ok(None);
        };
        DateTime::parse_from_rfc3339(text)
            .map(|t| Some(t.with_timezone(&Utc)))
            .map_err(|_| {
                self.reject(
                    "invalid_field",
                    field,
                    format!("{field} must be an RFC 3339 time, e.g. 2026-11-22T10:05:00Z"),
                )
            })
    }

    fn required_time(&self, field: &str) -> Result<DateTime<Utc>, Rejection> {
        self.required(field)?;
        Ok(self.time(field)?.expect("required"))
    }

    fn date(&self, field: &str) -> Result<NaiveDate, Rejection> {
        let text = self.required_string(field, 10)?;
        NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
            self.reject(
                "invalid_field",
                field,
                format!("{field} must be a date YYYY-MM-DD"),
            )
        })
    }

    fn number(&self, field: &str, max: u64) -> Result<Option<u64>, Rejection> {
        let Some(value) = self.value(field) else {
            return Ok(None);
        };
        let n = value.as_u64().ok_or_else(|| {
            self.reject(
                "invalid_field",
                field,
                format!("{field} must be a non-negative integer"),
            )
        })?;
        if n > max {
            return Err(self.reject(
                "out_of_range",
                field,
                format!("{field} must be at most {max}"),
            ));
        }
        Ok(Some(n))
    }

    /// A serde enum from a string field (`status`, `channel`, `category_hint`).
    fn enumeration<T: serde::de::DeserializeOwned>(
        &self,
        field: &str,
        allowed: &str,
    ) -> Result<Option<T>, Rejection> {
        let Some(value) = self.value(field) else {
            return Ok(None);
        };
        serde_json::from_value(value.clone())
            .map(Some)
            .map_err(|_| {
                self.reject(
                    "invalid_field",
                    field,
                    format!("{field} must be one of {allowed}"),
                )
            })
    }

    fn airport(
        &self,
        field: &str,
        is_known_airport: &dyn Fn(&str) -> bool,
    ) -> Result<String, Rejection> {
        let code = self.required_string(field, 3)?;
        AirportCode::parse(code).map_err(|_| {
            self.reject(
                "invalid_field",
                field,
                format!("{field} must be a three-letter IATA airport code"),
            )
        })?;
        if !is_known_airport(code) {
            return Err(self.reject(
                "unknown_airport",
                field,
                format!("{field} {code} is not in the airport table"),
            ));
        }
        Ok(code.to_owned())
    }
}

/// Size, JSON object, version and source id: the checks every format shares.
fn envelope<'a>(
    bytes: &[u8],
    max_bytes: usize,
    value: &'a mut Value,
) -> Result<Fields<'a>, Rejection> {
    let whole = |code, message: String| Rejection {
        code,
        message,
        pointer: String::new(),
        source_message_id: None,
    };
    if bytes.len() > max_bytes {
        return Err(whole(
            "too_large",
            format!(
                "the message is {} bytes, over the limit of {max_bytes}",
                bytes.len()
            ),
        ));
    }
    *value = serde_json::from_slice(bytes)
        .map_err(|_| whole("not_json", "the message is not valid JSON".into()))?;
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
    };
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

/// Parses and validates a flight-ops message.
pub fn parse_flight_ops(
    bytes: &[u8],
    max_bytes: usize,
    is_known_airport: &dyn Fn(&str) -> bool,
) -> Result<FlightOpsMessageV1, Rejection> {
    let mut value = Value::Null;
    let f = envelope(bytes, max_bytes, &mut value)?;
    let origin_date = f.date("origin_date")?;
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
    let scheduled_departure = f.required_time("scheduled_departure")?;
    let scheduled_arrival = f.required_time("scheduled_arrival")?;
    if scheduled_arrival <= scheduled_departure {
        return Err(f.reject(
            "out_of_range",
            "scheduled_arrival",
            "scheduled_arrival must be after scheduled_departure".into(),
        ));
    }
    let (actual_departure, actual_arrival) =
        (f.time("actual_departure")?, f.time("actual_arrival")?);
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
    let delays = match f.value("delays") {
        None => Vec::new(),
        Some(Value::Array(items)) if items.len() <= DELAYS_MAX => items
            .iter()
            .enumerate()
            .map(|(i, item)| delay(&f, i, item))
            .collect::<Result<_, _>>()?,
        Some(Value::Array(_)) => {
            return Err(f.reject(
                "out_of_range",
                "delays",
                format!("at most {DELAYS_MAX} delay codes"),
            ));
        }
        Some(_) => {
            return Err(f.reject(
                "invalid_field",
                "delays",
                "delays must be an array of {\"code\", \"minutes\"}".into(),
            ));
        }
    };
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
        status,
        delays,
        change_reason: f.string("change_reason", 500)?.map(str::to_owned),
        notified_at: f.time("notified_at")?,
        passenger_count: f.number("passenger_count", 1000)?.ok_or_else(|| {
            f.reject(
                "missing_field",
                "passenger_count",
                "passenger_count is required".into(),
            )
        })? as u32,
    })
}

fn delay(f: &Fields<'_>, index: usize, item: &Value) -> Result<DelayEntry, Rejection> {
    let Some(object) = item.as_object() else {
        return Err(f.reject(
            "invalid_field",
            &format!("delays/{index}"),
            "each delay is an object {\"code\", \"minutes\"}".into(),
        ));
    };
    let entry = Fields {
        object,
        base: format!("{}/delays/{index}", f.base),
        source_id: f.source_id.clone(),
    };
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

/// Parses and validates a feedback message.
pub fn parse_feedback(bytes: &[u8], max_bytes: usize) -> Result<FeedbackMessageV1, Rejection> {
    let mut value = Value::Null;
    let f = envelope(bytes, max_bytes, &mut value)?;
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
    let passenger_ref = match f.string("passenger_ref", 64)? {
        Some(id) if !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') => Some(id.to_owned()),
        Some(_) => return Err(f.reject("invalid_field", "passenger_ref", "passenger_ref must be a loyalty or customer number (A-Z, a-z, 0-9, '-', '_'), never a name or e-mail address".into())),
        None => None,
    };
    let flight = match f.value("flight") {
        None => None,
        Some(Value::Object(object)) => {
            let nested = Fields {
                object,
                base: "/flight".into(),
                source_id: f.source_id.clone(),
            };
            let origin_date = nested.date("origin_date")?;
            let (carrier, flight_number) = flight_key(&nested, origin_date)?;
            Some(FlightRef {
                carrier,
                flight_number,
                origin_date,
            })
        }
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
        received_at: f.required_time("received_at")?,
        reach: f.number("reach", 10_000_000_000)?,
    })
}

impl FeedbackMessageV1 {
    /// The pseudonymous passenger id, if the channel knows the passenger.
    pub fn passenger(&self) -> Option<PassengerId> {
        self.passenger_ref.clone().map(PassengerId)
    }
}

/// The JSON Schemas of the ingest formats: (subject token, version, schema).
pub fn schemas() -> Vec<(&'static str, u32, schemars::Schema)> {
    vec![
        ("flightops", 1, schemars::schema_for!(FlightOpsMessageV1)),
        ("feedback", 1, schemars::schema_for!(FeedbackMessageV1)),
    ]
}

#[cfg(test)]
#[path = "ingest_tests.rs"]
mod tests;
