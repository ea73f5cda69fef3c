//! Flights read model: per flight, its disruption facts as crisisd knows them (the
//! flight aggregate's own state, evolved here by the same function), the incidents
//! opened about it, the complaints about it and how many signals named it; and the
//! disrupted flights per day and airport.
//!
//! A flight is **disrupted** once it is reported cancelled, diverted, returned to the
//! ramp or delayed (a delayed status, or an estimated or actual departure or arrival at
//! least [`DELAYED_MINUTES`] after schedule; delay codes alone are not a delay, since a
//! cancellation carries them as its cause); it stays in the day's list
//! when it is reinstated or recovers, since a crisis team still answers for that day.
//! Its day is the date of its key (the scheduled departure date at the origin); its
//! airports are its origin, its destination and where a diversion took it.
//!
//! A complaint is about a flight when it names it, or belongs to an incident opened
//! about it (from receipt, or linked later).
//!
//! Keys:
//! - `F <flight stream>` → [`FlightRecord`] (JSON);
//! - `I <incident:16>` → the flight stream the incident is about (UTF-8);
//! - `Y <YYYY-MM-DD> <flight stream>` → empty: disrupted flights per day;
//! - `Z <YYYY-MM-DD> <airport:3> <flight stream>` → empty: per day and airport.

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::model::{ModelError, ReadModel, decoded};
use super::runtime::{ModelTx, Projection};
use crate::domain::Aggregate;
use crate::domain::common::{AirportCode, FlightKey};
use crate::domain::complaint::ComplaintEvent;
use crate::domain::flight::{self, Flight, FlightEvent, FlightStatus};
use crate::domain::incident::IncidentEvent;
use crate::domain::signal::SignalEvent;
use crate::store::RecordedEvent;

pub const NAME: &str = "flights";

/// Minutes after schedule from which a departure or arrival counts as a delay (the
/// industry's on-time threshold).
pub const DELAYED_MINUTES: i64 = 15;

/// How a flight was disrupted.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Disruption {
    Delayed,
    Cancelled,
    Diverted,
    ReturnedToRamp,
    /// Reported cancelled, then operated after all.
    Reinstated,
}

/// What crisisd knows of one flight.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FlightRecord {
    pub flight: FlightKey,
    /// Schedule, estimates, actual times, status, delay minutes per code, who answers
    /// for it: the flight's own stream, as flight ops reported it.
    pub state: Flight,
    /// Every way it was disrupted, in the order of [`Disruption`].
    pub disruptions: Vec<Disruption>,
    /// Incidents opened about it, in log order.
    pub incidents: Vec<Uuid>,
    /// Complaints about it, in log order.
    pub complaints: Vec<Uuid>,
    /// Signals (posts, calls, messages) that named it.
    pub signals: u64,
}

impl FlightRecord {
    fn new(flight: FlightKey) -> Self {
        FlightRecord {
            flight,
            state: Flight::default(),
            disruptions: Vec::new(),
            incidents: Vec::new(),
            complaints: Vec::new(),
            signals: 0,
        }
    }

    /// Its airports: origin, destination, diversion.
    fn airports(&self) -> BTreeSet<AirportCode> {
        let s = &self.state;
        s.schedule
            .iter()
            .flat_map(|schedule| [schedule.origin, schedule.destination])
            .chain(s.diversion.map(|d| d.airport))
            .collect()
    }

    /// The disruptions its state shows now.
    fn seen(&self) -> BTreeSet<Disruption> {
        let s = &self.state;
        let late = |actual: Option<DateTime<Utc>>, planned: Option<DateTime<Utc>>| matches!((actual, planned), (Some(a), Some(p)) if (a - p).num_minutes() >= DELAYED_MINUTES);
        let departure = s.schedule.as_ref().map(|x| x.scheduled_departure);
        let arrival = s.schedule.as_ref().map(|x| x.scheduled_arrival);
        let mut seen = BTreeSet::new();
        match s.status {
            FlightStatus::OnTime => {}
            FlightStatus::Delayed => {
                seen.insert(Disruption::Delayed);
            }
            FlightStatus::Cancelled => {
                seen.insert(Disruption::Cancelled);
            }
            FlightStatus::Diverted => {
                seen.insert(Disruption::Diverted);
            }
            FlightStatus::ReturnToRamp => {
                seen.insert(Disruption::ReturnedToRamp);
            }
        }
        if s.diversion.is_some() {
            seen.insert(Disruption::Diverted);
        }
        // Delay codes alone are no delay: a cancellation carries them as its cause.
        if late(s.estimated_departure.or(s.actual_departure), departure)
            || late(s.actual_departure, departure)
            || late(s.estimated_arrival, arrival)
            || late(s.actual_arrival, arrival)
        {
            seen.insert(Disruption::Delayed);
        }
        seen
    }
}

/// The flights projection.
#[derive(Debug, Default)]
pub struct Flights;

fn flight_key(stream: &str) -> Vec<u8> {
    let mut key = vec![b'F'];
    key.extend_from_slice(stream.as_bytes());
    key
}

fn incident_key(incident_id: Uuid) -> Vec<u8> {
    let mut key = vec![b'I'];
    key.extend_from_slice(incident_id.as_bytes());
    key
}

fn day_prefix(date: NaiveDate) -> Vec<u8> {
    let mut key = vec![b'Y'];
    key.extend_from_slice(date.format("%Y-%m-%d").to_string().as_bytes());
    key
}

fn airport_prefix(date: NaiveDate, airport: AirportCode) -> Vec<u8> {
    let mut key = vec![b'Z'];
    key.extend_from_slice(date.format("%Y-%m-%d").to_string().as_bytes());
    key.extend_from_slice(airport.as_str().as_bytes());
    key
}

fn record(tx: &ModelTx<'_>, flight: &FlightKey) -> Result<FlightRecord, ModelError> {
    Ok(tx
        .get_json(&flight_key(&flight::stream_name(flight)))?
        .unwrap_or_else(|| FlightRecord::new(flight.clone())))
}

fn store(tx: &mut ModelTx<'_>, record: &FlightRecord) {
    tx.insert_json(flight_key(&flight::stream_name(&record.flight)), record);
}

/// Adds a complaint to the flight it is about (once).
fn add_complaint(
    tx: &mut ModelTx<'_>,
    flight: &FlightKey,
    complaint_id: Uuid,
) -> Result<(), ModelError> {
    let mut record = record(tx, flight)?;
    if !record.complaints.contains(&complaint_id) {
        record.complaints.push(complaint_id);
        store(tx, &record);
    }
    Ok(())
}

fn incident_flight(tx: &ModelTx<'_>, incident_id: Uuid) -> Result<Option<FlightKey>, ModelError> {
    let Some(stream) = tx.get(&incident_key(incident_id))? else {
        return Ok(None);
    };
    Ok(FlightKey::from_stream(&String::from_utf8(stream)?))
}

impl Flights {
    fn flight_event(&self, event: &RecordedEvent, tx: &mut ModelTx<'_>) -> Result<(), ModelError> {
        let Some(key) = FlightKey::from_stream(&event.stream) else {
            return Ok(());
        };
        let decoded = decoded::<FlightEvent>(event)?;
        let mut record = record(tx, &key)?;
        let airports_before = record.airports();
        let before: BTreeSet<Disruption> = record.disruptions.iter().copied().collect();
        record.state = std::mem::take(&mut record.state).evolve(&decoded);
        let mut now = before.clone();
        now.extend(record.seen());
        if matches!(decoded, FlightEvent::Reinstated(_)) {
            now.insert(Disruption::Reinstated);
        }
        record.disruptions = now.iter().copied().collect();
        if !now.is_empty() {
            let stream = flight::stream_name(&key);
            let date = key.date;
            if before.is_empty() {
                let mut day = day_prefix(date);
                day.extend_from_slice(stream.as_bytes());
                tx.insert(day, Vec::new());
            }
            // Every airport it touches, new ones included (a diversion, a schedule
            // reported after the first disruption).
            let airports = record.airports();
            for airport in airports
                .iter()
                .filter(|a| before.is_empty() || !airports_before.contains(a))
            {
                let mut at = airport_prefix(date, *airport);
                at.extend_from_slice(stream.as_bytes());
                tx.insert(at, Vec::new());
            }
        }
        store(tx, &record);
        Ok(())
    }
}

impl Projection for Flights {
    fn name(&self) -> &'static str {
        NAME
    }

    fn apply(&mut self, event: &RecordedEvent, tx: &mut ModelTx<'_>) -> Result<(), ModelError> {
        let t = event.event_type.as_str();
        if t.starts_with("flight.") {
            return self.flight_event(event, tx);
        }
        match t {
            "incident.opened" => {
                let IncidentEvent::Opened(opened) = decoded::<IncidentEvent>(event)? else {
                    return Err(ModelError::Invalid(format!(
                        "{t} decoded as another incident event"
                    )));
                };
                let Some(flight) = opened.flight else {
                    return Ok(());
                };
                tx.insert(
                    incident_key(opened.incident_id),
                    flight::stream_name(&flight).into_bytes(),
                );
                let mut record = record(tx, &flight)?;
                if !record.incidents.contains(&opened.incident_id) {
                    record.incidents.push(opened.incident_id);
                    store(tx, &record);
                }
                Ok(())
            }
            "complaint.received" | "complaint.linked_to_incident" => {
                let Some(complaint_id) = super::stream_uuid(&event.stream, "complaint-") else {
                    return Ok(());
                };
                let flight = match decoded::<ComplaintEvent>(event)? {
                    ComplaintEvent::Received(r) => match (r.flight, r.incident_id) {
                        (Some(flight), _) => Some(flight),
                        (None, Some(incident)) => incident_flight(tx, incident)?,
                        (None, None) => None,
                    },
                    ComplaintEvent::LinkedToIncident(l) => incident_flight(tx, l.incident_id)?,
                    _ => None,
                };
                match flight {
                    Some(flight) => add_complaint(tx, &flight, complaint_id),
                    None => Ok(()),
                }
            }
            "signal.recorded" => {
                let SignalEvent::Recorded(signal) = decoded::<SignalEvent>(event)? else {
                    return Err(ModelError::Invalid(format!(
                        "{t} decoded as another signal event"
                    )));
                };
                let Some(flight) = signal.flight else {
                    return Ok(());
                };
                let mut record = record(tx, &flight)?;
                record.signals += 1;
                store(tx, &record);
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

/// What the model knows of one flight.
pub fn flight(tree: &ReadModel, flight: &FlightKey) -> Result<Option<FlightRecord>, ModelError> {
    tree.get(flight_key(&flight::stream_name(flight)))
}

/// The flights disrupted on `date` (at `airport`, if given), in flight-stream order
/// after the stream `after` (a cursor), at most `limit`; and whether more follow.
pub fn disrupted(
    tree: &ReadModel,
    date: NaiveDate,
    airport: Option<AirportCode>,
    after: Option<&str>,
    limit: usize,
) -> Result<(Vec<FlightRecord>, bool), ModelError> {
    let prefix = match airport {
        Some(airport) => airport_prefix(date, airport),
        None => day_prefix(date),
    };
    let start = match after {
        Some(stream) => {
            let mut key = prefix.clone();
            key.extend_from_slice(stream.as_bytes());
            key.push(0);
            key
        }
        None => prefix.clone(),
    };
    let mut end = prefix.clone();
    *end.last_mut().expect("prefixes are not empty") += 1;
    let mut found = Vec::new();
    for key in tree.keys(start..end) {
        let key = key?;
        if found.len() == limit {
            return Ok((found, true));
        }
        let stream = String::from_utf8(key[prefix.len()..].to_vec())?;
        if let Some(record) = tree.get(flight_key(&stream))? {
            found.push(record);
        }
    }
    Ok((found, false))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::DomainEvent;
    use crate::domain::common::{Category, Channel, PassengerId, PersonalData, Severity, Tier};
    use crate::domain::complaint::{ComplaintReceived, RemedySought};
    use crate::domain::flight::{FlightArrived, FlightReinstated, FlightScheduled, StatusChanged};
    use crate::domain::incident::IncidentOpened;
    use crate::domain::testing::at;
    use crate::projection::testing::rebuilt;
    use crate::store::{Actor, AppendRequest, ExpectedVersion, NewEvent, SledStore, StoreConfig};

    async fn append(store: &SledStore, stream: &str, event: &impl DomainEvent) {
        let actor = Actor {
            id: "flight-ops".into(),
            role: "flight_ops".into(),
        };
        let new = NewEvent::new(event.event_type(), event.to_data(), actor, Utc::now());
        store
            .append(AppendRequest::single(
                stream,
                ExpectedVersion::Any,
                vec![new],
            ))
            .await
            .unwrap();
    }

    fn key(number: &str) -> FlightKey {
        FlightKey::new("LH", number, at(0).date_naive()).unwrap()
    }

    fn airport(code: &str) -> AirportCode {
        AirportCode::parse(code).unwrap()
    }

    async fn schedule(store: &SledStore, number: &str, from: &str, to: &str) -> String {
        let stream = flight::stream_name(&key(number));
        let scheduled = FlightEvent::Scheduled(FlightScheduled {
            flight: key(number),
            origin: airport(from),
            destination: airport(to),
            scheduled_departure: at(0),
            scheduled_arrival: at(480),
            passenger_count: 300,
        });
        append(store, &stream, &scheduled).await;
        stream
    }

    fn status(from: FlightStatus, to: FlightStatus) -> FlightEvent {
        FlightEvent::StatusChanged(StatusChanged {
            from,
            to,
            reason: "weather".into(),
        })
    }

    #[tokio::test]
    async fn disrupted_flights_per_day_and_airport_with_their_incidents_and_complaints() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(StoreConfig::new(dir.path())).unwrap();
        // 400 FRA→JFK cancelled then reinstated; 401 FRA→MUC on time; 402 MUC→JFK
        // lands 20 min late, diverted to EWR first.
        let lh400 = schedule(&store, "400", "FRA", "JFK").await;
        let _lh401 = schedule(&store, "401", "FRA", "MUC").await;
        let lh402 = schedule(&store, "402", "MUC", "JFK").await;
        append(
            &store,
            &lh400,
            &status(FlightStatus::OnTime, FlightStatus::Cancelled),
        )
        .await;
        let reinstated = FlightEvent::Reinstated(FlightReinstated {
            to: FlightStatus::OnTime,
            reason: "crew found".into(),
        });
        append(&store, &lh400, &reinstated).await;
        let landed = |minute, code| {
            FlightEvent::Arrived(FlightArrived {
                actual_arrival: at(minute),
                airport: airport(code),
            })
        };
        append(&store, &lh402, &landed(470, "EWR")).await;
        append(&store, &lh402, &landed(500, "JFK")).await;
        let incident = Uuid::from_u128(7);
        let opened = IncidentEvent::Opened(IncidentOpened {
            incident_id: incident,
            title: "LH400".into(),
            category: Category::Cancellation,
            severity: Severity::High,
            flight: Some(key("400")),
            correlation_key: None,
            signal_ids: vec![],
            opened_at: at(10),
        });
        append(
            &store,
            &crate::domain::incident::stream_name(incident),
            &opened,
        )
        .await;
        let complaint = |n: u128, flight: Option<FlightKey>, incident_id: Option<Uuid>| {
            ComplaintEvent::Received(ComplaintReceived {
                complaint_id: Uuid::from_u128(n),
                channel: Channel::Email,
                passenger: PassengerId(format!("P{n}")),
                tier: Tier::Gold,
                category: Category::Cancellation,
                remedy_sought: RemedySought::Refund,
                description: PersonalData("words".into()),
                incident_id,
                flight,
                received_at: at(20),
            })
        };
        for (n, flight, incident_id) in [
            (1, Some(key("400")), None),
            (2, None, Some(incident)),
            (3, Some(key("402")), None),
            (4, None, None),
        ] {
            let stream = crate::domain::complaint::stream_name(Uuid::from_u128(n));
            append(&store, &stream, &complaint(n, flight, incident_id)).await;
        }
        let tree = rebuilt(&store, Flights);
        let date = at(0).date_naive();
        let numbers = |records: &[FlightRecord]| {
            records
                .iter()
                .map(|r| r.flight.number.clone())
                .collect::<Vec<_>>()
        };
        let (day, more) = disrupted(&tree, date, None, None, 10).unwrap();
        assert_eq!(
            (numbers(&day), more),
            (vec!["400".into(), "402".into()], false)
        );
        assert_eq!(
            day[0].disruptions,
            vec![Disruption::Cancelled, Disruption::Reinstated],
            "reinstated, it stays on the day's list"
        );
        assert_eq!(day[0].state.status, FlightStatus::OnTime);
        assert_eq!(day[0].incidents, vec![incident]);
        assert_eq!(
            day[0].complaints,
            vec![Uuid::from_u128(1), Uuid::from_u128(2)],
            "named, or under its incident"
        );
        assert_eq!(
            day[1].disruptions,
            vec![Disruption::Delayed, Disruption::Diverted]
        );
        assert_eq!(day[1].complaints, vec![Uuid::from_u128(3)]);
        let at_airport = |code| {
            numbers(
                &disrupted(&tree, date, Some(airport(code)), None, 10)
                    .unwrap()
                    .0,
            )
        };
        assert_eq!(at_airport("FRA"), vec!["400"]);
        assert_eq!(at_airport("MUC"), vec!["402"], "401 was on time");
        assert_eq!(at_airport("JFK"), vec!["400", "402"]);
        assert_eq!(at_airport("EWR"), vec!["402"], "the diversion airport");
        let (first, more) = disrupted(&tree, date, Some(airport("JFK")), None, 1).unwrap();
        assert!(more);
        let after = flight::stream_name(&first[0].flight);
        let (second, more) = disrupted(&tree, date, Some(airport("JFK")), Some(&after), 1).unwrap();
        assert_eq!((numbers(&second), more), (vec!["402".into()], false));
        assert!(
            disrupted(&tree, date.succ_opt().unwrap(), None, None, 10)
                .unwrap()
                .0
                .is_empty()
        );
        let on_time = flight(&tree, &key("401")).unwrap().unwrap();
        assert!(on_time.disruptions.is_empty());
    }
}
