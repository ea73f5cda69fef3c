//! [`Post`]: one customer's message as a channel forwards it, and the
//! `crisis.ingest.feedback` message it becomes — shared by the day and by benchmarks.

use chrono::{DateTime, Utc};

use crate::domain::common::{Category, Channel, FeedbackKind, FlightKey, PersonalData};
use crate::domain::ingest::{FeedbackMessageV1, FlightRef};

/// One customer's message, as a channel forwards it.
#[derive(Debug, Clone)]
pub struct Post<'a> {
    pub received_at: DateTime<Utc>,
    pub channel: Channel,
    /// The customer's words (personal data once sent).
    pub text: String,
    /// A loyalty number: an identified passenger.
    pub passenger_ref: Option<String>,
    pub flight: Option<&'a FlightKey>,
    pub category: Category,
    pub kind: FeedbackKind,
    pub reach: u64,
}

impl Post<'_> {
    /// The `crisis.ingest.feedback` message (its source id is left for the sender).
    pub fn message(self) -> FeedbackMessageV1 {
        FeedbackMessageV1 {
            v: 1,
            source_message_id: String::new(),
            channel: self.channel,
            text: PersonalData(self.text),
            passenger_ref: self.passenger_ref,
            flight: self.flight.map(|f| FlightRef {
                carrier: f.carrier.clone(),
                flight_number: f.number.clone(),
                origin_date: f.date,
            }),
            category_hint: Some(self.category),
            received_at: self.received_at,
            reach: Some(self.reach),
            kind: Some(self.kind),
        }
    }
}
