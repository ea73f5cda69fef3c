//! Personal data out of event data, for callers who may not see it (auditors without
//! an explicit grant). Driven by the event schemas: every field whose schema carries
//! `"x-personal-data": true` (see [`crate::domain::common::PersonalData`]) becomes
//! `"[redacted]"`; an event type this build has no schema for loses its data entirely.
//! Nothing here knows field names, so a new personal field is redacted by its type.

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::store::RecordedEvent;

pub const REDACTED: &str = "[redacted]";

/// Event schemas by (type, schema version).
#[derive(Debug, Default)]
pub struct Redactor {
    schemas: HashMap<(String, u32), Value>,
}

impl Redactor {
    pub fn from_event_schemas() -> Self {
        let schemas = crate::domain::schemas::event_schemas()
            .into_iter()
            .map(|(event_type, version, schema)| {
                ((event_type.to_owned(), version), schema.to_value())
            })
            .collect();
        Redactor { schemas }
    }

    /// `data` of an event of `event_type` v`version`, with personal data redacted.
    pub fn data(&self, event_type: &str, version: u32, data: &mut Value) {
        match self.schemas.get(&(event_type.to_owned(), version)) {
            Some(schema) => redact_by_schema(schema, data),
            None => *data = Value::String(REDACTED.to_owned()),
        }
    }

    /// The envelope of `event` as JSON, its data redacted.
    pub fn envelope(&self, event: &RecordedEvent) -> String {
        let mut envelope = serde_json::to_value(event).unwrap_or(Value::Null);
        if let Some(data) = envelope.get_mut("data") {
            self.data(&event.event_type, event.schema_version, data);
        }
        envelope.to_string()
    }
}

/// Redacts `value` by its JSON Schema (a root schema with its `$defs`).
pub fn redact_by_schema(schema: &Value, value: &mut Value) {
    let empty = Map::new();
    let defs = schema
        .get("$defs")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    redact(schema, defs, value);
}

fn redact(schema: &Value, defs: &Map<String, Value>, value: &mut Value) {
    let schema = resolve(schema, defs);
    if value.is_null() {
        return;
    }
    if schema.get("x-personal-data") == Some(&Value::Bool(true)) {
        *value = Value::String(REDACTED.to_owned());
        return;
    }
    for combinator in ["anyOf", "oneOf", "allOf"] {
        if let Some(branches) = schema.get(combinator).and_then(Value::as_array) {
            // Over-redacting a branch that does not match is safe; missing one is not.
            for branch in branches {
                redact(branch, defs, value);
            }
        }
    }
    match value {
        Value::Object(fields) => {
            let properties = schema.get("properties").and_then(Value::as_object);
            let additional = schema.get("additionalProperties").filter(|s| s.is_object());
            for (name, field) in fields.iter_mut() {
                if let Some(sub) = properties.and_then(|p| p.get(name)).or(additional) {
                    redact(sub, defs, field);
                }
            }
        }
        Value::Array(items) => {
            if let Some(sub) = schema.get("items") {
                for item in items {
                    redact(sub, defs, item);
                }
            }
        }
        _ => {}
    }
}

fn resolve<'a>(schema: &'a Value, defs: &'a Map<String, Value>) -> &'a Value {
    let mut schema = schema;
    // Bounded: a chain of references longer than the definitions is a cycle.
    for _ in 0..=defs.len() {
        let Some(name) = schema
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix("#/$defs/"))
        else {
            return schema;
        };
        match defs.get(name) {
            Some(target) => schema = target,
            None => return schema,
        }
    }
    schema
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
