//! `decide` for incidents: every pipeline rule and exit criterion lives here.

use super::command::IncidentCommand as C;
use super::error::IncidentError as Error;
use super::events::*;
use super::state::Incident;
use super::values::*;
use crate::domain::Context;
use crate::domain::common::{Role, Settlement};

type Decision = Result<Vec<IncidentEvent>, Error>;

/// The events `command` produces on `state`, or the rule it breaks.
pub(super) fn decide(state: &Incident, command: &C, ctx: &Context) -> Decision {
    match (state.is_opened(), command) {
        (false, C::OpenIncident { .. }) => open(command, ctx),
        (true, C::OpenIncident { .. }) => Err(Error::AlreadyOpened),
        (false, _) => Err(Error::NotOpened),
        (true, C::ReopenIncident { reason }) => reopen(state, reason, ctx),
        (
            true,
            C::RecordCompensationSettlement {
                compensation_id,
                settlement,
            },
        ) => settle(state, *compensation_id, settlement),
        (true, _) if state.stage == Stage::Closed => Err(Error::IncidentClosed),
        (true, _) => decide_open(state, command, ctx),
    }
}

/// Commands on an opened, not closed incident.
fn decide_open(state: &Incident, command: &C, ctx: &Context) -> Decision {
    match command {
        C::AttachSignal { signal_id } => {
            if state.signals.contains(signal_id) {
                return Err(Error::SignalAlreadyAttached {
                    signal_id: *signal_id,
                });
            }
            one(IncidentEvent::SignalAttached(SignalAttached {
                signal_id: *signal_id,
            }))
        }
        C::StartAssessment => {
            require_stage(state, "start_assessment", &[Stage::Monitor])?;
            one(IncidentEvent::AssessmentStarted(StageEntered {
                stage: Stage::Assess,
            }))
        }
        C::AssessImpact { impact } => assess(state, impact),
        C::StartPlanning => {
            require_stage(state, "start_planning", &[Stage::Assess])?;
            if state.impact.is_none() {
                return Err(Error::PlanningRequiresImpactAssessment);
            }
            one(IncidentEvent::PlanningStarted(StageEntered {
                stage: Stage::Plan,
            }))
        }
        C::DraftCommunicationPlan { plan, template } => {
            draft_communication(state, plan, *template, ctx)
        }
        C::DraftCompensationPlan { plan } => draft_compensation(state, plan, ctx),
        C::ApproveCommunicationPlan { version } => {
            approve(state, PlanKind::Communication, *version, ctx)
        }
        C::ApproveCompensationPlan { version } => {
            approve(state, PlanKind::Compensation, *version, ctx)
        }
        C::StartExecution => {
            require_stage(state, "start_execution", &[Stage::Plan])?;
            let missing = state.unapproved_plans();
            if !missing.is_empty() {
                return Err(Error::ExecutionRequiresApprovedPlans { missing });
            }
            one(IncidentEvent::ExecutionStarted(StageEntered {
                stage: Stage::Execute,
            }))
        }
        C::PublishInformation { channel, content } => publish(state, *channel, content),
        C::PlanContact {
            contact_id,
            passenger,
            method,
            mandatory_notice,
        } => {
            require_stage(state, "plan_contact", &[Stage::Plan, Stage::Execute])?;
            if state.contacts.contains_key(contact_id) {
                return Err(Error::ContactAlreadyPlanned {
                    contact_id: *contact_id,
                });
            }
            let event = ContactPlanned {
                contact_id: *contact_id,
                passenger: passenger.clone(),
                method: *method,
                mandatory_notice: *mandatory_notice,
            };
            one(IncidentEvent::ContactPlanned(event))
        }
        C::RecordContactOutcome {
            contact_id,
            outcome,
            note,
        } => {
            require_stage(state, "record_contact_outcome", &[Stage::Execute])?;
            if !state.contacts.contains_key(contact_id) {
                return Err(Error::UnknownContact {
                    contact_id: *contact_id,
                });
            }
            let event = ContactOutcomeRecorded {
                contact_id: *contact_id,
                outcome: *outcome,
                note: note.clone(),
            };
            one(IncidentEvent::ContactOutcomeRecorded(event))
        }
        C::StartFollowUp => {
            require_stage(state, "start_follow_up", &[Stage::Execute])?;
            let pending = state.pending_contacts();
            if !pending.is_empty() {
                return Err(Error::FollowUpRequiresContactOutcomes { pending });
            }
            one(IncidentEvent::FollowUpStarted(StageEntered {
                stage: Stage::FollowUp,
            }))
        }
        C::SendSurvey {
            survey_id,
            passenger,
            method,
        } => {
            require_stage(state, "send_survey", &[Stage::FollowUp])?;
            if state.surveys.contains_key(survey_id) {
                return Err(Error::SurveyAlreadySent {
                    survey_id: *survey_id,
                });
            }
            let event = SurveySent {
                survey_id: *survey_id,
                passenger: passenger.clone(),
                method: *method,
            };
            one(IncidentEvent::SurveySent(event))
        }
        C::RecordSatisfaction { survey_id, score } => {
            record_satisfaction(state, *survey_id, *score)
        }
        C::SummariseOpenProblems { problems } => {
            require_stage(
                state,
                "summarise_open_problems",
                &[Stage::FollowUp, Stage::Review],
            )?;
            one(IncidentEvent::OpenProblemsSummarised(
                OpenProblemsSummarised {
                    problems: problems.clone(),
                },
            ))
        }
        C::StartReview => {
            require_stage(state, "start_review", &[Stage::FollowUp])?;
            one(IncidentEvent::ReviewStarted(StageEntered {
                stage: Stage::Review,
            }))
        }
        C::RecordLesson { lesson, knowledge } => {
            require_stage(state, "record_lesson", &[Stage::Review])?;
            require_text("lesson", lesson)?;
            one(IncidentEvent::LessonRecorded(LessonRecorded {
                lesson: lesson.clone(),
                knowledge: knowledge.clone(),
            }))
        }
        C::RecordCause {
            root_cause,
            responsible,
            finding,
        } => {
            require_stage(state, "record_cause", &[Stage::Review])?;
            require_text("finding", finding)?;
            if state
                .causes
                .iter()
                .any(|c| &c.root_cause == root_cause && c.responsible == *responsible)
            {
                return Err(Error::CauseAlreadyRecorded {
                    root_cause: root_cause.clone(),
                });
            }
            one(IncidentEvent::CauseRecorded(CauseRecorded {
                root_cause: root_cause.clone(),
                responsible: *responsible,
                finding: finding.clone(),
            }))
        }
        C::RecordImprovement {
            improvement_id,
            improvement,
        } => record_improvement(state, *improvement_id, improvement),
        C::CloseIncident { summary } => close(state, summary, ctx),
        C::EscalateSeverity { to, reason } => change_severity(state, *to, reason, true),
        C::DeescalateSeverity { to, reason } => change_severity(state, *to, reason, false),
        C::AssignRole {
            assignment_id,
            role,
            person,
            from,
            until,
        } => {
            let assigned = RoleAssigned {
                assignment_id: *assignment_id,
                role: *role,
                person: person.clone(),
                from: *from,
                until: *until,
            };
            assign_role(state, assigned)
        }
        C::EndRoleAssignment { assignment_id, at } => end_assignment(state, *assignment_id, *at),
        C::LinkCompensation {
            compensation_id,
            passenger,
        } => {
            if state.compensations.contains_key(compensation_id) {
                return Err(Error::CompensationAlreadyLinked {
                    compensation_id: *compensation_id,
                });
            }
            let event = CompensationLinked {
                compensation_id: *compensation_id,
                passenger: passenger.clone(),
            };
            one(IncidentEvent::CompensationLinked(event))
        }
        C::OpenIncident { .. }
        | C::ReopenIncident { .. }
        | C::RecordCompensationSettlement { .. } => {
            unreachable!("lifecycle commands are decided in `decide`")
        }
    }
}

fn one(event: IncidentEvent) -> Decision {
    Ok(vec![event])
}

fn require_stage(state: &Incident, command: &'static str, allowed: &[Stage]) -> Result<(), Error> {
    if allowed.contains(&state.stage) {
        Ok(())
    } else {
        Err(Error::WrongStage {
            command,
            stage: state.stage,
        })
    }
}

fn require_text(field: &'static str, text: &str) -> Result<(), Error> {
    if text.trim().is_empty() {
        Err(Error::Required { field })
    } else {
        Ok(())
    }
}

fn require_crisis_lead(ctx: &Context, action: &'static str) -> Result<(), Error> {
    match ctx.actor.role {
        Role::CrisisLead => Ok(()),
        role => Err(Error::RequiresCrisisLead { action, role }),
    }
}

fn open(command: &C, ctx: &Context) -> Decision {
    let C::OpenIncident {
        incident_id,
        title,
        category,
        severity,
        flight,
        correlation_key,
        signal_ids,
    } = command
    else {
        unreachable!("open is only called with OpenIncident")
    };
    require_text("title", title)?;
    if let Some(flight) = flight {
        flight
            .check()
            .map_err(|reason| Error::InvalidFlight { reason })?;
    }
    let mut signal_ids = signal_ids.clone();
    signal_ids.sort();
    signal_ids.dedup();
    one(IncidentEvent::Opened(IncidentOpened {
        incident_id: *incident_id,
        title: title.clone(),
        category: *category,
        severity: *severity,
        flight: flight.clone(),
        correlation_key: correlation_key.clone(),
        signal_ids,
        opened_at: ctx.now,
    }))
}

fn reopen(state: &Incident, reason: &str, ctx: &Context) -> Decision {
    require_crisis_lead(ctx, "reopen an incident")?;
    if state.stage != Stage::Closed {
        return Err(Error::NotClosed);
    }
    require_text("reason", reason)?;
    one(IncidentEvent::Reopened(IncidentReopened {
        reason: reason.to_owned(),
        reopened_by: ctx.actor.id.clone(),
    }))
}

fn settle(state: &Incident, compensation_id: uuid::Uuid, settlement: &Settlement) -> Decision {
    if !state.compensations.contains_key(&compensation_id) {
        return Err(Error::UnknownCompensation { compensation_id });
    }
    if let Settlement::Failed { reason } = settlement
        && reason.trim().is_empty()
    {
        return Err(Error::FailureRequiresReason);
    }
    one(IncidentEvent::CompensationSettled(CompensationSettled {
        compensation_id,
        settlement: settlement.clone(),
    }))
}

fn assess(state: &Incident, impact: &ImpactAssessment) -> Decision {
    let allowed = [
        Stage::Assess,
        Stage::Plan,
        Stage::Execute,
        Stage::FollowUp,
        Stage::Review,
    ];
    require_stage(state, "assess_impact", &allowed)?;
    let revision = state.impact_revisions + 1;
    one(IncidentEvent::ImpactAssessed(ImpactAssessed {
        revision,
        impact: impact.clone(),
    }))
}

fn next_version<T>(plan: &Option<PlanRecord<T>>) -> u32 {
    plan.as_ref().map_or(1, |p| p.version + 1)
}

fn draft_communication(
    state: &Incident,
    plan: &CommunicationPlan,
    template: Option<TemplateRef>,
    ctx: &Context,
) -> Decision {
    require_stage(state, "draft_communication_plan", &[Stage::Plan])?;
    require_text("content", &plan.content)?;
    if plan.channels.is_empty() {
        return Err(Error::CommunicationPlanNeedsChannel);
    }
    let version = next_version(&state.communication_plan);
    let event = CommunicationPlanDrafted {
        version,
        plan: plan.clone(),
        drafted_by: ctx.actor.id.clone(),
        template,
    };
    one(IncidentEvent::CommunicationPlanDrafted(event))
}

fn draft_compensation(state: &Incident, plan: &CompensationPlan, ctx: &Context) -> Decision {
    require_stage(state, "draft_compensation_plan", &[Stage::Plan])?;
    require_text("summary", &plan.summary)?;
    let version = next_version(&state.compensation_plan);
    let event = CompensationPlanDrafted {
        version,
        plan: plan.clone(),
        drafted_by: ctx.actor.id.clone(),
    };
    one(IncidentEvent::CompensationPlanDrafted(event))
}

fn approve(state: &Incident, plan: PlanKind, version: u32, ctx: &Context) -> Decision {
    require_crisis_lead(ctx, "approve a plan")?;
    require_stage(state, "approve_plan", &[Stage::Plan])?;
    let current = match plan {
        PlanKind::Communication => state
            .communication_plan
            .as_ref()
            .map(|p| (p.version, p.is_approved())),
        PlanKind::Compensation => state
            .compensation_plan
            .as_ref()
            .map(|p| (p.version, p.is_approved())),
    };
    let (current, approved) = current.ok_or(Error::NoPlanToApprove { plan })?;
    if version != current {
        return Err(Error::StalePlanVersion {
            plan,
            requested: version,
            current,
        });
    }
    if approved {
        return Err(Error::PlanAlreadyApproved { plan, version });
    }
    let event = PlanApproved {
        version,
        approved_by: ctx.actor.id.clone(),
    };
    one(match plan {
        PlanKind::Communication => IncidentEvent::CommunicationPlanApproved(event),
        PlanKind::Compensation => IncidentEvent::CompensationPlanApproved(event),
    })
}

fn publish(state: &Incident, channel: CommChannel, content: &str) -> Decision {
    require_stage(
        state,
        "publish_information",
        &[Stage::Execute, Stage::FollowUp],
    )?;
    require_text("content", content)?;
    let planned = state
        .communication_plan
        .as_ref()
        .is_some_and(|p| p.plan.channels.contains(&channel));
    if !planned {
        return Err(Error::ChannelNotInCommunicationPlan { channel });
    }
    one(IncidentEvent::InformationPublished(InformationPublished {
        channel,
        content: content.to_owned(),
    }))
}

fn record_satisfaction(state: &Incident, survey_id: uuid::Uuid, score: u8) -> Decision {
    require_stage(state, "record_satisfaction", &[Stage::FollowUp])?;
    let survey = state
        .surveys
        .get(&survey_id)
        .ok_or(Error::UnknownSurvey { survey_id })?;
    if let Some(score) = survey.score {
        return Err(Error::SurveyAlreadyAnswered { survey_id, score });
    }
    if !SCORE_RANGE.contains(&score) {
        return Err(Error::ScoreOutOfRange { score });
    }
    one(IncidentEvent::SatisfactionRecorded(SatisfactionRecorded {
        survey_id,
        score,
    }))
}

fn record_improvement(
    state: &Incident,
    improvement_id: uuid::Uuid,
    improvement: &Improvement,
) -> Decision {
    require_stage(state, "record_improvement", &[Stage::Review])?;
    require_text("description", &improvement.description)?;
    if improvement.owner.trim().is_empty() {
        return Err(Error::ImprovementRequiresOwner);
    }
    if state.improvements.contains_key(&improvement_id) {
        return Err(Error::ImprovementAlreadyRecorded { improvement_id });
    }
    one(IncidentEvent::ImprovementRecorded(ImprovementRecorded {
        improvement_id,
        improvement: improvement.clone(),
    }))
}

fn close(state: &Incident, summary: &str, ctx: &Context) -> Decision {
    require_crisis_lead(ctx, "close an incident")?;
    require_stage(state, "close_incident", &[Stage::Review])?;
    if state.lessons.is_empty() {
        return Err(Error::CloseRequiresLesson);
    }
    if !state
        .improvements
        .values()
        .any(|i| !i.owner.trim().is_empty())
    {
        return Err(Error::CloseRequiresImprovementWithOwner);
    }
    let unsettled = state.unsettled_compensations();
    if !unsettled.is_empty() {
        return Err(Error::CloseRequiresSettledCompensations { unsettled });
    }
    require_text("summary", summary)?;
    one(IncidentEvent::Closed(IncidentClosed {
        summary: summary.to_owned(),
        closed_by: ctx.actor.id.clone(),
    }))
}

fn change_severity(
    state: &Incident,
    to: crate::domain::common::Severity,
    reason: &str,
    up: bool,
) -> Decision {
    let from = state.severity.expect("an opened incident has a severity");
    require_text("reason", reason)?;
    let event = SeverityChanged {
        from,
        to,
        reason: reason.to_owned(),
    };
    match (up, to > from, to < from) {
        (true, true, _) => one(IncidentEvent::SeverityEscalated(event)),
        (true, false, _) => Err(Error::NotAnEscalation { from, to }),
        (false, _, true) => one(IncidentEvent::SeverityDeescalated(event)),
        (false, _, false) => Err(Error::NotADeescalation { from, to }),
    }
}

fn assign_role(state: &Incident, assigned: RoleAssigned) -> Decision {
    require_text("person", &assigned.person)?;
    if state.assignments.contains_key(&assigned.assignment_id) {
        return Err(Error::AssignmentAlreadyExists {
            assignment_id: assigned.assignment_id,
        });
    }
    if assigned.until.is_some_and(|until| until <= assigned.from) {
        return Err(Error::AssignmentEndsBeforeStart);
    }
    if assigned.role == IncidentRole::CrisisLead {
        let overlapping = state.assignments.iter().find(|(_, a)| {
            a.role == IncidentRole::CrisisLead && a.overlaps(assigned.from, assigned.until)
        });
        if let Some((existing, _)) = overlapping {
            return Err(Error::CrisisLeadOverlap {
                existing: *existing,
            });
        }
    }
    one(IncidentEvent::RoleAssigned(assigned))
}

fn end_assignment(
    state: &Incident,
    assignment_id: uuid::Uuid,
    at: chrono::DateTime<chrono::Utc>,
) -> Decision {
    let assignment = state
        .assignments
        .get(&assignment_id)
        .ok_or(Error::UnknownAssignment { assignment_id })?;
    if assignment.until.is_some_and(|until| until <= at) {
        return Err(Error::AssignmentAlreadyEnded { assignment_id });
    }
    if at <= assignment.from {
        return Err(Error::AssignmentEndsBeforeStart);
    }
    one(IncidentEvent::RoleAssignmentEnded(RoleAssignmentEnded {
        assignment_id,
        at,
    }))
}
