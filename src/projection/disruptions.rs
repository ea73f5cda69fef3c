//! Disruptions read model: per flight, whether its disruption is final (cancelled, or
//! arrived at least [`DISRUPTED_ARRIVAL_MINUTES`] late), which passengers are known to
//! be on it, its complaints and its incident; plus the log of what is due, in log order:
//! - **compute** entitlements each time a flight's disruption becomes final (for the
//!   passengers known then) or a new passenger turns up on a flight already disrupted;
//! - **join** the flight's incident: when an incident opens for a flight, what already
//!   exists about it — the entitlements computed before, the complaints received before
//!   (from passengers' messages about the flight) — joins it; a complaint about the
//!   flight received later joins it at once.
//!
//! Passengers are known from the flight's manifest (`manifest.updated`: the last list
//! replaces the one before; a passenger it drops before the disruption is final gets no
//! entitlement unless something else names them) and from what names them with the
//! flight: signals (a passenger's post or call about the flight), contacts the crisis
//! team plans in the flight's incident, complaints filed under that incident.
//! The entitlement reactor ([`crate::app::entitlements`]) computes each entitlement
//! under the compensation policy.
//!
//! Keys:
//! - `F <flight stream>` → [`FlightEntry`] (JSON);
//! - `I <incident id:16>` → the incident's flight stream (UTF-8);
//! - `Q <complaint id:16>` → the flight stream a passenger's message named, until the
//!   complaint it becomes is received;
//! - `D <position:u64 BE>` → [`Due`] (JSON), in log order.

use super::model::decoded;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::model::{ModelError, ReadModel};
use super::runtime::{ModelTx, Projection};
use crate::domain::common::{FlightKey, PassengerId};
use crate::domain::compensation::input::DISRUPTED_ARRIVAL_MINUTES;
use crate::domain::complaint::ComplaintEvent;
use crate::domain::flight::{self, FlightEvent, FlightStatus};
use crate::domain::incident::IncidentEvent;
use crate::domain::manifest::ManifestEvent;
use crate::domain::passenger::PassengerEvent;
use crate::domain::signal::SignalEvent;
use crate::store::RecordedEvent;

pub const NAME: &str = "disruptions";

/// What the model knows of one flight.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FlightEntry {
    pub flight: Option<FlightKey>,
    pub scheduled_arrival: Option<DateTime<Utc>>,
    /// Where the flight is scheduled to arrive: an arrival elsewhere is a diversion,
    /// not the end of the disruption.
    #[serde(default)]
    pub destination: Option<crate::domain::common::AirportCode>,
    /// Cancelled, or arrived at least the threshold late.
    pub final_disruption: bool,
    /// Cancelled, then reinstated: what was decided on the cancellation is revisited
    /// when the flight arrives.
    #[serde(default)]
    pub reinstated: bool,
    /// Passengers known to be on the flight from what names them (signals, contacts,
    /// complaints), sorted.
    pub passengers: Vec<PassengerId>,
    /// Passengers the flight's last manifest lists, sorted.
    #[serde(default)]
    pub booked: Vec<PassengerId>,
    /// The first incident opened about the flight.
    pub incident_id: Option<Uuid>,
    /// Complaints about the flight received while it had no incident, in log order.
    #[serde(default)]
    pub complaints: Vec<Uuid>,
}

/// What is due for one flight at one position of the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Due {
    pub position: u64,
    pub flight: FlightKey,
    /// The flight's incident (always set for a join).
    pub incident_id: Option<Uuid>,
    #[serde(flatten)]
    pub action: DueAction,
}

/// What to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum DueAction {
    /// Compute these passengers' entitlements (and link them to the incident, if any).
    Compute { passengers: Vec<PassengerId> },
    /// Facts changed after the disruption was final: recompute these passengers'
    /// entitlements (a superseding computation where a decision changes).
    Recompute {
        passengers: Vec<PassengerId>,
        /// What changed.
        reason: String,
    },
    /// Link to the incident these passengers' entitlements, if computed, and these
    /// complaints: they existed before the incident opened.
    Join {
        passengers: Vec<PassengerId>,
        complaints: Vec<Uuid>,
    },
}

/// The disruptions projection.
#[derive(Debug, Default)]
pub struct Disruptions;

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

fn complaint_key(complaint_id: Uuid) -> Vec<u8> {
    let mut key = vec![b'Q'];
    key.extend_from_slice(complaint_id.as_bytes());
    key
}

fn due_key(position: u64) -> Vec<u8> {
    let mut key = vec![b'D'];
    key.extend_from_slice(&position.to_be_bytes());
    key
}

impl FlightEntry {
    /// Everyone known on the flight: named or booked, sorted, once each.
    fn everyone(&self) -> Vec<PassengerId> {
        let mut all: Vec<PassengerId> = self
            .passengers
            .iter()
            .chain(&self.booked)
            .cloned()
            .collect();
        all.sort();
        all.dedup();
        all
    }

    fn knows(&self, passenger: &PassengerId) -> bool {
        self.passengers.binary_search(passenger).is_ok()
            || self.booked.binary_search(passenger).is_ok()
    }
}

fn entry(tx: &ModelTx<'_>, stream: &str) -> Result<FlightEntry, ModelError> {
    Ok(tx.get_json(&flight_key(stream))?.unwrap_or_default())
}

fn due(tx: &mut ModelTx<'_>, position: u64, entry: &FlightEntry, passengers: Vec<PassengerId>) {
    let (Some(flight), false) = (&entry.flight, passengers.is_empty()) else {
        return;
    };
    let due = Due {
        position,
        flight: flight.clone(),
        incident_id: entry.incident_id,
        action: DueAction::Compute { passengers },
    };
    tx.insert_json(due_key(position), &due);
}

/// Facts changed after the disruption was final: `passengers`' entitlements are
/// recomputed.
fn recompute(
    tx: &mut ModelTx<'_>,
    position: u64,
    entry: &FlightEntry,
    passengers: Vec<PassengerId>,
    reason: &str,
) {
    let (Some(flight), false) = (&entry.flight, passengers.is_empty()) else {
        return;
    };
    let due = Due {
        position,
        flight: flight.clone(),
        incident_id: entry.incident_id,
        action: DueAction::Recompute {
            passengers,
            reason: reason.to_owned(),
        },
    };
    tx.insert_json(due_key(position), &due);
}

/// What exists about the flight joins its incident.
fn join(
    tx: &mut ModelTx<'_>,
    position: u64,
    entry: &FlightEntry,
    passengers: Vec<PassengerId>,
    complaints: Vec<Uuid>,
) {
    let (Some(flight), Some(incident_id)) = (&entry.flight, entry.incident_id) else {
        return;
    };
    if passengers.is_empty() && complaints.is_empty() {
        return;
    }
    let due = Due {
        position,
        flight: flight.clone(),
        incident_id: Some(incident_id),
        action: DueAction::Join {
            passengers,
            complaints,
        },
    };
    tx.insert_json(due_key(position), &due);
}

/// Adds a passenger to a flight; due at once if the flight is already disrupted.
fn add_passenger(
    tx: &mut ModelTx<'_>,
    position: u64,
    flight: &FlightKey,
    passenger: PassengerId,
) -> Result<(), ModelError> {
    let stream = flight::stream_name(flight);
    let mut entry = entry(tx, &stream)?;
    entry.flight.get_or_insert_with(|| flight.clone());
    let Err(at) = entry.passengers.binary_search(&passenger) else {
        return Ok(());
    };
    let new = !entry.knows(&passenger);
    entry.passengers.insert(at, passenger.clone());
    if entry.final_disruption && new {
        due(tx, position, &entry, vec![passenger]);
    }
    tx.insert_json(flight_key(&stream), &entry);
    Ok(())
}

fn incident_flight(tx: &ModelTx<'_>, incident_id: Uuid) -> Result<Option<FlightKey>, ModelError> {
    let Some(stream) = tx.get(&incident_key(incident_id))? else {
        return Ok(None);
    };
    let stream = String::from_utf8(stream)?;
    Ok(entry(tx, &stream)?.flight)
}

impl Disruptions {
    fn flight_event(&self, event: &RecordedEvent, tx: &mut ModelTx<'_>) -> Result<(), ModelError> {
        let decoded = decoded::<FlightEvent>(event)?;
        let mut entry = entry(tx, &event.stream)?;
        let was_final = entry.final_disruption;
        let arrived =
            matches!(&decoded, FlightEvent::Arrived(a) if entry.destination == Some(a.airport));
        match decoded {
            FlightEvent::Scheduled(scheduled) => {
                entry.flight = Some(scheduled.flight);
                entry.scheduled_arrival = Some(scheduled.scheduled_arrival);
                entry.destination = Some(scheduled.destination);
            }
            FlightEvent::Arrived(arrived) if entry.destination != Some(arrived.airport) => {
                // A diversion landing: the delay that counts runs to the destination.
                return Ok(());
            }
            FlightEvent::Arrived(arrived) => {
                let late = entry.scheduled_arrival.is_some_and(|scheduled| {
                    (arrived.actual_arrival - scheduled).num_minutes() >= DISRUPTED_ARRIVAL_MINUTES
                });
                entry.final_disruption |= late;
            }
            FlightEvent::StatusChanged(change) => {
                entry.final_disruption |= change.to == FlightStatus::Cancelled;
            }
            FlightEvent::Reinstated(_) => {
                entry.final_disruption = false;
                entry.reinstated = true;
            }
            _ => return Ok(()),
        }
        if entry.reinstated && arrived {
            // Entitlements decided on the cancellation are revisited on the flight as it
            // operated (computed for passengers that had none, if it is late enough).
            let reason = "the cancelled flight was reinstated and has arrived";
            recompute(tx, event.position, &entry, entry.everyone(), reason);
        } else if entry.final_disruption && !was_final {
            due(tx, event.position, &entry, entry.everyone());
        }
        tx.insert_json(flight_key(&event.stream), &entry);
        Ok(())
    }
}

impl Projection for Disruptions {
    fn name(&self) -> &'static str {
        NAME
    }

    /// 2: joins of what existed before an incident (the `Q` keys, [`DueAction`]).
    /// 3: a diversion landing is not the end of a disruption (`destination`); the
    /// passengers of the flight's manifest (`booked`); reinstated flights.
    fn version(&self) -> u32 {
        3
    }

    fn apply(&mut self, event: &RecordedEvent, tx: &mut ModelTx<'_>) -> Result<(), ModelError> {
        let t = event.event_type.as_str();
        match t {
            "flight.scheduled"
            | "flight.arrived"
            | "flight.status_changed"
            | "flight.reinstated" => self.flight_event(event, tx),
            "flight.arrival_corrected" => {
                let FlightEvent::ArrivalCorrected(corrected) = decoded::<FlightEvent>(event)?
                else {
                    return Err(ModelError::Invalid(format!(
                        "{t} decoded as another flight event"
                    )));
                };
                let mut entry = entry(tx, &event.stream)?;
                if entry.final_disruption {
                    let reason = "flight ops corrected the arrival time";
                    recompute(tx, event.position, &entry, entry.everyone(), reason);
                    return Ok(());
                }
                let late = entry.scheduled_arrival.is_some_and(|scheduled| {
                    (corrected.to - scheduled).num_minutes() >= DISRUPTED_ARRIVAL_MINUTES
                });
                if late {
                    entry.final_disruption = true;
                    due(tx, event.position, &entry, entry.everyone());
                    tx.insert_json(flight_key(&event.stream), &entry);
                }
                Ok(())
            }
            "passenger.booked" => {
                let PassengerEvent::Booked(booked) = decoded::<PassengerEvent>(event)? else {
                    return Err(ModelError::Invalid(format!(
                        "{t} decoded as another passenger event"
                    )));
                };
                let stream = flight::stream_name(&booked.flight);
                let entry = entry(tx, &stream)?;
                if entry.final_disruption && entry.knows(&booked.passenger_id) {
                    let reason = "the passenger's booking changed (manifest): rerouting, fare or final destination";
                    recompute(
                        tx,
                        event.position,
                        &entry,
                        vec![booked.passenger_id],
                        reason,
                    );
                }
                Ok(())
            }
            "flight.controllability_overridden" | "flight.delay_recorded" => {
                let entry = entry(tx, &event.stream)?;
                if entry.final_disruption {
                    let reason = if t == "flight.delay_recorded" {
                        "a delay code was reported after the disruption was final"
                    } else {
                        "a crisis lead overrode the cause of the disruption"
                    };
                    recompute(tx, event.position, &entry, entry.everyone(), reason);
                }
                Ok(())
            }
            "manifest.updated" => {
                let ManifestEvent::Updated(manifest) = decoded::<ManifestEvent>(event)?;
                let stream = flight::stream_name(&manifest.flight);
                let mut entry = entry(tx, &stream)?;
                entry.flight.get_or_insert_with(|| manifest.flight.clone());
                let new: Vec<PassengerId> = manifest
                    .added
                    .iter()
                    .filter(|p| !entry.knows(p))
                    .cloned()
                    .collect();
                entry.booked = manifest.passengers;
                entry.booked.sort();
                if entry.final_disruption {
                    due(tx, event.position, &entry, new);
                }
                tx.insert_json(flight_key(&stream), &entry);
                Ok(())
            }
            "signal.recorded" => {
                let SignalEvent::Recorded(signal) = decoded::<SignalEvent>(event)? else {
                    return Err(ModelError::Invalid(format!(
                        "{t} decoded as another signal event"
                    )));
                };
                let (Some(flight), Some(passenger)) = (signal.flight, signal.passenger) else {
                    return Ok(());
                };
                // A passenger's message about a named problem also becomes a complaint
                // (in the same append, right after): remember which flight it is about.
                if let Some(source) = &signal.source_ref
                    && signal.category != crate::domain::common::Category::Other
                {
                    let complaint_id = crate::app::feedback::complaint_id(source);
                    tx.insert(
                        complaint_key(complaint_id),
                        flight::stream_name(&flight).into_bytes(),
                    );
                }
                add_passenger(tx, event.position, &flight, passenger)
            }
            "incident.opened" => {
                let IncidentEvent::Opened(opened) = decoded::<IncidentEvent>(event)? else {
                    return Err(ModelError::Invalid(format!(
                        "{t} decoded as another incident event"
                    )));
                };
                let Some(flight) = opened.flight else {
                    return Ok(());
                };
                let stream = flight::stream_name(&flight);
                tx.insert(incident_key(opened.incident_id), stream.as_bytes().to_vec());
                let mut entry = entry(tx, &stream)?;
                entry.flight.get_or_insert(flight);
                if entry.incident_id.is_none() {
                    entry.incident_id = Some(opened.incident_id);
                    let passengers = if entry.final_disruption {
                        entry.everyone()
                    } else {
                        Vec::new()
                    };
                    let complaints = std::mem::take(&mut entry.complaints);
                    join(tx, event.position, &entry, passengers, complaints);
                }
                tx.insert_json(flight_key(&stream), &entry);
                Ok(())
            }
            "incident.contact_planned" => {
                let IncidentEvent::ContactPlanned(contact) = decoded::<IncidentEvent>(event)?
                else {
                    return Err(ModelError::Invalid(format!(
                        "{t} decoded as another incident event"
                    )));
                };
                let incident_id = event
                    .stream
                    .strip_prefix("incident-")
                    .and_then(|id| id.parse().ok());
                match incident_id
                    .map(|id| incident_flight(tx, id))
                    .transpose()?
                    .flatten()
                {
                    Some(flight) => add_passenger(tx, event.position, &flight, contact.passenger),
                    None => Ok(()),
                }
            }
            "complaint.received" => {
                let ComplaintEvent::Received(received) = decoded::<ComplaintEvent>(event)? else {
                    return Err(ModelError::Invalid(format!(
                        "{t} decoded as another complaint event"
                    )));
                };
                let about = tx.get(&complaint_key(received.complaint_id))?;
                tx.remove(complaint_key(received.complaint_id));
                let Some(incident_id) = received.incident_id else {
                    // About a flight: it joins the flight's incident, now or when one opens.
                    let Some(stream) = about else {
                        return Ok(());
                    };
                    let stream = String::from_utf8(stream)?;
                    let mut entry = entry(tx, &stream)?;
                    if entry.incident_id.is_some() {
                        join(
                            tx,
                            event.position,
                            &entry,
                            Vec::new(),
                            vec![received.complaint_id],
                        );
                    } else {
                        entry.complaints.push(received.complaint_id);
                        tx.insert_json(flight_key(&stream), &entry);
                    }
                    return Ok(());
                };
                match incident_flight(tx, incident_id)? {
                    Some(flight) => add_passenger(tx, event.position, &flight, received.passenger),
                    None => Ok(()),
                }
            }
            _ => Ok(()),
        }
    }
}

/// Entitlements due after position `after`, in log order, at most `limit`.
pub fn due_after(tree: &ReadModel, after: u64, limit: usize) -> Result<Vec<Due>, ModelError> {
    tree.range(due_key(after.saturating_add(1))..due_key(u64::MAX))
        .take(limit)
        .map(|entry| entry.map(|(_, value)| value))
        .collect()
}

/// What the model knows of one flight.
pub fn flight_entry(
    tree: &ReadModel,
    flight: &FlightKey,
) -> Result<Option<FlightEntry>, ModelError> {
    tree.get(flight_key(&flight::stream_name(flight)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::common::{AirportCode, Category, Channel, PersonalData, Severity};
    use crate::domain::flight::{FlightArrived, FlightScheduled};
    use crate::domain::signal::SignalRecorded;
    use crate::domain::testing::at;
    use crate::projection::rebuild;
    use crate::store::{Actor, AppendRequest, ExpectedVersion, NewEvent, SledStore, StoreConfig};

    async fn append(store: &SledStore, stream: &str, event: &impl crate::domain::DomainEvent) {
        let actor = Actor {
            id: "ops".into(),
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

    fn lh400() -> FlightKey {
        FlightKey::new("LH", "400", at(0).date_naive()).unwrap()
    }

    async fn signal(store: &SledStore, n: u128, passenger: &str) {
        let event = SignalEvent::Recorded(SignalRecorded {
            signal_id: Uuid::from_u128(n),
            channel: Channel::Hotline,
            category: Category::Delay,
            severity: Severity::Medium,
            flight: Some(lh400()),
            passenger: Some(PassengerId(passenger.into())),
            reach: 1,
            summary: PersonalData("late".into()),
            source_ref: None,
            correlation_key: "k".into(),
            observed_at: at(0),
            kind: None,
        });
        let stream = crate::domain::signal::stream_name(Uuid::from_u128(n));
        append(store, &stream, &event).await;
    }

    #[tokio::test]
    async fn passengers_known_when_the_delay_is_final_and_later_ones_are_due() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(StoreConfig::new(dir.path())).unwrap();
        let stream = flight::stream_name(&lh400());
        let scheduled = FlightEvent::Scheduled(FlightScheduled {
            flight: lh400(),
            origin: AirportCode::parse("FRA").unwrap(),
            destination: AirportCode::parse("JFK").unwrap(),
            scheduled_departure: at(0),
            scheduled_arrival: at(480),
            passenger_count: 300,
        });
        append(&store, &stream, &scheduled).await; // 1
        signal(&store, 1, "P2").await; // 2
        signal(&store, 2, "P1").await; // 3
        signal(&store, 3, "P1").await; // 4: known already
        let arrived = FlightEvent::Arrived(FlightArrived {
            actual_arrival: at(480 + 130),
            airport: AirportCode::parse("JFK").unwrap(),
        });
        append(&store, &stream, &arrived).await; // 5: final
        signal(&store, 4, "P3").await; // 6: due at once
        signal(&store, 5, "P3").await; // 7: nothing new
        rebuild(&store, Disruptions, |_, _| {}).unwrap();
        let tree = crate::projection::ReadModel::open(&store, NAME).unwrap();
        let p = |s: &str| PassengerId(s.into());
        assert_eq!(
            due_after(&tree, 0, 10).unwrap(),
            vec![
                Due {
                    position: 5,
                    flight: lh400(),
                    incident_id: None,
                    action: DueAction::Compute {
                        passengers: vec![p("P1"), p("P2")]
                    },
                },
                Due {
                    position: 6,
                    flight: lh400(),
                    incident_id: None,
                    action: DueAction::Compute {
                        passengers: vec![p("P3")]
                    },
                },
            ]
        );
        assert_eq!(
            flight_entry(&tree, &lh400()).unwrap(),
            Some(FlightEntry {
                flight: Some(lh400()),
                scheduled_arrival: Some(at(480)),
                destination: Some(AirportCode::parse("JFK").unwrap()),
                final_disruption: true,
                reinstated: false,
                passengers: vec![p("P1"), p("P2"), p("P3")],
                booked: vec![],
                incident_id: None,
                complaints: vec![],
            })
        );
    }

    #[tokio::test]
    async fn a_short_delay_is_not_a_final_disruption() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(StoreConfig::new(dir.path())).unwrap();
        let stream = flight::stream_name(&lh400());
        let scheduled = FlightEvent::Scheduled(FlightScheduled {
            flight: lh400(),
            origin: AirportCode::parse("FRA").unwrap(),
            destination: AirportCode::parse("JFK").unwrap(),
            scheduled_departure: at(0),
            scheduled_arrival: at(480),
            passenger_count: 300,
        });
        append(&store, &stream, &scheduled).await;
        signal(&store, 1, "P1").await;
        let arrived = FlightEvent::Arrived(FlightArrived {
            actual_arrival: at(480 + 119),
            airport: AirportCode::parse("JFK").unwrap(),
        });
        append(&store, &stream, &arrived).await;
        rebuild(&store, Disruptions, |_, _| {}).unwrap();
        let tree = crate::projection::ReadModel::open(&store, NAME).unwrap();
        assert_eq!(due_after(&tree, 0, 10).unwrap(), vec![]);
    }

    /// Issue 19, item 6: a landing at another airport, however late, does not end the
    /// disruption; the arrival at the destination does, late by its own time.
    #[tokio::test]
    async fn a_diversion_landing_is_not_final_the_arrival_at_the_destination_is() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(StoreConfig::new(dir.path())).unwrap();
        let stream = flight::stream_name(&lh400());
        let scheduled = FlightEvent::Scheduled(FlightScheduled {
            flight: lh400(),
            origin: AirportCode::parse("FRA").unwrap(),
            destination: AirportCode::parse("JFK").unwrap(),
            scheduled_departure: at(0),
            scheduled_arrival: at(480),
            passenger_count: 300,
        });
        append(&store, &stream, &scheduled).await;
        signal(&store, 1, "P1").await;
        let diverted = FlightEvent::Arrived(FlightArrived {
            actual_arrival: at(480 + 200),
            airport: AirportCode::parse("BOS").unwrap(),
        });
        append(&store, &stream, &diverted).await;
        rebuild(&store, Disruptions, |_, _| {}).unwrap();
        let tree = crate::projection::ReadModel::open(&store, NAME).unwrap();
        assert_eq!(due_after(&tree, 0, 10).unwrap(), vec![]);
        let arrived = FlightEvent::Arrived(FlightArrived {
            actual_arrival: at(480 + 300),
            airport: AirportCode::parse("JFK").unwrap(),
        });
        append(&store, &stream, &arrived).await; // 4
        rebuild(&store, Disruptions, |_, _| {}).unwrap();
        let tree = crate::projection::ReadModel::open(&store, NAME).unwrap();
        let due = due_after(&tree, 0, 10).unwrap();
        assert_eq!(due.iter().map(|d| d.position).collect::<Vec<_>>(), vec![4]);
    }
}
