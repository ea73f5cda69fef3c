//! Builds a [`Day`]: the flights first (schedule, route, aircraft, passengers, fate),
//! then each flight's messages in its story (schedule, manifest, delay or cancellation,
//! rebookings, departure, arrival), then the feedback ([`feedback`]), and finally the
//! messages in time order, numbered. Every random choice comes from the one [`Rng`],
//! in a fixed order, so the same config gives the same bytes.

mod feedback;

use chrono::{DateTime, Duration, Utc};

use super::world::{FIRST_NAMES, LAST_NAMES, LONG_DELAY, STORM};
use super::{
    Beat, DELAY_CAUSES, Day, DayConfig, DelayCause, HUBS, IngestKind, Planned, Post, Rng, SPOKES,
    Spike, Spoke, Storm, tier,
};
use crate::domain::common::*;
use crate::domain::flight::FlightStatus;
use crate::domain::ingest::*;

/// Builds the day `config` names.
pub(super) fn build(config: &DayConfig) -> Day {
    let mut builder = DayBuilder::new(config);
    builder.flights();
    builder.story();
    builder.finish()
}

#[derive(Debug, Clone)]
struct SimPassenger {
    reference: String,
    name: String,
    tier: Tier,
    class: &'static str,
    fare_eur: u64,
    final_destination: Option<&'static str>,
    consent: Vec<String>,
}

#[derive(Debug, Clone, Copy)]
enum Fate {
    OnTime { off_block: i64, on_block: i64 },
    Delayed { cause: DelayCause, minutes: u32 },
    Cancelled,
}

#[derive(Debug, Clone)]
struct SimFlight {
    key: FlightKey,
    origin: &'static str,
    destination: &'static str,
    departure: DateTime<Utc>,
    arrival: DateTime<Utc>,
    passenger_count: u32,
    passengers: Vec<SimPassenger>,
    fate: Fate,
    /// When passengers are told of the delay or the cancellation.
    notice: DateTime<Utc>,
    schedule_at: DateTime<Utc>,
    manifest_at: DateTime<Utc>,
}

struct DayBuilder<'a> {
    config: &'a DayConfig,
    rng: Rng,
    start: DateTime<Utc>,
    flights: Vec<SimFlight>,
    taken: std::collections::HashSet<String>,
    storm_at: DateTime<Utc>,
    storm_flights: usize,
    spikes: Vec<Spike>,
    messages: Vec<(DateTime<Utc>, IngestKind, Beat, serde_json::Value)>,
}

fn minutes(m: i64) -> Duration {
    Duration::minutes(m)
}

impl<'a> DayBuilder<'a> {
    fn new(config: &'a DayConfig) -> Self {
        let end = config.end;
        let mixed = config.seed.wrapping_mul(0x2545_F491_4F6C_DD1D) ^ end.timestamp() as u64;
        let mut rng = Rng::new(mixed);
        let start = end - Duration::hours(24);
        let storm_at = start + Duration::hours(14) + minutes(rng.range(0, 24) * 5);
        DayBuilder {
            config,
            rng,
            start,
            flights: Vec::new(),
            taken: Default::default(),
            storm_at,
            storm_flights: (config.flights as usize / 10).max(2),
            spikes: Vec::new(),
            messages: Vec::new(),
        }
    }

    /// The storm's bank leaves the first hub within hours of it; the long delay is a
    /// short-haul flight in the morning (so it lands, late, within the day); the rest
    /// leave any time from four hours into the day to an hour before its end.
    fn flights(&mut self) {
        let total = self.config.flights as usize;
        for i in 0..total {
            let (departure, from_hub) = if i < self.storm_flights {
                let at = self.storm_at + minutes(45 + self.rng.range(0, 24) * 5);
                (at, Some(HUBS[0]))
            } else if i == self.storm_flights {
                let at = self.start + Duration::hours(5) + minutes(self.rng.range(0, 48) * 5);
                (at, None)
            } else {
                let span = (24 - 4 - 1) * 12;
                let at = self.start + Duration::hours(4) + minutes(self.rng.range(0, span) * 5);
                (at, None)
            };
            let short_haul = i == self.storm_flights;
            let flight = self.flight(departure, from_hub, short_haul);
            self.flights.push(flight);
        }
        for i in 0..total {
            let fate = if i < self.storm_flights {
                Fate::Cancelled
            } else if i == self.storm_flights {
                let minutes = self
                    .rng
                    .range(LONG_DELAY.minutes.0.into(), LONG_DELAY.minutes.1.into());
                Fate::Delayed {
                    cause: LONG_DELAY,
                    minutes: minutes as u32,
                }
            } else if self.rng.chance(22) {
                let cause = *self.rng.pick(&DELAY_CAUSES);
                let minutes = self
                    .rng
                    .range(cause.minutes.0.into(), cause.minutes.1.into());
                Fate::Delayed {
                    cause,
                    minutes: minutes as u32,
                }
            } else {
                Fate::OnTime {
                    off_block: self.rng.range(-3, 9),
                    on_block: self.rng.range(-12, 8),
                }
            };
            let notice = match fate {
                Fate::Cancelled => self.storm_at + minutes(self.rng.range(0, 20)),
                _ => self.flights[i].departure - minutes(self.rng.range(20, 60)),
            };
            let flight = &mut self.flights[i];
            flight.fate = fate;
            flight.notice = notice;
        }
    }

    fn flight(
        &mut self,
        departure: DateTime<Utc>,
        from_hub: Option<&'static str>,
        short_haul: bool,
    ) -> SimFlight {
        let hub = from_hub.unwrap_or_else(|| *self.rng.pick(&HUBS));
        let spokes: &[Spoke] = if short_haul { &SPOKES[..11] } else { &SPOKES };
        let spoke = *self.rng.pick(spokes);
        let outbound = from_hub.is_some() || self.rng.chance(55);
        let (origin, destination) = if outbound {
            (hub, spoke.airport)
        } else {
            (spoke.airport, hub)
        };
        let block = spoke.block_minutes + if hub == "MUC" { 5 } else { 0 };
        let carrier = if spoke.block_minutes < 200 && self.rng.chance(20) {
            "EW"
        } else {
            "LH"
        };
        let key = loop {
            let number = self.rng.range(1000, 9999).to_string();
            let key = FlightKey::new(carrier, &number, departure.date_naive())
                .expect("generated flight keys are valid");
            if self.taken.insert(key.to_string()) {
                break key;
            }
        };
        let passenger_count = spoke.seats * self.rng.range(70, 98) as u32 / 100;
        let listed = self.config.passengers.min(passenger_count).max(1);
        let passengers = (0..listed)
            .map(|_| self.passenger(&spoke, outbound, origin))
            .collect();
        let schedule_at =
            (self.start + minutes(self.rng.range(0, 20))).max(departure - Duration::hours(8));
        SimFlight {
            key,
            origin,
            destination,
            departure,
            arrival: departure + minutes(block),
            passenger_count,
            passengers,
            fate: Fate::OnTime {
                off_block: 0,
                on_block: 0,
            },
            notice: departure,
            schedule_at,
            manifest_at: (schedule_at + minutes(15)).max(departure - Duration::hours(3)),
        }
    }

    fn passenger(&mut self, spoke: &Spoke, outbound: bool, origin: &str) -> SimPassenger {
        let reference = loop {
            let reference = format!("FF{:010}", self.rng.next_u64() % 10_000_000_000);
            if self.taken.insert(reference.clone()) {
                break reference;
            }
        };
        let name = format!(
            "{} {}",
            self.rng.pick(&FIRST_NAMES),
            self.rng.pick(&LAST_NAMES)
        );
        let business = self.rng.chance(12);
        // Feeder passengers into the hub often fly on, long haul.
        let final_destination = (!outbound && self.rng.chance(30))
            .then(|| self.rng.pick(&SPOKES[11..]).airport)
            .filter(|airport| *airport != origin);
        let mut consent = Vec::new();
        for (channel, percent) in [("email", 80), ("sms", 50), ("app_push", 30), ("phone", 10)] {
            if self.rng.chance(percent) {
                consent.push(channel.to_owned());
            }
        }
        SimPassenger {
            reference,
            name,
            tier: tier(&mut self.rng),
            class: if business { "J" } else { "Y" },
            fare_eur: if business {
                spoke.fare_eur * 7 / 2
            } else {
                spoke.fare_eur
            },
            final_destination,
            consent,
        }
    }

    /// Every flight's messages, then the feedback the day brings.
    fn story(&mut self) {
        let flights = std::mem::take(&mut self.flights);
        for (i, flight) in flights.iter().enumerate() {
            self.flight_messages(flight);
            self.flight_feedback(flight, i);
        }
        self.background_feedback(&flights);
        self.flights = flights;
    }

    fn push(
        &mut self,
        at: DateTime<Utc>,
        kind: IngestKind,
        beat: Beat,
        body: impl serde::Serialize,
    ) {
        let mut value = serde_json::to_value(body).expect("ingest messages serialize");
        strip_nulls(&mut value);
        self.messages.push((at, kind, beat, value));
    }

    fn post(&mut self, post: Post<'_>) {
        let beat = match post.kind {
            FeedbackKind::Complaint => Beat::Complaint,
            FeedbackKind::Inquiry => Beat::Inquiry,
            FeedbackKind::Suggestion => Beat::Suggestion,
        };
        self.push(post.received_at, IngestKind::Feedback, beat, post.message());
    }

    fn flight_messages(&mut self, flight: &SimFlight) {
        let mut picture = FlightOpsMessageV1 {
            v: 1,
            source_message_id: String::new(),
            carrier: flight.key.carrier.clone(),
            flight_number: flight.key.number.clone(),
            origin_date: flight.key.date,
            origin: flight.origin.to_owned(),
            destination: flight.destination.to_owned(),
            scheduled_departure: flight.departure,
            scheduled_arrival: flight.arrival,
            estimated_departure: None,
            estimated_arrival: None,
            actual_departure: None,
            actual_arrival: None,
            arrival_airport: None,
            status: FlightStatus::OnTime,
            delays: Vec::new(),
            change_reason: None,
            notified_at: None,
            passenger_count: flight.passenger_count,
        };
        self.push(
            flight.schedule_at,
            IngestKind::FlightOps,
            Beat::Schedule,
            &picture,
        );
        let manifest = self.manifest(flight, None);
        self.push(
            flight.manifest_at,
            IngestKind::Manifest,
            Beat::Manifest,
            manifest,
        );
        let (off_block, on_block) = match flight.fate {
            Fate::Cancelled => {
                picture.status = FlightStatus::Cancelled;
                picture.delays = vec![delay(STORM.code, STORM.minutes.0)];
                picture.change_reason = Some(STORM.reason.to_owned());
                picture.notified_at = Some(flight.notice);
                self.push(
                    flight.notice,
                    IngestKind::FlightOps,
                    Beat::Cancellation,
                    &picture,
                );
                let rebooked = self.manifest(flight, Some(flight.notice));
                let at = flight.notice + minutes(40);
                self.push(at, IngestKind::Manifest, Beat::Rebooking, rebooked);
                return;
            }
            Fate::Delayed {
                cause,
                minutes: late,
            } => {
                let late = minutes(late.into());
                picture.status = FlightStatus::Delayed;
                picture.estimated_departure = Some(flight.departure + late);
                picture.estimated_arrival = Some(flight.arrival + late);
                picture.delays = vec![delay(cause.code, late.num_minutes() as u32)];
                picture.change_reason = Some(cause.reason.to_owned());
                picture.notified_at = Some(flight.notice);
                self.push(flight.notice, IngestKind::FlightOps, Beat::Delay, &picture);
                let on_block = late.num_minutes() + self.rng.range(-10, 5);
                (late.num_minutes(), on_block)
            }
            Fate::OnTime {
                off_block,
                on_block,
            } => (off_block, off_block + on_block),
        };
        let departed = flight.departure + minutes(off_block);
        picture.actual_departure = Some(departed);
        self.push(departed, IngestKind::FlightOps, Beat::Departure, &picture);
        let arrived = flight.arrival + minutes(on_block);
        picture.actual_arrival = Some(arrived);
        self.push(arrived, IngestKind::FlightOps, Beat::Arrival, &picture);
    }

    /// The flight's passenger list; after a cancellation at `cancelled`, with what each
    /// passenger chose: most take a later flight, some a refund, some have not decided.
    fn manifest(
        &mut self,
        flight: &SimFlight,
        cancelled: Option<DateTime<Utc>>,
    ) -> ManifestMessageV1 {
        let passengers = flight
            .passengers
            .iter()
            .map(|p| {
                let mut entry = ManifestPassengerV1 {
                    passenger_ref: p.reference.clone(),
                    name: Some(PersonalData(p.name.clone())),
                    tier: p.tier,
                    booking_class: p.class.to_owned(),
                    fare: Some(Money::new(p.fare_eur * 100, Currency::EUR)),
                    final_destination: p.final_destination.map(str::to_owned),
                    contact_consent: p.consent.clone(),
                    boarded: false,
                    rerouting: None,
                    refund_chosen: false,
                };
                if let Some(at) = cancelled {
                    match self.rng.range(0, 99) {
                        0..=59 => {
                            let departure = at + Duration::hours(self.rng.range(4, 16));
                            let block = flight.arrival - flight.departure;
                            let rerouting = serde_json::json!({
                                "flight_number": format!("{}{}", flight.key.carrier, self.rng.range(1000, 9999)),
                                "departure": departure,
                                "arrival": departure + block,
                                "accepted": self.rng.chance(85),
                            });
                            entry.rerouting = Some(
                                serde_json::from_value(rerouting).expect("a rerouting reads back"),
                            );
                        }
                        60..=84 => entry.refund_chosen = true,
                        _ => {}
                    }
                }
                entry
            })
            .collect();
        ManifestMessageV1 {
            v: 1,
            source_message_id: String::new(),
            carrier: flight.key.carrier.clone(),
            flight_number: flight.key.number.clone(),
            origin_date: flight.key.date,
            passengers,
        }
    }

    /// Keeps what happens by the end, in time order (ties in the order made), and
    /// numbers it.
    fn finish(self) -> Day {
        let end = self.config.end;
        let mut messages: Vec<_> = self
            .messages
            .into_iter()
            .filter(|(at, ..)| *at <= end)
            .collect();
        messages.sort_by_key(|(at, ..)| *at);
        // Everything that shapes the day is in its ids: a message id names one message.
        let config = self.config;
        let run = format!(
            "sim-{}-{}x{}-{}",
            config.seed,
            config.flights,
            config.passengers,
            end.format("%Y%m%dT%H%M%SZ")
        );
        let messages = messages
            .into_iter()
            .enumerate()
            .map(|(n, (at, kind, beat, mut body))| {
                let source_message_id = format!("{run}-{n:05}");
                body["source_message_id"] = serde_json::Value::String(source_message_id.clone());
                Planned {
                    at,
                    kind,
                    beat,
                    source_message_id,
                    body: serde_json::to_vec(&body).expect("JSON"),
                }
            })
            .collect();
        let delayed = self
            .flights
            .iter()
            .skip(self.storm_flights)
            .filter(|f| matches!(f.fate, Fate::Delayed { .. }))
            .map(|f| f.key.clone())
            .collect();
        Day {
            run,
            start: self.start,
            end,
            messages,
            storm: Storm {
                hub: HUBS[0],
                at: self.storm_at,
                cancelled: self.flights[..self.storm_flights]
                    .iter()
                    .map(|f| f.key.clone())
                    .collect(),
            },
            spikes: self.spikes,
            delayed,
        }
    }
}

fn delay(code: &str, minutes: u32) -> DelayEntry {
    DelayEntry {
        code: code.to_owned(),
        minutes,
    }
}

/// Leaves out what a message does not say: `null` fields are noise to a reader.
fn strip_nulls(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(strip_nulls);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}
