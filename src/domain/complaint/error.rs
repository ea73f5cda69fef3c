//! Why a complaint refuses a command: each variant names the rule broken.

use super::state::ComplaintStatus;

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
    #[error("the complaint was already acknowledged")]
    AlreadyAcknowledged,
    #[error("routing requires an acknowledgement (apology) first")]
    RoutingRequiresAcknowledgement,
    #[error("routing needs at least one department")]
    NoDepartment,
    #[error("progress updates require the complaint to be routed (status {status:?})")]
    UpdateRequiresRouting { status: ComplaintStatus },
    #[error("a resolution requires the complaint to be routed (status {status:?})")]
    ResolutionRequiresRouting { status: ComplaintStatus },
    #[error("a resolution proposal is already waiting for the customer's answer")]
    ResolutionAlreadyPending,
    #[error("no resolution proposal is waiting for the customer's answer")]
    NoResolutionPending,
    #[error("the complaint is already escalated to a supervisor")]
    AlreadyEscalated,
}
