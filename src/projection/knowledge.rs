//! Knowledge read model: each playbook, template and answer at its current version,
//! with its revisions (why, and the incident whose review changed it); searched by
//! words, kind, disruption type, language and incident.
//!
//! Keys:
//! - `E <entry:16>` → [`EntrySummary`] (JSON).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::model::{ModelError, ReadModel, decoded};
use super::runtime::{ModelTx, Projection};
use crate::domain::common::Category;
use crate::domain::knowledge::{EntryKind, KnowledgeEvent};
use crate::store::RecordedEvent;

pub const NAME: &str = "knowledge";

/// One revision of an entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Revision {
    pub version: u32,
    pub reason: String,
    /// The incident whose review changed it.
    pub incident_id: Option<Uuid>,
    pub revised_by: String,
    /// The revision's log position.
    pub position: u64,
}

/// An entry at its current version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct EntrySummary {
    pub entry_id: Uuid,
    pub kind: EntryKind,
    pub category: Category,
    pub language: String,
    pub version: u32,
    pub title: String,
    pub body: String,
    pub retired: bool,
    pub revisions: Vec<Revision>,
}

/// The knowledge projection.
#[derive(Debug, Default)]
pub struct Knowledge;

fn entry_key(id: Uuid) -> Vec<u8> {
    let mut key = vec![b'E'];
    key.extend_from_slice(id.as_bytes());
    key
}

impl Projection for Knowledge {
    fn name(&self) -> &'static str {
        NAME
    }

    fn apply(&mut self, event: &RecordedEvent, tx: &mut ModelTx<'_>) -> Result<(), ModelError> {
        let Some(id) = super::stream_uuid(&event.stream, "knowledge-") else {
            return Ok(());
        };
        let decoded = decoded::<KnowledgeEvent>(event)?;
        if let KnowledgeEvent::Published(p) = decoded {
            tx.insert_json(
                entry_key(id),
                &EntrySummary {
                    entry_id: id,
                    kind: p.kind,
                    category: p.category,
                    language: p.language,
                    version: 1,
                    title: p.title,
                    body: p.body,
                    retired: false,
                    revisions: Vec::new(),
                },
            );
            return Ok(());
        }
        let Some(mut entry) = tx.get_json::<EntrySummary>(&entry_key(id))? else {
            return Err(ModelError::Invalid(format!(
                "{} before knowledge.published",
                event.event_type
            )));
        };
        match decoded {
            KnowledgeEvent::Published(_) => {}
            KnowledgeEvent::Revised(r) => {
                entry.version = r.version;
                entry.title = r.title;
                entry.body = r.body;
                entry.revisions.push(Revision {
                    version: r.version,
                    reason: r.reason,
                    incident_id: r.incident_id,
                    revised_by: r.revised_by,
                    position: event.position,
                });
            }
            KnowledgeEvent::Retired(_) => entry.retired = true,
        }
        tx.insert_json(entry_key(id), &entry);
        Ok(())
    }
}

/// What a search asks for (every `None` matches all).
#[derive(Debug, Clone, Default)]
pub struct Search {
    /// Words that must all appear in the title or the body (any case).
    pub words: Option<String>,
    pub kind: Option<EntryKind>,
    pub category: Option<Category>,
    pub language: Option<String>,
    /// Only entries a review of this incident revised.
    pub incident_id: Option<Uuid>,
    /// Retired entries too.
    pub retired: bool,
}

impl Search {
    fn matches(&self, e: &EntrySummary) -> bool {
        let text = format!("{}\n{}", e.title, e.body).to_lowercase();
        (self.retired || !e.retired)
            && self.kind.is_none_or(|k| k == e.kind)
            && self.category.is_none_or(|c| c == e.category)
            && self.language.as_ref().is_none_or(|l| *l == e.language)
            && self
                .incident_id
                .is_none_or(|i| e.revisions.iter().any(|r| r.incident_id == Some(i)))
            && self.words.as_ref().is_none_or(|words| {
                words
                    .split_whitespace()
                    .all(|w| text.contains(&w.to_lowercase()))
            })
    }
}

/// One entry.
pub fn entry(tree: &ReadModel, id: Uuid) -> Result<Option<EntrySummary>, ModelError> {
    tree.get(entry_key(id))
}

/// The entries `search` finds, by id.
pub fn search(tree: &ReadModel, search: &Search) -> Result<Vec<EntrySummary>, ModelError> {
    let mut found = Vec::new();
    for item in tree.prefix::<_, EntrySummary>(b"E") {
        let (_, entry) = item?;
        if search.matches(&entry) {
            found.push(entry);
        }
    }
    Ok(found)
}
