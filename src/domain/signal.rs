//! The signal aggregate: one observation from a channel (a social post, a
//! hotline call, a flight-ops message), classified and keyed for correlation.
//!
//! The correlation key groups signals about the same thing: the flight and its
//! date plus the category. Spike detection counts signals per key; an incident
//! opened for a key attaches its signals here.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::common::{
    Category, Channel, DataSubject, FeedbackKind, FlightKey, PassengerId, PersonalData, Severity,
};
use crate::domain::event::domain_events;
use crate::domain::{Aggregate, Context};

/// The correlation key of a signal: `<flight>/<category>` (`LH400-2026-11-22/delay`)
/// when a flight is known, else `noflight-<observed UTC date>/<category>`, so
/// flight-less signals still group per day and topic.
pub fn correlation_key(
    flight: Option<&FlightKey>,
    category: Category,
    observed_at: DateTime<Utc>,
) -> String {
    match flight {
        Some(flight) => format!("{flight}/{}", category.as_str()),
        None => format!(
            "noflight-{}/{}",
            observed_at.format("%Y-%m-%d"),
            category.as_str()
        ),
    }
}

/// The stream holding one signal: `signal-<uuid>`.
pub fn stream_name(signal_id: Uuid) -> String {
    format!("signal-{signal_id}")
}

/// A request to a signal.
#[derive(Debug, Clone, PartialEq)]
pub enum SignalCommand {
    /// Records an observation; the correlation key is derived, not given.
    RecordSignal {
        signal_id: Uuid,
        channel: Channel,
        category: Category,
        severity: Severity,
        flight: Option<FlightKey>,
        passenger: Option<PassengerId>,
        /// Audience size (followers of a social post; 1 for a call).
        reach: u64,
        summary: PersonalData<String>,
        /// Id of the source message, for tracing back to the channel.
        source_ref: Option<String>,
        observed_at: DateTime<Utc>,
        /// What a customer's message is (`None`: not a customer's message, or derived).
        kind: Option<FeedbackKind>,
    },
    /// Links the signal to the incident handling it.
    AttachToIncident { incident_id: Uuid },
    /// Marks the signal as noise (spam, duplicate, unrelated). Decided and tested; no
    /// route issues it yet.
    #[cfg_attr(not(test), allow(dead_code))]
    DismissSignal { reason: String },
}

/// `signal.recorded`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SignalRecorded {
    pub signal_id: Uuid,
    pub channel: Channel,
    pub category: Category,
    pub severity: Severity,
    pub flight: Option<FlightKey>,
    pub passenger: Option<PassengerId>,
    pub reach: u64,
    /// What was said; may quote a customer, so personal data.
    pub summary: PersonalData<String>,
    pub source_ref: Option<String>,
    pub correlation_key: String,
    pub observed_at: DateTime<Utc>,
    /// What the customer's message is: a complaint, an inquiry or a suggestion (`null`
    /// on signals recorded before crisisd kept it, and on other signals).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<FeedbackKind>,
}

/// `signal.attached_to_incident`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SignalAttachedToIncident {
    pub incident_id: Uuid,
}

/// `signal.dismissed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SignalDismissed {
    pub reason: String,
    pub dismissed_by: String,
}

domain_events! {
    /// Every fact a signal stream holds.
    pub enum SignalEvent {
        Recorded(SignalRecorded) = "signal.recorded",
        AttachedToIncident(SignalAttachedToIncident) = "signal.attached_to_incident",
        Dismissed(SignalDismissed) = "signal.dismissed",
    }
}

/// A refused signal command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignalError {
    #[error("the signal has not been recorded")]
    NotRecorded,
    #[error("the signal was already recorded")]
    AlreadyRecorded,
    #[error("the signal is already attached to incident {incident_id}")]
    AlreadyAttached { incident_id: Uuid },
    #[error("the signal was dismissed as noise")]
    Dismissed,
    #[error("a signal attached to an incident cannot be dismissed")]
    AttachedSignalCannotBeDismissed,
    #[error("dismissing a signal needs a reason")]
    ReasonRequired,
}

/// The state of one signal stream.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Signal {
    pub recorded: Option<SignalRecorded>,
    pub incident_id: Option<Uuid>,
    pub dismissed: bool,
}

impl Aggregate for Signal {
    type Command = SignalCommand;
    type Event = SignalEvent;
    type Error = SignalError;

    fn decide(
        &self,
        command: &SignalCommand,
        ctx: &Context,
    ) -> Result<Vec<SignalEvent>, SignalError> {
        use SignalCommand as C;
        match (&self.recorded, command) {
            (None, C::RecordSignal { .. }) => Ok(vec![SignalEvent::Recorded(record(command))]),
            (Some(_), C::RecordSignal { .. }) => Err(SignalError::AlreadyRecorded),
            (None, _) => Err(SignalError::NotRecorded),
            (Some(_), C::AttachToIncident { incident_id }) => {
                if self.dismissed {
                    return Err(SignalError::Dismissed);
                }
                if let Some(incident_id) = self.incident_id {
                    return Err(SignalError::AlreadyAttached { incident_id });
                }
                Ok(vec![SignalEvent::AttachedToIncident(
                    SignalAttachedToIncident {
                        incident_id: *incident_id,
                    },
                )])
            }
            (Some(_), C::DismissSignal { reason }) => {
                if self.incident_id.is_some() {
                    return Err(SignalError::AttachedSignalCannotBeDismissed);
                }
                if self.dismissed {
                    return Err(SignalError::Dismissed);
                }
                if reason.trim().is_empty() {
                    return Err(SignalError::ReasonRequired);
                }
                let dismissed = SignalDismissed {
                    reason: reason.clone(),
                    dismissed_by: ctx.actor.id.clone(),
                };
                Ok(vec![SignalEvent::Dismissed(dismissed)])
            }
        }
    }

    fn evolve(mut self, event: &SignalEvent) -> Self {
        match event {
            SignalEvent::Recorded(e) => self.recorded = Some(e.clone()),
            SignalEvent::AttachedToIncident(e) => self.incident_id = Some(e.incident_id),
            SignalEvent::Dismissed(_) => self.dismissed = true,
        }
        self
    }

    /// The passenger who wrote, or for someone not identified, the signal itself.
    fn data_subject(&self, event: &SignalEvent) -> Option<DataSubject> {
        match event {
            SignalEvent::Recorded(r) => Some(match &r.passenger {
                Some(passenger) => DataSubject::Passenger(passenger.clone()),
                None => DataSubject::Signal(r.signal_id),
            }),
            _ => None,
        }
    }
}

fn record(command: &SignalCommand) -> SignalRecorded {
    let SignalCommand::RecordSignal {
        signal_id,
        channel,
        category,
        severity,
        flight,
        passenger,
        reach,
        summary,
        source_ref,
        observed_at,
        kind,
    } = command
    else {
        unreachable!("record is only called with RecordSignal")
    };
    SignalRecorded {
        signal_id: *signal_id,
        channel: *channel,
        category: *category,
        severity: *severity,
        flight: flight.clone(),
        passenger: passenger.clone(),
        reach: *reach,
        summary: summary.clone(),
        source_ref: source_ref.clone(),
        correlation_key: correlation_key(flight.as_ref(), *category, *observed_at),
        observed_at: *observed_at,
        kind: *kind,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::common::Role;
    use crate::domain::testing::{at, ctx_as, id};

    use SignalCommand as C;
    use SignalEvent as E;

    fn flight() -> FlightKey {
        FlightKey::new(
            "LH",
            "400",
            chrono::NaiveDate::from_ymd_opt(2026, 11, 21).unwrap(),
        )
        .unwrap()
    }

    fn record_command(flight: Option<FlightKey>) -> C {
        C::RecordSignal {
            signal_id: id(1),
            channel: Channel::SocialMedia,
            category: Category::Delay,
            severity: Severity::High,
            flight,
            passenger: None,
            reach: 120_000,
            summary: PersonalData("@ada: stuck at FRA for 5h".into()),
            source_ref: Some("tweet-1".into()),
            observed_at: at(0),
            kind: None,
        }
    }

    fn when(events: &[E], command: C) -> Result<Vec<E>, SignalError> {
        crate::domain::testing::when_in::<Signal>(events, &command, &ctx_as(Role::Agent))
    }

    fn recorded() -> Vec<E> {
        when(&[], record_command(Some(flight()))).unwrap()
    }

    #[test]
    fn correlation_key_is_flight_date_and_category() {
        assert_eq!(
            correlation_key(Some(&flight()), Category::BaggageLost, at(0)),
            "LH400-2026-11-21/baggage_lost"
        );
        assert_eq!(
            correlation_key(None, Category::Service, at(0)),
            "noflight-2026-11-22/service"
        );
        let other_day = correlation_key(None, Category::Service, at(24 * 60));
        assert_ne!(other_day, correlation_key(None, Category::Service, at(0)));
    }

    #[test]
    fn record_signal_derives_its_correlation_key() {
        let events = recorded();
        let E::Recorded(signal) = &events[0] else {
            panic!("{events:?}")
        };
        assert_eq!(signal.correlation_key, "LH400-2026-11-21/delay");
        assert!(
            !format!("{events:?}").contains("@ada"),
            "the post's text is personal data"
        );
        assert_eq!(
            when(&recorded(), record_command(None)),
            Err(SignalError::AlreadyRecorded)
        );
    }

    #[test]
    fn attach_to_incident() {
        let attached = when(&recorded(), C::AttachToIncident { incident_id: id(7) }).unwrap();
        assert_eq!(
            attached,
            vec![E::AttachedToIncident(SignalAttachedToIncident {
                incident_id: id(7)
            })]
        );
        let mut history = recorded();
        history.extend(attached);
        assert_eq!(
            when(&history, C::AttachToIncident { incident_id: id(8) }),
            Err(SignalError::AlreadyAttached { incident_id: id(7) })
        );
        assert_eq!(
            when(
                &history,
                C::DismissSignal {
                    reason: "spam".into()
                }
            ),
            Err(SignalError::AttachedSignalCannotBeDismissed)
        );
        assert_eq!(
            when(&[], C::AttachToIncident { incident_id: id(7) }),
            Err(SignalError::NotRecorded)
        );
    }

    #[test]
    fn dismiss_signal() {
        let dismissed = when(
            &recorded(),
            C::DismissSignal {
                reason: "spam".into(),
            },
        )
        .unwrap();
        let expected = SignalDismissed {
            reason: "spam".into(),
            dismissed_by: "agent-1".into(),
        };
        assert_eq!(dismissed, vec![E::Dismissed(expected)]);
        assert_eq!(
            when(&recorded(), C::DismissSignal { reason: "".into() }),
            Err(SignalError::ReasonRequired)
        );
        let mut history = recorded();
        history.extend(dismissed);
        assert_eq!(
            when(
                &history,
                C::DismissSignal {
                    reason: "again".into()
                }
            ),
            Err(SignalError::Dismissed)
        );
        assert_eq!(
            when(&history, C::AttachToIncident { incident_id: id(7) }),
            Err(SignalError::Dismissed)
        );
    }

    #[test]
    fn stream_name_and_event_types_use_the_aggregate_token() {
        assert_eq!(
            stream_name(id(1)),
            "signal-00000000-0000-0000-0000-000000000001"
        );
        assert!(
            SignalEvent::EVENT_TYPES
                .iter()
                .all(|t| t.starts_with("signal."))
        );
    }
}
