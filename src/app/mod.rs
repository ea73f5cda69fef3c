//! Application layer: turns commands into stored events.
//!
//! | module | owns |
//! |---|---|
//! | [`feedback`] | a channel message → a signal and, for a passenger's complaint, a complaint |
//! | [`ingest`] | the NATS ingest handler: parse, map, store, or reject |
//! | [`flight_ops`] | a flight-ops update → the flight commands that bring the aggregate up to date |
//! | [`manifests`] | a flight's passenger list → the bookings that changed and the new list, one atomic append |
//! | [`deadlines`] | the deadline task: passed SLA deadlines become `complaint.sla_breached` events |
//! | [`reactor`] | the loop reactors share: follow a read model's decision log from a checkpoint, act idempotently |
//! | [`spikes`] | the spike reactor: spike decisions of the `spikes` model become incidents with their signals attached |
//! | [`entitlements`] | the entitlement reaction: finally disrupted flights → compensation entitlements per known passenger, linked to the incident; what existed before an incident joins it |
//! | [`erasures`] | every `passenger.erased` destroys the passenger's data key, also after a crash in between |
//! | [`settlements`] | the settlement reaction: final states of linked compensations → recorded on their incident |
//! | [`consent`] | a contact planned on a channel the passenger refused is refused, unless a mandatory service notice |
//! | [`command`] | load a stream → `decide` → append with the expected version; retries, idempotency keys |

pub mod command;
pub mod consent;
pub mod deadlines;
pub mod entitlements;
pub mod erasures;
pub mod feedback;
pub mod flight_ops;
pub mod ingest;
pub mod manifests;
pub mod reactor;
pub mod settlements;
pub mod spikes;

pub use command::Journal;
