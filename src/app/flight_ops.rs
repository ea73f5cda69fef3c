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

use chrono::{DateTime, Utc};

use crate::domain::common::{AirportCode, FlightKey};
use crate::domain::flight::{DelayCode, Flight, FlightCommand, FlightScheduled, FlightStatus};

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
    pub status: FlightStatus,
    /// Minutes per IATA delay code.
    pub delays: Vec<(DelayCode, u32)>,
    pub change_reason: Option<String>,
    /// When passengers were told of the change.
    pub notified_at: Option<DateTime<Utc>>,
    pub passenger_count: u32,
}

/// The commands that bring `state` up to `update`, in the order they must be decided.
pub fn flight_commands(state: &Flight, update: &FlightUpdate) -> Vec<FlightCommand> {
    let mut commands = Vec::new();
    if state.schedule.is_none() {
        commands.push(FlightCommand::ScheduleFlight {
            schedule: FlightScheduled {
                flight: update.flight.clone(),
                origin: update.origin,
                destination: update.destination,
                scheduled_departure: update.scheduled_departure,
                scheduled_arrival: update.scheduled_arrival,
                passenger_count: update.passenger_count,
            },
        });
    }
    let finished = state.actual_arrival.is_some() || state.status == FlightStatus::Cancelled;
    let estimates_changed = (update.estimated_departure.is_some()
        && update.estimated_departure != state.estimated_departure)
        || (update.estimated_arrival.is_some()
            && update.estimated_arrival != state.estimated_arrival);
    if estimates_changed && !finished && update.actual_arrival.is_none() {
        commands.push(FlightCommand::UpdateEstimates {
            departure: update.estimated_departure,
            arrival: update.estimated_arrival,
        });
    }
    for (code, minutes) in &update.delays {
        if state.delays.get(code).copied().unwrap_or(0) != *minutes {
            commands.push(FlightCommand::RecordDelay {
                code: *code,
                minutes: *minutes,
            });
        }
    }
    if update.status != state.status {
        let reason = update
            .change_reason
            .clone()
            .unwrap_or_else(|| "reported by flight ops".to_owned());
        commands.push(FlightCommand::ChangeStatus {
            status: update.status,
            reason,
        });
    }
    if let (Some(at), None) = (update.actual_departure, state.actual_departure) {
        commands.push(FlightCommand::RecordDeparture { at });
    }
    if let (Some(at), None) = (update.actual_arrival, state.actual_arrival) {
        commands.push(FlightCommand::RecordArrival {
            at,
            airport: update.destination,
        });
    }
    if let Some(at) = update.notified_at
        && state.passengers_notified_at.is_none_or(|known| at > known)
    {
        commands.push(FlightCommand::RecordPassengerNotification { at });
    }
    commands
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::{CommandMeta, execute_all, load};
    use crate::domain::common::{Actor, Role};
    use crate::domain::flight;
    use crate::store::{EventStore, SledStore, StoreConfig};
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
            status: FlightStatus::OnTime,
            delays: vec![],
            change_reason: None,
            notified_at: None,
            passenger_count: 320,
        }
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
        let first = flight_commands(&Flight::default(), &update());
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

    #[tokio::test]
    async fn a_delay_then_a_departure_and_arrival_become_the_flight_s_facts() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(StoreConfig::new(dir.path())).unwrap();
        let stream = flight::stream_name(&update().flight);
        let apply = |update: FlightUpdate, source: &'static str| {
            let store = store.clone();
            let stream = stream.clone();
            async move {
                let (state, _) = load::<Flight, _>(&store, &stream).unwrap();
                let commands = flight_commands(&state, &update);
                execute_all::<Flight, _>(&store, &stream, &commands, &meta(source))
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
        apply(arrived, "msg-3").await;
        let (state, _) = load::<Flight, _>(&store, &stream).unwrap();
        assert_eq!(state.arrival_delay_minutes(), Some(230));
        assert_eq!(state.delays.len(), 2);
        assert_eq!(state.status, FlightStatus::Delayed);
        assert_eq!(state.passengers_notified_at, Some(t(9, 30)));
        assert_eq!(
            state.controllability(),
            crate::domain::flight::Controllability::Safety,
            "41 (aircraft defect) carries most minutes"
        );
        let head = store.head().position;
        assert!(store.verify(1, head).unwrap().is_ok());
    }
}
