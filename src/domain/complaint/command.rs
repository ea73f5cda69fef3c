//! What agents, supervisors and the customer's answers ask of a complaint.

use std::collections::BTreeSet;

use uuid::Uuid;

use super::events::{Department, RemedySought};
use crate::domain::common::{
    Category, Channel, FlightKey, PassengerId, PersonalData, RootCause, Tier,
};
use crate::domain::policy::sla::SlaKind;

/// A request to a complaint; `decide` answers with events or a refusal.
/// Over HTTP the variant is named by the route (`start_assessment`) and its fields are
/// the JSON body.
#[derive(Debug, Clone, PartialEq, serde::Deserialize, schemars::JsonSchema)]
#[serde(
    tag = "command",
    content = "fields",
    rename_all = "snake_case",
    deny_unknown_fields
)]
pub enum ComplaintCommand {
    /// Registers a new complaint. Its service levels count from `received_at`: when the
    /// channel received it (a feedback message's own time), or, left out, now. Never in
    /// the future.
    ReceiveComplaint {
        complaint_id: Uuid,
        channel: Channel,
        passenger: PassengerId,
        tier: Tier,
        category: Category,
        remedy_sought: RemedySought,
        description: PersonalData<String>,
        incident_id: Option<Uuid>,
        /// The flight the complaint is about, if it names one: the complaint is listed
        /// with the flight and joins the flight's incident.
        #[serde(default)]
        flight: Option<FlightKey>,
        #[serde(default)]
        received_at: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// Answers the customer with an apology (the first response).
    AcknowledgeComplaint { apology: String },
    /// Hands the complaint to one or more departments.
    RouteComplaint { departments: BTreeSet<Department> },
    /// Tells the customer how handling progresses.
    SendProgressUpdate { message: String },
    /// Proposes a resolution to the customer, with the complaint's root cause (a code
    /// of the policy's taxonomy) and the department responsible for it.
    ProposeResolution {
        resolution: String,
        compensation_id: Option<Uuid>,
        root_cause: RootCause,
        responsible: Department,
    },
    /// The customer accepts the proposal: the complaint closes.
    ConfirmSatisfaction { comment: PersonalData<String> },
    /// The customer rejects the proposal: the complaint reopens.
    ReportDissatisfaction { reason: PersonalData<String> },
    /// Hands the complaint to a supervisor.
    EscalateToSupervisor { supervisor: String, reason: String },
    /// Records that a service-level deadline passed with its work undone (the deadline
    /// task computes `deadline` from the SLA policy; `decide` checks it has passed).
    RecordSlaBreach {
        kind: SlaKind,
        deadline: chrono::DateTime<chrono::Utc>,
    },
    /// Makes the complaint part of an incident opened after it was received.
    LinkToIncident { incident_id: Uuid },
    /// A supervisor's quality check of a closed complaint's handling: accuracy,
    /// attitude and timeliness, each 1 (poor) to 5 (excellent), once per complaint.
    ScoreQuality {
        accuracy: u8,
        attitude: u8,
        timeliness: u8,
        /// What the supervisor noted (staff-written).
        note: String,
    },
    /// Hands the responsibility for the root cause to another department, saying why
    /// (a resolution proposal recorded the first one; also once closed).
    ReassignResponsibility {
        responsible: Department,
        reason: String,
    },
}
