//! Projections: separate tasks that turn the committed log into read models.
//!
//! | module | owns |
//! |---|---|
//! | [`check`] | whether a data directory's read models equal a replay of its log (tests and audits) |
//! | [`timeline`] | per incident and complaint: every event in order with its actor |
//! | [`sla_deadlines`] | every complaint service level still running, by deadline: what the deadline task watches |
//! | [`spikes`] | the spike detector's state per correlation key and the log of its decisions (open, attach) |
//! | [`disruptions`] | per flight: final disruption, passengers known on it, its incident; the log of entitlements due |
//! | [`flights`] | per flight: its facts as flight ops reported them, its incidents, complaints and signals; the disrupted flights per day and airport |
//! | [`incidents`] | one summary per incident: the pipeline board, assess (impact, assignments, loads), plan, follow-up and review views |
//! | [`compensations`] | every entitlement's status and amounts, totals per incident and currency, open legal deadlines: the money side of the execute view |
//! | [`complaints`] | complaint summaries (no customer words) with their deadlines, the queue of open complaints, KPIs per agent (credited per action), department, tier, channel and day |
//! | [`passengers`] | the passenger view: tier, contact record (personal data), complaints, contacts, compensations |
//! | [`monitor`] | the live signal feed and counts per category, channel, flight and airport over 15 min, 1 h and 24 h |
//! | [`knowledge`] | the knowledge base: playbooks, templates and answers at their current version, their revisions, search |
//! | [`suggestions`] | customer suggestions with their stage and evaluation deadline |
//! | [`reports`] | the customer-service figures of each recorded day per department, agent, tier, channel and route: daily, weekly and monthly reports |
//! | [`model`] | the read side's interface: [`ReadModel`] (typed reads and the checkpoint) and [`ModelError`] |
//! | [`runtime`] | the [`Projection`] trait, exactly-once application with the checkpoint in the model's own atomic batch, catch-up then live, rebuild, status and lag |
//!
//! Each read model is one file; [`all`] lists them, and `serve`, `rebuild` and the
//! benchmarks take that list, so adding a model is one file and one line there.

pub mod check;
pub mod compensations;
pub mod complaints;
#[cfg(test)]
mod determinism;
pub mod disruptions;
pub mod flights;
pub mod incidents;
pub mod knowledge;
pub mod model;
pub mod monitor;
pub mod passengers;
pub mod reports;
pub mod runtime;
pub mod sla_deadlines;
pub mod spikes;
pub mod suggestions;
#[cfg(test)]
pub(crate) mod testing;
pub mod timeline;

use crate::domain::policy::crisis::CrisisPolicy;

pub use model::{ModelError, ReadModel};
pub use runtime::{
    APPLY_BATCH_EVENTS_MAX, ModelTx, Projection, ProjectionError, ProjectionLag, ProjectionStatus,
    Projector, Scratch, rebuild, rebuild_together,
};

/// Every read model crisisd maintains, each fresh (models keep their state in their
/// own tree, never in memory, so a fresh value resumes from its checkpoint). Deadlines
/// and spikes are derived under `policy`: a changed policy applies to the events that
/// follow, and a rebuild derives the whole model under the policy it is given.
pub fn all(policy: &CrisisPolicy) -> Vec<Box<dyn Projection>> {
    vec![
        Box::new(timeline::Timeline),
        Box::new(sla_deadlines::SlaDeadlines {
            policy: policy.sla.clone(),
        }),
        Box::new(spikes::Spikes {
            config: policy.spike.clone(),
        }),
        Box::new(disruptions::Disruptions),
        Box::new(flights::Flights),
        Box::new(incidents::Incidents),
        Box::new(compensations::Compensations),
        Box::new(complaints::Complaints {
            sla: policy.sla.clone(),
        }),
        Box::new(passengers::Passengers),
        Box::new(monitor::Monitor),
        Box::new(reports::Reports),
        Box::new(suggestions::Suggestions {
            policy: policy.clone(),
        }),
        Box::new(knowledge::Knowledge),
    ]
}

/// The UUID of a stream named `<prefix><uuid>` (`complaint-…`), if it is one.
pub(crate) fn stream_uuid(stream: &str, prefix: &str) -> Option<uuid::Uuid> {
    stream.strip_prefix(prefix)?.parse().ok()
}

/// A unit enum value as its JSON form (`eu261`, `flight_operations`), as reports and
/// CSV files spell it.
pub(crate) fn spelled(value: &impl serde::Serialize) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// A CSV field (RFC 4180), quoted when it holds a comma, a quote or a line break.
pub(crate) fn csv_field(field: &str) -> String {
    if field.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_owned()
    }
}

/// The read model called `name`.
pub fn by_name(name: &str, policy: &CrisisPolicy) -> Option<Box<dyn Projection>> {
    all(policy).into_iter().find(|p| p.name() == name)
}

/// The names of every read model, in [`all`] order.
pub fn names() -> Vec<&'static str> {
    all(&CrisisPolicy::default())
        .iter()
        .map(|p| p.name())
        .collect()
}
