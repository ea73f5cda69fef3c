//! The entitlement reaction: computes compensation entitlements for disrupted flights,
//! and joins what exists about a flight to the incident that opens for it.
//!
//! The `disruptions` read model says, in log order, which passengers on which finally
//! disrupted flight are due an entitlement computation. For each, this reaction loads
//! the flight and the passenger (for the tier), asks the compensation policy (every
//! applicable regulation plus airline goodwill) and records `compensation.computed` on
//! the entitlement's stream — whose id is derived from flight and passenger, so a
//! repeat is refused as already computed and counts as done. When the flight has an
//! incident, the entitlement is linked to it so the incident cannot close before it is
//! settled.
//!
//! When an incident opens for a flight after its entitlements were computed or its
//! complaints received (the natural order: passengers complain, then a spike opens the
//! incident), the model says so too: the computed entitlements are linked to the
//! incident and the complaints record `complaint.linked_to_incident`. One reaction does
//! both, in log order, so a join never runs ahead of the computation it links.
//!
//! The operating carrier's home and size come from the policy's carrier table (the
//! service's defaults for a carrier not in it). The governing regime is the decision
//! owing the most cash, amounts in different currencies compared at the policy's
//! exchange rates (legal regimes before goodwill on a tie); without a rate between two
//! currencies owed, none is chosen and an agent chooses
//! ([`CompensationPolicy::governing`]). An entitlement is computed
//! once; if the facts change afterwards (a later arrival report), an agent corrects it.

use chrono::Utc;

use super::command::{CommandError, CommandMeta, Journal, execute, load};
use super::reactor::{Reaction, ReactorError};
use crate::domain::common::{Actor, PassengerId, Role, Tier};
use crate::domain::compensation::input::{
    CarrierProfile, compensation_input, for_booking, recompute_input,
};
use crate::domain::compensation::{self, Compensation, CompensationCommand, CompensationError};
use crate::domain::complaint::{self, Complaint, ComplaintCommand, ComplaintError};
use crate::domain::flight::{self, Flight};
use crate::domain::incident::{self, Incident, IncidentCommand, IncidentError};
use crate::domain::passenger::{self, Passenger};
use crate::domain::policy::compensation::decide;
use crate::domain::policy::compensation_policy::{CompensationPolicy, Governing};
use crate::projection::disruptions::{self, Due, DueAction};
use crate::projection::{ModelError, ReadModel};
use crate::store::{AppendError, StoreError};

/// The actor recorded on computed entitlements.
pub fn entitlement_actor() -> Actor {
    Actor {
        id: "crisisd-compensation".into(),
        role: Role::Admin,
    }
}

pub struct EntitlementReaction {
    journal: Journal,
    model: ReadModel,
    /// For carriers not in the policy's table.
    default_carrier: CarrierProfile,
    policy: CompensationPolicy,
}

impl EntitlementReaction {
    pub fn new(
        journal: Journal,
        default_carrier: CarrierProfile,
        policy: CompensationPolicy,
    ) -> Result<Self, StoreError> {
        let model = ReadModel::open(journal.store(), disruptions::NAME)?;
        Ok(EntitlementReaction {
            journal,
            model,
            default_carrier,
            policy,
        })
    }

    /// Computes the passenger's entitlement; with `changed` (what changed), an entitlement
    /// computed before is recomputed on the facts as they are now, superseding the last
    /// computation when any decision differs.
    async fn compute(
        &self,
        flight: &Flight,
        due: &Due,
        passenger: &PassengerId,
        changed: Option<&str>,
    ) -> Result<(), ReactorError> {
        let (record, _) =
            load::<Passenger>(self.journal.store(), &passenger::stream_name(passenger))
                .map_err(|err| ReactorError::Retry(err.to_string()))?;
        let booking = record.bookings.get(&due.flight);
        let tier = booking
            .map(|b| b.tier)
            .or(record.tier)
            .unwrap_or(Tier::None);
        let now = Utc::now();
        let carrier = flight.schedule.as_ref().and_then(|s| {
            let entry = self.policy.carrier(&s.flight.carrier)?;
            Some(CarrierProfile {
                home: entry.home,
                size: entry.size,
                listed: true,
            })
        });
        let carrier = carrier.unwrap_or(self.default_carrier);
        let compensation_id = compensation::compensation_id(&due.flight, passenger);
        let stream = compensation::stream_name(compensation_id);
        // A recomputation revisits an entitlement computed before; a passenger who has
        // none is computed as on a first final disruption (if this one is final).
        let known = match changed {
            Some(_) => load::<Compensation>(self.journal.store(), &stream)
                .map_err(|err| ReactorError::Retry(err.to_string()))?
                .0
                .computed
                .is_some(),
            None => false,
        };
        let changed = changed.filter(|_| known);
        let input = match changed {
            Some(_) => recompute_input(flight, tier, carrier, now),
            None => compensation_input(flight, tier, carrier, now),
        };
        let input = input.and_then(|input| match booking {
            Some(booking) => for_booking(input, booking, flight),
            None => Ok(input),
        });
        let input = match input {
            Ok(input) => input,
            Err(not_final) => {
                tracing::warn!(flight = %due.flight, cause = %not_final, "no entitlement computed");
                return Ok(());
            }
        };
        let decisions = decide(&input, &self.policy);
        let (governing, governing_reasoning) = match self.policy.governing(&decisions) {
            Some(Governing::Chosen { regime, reasoning }) => (Some(regime), reasoning),
            Some(Governing::Undecided { reasoning }) => (None, reasoning),
            None => return Ok(()),
        };
        if let Some(reason) = changed {
            let command = CompensationCommand::RecomputeEntitlement {
                decisions,
                governing,
                governing_reasoning,
                reason: reason.to_owned(),
            };
            // Keyed by the due's position: a repeat after a crash stores nothing twice.
            let meta = CommandMeta {
                idempotency_key: Some(format!("recompute:{}", due.position)),
                ..CommandMeta::new(entitlement_actor(), now)
            };
            return match execute::<Compensation>(&self.journal, &stream, &command, &meta).await {
                Ok(_) | Err(CommandError::Refused(CompensationError::NothingChanged)) => Ok(()),
                Err(err) => outcome(err, &stream),
            };
        }
        let command = CompensationCommand::ComputeEntitlement {
            compensation_id,
            flight: due.flight.clone(),
            passenger: passenger.clone(),
            incident_id: due.incident_id,
            decisions,
            governing,
            governing_reasoning,
        };
        let meta = |key: &str| CommandMeta {
            idempotency_key: Some(key.to_owned()),
            ..CommandMeta::new(entitlement_actor(), now)
        };
        match execute::<Compensation>(&self.journal, &stream, &command, &meta("entitlement")).await
        {
            Ok(_) | Err(CommandError::Refused(CompensationError::AlreadyComputed)) => {}
            Err(err) => return outcome(err, &stream),
        }
        match due.incident_id {
            Some(incident_id) => self.link(incident_id, &due.flight, passenger).await,
            None => Ok(()),
        }
    }

    /// Links the passenger's entitlement on `flight`, if it was computed, to the incident.
    async fn link(
        &self,
        incident_id: uuid::Uuid,
        flight: &crate::domain::common::FlightKey,
        passenger: &PassengerId,
    ) -> Result<(), ReactorError> {
        let compensation_id = compensation::compensation_id(flight, passenger);
        let (entitlement, _) = load::<Compensation>(
            self.journal.store(),
            &compensation::stream_name(compensation_id),
        )
        .map_err(|err| ReactorError::Retry(err.to_string()))?;
        if entitlement.computed.is_none() {
            // No regime owed anything: nothing to settle, nothing to link.
            return Ok(());
        }
        let link = IncidentCommand::LinkCompensation {
            compensation_id,
            passenger: passenger.clone(),
        };
        let stream = incident::stream_name(incident_id);
        let meta = CommandMeta {
            idempotency_key: Some(format!("link:{compensation_id}")),
            ..CommandMeta::new(entitlement_actor(), Utc::now())
        };
        match execute::<Incident>(&self.journal, &stream, &link, &meta).await {
            Ok(_) | Err(CommandError::Refused(IncidentError::CompensationAlreadyLinked { .. })) => {
                Ok(())
            }
            Err(err) => outcome(err, &stream),
        }
    }

    /// Makes a complaint received before the incident part of it.
    async fn join_complaint(
        &self,
        incident_id: uuid::Uuid,
        complaint_id: uuid::Uuid,
    ) -> Result<(), ReactorError> {
        let stream = complaint::stream_name(complaint_id);
        let command = ComplaintCommand::LinkToIncident { incident_id };
        let meta = CommandMeta {
            idempotency_key: Some(format!("join:{incident_id}")),
            ..CommandMeta::new(entitlement_actor(), Utc::now())
        };
        match execute::<Complaint>(&self.journal, &stream, &command, &meta).await {
            Ok(_) => Ok(()),
            Err(CommandError::Refused(ComplaintError::AlreadyLinked {
                incident_id: linked,
            })) if linked == incident_id => Ok(()),
            Err(err) => outcome(err, &stream),
        }
    }
}

/// Turns a command failure into what the reactor does next.
fn outcome<E: std::error::Error>(err: CommandError<E>, stream: &str) -> Result<(), ReactorError> {
    match err {
        CommandError::Append(AppendError::Unavailable { reason }) => {
            Err(ReactorError::StoreClosed(reason))
        }
        // A refusal will not change by retrying (e.g. the incident closed): move on.
        CommandError::Refused(refused) => {
            tracing::warn!(stream, cause = %refused, "entitlement step refused; skipped");
            Ok(())
        }
        other => Err(ReactorError::Retry(format!("{stream}: {other}"))),
    }
}

impl Reaction for EntitlementReaction {
    type Decision = Due;
    const CHECKPOINT: &'static str = "entitlement-reactor";

    fn model(&self) -> &ReadModel {
        &self.model
    }

    fn decisions_after(&self, after: u64, limit: usize) -> Result<Vec<(u64, Due)>, ModelError> {
        let due = disruptions::due_after(&self.model, after, limit)?;
        Ok(due.into_iter().map(|d| (d.position, d)).collect())
    }

    async fn carry_out(&self, due: &Due) -> Result<(), ReactorError> {
        match &due.action {
            DueAction::Compute { passengers } => {
                let (flight, _) =
                    load::<Flight>(self.journal.store(), &flight::stream_name(&due.flight))
                        .map_err(|err| ReactorError::Retry(err.to_string()))?;
                for passenger in passengers {
                    self.compute(&flight, due, passenger, None).await?;
                }
            }
            DueAction::Recompute { passengers, reason } => {
                let (flight, _) =
                    load::<Flight>(self.journal.store(), &flight::stream_name(&due.flight))
                        .map_err(|err| ReactorError::Retry(err.to_string()))?;
                for passenger in passengers {
                    self.compute(&flight, due, passenger, Some(reason)).await?;
                }
            }
            DueAction::Join {
                passengers,
                complaints,
            } => {
                let Some(incident_id) = due.incident_id else {
                    return Ok(());
                };
                for passenger in passengers {
                    self.link(incident_id, &due.flight, passenger).await?;
                }
                for complaint_id in complaints {
                    self.join_complaint(incident_id, *complaint_id).await?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::reactor;
    use crate::domain::common::{
        AirportCode, Category, Channel, Currency, FlightKey, Money, PersonalData, Severity,
    };
    use crate::domain::compensation::{CompensationComputed, Regime};
    use crate::domain::flight::{FlightCommand, FlightScheduled};
    use crate::domain::policy::compensation::{CarrierHome, CarrierSize};
    use crate::domain::signal::{self, Signal, SignalCommand};
    use crate::projection::{Projection, disruptions::Disruptions, rebuild};
    use crate::store::{SledStore, StoreConfig};
    use chrono::Duration;

    /// The service's default for carriers not in the policy's table, as `serve` starts.
    const DEFAULT_EU: CarrierProfile = CarrierProfile {
        home: CarrierHome::Eu,
        size: CarrierSize::Large,
        listed: false,
    };

    fn ops() -> Actor {
        Actor {
            id: "ingest-flightops".into(),
            role: Role::FlightOps,
        }
    }

    /// Passenger `passenger` calls about `flight` (a signal naming both: the passenger is
    /// known on the flight).
    async fn call_about(
        journal: &crate::app::Journal,
        flight: &FlightKey,
        passenger: &str,
        n: u128,
        at: chrono::DateTime<Utc>,
    ) {
        let signal_id = uuid::Uuid::from_u128(n);
        let record = SignalCommand::RecordSignal {
            signal_id,
            channel: Channel::Hotline,
            category: Category::Delay,
            severity: Severity::Medium,
            flight: Some(flight.clone()),
            passenger: Some(PassengerId(passenger.into())),
            reach: 1,
            summary: PersonalData("late".into()),
            source_ref: None,
            observed_at: at,
            kind: None,
        };
        let meta = CommandMeta::new(ops(), Utc::now());
        execute::<Signal>(journal, &signal::stream_name(signal_id), &record, &meta)
            .await
            .unwrap();
    }

    /// The disruptions model rebuilt, then one round of the entitlement reaction.
    async fn react(store: &SledStore, journal: &crate::app::Journal) {
        rebuild(store, Disruptions, |_, _| {}).unwrap();
        let reaction = EntitlementReaction::new(
            journal.clone(),
            DEFAULT_EU,
            CompensationPolicy::default_policy(),
        )
        .unwrap();
        reactor::round(&reaction, store, 10).await.unwrap();
    }

    /// A flight `carrier number` from `origin` to `destination` (8 h scheduled) that
    /// left `late_hours` late and arrived as late, with `passengers` known on it from
    /// their calls; the entitlement reaction's round over it, run twice.
    async fn entitlements_of(
        carrier: &str,
        number: &str,
        (origin, destination): (&str, &str),
        late_hours: i64,
        passengers: &[&str],
    ) -> Vec<Option<CompensationComputed>> {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(StoreConfig::new(dir.path())).unwrap();
        let journal = crate::app::Journal::ephemeral(store.clone());
        let departure = Utc::now() - Duration::hours(24);
        let flight = FlightKey::new(carrier, number, departure.date_naive()).unwrap();
        let stream = flight::stream_name(&flight);
        let meta = CommandMeta::new(ops(), Utc::now());
        let schedule = FlightCommand::ScheduleFlight {
            schedule: FlightScheduled {
                flight: flight.clone(),
                origin: AirportCode::parse(origin).unwrap(),
                destination: AirportCode::parse(destination).unwrap(),
                scheduled_departure: departure,
                scheduled_arrival: departure + Duration::hours(8),
                passenger_count: 300,
            },
        };
        execute::<Flight>(&journal, &stream, &schedule, &meta)
            .await
            .unwrap();
        for (n, passenger) in passengers.iter().enumerate() {
            call_about(&journal, &flight, passenger, n as u128 + 1, departure).await;
        }
        for command in [
            FlightCommand::RecordDeparture {
                at: departure + Duration::hours(late_hours),
            },
            FlightCommand::RecordArrival {
                at: departure + Duration::hours(8 + late_hours),
                airport: AirportCode::parse(destination).unwrap(),
            },
        ] {
            execute::<Flight>(&journal, &stream, &command, &meta)
                .await
                .unwrap();
        }
        rebuild(&store, Disruptions, |_, _| {}).unwrap();
        let reaction = EntitlementReaction::new(
            journal.clone(),
            DEFAULT_EU,
            CompensationPolicy::default_policy(),
        )
        .unwrap();
        assert_eq!(reactor::round(&reaction, &store, 10).await.unwrap(), 1);
        let head = store.head().position;
        store
            .save_checkpoint(EntitlementReaction::CHECKPOINT, 0)
            .unwrap();
        assert_eq!(reactor::round(&reaction, &store, 10).await.unwrap(), 1);
        assert_eq!(store.head().position, head, "a repeat writes nothing");
        assert_eq!(Disruptions.name(), disruptions::NAME);
        passengers
            .iter()
            .map(|passenger| {
                let id = compensation::compensation_id(&flight, &PassengerId((*passenger).into()));
                let (entitlement, _) =
                    load::<Compensation>(&store, &compensation::stream_name(id)).unwrap();
                entitlement.computed
            })
            .collect()
    }

    #[tokio::test]
    async fn a_four_hour_delay_gives_each_known_passenger_the_eu_amount_once() {
        let computed = entitlements_of("LH", "400", ("FRA", "JFK"), 4, &["P1", "P2"]).await;
        for computed in computed {
            let computed = computed.expect("computed");
            assert_eq!(computed.governing, Some(Regime::Eu261));
            assert_eq!(
                computed.entitled,
                Some(Money::new(60_000, Currency::EUR)),
                "EU 261 art. 7(1)(c): EUR 600 beyond 3,500 km, 4 h late"
            );
        }
    }

    /// Issue 19, item 3: the operating carrier decides the regimes, from the policy's
    /// carrier table; the service's default (here `eu`) only for carriers not in it.
    /// Air China Beijing -> Frankfurt is outside EU 261 (Art. 3(1)(b): a non-EU carrier
    /// departing outside the EU).
    #[tokio::test]
    async fn the_operating_carrier_decides_which_regimes_apply() {
        let air_china = entitlements_of("CA", "931", ("PEK", "FRA"), 7, &["P1"]).await;
        let computed = air_china[0].as_ref().expect("CAAC care applies");
        let regimes: Vec<Regime> = computed.decisions.iter().map(|d| d.regime).collect();
        assert_eq!(regimes, vec![Regime::ChinaCaac, Regime::Goodwill]);
        // A carrier not in the table takes the default, and its decisions say so.
        let unknown = entitlements_of("XQ", "931", ("PEK", "FRA"), 7, &["P1"]).await;
        let eu = unknown[0]
            .as_ref()
            .unwrap()
            .decisions
            .iter()
            .find(|d| d.regime == Regime::Eu261)
            .cloned()
            .expect("the default home eu brings EU 261 Art. 3(1)(b)");
        assert!(
            eu.reasoning[0].contains("not in the policy's carrier table"),
            "{:?}",
            eu.reasoning
        );
    }

    /// Issue 19, item 2: Lufthansa Toronto -> Frankfurt, 7 h late: EU 261 (Art. 3(1)(b),
    /// EUR 600) and APPR (CAD 700) both apply; EUR 600 is worth more at the policy's rate
    /// and governs, and the computation names the rate.
    #[tokio::test]
    async fn amounts_in_different_currencies_are_compared_at_the_policys_rate() {
        let computed = entitlements_of("LH", "471", ("YYZ", "FRA"), 7, &["P1"]).await;
        let computed = computed[0].as_ref().expect("computed");
        let owed = |regime| {
            computed
                .decisions
                .iter()
                .find(|d| d.regime == regime)
                .and_then(|d| d.cash)
        };
        assert_eq!(owed(Regime::Eu261), Some(Money::new(60_000, Currency::EUR)));
        assert_eq!(
            owed(Regime::CanadaAppr),
            Some(Money::new(70_000, Currency::CAD))
        );
        assert_eq!(computed.governing, Some(Regime::Eu261));
        let rates = CompensationPolicy::default_policy().exchange_rates.unwrap();
        assert!(
            computed
                .governing_reasoning
                .iter()
                .any(|l| l.contains(&rates.describe(Currency::CAD))),
            "{:?}",
            computed.governing_reasoning
        );
    }

    /// Issue 19, a later arrival report: flight ops corrects the on-block time after the
    /// entitlements were computed; they are recomputed (superseding), and a delay that
    /// falls under 3 h owes nothing any more (Sturgeon, C-402/07).
    #[tokio::test]
    async fn a_corrected_arrival_time_recomputes_the_entitlements() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(StoreConfig::new(dir.path())).unwrap();
        let journal = crate::app::Journal::ephemeral(store.clone());
        let departure = Utc::now() - Duration::hours(24);
        let flight = FlightKey::new("LH", "1020", departure.date_naive()).unwrap();
        let stream = flight::stream_name(&flight);
        let meta = CommandMeta::new(ops(), Utc::now());
        call_about(&journal, &flight, "P1", 7, departure).await;
        let commands = [
            FlightCommand::ScheduleFlight {
                schedule: FlightScheduled {
                    flight: flight.clone(),
                    origin: AirportCode::parse("FRA").unwrap(),
                    destination: AirportCode::parse("CDG").unwrap(),
                    scheduled_departure: departure,
                    scheduled_arrival: departure + Duration::hours(1),
                    passenger_count: 150,
                },
            },
            FlightCommand::RecordDeparture {
                at: departure + Duration::minutes(200),
            },
            FlightCommand::RecordArrival {
                at: departure + Duration::minutes(60 + 210),
                airport: AirportCode::parse("CDG").unwrap(),
            },
        ];
        for command in &commands {
            execute::<Flight>(&journal, &stream, command, &meta)
                .await
                .unwrap();
        }
        react(&store, &journal).await;
        let id = compensation::compensation_id(&flight, &PassengerId("P1".into()));
        let entitlement = || {
            load::<Compensation>(&store, &compensation::stream_name(id))
                .unwrap()
                .0
        };
        assert_eq!(
            entitlement().entitled(),
            Some(Money::new(25_000, Currency::EUR)),
            "3 h 30 late, 450 km: EUR 250"
        );
        let correct = FlightCommand::CorrectArrival {
            at: departure + Duration::minutes(60 + 170),
        };
        execute::<Flight>(&journal, &stream, &correct, &meta)
            .await
            .unwrap();
        react(&store, &journal).await;
        let corrected = entitlement();
        assert_eq!(corrected.revision, 2, "a superseding computation");
        assert_eq!(corrected.entitled(), Some(Money::new(0, Currency::EUR)));
        assert_eq!(
            corrected.settlement(),
            Some(crate::domain::common::Settlement::NothingOwed),
            "2 h 50 late: nothing owed any more"
        );
    }

    /// Issue 20 / 19: a cancelled flight later reported operating is a reinstatement
    /// (`flight.reinstated`, not a silent status change), and the entitlements decided on
    /// the cancellation are revisited when it arrives: an hour late, nothing is owed.
    #[tokio::test]
    async fn a_reinstated_flight_revisits_what_was_decided_on_its_cancellation() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(StoreConfig::new(dir.path())).unwrap();
        let journal = crate::app::Journal::ephemeral(store.clone());
        let departure = Utc::now() - Duration::hours(24);
        let flight = FlightKey::new("LH", "1030", departure.date_naive()).unwrap();
        let stream = flight::stream_name(&flight);
        let meta = CommandMeta::new(ops(), Utc::now());
        call_about(&journal, &flight, "P1", 8, departure).await;
        let schedule = FlightCommand::ScheduleFlight {
            schedule: FlightScheduled {
                flight: flight.clone(),
                origin: AirportCode::parse("FRA").unwrap(),
                destination: AirportCode::parse("CDG").unwrap(),
                scheduled_departure: departure,
                scheduled_arrival: departure + Duration::hours(1),
                passenger_count: 150,
            },
        };
        let cancel = FlightCommand::ChangeStatus {
            status: crate::domain::flight::FlightStatus::Cancelled,
            reason: "crew shortage".into(),
        };
        for command in [&schedule, &cancel] {
            execute::<Flight>(&journal, &stream, command, &meta)
                .await
                .unwrap();
        }
        react(&store, &journal).await;
        let id = compensation::compensation_id(&flight, &PassengerId("P1".into()));
        let entitlement = || {
            load::<Compensation>(&store, &compensation::stream_name(id))
                .unwrap()
                .0
        };
        assert_eq!(
            entitlement().entitled(),
            Some(Money::new(25_000, Currency::EUR)),
            "cancelled on the day, 450 km: EUR 250 (Art. 5(1)(c), 7(1)(a))"
        );
        let reinstate = FlightCommand::ChangeStatus {
            status: crate::domain::flight::FlightStatus::Delayed,
            reason: "crew found".into(),
        };
        let executed = execute::<Flight>(&journal, &stream, &reinstate, &meta)
            .await
            .unwrap();
        let stored = store.read_all(executed.position, 1).unwrap();
        assert_eq!(stored[0].event_type, "flight.reinstated");
        react(&store, &journal).await;
        assert_eq!(
            entitlement().revision,
            1,
            "nothing to revisit before it flies"
        );
        for command in [
            FlightCommand::RecordDeparture {
                at: departure + Duration::minutes(60),
            },
            FlightCommand::RecordArrival {
                at: departure + Duration::minutes(120),
                airport: AirportCode::parse("CDG").unwrap(),
            },
        ] {
            execute::<Flight>(&journal, &stream, &command, &meta)
                .await
                .unwrap();
        }
        react(&store, &journal).await;
        let revisited = entitlement();
        assert_eq!(revisited.revision, 2, "a superseding computation");
        assert_eq!(
            revisited.settlement(),
            Some(crate::domain::common::Settlement::NothingOwed),
            "an hour late: nothing owed"
        );
    }
}
