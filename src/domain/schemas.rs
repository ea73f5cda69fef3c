//! JSON Schemas of every event type and ingest message, generated from the
//! Rust types. The files under `schemas/` are what other systems build
//! against; a test fails when they differ from what this module generates.
//!
//! Regenerate after changing a type: `UPDATE_SCHEMAS=1 cargo test --lib schemas`.

use schemars::Schema;

use crate::domain::{
    compensation, complaint, flight, incident, knowledge, manifest, passenger, signal, suggestion,
};

/// One schema file: its path relative to the repository root and its content
/// (pretty JSON with a trailing newline, stable across runs).
#[cfg(test)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaFile {
    pub path: String,
    pub json: String,
}

/// Every event type with its schema version and schema, across aggregates.
pub fn event_schemas() -> Vec<(&'static str, u32, Schema)> {
    let mut all = Vec::new();
    all.extend(flight::FlightEvent::schemas());
    all.extend(signal::SignalEvent::schemas());
    all.extend(incident::IncidentEvent::schemas());
    all.extend(complaint::ComplaintEvent::schemas());
    all.extend(passenger::PassengerEvent::schemas());
    all.extend(manifest::ManifestEvent::schemas());
    all.extend(compensation::CompensationEvent::schemas());
    all.extend(suggestion::SuggestionEvent::schemas());
    all.extend(knowledge::KnowledgeEvent::schemas());
    all
}

/// Every ingest message name (the `crisis.ingest.<name>` subject token) with
/// its version and schema.
#[cfg(test)]
pub fn ingest_schemas() -> Vec<(&'static str, u32, Schema)> {
    crate::domain::ingest::schemas()
}

/// All schema files, events first, each titled with its type name.
#[cfg(test)]
pub fn all() -> Vec<SchemaFile> {
    let events = event_schemas()
        .into_iter()
        .map(|(name, version, schema)| ("events", name, version, schema));
    let ingest = ingest_schemas()
        .into_iter()
        .map(|(name, version, schema)| ("ingest", name, version, schema));
    events
        .chain(ingest)
        .map(|(dir, name, version, schema)| render(dir, name, version, schema))
        .collect()
}

/// What the event schemas say of a personal value: the form it is stored in.
#[cfg(test)]
const SEALED_FORM: &str = "pd:v1:<key id>:<event id>:<field>:<base64url(nonce|ciphertext|tag)>";

#[cfg(test)]
fn render(dir: &str, name: &str, version: u32, mut schema: Schema) -> SchemaFile {
    // The derived title is the Rust struct name, shared by several event types; the type name is unique.
    schema.insert("title".to_owned(), format!("{name} v{version}").into());
    let mut value = schema.to_value();
    if dir == "events" {
        mark_sealed(&mut value);
    }
    let json = serde_json::to_string_pretty(&value).expect("schemas are JSON values") + "\n";
    SchemaFile {
        path: format!("schemas/{dir}/{name}.v{version}.json"),
        json,
    }
}

/// In stored events a personal value is sealed (see `crate::privacy::sealed`): the
/// schema says so beside its `x-personal-data` marker, so consumers know what they read.
#[cfg(test)]
fn mark_sealed(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            if map.get("x-personal-data") == Some(&serde_json::Value::Bool(true)) {
                map.insert("x-sealed".to_owned(), SEALED_FORM.into());
            }
            map.values_mut().for_each(mark_sealed);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(mark_sealed),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::{Path, PathBuf};

    use super::*;

    /// Every aggregate's event types are named `<aggregate>.<fact>` after its streams'
    /// prefix (the NATS subject carries the type), and each has exactly one schema.
    #[test]
    fn event_types_name_their_aggregate_and_each_has_one_schema() {
        let aggregates: [(&str, &[&str]); 9] = [
            ("flight", flight::FlightEvent::EVENT_TYPES),
            ("signal", signal::SignalEvent::EVENT_TYPES),
            ("incident", incident::IncidentEvent::EVENT_TYPES),
            ("complaint", complaint::ComplaintEvent::EVENT_TYPES),
            ("passenger", passenger::PassengerEvent::EVENT_TYPES),
            ("manifest", manifest::ManifestEvent::EVENT_TYPES),
            ("compensation", compensation::CompensationEvent::EVENT_TYPES),
            ("suggestion", suggestion::SuggestionEvent::EVENT_TYPES),
            ("knowledge", knowledge::KnowledgeEvent::EVENT_TYPES),
        ];
        let mut declared = BTreeSet::new();
        for (aggregate, types) in aggregates {
            for event_type in types {
                let prefix = format!("{aggregate}.");
                assert!(
                    event_type.starts_with(&prefix),
                    "{event_type} is not named {prefix}<fact>"
                );
                assert!(declared.insert(*event_type), "{event_type} declared twice");
            }
        }
        let with_schema: BTreeSet<&str> = event_schemas().iter().map(|(t, _, _)| *t).collect();
        assert_eq!(with_schema, declared);
    }

    const HOW_TO_FIX: &str =
        "regenerate with `UPDATE_SCHEMAS=1 cargo test --lib schemas` and commit schemas/";

    fn root() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
    }

    fn committed_files() -> BTreeSet<String> {
        let mut found = BTreeSet::new();
        for dir in ["schemas/events", "schemas/ingest"] {
            let Ok(entries) = std::fs::read_dir(root().join(dir)) else {
                continue;
            };
            for entry in entries {
                let name = entry.expect("schema dir is readable").file_name();
                found.insert(format!("{dir}/{}", name.to_string_lossy()));
            }
        }
        found
    }

    fn write_all(files: &[SchemaFile]) {
        for stale in committed_files() {
            if !files.iter().any(|f| f.path == stale) {
                std::fs::remove_file(root().join(&stale)).expect("stale schema removable");
            }
        }
        for file in files {
            let path = root().join(&file.path);
            std::fs::create_dir_all(path.parent().expect("schema paths have a directory")).unwrap();
            std::fs::write(&path, &file.json).unwrap();
        }
    }

    #[test]
    fn committed_schemas_match_the_types() {
        let files = all();
        if std::env::var_os("UPDATE_SCHEMAS").is_some() {
            write_all(&files);
        }
        for file in &files {
            let committed = std::fs::read_to_string(root().join(&file.path)).unwrap_or_default();
            assert!(
                committed == file.json,
                "{} is missing or out of date; {HOW_TO_FIX}",
                file.path
            );
        }
        let generated: BTreeSet<_> = files.iter().map(|f| f.path.clone()).collect();
        let stale: Vec<_> = committed_files().difference(&generated).cloned().collect();
        assert!(
            stale.is_empty(),
            "schema files without a type: {stale:?}; {HOW_TO_FIX}"
        );
    }

    #[test]
    fn every_event_type_is_unique_and_prefixed_by_its_aggregate() {
        let types: Vec<_> = event_schemas()
            .into_iter()
            .map(|(name, _, _)| name)
            .collect();
        let unique: BTreeSet<_> = types.iter().collect();
        assert_eq!(
            unique.len(),
            types.len(),
            "duplicate event type in {types:?}"
        );
        let tokens = [
            "flight",
            "signal",
            "incident",
            "complaint",
            "passenger",
            "manifest",
            "compensation",
            "suggestion",
            "knowledge",
        ];
        for name in types {
            let (token, fact) = name.split_once('.').expect("type is <aggregate>.<fact>");
            assert!(tokens.contains(&token) && !fact.is_empty(), "{name}");
            assert!(
                fact.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{name} is not snake_case"
            );
        }
    }

    #[test]
    fn generation_is_stable() {
        assert_eq!(all(), all());
        assert!(
            all()
                .iter()
                .all(|f| f.json.ends_with("}\n") && Path::new(&f.path).extension().is_some())
        );
    }

    #[test]
    fn personal_data_is_marked_in_exactly_the_events_that_carry_it() {
        let marked: BTreeSet<_> = all()
            .into_iter()
            .filter(|f| f.json.contains("\"x-personal-data\": true"))
            .map(|f| f.path)
            .collect();
        let expected: BTreeSet<_> = [
            "compensation.declined",
            "complaint.closed",
            "complaint.received",
            "complaint.reopened",
            "incident.contact_outcome_recorded",
            "passenger.booked",
            "passenger.contact_details_updated",
            "passenger.registered",
            "signal.recorded",
            "suggestion.received",
        ]
        .iter()
        .map(|t| format!("schemas/events/{t}.v1.json"))
        .chain(["schemas/ingest/feedback.v1.json".to_owned()])
        .chain(["schemas/ingest/manifest.v1.json".to_owned()])
        .collect();
        assert_eq!(
            marked, expected,
            "HTTP redaction for auditors relies on these markers"
        );
    }

    /// Free text in events that is NOT personal data: written by staff or by crisisd,
    /// reviewed one by one. Anything a passenger can author (a complaint, a comment on a
    /// resolution, a reason for declining) or that records what they said (a contact
    /// note) is `PersonalData`, never on this list.
    const STAFF_WRITTEN: &[(&str, &str)] = &[
        ("compensation.computed", "/decisions/*/inputs/carrier"), // airline code
        ("compensation.computed", "/decisions/*/reasoning/*"),    // crisisd's explanation
        ("compensation.computed", "/decisions/*/refund/rule_id"), // policy rule id
        ("compensation.computed", "/decisions/*/rule_id"),        // policy rule id
        ("compensation.computed", "/governing_reasoning/*"),      // crisisd's explanation
        ("compensation.care_expense_recorded", "/reference"),     // voucher, invoice, booking
        ("compensation.failed", "/reason"),                       // the payment provider's answer
        ("compensation.governing_chosen", "/chosen_by"),          // staff id
        ("compensation.governing_chosen", "/reason"),             // why the agent chose it
        ("compensation.recomputed", "/decisions/*/inputs/carrier"), // airline code
        ("compensation.recomputed", "/decisions/*/reasoning/*"),  // crisisd's explanation
        ("compensation.recomputed", "/decisions/*/refund/rule_id"), // policy rule id
        ("compensation.recomputed", "/decisions/*/rule_id"),      // policy rule id
        ("compensation.recomputed", "/governing_reasoning/*"),    // crisisd's explanation
        ("compensation.recomputed", "/reason"),                   // which facts changed (crisisd's)
        ("compensation.offered", "/offered_by"),                  // staff id
        ("compensation.paid", "/reference"),                      // payment reference
        ("complaint.acknowledged", "/acknowledged_by"),
        ("complaint.acknowledged", "/apology"), // an agent writes it
        ("complaint.escalated", "/escalated_by"),
        ("complaint.escalated", "/reason"), // why the agent escalates
        ("complaint.escalated", "/supervisor"),
        ("complaint.progress_updated", "/message"), // an agent to the customer
        ("complaint.progress_updated", "/sent_by"),
        ("complaint.resolution_proposed", "/proposed_by"),
        ("complaint.resolution_proposed", "/resolution"), // the airline's proposal
        ("complaint.quality_scored", "/note"),            // a supervisor's note
        ("complaint.quality_scored", "/scored_by"),
        ("knowledge.published", "/title"), // staff write the knowledge base
        ("knowledge.published", "/body"),
        ("knowledge.published", "/published_by"),
        ("knowledge.revised", "/title"),
        ("knowledge.revised", "/body"),
        ("knowledge.revised", "/reason"),
        ("knowledge.revised", "/revised_by"),
        ("knowledge.retired", "/reason"),
        ("knowledge.retired", "/retired_by"),
        ("suggestion.classified", "/classified_by"),
        ("suggestion.forwarded", "/forwarded_by"),
        ("suggestion.evaluated", "/reason"), // the department's reason
        ("suggestion.evaluated", "/evaluated_by"),
        ("suggestion.customer_notified", "/message"), // the airline to the customer
        ("suggestion.customer_notified", "/notified_by"),
        ("complaint.responsibility_reassigned", "/reason"), // why staff hand it on
        ("complaint.responsibility_reassigned", "/reassigned_by"),
        ("complaint.routed", "/routed_by"),
        ("flight.controllability_overridden", "/overridden_by"),
        ("flight.controllability_overridden", "/reason"),
        ("flight.reinstated", "/reason"), // flight ops' operational reason
        ("flight.status_changed", "/reason"), // flight ops' operational reason
        ("incident.assessed", "/impact/operations_note"),
        ("incident.assessed", "/impact/reputation_note"),
        ("incident.closed", "/closed_by"),
        ("incident.closed", "/summary"),
        ("incident.communication_plan_approved", "/approved_by"),
        ("incident.communication_plan_drafted", "/drafted_by"),
        ("incident.communication_plan_drafted", "/plan/content"), // public message
        ("incident.compensation_plan_approved", "/approved_by"),
        ("incident.compensation_plan_drafted", "/drafted_by"),
        ("incident.compensation_plan_drafted", "/plan/goodwill"),
        ("incident.compensation_plan_drafted", "/plan/summary"),
        ("incident.compensation_settled", "/settlement/reason"), // from compensation.failed
        ("incident.improvement_recorded", "/improvement/description"),
        ("incident.improvement_recorded", "/improvement/owner"),
        ("incident.information_published", "/content"), // public message
        ("incident.lesson_recorded", "/lesson"),
        ("incident.cause_recorded", "/finding"), // what the review found
        ("incident.open_problems_summarised", "/problems/*"),
        ("incident.opened", "/correlation_key"), // flight, date and category
        ("incident.opened", "/title"),
        ("passenger.booked", "/booking/booking_class"), // a fare class letter, validated
        ("passenger.booked", "/booking/rerouting/flight_number"), // an airline's flight number
        ("passenger.erased", "/reason"),                // the erasure request's reference
        ("incident.reopened", "/reason"),
        ("incident.reopened", "/reopened_by"),
        ("incident.role_assigned", "/person"), // staff id
        ("incident.severity_deescalated", "/reason"),
        ("incident.severity_escalated", "/reason"),
        ("signal.dismissed", "/dismissed_by"),
        ("signal.dismissed", "/reason"),
        ("signal.recorded", "/correlation_key"),
        ("signal.recorded", "/source_ref"), // the channel's message id
    ];

    /// Every string field of every event schema that can hold free text (no enum,
    /// format, pattern or constant), as `(type, pointer)`, with whether it is marked.
    fn free_text_fields() -> Vec<(String, String, bool)> {
        fn walk(
            schema: &serde_json::Value,
            defs: &serde_json::Map<String, serde_json::Value>,
            path: &str,
            depth: usize,
            out: &mut Vec<(String, bool)>,
        ) {
            if depth > 16 {
                return;
            }
            if let Some(name) = schema
                .get("$ref")
                .and_then(|r| r.as_str())
                .and_then(|r| r.rsplit('/').next())
            {
                if let Some(target) = defs.get(name) {
                    walk(target, defs, path, depth + 1, out);
                }
                return;
            }
            if schema.get("x-personal-data") == Some(&serde_json::Value::Bool(true)) {
                out.push((path.to_owned(), true));
                return;
            }
            let is_string = match schema.get("type") {
                Some(serde_json::Value::String(t)) => t == "string",
                Some(serde_json::Value::Array(ts)) => ts.iter().any(|t| t == "string"),
                _ => false,
            };
            let constrained = ["enum", "format", "pattern", "const"]
                .iter()
                .any(|k| schema.get(*k).is_some());
            if is_string && !constrained {
                out.push((path.to_owned(), false));
            }
            if let Some(properties) = schema.get("properties").and_then(|p| p.as_object()) {
                for (name, sub) in properties {
                    walk(sub, defs, &format!("{path}/{name}"), depth + 1, out);
                }
            }
            for key in ["items", "additionalProperties"] {
                if let Some(sub) = schema.get(key).filter(|s| s.is_object()) {
                    walk(sub, defs, &format!("{path}/*"), depth + 1, out);
                }
            }
            for key in ["anyOf", "oneOf", "allOf"] {
                for sub in schema
                    .get(key)
                    .and_then(|s| s.as_array())
                    .into_iter()
                    .flatten()
                {
                    walk(sub, defs, path, depth + 1, out);
                }
            }
        }
        let mut fields = Vec::new();
        for (event_type, _, schema) in event_schemas() {
            let schema = schema.to_value();
            let defs = schema
                .get("$defs")
                .and_then(|d| d.as_object())
                .cloned()
                .unwrap_or_default();
            let mut found = Vec::new();
            walk(&schema, &defs, "", 0, &mut found);
            fields.extend(
                found
                    .into_iter()
                    .map(|(path, marked)| (event_type.to_owned(), path, marked)),
            );
        }
        fields
    }

    /// Currency codes, passenger ids (pseudonymous), countries and languages are
    /// constrained strings or identifiers, not free text.
    fn is_identifier(path: &str) -> bool {
        [
            "currency",
            "passenger",
            "passenger_id",
            "country",
            "language",
        ]
        .iter()
        .any(|end| path.ends_with(&format!("/{end}")) || path.ends_with(&format!("_{end}")))
    }

    #[test]
    fn every_free_text_field_is_personal_data_or_reviewed_as_staff_written() {
        let fields = free_text_fields();
        let unreviewed: Vec<_> = fields
            .iter()
            .filter(|(t, path, marked)| {
                !marked
                    && !is_identifier(path)
                    && !STAFF_WRITTEN.contains(&(t.as_str(), path.as_str()))
            })
            .collect();
        assert!(
            unreviewed.is_empty(),
            "free text that is neither PersonalData nor reviewed as staff-written: {unreviewed:?}; \
             if a passenger can author it or it records what they said, make it PersonalData<String>, \
             otherwise add it to STAFF_WRITTEN with why"
        );
        let stale: Vec<_> = STAFF_WRITTEN
            .iter()
            .filter(|(t, path)| !fields.iter().any(|(ft, fp, m)| ft == t && fp == path && !m))
            .collect();
        assert!(
            stale.is_empty(),
            "STAFF_WRITTEN names fields that are gone or marked: {stale:?}"
        );
        for (event_type, path) in [
            ("complaint.received", "/description"),
            ("complaint.closed", "/comment"),
            ("complaint.reopened", "/reason"),
            ("compensation.declined", "/reason"),
            ("incident.contact_outcome_recorded", "/note"),
            ("signal.recorded", "/summary"),
        ] {
            assert!(
                fields.contains(&(event_type.into(), path.into(), true)),
                "{event_type}{path} is the passenger's words"
            );
        }
    }
}
