//! The flight aggregate: disruption facts reported by flight ops for one
//! operated flight (`flight-<carrier><number>-<YYYY-MM-DD>`): schedule,
//! estimates, actual times, status, delay minutes per IATA code, when
//! passengers were told, and who is answerable ([`controllability`]).
pub mod controllability;
mod events;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

use crate::domain::common::api_name;
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

pub use controllability::{Controllability, DelayCode};
pub use events::*;

use crate::domain::common::{AirportCode, FlightKey, Role};
use crate::domain::{Aggregate, Context};

/// The stream holding one flight: `flight-LH400-2026-11-22`.
pub fn stream_name(flight: &FlightKey) -> String {
    format!("flight-{flight}")
}

/// A request to a flight, mostly translated from flight-ops messages.
#[derive(Debug, Clone, PartialEq)]
pub enum FlightCommand {
    ScheduleFlight {
        schedule: FlightScheduled,
    },
    UpdateEstimates {
        departure: Option<DateTime<Utc>>,
        arrival: Option<DateTime<Utc>>,
    },
    RecordDeparture {
        at: DateTime<Utc>,
    },
    RecordArrival {
        at: DateTime<Utc>,
        airport: AirportCode,
    },
    /// Corrects the arrival time at the destination (nothing is recorded when it is the
    /// time known).
    CorrectArrival {
        at: DateTime<Utc>,
    },
    ChangeStatus {
        status: FlightStatus,
        reason: String,
    },
    /// Sets the minutes attributed to one delay code (0 removes it).
    RecordDelay {
        code: DelayCode,
        minutes: u32,
    },
    RecordPassengerNotification {
        at: DateTime<Utc>,
    },
    /// A crisis lead overrides the derived class, with a reason
    /// (`POST /v1/flights/{carrier}/{number}/{date}/override_controllability`).
    OverrideControllability {
        controllability: Controllability,
        reason: String,
    },
}

/// A refused flight command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FlightError {
    #[error("the flight has not been scheduled")]
    NotScheduled,
    #[error("the flight is already scheduled")]
    AlreadyScheduled,
    #[error("origin and destination are both {airport}")]
    SameOriginAndDestination { airport: AirportCode },
    #[error("arrival must be after departure")]
    ArrivalBeforeDeparture,
    #[error("an estimate update needs a departure or an arrival time")]
    NothingToUpdate,
    #[error("the flight is finished ({}); it takes no more estimates", api_name(.status))]
    FlightFinished { status: FlightStatus },
    #[error("a cancelled flight does not depart")]
    FlightCancelled,
    #[error("the flight has already departed")]
    AlreadyDeparted,
    #[error("an arrival requires a recorded departure")]
    ArrivalRequiresDeparture,
    #[error("only an arrival recorded at the destination can be corrected")]
    CorrectionRequiresArrival,
    #[error("the flight has already arrived there")]
    AlreadyArrived,
    #[error("an arrival after a diversion must be later than the diversion landing")]
    ArrivalBeforeDiversion,
    #[error("the status is already {}", api_name(.status))]
    StatusUnchanged { status: FlightStatus },
    #[error("a departed flight cannot be cancelled")]
    CannotCancelDepartedFlight,
    #[error("{} requires a departed flight that has not arrived", api_name(.status))]
    RequiresFlightUnderway { status: FlightStatus },
    #[error("a status change other than on_time needs a reason")]
    ReasonRequired,
    #[error("code {} already has {minutes} minutes", api_name(.code))]
    DelayUnchanged { code: DelayCode, minutes: u32 },
    #[error("passengers cannot have been notified in the future")]
    NotificationInFuture,
    #[error("only a crisis lead may override controllability; the actor's role is {}", api_name(.role))]
    OverrideRequiresCrisisLead { role: Role },
}

/// A person's override of the derived controllability.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
pub struct ControllabilityOverride {
    pub controllability: Controllability,
    pub reason: String,
    pub by: String,
}

/// Where a diverted flight first landed, and when.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
pub struct DivertedTo {
    pub airport: AirportCode,
    pub landed_at: DateTime<Utc>,
}

/// The state of one flight stream: the disruption facts as crisisd knows them.
#[derive(
    Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
pub struct Flight {
    pub schedule: Option<FlightScheduled>,
    pub estimated_departure: Option<DateTime<Utc>>,
    pub estimated_arrival: Option<DateTime<Utc>>,
    pub actual_departure: Option<DateTime<Utc>>,
    /// The latest arrival: at the destination, or at a diversion airport until the
    /// flight (or its passengers) reach the destination.
    pub actual_arrival: Option<DateTime<Utc>>,
    pub arrival_airport: Option<AirportCode>,
    /// The first arrival somewhere other than the destination: airport and time.
    pub diversion: Option<DivertedTo>,
    pub status: FlightStatus,
    pub status_reason: Option<String>,
    pub delays: BTreeMap<DelayCode, u32>,
    pub derived_controllability: Controllability,
    pub controllability_override: Option<ControllabilityOverride>,
    /// The latest time passengers were told of a change.
    pub passengers_notified_at: Option<DateTime<Utc>>,
}

impl Flight {
    /// The class that counts: the override if a person recorded one, else the derived class.
    pub fn controllability(&self) -> Controllability {
        self.controllability_override
            .as_ref()
            .map_or(self.derived_controllability, |o| o.controllability)
    }

    /// Arrival delay in minutes against the schedule, once the flight (or, after a
    /// diversion, its passengers) arrived at the destination.
    pub fn arrival_delay_minutes(&self) -> Option<i64> {
        let scheduled = self.schedule.as_ref()?.scheduled_arrival;
        if !self.arrived_at_destination() {
            return None;
        }
        Some((self.actual_arrival? - scheduled).num_minutes())
    }

    /// The flight (or its passengers, after a diversion) reached the destination.
    pub fn arrived_at_destination(&self) -> bool {
        self.schedule
            .as_ref()
            .is_some_and(|s| self.arrival_airport == Some(s.destination))
    }
}

impl Aggregate for Flight {
    type Command = FlightCommand;
    type Event = FlightEvent;
    type Error = FlightError;

    fn decide(
        &self,
        command: &FlightCommand,
        ctx: &Context,
    ) -> Result<Vec<FlightEvent>, FlightError> {
        use FlightCommand as C;
        match (&self.schedule, command) {
            (None, C::ScheduleFlight { schedule }) => schedule_flight(schedule),
            (Some(_), C::ScheduleFlight { .. }) => Err(FlightError::AlreadyScheduled),
            (None, _) => Err(FlightError::NotScheduled),
            (Some(_), C::UpdateEstimates { departure, arrival }) => {
                self.update_estimates(*departure, *arrival)
            }
            (Some(_), C::RecordDeparture { at }) => self.depart(*at),
            (Some(_), C::RecordArrival { at, airport }) => self.arrive(*at, *airport),
            (Some(_), C::CorrectArrival { at }) => self.correct_arrival(*at),
            (Some(_), C::ChangeStatus { status, reason }) => self.change_status(*status, reason),
            (Some(_), C::RecordDelay { code, minutes }) => self.record_delay(*code, *minutes),
            (Some(_), C::RecordPassengerNotification { at }) => {
                if *at > ctx.now {
                    return Err(FlightError::NotificationInFuture);
                }
                Ok(vec![FlightEvent::PassengersNotified(PassengersNotified {
                    notified_at: *at,
                })])
            }
            (
                Some(_),
                C::OverrideControllability {
                    controllability,
                    reason,
                },
            ) => {
                if ctx.actor.role != Role::CrisisLead {
                    return Err(FlightError::OverrideRequiresCrisisLead {
                        role: ctx.actor.role,
                    });
                }
                if reason.trim().is_empty() {
                    return Err(FlightError::ReasonRequired);
                }
                let event = ControllabilityOverridden {
                    controllability: *controllability,
                    reason: reason.clone(),
                    overridden_by: ctx.actor.id.clone(),
                };
                Ok(vec![FlightEvent::ControllabilityOverridden(event)])
            }
        }
    }

    fn evolve(mut self, event: &FlightEvent) -> Self {
        match event {
            FlightEvent::Scheduled(e) => self.schedule = Some(e.clone()),
            FlightEvent::EstimatesUpdated(e) => {
                self.estimated_departure = e.estimated_departure.or(self.estimated_departure);
                self.estimated_arrival = e.estimated_arrival.or(self.estimated_arrival);
            }
            FlightEvent::Departed(e) => self.actual_departure = Some(e.actual_departure),
            FlightEvent::Arrived(e) => {
                let elsewhere = self
                    .schedule
                    .as_ref()
                    .is_some_and(|s| s.destination != e.airport);
                if elsewhere && self.diversion.is_none() {
                    self.diversion = Some(DivertedTo {
                        airport: e.airport,
                        landed_at: e.actual_arrival,
                    });
                }
                self.actual_arrival = Some(e.actual_arrival);
                self.arrival_airport = Some(e.airport);
            }
            FlightEvent::ArrivalCorrected(e) => self.actual_arrival = Some(e.to),
            FlightEvent::Reinstated(e) => {
                self.status = e.to;
                self.status_reason = Some(e.reason.clone());
            }
            FlightEvent::StatusChanged(e) => {
                self.status = e.to;
                self.status_reason = Some(e.reason.clone());
            }
            FlightEvent::DelayRecorded(e) => {
                if e.minutes == 0 {
                    self.delays.remove(&e.code);
                } else {
                    self.delays.insert(e.code, e.minutes);
                }
                self.derived_controllability = e.derived_controllability;
            }
            FlightEvent::PassengersNotified(e) => self.passengers_notified_at = Some(e.notified_at),
            FlightEvent::ControllabilityOverridden(e) => {
                self.controllability_override = Some(ControllabilityOverride {
                    controllability: e.controllability,
                    reason: e.reason.clone(),
                    by: e.overridden_by.clone(),
                });
            }
        }
        self
    }
}

fn schedule_flight(schedule: &FlightScheduled) -> Result<Vec<FlightEvent>, FlightError> {
    if schedule.origin == schedule.destination {
        return Err(FlightError::SameOriginAndDestination {
            airport: schedule.origin,
        });
    }
    if schedule.scheduled_arrival <= schedule.scheduled_departure {
        return Err(FlightError::ArrivalBeforeDeparture);
    }
    Ok(vec![FlightEvent::Scheduled(schedule.clone())])
}

impl Flight {
    fn update_estimates(
        &self,
        departure: Option<DateTime<Utc>>,
        arrival: Option<DateTime<Utc>>,
    ) -> Result<Vec<FlightEvent>, FlightError> {
        if self.status == FlightStatus::Cancelled || self.arrived_at_destination() {
            return Err(FlightError::FlightFinished {
                status: self.status,
            });
        }
        if departure.is_none() && arrival.is_none() {
            return Err(FlightError::NothingToUpdate);
        }
        let effective_departure = departure
            .or(self.actual_departure)
            .or(self.estimated_departure);
        let effective_arrival = arrival.or(self.estimated_arrival);
        if let (Some(dep), Some(arr)) = (effective_departure, effective_arrival)
            && arr <= dep
        {
            return Err(FlightError::ArrivalBeforeDeparture);
        }
        let event = EstimatesUpdated {
            estimated_departure: departure,
            estimated_arrival: arrival,
        };
        Ok(vec![FlightEvent::EstimatesUpdated(event)])
    }

    fn depart(&self, at: DateTime<Utc>) -> Result<Vec<FlightEvent>, FlightError> {
        if self.status == FlightStatus::Cancelled {
            return Err(FlightError::FlightCancelled);
        }
        if self.actual_departure.is_some() {
            return Err(FlightError::AlreadyDeparted);
        }
        Ok(vec![FlightEvent::Departed(FlightDeparted {
            actual_departure: at,
        })])
    }

    fn correct_arrival(&self, at: DateTime<Utc>) -> Result<Vec<FlightEvent>, FlightError> {
        let (Some(known), true) = (self.actual_arrival, self.arrived_at_destination()) else {
            return Err(FlightError::CorrectionRequiresArrival);
        };
        if at == known {
            return Ok(Vec::new());
        }
        let after = self
            .diversion
            .map(|d| d.landed_at)
            .or(self.actual_departure);
        if after.is_some_and(|after| at <= after) {
            return Err(FlightError::ArrivalBeforeDeparture);
        }
        Ok(vec![FlightEvent::ArrivalCorrected(ArrivalCorrected {
            from: known,
            to: at,
        })])
    }

    fn arrive(
        &self,
        at: DateTime<Utc>,
        airport: AirportCode,
    ) -> Result<Vec<FlightEvent>, FlightError> {
        let departed = self
            .actual_departure
            .ok_or(FlightError::ArrivalRequiresDeparture)?;
        // After a diversion the flight, or its passengers by other means, may still
        // reach the destination (or another airport on the way): a later arrival.
        if let Some(previous) = self.actual_arrival {
            if self.arrived_at_destination() || self.arrival_airport == Some(airport) {
                return Err(FlightError::AlreadyArrived);
            }
            if at <= previous {
                return Err(FlightError::ArrivalBeforeDiversion);
            }
        }
        if at <= departed {
            return Err(FlightError::ArrivalBeforeDeparture);
        }
        Ok(vec![FlightEvent::Arrived(FlightArrived {
            actual_arrival: at,
            airport,
        })])
    }

    fn change_status(
        &self,
        to: FlightStatus,
        reason: &str,
    ) -> Result<Vec<FlightEvent>, FlightError> {
        if to == self.status {
            return Err(FlightError::StatusUnchanged { status: to });
        }
        let underway = self.actual_departure.is_some() && self.actual_arrival.is_none();
        match to {
            FlightStatus::Cancelled if self.actual_departure.is_some() => {
                return Err(FlightError::CannotCancelDepartedFlight);
            }
            FlightStatus::Diverted | FlightStatus::ReturnToRamp if !underway => {
                return Err(FlightError::RequiresFlightUnderway { status: to });
            }
            _ => {}
        }
        if self.status == FlightStatus::Cancelled {
            // Not a silent status change: entitlements were decided on the cancellation.
            if reason.trim().is_empty() {
                return Err(FlightError::ReasonRequired);
            }
            return Ok(vec![FlightEvent::Reinstated(FlightReinstated {
                to,
                reason: reason.to_owned(),
            })]);
        }
        if to != FlightStatus::OnTime && reason.trim().is_empty() {
            return Err(FlightError::ReasonRequired);
        }
        Ok(vec![FlightEvent::StatusChanged(StatusChanged {
            from: self.status,
            to,
            reason: reason.to_owned(),
        })])
    }

    fn record_delay(&self, code: DelayCode, minutes: u32) -> Result<Vec<FlightEvent>, FlightError> {
        let current = self.delays.get(&code).copied().unwrap_or(0);
        if current == minutes {
            return Err(FlightError::DelayUnchanged { code, minutes });
        }
        let mut delays = self.delays.clone();
        delays.insert(code, minutes);
        let derived_controllability = controllability::derive(&delays);
        Ok(vec![FlightEvent::DelayRecorded(DelayRecorded {
            code,
            minutes,
            derived_controllability,
        })])
    }
}
