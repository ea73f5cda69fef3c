//! JSON Schemas of every event type and ingest message, generated from the
//! Rust types. The files under `schemas/` are what other systems build
//! against; a test fails when they differ from what this module generates.
//!
//! Regenerate after changing a type: `UPDATE_SCHEMAS=1 cargo test --lib schemas`.

use schemars::Schema;

use crate::domain::{compensation, complaint, flight, incident, passenger, signal};

/// One schema file: its path relative to the repository root and its content
/// (pretty JSON with a trailing newline, stable across runs).
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
    all.extend(compensation::CompensationEvent::schemas());
    all
}

/// Every ingest message name (the `crisis.ingest.<name>` subject token) with
/// its version and schema.
pub fn ingest_schemas() -> Vec<(&'static str, u32, Schema)> {
    crate::domain::ingest::schemas()
}

/// All schema files, events first, each titled with its type name.
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

fn render(dir: &str, name: &str, version: u32, mut schema: Schema) -> SchemaFile {
    // The derived title is the Rust struct name, shared by several event types; the type name is unique.
    schema.insert("title".to_owned(), format!("{name} v{version}").into());
    let json = serde_json::to_string_pretty(&schema).expect("schemas are JSON values") + "\n";
    SchemaFile {
        path: format!("schemas/{dir}/{name}.v{version}.json"),
        json,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::{Path, PathBuf};

    use super::*;

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
            "compensation",
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
            "complaint.received",
            "passenger.contact_details_updated",
            "passenger.registered",
            "signal.recorded",
        ]
        .iter()
        .map(|t| format!("schemas/events/{t}.v1.json"))
        .chain(["schemas/ingest/feedback.v1.json".to_owned()])
        .collect();
        assert_eq!(
            marked, expected,
            "HTTP redaction for auditors relies on these markers"
        );
    }
}
