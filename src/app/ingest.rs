//! The ingest handler: what crisisd does with each `crisis.ingest.<kind>` message.
//!
//! - `flightops`: parse ([`crate::domain::ingest::parse_flight_ops`]) → the commands that
//!   bring the flight up to date ([`super::flight_ops`]) → one atomic append with ids
//!   derived from the source message id.
//! - `feedback`: parse → a signal and, for a passenger's complaint, a complaint
//!   ([`super::feedback`]).
//!
//! Invalid input and domain refusals become rejections (never stored); a store that
//! refuses writes is a transient failure (the message comes back).
//!
//! Not yet here (issue 4 follow-up): spike detection opening incidents from signals, and
//! compensation entitlements from disruptions.

use std::hash::{Hash, Hasher};

use chrono::Utc;

use super::command::{CommandError, CommandMeta, execute_all, fingerprint, load};
use super::feedback::{Feedback, FeedbackError, record_feedback};
use super::flight_ops::{FlightUpdate, flight_commands};
use crate::bus::ingest::{Handled, IngestHandler, Rejection};
use crate::domain::common::{Actor, Category, Role, Severity};
use crate::domain::flight::{self, DelayCode, Flight};
use crate::domain::ingest::{
    self, FeedbackMessageV1, FlightOpsMessageV1, INGEST_MESSAGE_BYTES_MAX, IngestLimits,
};
use crate::domain::policy::airports;
use crate::domain::policy::severity::{self, SeverityConfig, SeverityInputs};
use crate::store::{AppendError, SledStore};

/// crisisd's ingest handler.
#[derive(Clone)]
pub struct CrisisIngest {
    store: SledStore,
    max_bytes: usize,
    severity: SeverityConfig,
}

impl CrisisIngest {
    pub fn new(store: SledStore) -> Self {
        CrisisIngest {
            store,
            max_bytes: INGEST_MESSAGE_BYTES_MAX,
            severity: SeverityConfig::default(),
        }
    }

    /// Signals get their severity under these thresholds (default: the shipped policy).
    pub fn with_severity(mut self, severity: SeverityConfig) -> Self {
        self.severity = severity;
        self
    }
}

fn ingest_actor(kind: &str) -> Actor {
    Actor {
        id: format!("ingest-{kind}"),
        role: Role::FlightOps,
    }
}

fn rejected(rejection: ingest::Rejection) -> Handled {
    Handled::Rejected(Rejection {
        code: rejection.code.to_owned(),
        message: rejection.message,
        pointer: rejection.pointer,
        source_message_id: rejection.source_message_id,
    })
}

fn refused(reason: String, source: &str) -> Handled {
    Handled::Rejected(Rejection {
        code: "refused".into(),
        message: reason,
        pointer: String::new(),
        source_message_id: Some(source.to_owned()),
    })
}

/// A refusal is the message's fault; anything else (store unavailable) is transient.
fn outcome<E: std::error::Error>(
    result: Result<(), CommandError<E>>,
    source: &str,
) -> Result<Handled, String> {
    match result {
        Ok(()) => Ok(Handled::Stored),
        Err(CommandError::IdempotencyKeyReused { .. }) => Ok(Handled::Rejected(Rejection {
            code: "source_message_id_reused".into(),
            message: "a different message with this source_message_id was stored before; a sender gives every new message a new id (a redelivery repeats the same message exactly)".into(),
            pointer: "/source_message_id".into(),
            source_message_id: Some(source.to_owned()),
        })),
        Err(err @ CommandError::Refused(_)) => Ok(refused(err.to_string(), source)),
        Err(CommandError::Append(
            AppendError::InvalidEvent { .. } | AppendError::EventTooLarge { .. },
        )) => Ok(refused(
            "the message produces an event the store refuses".into(),
            source,
        )),
        Err(other) => Err(other.to_string()),
    }
}

impl FlightOpsMessageV1 {
    fn update(&self) -> FlightUpdate {
        let airport = |code: &str| {
            crate::domain::common::AirportCode::parse(code).expect("validated when parsed")
        };
        FlightUpdate {
            flight: self.flight_key(),
            origin: airport(&self.origin),
            destination: airport(&self.destination),
            scheduled_departure: self.scheduled_departure,
            scheduled_arrival: self.scheduled_arrival,
            estimated_departure: self.estimated_departure,
            estimated_arrival: self.estimated_arrival,
            actual_departure: self.actual_departure,
            actual_arrival: self.actual_arrival,
            status: self.status,
            delays: self
                .delays
                .iter()
                .map(|d| {
                    (
                        DelayCode::new(d.code.parse().expect("validated")).expect("validated"),
                        d.minutes,
                    )
                })
                .collect(),
            change_reason: self.change_reason.clone(),
            notified_at: self.notified_at,
            passenger_count: self.passenger_count,
        }
    }
}

impl FeedbackMessageV1 {
    fn feedback(&self) -> Feedback {
        Feedback {
            source_message_id: self.source_message_id.clone(),
            channel: self.channel,
            text: self.text.clone(),
            passenger: self.passenger(),
            flight: self.flight.as_ref().map(|f| f.flight_key()),
            category: self.category_hint,
            received_at: self.received_at,
            reach: self.reach.unwrap_or(1),
            fingerprint: Some(message_fingerprint(self)),
        }
    }

    /// One message's severity under the severity policy (one passenger, its reach).
    fn severity(&self, config: &SeverityConfig) -> Severity {
        let inputs = SeverityInputs {
            passengers_affected: u32::from(self.passenger_ref.is_some()),
            vip_passengers: 0,
            safety: self.category_hint == Some(Category::Safety),
            reach: self.reach.unwrap_or(1),
        };
        severity::assess(&inputs, config).severity
    }
}

/// What a message says, as a fingerprint: a redelivery has the same, a different
/// message reusing its source id has another.
fn message_fingerprint(message: &impl serde::Serialize) -> [u8; 32] {
    fingerprint(&serde_json::to_value(message).unwrap_or_default())
}

/// The ingest lane of a message of `kind`: one flight's messages stay in order (and one
/// feedback message's redeliveries); a message that does not parse goes anywhere. Only
/// the keys are read (borrowed when unescaped); the rest is skipped unparsed.
pub fn lane_key(kind: &str, payload: &[u8]) -> u64 {
    #[derive(serde::Deserialize, Default)]
    struct Keys<'a> {
        #[serde(borrow)]
        carrier: Option<std::borrow::Cow<'a, str>>,
        #[serde(borrow)]
        flight_number: Option<std::borrow::Cow<'a, str>>,
        #[serde(borrow)]
        origin_date: Option<std::borrow::Cow<'a, str>>,
        #[serde(borrow)]
        source_message_id: Option<std::borrow::Cow<'a, str>>,
    }
    let keys: Keys = serde_json::from_slice(payload).unwrap_or_default();
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    match kind {
        "flightops" => [keys.carrier, keys.flight_number, keys.origin_date]
            .iter()
            .for_each(|f| f.as_deref().hash(&mut hasher)),
        _ => keys.source_message_id.as_deref().hash(&mut hasher),
    }
    hasher.finish()
}

impl IngestHandler for CrisisIngest {
    fn lane_key(&self, kind: &str, payload: &[u8]) -> u64 {
        lane_key(kind, payload)
    }

    async fn handle(
        &self,
        kind: &str,
        payload: &[u8],
        _nats_message_id: Option<&str>,
    ) -> Result<Handled, String> {
        self.ingest(kind, payload, &ingest_actor(kind)).await
    }
}

impl CrisisIngest {
    /// Validates and stores one ingest message of `kind` on behalf of `actor` (the NATS
    /// consumer's `ingest-<kind>`, or the token's actor over HTTP).
    pub async fn ingest(
        &self,
        kind: &str,
        payload: &[u8],
        actor: &Actor,
    ) -> Result<Handled, String> {
        let now = Utc::now();
        let limits = IngestLimits {
            max_bytes: self.max_bytes,
            ..IngestLimits::at(now)
        };
        match kind {
            "flightops" => {
                let message = match ingest::parse_flight_ops(payload, &limits, &airports::is_known)
                {
                    Ok(message) => message,
                    Err(rejection) => return Ok(rejected(rejection)),
                };
                let update = message.update();
                let stream = flight::stream_name(&update.flight);
                let (state, _) =
                    load::<Flight, _>(&self.store, &stream).map_err(|err| err.to_string())?;
                let commands = flight_commands(&state, &update);
                let meta = CommandMeta {
                    idempotency_key: Some(message.source_message_id.clone()),
                    request_fingerprint: Some(message_fingerprint(&message)),
                    ..CommandMeta::new(actor.clone(), now)
                };
                let result = execute_all::<Flight, _>(&self.store, &stream, &commands, &meta)
                    .await
                    .map(|_| ());
                outcome(result, &message.source_message_id)
            }
            "feedback" => {
                let message = match ingest::parse_feedback(payload, &limits) {
                    Ok(message) => message,
                    Err(rejection) => return Ok(rejected(rejection)),
                };
                let source = message.source_message_id.clone();
                match record_feedback(
                    &self.store,
                    &message.feedback(),
                    message.severity(&self.severity),
                    actor,
                    now,
                )
                .await
                {
                    Ok(_) => Ok(Handled::Stored),
                    Err(FeedbackError::Signal(err)) => outcome(Err(err), &source),
                    Err(FeedbackError::Complaint(err)) => outcome(Err(err), &source),
                    Err(FeedbackError::Passenger(err)) => outcome(Err(err), &source),
                }
            }
            other => Ok(Handled::Rejected(Rejection {
                code: "unknown_kind".into(),
                message: format!(
                    "crisisd reads crisis.ingest.flightops and crisis.ingest.feedback, not {other}"
                ),
                pointer: String::new(),
                source_message_id: None,
            })),
        }
    }
}

#[cfg(test)]
#[path = "ingest_tests.rs"]
mod tests;
