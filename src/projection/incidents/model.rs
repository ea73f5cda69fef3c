//! How the incidents model follows the log: one summary per incident, updated by
//! the incident's events and by the passenger and compensation events it depends on.

use super::*;
use crate::domain::incident::{IncidentOpened, SatisfactionRecorded, SurveySent};
use crate::projection::model::decoded;

impl Incidents {
    fn incident(&self, event: &RecordedEvent, tx: &mut ModelTx<'_>) -> Result<(), ModelError> {
        let Some(id) = incident_id(&event.stream) else {
            return Ok(());
        };
        let decoded = decoded::<IncidentEvent>(event)?;
        let at = event.occurred_at;
        use IncidentEvent as E;
        let mut summary = match decoded {
            E::Opened(opened) => {
                tx.insert_json(summary_key(id), &opened_summary(opened));
                return Ok(());
            }
            other => {
                let Some(summary) = tx.get_json::<IncidentSummary>(&summary_key(id))? else {
                    return Err(ModelError::Invalid(format!(
                        "{} before incident.opened",
                        event.event_type
                    )));
                };
                (summary, other)
            }
        };
        let (ref mut s, decoded) = summary;
        let enter = |s: &mut IncidentSummary, stage| {
            s.stage = stage;
            s.stage_entered_at = at;
        };
        match decoded {
            E::Opened(_) => unreachable!("handled above"),
            E::SignalAttached(_) => s.signals += 1,
            E::AssessmentStarted(e)
            | E::PlanningStarted(e)
            | E::ExecutionStarted(e)
            | E::FollowUpStarted(e)
            | E::ReviewStarted(e) => enter(s, e.stage),
            E::ImpactAssessed(e) => {
                s.impact = Some(e.impact);
                s.impact_revision = e.revision;
            }
            E::CommunicationPlanDrafted(e) => {
                s.communication_plan.drafted_version = e.version;
                tx.insert_json(plan_key(id, PlanKind::Communication, e.version), &e.plan);
            }
            E::CompensationPlanDrafted(e) => {
                s.compensation_plan.drafted_version = e.version;
                tx.insert_json(plan_key(id, PlanKind::Compensation, e.version), &e.plan);
            }
            E::CommunicationPlanApproved(e) | E::CompensationPlanApproved(e) => {
                let plan = if event.event_type == "incident.communication_plan_approved" {
                    &mut s.communication_plan
                } else {
                    &mut s.compensation_plan
                };
                plan.approved_version = Some(e.version);
                plan.approved_by = Some(e.approved_by);
                plan.approved_at = Some(at);
            }
            E::InformationPublished(_) => s.information_published += 1,
            E::ContactPlanned(e) => {
                s.contacts_planned += 1;
                let contact = key(b'C', &[id.as_bytes(), e.contact_id.as_bytes()]);
                tx.insert_json(contact, &Option::<ContactOutcome>::None);
            }
            E::ContactOutcomeRecorded(e) => {
                let contact = key(b'C', &[id.as_bytes(), e.contact_id.as_bytes()]);
                let previous: Option<ContactOutcome> = tx.get_json(&contact)?.flatten();
                if let Some(previous) = previous
                    && let Some(count) = s.contacts_by_outcome.get_mut(&previous)
                {
                    *count = count.saturating_sub(1);
                }
                *s.contacts_by_outcome.entry(e.outcome).or_default() += 1;
                tx.insert_json(contact, &Some(e.outcome));
            }
            E::SurveySent(e) => survey_sent(s, id, &e, tx)?,
            E::SatisfactionRecorded(e) => satisfaction_recorded(s, id, &e, tx)?,
            E::OpenProblemsSummarised(e) => s.open_problems = e.problems.len() as u64,
            E::LessonRecorded(e) => {
                link_knowledge(s, &e.knowledge);
                s.lessons.push(e.lesson);
            }
            E::CauseRecorded(e) => s.causes.push(e),
            E::ImprovementRecorded(e) => {
                link_knowledge(s, &e.improvement.knowledge);
                s.improvements.push(ImprovementEntry {
                    improvement_id: e.improvement_id,
                    improvement: e.improvement,
                    recorded_at: at,
                });
            }
            E::Closed(_) => enter(s, Stage::Closed),
            E::Reopened(_) => {
                s.reopened += 1;
                enter(s, Stage::Assess);
            }
            E::SeverityEscalated(e) | E::SeverityDeescalated(e) => s.severity = e.to,
            E::RoleAssigned(e) => s.assignments.push(Assignment {
                assignment_id: e.assignment_id,
                role: e.role,
                person: e.person,
                from: e.from,
                until: e.until,
                ended_at: None,
            }),
            E::RoleAssignmentEnded(e) => {
                if let Some(a) = s
                    .assignments
                    .iter_mut()
                    .find(|a| a.assignment_id == e.assignment_id)
                {
                    a.ended_at = Some(e.at);
                }
            }
            E::CompensationLinked(e) => {
                s.compensations_linked += 1;
                let due_key = key(b'M', &[e.compensation_id.as_bytes()]);
                let mut due: CompensationDue = tx.get_json(&due_key)?.unwrap_or_default();
                due.incident_id = Some(id);
                if !due.settled {
                    s.unsettled_deadlines
                        .insert(e.compensation_id, due.deadline);
                }
                tx.insert_json(due_key, &due);
            }
            E::CompensationSettled(e) => {
                s.compensations_settled += 1;
                s.unsettled_deadlines.remove(&e.compensation_id);
            }
        }
        tx.insert_json(summary_key(id), s);
        Ok(())
    }

    /// Keeps the deadlines of compensations on their incidents' summaries.
    fn compensation(&self, event: &RecordedEvent, tx: &mut ModelTx<'_>) -> Result<(), ModelError> {
        let Some(compensation_id) = event
            .stream
            .strip_prefix("compensation-")
            .and_then(|id| id.parse::<Uuid>().ok())
        else {
            return Ok(());
        };
        let due_key = key(b'M', &[compensation_id.as_bytes()]);
        let computed = match event.event_type.as_str() {
            ComputedOutline::EVENT_TYPE => Some(ComputedOutline::from_data(
                event.schema_version,
                event.data.get(),
            )?),
            "compensation.paid" | "compensation.declined" => None,
            _ => return Ok(()),
        };
        let mut due: CompensationDue = tx.get_json(&due_key)?.unwrap_or_default();
        match computed {
            Some(computed) => {
                due.deadline = Some(computed.payment_deadline);
                due.incident_id = due.incident_id.or(computed.incident_id);
            }
            None => due.settled = true,
        }
        if let Some(incident) = due.incident_id
            && let Some(mut summary) = tx.get_json::<IncidentSummary>(&summary_key(incident))?
        {
            if due.settled {
                summary.unsettled_deadlines.remove(&compensation_id);
            } else if summary.unsettled_deadlines.contains_key(&compensation_id) {
                summary
                    .unsettled_deadlines
                    .insert(compensation_id, due.deadline);
            }
            tx.insert_json(summary_key(incident), &summary);
        }
        tx.insert_json(due_key, &due);
        Ok(())
    }
}

impl Projection for Incidents {
    fn name(&self) -> &'static str {
        NAME
    }

    fn apply(&mut self, event: &RecordedEvent, tx: &mut ModelTx<'_>) -> Result<(), ModelError> {
        if event.stream.starts_with("passenger-") {
            let tier = match event.event_type.as_str() {
                "passenger.registered" | "passenger.tier_changed" => {
                    let decoded = decoded::<crate::domain::passenger::PassengerEvent>(event)?;
                    match decoded {
                        crate::domain::passenger::PassengerEvent::Registered(r) => r.tier,
                        crate::domain::passenger::PassengerEvent::TierChanged(t) => t.to,
                        _ => return Ok(()),
                    }
                }
                _ => return Ok(()),
            };
            let passenger = event.stream.strip_prefix("passenger-").unwrap_or_default();
            tx.insert_json(key(b'T', &[passenger.as_bytes()]), &tier);
            Ok(())
        } else if event.stream.starts_with("incident-") {
            self.incident(event, tx)
        } else if event.stream.starts_with("compensation-") {
            self.compensation(event, tx)
        } else {
            Ok(())
        }
    }
}

/// A new incident's summary: in monitor, nothing assessed, planned or done yet.
fn opened_summary(opened: IncidentOpened) -> IncidentSummary {
    IncidentSummary {
        incident_id: opened.incident_id,
        title: opened.title,
        category: opened.category,
        severity: opened.severity,
        flight: opened.flight,
        stage: Stage::Monitor,
        opened_at: opened.opened_at,
        stage_entered_at: opened.opened_at,
        reopened: 0,
        signals: opened.signal_ids.len() as u64,
        impact: None,
        impact_revision: 0,
        assignments: Vec::new(),
        communication_plan: PlanProgress::default(),
        compensation_plan: PlanProgress::default(),
        information_published: 0,
        contacts_planned: 0,
        contacts_by_outcome: BTreeMap::new(),
        surveys: Surveys::default(),
        open_problems: 0,
        lessons: Vec::new(),
        causes: Vec::new(),
        improvements: Vec::new(),
        knowledge: Vec::new(),
        compensations_linked: 0,
        compensations_settled: 0,
        unsettled_deadlines: BTreeMap::new(),
    }
}

/// Counts a sent survey by method and by the passenger's tier, and remembers both for
/// its answer.
fn survey_sent(
    s: &mut IncidentSummary,
    id: Uuid,
    e: &SurveySent,
    tx: &mut ModelTx<'_>,
) -> Result<(), ModelError> {
    let tier = tx
        .get_json::<Tier>(&key(b'T', &[e.passenger.0.as_bytes()]))?
        .unwrap_or(Tier::None);
    s.surveys.sent += 1;
    s.surveys.by_method.entry(e.method).or_default().sent += 1;
    s.surveys.by_tier.entry(tier).or_default().sent += 1;
    let survey = key(b'S', &[id.as_bytes(), e.survey_id.as_bytes()]);
    let sent = SentSurvey {
        method: e.method,
        tier,
        answered: false,
    };
    tx.insert_json(survey, &sent);
    Ok(())
}

/// Counts a survey's answer. A survey has one answer, the first (as in `evolve`): a
/// second answer in a log written before `decide` refused it counts for nothing.
fn satisfaction_recorded(
    s: &mut IncidentSummary,
    id: Uuid,
    e: &SatisfactionRecorded,
    tx: &mut ModelTx<'_>,
) -> Result<(), ModelError> {
    let survey = key(b'S', &[id.as_bytes(), e.survey_id.as_bytes()]);
    if let Some(sent) = tx.get_json::<SentSurvey>(&survey)?
        && !sent.answered
    {
        let score = u64::from(e.score);
        s.surveys.answered += 1;
        s.surveys.score_sum += score;
        for counts in [
            s.surveys.by_method.entry(sent.method).or_default(),
            s.surveys.by_tier.entry(sent.tier).or_default(),
        ] {
            counts.answered += 1;
            counts.score_sum += score;
        }
        let answered = SentSurvey {
            answered: true,
            ..sent
        };
        tx.insert_json(survey, &answered);
    }
    Ok(())
}

/// The knowledge entries a lesson or improvement changed join the review's, each once.
fn link_knowledge(s: &mut IncidentSummary, entries: &[Uuid]) {
    for id in entries {
        if !s.knowledge.contains(id) {
            s.knowledge.push(*id);
        }
    }
}
