//! The facts of a complaint's life and the value types they carry.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::common::{
    Category, Channel, FlightKey, PassengerId, PersonalData, RootCause, Tier,
};
use crate::domain::event::domain_events;
use crate::domain::policy::sla::SlaKind;

/// What the customer asks for.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum RemedySought {
    Apology,
    Refund,
    Compensation,
    Rebooking,
    Reimbursement,
    BaggageTrace,
    Other,
}

/// A department a complaint can be routed to.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Department {
    CustomerCare,
    Baggage,
    Refunds,
    FlightOperations,
    GroundHandling,
    Loyalty,
    Legal,
    /// The app, the website and the systems behind them.
    Digital,
    /// Codeshare, interline and contracted partners.
    Partners,
}

/// `complaint.received`: the complaint exists, the clock for SLAs starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ComplaintReceived {
    pub complaint_id: Uuid,
    pub channel: Channel,
    pub passenger: PassengerId,
    pub tier: Tier,
    pub category: Category,
    pub remedy_sought: RemedySought,
    /// The customer's own words: personal data.
    pub description: PersonalData<String>,
    pub incident_id: Option<Uuid>,
    /// The flight the complaint is about, when it names one (a feedback message's
    /// flight; complaints recorded before crisisd kept it have none).
    #[serde(default)]
    pub flight: Option<FlightKey>,
    pub received_at: DateTime<Utc>,
}

/// `complaint.acknowledged`: the apology and the first-response time (KPI).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ComplaintAcknowledged {
    pub apology: String,
    pub acknowledged_by: String,
    pub acknowledged_at: DateTime<Utc>,
    /// Seconds from receipt to this acknowledgement (never negative).
    pub first_response_secs: u64,
}

/// `complaint.routed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ComplaintRouted {
    pub departments: BTreeSet<Department>,
    pub routed_by: String,
    pub routed_at: DateTime<Utc>,
}

/// `complaint.progress_updated`: a progress message sent to the customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ProgressUpdated {
    pub message: String,
    pub sent_by: String,
    pub sent_at: DateTime<Utc>,
}

/// `complaint.resolution_proposed`: proposal 1 is the first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ResolutionProposed {
    pub proposal: u32,
    pub resolution: String,
    pub compensation_id: Option<Uuid>,
    /// The root cause (policy taxonomy); `null` on proposals recorded before crisisd
    /// kept it.
    #[serde(default)]
    pub root_cause: Option<RootCause>,
    /// The department responsible for the root cause; `null` likewise.
    #[serde(default)]
    pub responsible: Option<Department>,
    pub proposed_by: String,
    pub proposed_at: DateTime<Utc>,
}

/// `complaint.closed`: the customer is satisfied; carries the handling time (KPI).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ComplaintClosed {
    /// The customer's own words: personal data.
    pub comment: PersonalData<String>,
    pub closed_at: DateTime<Utc>,
    /// Seconds from receipt to closing (never negative).
    pub handling_secs: u64,
}

/// `complaint.reopened`: the customer is not satisfied with the proposal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ComplaintReopened {
    /// Why the customer is not satisfied, in their words: personal data.
    pub reason: PersonalData<String>,
    pub reopened_at: DateTime<Utc>,
}

/// `complaint.escalated`: a supervisor takes over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ComplaintEscalated {
    pub supervisor: String,
    pub reason: String,
    pub escalated_by: String,
    pub escalated_at: DateTime<Utc>,
}

/// `complaint.sla_breached`: a service-level deadline passed with its work undone.
/// Appended by the deadline task, so breaches are part of history and replays agree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SlaBreached {
    pub kind: SlaKind,
    /// The deadline that passed (from the SLA policy in force when it was detected).
    pub deadline: DateTime<Utc>,
    pub detected_at: DateTime<Utc>,
}

/// `complaint.linked_to_incident`: the complaint belongs to an incident opened after it
/// was received (crisisd links what already exists about a flight when an incident
/// opens for it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LinkedToIncident {
    pub incident_id: Uuid,
    pub linked_at: DateTime<Utc>,
}

/// `complaint.quality_scored`: a supervisor's quality check of how a closed complaint
/// was handled (each score 1 to 5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct QualityScored {
    pub accuracy: u8,
    pub attitude: u8,
    pub timeliness: u8,
    pub note: String,
    pub scored_by: String,
    pub scored_at: DateTime<Utc>,
}

/// `complaint.responsibility_reassigned`: another department answers for the root
/// cause, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ResponsibilityReassigned {
    pub from: Department,
    pub to: Department,
    pub reason: String,
    pub reassigned_by: String,
    pub reassigned_at: DateTime<Utc>,
}

domain_events! {
    /// Every fact a complaint stream holds.
    pub enum ComplaintEvent {
        Received(ComplaintReceived) = "complaint.received",
        Acknowledged(ComplaintAcknowledged) = "complaint.acknowledged",
        Routed(ComplaintRouted) = "complaint.routed",
        ProgressUpdated(ProgressUpdated) = "complaint.progress_updated",
        ResolutionProposed(ResolutionProposed) = "complaint.resolution_proposed",
        Closed(ComplaintClosed) = "complaint.closed",
        Reopened(ComplaintReopened) = "complaint.reopened",
        Escalated(ComplaintEscalated) = "complaint.escalated",
        SlaBreached(SlaBreached) = "complaint.sla_breached",
        LinkedToIncident(LinkedToIncident) = "complaint.linked_to_incident",
        ResponsibilityReassigned(ResponsibilityReassigned) = "complaint.responsibility_reassigned",
        QualityScored(QualityScored) = "complaint.quality_scored",
    }
}
