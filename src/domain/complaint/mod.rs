//! The complaint aggregate: one passenger's complaint, looping
//! received → acknowledged (apology) → routed → progress updates → resolution
//! proposed → closed (customer satisfied) or reopened (not satisfied) → … until
//! satisfied; a supervisor may take over at any open point.
//!
//! Events carry the timestamps and durations KPIs need (first response,
//! handling time), so read models never re-derive them from envelopes.
mod command;
mod decide;
mod error;
mod events;
#[cfg(test)]
pub(crate) mod invariants;
mod state;

#[cfg(test)]
pub(crate) mod proptests;
#[cfg(test)]
mod tests;

pub use command::ComplaintCommand;
pub use error::ComplaintError;
pub use events::*;
pub use state::Complaint;
#[cfg(test)]
use state::ComplaintStatus;

use crate::domain::common::DataSubject;
use crate::domain::{Aggregate, Context};

/// The stream holding one complaint: `complaint-<uuid>`.
pub fn stream_name(complaint_id: uuid::Uuid) -> String {
    format!("complaint-{complaint_id}")
}

impl Aggregate for Complaint {
    type Command = ComplaintCommand;
    type Event = ComplaintEvent;
    type Error = ComplaintError;

    fn decide(
        &self,
        command: &ComplaintCommand,
        ctx: &Context,
    ) -> Result<Vec<ComplaintEvent>, ComplaintError> {
        decide::decide(self, command, ctx)
    }

    fn evolve(self, event: &ComplaintEvent) -> Self {
        self.apply(event)
    }

    fn data_subject(&self, event: &ComplaintEvent) -> Option<DataSubject> {
        let passenger = match event {
            ComplaintEvent::Received(r) => &r.passenger,
            _ => self.passenger()?,
        };
        Some(DataSubject::Passenger(passenger.clone()))
    }
}
