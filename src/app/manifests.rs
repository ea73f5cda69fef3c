//! Manifests: a flight's passenger list from a departure control or reservation system
//! (`crisis.ingest.manifest`), stored as the difference to the list before.
//!
//! One message becomes an atomic append across streams: `passenger.booked` on each
//! listed passenger whose booking is new or changed, `passenger.booking_removed` on each
//! passenger the previous manifest listed and this one does not, and `manifest.updated`
//! (ids only) on the flight's manifest stream. An append carries at most
//! [`APPEND_EVENTS_MAX`] events, so a long list that changes much (a wide-body flight
//! replaced by another) takes several, `manifest.updated` in the last: the flight's
//! manifest says a list is recorded only once every booking it changes is. Event ids
//! derive from the source message id, so a redelivery stores nothing twice and, after a
//! crash between two appends, stores the rest; a manifest that changes nothing stores
//! nothing. The name on a booking is sealed with the passenger's key.
//!
//! The entitlement reaction then knows every passenger on the flight, not only those
//! who called: a final disruption computes each one's entitlement at once.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use super::command::{CommandError, CommandMeta, Journal, Pending, load};
use crate::domain::Context;
use crate::domain::common::{Actor, AirportCode, PassengerId};
use crate::domain::ingest::{ManifestMessageV1, ManifestPassengerV1};
use crate::domain::manifest::{self, Manifest, ManifestCommand};
use crate::domain::passenger::{
    self, Booking, ContactConsent, Passenger, PassengerCommand, Reaccommodation,
};
use crate::store::{APPEND_EVENTS_MAX, AppendError, AppendRequest, StreamAppend};

/// Appends a manifest races with another writer of one of its streams this many times.
const ATTEMPTS_MAX: u32 = 8;

/// Why a manifest was not stored.
#[derive(Debug, thiserror::Error)]
pub enum ManifestFailure {
    /// A passenger's record refused the booking (e.g. its stream is another id's).
    #[error("passenger {index}: {reason}")]
    Refused { index: usize, reason: String },
    /// The store could not take it now; the message is handled again.
    #[error("{0}")]
    Transient(String),
}

impl ManifestPassengerV1 {
    fn booking(&self) -> Booking {
        let channel = |name: &str| self.contact_consent.iter().any(|c| c == name);
        Booking {
            name: self.name.clone(),
            tier: self.tier,
            booking_class: self.booking_class.clone(),
            fare: self.fare,
            final_destination: self
                .final_destination
                .as_deref()
                .map(|code| AirportCode::parse(code).expect("validated when parsed")),
            consent: ContactConsent {
                email: channel("email"),
                sms: channel("sms"),
                phone: channel("phone"),
                app_push: channel("app_push"),
            },
            boarded: self.boarded,
            rerouting: self.rerouting.as_ref().map(|r| Reaccommodation {
                flight_number: r.flight_number.clone(),
                departure: r.departure,
                arrival: r.arrival,
                accepted: r.accepted,
            }),
            refund_chosen: self.refund_chosen,
        }
    }
}

/// Records `message` as `actor` at `now`: the bookings that changed and the new list.
pub async fn record_manifest(
    journal: &Journal,
    message: &ManifestMessageV1,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<(), ManifestFailure> {
    let store = journal.store();
    let flight = message.flight_key();
    let ctx = Context::new(now, actor.clone());
    let meta = CommandMeta {
        idempotency_key: Some(message.source_message_id.clone()),
        ..CommandMeta::new(actor.clone(), now)
    };
    let transient = |err: String| ManifestFailure::Transient(err);
    for attempt in 0..ATTEMPTS_MAX {
        if attempt > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(u64::from(attempt) * 5)).await;
        }
        let manifest_stream = manifest::stream_name(&flight);
        let (known, version) =
            load::<Manifest>(store, &manifest_stream).map_err(|e| transient(e.to_string()))?;
        let listed: BTreeSet<PassengerId> = message
            .passengers
            .iter()
            .map(|p| PassengerId(p.passenger_ref.clone()))
            .collect();
        let mut passengers = Vec::new();
        for (index, entry) in message.passengers.iter().enumerate() {
            let id = PassengerId(entry.passenger_ref.clone());
            let command = PassengerCommand::RecordBooking {
                passenger_id: id.clone(),
                flight: flight.clone(),
                booking: entry.booking(),
            };
            passengers.push(decide_passenger(store, &id, &command, &ctx).map_err(
                |err| match err {
                    CommandError::Refused(refusal) => ManifestFailure::Refused {
                        index,
                        reason: refusal.to_string(),
                    },
                    other => transient(other.to_string()),
                },
            )?);
        }
        for id in known.passengers.difference(&listed) {
            let command = PassengerCommand::RemoveBooking {
                flight: flight.clone(),
            };
            passengers.push(
                decide_passenger(store, id, &command, &ctx)
                    .map_err(|e| transient(e.to_string()))?,
            );
        }
        let record = ManifestCommand::RecordManifest {
            flight: flight.clone(),
            passengers: listed,
        };
        let list = Pending::decide(&manifest_stream, known, version, &[record], &ctx).map_err(
            |refusal| ManifestFailure::Refused {
                index: 0,
                reason: refusal.to_string(),
            },
        )?;
        passengers.retain(|p| !p.is_empty());
        if passengers.is_empty() && list.is_empty() {
            return Ok(());
        }
        let privacy = journal.privacy();
        let mut subjects = Vec::new();
        for pending in &passengers {
            pending.add_subjects(&mut subjects, privacy);
        }
        let grant = privacy
            .keys_for(&subjects)
            .map_err(|e| transient(e.to_string()))?;
        let mut streams = Vec::with_capacity(passengers.len() + 1);
        for pending in &passengers {
            streams.push(
                pending
                    .sealed(&meta, privacy, &grant)
                    .map_err(|e| transient(e.to_string()))?,
            );
        }
        if !list.is_empty() {
            streams.push(
                list.sealed(&meta, privacy, &grant)
                    .map_err(|e| transient(e.to_string()))?,
            );
        }
        // The new keys travel with the first append, before any event they sealed.
        let side = grant.side.clone();
        let mut grant = Some(grant);
        let mut raced = false;
        for (n, append) in appends(streams, side).into_iter().enumerate() {
            match store.append(append).await {
                Ok(outcome) => {
                    if n == 0
                        && !outcome.duplicate
                        && let Some(grant) = grant.take()
                    {
                        grant.written();
                    }
                }
                // Another writer changed one of the streams: decide again on what it
                // wrote (what this message stored already decides nothing again).
                Err(AppendError::WrongExpectedVersion { .. }) => {
                    raced = true;
                    break;
                }
                // This message's events are stored already (an earlier delivery), and
                // the manifest changed since: nothing to add.
                Err(AppendError::PartiallyStored { .. }) => return Ok(()),
                Err(err) => return Err(transient(err.to_string())),
            }
        }
        if !raced {
            return Ok(());
        }
    }
    Err(transient(format!(
        "the manifest of {flight} kept changing under {ATTEMPTS_MAX} attempts; it is handled again"
    )))
}

/// `streams` in appends of at most [`APPEND_EVENTS_MAX`] events, in order (so the last
/// stream is in the last append), the side record with the first.
fn appends(streams: Vec<StreamAppend>, side: Vec<u8>) -> Vec<AppendRequest> {
    let mut appends = vec![AppendRequest {
        streams: Vec::new(),
        side,
    }];
    let mut events = 0;
    for stream in streams {
        if events > 0 && events + stream.events.len() > APPEND_EVENTS_MAX {
            appends.push(AppendRequest::default());
            events = 0;
        }
        events += stream.events.len();
        appends
            .last_mut()
            .expect("there is always a current append")
            .streams
            .push(stream);
    }
    appends
}

/// What `command` decides on `passenger`'s record as it stands.
fn decide_passenger(
    store: &crate::store::SledStore,
    passenger: &PassengerId,
    command: &PassengerCommand,
    ctx: &Context,
) -> Result<Pending<passenger::PassengerEvent>, CommandError<passenger::PassengerError>> {
    let stream = passenger::stream_name(passenger);
    let (state, version) = load::<Passenger>(store, &stream)?;
    Pending::decide(&stream, state, version, std::slice::from_ref(command), ctx)
        .map_err(CommandError::Refused)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::command::execute;
    use crate::app::entitlements::EntitlementReaction;
    use crate::app::reactor::{self, Reaction};
    use crate::domain::common::{FlightKey, Role};
    use crate::domain::compensation::input::CarrierProfile;
    use crate::domain::compensation::{self, Compensation};
    use crate::domain::flight::{self, Flight, FlightCommand, FlightScheduled, FlightStatus};
    use crate::domain::ingest::{IngestLimits, parse_manifest};
    use crate::domain::policy::airports;
    use crate::domain::policy::compensation::{CarrierHome, CarrierSize};
    use crate::domain::policy::compensation_policy::CompensationPolicy;
    use crate::projection::{disruptions::Disruptions, rebuild};
    use crate::store::{SledStore, StoreConfig};
    use chrono::Duration;
    use serde_json::json;

    fn ops() -> Actor {
        Actor {
            id: "ingest-manifest".into(),
            role: Role::FlightOps,
        }
    }

    fn message(
        source: &str,
        date: chrono::NaiveDate,
        passengers: serde_json::Value,
    ) -> ManifestMessageV1 {
        let bytes = serde_json::to_vec(&json!({"v": 1, "source_message_id": source,
            "carrier": "LH", "flight_number": "400", "origin_date": date.to_string(),
            "passengers": passengers}))
        .unwrap();
        parse_manifest(&bytes, &IngestLimits::at(Utc::now()), &airports::is_known).unwrap()
    }

    fn computed(
        store: &SledStore,
        flight: &FlightKey,
        passenger: &str,
    ) -> Option<compensation::CompensationComputed> {
        let id = compensation::compensation_id(flight, &PassengerId(passenger.into()));
        let (entitlement, _) = load::<Compensation>(store, &compensation::stream_name(id)).unwrap();
        entitlement.computed
    }

    /// A list that changes more bookings than one append carries is stored in several,
    /// `manifest.updated` last, and a redelivery stores nothing.
    #[tokio::test]
    async fn a_list_changing_more_than_one_append_carries_is_stored_in_several() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(StoreConfig::new(dir.path())).unwrap();
        let journal = Journal::ephemeral(store.clone());
        let date = Utc::now().date_naive();
        // As many passengers as one manifest may list.
        let size = 1000;
        let list = |prefix: &str| {
            let passengers: Vec<_> = (0..size)
                .map(|n| json!({"passenger_ref": format!("{prefix}{n}"), "tier": "none", "booking_class": "Y"}))
                .collect();
            serde_json::Value::Array(passengers)
        };
        record_manifest(
            &journal,
            &message("dcs-a", date, list("A")),
            &ops(),
            Utc::now(),
        )
        .await
        .unwrap();
        let before = store.head().position;
        // Every passenger replaced: a booking and a removal each, and the list.
        let second = message("dcs-b", date, list("B"));
        record_manifest(&journal, &second, &ops(), Utc::now())
            .await
            .unwrap();
        let written = store.read_all(before + 1, usize::MAX).unwrap();
        let events = 2 * size + 1;
        assert_eq!(written.len(), events);
        assert!(events > APPEND_EVENTS_MAX, "more than one append carries");
        assert_eq!(
            written.last().unwrap().event_type,
            "manifest.updated",
            "the list comes last"
        );
        let kinds = |kind: &str| written.iter().filter(|e| e.event_type == kind).count();
        assert_eq!(
            (
                kinds("passenger.booked"),
                kinds("passenger.booking_removed")
            ),
            (size, size)
        );
        let head = store.head().position;
        record_manifest(&journal, &second, &ops(), Utc::now())
            .await
            .unwrap();
        assert_eq!(store.head().position, head, "a redelivery stores nothing");
    }

    /// Issue 19, manifests: every passenger a manifest lists gets an entitlement when the
    /// flight's disruption is final, not only those who called; a later manifest
    /// replaces the list (a passenger it adds is computed at once, one it drops keeps
    /// what was computed); a redelivery stores nothing; the name is sealed.
    #[tokio::test]
    async fn every_passenger_on_the_manifest_is_computed_and_a_new_list_replaces_the_old() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(StoreConfig::new(dir.path())).unwrap();
        let journal = Journal::ephemeral(store.clone());
        let departure = Utc::now() - Duration::hours(6);
        let date = departure.date_naive();
        let flight = FlightKey::new("LH", "400", date).unwrap();
        let meta = CommandMeta::new(ops(), Utc::now());
        let schedule = FlightCommand::ScheduleFlight {
            schedule: FlightScheduled {
                flight: flight.clone(),
                origin: AirportCode::parse("FRA").unwrap(),
                destination: AirportCode::parse("JFK").unwrap(),
                scheduled_departure: departure,
                scheduled_arrival: departure + Duration::hours(8),
                passenger_count: 300,
            },
        };
        execute::<Flight>(&journal, &flight::stream_name(&flight), &schedule, &meta)
            .await
            .unwrap();
        let first = message(
            "dcs-1",
            date,
            json!([
                {"passenger_ref": "P1", "name": "Ada Lovelace", "tier": "gold", "booking_class": "Y",
                 "fare": {"amount_minor": 45000, "currency": "EUR"}, "final_destination": "LAX"},
                {"passenger_ref": "P2", "tier": "none", "booking_class": "Y"},
                {"passenger_ref": "P3", "tier": "silver", "booking_class": "J"}
            ]),
        );
        record_manifest(&journal, &first, &ops(), Utc::now())
            .await
            .unwrap();
        let head = store.head().position;
        record_manifest(&journal, &first, &ops(), Utc::now())
            .await
            .unwrap();
        assert_eq!(store.head().position, head, "a redelivery stores nothing");
        let all = store.read_all(1, 100).unwrap();
        let booked = all
            .iter()
            .find(|e| e.event_type == "passenger.booked" && e.stream == "passenger-P1")
            .unwrap();
        assert!(
            !booked.data.get().contains("Ada"),
            "the name is sealed: {}",
            booked.data.get()
        );
        let cancel = FlightCommand::ChangeStatus {
            status: FlightStatus::Cancelled,
            reason: "aircraft unserviceable".into(),
        };
        execute::<Flight>(&journal, &flight::stream_name(&flight), &cancel, &meta)
            .await
            .unwrap();
        let carrier = CarrierProfile {
            home: CarrierHome::Eu,
            size: CarrierSize::Large,
            listed: false,
        };
        let reaction = || {
            rebuild(&store, Disruptions, |_, _| {}).unwrap();
            EntitlementReaction::new(
                journal.clone(),
                carrier,
                CompensationPolicy::default_policy(),
            )
            .unwrap()
        };
        reactor::round(&reaction(), &store, 100).await.unwrap();
        for passenger in ["P1", "P2", "P3"] {
            assert!(
                computed(&store, &flight, passenger).is_some(),
                "{passenger}"
            );
        }
        let ada = computed(&store, &flight, "P1").unwrap();
        let eu = ada
            .decisions
            .iter()
            .find(|d| d.regime == compensation::Regime::Eu261)
            .unwrap();
        assert_eq!(
            eu.inputs.destination.as_str(),
            "LAX",
            "the journey's final destination"
        );
        assert_eq!(
            eu.inputs.tier,
            crate::domain::common::Tier::Gold,
            "the booking's tier"
        );
        assert_eq!(
            eu.refund.as_ref().and_then(|r| r.fare),
            Some(crate::domain::common::Money::new(
                45_000,
                crate::domain::common::Currency::EUR
            )),
            "the refund names the fare it repays"
        );
        // A new list: P3 is off, P4 is on, P2 changed class.
        let second = message(
            "dcs-2",
            date,
            json!([
                {"passenger_ref": "P1", "name": "Ada Lovelace", "tier": "gold", "booking_class": "Y",
                 "fare": {"amount_minor": 45000, "currency": "EUR"}, "final_destination": "LAX"},
                {"passenger_ref": "P2", "tier": "none", "booking_class": "M"},
                {"passenger_ref": "P4", "tier": "none", "booking_class": "Y"}
            ]),
        );
        let before = store.head().position;
        record_manifest(&journal, &second, &ops(), Utc::now())
            .await
            .unwrap();
        let written: Vec<(String, String)> = store
            .read_all(before + 1, 100)
            .unwrap()
            .into_iter()
            .map(|e| (e.stream, e.event_type))
            .collect();
        let mut expected = vec![
            ("passenger-P2".to_owned(), "passenger.booked".to_owned()),
            ("passenger-P4".to_owned(), "passenger.booked".to_owned()),
            (
                "passenger-P3".to_owned(),
                "passenger.booking_removed".to_owned(),
            ),
            (
                crate::domain::manifest::stream_name(&flight),
                "manifest.updated".to_owned(),
            ),
        ];
        expected.sort();
        let mut written_sorted = written.clone();
        written_sorted.sort();
        assert_eq!(written_sorted, expected, "only what changed: {written:?}");
        store
            .save_checkpoint(EntitlementReaction::CHECKPOINT, before)
            .unwrap();
        reactor::round(&reaction(), &store, 100).await.unwrap();
        assert!(
            computed(&store, &flight, "P4").is_some(),
            "added after the cancellation"
        );
        assert!(
            computed(&store, &flight, "P3").is_some(),
            "computed before it was dropped"
        );
    }
}
