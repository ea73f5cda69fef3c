//! The knowledge base: emergency playbooks and communication templates per disruption
//! type and language, each entry versioned by its events. A revision says why, and
//! names the incident whose review changed it, so lessons lead to the entries they
//! changed and an entry to the incidents that shaped it. Retired entries stay in the
//! log and in history, out of searches.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::common::Category;
use crate::domain::event::domain_events;
use crate::domain::{Aggregate, Context};

/// The stream holding one entry: `knowledge-<uuid>`.
pub fn stream_name(entry_id: Uuid) -> String {
    format!("knowledge-{entry_id}")
}

/// What an entry is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// What to do in a crisis of its type.
    Playbook,
    /// Words to send passengers.
    Template,
    /// A policy or a common answer.
    Answer,
}

/// A request to an entry. The variants name the HTTP commands (`publish_entry`), so
/// they keep the noun.
#[allow(clippy::enum_variant_names)]
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(
    tag = "command",
    content = "fields",
    rename_all = "snake_case",
    deny_unknown_fields
)]
pub enum KnowledgeCommand {
    /// Publishes a new entry (version 1).
    PublishEntry {
        entry_id: Uuid,
        kind: EntryKind,
        /// The disruption type it is for.
        category: Category,
        /// A language tag, `en`, `de`, `pt-BR`.
        #[schemars(regex(pattern = r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$"))]
        language: String,
        title: String,
        body: String,
    },
    /// A new version of the entry, and why; `incident_id`: the incident whose review
    /// changed it.
    ReviseEntry {
        title: String,
        body: String,
        reason: String,
        incident_id: Option<Uuid>,
    },
    /// Takes the entry out of use.
    RetireEntry { reason: String },
}

/// `knowledge.published`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct EntryPublished {
    pub entry_id: Uuid,
    pub kind: EntryKind,
    pub category: Category,
    pub language: String,
    pub title: String,
    pub body: String,
    pub published_by: String,
}

/// `knowledge.revised`: version `version` of the entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct EntryRevised {
    pub version: u32,
    pub title: String,
    pub body: String,
    pub reason: String,
    pub incident_id: Option<Uuid>,
    pub revised_by: String,
}

/// `knowledge.retired`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct EntryRetired {
    pub reason: String,
    pub retired_by: String,
}

domain_events! {
    /// Every fact a knowledge entry's stream holds.
    pub enum KnowledgeEvent {
        Published(EntryPublished) = "knowledge.published",
        Revised(EntryRevised) = "knowledge.revised",
        Retired(EntryRetired) = "knowledge.retired",
    }
}

/// Why an entry refuses a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KnowledgeError {
    #[error("the entry is not published")]
    NotPublished,
    #[error("the entry is already published")]
    AlreadyPublished,
    #[error("the entry is retired")]
    Retired,
    #[error("{field} must not be empty")]
    Required { field: &'static str },
    #[error("language {0:?} is not a language tag such as en, de or pt-BR")]
    Language(String),
    #[error("the revision changes neither the title nor the body")]
    Unchanged,
}

/// The state of one entry.
#[derive(Debug, Clone, PartialEq, Default, Serialize, JsonSchema)]
pub struct Entry {
    pub published: Option<EntryPublished>,
    pub version: u32,
    pub title: String,
    pub body: String,
    pub retired: bool,
}

fn required(field: &'static str, text: &str) -> Result<(), KnowledgeError> {
    if text.trim().is_empty() {
        return Err(KnowledgeError::Required { field });
    }
    Ok(())
}

fn language_tag(tag: &str) -> bool {
    let mut parts = tag.split('-');
    let first = parts.next().unwrap_or("");
    (2..=3).contains(&first.len())
        && first.bytes().all(|b| b.is_ascii_lowercase())
        && parts.all(|p| (2..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

impl Aggregate for Entry {
    type Command = KnowledgeCommand;
    type Event = KnowledgeEvent;
    type Error = KnowledgeError;

    fn decide(
        &self,
        command: &KnowledgeCommand,
        ctx: &Context,
    ) -> Result<Vec<KnowledgeEvent>, KnowledgeError> {
        use KnowledgeCommand as C;
        use KnowledgeError as Error;
        let by = ctx.actor.id.clone();
        match (&self.published, command) {
            (
                None,
                C::PublishEntry {
                    entry_id,
                    kind,
                    category,
                    language,
                    title,
                    body,
                },
            ) => {
                required("title", title)?;
                required("body", body)?;
                if !language_tag(language) {
                    return Err(Error::Language(language.clone()));
                }
                Ok(vec![KnowledgeEvent::Published(EntryPublished {
                    entry_id: *entry_id,
                    kind: *kind,
                    category: *category,
                    language: language.clone(),
                    title: title.clone(),
                    body: body.clone(),
                    published_by: by,
                })])
            }
            (Some(_), C::PublishEntry { .. }) => Err(Error::AlreadyPublished),
            (None, _) => Err(Error::NotPublished),
            (Some(_), _) if self.retired => Err(Error::Retired),
            (
                Some(_),
                C::ReviseEntry {
                    title,
                    body,
                    reason,
                    incident_id,
                },
            ) => {
                required("title", title)?;
                required("body", body)?;
                required("reason", reason)?;
                if *title == self.title && *body == self.body {
                    return Err(Error::Unchanged);
                }
                Ok(vec![KnowledgeEvent::Revised(EntryRevised {
                    version: self.version + 1,
                    title: title.clone(),
                    body: body.clone(),
                    reason: reason.clone(),
                    incident_id: *incident_id,
                    revised_by: by,
                })])
            }
            (Some(_), C::RetireEntry { reason }) => {
                required("reason", reason)?;
                Ok(vec![KnowledgeEvent::Retired(EntryRetired {
                    reason: reason.clone(),
                    retired_by: by,
                })])
            }
        }
    }

    fn evolve(mut self, event: &KnowledgeEvent) -> Self {
        match event {
            KnowledgeEvent::Published(p) => {
                self.version = 1;
                self.title = p.title.clone();
                self.body = p.body.clone();
                self.published = Some(p.clone());
            }
            KnowledgeEvent::Revised(r) => {
                self.version = r.version;
                self.title = r.title.clone();
                self.body = r.body.clone();
            }
            KnowledgeEvent::Retired(_) => self.retired = true,
        }
        self
    }

    /// Staff-written: no data subject.
    fn data_subject(&self, _event: &KnowledgeEvent) -> Option<crate::domain::common::DataSubject> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::common::Role;
    use crate::domain::testing::{ctx_as, id};

    use KnowledgeCommand as C;
    use KnowledgeError as Error;

    fn run(commands: &[C]) -> Result<Entry, KnowledgeError> {
        let mut state = Entry::default();
        let ctx = ctx_as(Role::CrisisLead);
        for command in commands {
            for event in state.decide(command, &ctx)? {
                state = state.evolve(&event);
            }
        }
        Ok(state)
    }

    fn publish(language: &str) -> C {
        C::PublishEntry {
            entry_id: id(1),
            kind: EntryKind::Template,
            category: Category::Cancellation,
            language: language.into(),
            title: "Cancellation SMS".into(),
            body: "Your flight is cancelled; rebook at ...".into(),
        }
    }

    fn revise(body: &str) -> C {
        C::ReviseEntry {
            title: "Cancellation SMS".into(),
            body: body.into(),
            reason: "name the rebooking link first".into(),
            incident_id: Some(id(9)),
        }
    }

    #[test]
    fn entries_are_versioned_by_their_revisions_and_retired_for_good() {
        let entry = run(&[
            publish("en"),
            revise("Rebook at ... : your flight is cancelled"),
        ])
        .unwrap();
        assert_eq!(entry.version, 2);
        assert!(entry.body.starts_with("Rebook"));
        assert_eq!(
            run(&[
                publish("en"),
                revise("Your flight is cancelled; rebook at ...")
            ]),
            Err(Error::Unchanged)
        );
        let retire = C::RetireEntry {
            reason: "replaced".into(),
        };
        assert_eq!(
            run(&[publish("en"), retire, revise("again")]),
            Err(Error::Retired)
        );
        assert_eq!(run(&[revise("x")]), Err(Error::NotPublished));
        assert_eq!(
            run(&[publish("English")]),
            Err(Error::Language("English".into()))
        );
        assert!(run(&[publish("pt-BR")]).is_ok());
    }
}
