//! Timeline read model: per incident and per complaint, every event in order with its
//! actor — the archive an auditor reads. Entries carry no event data (personal data stays
//! in the log, behind the HTTP layer's redaction); the position leads to the full event.
//!
//! Keys: `<stream> 0x00 <chunk:u64 BE>` → up to [`CHUNK_EVENTS`] [`TimelineEntry`]s as a
//! JSON list, chunk `n` holding stream versions `16n + 1 ..= 16n + 16`: a rebuild writes
//! one key per chunk rather than one per event.

use serde::{Deserialize, Serialize};

use super::model::{ModelError, ReadModel};
use super::runtime::{ModelTx, Projection};
use crate::store::RecordedEvent;

/// Entries per chunk key.
pub const CHUNK_EVENTS: u64 = 16;

/// Streams that have a timeline.
const TIMELINE_AGGREGATES: [&str; 2] = ["incident-", "complaint-"];

/// One line of a timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TimelineEntry {
    pub position: u64,
    pub stream_version: u64,
    #[serde(rename = "type")]
    pub event_type: String,
    pub occurred_at: chrono::DateTime<chrono::Utc>,
    pub recorded_at: chrono::DateTime<chrono::Utc>,
    pub actor_id: String,
    pub actor_role: String,
    pub correlation_id: uuid::Uuid,
}

/// The timeline projection.
#[derive(Debug, Default)]
pub struct Timeline;

/// The key prefix of one stream's timeline.
pub fn stream_prefix(stream: &str) -> Vec<u8> {
    let mut key = stream.as_bytes().to_vec();
    key.push(0);
    key
}

/// The projection's name (tree `model/timeline`).
pub const NAME: &str = "timeline";

impl Projection for Timeline {
    fn name(&self) -> &'static str {
        NAME
    }

    fn apply(&mut self, event: &RecordedEvent, tx: &mut ModelTx<'_>) -> Result<(), ModelError> {
        if !TIMELINE_AGGREGATES
            .iter()
            .any(|prefix| event.stream.starts_with(prefix))
        {
            return Ok(());
        }
        let mut key = stream_prefix(&event.stream);
        let chunk = event.stream_version.saturating_sub(1) / CHUNK_EVENTS;
        key.extend_from_slice(&chunk.to_be_bytes());
        let mut entries: Vec<TimelineEntry> = tx.get_json(&key)?.unwrap_or_default();
        let entry = TimelineEntry {
            position: event.position,
            stream_version: event.stream_version,
            event_type: event.event_type.clone(),
            occurred_at: event.occurred_at,
            recorded_at: event.recorded_at,
            actor_id: event.actor.id.clone(),
            actor_role: event.actor.role.clone(),
            correlation_id: event.correlation_id,
        };
        entries.push(entry);
        tx.insert_json(key, &entries);
        Ok(())
    }
}

/// A stream's timeline from a model tree, in order.
pub fn read(tree: &ReadModel, stream: &str) -> Result<Vec<TimelineEntry>, ModelError> {
    let mut entries = Vec::new();
    for chunk in tree.prefix(stream_prefix(stream)) {
        let (_, chunk): (_, Vec<TimelineEntry>) = chunk?;
        entries.extend(chunk);
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::projection::rebuild;
    use crate::store::{Actor, AppendRequest, ExpectedVersion, NewEvent, SledStore, StoreConfig};
    use chrono::Utc;

    #[tokio::test]
    async fn long_timelines_span_chunks_in_order_live_and_rebuilt() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(StoreConfig::new(dir.path())).unwrap();
        let actor = Actor {
            id: "lead-1".into(),
            role: "crisis_lead".into(),
        };
        for n in 0..40 {
            let event = NewEvent::new(
                "incident.x",
                serde_json::json!({"n": n}),
                actor.clone(),
                Utc::now(),
            );
            store
                .append(AppendRequest::single(
                    "incident-7",
                    ExpectedVersion::Any,
                    vec![event],
                ))
                .await
                .unwrap();
        }
        rebuild(&store, Timeline, |_, _| {}).unwrap();
        let tree = crate::projection::ReadModel::open(&store, "timeline").unwrap();
        let versions: Vec<u64> = read(&tree, "incident-7")
            .unwrap()
            .iter()
            .map(|e| e.stream_version)
            .collect();
        assert_eq!(versions, (1..=40).collect::<Vec<_>>());
        assert_eq!(
            tree.prefix::<_, Vec<TimelineEntry>>(stream_prefix("incident-7"))
                .count(),
            3,
            "16 + 16 + 8"
        );
    }

    #[tokio::test]
    async fn incidents_and_complaints_get_a_timeline_with_actors_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(StoreConfig::new(dir.path())).unwrap();
        let lead = Actor {
            id: "lead-1".into(),
            role: "crisis_lead".into(),
        };
        let agent = Actor {
            id: "agent-2".into(),
            role: "agent".into(),
        };
        for (stream, event_type, actor) in [
            ("incident-1", "incident.opened", &lead),
            ("flight-LH1-2026-11-22", "flight.delayed", &agent),
            ("complaint-9", "complaint.received", &agent),
            ("incident-1", "incident.assessed", &lead),
        ] {
            let event = NewEvent::new(
                event_type,
                serde_json::json!({"text": "private"}),
                actor.clone(),
                Utc::now(),
            );
            store
                .append(AppendRequest::single(
                    stream,
                    ExpectedVersion::Any,
                    vec![event],
                ))
                .await
                .unwrap();
        }
        rebuild(&store, Timeline, |_, _| {}).unwrap();
        let tree = crate::projection::ReadModel::open(&store, "timeline").unwrap();
        let incident = read(&tree, "incident-1").unwrap();
        assert_eq!(
            incident
                .iter()
                .map(|e| (e.position, e.event_type.as_str(), e.actor_id.as_str()))
                .collect::<Vec<_>>(),
            vec![
                (1, "incident.opened", "lead-1"),
                (4, "incident.assessed", "lead-1")
            ]
        );
        assert_eq!(read(&tree, "complaint-9").unwrap().len(), 1);
        assert!(
            read(&tree, "flight-LH1-2026-11-22").unwrap().is_empty(),
            "flights have no timeline here"
        );
        assert!(
            read(&tree, "incident-10").unwrap().is_empty(),
            "prefixes do not leak into longer ids"
        );
        let raw: Vec<u8> = store
            .model_tree("timeline")
            .unwrap()
            .iter()
            .flat_map(|e| e.unwrap().1.to_vec())
            .collect();
        assert!(
            !String::from_utf8_lossy(&raw).contains("private"),
            "no event data (personal data) in the timeline"
        );
    }
}
