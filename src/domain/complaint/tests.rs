//! Given events / when command / then events (or the refusal) for every complaint command.

use super::*;
use crate::domain::Aggregate;
use crate::domain::common::{Category, Channel, PassengerId, PersonalData, Role, RootCause, Tier};
use crate::domain::policy::sla::SlaKind;
use crate::domain::testing;
use crate::domain::testing::{at, ctx_at, id};

use ComplaintCommand as C;
use ComplaintError as Err_;
use ComplaintEvent as E;

fn given(events: &[E]) -> Complaint {
    testing::given(events)
}

/// Decides as an agent at minute 90 and checks every produced event round-trips.
fn when(events: &[E], command: C) -> Result<Vec<E>, ComplaintError> {
    testing::when_in::<Complaint>(events, &command, &ctx_at(Role::Agent, 90))
}

fn receive_command() -> C {
    C::ReceiveComplaint {
        complaint_id: id(1),
        channel: Channel::Email,
        passenger: PassengerId("P1".into()),
        tier: Tier::Gold,
        category: Category::BaggageLost,
        remedy_sought: RemedySought::BaggageTrace,
        description: PersonalData("my bag with my passport is gone".into()),
        incident_id: Some(id(9)),
        flight: None,
        received_at: None,
    }
}

fn received() -> Vec<E> {
    let ComplaintEvent::Received(mut event) = given(&[])
        .decide(&receive_command(), &ctx_at(Role::Agent, 0))
        .unwrap()[0]
        .clone()
    else {
        unreachable!()
    };
    event.received_at = at(0);
    vec![E::Received(event)]
}

fn acknowledged() -> Vec<E> {
    let mut events = received();
    events.push(E::Acknowledged(ComplaintAcknowledged {
        apology: "We are sorry".into(),
        acknowledged_by: "agent-1".into(),
        acknowledged_at: at(10),
        first_response_secs: 600,
    }));
    events
}

fn routed() -> Vec<E> {
    let mut events = acknowledged();
    events.push(E::Routed(ComplaintRouted {
        departments: [Department::Baggage].into(),
        routed_by: "agent-1".into(),
        routed_at: at(20),
    }));
    events
}

fn cause(code: &str) -> RootCause {
    RootCause::parse(code).unwrap()
}

fn proposed() -> Vec<E> {
    let mut events = routed();
    events.push(E::ResolutionProposed(ResolutionProposed {
        proposal: 1,
        resolution: "bag delivered tomorrow".into(),
        compensation_id: None,
        root_cause: Some(cause("baggage/delayed")),
        responsible: Some(Department::Baggage),
        proposed_by: "agent-1".into(),
        proposed_at: at(60),
    }));
    events
}

fn reopened() -> Vec<E> {
    let mut events = proposed();
    events.push(E::Reopened(ComplaintReopened {
        reason: "too late".into(),
        reopened_at: at(70),
    }));
    events
}

fn closed() -> Vec<E> {
    let mut events = proposed();
    events.push(E::Closed(ComplaintClosed {
        comment: String::new().into(),
        closed_at: at(80),
        handling_secs: 4800,
    }));
    events
}

/// A flight named in a command body has not been through `FlightKey::new`: a shape it
/// cannot have is refused (schemathesis found `{"carrier": "00", "number": ""}` stored).
#[test]
fn a_complaint_about_a_flight_that_cannot_exist_is_refused() {
    let mut command = receive_command();
    if let C::ReceiveComplaint { flight, .. } = &mut command {
        *flight = Some(crate::domain::common::FlightKey {
            carrier: "00".into(),
            number: String::new(),
            date: at(0).date_naive(),
        });
    }
    assert!(matches!(
        when(&[], command),
        Err(Err_::InvalidFlight { .. })
    ));
}

#[test]
fn receive_complaint() {
    let events = when(&[], receive_command()).unwrap();
    let E::Received(received_event) = &events[0] else {
        panic!("{events:?}")
    };
    assert_eq!(
        (received_event.received_at, received_event.tier),
        (at(90), Tier::Gold)
    );
    assert_eq!(
        when(&received(), receive_command()),
        Err(Err_::AlreadyReceived)
    );
    let with_receipt = |minute| {
        let C::ReceiveComplaint {
            complaint_id,
            channel,
            passenger,
            tier,
            category,
            remedy_sought,
            description,
            incident_id,
            flight,
            ..
        } = receive_command()
        else {
            unreachable!()
        };
        C::ReceiveComplaint {
            complaint_id,
            channel,
            passenger,
            tier,
            category,
            remedy_sought,
            description,
            incident_id,
            flight,
            received_at: Some(at(minute)),
        }
    };
    // The channel's own receipt time, when given: SLA clocks count from it.
    let events = when(&[], with_receipt(-30)).unwrap();
    assert!(matches!(&events[0], E::Received(r) if r.received_at == at(-30)));
    assert_eq!(
        when(&[], with_receipt(90)).map(|e| e.len()),
        Ok(1),
        "now itself"
    );
    assert_eq!(
        when(&[], with_receipt(91)),
        Err(Err_::ReceivedInFuture {
            received_at: at(91)
        })
    );
    // Nor backdated beyond a year (the ingest bound): 366 days before now (minute 90).
    let year = 366 * 24 * 60;
    assert_eq!(when(&[], with_receipt(90 - year)).map(|e| e.len()), Ok(1));
    assert_eq!(
        when(&[], with_receipt(89 - year)),
        Err(Err_::ReceivedTooLongAgo {
            received_at: at(89 - year),
            days_max: 366
        })
    );
    assert_eq!(
        when(
            &[],
            C::AcknowledgeComplaint {
                apology: "x".into()
            }
        ),
        Err(Err_::NotReceived)
    );
}

#[test]
fn received_complaint_debug_hides_the_customers_words() {
    let debug = format!("{:?}", received());
    assert!(
        !debug.contains("passport"),
        "personal data leaked into Debug: {debug}"
    );
}

#[test]
fn acknowledge_complaint_records_first_response_time() {
    let events = when(
        &received(),
        C::AcknowledgeComplaint {
            apology: "Sorry".into(),
        },
    )
    .unwrap();
    let E::Acknowledged(ack) = &events[0] else {
        panic!("{events:?}")
    };
    assert_eq!(
        (
            ack.first_response_secs,
            ack.acknowledged_at,
            ack.acknowledged_by.as_str()
        ),
        (5400, at(90), "agent-1")
    );
    assert_eq!(
        when(
            &acknowledged(),
            C::AcknowledgeComplaint {
                apology: "Sorry".into()
            }
        ),
        Err(Err_::AlreadyAcknowledged)
    );
    assert_eq!(
        when(
            &received(),
            C::AcknowledgeComplaint {
                apology: " ".into()
            }
        ),
        Err(Err_::Required { field: "apology" })
    );
}

#[test]
fn route_complaint() {
    let route = |departments: &[Department]| C::RouteComplaint {
        departments: departments.iter().copied().collect(),
    };
    let events = when(
        &acknowledged(),
        route(&[Department::Baggage, Department::Refunds]),
    )
    .unwrap();
    assert_eq!(
        given(&acknowledged()).evolve(&events[0]).status,
        ComplaintStatus::Routed
    );
    assert_eq!(
        when(&received(), route(&[Department::Baggage])),
        Err(Err_::RoutingRequiresAcknowledgement)
    );
    assert_eq!(when(&acknowledged(), route(&[])), Err(Err_::NoDepartment));
    assert_eq!(
        when(&proposed(), route(&[Department::Legal])),
        Err(Err_::ResolutionAlreadyPending)
    );
    assert!(
        when(&reopened(), route(&[Department::Legal])).is_ok(),
        "a reopened complaint can be rerouted"
    );
}

#[test]
fn send_progress_update() {
    let update = || C::SendProgressUpdate {
        message: "bag found in MUC".into(),
    };
    assert!(
        matches!(&when(&routed(), update()).unwrap()[..], [E::ProgressUpdated(ProgressUpdated { sent_at, .. })] if *sent_at == at(90))
    );
    let refused = when(&acknowledged(), update());
    assert_eq!(
        refused,
        Err(Err_::UpdateRequiresRouting {
            status: ComplaintStatus::Acknowledged
        })
    );
    assert_eq!(when(&closed(), update()), Err(Err_::ComplaintClosed));
}

#[test]
fn propose_resolution() {
    let propose = || C::ProposeResolution {
        resolution: "voucher".into(),
        compensation_id: Some(id(40)),
        root_cause: cause("operations/delay"),
        responsible: Department::FlightOperations,
    };
    let events = when(&routed(), propose()).unwrap();
    assert!(matches!(
        &events[..],
        [E::ResolutionProposed(ResolutionProposed {
            proposal: 1,
            ..
        })]
    ));
    let again = when(&reopened(), propose()).unwrap();
    assert!(matches!(
        &again[..],
        [E::ResolutionProposed(ResolutionProposed {
            proposal: 2,
            ..
        })]
    ));
    assert_eq!(
        when(&proposed(), propose()),
        Err(Err_::ResolutionAlreadyPending)
    );
    let early = when(&acknowledged(), propose());
    assert_eq!(
        early,
        Err(Err_::ResolutionRequiresRouting {
            status: ComplaintStatus::Acknowledged
        })
    );
}

/// Responsibility for the root cause is recorded with the proposal, and handed to
/// another department only by an event with its reason, closed complaints included.
#[test]
fn responsibility_is_reassigned_by_an_event_with_its_reason() {
    let reassign = |to: Department, reason: &str| C::ReassignResponsibility {
        responsible: to,
        reason: reason.into(),
    };
    assert_eq!(
        when(&routed(), reassign(Department::Partners, "handler")),
        Err(Err_::NoResponsibilityYet)
    );
    let state = testing::given::<Complaint>(&proposed());
    assert_eq!(state.root_cause, Some(cause("baggage/delayed")));
    assert_eq!(state.responsible, Some(Department::Baggage));
    assert_eq!(
        when(&proposed(), reassign(Department::Baggage, "again")),
        Err(Err_::AlreadyResponsible {
            department: Department::Baggage
        })
    );
    assert_eq!(
        when(&proposed(), reassign(Department::Partners, " ")),
        Err(Err_::Required { field: "reason" })
    );
    let mut history = closed();
    let events = when(
        &history,
        reassign(Department::Partners, "the contracted handler lost the bag"),
    )
    .unwrap();
    let [E::ResponsibilityReassigned(r)] = &events[..] else {
        panic!("{events:?}")
    };
    assert_eq!((r.from, r.to), (Department::Baggage, Department::Partners));
    history.extend(events);
    let state = testing::given::<Complaint>(&history);
    assert_eq!(state.responsible, Some(Department::Partners));
    assert_eq!(
        state.root_cause,
        Some(cause("baggage/delayed")),
        "the cause stays"
    );
}

/// A supervisor scores a closed complaint's handling once, each score 1 to 5.
#[test]
fn quality_is_scored_once_on_a_closed_complaint() {
    let score = |accuracy: u8| C::ScoreQuality {
        accuracy,
        attitude: 4,
        timeliness: 3,
        note: "clear answer".into(),
    };
    assert_eq!(when(&proposed(), score(5)), Err(Err_::QualityNeedsClosed));
    assert_eq!(
        when(&closed(), score(6)),
        Err(Err_::QualityOutOfRange { score: 6 })
    );
    assert_eq!(
        when(&closed(), score(0)),
        Err(Err_::QualityOutOfRange { score: 0 })
    );
    let events = when(&closed(), score(5)).unwrap();
    let [E::QualityScored(q)] = &events[..] else {
        panic!("{events:?}")
    };
    assert_eq!((q.accuracy, q.attitude, q.timeliness), (5, 4, 3));
    let mut history = closed();
    history.extend(events);
    assert_eq!(when(&history, score(5)), Err(Err_::QualityAlreadyScored));
}

#[test]
fn confirm_satisfaction_closes_with_handling_time() {
    let events = when(
        &proposed(),
        C::ConfirmSatisfaction {
            comment: "thanks".into(),
        },
    )
    .unwrap();
    assert_eq!(
        events,
        vec![E::Closed(ComplaintClosed {
            comment: "thanks".into(),
            closed_at: at(90),
            handling_secs: 5400
        })]
    );
    assert_eq!(
        when(
            &routed(),
            C::ConfirmSatisfaction {
                comment: String::new().into()
            }
        ),
        Err(Err_::NoResolutionPending)
    );
    assert_eq!(
        when(
            &closed(),
            C::ConfirmSatisfaction {
                comment: String::new().into()
            }
        ),
        Err(Err_::ComplaintClosed)
    );
}

#[test]
fn report_dissatisfaction_reopens() {
    let events = when(
        &proposed(),
        C::ReportDissatisfaction {
            reason: "not enough".into(),
        },
    )
    .unwrap();
    let state = given(&proposed()).evolve(&events[0]);
    assert_eq!(
        (state.status, state.reopened_count),
        (ComplaintStatus::Reopened, 1)
    );
    assert_eq!(
        when(&reopened(), C::ReportDissatisfaction { reason: "x".into() }),
        Err(Err_::NoResolutionPending)
    );
    assert_eq!(
        when(&proposed(), C::ReportDissatisfaction { reason: "".into() }),
        Err(Err_::Required { field: "reason" })
    );
}

#[test]
fn escalate_to_supervisor() {
    let escalate = || C::EscalateToSupervisor {
        supervisor: "sup-1".into(),
        reason: "third reopening".into(),
    };
    let events = when(&reopened(), escalate()).unwrap();
    let state = given(&reopened()).evolve(&events[0]);
    assert_eq!(state.escalated_to.as_deref(), Some("sup-1"));
    assert_eq!(
        state.status,
        ComplaintStatus::Reopened,
        "the loop continues under the supervisor"
    );
    assert_eq!(
        when(&with_escalation(), escalate()),
        Err(Err_::AlreadyEscalated)
    );
    assert_eq!(when(&closed(), escalate()), Err(Err_::ComplaintClosed));
}

fn with_escalation() -> Vec<E> {
    let mut events = received();
    events.push(E::Escalated(ComplaintEscalated {
        supervisor: "sup-1".into(),
        reason: "r".into(),
        escalated_by: "agent-1".into(),
        escalated_at: at(5),
    }));
    events
}

#[test]
fn stream_name_and_event_types_use_the_aggregate_token() {
    assert_eq!(
        stream_name(id(1)),
        "complaint-00000000-0000-0000-0000-000000000001"
    );
    assert!(
        ComplaintEvent::EVENT_TYPES
            .iter()
            .all(|t| t.starts_with("complaint."))
    );
}

fn breach(kind: SlaKind, deadline_minute: i64) -> C {
    C::RecordSlaBreach {
        kind,
        deadline: at(deadline_minute),
    }
}

#[test]
fn a_passed_deadline_with_the_work_undone_is_recorded_once() {
    // `when` decides at minute 90.
    assert_eq!(
        when(&received(), breach(SlaKind::Acknowledge, 60)),
        Ok(vec![E::SlaBreached(SlaBreached {
            kind: SlaKind::Acknowledge,
            deadline: at(60),
            detected_at: at(90),
        })])
    );
    let mut breached = received();
    breached.extend(when(&received(), breach(SlaKind::Acknowledge, 60)).unwrap());
    assert_eq!(given(&breached).breached, [SlaKind::Acknowledge].into());
    assert_eq!(
        when(&breached, breach(SlaKind::Acknowledge, 60)),
        Err(Err_::SlaAlreadyBreached {
            kind: SlaKind::Acknowledge
        })
    );
    assert!(
        when(&breached, breach(SlaKind::FirstFeedback, 80)).is_ok(),
        "each service level is breached on its own"
    );
}

#[test]
fn no_breach_before_the_deadline_after_the_work_or_once_closed() {
    assert_eq!(
        when(&received(), breach(SlaKind::Acknowledge, 90)),
        Err(Err_::SlaNotDue {
            kind: SlaKind::Acknowledge,
            deadline: at(90)
        }),
        "done exactly at the deadline is on time, so the deadline instant itself is no breach"
    );
    assert_eq!(
        when(&acknowledged(), breach(SlaKind::Acknowledge, 5)),
        Err(Err_::SlaMet {
            kind: SlaKind::Acknowledge
        })
    );
    assert!(when(&routed(), breach(SlaKind::FirstFeedback, 5)).is_ok());
    assert_eq!(
        when(&proposed(), breach(SlaKind::FirstFeedback, 5)),
        Err(Err_::SlaMet {
            kind: SlaKind::FirstFeedback
        }),
        "a proposal is feedback"
    );
    assert!(when(&proposed(), breach(SlaKind::Resolve, 5)).is_ok());
    assert_eq!(
        when(&closed(), breach(SlaKind::Resolve, 5)),
        Err(Err_::ComplaintClosed)
    );
    assert_eq!(
        when(&[], breach(SlaKind::Resolve, 5)),
        Err(Err_::NotReceived)
    );
}
