//! The facts flight ops report about one flight.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::controllability::{Controllability, DelayCode};
use crate::domain::common::{AirportCode, FlightKey};
use crate::domain::event::domain_events;

/// Operational status of a flight.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Default,
    Serialize,
    Deserialize,
    JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum FlightStatus {
    #[default]
    OnTime,
    Delayed,
    Cancelled,
    Diverted,
    ReturnToRamp,
}

/// `flight.scheduled`: the plan the disruption is measured against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FlightScheduled {
    pub flight: FlightKey,
    pub origin: AirportCode,
    pub destination: AirportCode,
    pub scheduled_departure: DateTime<Utc>,
    pub scheduled_arrival: DateTime<Utc>,
    pub passenger_count: u32,
}

/// `flight.estimates_updated`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct EstimatesUpdated {
    pub estimated_departure: Option<DateTime<Utc>>,
    pub estimated_arrival: Option<DateTime<Utc>>,
}

/// `flight.departed` (off-block).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FlightDeparted {
    pub actual_departure: DateTime<Utc>,
}

/// `flight.arrived` (on-block; for EU 261 the doors-open time).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FlightArrived {
    pub actual_arrival: DateTime<Utc>,
    /// Where it arrived; differs from the destination after a diversion.
    pub airport: AirportCode,
}

/// `flight.status_changed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StatusChanged {
    pub from: FlightStatus,
    pub to: FlightStatus,
    pub reason: String,
}

/// `flight.delay_recorded`: minutes now attributed to one code (0 removes it),
/// and the class derived from all codes afterwards, so readers need not know
/// the mapping version that was in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DelayRecorded {
    pub code: DelayCode,
    pub minutes: u32,
    pub derived_controllability: Controllability,
}

/// `flight.passengers_notified`: when passengers were told of the change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PassengersNotified {
    pub notified_at: DateTime<Utc>,
}

/// `flight.controllability_overridden`: a person's recorded judgement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ControllabilityOverridden {
    pub controllability: Controllability,
    pub reason: String,
    pub overridden_by: String,
}

/// `flight.reinstated`: a cancelled flight operates after all. What was decided on the
/// cancellation is revisited once the flight's outcome is known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FlightReinstated {
    /// The status it is reinstated with (on time or delayed).
    pub to: FlightStatus,
    pub reason: String,
}

/// `flight.arrival_corrected`: flight ops reported another arrival time at the
/// destination after the first (a corrected on-block time); the disruption, and the
/// entitlements computed on it, follow the correction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ArrivalCorrected {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

domain_events! {
    /// Every fact a flight stream holds.
    pub enum FlightEvent {
        Scheduled(FlightScheduled) = "flight.scheduled",
        EstimatesUpdated(EstimatesUpdated) = "flight.estimates_updated",
        Departed(FlightDeparted) = "flight.departed",
        Arrived(FlightArrived) = "flight.arrived",
        ArrivalCorrected(ArrivalCorrected) = "flight.arrival_corrected",
        StatusChanged(StatusChanged) = "flight.status_changed",
        Reinstated(FlightReinstated) = "flight.reinstated",
        DelayRecorded(DelayRecorded) = "flight.delay_recorded",
        PassengersNotified(PassengersNotified) = "flight.passengers_notified",
        ControllabilityOverridden(ControllabilityOverridden) = "flight.controllability_overridden",
    }
}
