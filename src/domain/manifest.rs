//! The manifest of one flight: which passengers are booked on it, as the last manifest
//! message listed them (`manifest-<flight>`). It holds passenger ids only; what each
//! booking says (class, fare, consent, the name) is recorded on the passenger's own
//! stream (`passenger.booked`), sealed with their key where personal.

use std::collections::BTreeSet;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::domain::common::{FlightKey, PassengerId};
use crate::domain::event::domain_events;
use crate::domain::{Aggregate, Context};

/// The stream holding one flight's manifest: `manifest-LH400-2026-11-22`.
pub fn stream_name(flight: &FlightKey) -> String {
    format!("manifest-{flight}")
}

/// A request to a flight's manifest.
#[derive(Debug, Clone, PartialEq)]
pub enum ManifestCommand {
    /// Replaces the list of passengers on the flight (nothing is recorded when it is
    /// the list already known).
    RecordManifest {
        flight: FlightKey,
        passengers: BTreeSet<PassengerId>,
    },
}

/// `manifest.updated`: the passengers on the flight now, and the difference to before.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ManifestUpdated {
    pub flight: FlightKey,
    /// Every passenger on the flight now, sorted.
    pub passengers: Vec<PassengerId>,
    pub added: Vec<PassengerId>,
    pub removed: Vec<PassengerId>,
}

domain_events! {
    /// Every fact a manifest stream holds.
    pub enum ManifestEvent {
        Updated(ManifestUpdated) = "manifest.updated",
    }
}

/// A refused manifest command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    #[error("this manifest stream is flight {expected}'s")]
    OtherFlight { expected: FlightKey },
}

/// The state of one manifest stream.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Manifest {
    pub flight: Option<FlightKey>,
    pub passengers: BTreeSet<PassengerId>,
}

impl Aggregate for Manifest {
    type Command = ManifestCommand;
    type Event = ManifestEvent;
    type Error = ManifestError;

    fn decide(
        &self,
        command: &ManifestCommand,
        _ctx: &Context,
    ) -> Result<Vec<ManifestEvent>, ManifestError> {
        let ManifestCommand::RecordManifest { flight, passengers } = command;
        if let Some(expected) = &self.flight
            && expected != flight
        {
            return Err(ManifestError::OtherFlight {
                expected: expected.clone(),
            });
        }
        if self.flight.is_some() && &self.passengers == passengers {
            return Ok(Vec::new());
        }
        Ok(vec![ManifestEvent::Updated(ManifestUpdated {
            flight: flight.clone(),
            passengers: passengers.iter().cloned().collect(),
            added: passengers.difference(&self.passengers).cloned().collect(),
            removed: self.passengers.difference(passengers).cloned().collect(),
        })])
    }

    fn evolve(mut self, event: &ManifestEvent) -> Self {
        let ManifestEvent::Updated(e) = event;
        self.flight = Some(e.flight.clone());
        self.passengers = e.passengers.iter().cloned().collect();
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::common::Role;
    use crate::domain::testing::{ctx_at, given};

    fn flight() -> FlightKey {
        FlightKey::new(
            "LH",
            "400",
            chrono::NaiveDate::from_ymd_opt(2026, 11, 22).unwrap(),
        )
        .unwrap()
    }

    fn list(ids: &[&str]) -> BTreeSet<PassengerId> {
        ids.iter().map(|id| PassengerId((*id).into())).collect()
    }

    #[test]
    fn a_manifest_replaces_the_last_one_and_records_the_difference() {
        let ctx = ctx_at(Role::FlightOps, 0);
        let record = |ids: &[&str]| ManifestCommand::RecordManifest {
            flight: flight(),
            passengers: list(ids),
        };
        let first = Manifest::default()
            .decide(&record(&["P1", "P2"]), &ctx)
            .unwrap();
        let ManifestEvent::Updated(e) = &first[0];
        assert_eq!((e.added.len(), e.removed.len()), (2, 0));
        let state: Manifest = given(&first);
        assert_eq!(
            state.decide(&record(&["P2", "P1"]), &ctx).unwrap(),
            vec![],
            "the same list"
        );
        let second = state.decide(&record(&["P2", "P3"]), &ctx).unwrap();
        let ManifestEvent::Updated(e) = &second[0];
        assert_eq!(
            (e.added.clone(), e.removed.clone()),
            (
                vec![PassengerId("P3".into())],
                vec![PassengerId("P1".into())]
            )
        );
        assert!(
            Manifest::default().decide(&record(&[]), &ctx).is_ok(),
            "a first, empty manifest is recorded: nobody is booked"
        );
        let other = ManifestCommand::RecordManifest {
            flight: FlightKey::new("LH", "401", flight().date).unwrap(),
            passengers: list(&["P1"]),
        };
        assert!(matches!(
            state.decide(&other, &ctx),
            Err(ManifestError::OtherFlight { .. })
        ));
    }
}
