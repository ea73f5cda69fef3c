//! What the person running `simulate` reads, and what it is made from: the [`Tally`] of
//! messages sent, retried and rejected, the intro, the progress line and the summary with
//! the next steps. Counts only: messages hold passengers' names and words.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use crate::testing::day::{Beat, Day, DayConfig, IngestKind, Planned};

use super::{Ended, Pace, Sender, SimulateArgs};

/// What was sent and what became of it.
#[derive(Debug, Default)]
pub(super) struct Tally {
    kinds: BTreeMap<IngestKind, u64>,
    beats: BTreeMap<Beat, u64>,
    /// Sends that needed another attempt.
    pub(super) retries: u64,
    /// Publishes JetStream had already (within its duplicate window): stored once.
    pub(super) duplicates: u64,
    /// Rejections: (code, field) → how many, and one message.
    pub(super) rejected: Arc<Mutex<Rejections>>,
    /// What the run could not see (a refused subscription), to say in the summary.
    pub(super) warnings: Vec<String>,
}

pub(super) type Rejections = BTreeMap<(String, String), (u64, String)>;

/// Counts one rejection under its code and field, keeping the first reason given.
pub(super) fn record(rejections: &Mutex<Rejections>, code: &str, field: &str, why: &str) {
    let mut rejections = rejections.lock().expect("not poisoned");
    let entry = rejections
        .entry((code.to_owned(), field.to_owned()))
        .or_insert_with(|| (0, why.to_owned()));
    entry.0 += 1;
}

impl Tally {
    pub(super) fn sent(&mut self, message: &Planned) {
        *self.kinds.entry(message.kind).or_default() += 1;
        *self.beats.entry(message.beat).or_default() += 1;
    }

    pub(super) fn sent_total(&self) -> u64 {
        self.kinds.values().sum()
    }

    pub(super) fn reject(&self, code: &str, field: &str, why: &str) {
        record(&self.rejected, code, field, why);
    }

    pub(super) fn rejected_total(&self) -> u64 {
        let rejected = self.rejected.lock().expect("not poisoned");
        rejected.values().map(|(count, _)| count).sum()
    }

    pub(super) fn line(&self, planned: usize) -> String {
        let kinds: Vec<String> = IngestKind::ALL
            .iter()
            .map(|kind| format!("{} {}", kind.token(), self.kinds.get(kind).unwrap_or(&0)))
            .collect();
        format!(
            "sent {}/{planned}  ({})  rejected {}",
            self.sent_total(),
            kinds.join(" · "),
            self.rejected_total()
        )
    }
}

pub(super) fn intro(day: &Day, config: &DayConfig, pace: Pace, sender: &Sender) {
    let wall = match pace {
        Pace::Speed(speed) => format!(
            "played {speed}x faster than real time: about {:.0} s",
            (day.end - day.start).num_seconds() as f64 / speed
        ),
        Pace::Rate(rate) => format!(
            "at {rate} messages/s: about {:.0} s",
            day.messages.len() as f64 / rate
        ),
    };
    println!(
        "simulating {} flights from {} to {} (seed {}): {} messages, {wall}, over {}",
        config.flights,
        day.start.format("%Y-%m-%d %H:%MZ"),
        day.end.format("%Y-%m-%d %H:%MZ"),
        config.seed,
        day.messages.len(),
        sender.describe()
    );
}

pub(super) fn summary(
    day: &Day,
    config: &DayConfig,
    args: &SimulateArgs,
    tally: &Tally,
    ended: Ended,
    note: String,
) {
    let how = match ended {
        Ended::DayOver => "the day is over",
        Ended::DurationReached => "--duration reached",
        Ended::Interrupted => "interrupted",
    };
    println!(
        "\n{how}: sent {} of {} messages ({} retried); {note}",
        tally.sent_total(),
        day.messages.len(),
        tally.retries
    );
    for kind in IngestKind::ALL {
        let beats: Vec<String> = tally
            .beats
            .iter()
            .filter(|(beat, _)| kind_of(**beat) == kind)
            .map(|(beat, count)| format!("{} {count}", beat.name()))
            .collect();
        println!(
            "  {:<9} {:>6}  {}",
            kind.token(),
            tally.kinds.get(&kind).unwrap_or(&0),
            beats.join(" · ")
        );
    }
    let storm = &day.storm;
    let cancelled: Vec<String> = storm
        .cancelled
        .iter()
        .map(|f| format!("{}{}", f.carrier, f.number))
        .collect();
    println!(
        "  the storm over {} at {} cancelled {} flights: {}",
        storm.hub,
        storm.at.format("%Y-%m-%d %H:%MZ"),
        cancelled.len(),
        cancelled.join(", ")
    );
    for spike in &day.spikes {
        println!(
            "  spike: {} posts about {} ({:?}) from {} to {}: enough for crisisd's spike detector to open an incident",
            spike.posts,
            spike.flight,
            spike.category,
            spike.from.format("%H:%MZ"),
            spike.until.format("%H:%MZ")
        );
    }
    let rejected = tally.rejected.lock().expect("not poisoned");
    if rejected.is_empty() {
        println!("  rejected: none");
    } else {
        let total: u64 = rejected.values().map(|(count, _)| count).sum();
        println!("  rejected: {total}");
        for ((code, field), (count, why)) in rejected.iter() {
            println!("    {count:>5} × {code} at {field:?}: {why}");
        }
    }
    if tally.duplicates > 0 {
        println!(
            "  {} messages were sent before, within JetStream's duplicate window: the same message, stored once",
            tally.duplicates
        );
    }
    for warning in &tally.warnings {
        println!("  warning: {warning}");
    }
    next_steps(day, config, args);
}

fn kind_of(beat: Beat) -> IngestKind {
    match beat {
        Beat::Schedule | Beat::Delay | Beat::Cancellation | Beat::Departure | Beat::Arrival => {
            IngestKind::FlightOps
        }
        Beat::Manifest | Beat::Rebooking => IngestKind::Manifest,
        Beat::Complaint | Beat::Inquiry | Beat::Suggestion => IngestKind::Feedback,
    }
}

fn next_steps(day: &Day, config: &DayConfig, args: &SimulateArgs) {
    let url = args.url.trim_end_matches('/');
    let storm_date = day.storm.at.date_naive();
    let curl = |path: &str| format!("  curl -s -H \"Authorization: Bearer $TOKEN\" '{url}{path}'");
    println!(
        "\nWhat crisisd made of it, with a reader's token (TOKEN=$(crisisd token add --role agent --actor you)):"
    );
    println!("{}   # incidents the spikes opened", curl("/v1/incidents"));
    println!(
        "{}   # the disrupted flights",
        curl(&format!("/v1/flights?date={storm_date}"))
    );
    if let Some(flight) = day.storm.cancelled.first() {
        println!(
            "{}   # one cancelled flight: passengers, complaints, incident",
            curl(&format!(
                "/v1/flights/{}/{}/{}",
                flight.carrier, flight.number, flight.date
            ))
        );
    }
    println!(
        "{}   # the bursts the monitor saw",
        curl("/v1/monitor/spikes")
    );
    println!(
        "{}   # the complaint queue and its deadlines",
        curl("/v1/complaints")
    );
    println!(
        "{}",
        curl(&format!("/v1/reports?period=day&date={storm_date}"))
    );
    println!("  or the crisis board: {url}/ in a browser");
    println!(
        "The same day again (sent twice, it is stored once): crisisd simulate --seed {} --end {} --flights {} --passengers {}",
        config.seed,
        config.end.format("%Y-%m-%dT%H:%M:%SZ"),
        config.flights,
        config.passengers
    );
}
