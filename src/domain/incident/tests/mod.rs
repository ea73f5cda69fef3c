//! Given events / when command / then events (or the refusal) for every
//! incident command: fixtures here, tests per part of the pipeline.

mod cross_cutting;
mod execute_to_close;
mod monitor_to_plan;

pub(super) use super::*;
pub(super) use crate::domain::Aggregate;
pub(super) use crate::domain::common::{Category, PassengerId, Role, Settlement, Severity};
use crate::domain::testing;
pub(super) use crate::domain::testing::{at, ctx_as, id};

pub(super) use IncidentCommand as C;
pub(super) use IncidentError as Err_;
pub(super) use IncidentEvent as E;

pub(super) fn given(events: &[E]) -> Incident {
    testing::given(events)
}

/// Decides as a crisis lead and checks every produced event round-trips.
pub(super) fn when(events: &[E], command: C) -> Result<Vec<E>, IncidentError> {
    when_as(events, command, Role::CrisisLead)
}

pub(super) fn when_as(events: &[E], command: C, role: Role) -> Result<Vec<E>, IncidentError> {
    testing::when_in::<Incident>(events, &command, &ctx_as(role))
}

pub(super) fn stage(stage: Stage) -> StageEntered {
    StageEntered { stage }
}

pub(super) fn impact() -> ImpactAssessment {
    ImpactAssessment {
        passengers: PassengersByTier {
            gold: 3,
            none: 140,
            ..Default::default()
        },
        operations: ImpactLevel::High,
        operations_note: "aircraft swap".into(),
        reputation: ImpactLevel::Medium,
        reputation_note: "trending on social".into(),
    }
}

pub(super) fn comm_plan() -> CommunicationPlan {
    CommunicationPlan {
        content: "We are sorry".into(),
        channels: [CommChannel::Sms, CommChannel::Website].into(),
    }
}

pub(super) fn comp_plan() -> CompensationPlan {
    CompensationPlan {
        summary: "EU261 art. 7 cash".into(),
        goodwill: None,
        budget: None,
    }
}

pub(super) fn opened() -> Vec<E> {
    vec![E::Opened(IncidentOpened {
        incident_id: id(1),
        title: "LH400 cancelled".into(),
        category: Category::Cancellation,
        severity: Severity::Medium,
        flight: None,
        correlation_key: None,
        signal_ids: vec![id(100)],
        opened_at: at(0),
    })]
}

pub(super) fn assessing() -> Vec<E> {
    let mut events = opened();
    events.push(E::AssessmentStarted(stage(Stage::Assess)));
    events.push(E::ImpactAssessed(ImpactAssessed {
        revision: 1,
        impact: impact(),
    }));
    events
}

pub(super) fn planning() -> Vec<E> {
    let mut events = assessing();
    events.push(E::PlanningStarted(stage(Stage::Plan)));
    events
}

pub(super) fn drafted() -> Vec<E> {
    let mut events = planning();
    events.push(E::CommunicationPlanDrafted(CommunicationPlanDrafted {
        version: 1,
        plan: comm_plan(),
        drafted_by: "comms".into(),
        template: None,
    }));
    events.push(E::CompensationPlanDrafted(CompensationPlanDrafted {
        version: 1,
        plan: comp_plan(),
        drafted_by: "care".into(),
    }));
    events
}

pub(super) fn approved() -> Vec<E> {
    let mut events = drafted();
    let approval = PlanApproved {
        version: 1,
        approved_by: "lead".into(),
    };
    events.push(E::CommunicationPlanApproved(approval.clone()));
    events.push(E::CompensationPlanApproved(approval));
    events
}

pub(super) fn contact_planned() -> E {
    E::ContactPlanned(ContactPlanned {
        contact_id: id(10),
        passenger: PassengerId("P1".into()),
        method: ContactMethod::Sms,
        mandatory_notice: false,
    })
}

pub(super) fn executing() -> Vec<E> {
    let mut events = approved();
    events.push(E::ExecutionStarted(stage(Stage::Execute)));
    events.push(contact_planned());
    events
}

pub(super) fn following_up() -> Vec<E> {
    let mut events = executing();
    events.push(E::ContactOutcomeRecorded(ContactOutcomeRecorded {
        contact_id: id(10),
        outcome: ContactOutcome::Reached,
        note: String::new().into(),
    }));
    events.push(E::FollowUpStarted(stage(Stage::FollowUp)));
    events.push(E::SurveySent(SurveySent {
        survey_id: id(20),
        passenger: PassengerId("P1".into()),
        method: SurveyMethod::Email,
    }));
    events
}

pub(super) fn reviewing() -> Vec<E> {
    let mut events = following_up();
    events.push(E::ReviewStarted(stage(Stage::Review)));
    events
}

pub(super) fn improvement() -> Improvement {
    Improvement {
        description: "SMS earlier".into(),
        owner: "ops-lead".into(),
        due: None,
        knowledge: Vec::new(),
    }
}

pub(super) fn reviewed() -> Vec<E> {
    let mut events = reviewing();
    events.push(E::LessonRecorded(LessonRecorded {
        lesson: "notify sooner".into(),
        knowledge: Vec::new(),
    }));
    events.push(E::ImprovementRecorded(ImprovementRecorded {
        improvement_id: id(30),
        improvement: improvement(),
    }));
    events
}

pub(super) fn closed() -> Vec<E> {
    let mut events = reviewed();
    events.push(E::Closed(IncidentClosed {
        summary: "done".into(),
        closed_by: "lead".into(),
    }));
    events
}

pub(super) fn with(mut events: Vec<E>, more: impl IntoIterator<Item = E>) -> Vec<E> {
    events.extend(more);
    events
}

pub(super) fn open_command(title: &str) -> C {
    C::OpenIncident {
        incident_id: id(1),
        title: title.into(),
        category: Category::Delay,
        severity: Severity::High,
        flight: None,
        correlation_key: Some("LH400-2026-11-22/delay".into()),
        signal_ids: vec![id(101), id(100), id(101)],
    }
}
