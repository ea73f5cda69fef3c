//! The ingest handler: what crisisd does with each `crisis.ingest.<kind>` message.
//!
//! - `flightops`: parse ([`crate::domain::ingest::parse_flight_ops`]) → the commands that
//!   bring the flight up to date ([`super::flight_ops`]) → one atomic append with ids
//!   derived from the source message id.
//! - `feedback`: parse → a signal and, for a passenger's complaint, a complaint
//!   ([`super::feedback`]).
//! - `manifest`: parse → the bookings that changed and the flight's new passenger list,
//!   in one atomic append ([`super::manifests`]).
//!
//! Invalid input and domain refusals become rejections (never stored), each naming the
//! message field it concerns: a flight's refusal of a command is traced back to the
//! field the command came from. A store that refuses writes is a transient failure (the
//! message comes back).
//!
//! Times are read against one `now` per message. A sender's clock may run ahead of
//! crisisd's by the configured skew ([`CrisisIngest::with_clock_skew`]): a time within it
//! is taken as `now` where the domain refuses the future (`notified_at`, `received_at`);
//! the parsed message, and so its fingerprint, keeps the time as sent, so a redelivery
//! still matches. Spikes and entitlements follow from the stored facts, in reactors
//! ([`super::spikes`], [`super::entitlements`]).

use std::hash::{Hash, Hasher};

use chrono::{DateTime, TimeDelta, Utc};

use super::command::{CommandError, CommandMeta, Journal, execute_all, fingerprint, load};
use super::feedback::{Feedback, FeedbackError, record_feedback};
use super::flight_ops::{FlightUpdate, flight_commands, refused_change};
use super::manifests::{ManifestFailure, record_manifest};
use crate::bus::ingest::{Handled, IngestHandler, Rejection};
use crate::domain::Context;
use crate::domain::common::{Actor, Category, Role, Severity};
use crate::domain::complaint::ComplaintError;
use crate::domain::flight::{self, DelayCode, Flight};
use crate::domain::ingest::{
    self, CLOCK_SKEW_S_DEFAULT, CLOCK_SKEW_S_MAX, FeedbackMessageV1, FlightOpsMessageV1,
    INGEST_MESSAGE_BYTES_MAX, IngestLimits, ManifestMessageV1,
};
use crate::domain::policy::airports;
use crate::domain::policy::severity::{self, SeverityConfig, SeverityInputs};
use crate::store::AppendError;

/// crisisd's ingest handler.
#[derive(Clone)]
pub struct CrisisIngest {
    journal: Journal,
    max_bytes: usize,
    severity: SeverityConfig,
    clock_skew: TimeDelta,
}

impl CrisisIngest {
    pub fn new(journal: Journal) -> Self {
        CrisisIngest {
            journal,
            max_bytes: INGEST_MESSAGE_BYTES_MAX,
            severity: SeverityConfig::default(),
            clock_skew: TimeDelta::seconds(CLOCK_SKEW_S_DEFAULT as i64),
        }
    }

    /// Signals get their severity under these thresholds (default: the shipped policy).
    pub fn with_severity(mut self, severity: SeverityConfig) -> Self {
        self.severity = severity;
        self
    }

    /// How far ahead of crisisd's clock a sender's may run (default 5 minutes): a time
    /// something happened up to this far in the future is taken as now, a later one is
    /// refused as `out_of_range`. At most [`CLOCK_SKEW_S_MAX`] seconds (`serve` checks).
    pub fn with_clock_skew(mut self, clock_skew: std::time::Duration) -> Self {
        assert!(
            clock_skew.as_secs() <= CLOCK_SKEW_S_MAX,
            "clock skew {clock_skew:?} is over {CLOCK_SKEW_S_MAX} s"
        );
        self.clock_skew = TimeDelta::from_std(clock_skew).expect("at most an hour");
        self
    }
}

fn ingest_actor(kind: &str) -> Actor {
    // Feedback comes from customer channels, everything else from flight operations.
    let role = if kind == "feedback" {
        Role::Channel
    } else {
        Role::FlightOps
    };
    Actor {
        id: format!("ingest-{kind}"),
        role,
    }
}

fn rejected(rejection: ingest::Rejection) -> Handled {
    Handled::Rejected(Rejection {
        code: rejection.code.to_owned(),
        message: rejection.message,
        pointer: rejection.pointer,
        source_message_id: rejection.source_message_id,
        ingest_sequence: None,
    })
}

/// A domain rule refused what the message asks, at `pointer` (`""`: the message).
fn refused(reason: String, pointer: &str, source: &str) -> Handled {
    Handled::Rejected(Rejection {
        code: "refused".into(),
        message: reason,
        pointer: pointer.to_owned(),
        source_message_id: Some(source.to_owned()),
        ingest_sequence: None,
    })
}

/// A refusal is the message's fault, at the field `field_of` names for it; anything else
/// (store unavailable) is transient.
fn outcome<E: std::error::Error>(
    result: Result<(), CommandError<E>>,
    source: &str,
    field_of: impl FnOnce(&E) -> &'static str,
) -> Result<Handled, String> {
    match result {
        Ok(()) => Ok(Handled::Stored),
        Err(CommandError::IdempotencyKeyReused { .. }) => Ok(Handled::Rejected(Rejection {
            code: "source_message_id_reused".into(),
            message: "a different message with this source_message_id was stored before; a sender gives every new message a new id (a redelivery repeats the same message exactly)".into(),
            pointer: "/source_message_id".into(),
            source_message_id: Some(source.to_owned()),
            ingest_sequence: None,
        })),
        Err(CommandError::Refused(refusal)) => Ok(refused(
            format!("refused: {refusal}"),
            field_of(&refusal),
            source,
        )),
        Err(CommandError::Append(
            AppendError::InvalidEvent { .. } | AppendError::EventTooLarge { .. },
        )) => Ok(refused(
            "the message produces an event the store refuses".into(),
            "",
            source,
        )),
        Err(other) => Err(other.to_string()),
    }
}

impl FlightOpsMessageV1 {
    /// The update the message reports, handled at `now`: a notice time a skewed clock put
    /// ahead of `now` is taken as `now`.
    fn update(&self, now: DateTime<Utc>) -> FlightUpdate {
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
            arrival_airport: self
                .arrival_airport
                .as_deref()
                .map_or_else(|| airport(&self.destination), airport),
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
            notified_at: self.notified_at.map(|at| at.min(now)),
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
            kind: self.kind,
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

/// The ingest lane of a message of `kind`: one flight's messages — flight ops, manifests,
/// feedback naming it — stay in the order they arrived; feedback naming no flight goes by
/// its source id (its redeliveries in order); a message that does not parse goes
/// anywhere. Only the keys are read (borrowed when unescaped); the rest is skipped
/// unparsed. One flight's storm of feedback is handled in one lane, in order.
pub fn lane_key(kind: &str, payload: &[u8]) -> u64 {
    #[derive(serde::Deserialize, Default)]
    struct Flight<'a> {
        #[serde(borrow)]
        carrier: Option<std::borrow::Cow<'a, str>>,
        #[serde(borrow)]
        flight_number: Option<std::borrow::Cow<'a, str>>,
        #[serde(borrow)]
        origin_date: Option<std::borrow::Cow<'a, str>>,
    }
    #[derive(serde::Deserialize, Default)]
    struct Keys<'a> {
        #[serde(borrow)]
        flight: Option<Flight<'a>>,
        #[serde(borrow)]
        carrier: Option<std::borrow::Cow<'a, str>>,
        #[serde(borrow)]
        flight_number: Option<std::borrow::Cow<'a, str>>,
        #[serde(borrow)]
        origin_date: Option<std::borrow::Cow<'a, str>>,
        #[serde(borrow)]
        source_message_id: Option<std::borrow::Cow<'a, str>>,
    }
    let keys: Keys<'_> = serde_json::from_slice(payload).unwrap_or_default();
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    let flight = |f: [Option<std::borrow::Cow<'_, str>>; 3],
                  hasher: &mut std::collections::hash_map::DefaultHasher| {
        f.iter().for_each(|f| f.as_deref().hash(hasher))
    };
    match (kind, keys.flight) {
        ("flightops" | "manifest", _) => flight(
            [keys.carrier, keys.flight_number, keys.origin_date],
            &mut hasher,
        ),
        ("feedback", Some(named)) => flight(
            [named.carrier, named.flight_number, named.origin_date],
            &mut hasher,
        ),
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
        let limits = IngestLimits {
            max_bytes: self.max_bytes,
            clock_skew: self.clock_skew,
            ..IngestLimits::at(Utc::now())
        };
        match kind {
            "manifest" => {
                let limits = IngestLimits {
                    max_bytes: ingest::MANIFEST_BYTES_MAX,
                    ..limits
                };
                match ingest::parse_manifest(payload, &limits, &airports::is_known) {
                    Ok(message) => self.manifest(&message, actor, limits.now).await,
                    Err(rejection) => Ok(rejected(rejection)),
                }
            }
            "flightops" => match ingest::parse_flight_ops(payload, &limits, &airports::is_known) {
                Ok(message) => self.flight_ops(&message, actor, limits.now).await,
                Err(rejection) => Ok(rejected(rejection)),
            },
            "feedback" => match ingest::parse_feedback(payload, &limits) {
                Ok(message) => self.feedback(&message, actor, limits.now).await,
                Err(rejection) => Ok(rejected(rejection)),
            },
            other => Ok(Handled::Rejected(Rejection {
                code: "unknown_kind".into(),
                message: format!(
                    "crisisd reads crisis.ingest.flightops, crisis.ingest.feedback and crisis.ingest.manifest, not {other}"
                ),
                pointer: String::new(),
                source_message_id: None,
                ingest_sequence: None,
            })),
        }
    }

    /// Brings the flight up to date in one append; a refusal names the field whose
    /// command the flight refused.
    async fn flight_ops(
        &self,
        message: &FlightOpsMessageV1,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Handled, String> {
        let source = &message.source_message_id;
        let update = message.update(now);
        let stream = flight::stream_name(&update.flight);
        let (state, _) =
            load::<Flight>(self.journal.store(), &stream).map_err(|err| err.to_string())?;
        let changes = flight_commands(&state, &update);
        let commands: Vec<_> = changes.iter().map(|c| c.command.clone()).collect();
        let meta = CommandMeta {
            idempotency_key: Some(source.clone()),
            request_fingerprint: Some(message_fingerprint(message)),
            ..CommandMeta::new(actor.clone(), now)
        };
        match execute_all::<Flight>(&self.journal, &stream, &commands, &meta).await {
            Err(CommandError::Refused(_)) => {
                let ctx = Context::new(now, actor.clone());
                match refused_change(&state, &changes, &ctx) {
                    Some((change, refusal)) => Ok(refused(
                        format!("refused: {refusal}"),
                        &change.field,
                        source,
                    )),
                    None => Err(format!(
                        "flight {} changed while message {source} was handled; it is handled again",
                        update.flight
                    )),
                }
            }
            result => outcome(result.map(|_| ()), source, |_| ""),
        }
    }

    /// Records the bookings that changed and the flight's passenger list.
    async fn manifest(
        &self,
        message: &ManifestMessageV1,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Handled, String> {
        let source = &message.source_message_id;
        match record_manifest(&self.journal, message, actor, now).await {
            Ok(()) => Ok(Handled::Stored),
            Err(ManifestFailure::Refused { index, reason }) => Ok(refused(
                format!("refused: {reason}"),
                &format!("/passengers/{index}/passenger_ref"),
                source,
            )),
            Err(ManifestFailure::Transient(reason)) => Err(reason),
        }
    }

    /// Records the signal and, for a complaint, the complaint.
    async fn feedback(
        &self,
        message: &FeedbackMessageV1,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Handled, String> {
        let source = &message.source_message_id;
        let recorded = record_feedback(
            &self.journal,
            &message.feedback(),
            message.severity(&self.severity),
            actor,
            now,
        )
        .await;
        match recorded {
            Ok(_) => Ok(Handled::Stored),
            // The signal's id derives from the source id: the only refusal is that one
            // is stored under it already.
            Err(FeedbackError::Signal(err)) => outcome(Err(err), source, |_| "/source_message_id"),
            Err(FeedbackError::Complaint(err)) => outcome(Err(err), source, complaint_field),
            Err(FeedbackError::Passenger(err)) => outcome(Err(err), source, |_| "/passenger_ref"),
            Err(FeedbackError::Suggestion(err)) => outcome(Err(err), source, |_| "/text"),
        }
    }
}

/// The feedback field a complaint's refusal concerns.
fn complaint_field(refusal: &ComplaintError) -> &'static str {
    match refusal {
        ComplaintError::Required { .. } => "/passenger_ref",
        ComplaintError::ReceivedInFuture { .. } => "/received_at",
        ComplaintError::AlreadyReceived => "/source_message_id",
        _ => "",
    }
}

#[cfg(test)]
#[path = "ingest_tests.rs"]
mod tests;
