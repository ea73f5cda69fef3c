//! What the customers say during the day: each flight's feedback (by its fate), the two
//! spikes, complaints and inquiries, and the background of posts about nothing in
//! particular.

use chrono::{DateTime, Utc};

use super::{DayBuilder, Fate, SimFlight, minutes};
use crate::domain::common::*;
use crate::testing::day::{FEEDBACK_CHANNELS, Post, Spike};

impl DayBuilder<'_> {
    /// What the flight's passengers (and the internet) say about it.
    pub(super) fn flight_feedback(&mut self, flight: &SimFlight, index: usize) {
        let landed = match flight.fate {
            Fate::Cancelled => None,
            Fate::Delayed { minutes: late, .. } => Some(flight.arrival + minutes(late.into())),
            Fate::OnTime { .. } => Some(flight.arrival),
        };
        match flight.fate {
            Fate::Cancelled => {
                if index == 0 {
                    self.spike(flight, Category::Cancellation, 8, 3);
                }
                for _ in 0..self.rng.range(2, 3) {
                    let at = flight.notice + minutes(self.rng.range(30, 240));
                    self.complaint(flight, at, Category::Cancellation);
                }
                let at = flight.notice + minutes(self.rng.range(60, 300));
                self.inquiry(Some(flight), at, Category::Refund, true);
            }
            Fate::Delayed { minutes: late, .. } => {
                if index == self.storm_flights {
                    self.spike(flight, Category::Delay, 6, 4);
                }
                if late >= 45 {
                    for _ in 0..self.rng.range(1, 2) {
                        let at = landed.expect("delayed flights land")
                            + minutes(self.rng.range(20, 180));
                        self.complaint(flight, at, Category::Delay);
                    }
                } else if self.rng.chance(50) {
                    let at = flight.notice + minutes(self.rng.range(5, 30));
                    self.inquiry(Some(flight), at, Category::Delay, true);
                }
            }
            Fate::OnTime { .. } => {}
        }
        if let Some(landed) = landed {
            if self.rng.chance(6) {
                let at = landed + minutes(self.rng.range(40, 120));
                self.complaint(flight, at, Category::BaggageLost);
            }
            if self.rng.chance(4) {
                let at = landed + minutes(self.rng.range(60, 300));
                self.complaint(flight, at, Category::Service);
            }
        }
    }

    /// `posts` posts about `flight`, `every` minutes apart from shortly after the notice:
    /// some passengers complain, the rest of the internet asks.
    fn spike(&mut self, flight: &SimFlight, category: Category, posts: u32, every: i64) {
        let from = flight.notice + minutes(5);
        for n in 0..posts {
            let at = from + minutes(i64::from(n) * every);
            let channel = if n % 4 == 3 {
                Channel::Hotline
            } else {
                Channel::SocialMedia
            };
            let passenger =
                (n % 2 == 0).then(|| self.rng.pick(&flight.passengers).reference.clone());
            let kind = if passenger.is_some() {
                FeedbackKind::Complaint
            } else {
                FeedbackKind::Inquiry
            };
            let reach = self.rng.range(200, 20_000) as u64;
            let text = self.text(category, kind);
            self.post(Post {
                received_at: at,
                channel,
                text,
                passenger_ref: passenger,
                flight: Some(&flight.key),
                category,
                kind,
                reach,
            });
        }
        self.spikes.push(Spike {
            flight: flight.key.clone(),
            category,
            posts,
            from,
            until: from + minutes(i64::from(posts - 1) * every),
        });
    }

    fn complaint(&mut self, flight: &SimFlight, at: DateTime<Utc>, category: Category) {
        let passenger = self.rng.pick(&flight.passengers).reference.clone();
        let channel = *self.rng.pick(&FEEDBACK_CHANNELS);
        let reach = if channel == Channel::SocialMedia {
            self.rng.range(20, 2_000) as u64
        } else {
            1
        };
        let text = self.text(category, FeedbackKind::Complaint);
        self.post(Post {
            received_at: at,
            channel,
            text,
            passenger_ref: Some(passenger),
            flight: Some(&flight.key),
            category,
            kind: FeedbackKind::Complaint,
            reach,
        });
    }

    fn inquiry(
        &mut self,
        flight: Option<&SimFlight>,
        at: DateTime<Utc>,
        category: Category,
        identified: bool,
    ) {
        let passenger = match flight {
            Some(flight) if identified => Some(self.rng.pick(&flight.passengers).reference.clone()),
            _ => None,
        };
        let channel = *self.rng.pick(&[
            Channel::Hotline,
            Channel::Web,
            Channel::SocialMedia,
            Channel::App,
        ]);
        let text = self.text(category, FeedbackKind::Inquiry);
        self.post(Post {
            received_at: at,
            channel,
            text,
            passenger_ref: passenger,
            flight: flight.map(|f| &f.key),
            category,
            kind: FeedbackKind::Inquiry,
            reach: 1,
        });
    }

    /// Questions about nothing in particular, and ideas, through the day.
    pub(super) fn background_feedback(&mut self, flights: &[SimFlight]) {
        let day_minutes = 24 * 60 - 1;
        for _ in 0..(self.config.flights / 8).max(1) {
            let at = self.start + minutes(self.rng.range(0, day_minutes));
            let category = *self.rng.pick(&[
                Category::Refund,
                Category::Other,
                Category::Service,
                Category::BaggageDamaged,
            ]);
            self.inquiry(None, at, category, false);
        }
        for _ in 0..(self.config.flights / 15).max(1) {
            let at = self.start + minutes(self.rng.range(0, day_minutes));
            let flight = self.rng.chance(50).then(|| self.rng.pick(flights).clone());
            let passenger = flight
                .as_ref()
                .filter(|_| self.rng.chance(60))
                .map(|f| self.rng.pick(&f.passengers).reference.clone());
            let channel = *self.rng.pick(&[Channel::App, Channel::Web]);
            let text = self.text(Category::Service, FeedbackKind::Suggestion);
            self.post(Post {
                received_at: at,
                channel,
                text,
                passenger_ref: passenger,
                flight: flight.as_ref().map(|f| &f.key),
                category: Category::Service,
                kind: FeedbackKind::Suggestion,
                reach: 1,
            });
        }
    }

    fn text(&mut self, category: Category, kind: FeedbackKind) -> String {
        let texts: &[&str] = match (kind, category) {
            (FeedbackKind::Suggestion, _) => &[
                "Please show the gate change in the app before the announcement.",
                "A quiet zone at the gates would be lovely.",
                "Let me pick my rebooking myself in the app when a flight is cancelled.",
            ],
            (_, Category::Cancellation) => &[
                "Our flight was cancelled and nobody at the gate can tell us anything.",
                "Cancelled again! Queue at the transfer desk is two hours long.",
                "Flight cancelled, hotel voucher never came. We are sleeping at the airport.",
            ],
            (FeedbackKind::Inquiry, Category::Delay) => &[
                "Will I still make my connection with this delay?",
                "Is there a new departure time yet?",
            ],
            (_, Category::Delay) => &[
                "Four hours at the gate without information or water.",
                "Landed far too late and missed my meeting. I want compensation.",
                "Another delay and no one tells us why.",
            ],
            (_, Category::BaggageLost) => &[
                "My suitcase did not arrive. The tracing number does not work.",
                "Bag missing since yesterday, medication inside.",
            ],
            (_, Category::Refund) => &[
                "How do I get my ticket refunded after the cancellation?",
                "When will the refund reach my card?",
            ],
            (_, Category::BaggageDamaged) => &["How do I report a damaged suitcase?"],
            (_, Category::Service) => &[
                "The crew was rude when I asked for water.",
                "The lounge was closed and nobody said so.",
                "Can I change my seat online?",
            ],
            _ => &["Where do I find my booking reference?"],
        };
        (*self.rng.pick(texts)).to_owned()
    }
}
