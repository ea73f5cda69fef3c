//! Suggestions read model: each customer suggestion (without its words) with where it
//! stands in its loop and its evaluation deadline, `evaluate_working_days` working days
//! of the SLA calendar after receipt.
//!
//! Keys:
//! - `S <suggestion:16>` → [`SuggestionSummary`] (JSON);
//! - `R <received µs:u64 BE> <suggestion:16>` → empty: every suggestion in order of
//!   receipt.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::model::{ModelError, ReadModel, decoded};
use super::runtime::{ModelTx, Projection};
use crate::domain::common::{Channel, PassengerId, RootCause};
use crate::domain::complaint::Department;
use crate::domain::policy::crisis::CrisisPolicy;
use crate::domain::suggestion::{Outcome, SuggestionEvent};
use crate::store::RecordedEvent;

pub const NAME: &str = "suggestions";

/// Where a suggestion stands.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Received,
    Classified,
    Forwarded,
    Adopted,
    Declined,
    /// Adopted, and the customer told.
    CustomerNotified,
}

/// One suggestion, without the customer's words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SuggestionSummary {
    pub suggestion_id: Uuid,
    pub channel: Channel,
    pub passenger: Option<PassengerId>,
    pub stage: Stage,
    pub topic: Option<RootCause>,
    pub department: Option<Department>,
    pub received_at: DateTime<Utc>,
    /// When it must be evaluated by (the policy's working days after receipt).
    pub evaluate_by: DateTime<Utc>,
    pub evaluated_at: Option<DateTime<Utc>>,
    /// Evaluated by its deadline (`null` while not evaluated).
    pub evaluated_on_time: Option<bool>,
    /// Not evaluated and past its deadline at the time of the read.
    #[serde(default)]
    pub overdue: bool,
}

/// The suggestions projection: deadlines follow the policy it is given.
#[derive(Debug, Default)]
pub struct Suggestions {
    pub policy: CrisisPolicy,
}

fn summary_key(id: Uuid) -> Vec<u8> {
    let mut key = vec![b'S'];
    key.extend_from_slice(id.as_bytes());
    key
}

fn order_key(received_at: DateTime<Utc>, id: Uuid) -> Vec<u8> {
    let mut key = vec![b'R'];
    key.extend_from_slice(
        &u64::try_from(received_at.timestamp_micros())
            .unwrap_or(0)
            .to_be_bytes(),
    );
    key.extend_from_slice(id.as_bytes());
    key
}

impl Projection for Suggestions {
    fn name(&self) -> &'static str {
        NAME
    }

    fn apply(&mut self, event: &RecordedEvent, tx: &mut ModelTx<'_>) -> Result<(), ModelError> {
        let Some(id) = super::stream_uuid(&event.stream, "suggestion-") else {
            return Ok(());
        };
        let decoded = decoded::<SuggestionEvent>(event)?;
        if let SuggestionEvent::Received(r) = &decoded {
            let summary = SuggestionSummary {
                suggestion_id: id,
                channel: r.channel,
                passenger: r.passenger.clone(),
                stage: Stage::Received,
                topic: None,
                department: None,
                received_at: r.received_at,
                evaluate_by: self
                    .policy
                    .sla
                    .add_working_days(r.received_at, self.policy.suggestions.evaluate_working_days),
                evaluated_at: None,
                evaluated_on_time: None,
                overdue: false,
            };
            tx.insert(order_key(r.received_at, id), Vec::new());
            tx.insert_json(summary_key(id), &summary);
            return Ok(());
        }
        let Some(mut s) = tx.get_json::<SuggestionSummary>(&summary_key(id))? else {
            return Err(ModelError::Invalid(format!(
                "{} before suggestion.received",
                event.event_type
            )));
        };
        match decoded {
            SuggestionEvent::Received(_) => {}
            SuggestionEvent::Classified(c) => {
                s.topic = Some(c.topic);
                s.stage = s.stage.max(Stage::Classified);
            }
            SuggestionEvent::Forwarded(f) => {
                s.department = Some(f.department);
                s.stage = s.stage.max(Stage::Forwarded);
            }
            SuggestionEvent::Evaluated(e) => {
                s.stage = match e.outcome {
                    Outcome::Adopted => Stage::Adopted,
                    Outcome::Declined => Stage::Declined,
                };
                s.evaluated_at = Some(e.evaluated_at);
                s.evaluated_on_time = Some(e.evaluated_at <= s.evaluate_by);
            }
            SuggestionEvent::CustomerNotified(_) => s.stage = Stage::CustomerNotified,
        }
        tx.insert_json(summary_key(id), &s);
        Ok(())
    }
}

impl SuggestionSummary {
    /// As read at `now`.
    pub fn at(mut self, now: DateTime<Utc>) -> Self {
        self.overdue = self.evaluated_at.is_none() && now > self.evaluate_by;
        self
    }
}

/// One suggestion.
pub fn suggestion(tree: &ReadModel, id: Uuid) -> Result<Option<SuggestionSummary>, ModelError> {
    tree.get(summary_key(id))
}

/// Suggestions in order of receipt, at `stage` and with `department` if given.
pub fn list(
    tree: &ReadModel,
    stage: Option<Stage>,
    department: Option<Department>,
) -> Result<Vec<SuggestionSummary>, ModelError> {
    let mut found = Vec::new();
    for key in tree.prefix_keys(b"R") {
        let key = key?;
        let id = Uuid::from_slice(&key[9..])?;
        if let Some(s) = suggestion(tree, id)?
            && stage.is_none_or(|st| st == s.stage)
            && department.is_none_or(|d| s.department == Some(d))
        {
            found.push(s);
        }
    }
    Ok(found)
}
