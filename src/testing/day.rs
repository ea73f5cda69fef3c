//! A day of operations as the ingest messages flight ops and the channels send
//! (schedules, manifests, delays with their IATA codes, a storm's cancellations and
//! rebookings, departures, arrivals, and the customers' complaints, inquiries and
//! suggestions with two spikes), for `crisisd simulate` and anything else that wants
//! realistic ingest — the other side of [`workload`](super::workload)'s world. Its
//! pieces — [`Rng`], the routes ([`SPOKES`], [`HUBS`]), [`DELAY_CAUSES`], [`tier`],
//! [`FEEDBACK_CHANNELS`], [`Post`] — serve benchmarks too. It is seeded by a portable
//! generator, so the same [`DayConfig`] gives the same bytes on every machine.
//!
//! | module | what |
//! |---|---|
//! | this file | what a day is ([`DayConfig`], [`Day`], [`Planned`]) and [`day`] |
//! | `world` | the airline: [`Rng`], hubs and routes, delay codes, tiers, channels, names |
//! | `post` | [`Post`]: a customer's message and the feedback message it becomes |
//! | `builder` | the flights and their story, then the customers' feedback |

mod builder;
mod post;
mod world;

pub use post::Post;
pub use world::{DELAY_CAUSES, DelayCause, FEEDBACK_CHANNELS, HUBS, Rng, SPOKES, Spoke, tier};

use chrono::{DateTime, Utc};

use crate::domain::common::{Category, FlightKey};

/// What to simulate: `flights` flights on the 24 hours that end at `end`, each
/// manifest listing `passengers` of its passengers. The four name the day: the same
/// four give the same messages, ids included, and each is in the ids (a message id
/// names one message: a day of another shape never reuses one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayConfig {
    pub seed: u64,
    pub end: DateTime<Utc>,
    pub flights: u32,
    pub passengers: u32,
}

/// The ingest formats, as subject tokens (`crisis.ingest.<token>`) and HTTP paths
/// (`/v1/ingest/<token>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IngestKind {
    FlightOps,
    Manifest,
    Feedback,
}

impl IngestKind {
    pub const ALL: [IngestKind; 3] = [
        IngestKind::FlightOps,
        IngestKind::Manifest,
        IngestKind::Feedback,
    ];

    pub fn token(self) -> &'static str {
        match self {
            IngestKind::FlightOps => "flightops",
            IngestKind::Manifest => "manifest",
            IngestKind::Feedback => "feedback",
        }
    }
}

/// What a message stands for in the day's story.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Beat {
    Schedule,
    Manifest,
    Delay,
    Cancellation,
    Rebooking,
    Departure,
    Arrival,
    Complaint,
    Inquiry,
    Suggestion,
}

impl Beat {
    pub fn name(self) -> &'static str {
        match self {
            Beat::Schedule => "schedules",
            Beat::Manifest => "manifests",
            Beat::Delay => "delays",
            Beat::Cancellation => "cancellations",
            Beat::Rebooking => "rebookings",
            Beat::Departure => "departures",
            Beat::Arrival => "arrivals",
            Beat::Complaint => "complaints",
            Beat::Inquiry => "inquiries",
            Beat::Suggestion => "suggestions",
        }
    }
}

/// One message of the day: when it happens (the simulated time it carries), its
/// format, its part in the story and its JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    pub at: DateTime<Utc>,
    pub kind: IngestKind,
    pub beat: Beat,
    pub source_message_id: String,
    pub body: Vec<u8>,
}

/// The storm: at `at` it cancels the bank of flights leaving `hub` in the next hours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Storm {
    pub hub: &'static str,
    pub at: DateTime<Utc>,
    pub cancelled: Vec<FlightKey>,
}

/// A burst of posts about one flight, enough for crisisd's spike detector (by default 5
/// signals on one flight and category within 30 minutes) to open an incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spike {
    pub flight: FlightKey,
    pub category: Category,
    pub posts: u32,
    pub from: DateTime<Utc>,
    pub until: DateTime<Utc>,
}

/// A simulated day: its messages in the order they happen, and the story they tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Day {
    /// What every source message id of the day starts with (`sim-<seed>-…`).
    pub run: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub messages: Vec<Planned>,
    pub storm: Storm,
    pub spikes: Vec<Spike>,
    /// The delayed flights, the long delay first.
    pub delayed: Vec<FlightKey>,
}

/// The day's 24 hours end at `end`; its messages are built as typed ingest messages
/// (so their fields are the formats'), stamped with their simulated times (never after
/// `end`), sorted by time, then numbered: `sim-<seed>-<flights>x<passengers>-<end>-<n>`.
pub fn day(config: &DayConfig) -> Day {
    builder::build(config)
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    fn a_day(seed: u64, flights: u32) -> Day {
        let end = DateTime::parse_from_rfc3339("2026-11-22T14:05:00Z")
            .unwrap()
            .with_timezone(&Utc);
        day(&DayConfig {
            seed,
            end,
            flights,
            passengers: 8,
        })
    }

    /// Every message of a day is one crisisd reads, at the end of that day: the formats
    /// and the plausibility rules hold, nothing is in the future.
    #[test]
    fn a_days_messages_are_all_valid_ingest_and_in_time_order() {
        use crate::domain::ingest::{
            IngestLimits, parse_feedback, parse_flight_ops, parse_manifest,
        };
        use crate::domain::policy::airports::is_known;
        for (seed, flights) in [(1, 5), (2, 20), (3, 120)] {
            let day = a_day(seed, flights);
            let limits = IngestLimits {
                max_bytes: crate::domain::ingest::MANIFEST_BYTES_MAX,
                clock_skew: chrono::TimeDelta::zero(),
                ..IngestLimits::at(day.end)
            };
            let mut ids = std::collections::HashSet::new();
            let mut previous = day.start;
            for message in &day.messages {
                assert!(
                    message.at >= previous && message.at <= day.end,
                    "{message:?}"
                );
                previous = message.at;
                assert!(ids.insert(message.source_message_id.clone()));
                let parsed = match message.kind {
                    IngestKind::FlightOps => parse_flight_ops(&message.body, &limits, &is_known)
                        .map(|m| m.source_message_id),
                    IngestKind::Manifest => parse_manifest(&message.body, &limits, &is_known)
                        .map(|m| m.source_message_id),
                    IngestKind::Feedback => {
                        parse_feedback(&message.body, &limits).map(|m| m.source_message_id)
                    }
                };
                assert_eq!(
                    parsed.unwrap_or_else(|r| panic!(
                        "{r:?} in {}",
                        String::from_utf8_lossy(&message.body)
                    )),
                    message.source_message_id
                );
            }
            let count = |beat| day.messages.iter().filter(|m| m.beat == beat).count();
            assert_eq!(count(Beat::Schedule), flights as usize);
            assert_eq!(count(Beat::Cancellation), (flights as usize / 10).max(2));
            assert_eq!(day.storm.cancelled.len(), count(Beat::Cancellation));
            assert!(
                count(Beat::Delay) >= 1 && count(Beat::Complaint) >= 4,
                "seed {seed}"
            );
            assert!(
                count(Beat::Suggestion) >= 1 && count(Beat::Inquiry) >= 2,
                "seed {seed}"
            );
        }
    }

    /// Each spike is what the default spike rule opens an incident for: at least five
    /// posts on one flight and category within 30 minutes.
    #[test]
    fn each_spike_is_enough_posts_on_one_flight_within_the_window() {
        let day = a_day(4, 20);
        assert_eq!(day.spikes.len(), 2);
        for spike in &day.spikes {
            assert!(
                spike.until - spike.from <= Duration::minutes(30),
                "{spike:?}"
            );
            let posts = day
                .messages
                .iter()
                .filter(|m| m.kind == IngestKind::Feedback)
                .map(|m| serde_json::from_slice::<serde_json::Value>(&m.body).unwrap())
                .filter(|v| {
                    v["flight"]["flight_number"] == spike.flight.number.as_str()
                        && v["category_hint"] == serde_json::to_value(spike.category).unwrap()
                })
                .filter(|v| {
                    let at: DateTime<Utc> = v["received_at"].as_str().unwrap().parse().unwrap();
                    at >= spike.from && at <= spike.until
                })
                .count();
            assert!(
                posts >= 5 && posts as u32 == spike.posts,
                "{posts} posts in {spike:?}"
            );
        }
    }
}
