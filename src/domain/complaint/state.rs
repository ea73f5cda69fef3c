//! The complaint as rebuilt from its events, and `evolve`.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::events::*;
use crate::domain::common::{PassengerId, RootCause};
use crate::domain::policy::sla::SlaKind;

/// Where a complaint is in its loop.
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
    serde::Serialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ComplaintStatus {
    /// Not received yet (no events).
    #[default]
    None,
    Received,
    Acknowledged,
    Routed,
    ResolutionProposed,
    Reopened,
    Closed,
}

/// The state of one complaint stream.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, schemars::JsonSchema)]
pub struct Complaint {
    pub status: ComplaintStatus,
    /// The `complaint.received` fact, kept whole.
    pub received: Option<ComplaintReceived>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub departments: BTreeSet<Department>,
    pub progress_updates: u32,
    pub proposals: u32,
    pub reopened_count: u32,
    pub escalated_to: Option<String>,
    /// The root cause the last resolution proposal recorded.
    pub root_cause: Option<RootCause>,
    /// The department answering for it now (reassignments included).
    pub responsible: Option<Department>,
    /// A supervisor scored its handling.
    pub quality_scored: bool,
    pub closed_at: Option<DateTime<Utc>>,
    /// Service levels recorded as breached.
    pub breached: BTreeSet<SlaKind>,
    /// The incident the complaint belongs to: named when it was received, or linked
    /// later.
    pub incident_id: Option<Uuid>,
}

impl Complaint {
    /// Who complained, once received.
    pub fn passenger(&self) -> Option<&PassengerId> {
        self.received.as_ref().map(|r| &r.passenger)
    }

    /// Whether the work `kind` measures is done: acknowledged; first feedback (a
    /// progress update or a proposal) given; resolved (closed).
    pub fn sla_met(&self, kind: SlaKind) -> bool {
        match kind {
            SlaKind::Acknowledge => self.acknowledged_at.is_some(),
            SlaKind::FirstFeedback => self.progress_updates > 0 || self.proposals > 0,
            SlaKind::Resolve => self.status == ComplaintStatus::Closed,
        }
    }

    /// Applies one fact. Never fails, never decides.
    pub(super) fn apply(mut self, event: &ComplaintEvent) -> Self {
        use ComplaintEvent as E;
        match event {
            E::Received(e) => {
                self.incident_id = e.incident_id;
                self.received = Some(e.clone());
                self.status = ComplaintStatus::Received;
            }
            E::Acknowledged(e) => {
                self.acknowledged_at = Some(e.acknowledged_at);
                self.status = ComplaintStatus::Acknowledged;
            }
            E::Routed(e) => {
                self.departments.extend(e.departments.iter().copied());
                if self.status == ComplaintStatus::Acknowledged {
                    self.status = ComplaintStatus::Routed;
                }
            }
            E::ProgressUpdated(_) => self.progress_updates += 1,
            E::ResolutionProposed(e) => {
                self.proposals = e.proposal;
                if e.root_cause.is_some() {
                    self.root_cause = e.root_cause.clone();
                    self.responsible = e.responsible;
                }
                self.status = ComplaintStatus::ResolutionProposed;
            }
            E::Closed(e) => {
                self.closed_at = Some(e.closed_at);
                self.status = ComplaintStatus::Closed;
            }
            E::Reopened(_) => {
                self.reopened_count += 1;
                self.status = ComplaintStatus::Reopened;
            }
            E::Escalated(e) => self.escalated_to = Some(e.supervisor.clone()),
            E::SlaBreached(e) => {
                self.breached.insert(e.kind);
            }
            E::LinkedToIncident(e) => self.incident_id = Some(e.incident_id),
            E::ResponsibilityReassigned(e) => self.responsible = Some(e.to),
            E::QualityScored(_) => self.quality_scored = true,
        }
        self
    }
}
