//! Field access for ingest parsing: every problem becomes a [`Rejection`] naming the
//! field as a JSON pointer, and the plausibility bounds of times and dates live here.

use chrono::{DateTime, Days, NaiveDate, Utc};
use serde_json::{Map, Value};

use super::ingest_json::escape;
use super::{IngestLimits, Rejection};
use crate::domain::common::AirportCode;

/// How far back a reported fact (`received_at`, `notified_at`, actual times) and an
/// origin date may lie: a year covers a long backlog and late corrections; older input
/// is a wrong date, not news for a crisis desk.
pub const PAST_DAYS_MAX: u64 = 366;
/// How far ahead an origin date may lie: airlines sell about a year ahead; two years
/// leaves room without admitting year 9999.
pub const AHEAD_DAYS_MAX: u64 = 731;

/// One JSON object of a message, with where it sits and what it is held against.
pub(super) struct Fields<'a> {
    pub object: &'a Map<String, Value>,
    /// Pointer of the object itself (`""` for the message, `/flight`, `/delays/2`).
    pub base: String,
    pub source_id: Option<String>,
    pub limits: &'a IngestLimits,
}

impl<'a> Fields<'a> {
    /// The fields of a nested object at `base`.
    pub fn nested(&self, object: &'a Map<String, Value>, base: String) -> Fields<'a> {
        Fields {
            object,
            base,
            source_id: self.source_id.clone(),
            limits: self.limits,
        }
    }

    pub fn reject(&self, code: &'static str, field: &str, message: String) -> Rejection {
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

    /// Refuses the first field (in key order) that is not in `known`: a field crisisd
    /// would drop unread is refused rather than silently lost.
    pub fn only(&self, known: &[&str]) -> Result<(), Rejection> {
        match self
            .object
            .keys()
            .find(|key| !known.contains(&key.as_str()))
        {
            None => Ok(()),
            Some(key) => Err(self.reject(
                "unknown_field",
                &escape(key),
                format!(
                    "this field is not part of version 1 of the format, which has {}; remove it",
                    known.join(", ")
                ),
            )),
        }
    }

    pub fn value(&self, field: &str) -> Option<&'a Value> {
        self.object.get(field).filter(|v| !v.is_null())
    }

    pub fn required(&self, field: &str) -> Result<&'a Value, Rejection> {
        self.value(field)
            .ok_or_else(|| self.reject("missing_field", field, format!("{field} is required")))
    }

    pub fn string(&self, field: &str, max_chars: usize) -> Result<Option<&'a str>, Rejection> {
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

    pub fn required_string(&self, field: &str, max_chars: usize) -> Result<&'a str, Rejection> {
        self.required(field)?;
        Ok(self.string(field, max_chars)?.expect("required"))
    }

    pub fn time(&self, field: &str) -> Result<Option<DateTime<Utc>>, Rejection> {
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

    pub fn required_time(&self, field: &str) -> Result<DateTime<Utc>, Rejection> {
        self.required(field)?;
        Ok(self.time(field)?.expect("required"))
    }

    /// A time something happened (received, notified, departed, arrived): not ahead of
    /// `now` by more than the clock-skew tolerance, not older than [`PAST_DAYS_MAX`].
    pub fn happened(&self, field: &str) -> Result<Option<DateTime<Utc>>, Rejection> {
        let Some(at) = self.time(field)? else {
            return Ok(None);
        };
        let IngestLimits {
            now, clock_skew, ..
        } = *self.limits;
        if at > now + clock_skew {
            return Err(self.reject(
                "out_of_range",
                field,
                format!(
                    "{field} is {} s ahead of crisisd's clock, beyond the {} s allowed for clock skew; it says when something happened, so check the sender's clock",
                    (at - now).num_seconds(),
                    clock_skew.num_seconds()
                ),
            ));
        }
        if at < now - Days::new(PAST_DAYS_MAX) {
            return Err(self.reject(
                "out_of_range",
                field,
                format!("{field} is more than {PAST_DAYS_MAX} days ago"),
            ));
        }
        Ok(Some(at))
    }

    pub fn required_happened(&self, field: &str) -> Result<DateTime<Utc>, Rejection> {
        self.required(field)?;
        Ok(self.happened(field)?.expect("required"))
    }

    /// A flight's origin date (`YYYY-MM-DD`): at most [`PAST_DAYS_MAX`] before and
    /// [`AHEAD_DAYS_MAX`] after today (UTC).
    pub fn origin_date(&self, field: &str) -> Result<NaiveDate, Rejection> {
        let text = self.required_string(field, 10)?;
        let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
            self.reject(
                "invalid_field",
                field,
                format!("{field} must be a date YYYY-MM-DD"),
            )
        })?;
        let today = self.limits.now.date_naive();
        let earliest = today - Days::new(PAST_DAYS_MAX);
        let latest = today + Days::new(AHEAD_DAYS_MAX);
        if date < earliest || date > latest {
            return Err(self.reject(
                "out_of_range",
                field,
                format!(
                    "{field} must lie from {earliest} to {latest} (at most {PAST_DAYS_MAX} days back and {AHEAD_DAYS_MAX} days ahead)"
                ),
            ));
        }
        Ok(date)
    }

    pub fn number(&self, field: &str, max: u64) -> Result<Option<u64>, Rejection> {
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
    pub fn enumeration<T: serde::de::DeserializeOwned>(
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

    pub fn airport(
        &self,
        field: &str,
        is_known_airport: &dyn Fn(&str) -> bool,
    ) -> Result<String, Rejection> {
        self.required(field)?;
        Ok(self
            .optional_airport(field, is_known_airport)?
            .expect("required"))
    }

    /// An airport code the table knows, if the field is given.
    pub fn optional_airport(
        &self,
        field: &str,
        is_known_airport: &dyn Fn(&str) -> bool,
    ) -> Result<Option<String>, Rejection> {
        let Some(code) = self.string(field, 3)? else {
            return Ok(None);
        };
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
        Ok(Some(code.to_owned()))
    }
}
