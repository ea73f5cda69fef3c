//! From a channel message (hotline, e-mail, social media, web, app) to a Signal and, when
//! it is a passenger's complaint, a Complaint.
//!
//! Ids derive from the source message id (UUID v5), and each append carries the source id
//! as its idempotency key, so a redelivered message changes nothing. A complaint's signal
//! and complaint are stored in one atomic append on first delivery; a redelivery (or a
//! store written by an older build, which stored them one after the other) takes them
//! one at a time and stores only what is missing.
//!
//! The complaint is received when the channel received the message, not when crisisd
//! got to it (a NATS backlog can put hours between them): its service levels count from
//! the message's `received_at`. A receipt time a skewed sender clock put ahead of `now`
//! (ingest bounds how far) is taken as `now`.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::command::{CommandError, CommandMeta, Journal, creating, execute, load};
use crate::domain::common::{
    Actor, Category, Channel, FeedbackKind, FlightKey, PassengerId, PersonalData, Severity, Tier,
};
use crate::domain::complaint::{self, Complaint, ComplaintCommand, RemedySought};
use crate::domain::passenger::{self, Passenger};
use crate::domain::signal::{self, Signal, SignalCommand};
use crate::domain::suggestion::{self, Suggestion, SuggestionCommand};
use crate::store::{AppendError, AppendRequest};

/// Namespace of ids derived from channel message ids.
const FEEDBACK_NAMESPACE: Uuid = Uuid::from_u128(0x2b8e_91c4_7f0a_4d3e_b6a1_58c2_e7d9_0f14);

/// A channel message, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Feedback {
    pub source_message_id: String,
    pub channel: Channel,
    /// The customer's words: personal data, never logged.
    pub text: PersonalData<String>,
    pub passenger: Option<PassengerId>,
    pub flight: Option<FlightKey>,
    pub category: Option<Category>,
    pub received_at: DateTime<Utc>,
    /// Audience of the message (followers of a social post; 1 otherwise).
    pub reach: u64,
    /// What the message said, hashed: a redelivery matches it, another message reusing
    /// the source id does not and is refused.
    pub fingerprint: Option<[u8; 32]>,
    /// What the channel says the message is (`None`: derived, see [`kind_of`]).
    pub kind: Option<FeedbackKind>,
}

/// Where a feedback message landed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub signal_id: Uuid,
    pub complaint_id: Option<Uuid>,
    pub suggestion_id: Option<Uuid>,
}

pub fn signal_id(source_message_id: &str) -> Uuid {
    Uuid::new_v5(
        &FEEDBACK_NAMESPACE,
        format!("signal\n{source_message_id}").as_bytes(),
    )
}

pub fn complaint_id(source_message_id: &str) -> Uuid {
    Uuid::new_v5(
        &FEEDBACK_NAMESPACE,
        format!("complaint\n{source_message_id}").as_bytes(),
    )
}

pub fn suggestion_id(source_message_id: &str) -> Uuid {
    Uuid::new_v5(
        &FEEDBACK_NAMESPACE,
        format!("suggestion\n{source_message_id}").as_bytes(),
    )
}

/// What a message is: what the channel says, else a complaint when an identified
/// passenger names a problem, else an inquiry.
pub fn kind_of(feedback: &Feedback) -> FeedbackKind {
    feedback.kind.unwrap_or(
        if feedback.passenger.is_some() && feedback.category.is_some_and(|c| c != Category::Other) {
            FeedbackKind::Complaint
        } else {
            FeedbackKind::Inquiry
        },
    )
}

/// A complaint needs its passenger and its problem (ingest refuses a message saying it
/// is a complaint without them).
pub fn is_complaint(feedback: &Feedback) -> bool {
    kind_of(feedback) == FeedbackKind::Complaint
        && feedback.passenger.is_some()
        && feedback.category.is_some_and(|c| c != Category::Other)
}

/// What a complaint about `category` most likely seeks (agents can refine it).
pub fn remedy_for(category: Category) -> RemedySought {
    match category {
        Category::Delay | Category::Cancellation | Category::Overbooking => {
            RemedySought::Compensation
        }
        Category::BaggageLost => RemedySought::BaggageTrace,
        Category::BaggageDamaged => RemedySought::Reimbursement,
        Category::Refund => RemedySought::Refund,
        Category::Service | Category::Safety | Category::Other => RemedySought::Apology,
    }
}

/// Why a feedback message was not recorded.
#[derive(Debug, thiserror::Error)]
pub enum FeedbackError {
    #[error("signal refused: {0}")]
    Signal(CommandError<signal::SignalError>),
    #[error("complaint refused: {0}")]
    Complaint(CommandError<complaint::ComplaintError>),
    #[error("passenger unreadable: {0}")]
    Passenger(CommandError<passenger::PassengerError>),
    #[error("suggestion refused: {0}")]
    Suggestion(CommandError<crate::domain::suggestion::SuggestionError>),
}

/// Records the signal and, for a complaint, the complaint (tier from the passenger's
/// stream), both observed / received at the message's receipt time (at most `now`).
/// The incident the disruptions read model knows for `flight` (none when it has not
/// caught up yet: the reaction then joins the complaint).
fn known_incident(
    store: &crate::store::SledStore,
    flight: &crate::domain::common::FlightKey,
) -> Option<uuid::Uuid> {
    let model =
        crate::projection::ReadModel::open(store, crate::projection::disruptions::NAME).ok()?;
    crate::projection::disruptions::flight_entry(&model, flight)
        .ok()??
        .incident_id
}

pub async fn record_feedback(
    journal: &Journal,
    feedback: &Feedback,
    severity: Severity,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<Recorded, FeedbackError> {
    let store = journal.store();
    let meta = |purpose: &str| CommandMeta {
        idempotency_key: Some(format!("{purpose}:{}", feedback.source_message_id)),
        request_fingerprint: feedback.fingerprint,
        ..CommandMeta::new(actor.clone(), now)
    };
    let received_at = feedback.received_at.min(now);
    let signal_id = signal_id(&feedback.source_message_id);
    let record = SignalCommand::RecordSignal {
        signal_id,
        channel: feedback.channel,
        category: feedback.category.unwrap_or(Category::Other),
        severity,
        flight: feedback.flight.clone(),
        passenger: feedback.passenger.clone(),
        reach: feedback.reach.max(1),
        summary: feedback.text.clone(),
        source_ref: Some(feedback.source_message_id.clone()),
        observed_at: received_at,
        kind: Some(kind_of(feedback)),
    };
    let signal_stream = signal::stream_name(signal_id);
    let (Some(passenger), Some(category), true) = (
        &feedback.passenger,
        feedback.category,
        is_complaint(feedback),
    ) else {
        execute::<Signal>(journal, &signal_stream, &record, &meta("signal"))
            .await
            .map_err(FeedbackError::Signal)?;
        let suggestion_id = if kind_of(feedback) == FeedbackKind::Suggestion {
            let id = suggestion_id(&feedback.source_message_id);
            let receive = SuggestionCommand::ReceiveSuggestion {
                suggestion_id: id,
                channel: feedback.channel,
                passenger: feedback.passenger.clone(),
                text: feedback.text.clone(),
                received_at: Some(received_at),
            };
            execute::<Suggestion>(
                journal,
                &suggestion::stream_name(id),
                &receive,
                &meta("suggestion"),
            )
            .await
            .map_err(FeedbackError::Suggestion)?;
            Some(id)
        } else {
            None
        };
        return Ok(Recorded {
            signal_id,
            complaint_id: None,
            suggestion_id,
        });
    };
    let (known, _) = load::<Passenger>(store, &passenger::stream_name(passenger))
        .map_err(FeedbackError::Passenger)?;
    let complaint_id = complaint_id(&feedback.source_message_id);
    let complaint_stream = complaint::stream_name(complaint_id);
    let receive = ComplaintCommand::ReceiveComplaint {
        complaint_id,
        channel: feedback.channel,
        passenger: passenger.clone(),
        tier: known.tier.unwrap_or(Tier::None),
        category,
        remedy_sought: remedy_for(category),
        description: feedback.text.clone(),
        // The flight's incident, when one is known already: the complaint carries it from
        // the start (otherwise the entitlement reaction joins it once one opens).
        incident_id: feedback
            .flight
            .as_ref()
            .and_then(|flight| known_incident(store, flight)),
        flight: feedback.flight.clone(),
        received_at: Some(received_at),
    };
    let recorded = Recorded {
        signal_id,
        complaint_id: Some(complaint_id),
        suggestion_id: None,
    };
    // A first delivery creates both streams: one atomic append, one wait for the disk.
    // Anything else (a redelivery, a signal whose complaint a crash kept from being
    // stored, another delivery racing this one) goes command by command below, which
    // finds what is stored and adds what is missing.
    let new_stream = |stream: &str| {
        store
            .stream_version(stream)
            .map(|version| version.is_none())
            .map_err(|err| FeedbackError::Signal(CommandError::Store(err)))
    };
    if new_stream(&signal_stream)? && new_stream(&complaint_stream)? {
        let privacy = journal.privacy();
        let (signal_meta, complaint_meta) = (meta("signal"), meta("complaint"));
        let signal = creating::<Signal>(&signal_stream, &record, &signal_meta)
            .map_err(|refused| FeedbackError::Signal(CommandError::Refused(refused)))?;
        let complaint = creating::<Complaint>(&complaint_stream, &receive, &complaint_meta)
            .map_err(|refused| FeedbackError::Complaint(CommandError::Refused(refused)))?;
        // One grant for both streams: the passenger's key is created (or found) once.
        let mut subjects = Vec::new();
        signal.add_subjects(&mut subjects, privacy);
        complaint.add_subjects(&mut subjects, privacy);
        let grant = privacy
            .keys_for(&subjects)
            .map_err(|err| FeedbackError::Signal(err.into()))?;
        let mut streams = Vec::with_capacity(2);
        if !signal.is_empty() {
            let sealed = signal.sealed(&signal_meta, privacy, &grant);
            streams.push(sealed.map_err(|err| FeedbackError::Signal(err.into()))?);
        }
        if !complaint.is_empty() {
            let sealed = complaint.sealed(&complaint_meta, privacy, &grant);
            streams.push(sealed.map_err(|err| FeedbackError::Complaint(err.into()))?);
        }
        let side = grant.side.clone();
        match store.append(AppendRequest { streams, side }).await {
            Ok(outcome) => {
                if !outcome.duplicate {
                    grant.written();
                }
                return Ok(recorded);
            }
            Err(AppendError::WrongExpectedVersion { .. } | AppendError::PartiallyStored { .. }) => {
            }
            Err(err) => return Err(FeedbackError::Signal(CommandError::Append(err))),
        }
    }
    execute::<Signal>(journal, &signal_stream, &record, &meta("signal"))
        .await
        .map_err(FeedbackError::Signal)?;
    execute::<Complaint>(journal, &complaint_stream, &receive, &meta("complaint"))
        .await
        .map_err(FeedbackError::Complaint)?;
    Ok(recorded)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::common::Role;
    use crate::store::{SledStore, StoreConfig};

    fn feedback(source: &str, passenger: Option<&str>, category: Option<Category>) -> Feedback {
        Feedback {
            source_message_id: source.into(),
            channel: Channel::SocialMedia,
            text: PersonalData("my flight is 4 hours late and nobody tells us anything".into()),
            passenger: passenger.map(|p| PassengerId(p.into())),
            flight: None,
            category,
            received_at: Utc::now(),
            reach: 12_000,
            fingerprint: None,
            kind: None,
        }
    }

    fn actor() -> Actor {
        Actor {
            id: "channel-social".into(),
            role: Role::FlightOps,
        }
    }

    #[tokio::test]
    async fn a_passenger_complaint_becomes_a_signal_and_a_complaint_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(StoreConfig::new(dir.path())).unwrap();
        let journal = Journal::ephemeral(store.clone());
        let message = feedback("tw-1", Some("FF123456"), Some(Category::Delay));
        let first = record_feedback(&journal, &message, Severity::Medium, &actor(), Utc::now())
            .await
            .unwrap();
        assert_eq!(first.complaint_id, Some(complaint_id("tw-1")));
        let head = store.head().position;
        let again = record_feedback(&journal, &message, Severity::Medium, &actor(), Utc::now())
            .await
            .unwrap();
        assert_eq!(again, first);
        assert_eq!(store.head().position, head, "a redelivery stores nothing");
        let (complaint, _) =
            load::<Complaint>(&store, &complaint::stream_name(complaint_id("tw-1"))).unwrap();
        assert!(format!("{complaint:?}").contains("FF123456"));
        assert!(
            !format!("{complaint:?}").contains("nobody tells us"),
            "the customer's words never show in Debug"
        );
    }

    #[tokio::test]
    async fn signal_and_complaint_are_stored_together_on_first_delivery() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(StoreConfig::new(dir.path())).unwrap();
        let journal = Journal::ephemeral(store.clone());
        let message = feedback("tw-7", Some("FF7"), Some(Category::BaggageLost));
        record_feedback(&journal, &message, Severity::Low, &actor(), Utc::now())
            .await
            .unwrap();
        let stored = store.read_all(1, 10).unwrap();
        let types: Vec<_> = stored.iter().map(|e| e.event_type.as_str()).collect();
        assert_eq!(types, ["signal.recorded", "complaint.received"]);
        assert_eq!(stored[0].stream, signal::stream_name(signal_id("tw-7")));
        assert_eq!(
            stored[1].stream,
            complaint::stream_name(complaint_id("tw-7"))
        );
        // Both are sealed with the passenger's one key, written once beside them.
        let key_ids: Vec<String> = [("summary", &stored[0]), ("description", &stored[1])]
            .into_iter()
            .map(|(field, event)| {
                let data: serde_json::Value = serde_json::from_str(event.data.get()).unwrap();
                let text = data[field].as_str().unwrap().to_owned();
                let sealed = crate::privacy::sealed::Sealed::parse(&text).unwrap();
                sealed.key_id.to_owned()
            })
            .collect();
        assert!(key_ids[0].starts_with("p.FF7~"), "{key_ids:?}");
        assert_eq!(key_ids[0], key_ids[1]);
        let sides: Vec<Vec<u8>> = store.side_records().map(Result::unwrap).collect();
        assert_eq!(sides.len(), 1, "one side record");
        let named = sides[0].windows(5).filter(|w| w == b"p.FF7").count();
        assert_eq!(named, 1, "the key once in it");
    }

    /// A store where only the signal was written (a crash between two appends, as an
    /// older build made them): the redelivery adds the complaint, not a second signal.
    #[tokio::test]
    async fn a_redelivery_adds_the_complaint_a_crash_left_out() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(StoreConfig::new(dir.path())).unwrap();
        let journal = Journal::ephemeral(store.clone());
        let message = feedback("tw-8", Some("FF8"), Some(Category::Delay));
        let only_the_signal = feedback("tw-8", None, Some(Category::Delay));
        record_feedback(
            &journal,
            &only_the_signal,
            Severity::Low,
            &actor(),
            Utc::now(),
        )
        .await
        .unwrap();
        assert_eq!(store.head().position, 1);
        let recorded = record_feedback(&journal, &message, Severity::Low, &actor(), Utc::now())
            .await
            .unwrap();
        assert_eq!(recorded.complaint_id, Some(complaint_id("tw-8")));
        let types: Vec<_> = store
            .read_all(1, 10)
            .unwrap()
            .into_iter()
            .map(|e| e.event_type)
            .collect();
        assert_eq!(types, ["signal.recorded", "complaint.received"]);
    }

    #[tokio::test]
    async fn anonymous_or_uncategorised_feedback_is_only_a_signal() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(StoreConfig::new(dir.path())).unwrap();
        let journal = Journal::ephemeral(store.clone());
        for (source, passenger, category) in [
            ("a", None, Some(Category::Delay)),
            ("b", Some("FF1"), None),
            ("c", Some("FF1"), Some(Category::Other)),
        ] {
            let recorded = record_feedback(
                &journal,
                &feedback(source, passenger, category),
                Severity::Low,
                &actor(),
                Utc::now(),
            )
            .await
            .unwrap();
            assert_eq!(recorded.complaint_id, None, "{source}");
        }
        assert_eq!(store.head().position, 3);
    }
}
