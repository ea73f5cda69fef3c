//! Why a complaint refuses a command: each variant names the rule broken.

use super::state::ComplaintStatus;
use crate::domain::common::api_name;
use crate::domain::policy::sla::SlaKind;

/// A refused complaint command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ComplaintError {
    #[error("the complaint has not been received")]
    NotReceived,
    #[error("the complaint was already received")]
    AlreadyReceived,
    #[error("the complaint is closed")]
    ComplaintClosed,
    #[error("{field} must not be empty")]
    Required { field: &'static str },
    #[error("received_at {received_at} is in the future")]
    ReceivedInFuture {
        received_at: chrono::DateTime<chrono::Utc>,
    },
    #[error(
        "received_at {received_at} is more than {days_max} days ago; a complaint's SLA clock cannot start that far back"
    )]
    ReceivedTooLongAgo {
        received_at: chrono::DateTime<chrono::Utc>,
        days_max: i64,
    },
    #[error("the complaint was already acknowledged")]
    AlreadyAcknowledged,
    #[error("routing requires an acknowledgement (apology) first")]
    RoutingRequiresAcknowledgement,
    #[error("routing needs at least one department")]
    NoDepartment,
    #[error("progress updates require the complaint to be routed (status {})", api_name(.status))]
    UpdateRequiresRouting { status: ComplaintStatus },
    #[error("a resolution requires the complaint to be routed (status {})", api_name(.status))]
    ResolutionRequiresRouting { status: ComplaintStatus },
    #[error("a resolution proposal is already waiting for the customer's answer")]
    ResolutionAlreadyPending,
    #[error("no resolution proposal is waiting for the customer's answer")]
    NoResolutionPending,
    #[error("the complaint is already escalated to a supervisor")]
    AlreadyEscalated,
    #[error("the {} service level is already recorded as breached", api_name(.kind))]
    SlaAlreadyBreached { kind: SlaKind },
    #[error("the {} work is done: its service level cannot be breached any more", api_name(.kind))]
    SlaMet { kind: SlaKind },
    #[error("the flight is not valid: {reason}")]
    InvalidFlight { reason: String },
    #[error(
        "responsibility is recorded with a resolution proposal (its root cause and department); propose a resolution first"
    )]
    NoResponsibilityYet,
    #[error("{} is already responsible", api_name(.department))]
    AlreadyResponsible {
        department: super::events::Department,
    },
    #[error("quality is scored on closed complaints")]
    QualityNeedsClosed,
    #[error("the complaint's quality is already scored")]
    QualityAlreadyScored,
    #[error("quality scores are 1 (poor) to 5 (excellent), not {score}")]
    QualityOutOfRange { score: u8 },
    #[error("the complaint already belongs to incident {incident_id}")]
    AlreadyLinked { incident_id: uuid::Uuid },
    #[error("the {} deadline {deadline} has not passed yet", api_name(.kind))]
    SlaNotDue {
        kind: SlaKind,
        deadline: chrono::DateTime<chrono::Utc>,
    },
}
