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
//! The governing regime is the decision owing the most cash (legal regimes before
//! goodwill on a tie), which is what the entitlement aggregate requires: no regime in
//! the same currency may owe more than the governing one. An entitlement is computed
//! once; if the facts change afterwards (a later arrival report), an agent corrects it.

use chrono::Utc;

use super::command::{CommandError, CommandMeta, Journal, execute, load};
use super::reactor::{Reaction, ReactorError};
use crate::domain::common::{Actor, PassengerId, Role, Tier};
use crate::domain::compensation::input::{CarrierProfile, compensation_input};
use crate::domain::compensation::{
    self, Compensation, CompensationCommand, CompensationDecision, CompensationError, Regime,
};
use crate::domain::complaint::{self, Complaint, ComplaintCommand, ComplaintError};
use crate::domain::flight::{self, Flight};
use crate::domain::incident::{self, Incident, IncidentCommand, IncidentError};
use crate::domain::passenger::{self, Passenger};
use crate::domain::policy::compensation::decide;
use crate::domain::policy::goodwill::GoodwillPolicy;
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
    carrier: CarrierProfile,
    goodwill: GoodwillPolicy,
}

impl EntitlementReaction {
    pub fn new(
        journal: Journal,
        carrier: CarrierProfile,
        goodwill: GoodwillPolicy,
    ) -> Result<Self, StoreError> {
        let model = ReadModel::open(journal.store(), disruptions::NAME)?;
        Ok(EntitlementReaction {
            journal,
            model,
            carrier,
            goodwill,
        })
    }

    async fn compute(
        &self,
        flight: &Flight,
        due: &Due,
        passenger: &PassengerId,
    ) -> Result<(), ReactorError> {
        let (record, _) =
            load::<Passenger>(self.journal.store(), &passenger::stream_name(passenger))
                .map_err(|err| ReactorError::Retry(err.to_string()))?;
        let tier = record.tier.unwrap_or(Tier::None);
        let now = Utc::now();
        let input = match compensation_input(flight, tier, self.carrier, now) {
            Ok(input) => input,
            Err(not_final) => {
                tracing::warn!(flight = %due.flight, cause = %not_final, "no entitlement computed");
                return Ok(());
            }
        };
        let decisions = decide(&input, &self.goodwill);
        let Some(governing) = governing_regime(&decisions) else {
            return Ok(());
        };
        let compensation_id = compensation::compensation_id(&due.flight, passenger);
        let command = CompensationCommand::ComputeEntitlement {
            compensation_id,
            flight: due.flight.clone(),
            passenger: passenger.clone(),
            incident_id: due.incident_id,
            decisions,
            governing,
        };
        let meta = |key: &str| CommandMeta {
            idempotency_key: Some(key.to_owned()),
            ..CommandMeta::new(entitlement_actor(), now)
        };
        let stream = compensation::stream_name(compensation_id);
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

/// The regime owing the most cash; legal regimes win ties against goodwill.
pub fn governing_regime(decisions: &[CompensationDecision]) -> Option<Regime> {
    decisions
        .iter()
        .enumerate()
        .max_by_key(|(i, d)| {
            (
                d.entitled().amount_minor,
                d.regime != Regime::Goodwill,
                std::cmp::Reverse(*i),
            )
        })
        .map(|(_, d)| d.regime)
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
                    self.compute(&flight, due, passenger).await?;
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
        AirportCode, Category, Channel, Currency, FlightKey, PersonalData, Severity,
    };
    use crate::domain::flight::{FlightCommand, FlightScheduled};
    use crate::domain::policy::compensation::{CarrierHome, CarrierSize};
    use crate::domain::signal::{self, Signal, SignalCommand};
    use crate::projection::{Projection, disruptions::Disruptions, rebuild};
    use crate::store::{SledStore, StoreConfig};
    use chrono::Duration;

    const LH: CarrierProfile = CarrierProfile {
        home: CarrierHome::Eu,
        size: CarrierSize::Large,
    };

    fn ops() -> Actor {
        Actor {
            id: "ingest-flightops".into(),
            role: Role::FlightOps,
        }
    }

    #[tokio::test]
    async fn a_four_hour_delay_gives_each_known_passenger_the_eu_amount_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(StoreConfig::new(dir.path())).unwrap();
        let journal = crate::app::Journal::ephemeral(store.clone());
        let departure = Utc::now() - Duration::hours(12);
        let flight = FlightKey::new("LH", "400", departure.date_naive()).unwrap();
        let stream = flight::stream_name(&flight);
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
        execute::<Flight>(&journal, &stream, &schedule, &meta)
            .await
            .unwrap();
        for (n, passenger) in ["P1", "P2"].into_iter().enumerate() {
            let signal_id = uuid::Uuid::from_u128(n as u128 + 1);
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
                observed_at: departure,
            };
            execute::<Signal>(&journal, &signal::stream_name(signal_id), &record, &meta)
                .await
                .unwrap();
        }
        for command in [
            FlightCommand::RecordDeparture {
                at: departure + Duration::hours(4),
            },
            FlightCommand::RecordArrival {
                at: departure + Duration::hours(12),
                airport: AirportCode::parse("JFK").unwrap(),
            },
        ] {
            execute::<Flight>(&journal, &stream, &command, &meta)
                .await
                .unwrap();
        }
        rebuild(&store, Disruptions, |_, _| {}).unwrap();
        let reaction =
            EntitlementReaction::new(journal.clone(), LH, GoodwillPolicy::default_policy())
                .unwrap();
        assert_eq!(reactor::round(&reaction, &store, 10).await.unwrap(), 1);
        let head = store.head().position;
        store
            .save_checkpoint(EntitlementReaction::CHECKPOINT, 0)
            .unwrap();
        assert_eq!(reactor::round(&reaction, &store, 10).await.unwrap(), 1);
        assert_eq!(store.head().position, head, "a repeat writes nothing");
        for passenger in ["P1", "P2"] {
            let id = compensation::compensation_id(&flight, &PassengerId(passenger.into()));
            let (entitlement, _) =
                load::<Compensation>(&store, &compensation::stream_name(id)).unwrap();
            let computed = entitlement.computed.expect("computed");
            assert_eq!(computed.governing, Regime::Eu261);
            assert_eq!(
                computed.entitled,
                crate::domain::common::Money::new(60_000, Currency::EUR),
                "EU 261 art. 7(1)(c): EUR 600 beyond 3,500 km, 4 h late"
            );
        }
        assert_eq!(Disruptions.name(), disruptions::NAME);
    }
}
