//! Personal data out of what callers without personal-data rights receive. Driven by
//! the event schemas: a value whose schema carries `"x-personal-data": true` (see
//! [`crate::domain::common::PersonalData`]) is either sealed (encrypted before append,
//! [`crate::privacy`]) or, in events written before sealing existed, plaintext.
//!
//! - Envelopes (replay, live stream) keep sealed values as they are — unreadable without
//!   the key, and exactly what the hash chain covers, so an auditor still recomputes it —
//!   and replace plaintext ones by `"[redacted]"`.
//! - Views (states, read models) replace every personal value by `"[redacted]"`.
//!
//! An event type this build has no schema for loses its data entirely. Nothing here
//! knows field names, so a new personal field is covered by its type.

use std::collections::HashMap;

use serde_json::Value;

use crate::privacy::fields::{PersonalPaths, for_each_personal};
use crate::privacy::sealed::is_sealed;
use crate::store::RecordedEvent;

pub const REDACTED: &str = "[redacted]";

/// Where each event type carries personal data, by type and schema version.
#[derive(Debug, Default)]
pub struct Redactor {
    schemas: HashMap<String, HashMap<u32, PersonalPaths>>,
}

impl Redactor {
    pub fn from_event_schemas() -> Self {
        let mut schemas: HashMap<String, HashMap<u32, PersonalPaths>> = HashMap::new();
        for (event_type, version, schema) in crate::domain::schemas::event_schemas() {
            schemas
                .entry(event_type.to_owned())
                .or_default()
                .insert(version, PersonalPaths::compile(&schema.to_value()));
        }
        Redactor { schemas }
    }

    fn paths(&self, event_type: &str, version: u32) -> Option<&PersonalPaths> {
        self.schemas.get(event_type)?.get(&version)
    }

    /// `data` of an event of `event_type` v`version`, with plaintext personal data
    /// redacted and sealed values kept.
    pub fn data(&self, event_type: &str, version: u32, data: &mut Value) {
        match self.paths(event_type, version) {
            Some(paths) => paths.for_each(data, &mut |_, value| {
                if !value.as_str().is_some_and(is_sealed) {
                    *value = Value::String(REDACTED.to_owned());
                }
            }),
            None => *data = Value::String(REDACTED.to_owned()),
        }
    }

    /// Whether the data of events of this type can hold personal data (or this build
    /// does not know the type, which counts as holding it).
    pub fn may_hold_personal_data(&self, event_type: &str, version: u32) -> bool {
        self.paths(event_type, version)
            .is_none_or(|paths| !paths.is_empty())
    }

    /// The envelope of `event` as JSON, its plaintext personal data redacted.
    pub fn envelope(&self, event: &RecordedEvent) -> String {
        let mut envelope = serde_json::to_value(event).unwrap_or(Value::Null);
        if let Some(data) = envelope.get_mut("data") {
            self.data(&event.event_type, event.schema_version, data);
        }
        envelope.to_string()
    }
}

/// Redacts every personal value of `value` (sealed or not) by its JSON Schema (a root
/// schema with its `$defs`): for views.
pub fn redact_by_schema(schema: &Value, value: &mut Value) {
    for_each_personal(schema, value, &mut |_, value| {
        *value = Value::String(REDACTED.to_owned());
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn personal_fields_are_redacted_by_schema_and_the_rest_is_kept() {
        let redactor = Redactor::from_event_schemas();
        let mut data = json!({
            "passenger_id": "FF123",
            "tier": "gold",
            "contact": {"name": "Ada Lovelace", "email": "ada@example.org", "phone": null, "language": "en-GB"},
            "consent": {"email": true, "sms": false, "phone": false, "app_push": false}
        });
        redactor.data("passenger.registered", 1, &mut data);
        assert_eq!(data["contact"]["name"], REDACTED);
        assert_eq!(data["contact"]["email"], REDACTED);
        assert_eq!(data["contact"]["phone"], Value::Null, "absent stays absent");
        assert_eq!(data["contact"]["language"], "en-GB");
        assert_eq!(data["passenger_id"], "FF123");
        assert_eq!(data["consent"]["email"], true);
    }

    #[test]
    fn every_schema_with_personal_data_loses_it_and_unknown_types_lose_all() {
        let redactor = Redactor::from_event_schemas();
        let mut data = json!({"description": "my bag is gone", "complaint_id": "x"});
        redactor.data("complaint.received", 1, &mut data);
        assert_eq!(data["description"], REDACTED);
        for (event_type, field) in [
            ("complaint.closed", "comment"),
            ("complaint.reopened", "reason"),
        ] {
            let mut data = json!({field: "the customer's own words"});
            redactor.data(event_type, 1, &mut data);
            assert_eq!(data[field], REDACTED, "{event_type}");
        }
        let mut unknown = json!({"secret": "words"});
        redactor.data("future.thing", 1, &mut unknown);
        assert_eq!(unknown, json!(REDACTED));
    }
}
