//! What a crisis team (or the spike detector) asks an incident to do.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::values::*;
use crate::domain::common::{Category, FlightKey, PassengerId, PersonalData, Settlement, Severity};

/// A request to an incident; `decide` answers with events or a refusal.
/// Over HTTP the variant is named by the route (`start_assessment`) and its fields are
/// the JSON body.
#[derive(Debug, Clone, PartialEq, serde::Deserialize, schemars::JsonSchema)]
#[serde(
    tag = "command",
    content = "fields",
    rename_all = "snake_case",
    deny_unknown_fields
)]
pub enum IncidentCommand {
    /// Opens the incident in the monitor stage.
    OpenIncident {
        incident_id: Uuid,
        title: String,
        category: Category,
        severity: Severity,
        flight: Option<FlightKey>,
        correlation_key: Option<String>,
        signal_ids: Vec<Uuid>,
    },
    /// Links one more signal (e.g. from spike detection) to the incident.
    AttachSignal { signal_id: Uuid },
    /// Leaves monitoring: the incident is real and must be assessed.
    StartAssessment,
    /// Records (or revises) the impact assessment.
    AssessImpact { impact: ImpactAssessment },
    /// Leaves assessment for planning; needs an impact assessment.
    StartPlanning,
    /// Drafts a new version of the communication plan (withdraws its approval).
    DraftCommunicationPlan {
        plan: CommunicationPlan,
        /// The knowledge-base template the plan starts from (its current version),
        /// recorded with the plan.
        #[serde(default)]
        template: Option<super::TemplateRef>,
    },
    /// Drafts a new version of the compensation plan (withdraws its approval).
    DraftCompensationPlan { plan: CompensationPlan },
    /// A crisis lead approves the given communication plan version.
    ApproveCommunicationPlan { version: u32 },
    /// A crisis lead approves the given compensation plan version.
    ApproveCompensationPlan { version: u32 },
    /// Leaves planning for execution; needs both plans approved.
    StartExecution,
    /// Publishes information on a channel of the approved communication plan.
    PublishInformation {
        channel: CommChannel,
        content: String,
    },
    /// Plans to contact one affected passenger.
    PlanContact {
        contact_id: Uuid,
        passenger: PassengerId,
        method: ContactMethod,
        /// The legally required information about the disruption: sent on this channel
        /// even if the passenger did not agree to it (recorded as such).
        #[serde(default)]
        mandatory_notice: bool,
    },
    /// Records what came of a planned contact.
    RecordContactOutcome {
        contact_id: Uuid,
        outcome: ContactOutcome,
        note: PersonalData<String>,
    },
    /// Leaves execution for follow-up; needs an outcome for every contact.
    StartFollowUp,
    /// Sends a satisfaction survey to a passenger.
    SendSurvey {
        survey_id: Uuid,
        passenger: PassengerId,
        method: SurveyMethod,
    },
    /// Records a survey's satisfaction score (1–5).
    RecordSatisfaction { survey_id: Uuid, score: u8 },
    /// Summarises the problems still open after follow-up.
    SummariseOpenProblems { problems: Vec<String> },
    /// Leaves follow-up for the review.
    StartReview,
    /// Records a lesson learned, and the knowledge-base entries (playbooks, templates,
    /// answers) it changed.
    RecordLesson {
        lesson: String,
        #[serde(default)]
        knowledge: Vec<Uuid>,
    },
    /// Records one of the incident's root causes (a code of the policy's taxonomy),
    /// the department responsible for it, and what the review found.
    RecordCause {
        root_cause: crate::domain::common::RootCause,
        responsible: crate::domain::complaint::Department,
        finding: String,
    },
    /// Records a process improvement and its owner.
    RecordImprovement {
        improvement_id: Uuid,
        improvement: Improvement,
    },
    /// A crisis lead closes the reviewed incident.
    CloseIncident { summary: String },
    /// A crisis lead reopens a closed incident; it returns to assessment.
    ReopenIncident { reason: String },
    /// Raises the severity.
    EscalateSeverity { to: Severity, reason: String },
    /// Lowers the severity.
    DeescalateSeverity { to: Severity, reason: String },
    /// Gives a person an incident role for a time range.
    AssignRole {
        assignment_id: Uuid,
        role: IncidentRole,
        person: String,
        from: DateTime<Utc>,
        until: Option<DateTime<Utc>>,
    },
    /// Ends an open-ended or later-ending role assignment at `at`.
    EndRoleAssignment {
        assignment_id: Uuid,
        at: DateTime<Utc>,
    },
    /// Makes a compensation entitlement known to the incident.
    LinkCompensation {
        compensation_id: Uuid,
        passenger: PassengerId,
    },
    /// Records the final state a linked compensation reached.
    RecordCompensationSettlement {
        compensation_id: Uuid,
        settlement: Settlement,
    },
}
