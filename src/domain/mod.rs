//! The crisis domain: every business rule of crisisd, pure.
//!
//! No IO, no clock, no randomness: the current time and any new ids arrive in a
//! [`Context`] or inside the command. Each aggregate exposes
//! `decide(&state, &command, &ctx) -> Result<Vec<Event>, Error>` (all rules live
//! here) and `evolve(state, &event) -> state` (only applies facts).
//!
//! | module | owns |
//! |---|---|
//! | [`common`] | shared vocabulary: tiers, channels, categories, severity, money, airports, flight keys, passenger ids, actors, personal data, settlements |
//! | [`compensation`] | one entitlement per passenger per disrupted flight: computed → offered → accepted/declined → paid/failed |
//! | [`complaint`] | one passenger's complaint loop: received → acknowledged → routed → proposed → closed/reopened |
//! | [`event`] | the `domain_events!` macro: event enums, type names, data round trip, schemas |
//! | [`flight`] | disruption facts per operated flight; controllability derived from IATA delay codes |
//! | [`incident`] | the crisis pipeline monitor → assess → plan → execute → follow-up → review → closed |
//! | [`ingest`] | versioned ingest message formats and their validation |
//! | [`manifest`] | which passengers a flight's last manifest listed (ids only) |
//! | [`passenger`] | tier, contact details (personal data, redacted in `Debug`), contact consent, bookings |
//! | [`policy`] | compensation regimes, SLA calendar, severity, spike detection, airports |
//! | [`schemas`] | JSON Schema of every event and ingest message; a test keeps `schemas/` in sync |
//! | [`signal`] | one channel observation, its classification and correlation key (flight + date + category) |
//!
//! Dependencies point inward: nothing here knows about the store, NATS or HTTP.

pub mod common;
pub mod compensation;
pub mod complaint;
pub mod event;
pub mod flight;
pub mod incident;
pub mod ingest;
pub mod knowledge;
pub mod manifest;
pub mod passenger;
pub mod policy;
pub mod schemas;
pub mod signal;
pub mod suggestion;
#[cfg(test)]
pub(crate) mod testing;

use chrono::{DateTime, Utc};

/// What `decide` may know about the world besides the state and the command.
///
/// The actor travels here rather than in each command: it is the authenticated
/// caller the envelope records anyway, and role-gated rules (plan approvals and
/// closing an incident need a `crisis_lead`) read it from one place. Events
/// that are about a person's decision (`approved_by`) copy its id into their data.
#[derive(Debug, Clone, PartialEq)]
pub struct Context {
    /// The instant the command is decided at (passed in, never read from a clock here).
    pub now: DateTime<Utc>,
    /// Who issues the command.
    pub actor: common::Actor,
}

impl Context {
    /// A context for a command issued by `actor` at `now`.
    pub fn new(now: DateTime<Utc>, actor: common::Actor) -> Self {
        Context { now, actor }
    }
}

/// A domain event: a past-tense fact with a stable type name `<aggregate>.<fact>`.
pub trait DomainEvent: Sized {
    /// `<aggregate>.<fact>`, e.g. `incident.opened`.
    fn event_type(&self) -> &'static str;
    /// Schema version of this event's data as written today.
    fn schema_version(&self) -> u32;
    /// The event's data as JSON (the envelope's `data` field).
    fn to_data(&self) -> serde_json::Value;
    /// Rebuilds an event from a stored envelope's type, schema version and data,
    /// upcasting older schema versions.
    fn from_data(
        event_type: &str,
        schema_version: u32,
        data: &str,
    ) -> Result<Self, EventDecodeError>;
}

/// An event-sourced aggregate: state rebuilt from its events.
pub trait Aggregate: Default + Clone {
    /// What callers ask of the aggregate (imperative: `OpenIncident`).
    type Command;
    /// The facts it records (past tense: `incident.opened`).
    type Event: DomainEvent;
    /// Its refusals, each naming the rule broken.
    type Error: std::error::Error;

    /// Business rules: the events a command produces, or a refusal naming the rule.
    fn decide(
        &self,
        command: &Self::Command,
        ctx: &Context,
    ) -> Result<Vec<Self::Event>, Self::Error>;
    /// Applies one fact. Never fails, never decides.
    fn evolve(self, event: &Self::Event) -> Self;
    /// Whose personal data `event` holds, judged on the state before it (`None`: the
    /// event holds none). Its personal values are sealed with that subject's key.
    fn data_subject(&self, _event: &Self::Event) -> Option<common::DataSubject> {
        None
    }
}

/// A stored event this build cannot turn into a domain event.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum EventDecodeError {
    #[error("unknown event type {event_type:?}: this build does not know it; upgrade crisisd")]
    UnknownType { event_type: String },
    #[error(
        "event type {event_type:?} has schema version {found}, newer than the supported {supported}; upgrade crisisd"
    )]
    UnsupportedVersion {
        event_type: String,
        found: u32,
        supported: u32,
    },
    #[error("event type {event_type:?} data does not match its schema: {message}")]
    InvalidData { event_type: String, message: String },
}
