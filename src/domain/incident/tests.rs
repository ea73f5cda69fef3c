//! Given events / when command / then events (or the refusal) for every incident command.

use super::*;
use crate::domain::Aggregate;
use crate::domain::common::{Category, PassengerId, Role, Settlement, Severity};
use crate::domain::event::assert_round_trip;
use crate::domain::testing::{at, ctx_as, id};

use IncidentCommand as C;
use IncidentError as Err_;
use IncidentEvent as E;

fn given(events: &[E]) -> Incident {
    events
        .iter()
        .fold(Incident::default(), |state, event| state.evolve(event))
}

/// Decides as a crisis lead and checks every produced event round-trips.
fn when(events: &[E], command: C) -> Result<Vec<E>, IncidentError> {
    when_as(events, command, Role::CrisisLead)
}

fn when_as(events: &[E], command: C, role: Role) -> Result<Vec<E>, IncidentError> {
    let result = given(events).decide(&command, &ctx_as(role));
    for event in result.iter().flatten() {
        assert_round_trip(event);
    }
    result
}

fn stage(stage: Stage) -> StageEntered {
    StageEntered { stage }
}

fn impact() -> ImpactAssessment {
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

fn comm_plan() -> CommunicationPlan {
    CommunicationPlan {
        content: "We are sorry".into(),
        channels: [CommChannel::Sms, CommChannel::Website].into(),
    }
}

fn comp_plan() -> CompensationPlan {
    CompensationPlan {
        summary: "EU261 art. 7 cash".into(),
        goodwill: None,
        budget: None,
    }
}

fn opened() -> Vec<E> {
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

fn assessing() -> Vec<E> {
    let mut events = opened();
    events.push(E::AssessmentStarted(stage(Stage::Assess)));
    events.push(E::ImpactAssessed(ImpactAssessed {
        revision: 1,
        impact: impact(),
    }));
    events
}

fn planning() -> Vec<E> {
    let mut events = assessing();
    events.push(E::PlanningStarted(stage(Stage::Plan)));
    events
}

fn drafted() -> Vec<E> {
    let mut events = planning();
    events.push(E::CommunicationPlanDrafted(CommunicationPlanDrafted {
        version: 1,
        plan: comm_plan(),
        drafted_by: "comms".into(),
    }));
    events.push(E::CompensationPlanDrafted(CompensationPlanDrafted {
        version: 1,
        plan: comp_plan(),
        drafted_by: "care".into(),
    }));
    events
}

fn approved() -> Vec<E> {
    let mut events = drafted();
    let approval = PlanApproved {
        version: 1,
        approved_by: "lead".into(),
    };
    events.push(E::CommunicationPlanApproved(approval.clone()));
    events.push(E::CompensationPlanApproved(approval));
    events
}

fn contact_planned() -> E {
    E::ContactPlanned(ContactPlanned {
        contact_id: id(10),
        passenger: PassengerId("P1".into()),
        method: ContactMethod::Sms,
    })
}

fn executing() -> Vec<E> {
    let mut events = approved();
    events.push(E::ExecutionStarted(stage(Stage::Execute)));
    events.push(contact_planned());
    events
}

fn following_up() -> Vec<E> {
    let mut events = executing();
    events.push(E::ContactOutcomeRecorded(ContactOutcomeRecorded {
        contact_id: id(10),
        outcome: ContactOutcome::Reached,
        note: String::new(),
    }));
    events.push(E::FollowUpStarted(stage(Stage::FollowUp)));
    events.push(E::SurveySent(SurveySent {
        survey_id: id(20),
        passenger: PassengerId("P1".into()),
        method: SurveyMethod::Email,
    }));
    events
}

fn reviewing() -> Vec<E> {
    let mut events = following_up();
    events.push(E::ReviewStarted(stage(Stage::Review)));
    events
}

fn improvement() -> Improvement {
    Improvement {
        description: "SMS earlier".into(),
        owner: "ops-lead".into(),
        due: None,
    }
}

fn reviewed() -> Vec<E> {
    let mut events = reviewing();
    events.push(E::LessonRecorded(LessonRecorded {
        lesson: "notify sooner".into(),
    }));
    events.push(E::ImprovementRecorded(ImprovementRecorded {
        improvement_id: id(30),
        improvement: improvement(),
    }));
    events
}

fn closed() -> Vec<E> {
    let mut events = reviewed();
    events.push(E::Closed(IncidentClosed {
        summary: "done".into(),
        closed_by: "lead".into(),
    }));
    events
}

fn with(mut events: Vec<E>, more: impl IntoIterator<Item = E>) -> Vec<E> {
    events.extend(more);
    events
}

fn open_command(title: &str) -> C {
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

#[test]
fn open_incident() {
    let events = when(&[], open_command("delay")).unwrap();
    let E::Opened(opened_event) = &events[0] else {
        panic!("expected opened, got {events:?}")
    };
    assert_eq!(
        opened_event.signal_ids,
        vec![id(100), id(101)],
        "signals are deduplicated"
    );
    assert_eq!(opened_event.opened_at, at(0));
    assert_eq!(
        when(&opened(), open_command("again")),
        Err(Err_::AlreadyOpened)
    );
    assert_eq!(
        when(&[], open_command(" ")),
        Err(Err_::Required { field: "title" })
    );
    assert_eq!(when(&[], C::StartAssessment), Err(Err_::NotOpened));
}

#[test]
fn attach_signal() {
    let accepted = when(&opened(), C::AttachSignal { signal_id: id(101) });
    assert_eq!(
        accepted,
        Ok(vec![E::SignalAttached(SignalAttached {
            signal_id: id(101)
        })])
    );
    let refused = when(&opened(), C::AttachSignal { signal_id: id(100) });
    assert_eq!(
        refused,
        Err(Err_::SignalAlreadyAttached { signal_id: id(100) })
    );
    assert_eq!(
        when(&closed(), C::AttachSignal { signal_id: id(101) }),
        Err(Err_::IncidentClosed)
    );
}

#[test]
fn start_assessment() {
    assert_eq!(
        when(&opened(), C::StartAssessment),
        Ok(vec![E::AssessmentStarted(stage(Stage::Assess))])
    );
    let refused = when(&assessing(), C::StartAssessment);
    assert_eq!(
        refused,
        Err(Err_::WrongStage {
            command: "StartAssessment",
            stage: Stage::Assess
        })
    );
}

#[test]
fn assess_impact_and_reassess() {
    let first = with(opened(), [E::AssessmentStarted(stage(Stage::Assess))]);
    let accepted = when(&first, C::AssessImpact { impact: impact() });
    assert_eq!(
        accepted,
        Ok(vec![E::ImpactAssessed(ImpactAssessed {
            revision: 1,
            impact: impact()
        })])
    );
    let revised = when(&executing(), C::AssessImpact { impact: impact() }).unwrap();
    assert_eq!(
        revised,
        vec![E::ImpactAssessed(ImpactAssessed {
            revision: 2,
            impact: impact()
        })]
    );
    let refused = when(&opened(), C::AssessImpact { impact: impact() });
    assert_eq!(
        refused,
        Err(Err_::WrongStage {
            command: "AssessImpact",
            stage: Stage::Monitor
        })
    );
}

#[test]
fn start_planning_requires_impact_assessment() {
    assert_eq!(
        when(&assessing(), C::StartPlanning),
        Ok(vec![E::PlanningStarted(stage(Stage::Plan))])
    );
    let unassessed = with(opened(), [E::AssessmentStarted(stage(Stage::Assess))]);
    assert_eq!(
        when(&unassessed, C::StartPlanning),
        Err(Err_::PlanningRequiresImpactAssessment)
    );
}

#[test]
fn draft_communication_plan() {
    let events = when(&planning(), C::DraftCommunicationPlan { plan: comm_plan() }).unwrap();
    let expected = CommunicationPlanDrafted {
        version: 1,
        plan: comm_plan(),
        drafted_by: "crisislead-1".into(),
    };
    assert_eq!(events, vec![E::CommunicationPlanDrafted(expected)]);
    let redraft = when(&approved(), C::DraftCommunicationPlan { plan: comm_plan() }).unwrap();
    let state = given(&approved()).evolve(&redraft[0]);
    assert_eq!(
        state.unapproved_plans(),
        vec![PlanKind::Communication],
        "a new draft withdraws the approval"
    );
    let no_channel = CommunicationPlan {
        channels: Default::default(),
        ..comm_plan()
    };
    assert_eq!(
        when(&planning(), C::DraftCommunicationPlan { plan: no_channel }),
        Err(Err_::CommunicationPlanNeedsChannel)
    );
    let refused = when(
        &assessing(),
        C::DraftCommunicationPlan { plan: comm_plan() },
    );
    assert_eq!(
        refused,
        Err(Err_::WrongStage {
            command: "DraftCommunicationPlan",
            stage: Stage::Assess
        })
    );
}

#[test]
fn draft_compensation_plan() {
    let events = when(&drafted(), C::DraftCompensationPlan { plan: comp_plan() }).unwrap();
    let E::CompensationPlanDrafted(drafted_event) = &events[0] else {
        panic!("{events:?}")
    };
    assert_eq!(drafted_event.version, 2);
    let empty = CompensationPlan {
        summary: String::new(),
        ..comp_plan()
    };
    assert_eq!(
        when(&planning(), C::DraftCompensationPlan { plan: empty }),
        Err(Err_::Required { field: "summary" })
    );
}

#[test]
fn approve_communication_plan_only_as_crisis_lead() {
    let accepted = when(&drafted(), C::ApproveCommunicationPlan { version: 1 });
    let approval = PlanApproved {
        version: 1,
        approved_by: "crisislead-1".into(),
    };
    assert_eq!(accepted, Ok(vec![E::CommunicationPlanApproved(approval)]));
    let by_agent = when_as(
        &drafted(),
        C::ApproveCommunicationPlan { version: 1 },
        Role::Agent,
    );
    assert_eq!(
        by_agent,
        Err(Err_::RequiresCrisisLead {
            action: "approve a plan",
            role: Role::Agent
        })
    );
    let by_admin = when_as(
        &drafted(),
        C::ApproveCommunicationPlan { version: 1 },
        Role::Admin,
    );
    assert!(matches!(by_admin, Err(Err_::RequiresCrisisLead { .. })));
    let stale = when(&drafted(), C::ApproveCommunicationPlan { version: 2 });
    assert_eq!(
        stale,
        Err(Err_::StalePlanVersion {
            plan: PlanKind::Communication,
            requested: 2,
            current: 1
        })
    );
    let twice = when(&approved(), C::ApproveCommunicationPlan { version: 1 });
    assert_eq!(
        twice,
        Err(Err_::PlanAlreadyApproved {
            plan: PlanKind::Communication,
            version: 1
        })
    );
    let none = when(&planning(), C::ApproveCommunicationPlan { version: 1 });
    assert_eq!(
        none,
        Err(Err_::NoPlanToApprove {
            plan: PlanKind::Communication
        })
    );
}

#[test]
fn approve_compensation_plan_only_as_crisis_lead() {
    let accepted = when(&drafted(), C::ApproveCompensationPlan { version: 1 }).unwrap();
    assert!(matches!(
        &accepted[..],
        [E::CompensationPlanApproved(PlanApproved { version: 1, .. })]
    ));
    let by_agent = when_as(
        &drafted(),
        C::ApproveCompensationPlan { version: 1 },
        Role::Agent,
    );
    assert!(matches!(by_agent, Err(Err_::RequiresCrisisLead { .. })));
    let none = when(&planning(), C::ApproveCompensationPlan { version: 1 });
    assert_eq!(
        none,
        Err(Err_::NoPlanToApprove {
            plan: PlanKind::Compensation
        })
    );
}

#[test]
fn start_execution_requires_both_approvals() {
    assert_eq!(
        when(&approved(), C::StartExecution),
        Ok(vec![E::ExecutionStarted(stage(Stage::Execute))])
    );
    let both = vec![PlanKind::Communication, PlanKind::Compensation];
    assert_eq!(
        when(&drafted(), C::StartExecution),
        Err(Err_::ExecutionRequiresApprovedPlans { missing: both })
    );
    let comm_only = with(
        drafted(),
        [E::CommunicationPlanApproved(PlanApproved {
            version: 1,
            approved_by: "l".into(),
        })],
    );
    let missing = vec![PlanKind::Compensation];
    assert_eq!(
        when(&comm_only, C::StartExecution),
        Err(Err_::ExecutionRequiresApprovedPlans { missing })
    );
}

#[test]
fn publish_information_on_planned_channels() {
    let command = |channel| C::PublishInformation {
        channel,
        content: "New departure 14:00".into(),
    };
    let accepted = when(&executing(), command(CommChannel::Sms)).unwrap();
    assert!(matches!(&accepted[..], [E::InformationPublished(_)]));
    let refused = when(&executing(), command(CommChannel::Social));
    assert_eq!(
        refused,
        Err(Err_::ChannelNotInCommunicationPlan {
            channel: CommChannel::Social
        })
    );
    let early = when(&approved(), command(CommChannel::Sms));
    assert!(matches!(
        early,
        Err(Err_::WrongStage {
            command: "PublishInformation",
            ..
        })
    ));
}

#[test]
fn plan_contact() {
    let command = |n| C::PlanContact {
        contact_id: id(n),
        passenger: PassengerId("P2".into()),
        method: ContactMethod::Phone,
    };
    assert!(matches!(
        &when(&executing(), command(11)).unwrap()[..],
        [E::ContactPlanned(_)]
    ));
    assert_eq!(
        when(&executing(), command(10)),
        Err(Err_::ContactAlreadyPlanned { contact_id: id(10) })
    );
    assert!(matches!(
        when(&following_up(), command(11)),
        Err(Err_::WrongStage { .. })
    ));
}

#[test]
fn record_contact_outcome() {
    let command = |n| C::RecordContactOutcome {
        contact_id: id(n),
        outcome: ContactOutcome::LeftMessage,
        note: "vm".into(),
    };
    assert!(matches!(
        &when(&executing(), command(10)).unwrap()[..],
        [E::ContactOutcomeRecorded(_)]
    ));
    assert_eq!(
        when(&executing(), command(11)),
        Err(Err_::UnknownContact { contact_id: id(11) })
    );
}

#[test]
fn start_follow_up_requires_every_contact_outcome() {
    let pending = when(&executing(), C::StartFollowUp);
    assert_eq!(
        pending,
        Err(Err_::FollowUpRequiresContactOutcomes {
            pending: vec![id(10)]
        })
    );
    let answered = with(
        executing(),
        [E::ContactOutcomeRecorded(ContactOutcomeRecorded {
            contact_id: id(10),
            outcome: ContactOutcome::Unreachable,
            note: String::new(),
        })],
    );
    assert_eq!(
        when(&answered, C::StartFollowUp),
        Ok(vec![E::FollowUpStarted(stage(Stage::FollowUp))])
    );
}

#[test]
fn send_survey() {
    let command = |n| C::SendSurvey {
        survey_id: id(n),
        passenger: PassengerId("P1".into()),
        method: SurveyMethod::Phone,
    };
    assert!(matches!(
        &when(&following_up(), command(21)).unwrap()[..],
        [E::SurveySent(_)]
    ));
    assert_eq!(
        when(&following_up(), command(20)),
        Err(Err_::SurveyAlreadySent { survey_id: id(20) })
    );
    assert!(matches!(
        when(&executing(), command(21)),
        Err(Err_::WrongStage { .. })
    ));
}

#[test]
fn record_satisfaction() {
    let command = |n, score| C::RecordSatisfaction {
        survey_id: id(n),
        score,
    };
    let accepted = when(&following_up(), command(20, 5));
    assert_eq!(
        accepted,
        Ok(vec![E::SatisfactionRecorded(SatisfactionRecorded {
            survey_id: id(20),
            score: 5
        })])
    );
    assert_eq!(
        when(&following_up(), command(20, 0)),
        Err(Err_::ScoreOutOfRange { score: 0 })
    );
    assert_eq!(
        when(&following_up(), command(20, 6)),
        Err(Err_::ScoreOutOfRange { score: 6 })
    );
    assert_eq!(
        when(&following_up(), command(21, 3)),
        Err(Err_::UnknownSurvey { survey_id: id(21) })
    );
}

#[test]
fn summarise_open_problems() {
    let command = || C::SummariseOpenProblems {
        problems: vec!["two bags missing".into()],
    };
    assert!(matches!(
        &when(&following_up(), command()).unwrap()[..],
        [E::OpenProblemsSummarised(_)]
    ));
    assert!(matches!(
        when(&executing(), command()),
        Err(Err_::WrongStage { .. })
    ));
}

#[test]
fn start_review() {
    assert_eq!(
        when(&following_up(), C::StartReview),
        Ok(vec![E::ReviewStarted(stage(Stage::Review))])
    );
    assert!(matches!(
        when(&executing(), C::StartReview),
        Err(Err_::WrongStage {
            command: "StartReview",
            ..
        })
    ));
}

#[test]
fn record_lesson() {
    let accepted = when(&reviewing(), C::RecordLesson { lesson: "x".into() });
    assert_eq!(
        accepted,
        Ok(vec![E::LessonRecorded(LessonRecorded {
            lesson: "x".into()
        })])
    );
    assert_eq!(
        when(&reviewing(), C::RecordLesson { lesson: "".into() }),
        Err(Err_::Required { field: "lesson" })
    );
    assert!(matches!(
        when(&following_up(), C::RecordLesson { lesson: "x".into() }),
        Err(Err_::WrongStage { .. })
    ));
}

#[test]
fn record_improvement_needs_owner() {
    let command = |n, owner: &str| C::RecordImprovement {
        improvement_id: id(n),
        improvement: Improvement {
            owner: owner.into(),
            ..improvement()
        },
    };
    assert!(matches!(
        &when(&reviewing(), command(31, "ops")).unwrap()[..],
        [E::ImprovementRecorded(_)]
    ));
    assert_eq!(
        when(&reviewing(), command(31, " ")),
        Err(Err_::ImprovementRequiresOwner)
    );
    assert_eq!(
        when(&reviewed(), command(30, "ops")),
        Err(Err_::ImprovementAlreadyRecorded {
            improvement_id: id(30)
        })
    );
}

#[test]
fn close_incident_requires_review_outcomes_and_settled_compensations() {
    let close = || C::CloseIncident {
        summary: "resolved".into(),
    };
    let accepted = when(&reviewed(), close());
    let closed_event = IncidentClosed {
        summary: "resolved".into(),
        closed_by: "crisislead-1".into(),
    };
    assert_eq!(accepted, Ok(vec![E::Closed(closed_event)]));
    assert_eq!(when(&reviewing(), close()), Err(Err_::CloseRequiresLesson));
    let lesson_only = with(
        reviewing(),
        [E::LessonRecorded(LessonRecorded { lesson: "l".into() })],
    );
    assert_eq!(
        when(&lesson_only, close()),
        Err(Err_::CloseRequiresImprovementWithOwner)
    );
    assert!(matches!(
        when(&following_up(), close()),
        Err(Err_::WrongStage { .. })
    ));
    assert!(matches!(
        when_as(&reviewed(), close(), Role::Agent),
        Err(Err_::RequiresCrisisLead { .. })
    ));
    let link = E::CompensationLinked(CompensationLinked {
        compensation_id: id(40),
        passenger: PassengerId("P1".into()),
    });
    let unsettled = with(reviewed(), [link.clone()]);
    assert_eq!(
        when(&unsettled, close()),
        Err(Err_::CloseRequiresSettledCompensations {
            unsettled: vec![id(40)]
        })
    );
    for settlement in [
        Settlement::Paid,
        Settlement::Declined,
        Settlement::Failed {
            reason: "IBAN invalid".into(),
        },
    ] {
        let settled = with(
            reviewed(),
            [
                link.clone(),
                E::CompensationSettled(CompensationSettled {
                    compensation_id: id(40),
                    settlement,
                }),
            ],
        );
        assert!(when(&settled, close()).is_ok());
    }
}

#[test]
fn reopen_incident_returns_to_assessment() {
    let reopen = || C::ReopenIncident {
        reason: "new complaints".into(),
    };
    let events = when(&closed(), reopen()).unwrap();
    let state = given(&closed()).evolve(&events[0]);
    assert_eq!((state.stage, state.reopened_count), (Stage::Assess, 1));
    assert_eq!(when(&reviewed(), reopen()), Err(Err_::NotClosed));
    assert!(matches!(
        when_as(&closed(), reopen(), Role::Agent),
        Err(Err_::RequiresCrisisLead { .. })
    ));
    assert_eq!(
        when(&closed(), C::StartAssessment),
        Err(Err_::IncidentClosed)
    );
}

#[test]
fn escalate_and_deescalate_severity_at_any_open_stage() {
    for events in [opened(), executing(), reviewed()] {
        let up = when(
            &events,
            C::EscalateSeverity {
                to: Severity::Critical,
                reason: "VIPs".into(),
            },
        )
        .unwrap();
        assert!(matches!(
            &up[..],
            [E::SeverityEscalated(SeverityChanged {
                from: Severity::Medium,
                ..
            })]
        ));
        let down = when(
            &events,
            C::DeescalateSeverity {
                to: Severity::Low,
                reason: "fixed".into(),
            },
        )
        .unwrap();
        assert!(matches!(
            &down[..],
            [E::SeverityDeescalated(SeverityChanged {
                to: Severity::Low,
                ..
            })]
        ));
    }
    let same = when(
        &opened(),
        C::EscalateSeverity {
            to: Severity::Medium,
            reason: "r".into(),
        },
    );
    assert_eq!(
        same,
        Err(Err_::NotAnEscalation {
            from: Severity::Medium,
            to: Severity::Medium
        })
    );
    let up = when(
        &opened(),
        C::DeescalateSeverity {
            to: Severity::High,
            reason: "r".into(),
        },
    );
    assert_eq!(
        up,
        Err(Err_::NotADeescalation {
            from: Severity::Medium,
            to: Severity::High
        })
    );
    let closed_refusal = when(
        &closed(),
        C::EscalateSeverity {
            to: Severity::High,
            reason: "r".into(),
        },
    );
    assert_eq!(closed_refusal, Err(Err_::IncidentClosed));
}

fn assign(n: u128, role: IncidentRole, from: i64, until: Option<i64>) -> C {
    C::AssignRole {
        assignment_id: id(n),
        role,
        person: format!("person-{n}"),
        from: at(from),
        until: until.map(at),
    }
}

#[test]
fn assign_role_time_bounded() {
    let first = when(&opened(), assign(50, IncidentRole::CrisisLead, 0, Some(60))).unwrap();
    let with_lead = with(opened(), first);
    assert_eq!(
        when(&with_lead, assign(51, IncidentRole::CrisisLead, 30, None)),
        Err(Err_::CrisisLeadOverlap { existing: id(50) })
    );
    assert!(
        when(&with_lead, assign(51, IncidentRole::CrisisLead, 60, None)).is_ok(),
        "handover at the boundary"
    );
    assert!(
        when(
            &with_lead,
            assign(51, IncidentRole::Communications, 30, None)
        )
        .is_ok()
    );
    assert_eq!(
        when(&with_lead, assign(50, IncidentRole::DataAnalysis, 0, None)),
        Err(Err_::AssignmentAlreadyExists {
            assignment_id: id(50)
        })
    );
    assert_eq!(
        when(
            &opened(),
            assign(52, IncidentRole::CustomerCare, 10, Some(10))
        ),
        Err(Err_::AssignmentEndsBeforeStart)
    );
}

#[test]
fn end_role_assignment() {
    let assigned = with(
        opened(),
        when(&opened(), assign(50, IncidentRole::CrisisLead, 0, None)).unwrap(),
    );
    let ended = when(
        &assigned,
        C::EndRoleAssignment {
            assignment_id: id(50),
            at: at(30),
        },
    );
    assert_eq!(
        ended,
        Ok(vec![E::RoleAssignmentEnded(RoleAssignmentEnded {
            assignment_id: id(50),
            at: at(30)
        })])
    );
    let after = with(assigned.clone(), ended.unwrap());
    assert_eq!(
        when(
            &after,
            C::EndRoleAssignment {
                assignment_id: id(50),
                at: at(40)
            }
        ),
        Err(Err_::AssignmentAlreadyEnded {
            assignment_id: id(50)
        })
    );
    assert_eq!(
        when(
            &assigned,
            C::EndRoleAssignment {
                assignment_id: id(50),
                at: at(0)
            }
        ),
        Err(Err_::AssignmentEndsBeforeStart)
    );
    assert_eq!(
        when(
            &assigned,
            C::EndRoleAssignment {
                assignment_id: id(59),
                at: at(5)
            }
        ),
        Err(Err_::UnknownAssignment {
            assignment_id: id(59)
        })
    );
}

#[test]
fn link_compensation() {
    let command = || C::LinkCompensation {
        compensation_id: id(40),
        passenger: PassengerId("P1".into()),
    };
    let linked = when(&opened(), command()).unwrap();
    assert!(matches!(&linked[..], [E::CompensationLinked(_)]));
    assert_eq!(
        when(&with(opened(), linked), command()),
        Err(Err_::CompensationAlreadyLinked {
            compensation_id: id(40)
        })
    );
    assert_eq!(when(&closed(), command()), Err(Err_::IncidentClosed));
}

#[test]
fn record_compensation_settlement() {
    let linked = with(
        opened(),
        [E::CompensationLinked(CompensationLinked {
            compensation_id: id(40),
            passenger: PassengerId("P1".into()),
        })],
    );
    let settle = |settlement| C::RecordCompensationSettlement {
        compensation_id: id(40),
        settlement,
    };
    assert!(when(&linked, settle(Settlement::Paid)).is_ok());
    assert_eq!(
        when(&linked, settle(Settlement::Failed { reason: " ".into() })),
        Err(Err_::FailureRequiresReason)
    );
    let unknown = C::RecordCompensationSettlement {
        compensation_id: id(41),
        settlement: Settlement::Paid,
    };
    assert_eq!(
        when(&linked, unknown),
        Err(Err_::UnknownCompensation {
            compensation_id: id(41)
        })
    );
}

#[test]
fn stream_name_and_event_types_use_the_aggregate_token() {
    assert_eq!(
        stream_name(id(1)),
        "incident-00000000-0000-0000-0000-000000000001"
    );
    assert!(
        IncidentEvent::EVENT_TYPES
            .iter()
            .all(|t| t.starts_with("incident."))
    );
}
