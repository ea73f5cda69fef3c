//! Value types of the crisis pipeline: stages, plans, impact, contacts, roles.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::domain::common::{Money, PassengerId};

/// Pipeline stage, in the order an incident moves through them.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Default,
    Serialize,
    Deserialize,
    JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    #[default]
    Monitor,
    Assess,
    Plan,
    Execute,
    FollowUp,
    Review,
    Closed,
}

/// A public channel a communication plan may use.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum CommChannel {
    Website,
    Social,
    Sms,
    Email,
    AppPush,
}

/// Which of the two plans an approval or a refusal is about.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum PlanKind {
    Communication,
    Compensation,
}

/// What the public and the affected passengers are told, and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CommunicationPlan {
    pub content: String,
    /// Never empty.
    pub channels: BTreeSet<CommChannel>,
}

/// How passengers are compensated: the regulation basis and airline goodwill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CompensationPlan {
    /// Regulations applied and how (e.g. "EU261 art. 7 cash for all EU departures").
    pub summary: String,
    /// Goodwill beyond the law (vouchers, miles), if any.
    pub goodwill: Option<String>,
    /// Expected total, for the approval decision.
    pub budget: Option<Money>,
}

/// A plan as the incident holds it: the current draft and who approved it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct PlanRecord<T> {
    /// Starts at 1; every new draft increments it and withdraws the approval.
    pub version: u32,
    pub plan: T,
    /// The crisis lead who approved this version, if approved.
    pub approved_by: Option<String>,
}

impl<T> PlanRecord<T> {
    /// Whether a crisis lead approved the current version.
    pub fn is_approved(&self) -> bool {
        self.approved_by.is_some()
    }
}

/// A coarse impact level for operations and reputation.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ImpactLevel {
    None,
    Low,
    Medium,
    High,
}

/// Passengers affected, counted per loyalty tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct PassengersByTier {
    pub diamond: u32,
    pub platinum: u32,
    pub gold: u32,
    pub silver: u32,
    pub none: u32,
}

impl PassengersByTier {
    /// All affected passengers.
    pub fn total(&self) -> u64 {
        [
            self.diamond,
            self.platinum,
            self.gold,
            self.silver,
            self.none,
        ]
        .iter()
        .map(|n| u64::from(*n))
        .sum()
    }
}

/// The assess stage's finding: who and what is hit, and how hard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ImpactAssessment {
    pub passengers: PassengersByTier,
    pub operations: ImpactLevel,
    pub operations_note: String,
    pub reputation: ImpactLevel,
    pub reputation_note: String,
}

/// A responsibility inside one incident (not the system access role).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum IncidentRole {
    CrisisLead,
    Communications,
    CustomerCare,
    DataAnalysis,
}

/// A person holding an incident role from `from` until `until` (open-ended when `None`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct RoleAssignment {
    pub role: IncidentRole,
    pub person: String,
    pub from: DateTime<Utc>,
    pub until: Option<DateTime<Utc>>,
}

impl RoleAssignment {
    /// Whether two time ranges `[from, until)` overlap.
    pub fn overlaps(&self, from: DateTime<Utc>, until: Option<DateTime<Utc>>) -> bool {
        let starts_before_other_ends = until.is_none_or(|end| self.from < end);
        let other_starts_before_this_ends = self.until.is_none_or(|end| from < end);
        starts_before_other_ends && other_starts_before_this_ends
    }
}

/// How an affected passenger is contacted.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ContactMethod {
    Phone,
    Email,
    Sms,
    AppPush,
}

/// What came of one contact attempt.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ContactOutcome {
    Reached,
    LeftMessage,
    Unreachable,
    OptedOut,
}

/// A planned contact with one passenger and, once known, its outcome.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct Contact {
    pub passenger: PassengerId,
    pub method: ContactMethod,
    pub outcome: Option<ContactOutcome>,
}

/// How a satisfaction survey is run.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum SurveyMethod {
    Phone,
    Email,
}

/// A survey sent to one passenger and, once answered, its score (1–5).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct Survey {
    pub passenger: PassengerId,
    pub method: SurveyMethod,
    pub score: Option<u8>,
}

/// Lowest and highest satisfaction score a survey accepts.
pub const SCORE_RANGE: std::ops::RangeInclusive<u8> = 1..=5;

/// A process improvement from the review, with the person who owns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Improvement {
    pub description: String,
    pub owner: String,
    pub due: Option<chrono::NaiveDate>,
    /// The knowledge-base entries it changed (`GET /v1/knowledge/{id}`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub knowledge: Vec<uuid::Uuid>,
}
