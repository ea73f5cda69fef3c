//! From a flight-ops update (a snapshot of what flight ops knows about one flight) to the
//! flight commands that bring the aggregate up to date.
//!
//! Flight-ops systems resend the whole picture of a flight each time (as AIDX/MVT feeds
//! do), so mapping is a diff against the current state: only what changed becomes a
//! command, and a repeated update produces none. The commands are then decided in order
//! on the evolving state and appended at once (`execute_all`), with event ids derived
//! from the source message id, so a redelivered message changes nothing.
//!
//! The schedule is fixed by the first update; later schedule changes are not applied
//! (they are a new flight in airline systems).
//!
//! Each command carries the field of the message it comes from, so when the flight
//! refuses one, the rejection names that field ([`refused_change`]) instead of refusing
//! the message as a whole.

use chrono::{DateTime, Utc};

use crate::domain::common::{AirportCode, FlightKey};
use crate::domain::flight::{
    DelayCode, Flight, FlightCommand, FlightError, FlightScheduled, FlightStatus,
};
use crate::domain::{Aggregate, Context};

/// What flight ops reports about one flight, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct FlightUpdate {
    pub flight: FlightKey,
    pub origin: AirportCode,
    pub destination: AirportCode,
    pub scheduled_departure: DateTime<Utc>,
    pub scheduled_arrival: DateTime<Utc>,
    pub estimated_departure: Option<DateTime<Utc>>,
    pub estimated_arrival: Option<DateTime<Utc>>,
    pub actual_departure: Option<DateTime<Utc>>,
    pub actual_arrival: Option<DateTime<Utc>>,
    /// Where `actual_arrival` happened: `destination`, or a diversion airport.
    pub arrival_airport: AirportCode,
    pub status: FlightStatus,
    /// Minutes per IATA delay code.
    pub delays: Vec<(DelayCode, u32)>,
    pub change_reason: Option<String>,
    /// When passengers were told of the change (never after the time it is handled: a
    /// sender's clock a little ahead is taken as now).
    pub notified_at: Option<DateTime<Utc>>,
    pub passenger_count: u32,
}

/// One command and the field of the flight-ops message it comes from (a JSON pointer).
#[derive(Debug, Clone, PartialEq)]
pub struct FlightChange {
    pub command: FlightCommand,
    pub field: String,
}

/// The commands that bring `state` up to `update`, in the order they must be decided,
/// each with the message field it comes from.
pub fn flight_commands(state: &Flight, update: &FlightUpdate) -> Vec<FlightChange> {
    let mut commands = Vec::new();
    let mut push = |field: &str, command| {
        commands.push(FlightChange {
            command,
            field: field.to_owned(),
        })
    };
    if state.schedule.is_none() {
        push(
            "/scheduled_departure",
            FlightCommand::ScheduleFlight {
                schedule: FlightScheduled {
                    flight: update.flight.clone(),
                    origin: update.origin,
                    destination: update.destination,
                    scheduled_departure: update.scheduled_departure,
                    scheduled_arrival: update.scheduled_arrival,
                    passenger_count: update.passenger_count,
                },
            },
        );
    }
    let finished = state.arrived_at_destination() || state.status == FlightStatus::Cancelled;
    let estimates_changed = (update.estimated_departure.is_some()
        && update.estimated_departure != state.estimated_departure)
        || (update.estimated_arrival.is_some()
            && update.estimated_arrival != state.estimated_arrival);
    if estimates_changed && !finished && update.actual_arrival.is_none() {
        let field = if update.estimated_arrival.is_some() {
            "/estimated_arrival"
        } else {
            "/estimated_departure"
        };
        push(
            field,
            FlightCommand::UpdateEstimates {
                departure: update.estimated_departure,
                arrival: update.estimated_arrival,
            },
        );
    }
    for (index, (code, minutes)) in update.delays.iter().enumerate() {
        if state.delays.get(code).copied().unwrap_or(0) != *minutes {
            push(
                &format!("/delays/{index}"),
                FlightCommand::RecordDelay {
                    code: *code,
                    minutes: *minutes,
                },
            );
        }
    }
    if let (Some(at), None) = (update.actual_departure, state.actual_departure) {
        push("/actual_departure", FlightCommand::RecordDeparture { at });
    }
    // After the departure: a diversion or a return to the ramp needs the flight underway.
    if update.status != state.status {
        let reason = update
            .change_reason
            .clone()
            .unwrap_or_else(|| "reported by flight ops".to_owned());
        push(
            "/status",
            FlightCommand::ChangeStatus {
                status: update.status,
                reason,
            },
        );
    }
    // A new arrival: the first, or one somewhere else after a diversion landing.
    if let Some(at) = update.actual_arrival
        && state.arrival_airport != Some(update.arrival_airport)
        && state.actual_arrival.is_none_or(|known| at > known)
    {
        push(
            "/actual_arrival",
            FlightCommand::RecordArrival {
                at,
                airport: update.arrival_airport,
            },
        );
    }
    // A corrected on-block time at the destination, once arrived there.
    if let Some(at) = update.actual_arrival
        && state.arrived_at_destination()
        && update.arrival_airport == update.destination
        && state.actual_arrival != Some(at)
    {
        push("/actual_arrival", FlightCommand::CorrectArrival { at });
    }
    if let Some(at) = update.notified_at
        && state.passengers_notified_at.is_none_or(|known| at > known)
    {
        push(
            "/notified_at",
            FlightCommand::RecordPassengerNotification { at },
        );
    }
    commands
}

/// The first change `state` refuses and why, deciding them one by one as `execute_all`
/// decides them together; `None` if the flight takes them all (it changed since the
/// refusal: a retry will do).
pub fn refused_change<'a>(
    state: &Flight,
    changes: &'a [FlightChange],
    ctx: &Context,
) -> Option<(&'a FlightChange, FlightError)> {
    let mut state = state.clone();
    for change in changes {
        match state.decide(&change.command, ctx) {
            Ok(events) => state = events.iter().fold(state, |s, e| s.evolve(e)),
            Err(refusal) => return Some((change, refusal)),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::command::{CommandMeta, execute_all, load};
    use crate::domain::common::{Actor, Role};
    use crate::domain::flight;
    use crate::store::{SledStore, StoreConfig};
    use chrono::TimeZone;

    fn t(hour: u32, minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 22, hour, minute, 0).unwrap()
    }

    fn update() -> FlightUpdate {
        FlightUpdate {
            flight: FlightKey::new(
                "LH",
                "400",
                chrono::NaiveDate::from_ymd_opt(2026, 11, 22).unwrap(),
            )
            .unwrap(),
            origin: AirportCode::parse("FRA").unwrap(),
            destination: AirportCode::parse("JFK").unwrap(),
            scheduled_departure: t(10, 0),
            scheduled_arrival: t(18, 0),
            estimated_departure: None,
            estimated_arrival: None,
            actual_departure: None,
            actual_arrival: None,
            arrival_airport: AirportCode::parse("JFK").unwrap(),
            status: FlightStatus::OnTime,
            delays: vec![],
            change_reason: None,
            notified_at: None,
            passenger_count: 320,
        }
    }

    fn commands(state: &Flight, update: &FlightUpdate) -> Vec<FlightCommand> {
        flight_commands(state, update)
            .into_iter()
            .map(|change| change.command)
            .collect()
    }

    fn meta(source: &str) -> CommandMeta {
        CommandMeta {
            idempotency_key: Some(source.to_owned()),
            ..CommandMeta::new(
                Actor {
                    id: "flight-ops".into(),
                    role: Role::FlightOps,
                },
                t(23, 0),
            )
        }
    }

    #[test]
    fn a_first_update_schedules_and_a_repeat_changes_nothing() {
        let first = commands(&Flight::default(), &update());
        assert!(
            matches!(first.as_slice(), [FlightCommand::ScheduleFlight { .. }]),
            "{first:?}"
        );
        let scheduled = Flight {
            schedule: Some(match &first[0] {
                FlightCommand::ScheduleFlight { schedule } => schedule.clone(),
                _ => unreachable!(),
            }),
            ..Flight::default()
        };
        assert!(flight_commands(&scheduled, &update()).is_empty());
    }

    /// A refusal is traced to the change that caused it, and so to a message field.
    #[test]
    fn each_change_names_its_field_and_a_refusal_is_traced_to_it() {
        let scheduled = commands(&Flight::default(), &update());
        let cancel = FlightCommand::ChangeStatus {
            status: FlightStatus::Cancelled,
            reason: "crew".into(),
        };
        let ctx = Context::new(t(23, 0), meta("x").actor);
        let state = scheduled
            .iter()
            .chain([&cancel])
            .fold(Flight::default(), |state, command| {
                let events = state.decide(command, &ctx).unwrap();
                events.iter().fold(state, |s, e| s.evolve(e))
            });
        let departed_anyway = FlightUpdate {
            status: FlightStatus::Cancelled,
            delays: vec![(DelayCode::new(61).unwrap(), 30)],
            actual_departure: Some(t(11, 0)),
            notified_at: Some(t(9, 0)),
            ..update()
        };
        let changes = flight_commands(&state, &departed_anyway);
        let fields: Vec<&str> = changes.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(fields, ["/delays/0", "/actual_departure", "/notified_at"]);
        let (change, refusal) = refused_change(&state, &changes, &ctx).unwrap();
        assert_eq!(
            (change.field.as_str(), refusal),
            ("/actual_departure", FlightError::FlightCancelled)
        );
        let fine = FlightUpdate {
            actual_departure: None,
            ..departed_anyway
        };
        assert_eq!(
            refused_change(&state, &flight_commands(&state, &fine), &ctx),
            None
        );
    }

    #[tokio::test]
    async fn a_delay_then_a_departure_and_arrival_become_the_flight_s_facts() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(StoreConfig::new(dir.path())).unwrap();
        let journal = crate::app::Journal::ephemeral(store.clone());
        let stream = flight::stream_name(&update().flight);
        let apply = |update: FlightUpdate, source: &'static str| {
            let store = store.clone();
            let journal = journal.clone();
            let stream = stream.clone();
            async move {
                let (state, _) = load::<Flight>(&store, &stream).unwrap();
                let commands = commands(&state, &update);
                execute_all::<Flight>(&journal, &stream, &commands, &meta(source))
                    .await
                    .unwrap()
            }
        };
        apply(update(), "msg-1").await;
        let delayed = FlightUpdate {
            status: FlightStatus::Delayed,
            estimated_departure: Some(t(13, 30)),
            estimated_arrival: Some(t(21, 40)),
            delays: vec![
                (DelayCode::new(41).unwrap(), 150),
                (DelayCode::new(93).unwrap(), 60),
            ],
            change_reason: Some("aircraft defect".into()),
            notified_at: Some(t(9, 30)),
            ..update()
        };
        let done = apply(delayed.clone(), "msg-2").await;
        assert!(
            done.events.len() >= 5,
            "estimates, two delay codes, status, notification: {done:?}"
        );
        // A redelivery of msg-2 stores nothing new.
        let again = apply(delayed.clone(), "msg-2").await;
        assert!(again.events.is_empty() || again.duplicate);
        let arrived = FlightUpdate {
            actual_departure: Some(t(13, 40)),
            actual_arrival: Some(t(21, 50)),
            ..delayed
        };
        apply(arrived.clone(), "msg-3").await;
        let (state, _) = load::<Flight>(&store, &stream).unwrap();
        assert_eq!(state.arrival_delay_minutes(), Some(230));
        assert_eq!(state.delays.len(), 2);
        assert_eq!(state.status, FlightStatus::Delayed);
        assert_eq!(state.passengers_notified_at, Some(t(9, 30)));
        assert_eq!(
            state.controllability(),
            crate::domain::flight::Controllability::Safety,
            "41 (aircraft defect) carries most minutes"
        );
        // Flight ops corrects the on-block time: the arrival follows it.
        let corrected = FlightUpdate {
            actual_arrival: Some(t(22, 30)),
            ..arrived.clone()
        };
        apply(corrected.clone(), "msg-4").await;
        let (state, _) = load::<Flight>(&store, &stream).unwrap();
        assert_eq!(state.arrival_delay_minutes(), Some(270));
        assert!(
            commands(&state, &corrected).is_empty(),
            "a resend changes nothing"
        );
        let head = store.head().position;
        assert!(store.verify(1, head).unwrap().is_ok());
    }

    /// Issue 19, item 6: a flight that lands at another airport is diverted, not
    /// arrived; the later arrival at the destination is what the delay is measured to.
    #[test]
    fn a_diversion_landing_then_the_arrival_at_the_destination() {
        let airport = |code| AirportCode::parse(code).unwrap();
        let ctx = Context::new(
            t(23, 59),
            crate::domain::common::Actor {
                id: "ops".into(),
                role: crate::domain::common::Role::FlightOps,
            },
        );
        let run = |state: Flight, update: &FlightUpdate| {
            commands(&state, update)
                .iter()
                .fold(state, |state, command| {
                    let events = state.decide(command, &ctx).expect("accepted");
                    events.iter().fold(state, |s, e| s.evolve(e))
                })
        };
        let state = run(Flight::default(), &update());
        let diverted = FlightUpdate {
            actual_departure: Some(t(10, 10)),
            actual_arrival: Some(t(17, 0)),
            arrival_airport: airport("EWR"),
            status: FlightStatus::Diverted,
            change_reason: Some("weather at JFK".into()),
            ..update()
        };
        let state = run(state, &diverted);
        assert_eq!(
            state.diversion.map(|d| (d.airport, d.landed_at)),
            Some((airport("EWR"), t(17, 0)))
        );
        assert_eq!(
            state.arrival_delay_minutes(),
            None,
            "not at the destination yet"
        );
        assert!(
            commands(&state, &diverted).is_empty(),
            "a resend changes nothing"
        );
        let arrived = FlightUpdate {
            actual_arrival: Some(t(21, 30)),
            arrival_airport: airport("JFK"),
            ..diverted.clone()
        };
        let state = run(state, &arrived);
        assert_eq!(state.arrival_delay_minutes(), Some(210));
        assert_eq!(
            state.diversion.map(|d| (d.airport, d.landed_at)),
            Some((airport("EWR"), t(17, 0)))
        );
        assert!(commands(&state, &arrived).is_empty());
        assert!(
            commands(&state, &diverted).is_empty(),
            "the older diversion picture, redelivered late, changes nothing"
        );
        let again = FlightCommand::RecordArrival {
            at: t(22, 0),
            airport: airport("EWR"),
        };
        assert_eq!(state.decide(&again, &ctx), Err(FlightError::AlreadyArrived));
    }
}
