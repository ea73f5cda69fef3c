//! Opening, monitoring, assessing and planning.

use super::*;

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
fn a_flight_of_the_wrong_shape_is_refused() {
    // A body decodes any strings into a flight key; the decision checks their shape.
    let date = chrono::NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
    let mut command = open_command("delay");
    let C::OpenIncident { flight, .. } = &mut command else {
        unreachable!()
    };
    *flight = Some(crate::domain::common::FlightKey {
        carrier: "\u{16}L".into(),
        number: "400".into(),
        date,
    });
    assert!(matches!(
        when(&[], command.clone()),
        Err(Err_::InvalidFlight { .. })
    ));
    let C::OpenIncident { flight, .. } = &mut command else {
        unreachable!()
    };
    *flight = Some(crate::domain::common::FlightKey::new("LH", "400", date).unwrap());
    assert!(when(&[], command).is_ok());
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
            command: "start_assessment",
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
            command: "assess_impact",
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
    let events = when(
        &planning(),
        C::DraftCommunicationPlan {
            plan: comm_plan(),
            template: None,
        },
    )
    .unwrap();
    let expected = CommunicationPlanDrafted {
        version: 1,
        plan: comm_plan(),
        drafted_by: "crisislead-1".into(),
        template: None,
    };
    assert_eq!(events, vec![E::CommunicationPlanDrafted(expected)]);
    let redraft = when(
        &approved(),
        C::DraftCommunicationPlan {
            plan: comm_plan(),
            template: None,
        },
    )
    .unwrap();
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
        when(
            &planning(),
            C::DraftCommunicationPlan {
                plan: no_channel,
                template: None,
            }
        ),
        Err(Err_::CommunicationPlanNeedsChannel)
    );
    let refused = when(
        &assessing(),
        C::DraftCommunicationPlan {
            plan: comm_plan(),
            template: None,
        },
    );
    assert_eq!(
        refused,
        Err(Err_::WrongStage {
            command: "draft_communication_plan",
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
