//! The facts of an incident's life, one struct per event type.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::values::*;
use crate::domain::common::{Category, FlightKey, PassengerId, PersonalData, Settlement, Severity};
use crate::domain::event::domain_events;

/// `incident.opened`: a crisis is being monitored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct IncidentOpened {
    pub incident_id: Uuid,
    pub title: String,
    pub category: Category,
    pub severity: Severity,
    pub flight: Option<FlightKey>,
    pub correlation_key: Option<String>,
    pub signal_ids: Vec<Uuid>,
    pub opened_at: DateTime<Utc>,
}

/// `incident.signal_attached`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SignalAttached {
    pub signal_id: Uuid,
}

/// A stage change with no data of its own (the envelope says when and who).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StageEntered {
    pub stage: Stage,
}

/// `incident.assessed`: the impact assessment; revision 1 is the first, later ones are re-assessments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ImpactAssessed {
    pub revision: u32,
    pub impact: ImpactAssessment,
}

/// `incident.communication_plan_drafted`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CommunicationPlanDrafted {
    pub version: u32,
    pub plan: CommunicationPlan,
    pub drafted_by: String,
    /// The knowledge-base template it started from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<TemplateRef>,
}

/// A knowledge-base template at one version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TemplateRef {
    pub entry_id: Uuid,
    pub version: u32,
}

/// `incident.compensation_plan_drafted`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CompensationPlanDrafted {
    pub version: u32,
    pub plan: CompensationPlan,
    pub drafted_by: String,
}

/// `incident.<kind>_plan_approved`: a crisis lead approved one plan version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PlanApproved {
    pub version: u32,
    pub approved_by: String,
}

/// `incident.information_published`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct InformationPublished {
    pub channel: CommChannel,
    pub content: String,
}

/// `incident.contact_planned`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ContactPlanned {
    pub contact_id: Uuid,
    pub passenger: PassengerId,
    pub method: ContactMethod,
    /// A mandatory service notice: sent whatever the passenger's consent.
    #[serde(default)]
    pub mandatory_notice: bool,
}

/// `incident.contact_outcome_recorded`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ContactOutcomeRecorded {
    pub contact_id: Uuid,
    pub outcome: ContactOutcome,
    /// What the passenger said or asked for, as noted by the agent: personal data.
    pub note: PersonalData<String>,
}

/// `incident.survey_sent`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SurveySent {
    pub survey_id: Uuid,
    pub passenger: PassengerId,
    pub method: SurveyMethod,
}

/// `incident.satisfaction_recorded`: score 1 (bad) to 5 (good).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SatisfactionRecorded {
    pub survey_id: Uuid,
    #[schemars(range(min = 1, max = 5))]
    pub score: u8,
}

/// `incident.open_problems_summarised`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OpenProblemsSummarised {
    pub problems: Vec<String>,
}

/// `incident.lesson_recorded`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LessonRecorded {
    pub lesson: String,
    /// The knowledge-base entries it changed (`GET /v1/knowledge/{id}`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub knowledge: Vec<Uuid>,
}

/// `incident.cause_recorded`: a root cause the review found, and who answers for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CauseRecorded {
    pub root_cause: crate::domain::common::RootCause,
    pub responsible: crate::domain::complaint::Department,
    /// What the review found (staff-written).
    pub finding: String,
}

/// `incident.improvement_recorded`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ImprovementRecorded {
    pub improvement_id: Uuid,
    pub improvement: Improvement,
}

/// `incident.closed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct IncidentClosed {
    pub summary: String,
    pub closed_by: String,
}

/// `incident.reopened`: back to assessment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct IncidentReopened {
    pub reason: String,
    pub reopened_by: String,
}

/// `incident.severity_escalated` / `incident.severity_deescalated`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SeverityChanged {
    pub from: Severity,
    pub to: Severity,
    pub reason: String,
}

/// `incident.role_assigned`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RoleAssigned {
    pub assignment_id: Uuid,
    pub role: IncidentRole,
    pub person: String,
    pub from: DateTime<Utc>,
    pub until: Option<DateTime<Utc>>,
}

/// `incident.role_assignment_ended`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RoleAssignmentEnded {
    pub assignment_id: Uuid,
    pub at: DateTime<Utc>,
}

/// `incident.compensation_linked`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CompensationLinked {
    pub compensation_id: Uuid,
    pub passenger: PassengerId,
}

/// `incident.compensation_settled`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CompensationSettled {
    pub compensation_id: Uuid,
    pub settlement: Settlement,
}

domain_events! {
    /// Every fact an incident stream holds.
    pub enum IncidentEvent {
        Opened(IncidentOpened) = "incident.opened",
        SignalAttached(SignalAttached) = "incident.signal_attached",
        AssessmentStarted(StageEntered) = "incident.assessment_started",
        ImpactAssessed(ImpactAssessed) = "incident.assessed",
        PlanningStarted(StageEntered) = "incident.planning_started",
        CommunicationPlanDrafted(CommunicationPlanDrafted) = "incident.communication_plan_drafted",
        CompensationPlanDrafted(CompensationPlanDrafted) = "incident.compensation_plan_drafted",
        CommunicationPlanApproved(PlanApproved) = "incident.communication_plan_approved",
        CompensationPlanApproved(PlanApproved) = "incident.compensation_plan_approved",
        ExecutionStarted(StageEntered) = "incident.execution_started",
        InformationPublished(InformationPublished) = "incident.information_published",
        ContactPlanned(ContactPlanned) = "incident.contact_planned",
        ContactOutcomeRecorded(ContactOutcomeRecorded) = "incident.contact_outcome_recorded",
        FollowUpStarted(StageEntered) = "incident.follow_up_started",
        SurveySent(SurveySent) = "incident.survey_sent",
        SatisfactionRecorded(SatisfactionRecorded) = "incident.satisfaction_recorded",
        OpenProblemsSummarised(OpenProblemsSummarised) = "incident.open_problems_summarised",
        ReviewStarted(StageEntered) = "incident.review_started",
        LessonRecorded(LessonRecorded) = "incident.lesson_recorded",
        CauseRecorded(CauseRecorded) = "incident.cause_recorded",
        ImprovementRecorded(ImprovementRecorded) = "incident.improvement_recorded",
        Closed(IncidentClosed) = "incident.closed",
        Reopened(IncidentReopened) = "incident.reopened",
        SeverityEscalated(SeverityChanged) = "incident.severity_escalated",
        SeverityDeescalated(SeverityChanged) = "incident.severity_deescalated",
        RoleAssigned(RoleAssigned) = "incident.role_assigned",
        RoleAssignmentEnded(RoleAssignmentEnded) = "incident.role_assignment_ended",
        CompensationLinked(CompensationLinked) = "incident.compensation_linked",
        CompensationSettled(CompensationSettled) = "incident.compensation_settled",
    }
}
