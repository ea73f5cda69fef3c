//! The incident as rebuilt from its events, and `evolve`, which only applies facts.

use std::collections::{BTreeMap, BTreeSet};

use uuid::Uuid;

use super::events::*;
use super::values::*;
use crate::domain::common::{Category, FlightKey, PassengerId, Settlement, Severity};

/// The state of one incident stream. `id == None` means not opened yet.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, schemars::JsonSchema)]
pub struct Incident {
    pub id: Option<Uuid>,
    pub stage: Stage,
    pub title: String,
    pub category: Option<Category>,
    pub severity: Option<Severity>,
    pub flight: Option<FlightKey>,
    pub correlation_key: Option<String>,
    pub signals: BTreeSet<Uuid>,
    pub impact: Option<ImpactAssessment>,
    pub impact_revisions: u32,
    pub communication_plan: Option<PlanRecord<CommunicationPlan>>,
    pub compensation_plan: Option<PlanRecord<CompensationPlan>>,
    pub publications: Vec<InformationPublished>,
    pub contacts: BTreeMap<Uuid, Contact>,
    pub surveys: BTreeMap<Uuid, Survey>,
    pub open_problems: Vec<String>,
    pub lessons: Vec<String>,
    /// The root causes the review recorded, in order.
    pub causes: Vec<CauseRecorded>,
    pub improvements: BTreeMap<Uuid, Improvement>,
    /// Compensations known to the incident and, once reached, their final state.
    pub compensations: BTreeMap<Uuid, CompensationLink>,
    pub assignments: BTreeMap<Uuid, RoleAssignment>,
    pub reopened_count: u32,
}

/// A compensation the incident tracks for its close rule.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct CompensationLink {
    pub passenger: PassengerId,
    pub settlement: Option<Settlement>,
}

impl Incident {
    /// Whether the incident exists (has an `incident.opened` event).
    pub fn is_opened(&self) -> bool {
        self.id.is_some()
    }

    /// Contacts still waiting for an outcome, in id order.
    pub fn pending_contacts(&self) -> Vec<Uuid> {
        self.contacts
            .iter()
            .filter(|(_, c)| c.outcome.is_none())
            .map(|(id, _)| *id)
            .collect()
    }

    /// Linked compensations that are not settled, in id order.
    pub fn unsettled_compensations(&self) -> Vec<Uuid> {
        self.compensations
            .iter()
            .filter(|(_, c)| c.settlement.is_none())
            .map(|(id, _)| *id)
            .collect()
    }

    /// The plans not approved at their current version.
    pub fn unapproved_plans(&self) -> Vec<PlanKind> {
        let mut missing = Vec::new();
        if !self
            .communication_plan
            .as_ref()
            .is_some_and(PlanRecord::is_approved)
        {
            missing.push(PlanKind::Communication);
        }
        if !self
            .compensation_plan
            .as_ref()
            .is_some_and(PlanRecord::is_approved)
        {
            missing.push(PlanKind::Compensation);
        }
        missing
    }

    /// Applies one fact. Never fails, never decides.
    pub(super) fn apply(mut self, event: &IncidentEvent) -> Self {
        use IncidentEvent as E;
        match event {
            E::Opened(e) => {
                self.id = Some(e.incident_id);
                self.stage = Stage::Monitor;
                self.title = e.title.clone();
                self.category = Some(e.category);
                self.severity = Some(e.severity);
                self.flight = e.flight.clone();
                self.correlation_key = e.correlation_key.clone();
                self.signals = e.signal_ids.iter().copied().collect();
            }
            E::SignalAttached(e) => {
                self.signals.insert(e.signal_id);
            }
            E::AssessmentStarted(e)
            | E::PlanningStarted(e)
            | E::ExecutionStarted(e)
            | E::FollowUpStarted(e)
            | E::ReviewStarted(e) => self.stage = e.stage,
            E::ImpactAssessed(e) => {
                self.impact = Some(e.impact.clone());
                self.impact_revisions = e.revision;
            }
            E::CommunicationPlanDrafted(e) => {
                self.communication_plan = Some(PlanRecord {
                    version: e.version,
                    plan: e.plan.clone(),
                    approved_by: None,
                });
            }
            E::CompensationPlanDrafted(e) => {
                self.compensation_plan = Some(PlanRecord {
                    version: e.version,
                    plan: e.plan.clone(),
                    approved_by: None,
                });
            }
            E::CommunicationPlanApproved(e) => approve(&mut self.communication_plan, e),
            E::CompensationPlanApproved(e) => approve(&mut self.compensation_plan, e),
            E::InformationPublished(e) => self.publications.push(e.clone()),
            E::ContactPlanned(e) => {
                let contact = Contact {
                    passenger: e.passenger.clone(),
                    method: e.method,
                    outcome: None,
                };
                self.contacts.insert(e.contact_id, contact);
            }
            E::ContactOutcomeRecorded(e) => {
                if let Some(contact) = self.contacts.get_mut(&e.contact_id) {
                    contact.outcome = Some(e.outcome);
                }
            }
            E::SurveySent(e) => {
                let survey = Survey {
                    passenger: e.passenger.clone(),
                    method: e.method,
                    score: None,
                };
                self.surveys.insert(e.survey_id, survey);
            }
            E::SatisfactionRecorded(e) => {
                // A survey has one answer, the first: `decide` refuses a second, and
                // logs written before that rule keep their first answer here too.
                if let Some(survey) = self.surveys.get_mut(&e.survey_id) {
                    survey.score = survey.score.or(Some(e.score));
                }
            }
            E::OpenProblemsSummarised(e) => self.open_problems = e.problems.clone(),
            E::LessonRecorded(e) => self.lessons.push(e.lesson.clone()),
            E::CauseRecorded(e) => self.causes.push(e.clone()),
            E::ImprovementRecorded(e) => {
                self.improvements
                    .insert(e.improvement_id, e.improvement.clone());
            }
            E::Closed(_) => self.stage = Stage::Closed,
            E::Reopened(_) => {
                self.stage = Stage::Assess;
                self.reopened_count += 1;
            }
            E::SeverityEscalated(e) | E::SeverityDeescalated(e) => self.severity = Some(e.to),
            E::RoleAssigned(e) => {
                let assignment = RoleAssignment {
                    role: e.role,
                    person: e.person.clone(),
                    from: e.from,
                    until: e.until,
                };
                self.assignments.insert(e.assignment_id, assignment);
            }
            E::RoleAssignmentEnded(e) => {
                if let Some(assignment) = self.assignments.get_mut(&e.assignment_id) {
                    assignment.until = Some(e.at);
                }
            }
            E::CompensationLinked(e) => {
                let link = CompensationLink {
                    passenger: e.passenger.clone(),
                    settlement: None,
                };
                self.compensations.insert(e.compensation_id, link);
            }
            E::CompensationSettled(e) => {
                if let Some(link) = self.compensations.get_mut(&e.compensation_id) {
                    link.settlement = Some(e.settlement.clone());
                }
            }
        }
        self
    }
}

fn approve<T>(plan: &mut Option<PlanRecord<T>>, event: &PlanApproved) {
    if let Some(record) = plan.as_mut().filter(|r| r.version == event.version) {
        record.approved_by = Some(event.approved_by.clone());
    }
}
