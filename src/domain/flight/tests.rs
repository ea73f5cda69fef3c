//! Given events / when command / then events (or the refusal) for every flight command.

use super::*;
use crate::domain::testing;
use crate::domain::testing::{at, ctx_at};

use FlightCommand as C;
use FlightError as Err_;
use FlightEvent as E;

fn key() -> FlightKey {
    FlightKey::new(
        "LH",
        "400",
        chrono::NaiveDate::from_ymd_opt(2026, 11, 22).unwrap(),
    )
    .unwrap()
}

fn airport(code: &str) -> AirportCode {
    AirportCode::parse(code).unwrap()
}

fn schedule() -> FlightScheduled {
    FlightScheduled {
        flight: key(),
        origin: airport("FRA"),
        destination: airport("JFK"),
        scheduled_departure: at(120),
        scheduled_arrival: at(120 + 9 * 60),
        passenger_count: 280,
    }
}

fn given(events: &[E]) -> Flight {
    testing::given(events)
}

/// Decides at minute 600 as `role` and checks every produced event round-trips.
fn when_as(events: &[E], command: C, role: Role) -> Result<Vec<E>, FlightError> {
    testing::when_in::<Flight>(events, &command, &ctx_at(role, 600))
}

fn when(events: &[E], command: C) -> Result<Vec<E>, FlightError> {
    when_as(events, command, Role::FlightOps)
}

fn scheduled() -> Vec<E> {
    vec![E::Scheduled(schedule())]
}

fn departed() -> Vec<E> {
    let mut events = scheduled();
    events.push(E::Departed(FlightDeparted {
        actual_departure: at(300),
    }));
    events
}

fn arrived() -> Vec<E> {
    let mut events = departed();
    events.push(E::Arrived(FlightArrived {
        actual_arrival: at(900),
        airport: airport("JFK"),
    }));
    events
}

fn cancelled() -> Vec<E> {
    let mut events = scheduled();
    events.push(E::StatusChanged(StatusChanged {
        from: FlightStatus::OnTime,
        to: FlightStatus::Cancelled,
        reason: "crew".into(),
    }));
    events
}

#[test]
fn schedule_flight() {
    assert_eq!(
        when(
            &[],
            C::ScheduleFlight {
                schedule: schedule()
            }
        ),
        Ok(scheduled())
    );
    assert_eq!(
        when(
            &scheduled(),
            C::ScheduleFlight {
                schedule: schedule()
            }
        ),
        Err(Err_::AlreadyScheduled)
    );
    let circular = FlightScheduled {
        destination: airport("FRA"),
        ..schedule()
    };
    let refused = when(&[], C::ScheduleFlight { schedule: circular });
    assert_eq!(
        refused,
        Err(Err_::SameOriginAndDestination {
            airport: airport("FRA")
        })
    );
    let backwards = FlightScheduled {
        scheduled_arrival: at(120),
        ..schedule()
    };
    assert_eq!(
        when(
            &[],
            C::ScheduleFlight {
                schedule: backwards
            }
        ),
        Err(Err_::ArrivalBeforeDeparture)
    );
    assert_eq!(
        when(&[], C::RecordDeparture { at: at(0) }),
        Err(Err_::NotScheduled)
    );
}

#[test]
fn update_estimates() {
    let command = C::UpdateEstimates {
        departure: Some(at(300)),
        arrival: Some(at(840)),
    };
    let events = when(&scheduled(), command).unwrap();
    let state = given(&scheduled()).evolve(&events[0]);
    assert_eq!(
        (state.estimated_departure, state.estimated_arrival),
        (Some(at(300)), Some(at(840)))
    );
    let arrival_only = when(
        &[scheduled(), events].concat(),
        C::UpdateEstimates {
            departure: None,
            arrival: Some(at(200)),
        },
    );
    assert_eq!(
        arrival_only,
        Err(Err_::ArrivalBeforeDeparture),
        "checked against the earlier departure estimate"
    );
    assert_eq!(
        when(
            &scheduled(),
            C::UpdateEstimates {
                departure: None,
                arrival: None
            }
        ),
        Err(Err_::NothingToUpdate)
    );
    let finished = when(
        &cancelled(),
        C::UpdateEstimates {
            departure: Some(at(300)),
            arrival: None,
        },
    );
    assert_eq!(
        finished,
        Err(Err_::FlightFinished {
            status: FlightStatus::Cancelled
        })
    );
}

#[test]
fn record_departure() {
    assert_eq!(
        when(&scheduled(), C::RecordDeparture { at: at(300) }),
        Ok(departed()[1..].to_vec())
    );
    assert_eq!(
        when(&departed(), C::RecordDeparture { at: at(310) }),
        Err(Err_::AlreadyDeparted)
    );
    assert_eq!(
        when(&cancelled(), C::RecordDeparture { at: at(310) }),
        Err(Err_::FlightCancelled)
    );
}

#[test]
fn record_arrival() {
    let arrival = |minute| C::RecordArrival {
        at: at(minute),
        airport: airport("JFK"),
    };
    let events = when(&departed(), arrival(900)).unwrap();
    assert_eq!(
        given(&[departed(), events].concat()).arrival_delay_minutes(),
        Some(900 - 660)
    );
    assert_eq!(
        when(&scheduled(), arrival(900)),
        Err(Err_::ArrivalRequiresDeparture)
    );
    assert_eq!(
        when(&departed(), arrival(300)),
        Err(Err_::ArrivalBeforeDeparture)
    );
    assert_eq!(when(&arrived(), arrival(950)), Err(Err_::AlreadyArrived));
}

#[test]
fn change_status() {
    let change = |status, reason: &str| C::ChangeStatus {
        status,
        reason: reason.into(),
    };
    let events = when(&scheduled(), change(FlightStatus::Delayed, "late inbound")).unwrap();
    let expected = StatusChanged {
        from: FlightStatus::OnTime,
        to: FlightStatus::Delayed,
        reason: "late inbound".into(),
    };
    assert_eq!(events, vec![E::StatusChanged(expected)]);
    assert!(when(&scheduled(), change(FlightStatus::Cancelled, "crew")).is_ok());
    assert!(when(&departed(), change(FlightStatus::Diverted, "medical")).is_ok());
    assert!(
        when(
            &departed(),
            change(FlightStatus::ReturnToRamp, "door warning")
        )
        .is_ok()
    );
    assert_eq!(
        when(&scheduled(), change(FlightStatus::OnTime, "")),
        Err(Err_::StatusUnchanged {
            status: FlightStatus::OnTime
        })
    );
    assert_eq!(
        when(&departed(), change(FlightStatus::Cancelled, "x")),
        Err(Err_::CannotCancelDepartedFlight)
    );
    let early = when(&scheduled(), change(FlightStatus::Diverted, "x"));
    assert_eq!(
        early,
        Err(Err_::RequiresFlightUnderway {
            status: FlightStatus::Diverted
        })
    );
    assert!(matches!(
        when(&arrived(), change(FlightStatus::ReturnToRamp, "x")),
        Err(Err_::RequiresFlightUnderway { .. })
    ));
    assert_eq!(
        when(&scheduled(), change(FlightStatus::Delayed, " ")),
        Err(Err_::ReasonRequired)
    );
}

#[test]
fn record_delay_derives_controllability() {
    let delay = |code, minutes| C::RecordDelay {
        code: DelayCode::new(code).unwrap(),
        minutes,
    };
    let weather = when(&scheduled(), delay(71, 120)).unwrap();
    assert!(matches!(
        &weather[..],
        [E::DelayRecorded(DelayRecorded {
            derived_controllability: Controllability::Extraordinary,
            ..
        })]
    ));
    let history = [scheduled(), weather].concat();
    let crew = when(&history, delay(63, 150)).unwrap();
    let state = given(&[history.clone(), crew].concat());
    assert_eq!(state.controllability(), Controllability::CarrierCaused);
    let removed = when(&history, delay(71, 0)).unwrap();
    assert!(
        given(&[history.clone(), removed].concat())
            .delays
            .is_empty()
    );
    let same = when(&history, delay(71, 120));
    assert_eq!(
        same,
        Err(Err_::DelayUnchanged {
            code: DelayCode::new(71).unwrap(),
            minutes: 120
        })
    );
}

#[test]
fn record_passenger_notification() {
    let events = when(&cancelled(), C::RecordPassengerNotification { at: at(60) }).unwrap();
    assert_eq!(
        given(&[cancelled(), events].concat()).passengers_notified_at,
        Some(at(60))
    );
    let future = when(&cancelled(), C::RecordPassengerNotification { at: at(601) });
    assert_eq!(future, Err(Err_::NotificationInFuture));
}

#[test]
fn override_controllability_only_by_crisis_lead_with_reason() {
    let command = |reason: &str| C::OverrideControllability {
        controllability: Controllability::Extraordinary,
        reason: reason.into(),
    };
    let events = when_as(
        &scheduled(),
        command("bird strike confirmed by engineering"),
        Role::CrisisLead,
    )
    .unwrap();
    let state = given(&[scheduled(), events].concat());
    assert_eq!(state.controllability(), Controllability::Extraordinary);
    assert_eq!(state.controllability_override.unwrap().by, "crisislead-1");
    let by_ops = when(&scheduled(), command("x"));
    assert_eq!(
        by_ops,
        Err(Err_::OverrideRequiresCrisisLead {
            role: Role::FlightOps
        })
    );
    assert_eq!(
        when_as(&scheduled(), command(""), Role::CrisisLead),
        Err(Err_::ReasonRequired)
    );
}

#[test]
fn stream_name_and_event_types_use_the_aggregate_token() {
    assert_eq!(stream_name(&key()), "flight-LH400-2026-11-22");
    assert!(
        FlightEvent::EVENT_TYPES
            .iter()
            .all(|t| t.starts_with("flight."))
    );
}
