//! Rules that apply at any stage: severity, roles, signals, compensations.

use super::*;

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
    assert!(when(&linked, settle(Settlement::NothingOwed)).is_ok());
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
