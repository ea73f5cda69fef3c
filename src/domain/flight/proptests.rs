//! Property tests: random flight-ops command sequences never produce an
//! impossible flight, the class recorded in events always equals the class
//! derived from the recorded minutes, events round-trip, and replay rebuilds
//! the same state.

use proptest::prelude::*;

use super::*;
use crate::domain::DomainEvent;
use crate::domain::testing::{at, ctx_at};

use FlightCommand as C;

fn status() -> impl Strategy<Value = FlightStatus> {
    prop_oneof![
        Just(FlightStatus::OnTime),
        Just(FlightStatus::Delayed),
        Just(FlightStatus::Cancelled),
        Just(FlightStatus::Diverted),
        Just(FlightStatus::ReturnToRamp),
    ]
}

fn command() -> impl Strategy<Value = C> {
    let minute = || (0i64..40).prop_map(|m| at(m * 30));
    let code = prop_oneof![Just(6u8), Just(41), Just(71), Just(81), Just(93), Just(98)];
    prop_oneof![
        1 => minute().prop_map(|departure| C::ScheduleFlight { schedule: FlightScheduled {
            flight: FlightKey::new("LH", "400", at(0).date_naive()).unwrap(),
            origin: AirportCode::parse("FRA").unwrap(),
            destination: AirportCode::parse("JFK").unwrap(),
            scheduled_departure: departure,
            scheduled_arrival: departure + chrono::Duration::hours(9),
            passenger_count: 280,
        }}),
        2 => (proptest::option::of(minute()), proptest::option::of(minute()))
            .prop_map(|(departure, arrival)| C::UpdateEstimates { departure, arrival }),
        2 => minute().prop_map(|at| C::RecordDeparture { at }),
        2 => minute().prop_map(|at| C::RecordArrival { at, airport: AirportCode::parse("JFK").unwrap() }),
        3 => (status(), prop_oneof![Just(String::new()), Just("r".to_owned())])
            .prop_map(|(status, reason)| C::ChangeStatus { status, reason }),
        4 => (code, 0u32..200).prop_map(|(code, minutes)| C::RecordDelay {
            code: DelayCode::new(code).unwrap(), minutes,
        }),
        1 => minute().prop_map(|at| C::RecordPassengerNotification { at }),
    ]
}

/// Every broken invariant of `flight`, described.
fn violations(flight: &Flight) -> Vec<&'static str> {
    let mut broken = Vec::new();
    if flight.schedule.is_none() && *flight != Flight::default() {
        broken.push("an unscheduled flight has no facts");
    }
    if flight.derived_controllability != controllability::derive(&flight.delays) {
        broken.push("the recorded class is the class derived from the recorded minutes");
    }
    if flight.delays.values().any(|minutes| *minutes == 0) {
        broken.push("zero minutes remove a code");
    }
    if let (Some(dep), Some(arr)) = (flight.actual_departure, flight.actual_arrival)
        && arr <= dep
    {
        broken.push("arrival after departure");
    }
    if flight.actual_arrival.is_some() && flight.actual_departure.is_none() {
        broken.push("no arrival without a departure");
    }
    if flight.status == FlightStatus::Cancelled && flight.actual_departure.is_some() {
        broken.push("a cancelled flight never departed");
    }
    broken
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_flight_ops_keep_flights_possible_and_replayable(
        commands in proptest::collection::vec(command(), 1..40)
    ) {
        let mut state = Flight::default();
        let mut log = Vec::new();
        for command in &commands {
            let Ok(events) = state.decide(command, &ctx_at(Role::FlightOps, 24 * 60)) else { continue };
            for event in events {
                state = state.evolve(&event);
                let broken = violations(&state);
                prop_assert!(broken.is_empty(), "after {command:?}: {broken:?}");
                let decoded = FlightEvent::from_data(event.event_type(), 1, &event.to_data().to_string());
                prop_assert_eq!(decoded.as_ref(), Ok(&event));
                log.push(event);
            }
        }
        let replayed = log.iter().fold(Flight::default(), |s, e| s.evolve(e));
        prop_assert_eq!(replayed, state);
    }
}
