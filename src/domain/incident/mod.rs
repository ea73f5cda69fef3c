//! The incident aggregate: one crisis moving through the pipeline
//! monitor → assess → plan → execute → follow_up → review → closed.
//!
//! `decide` enforces the exit criteria of each stage (approved plans before
//! execution, every contact answered before follow-up, lessons, owned
//! improvements and settled compensations before closing); `evolve` applies facts.
mod command;
mod decide;
mod error;
mod events;
#[cfg(test)]
pub(crate) mod invariants;
mod state;
mod values;

#[cfg(test)]
pub(crate) mod proptests;
#[cfg(test)]
mod tests;

pub use command::*;
pub use error::IncidentError;
pub use events::*;
pub use state::Incident;
pub use values::*;

use crate::domain::common::DataSubject;
use crate::domain::{Aggregate, Context};

/// The stream holding one incident: `incident-<uuid>`.
pub fn stream_name(incident_id: uuid::Uuid) -> String {
    format!("incident-{incident_id}")
}

impl Aggregate for Incident {
    type Command = IncidentCommand;
    type Event = IncidentEvent;
    type Error = IncidentError;

    fn decide(
        &self,
        command: &IncidentCommand,
        ctx: &Context,
    ) -> Result<Vec<IncidentEvent>, IncidentError> {
        decide::decide(self, command, ctx)
    }

    fn evolve(self, event: &IncidentEvent) -> Self {
        self.apply(event)
    }

    /// Only a contact's outcome holds personal data (what the passenger said).
    fn data_subject(&self, event: &IncidentEvent) -> Option<DataSubject> {
        match event {
            IncidentEvent::ContactOutcomeRecorded(o) => self
                .contacts
                .get(&o.contact_id)
                .map(|c| DataSubject::Passenger(c.passenger.clone())),
            _ => None,
        }
    }
}
