//! Incidents read model: one summary per incident, from which the pipeline views are
//! queried — the **pipeline board**, **assess** (impact, who is assigned where and each
//! person's load), **plan** (plans awaiting approval, approved plans), **follow-up**
//! (survey response and satisfaction) and **review** (lessons and improvements).
//!
//! Everything is written by crisis staff (titles, plans, lessons); no passenger's words
//! or contact details enter this model, only passenger counts and ids of contacts and
//! surveys. Times come from the events (the envelope's `occurred_at` for stage changes);
//! anything relative to now (age in stage, active assignments) is computed by the
//! queries from a `now` they are given.
//!
//! Keys:
//! - `N <incident:16>` → [`IncidentSummary`] (JSON);
//! - `C <incident:16> <contact:16>` → the contact's latest outcome (JSON, `null` if none);
//! - `S <incident:16> <survey:16>` → a sent survey's method, passenger tier, answered flag;
//! - `T <passenger id>` → the passenger's tier (from the passenger's own stream);
//! - `P <incident:16> <kind:u8> <version:u32 BE>` → the drafted plan (JSON);
//! - `M <compensation:16>` → [`CompensationDue`]: its incident, deadline and settlement.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::model::{ModelError, ReadModel};
use super::runtime::{ModelTx, Projection};
use crate::domain::common::{Category, FlightKey, Severity, Tier};
use crate::domain::compensation::ComputedOutline;
use crate::domain::incident::{
    CommunicationPlan, CompensationPlan, ContactOutcome, ImpactAssessment, Improvement,
    IncidentEvent, IncidentRole, PlanKind, Stage, SurveyMethod,
};
use crate::store::RecordedEvent;

pub const NAME: &str = "incidents";

/// A role assignment inside an incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Assignment {
    pub assignment_id: Uuid,
    pub role: IncidentRole,
    pub person: String,
    pub from: DateTime<Utc>,
    pub until: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
}

impl Assignment {
    /// Holds the role at `now`.
    pub fn active_at(&self, now: DateTime<Utc>) -> bool {
        let end = match (self.until, self.ended_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.from <= now && end.is_none_or(|end| now < end)
    }
}

/// One plan's progress: the latest drafted version and the approved one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PlanProgress {
    pub drafted_version: u32,
    pub approved_version: Option<u32>,
    pub approved_by: Option<String>,
    pub approved_at: Option<DateTime<Utc>>,
}

/// A recorded improvement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ImprovementEntry {
    pub improvement_id: Uuid,
    #[serde(flatten)]
    pub improvement: Improvement,
    pub recorded_at: DateTime<Utc>,
}

/// Surveys sent, answered and the sum of the answers' scores.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct SurveyCounts {
    pub sent: u64,
    pub answered: u64,
    pub score_sum: u64,
}

impl SurveyCounts {
    /// Answered / sent (0 when none was sent).
    pub fn response_rate(&self) -> f64 {
        if self.sent == 0 {
            0.0
        } else {
            self.answered as f64 / self.sent as f64
        }
    }

    /// Mean score 1–5 of the answers.
    pub fn satisfaction(&self) -> Option<f64> {
        (self.answered > 0).then(|| self.score_sum as f64 / self.answered as f64)
    }

    fn add(&mut self, other: &SurveyCounts) {
        self.sent += other.sent;
        self.answered += other.answered;
        self.score_sum += other.score_sum;
    }
}

/// Survey figures of one incident, in all and per channel (survey method) and tier.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Surveys {
    pub sent: u64,
    pub answered: u64,
    pub score_sum: u64,
    pub by_method: BTreeMap<SurveyMethod, SurveyCounts>,
    /// By the passenger's tier when the survey was sent (`none` if not registered).
    pub by_tier: BTreeMap<Tier, SurveyCounts>,
}

/// What the model remembers of a sent survey.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
struct SentSurvey {
    method: SurveyMethod,
    tier: Tier,
    answered: bool,
}

/// What the model knows of one incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct IncidentSummary {
    pub incident_id: Uuid,
    pub title: String,
    pub category: Category,
    pub severity: Severity,
    pub flight: Option<FlightKey>,
    pub stage: Stage,
    pub opened_at: DateTime<Utc>,
    pub stage_entered_at: DateTime<Utc>,
    pub reopened: u32,
    pub signals: u64,
    pub impact: Option<ImpactAssessment>,
    pub impact_revision: u32,
    pub assignments: Vec<Assignment>,
    pub communication_plan: PlanProgress,
    pub compensation_plan: PlanProgress,
    pub information_published: u64,
    pub contacts_planned: u64,
    pub contacts_by_outcome: BTreeMap<ContactOutcome, u64>,
    pub surveys: Surveys,
    pub open_problems: u64,
    pub lessons: Vec<String>,
    /// The root causes the review recorded, with the department responsible.
    #[serde(default)]
    pub causes: Vec<crate::domain::incident::CauseRecorded>,
    pub improvements: Vec<ImprovementEntry>,
    /// The knowledge-base entries the review's lessons and improvements changed, in the
    /// order first linked.
    #[serde(default)]
    pub knowledge: Vec<Uuid>,
    pub compensations_linked: u64,
    pub compensations_settled: u64,
    /// Unsettled linked compensations and their legal payment deadlines.
    pub unsettled_deadlines: BTreeMap<Uuid, Option<DateTime<Utc>>>,
}

/// A compensation as far as incidents care.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CompensationDue {
    pub incident_id: Option<Uuid>,
    pub deadline: Option<DateTime<Utc>>,
    pub settled: bool,
}

/// The incidents projection.
#[derive(Debug, Default)]
pub struct Incidents;

fn key(tag: u8, parts: &[&[u8]]) -> Vec<u8> {
    let mut key = vec![tag];
    for part in parts {
        key.extend_from_slice(part);
    }
    key
}

fn summary_key(id: Uuid) -> Vec<u8> {
    key(b'N', &[id.as_bytes()])
}

fn plan_key(id: Uuid, kind: PlanKind, version: u32) -> Vec<u8> {
    let kind = match kind {
        PlanKind::Communication => 0u8,
        PlanKind::Compensation => 1,
    };
    key(b'P', &[id.as_bytes(), &[kind], &version.to_be_bytes()])
}

fn incident_id(stream: &str) -> Option<Uuid> {
    stream.strip_prefix("incident-")?.parse().ok()
}

mod model;
mod views;

pub use views::*;

#[cfg(test)]
mod tests;
