//! Why an incident refuses a command: each variant names the rule broken.

use crate::domain::common::api_name;
use uuid::Uuid;

use super::values::{PlanKind, Stage};
use crate::domain::common::{Role, Severity};

/// A refused incident command. Callers show the message; none is retryable
/// unchanged except after the missing facts are recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IncidentError {
    #[error("the incident has not been opened")]
    NotOpened,
    #[error("the incident is already open")]
    AlreadyOpened,
    #[error("the incident is closed; reopen it first")]
    IncidentClosed,
    #[error("the incident is not closed, so it cannot be reopened")]
    NotClosed,
    #[error("{command} is not allowed in stage {}", api_name(.stage))]
    WrongStage { command: &'static str, stage: Stage },
    #[error("{field} must not be empty")]
    Required { field: &'static str },
    #[error("only a crisis lead may {action}; the actor's role is {}", api_name(.role))]
    RequiresCrisisLead { action: &'static str, role: Role },
    #[error("signal {signal_id} is already attached")]
    SignalAlreadyAttached { signal_id: Uuid },
    #[error("planning requires an impact assessment")]
    PlanningRequiresImpactAssessment,
    #[error("a communication plan needs at least one channel")]
    CommunicationPlanNeedsChannel,
    #[error("there is no {} plan to approve", api_name(.plan))]
    NoPlanToApprove { plan: PlanKind },
    #[error("{} plan version {requested} is not the current version {current}", api_name(.plan))]
    StalePlanVersion {
        plan: PlanKind,
        requested: u32,
        current: u32,
    },
    #[error("{} plan version {version} is already approved", api_name(.plan))]
    PlanAlreadyApproved { plan: PlanKind, version: u32 },
    #[error("execution requires approved plans; missing: {}", api_name(.missing))]
    ExecutionRequiresApprovedPlans { missing: Vec<PlanKind> },
    #[error("channel {} is not in the approved communication plan", api_name(.channel))]
    ChannelNotInCommunicationPlan { channel: super::values::CommChannel },
    #[error("contact {contact_id} is already planned")]
    ContactAlreadyPlanned { contact_id: Uuid },
    #[error("contact {contact_id} was never planned")]
    UnknownContact { contact_id: Uuid },
    #[error("follow-up requires an outcome for every contact; pending: {}", api_name(.pending))]
    FollowUpRequiresContactOutcomes { pending: Vec<Uuid> },
    #[error("survey {survey_id} was already sent")]
    SurveyAlreadySent { survey_id: Uuid },
    #[error("survey {survey_id} was never sent")]
    UnknownSurvey { survey_id: Uuid },
    #[error("survey {survey_id} was already answered with score {score}; a survey has one answer")]
    SurveyAlreadyAnswered { survey_id: Uuid, score: u8 },
    #[error("satisfaction score {score} is outside 1..=5")]
    ScoreOutOfRange { score: u8 },
    #[error("improvement {improvement_id} is already recorded")]
    ImprovementAlreadyRecorded { improvement_id: Uuid },
    #[error("an improvement needs an owner")]
    ImprovementRequiresOwner,
    #[error("closing requires at least one lesson learned")]
    CloseRequiresLesson,
    #[error("closing requires at least one improvement with an owner")]
    CloseRequiresImprovementWithOwner,
    #[error("closing requires every compensation settled; unsettled: {}", api_name(.unsettled))]
    CloseRequiresSettledCompensations { unsettled: Vec<Uuid> },
    #[error("severity {} is not above the current {}", api_name(.to), api_name(.from))]
    NotAnEscalation { from: Severity, to: Severity },
    #[error("severity {} is not below the current {}", api_name(.to), api_name(.from))]
    NotADeescalation { from: Severity, to: Severity },
    #[error("role assignment {assignment_id} already exists")]
    AssignmentAlreadyExists { assignment_id: Uuid },
    #[error("a role assignment must end after it starts")]
    AssignmentEndsBeforeStart,
    #[error("crisis lead assignments may not overlap; {existing} overlaps")]
    CrisisLeadOverlap { existing: Uuid },
    #[error("role assignment {assignment_id} does not exist")]
    UnknownAssignment { assignment_id: Uuid },
    #[error("role assignment {assignment_id} has already ended")]
    AssignmentAlreadyEnded { assignment_id: Uuid },
    #[error("compensation {compensation_id} is already linked")]
    CompensationAlreadyLinked { compensation_id: Uuid },
    #[error("compensation {compensation_id} is not linked to this incident")]
    UnknownCompensation { compensation_id: Uuid },
    #[error("a failed compensation needs a reason")]
    FailureRequiresReason,
    #[error("{reason}")]
    InvalidFlight { reason: String },
    #[error("{root_cause} is already recorded with this department")]
    CauseAlreadyRecorded {
        root_cause: crate::domain::common::RootCause,
    },
}
