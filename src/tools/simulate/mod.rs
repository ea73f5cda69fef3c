//! `crisisd simulate`: a realistic day of operations sent to a running crisisd, as flight
//! ops and the customer channels send theirs — for a newcomer's first ten minutes, a
//! demo, or a load that looks like a real day.
//!
//! The day is [`day::day`]: flights scheduled through 24 hours, their manifests,
//! delays with IATA codes, a storm that cancels a bank of flights at the hub (and the
//! rebookings after it), departures and arrivals, and the customers' complaints,
//! inquiries and suggestions across channels and tiers, with two bursts of posts that
//! crisisd's spike detector turns into incidents. The day ends at `--end` (default now),
//! so every time a message carries has passed: crisisd refuses times in the future.
//!
//! This module paces the day — `--speed X` plays it X times faster than real time,
//! `--rate N` sends N messages a second — and sends it:
//! - over HTTP, `POST /v1/ingest/<kind>`, one request at a time (so one flight's
//!   messages arrive in order), with a `flight_ops` token for flight ops and manifests
//!   and a `channel` token for feedback; 202 is stored, 422 a rejection;
//! - over NATS, JetStream publishes to `crisis.ingest.<kind>` with `Nats-Msg-Id` = the
//!   source message id (so a retried publish is stored once), a window of acks in
//!   flight; rejections are read from `crisis.rejected.<kind>` as crisisd publishes them.
//!
//! Every retry (connecting, a 503, a publish without an ack) is bounded with exponential
//! backoff; what cannot work (nothing listening, a token without the role, a subject the
//! NATS user may not publish to) stops the run with what to do about it. Progress and the
//! summary count messages, never show their content: they hold passengers' names and words.
//!
//! | module | what |
//! |---|---|
//! | this file | the arguments, the pace and the run loop; `Sender` picks the transport |
//! | `http` | `POST /v1/ingest/<kind>` over a plain HTTP/1.0 client, tokens by role |
//! | `nats` | JetStream publishes with a window of acks, rejections read back |
//! | `report` | the `Tally` of what was sent, the intro, progress line and summary |

mod http;
mod nats;
mod report;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::bail;
use chrono::{DateTime, Utc};
use tokio::time::Instant;

use crate::bus::connection::without_secrets;
use crate::testing::day::{self, Day, DayConfig, Planned};

use http::{HttpSender, HttpTarget};
use nats::NatsSender;
use report::{Tally, intro, summary};

/// A day played in a minute unless told otherwise.
const SPEED_DEFAULT: f64 = 1440.0;
/// Attempts of one request or publish before the run stops.
const ATTEMPTS_MAX: u32 = 6;
/// How often a progress line is printed.
const PROGRESS_EVERY: Duration = Duration::from_secs(2);

/// How the messages travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Via {
    /// `POST /v1/ingest/<kind>` with bearer tokens.
    Http,
    /// JetStream publishes to `crisis.ingest.<kind>`.
    Nats,
}

/// What to simulate, and where to send it.
#[derive(Debug, clap::Args)]
pub struct SimulateArgs {
    /// How to send: over HTTP (the ingest endpoints, with tokens) or NATS (the subjects
    /// crisisd consumes).
    #[arg(long, value_enum, default_value_t = Via::Http)]
    pub via: Via,
    /// crisisd's HTTP address: where HTTP sends, and what the summary's next steps ask.
    #[arg(long, env = "CRISISD_URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// A token with role flight_ops (`crisisd token add --role flight_ops --actor sim`),
    /// for flight-ops messages and manifests over HTTP.
    #[arg(long, env = "CRISISD_FLIGHT_OPS_TOKEN", hide_env_values = true)]
    pub flight_ops_token: Option<String>,
    /// A token with role channel (`crisisd token add --role channel --actor sim`), for
    /// feedback over HTTP.
    #[arg(long, env = "CRISISD_CHANNEL_TOKEN", hide_env_values = true)]
    pub channel_token: Option<String>,
    /// One token for every kind (an admin's), where the two above are not given.
    #[arg(long, env = "CRISISD_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// The NATS server(s) crisisd consumes from, when sending over NATS.
    #[arg(
        long,
        env = "CRISISD_NATS_URL",
        default_value = "nats://127.0.0.1:4222"
    )]
    pub nats_url: String,
    /// NATS credentials (`.creds`) of the flight-ops sender (and of the channels, unless
    /// --channel-nats-* say otherwise).
    #[arg(long)]
    pub nats_creds: Option<PathBuf>,
    /// NATS user of the flight-ops sender (deploy/nats/nats-server.conf: flight_ops).
    #[arg(long, requires = "nats_password_file")]
    pub nats_user: Option<String>,
    /// A file holding that user's password.
    #[arg(long, requires = "nats_user")]
    pub nats_password_file: Option<PathBuf>,
    /// NATS credentials of the channels' sender (feedback).
    #[arg(long)]
    pub channel_nats_creds: Option<PathBuf>,
    /// NATS user of the channels' sender (deploy/nats/nats-server.conf: channel).
    #[arg(long, requires = "channel_nats_password_file")]
    pub channel_nats_user: Option<String>,
    /// A file holding that user's password.
    #[arg(long, requires = "channel_nats_user")]
    pub channel_nats_password_file: Option<PathBuf>,
    /// Flights in the day (a tenth of them, at least two, in the storm's bank).
    #[arg(long, default_value_t = 120, value_parser = clap::value_parser!(u32).range(5..=5000))]
    pub flights: u32,
    /// Passengers each manifest lists (at most the flight's passenger count).
    #[arg(long, default_value_t = 24, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub passengers: u32,
    /// Names the day with --end: the same seed and end give the same messages, ids included.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// When the simulated day ends (RFC 3339, e.g. 2026-11-22T14:05:00Z; default: now).
    /// Never in the future: crisisd refuses times that have not happened yet.
    #[arg(long, value_parser = parse_end)]
    pub end: Option<DateTime<Utc>>,
    /// Play the day this many times faster than real time (default 1440: a day a minute).
    #[arg(long, conflicts_with = "rate")]
    pub speed: Option<f64>,
    /// Send this many messages a second instead, whatever their simulated times.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Stop after this long (90s, 10m, 1h), even if the day is not over.
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Over NATS: how long to wait at the end for crisisd to take every message.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub drain_timeout: Duration,
}

/// How the day is paced.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Pace {
    Speed(f64),
    Rate(f64),
}

impl Pace {
    /// When message `index` is due, from the run's start.
    fn due(self, day: &Day, index: usize, message: &Planned) -> Duration {
        let seconds = match self {
            Pace::Speed(speed) => {
                (message.at - day.start).num_milliseconds() as f64 / 1000.0 / speed
            }
            Pace::Rate(rate) => index as f64 / rate,
        };
        Duration::from_secs_f64(seconds.max(0.0))
    }
}

/// Runs the simulation to its end (or `--duration`, or Ctrl-C).
pub async fn run(args: SimulateArgs) -> anyhow::Result<ExitCode> {
    let pace = match (args.speed, args.rate) {
        (_, Some(rate)) if !(rate > 0.0 && rate.is_finite()) => bail!("--rate must be above 0"),
        (Some(speed), _) if !(speed > 0.0 && speed.is_finite()) => bail!("--speed must be above 0"),
        (_, Some(rate)) => Pace::Rate(rate),
        (speed, None) => Pace::Speed(speed.unwrap_or(SPEED_DEFAULT)),
    };
    let now = Utc::now();
    let end = match args.end {
        Some(end) if end > now => bail!(
            "--end {end} is in the future: crisisd refuses messages about what has not happened yet; give a time that has passed, or leave --end out (the day then ends now)"
        ),
        Some(end) => end,
        None => DateTime::from_timestamp(now.timestamp(), 0).expect("now exists"),
    };
    let config = DayConfig {
        seed: args.seed,
        end,
        flights: args.flights,
        passengers: args.passengers,
    };
    let day = day::day(&config);
    let mut tally = Tally::default();
    let mut sender = Sender::connect(&args, &day, &tally).await?;
    intro(&day, &config, pace, &sender);
    let ended = drive(&day, pace, args.duration, &mut sender, &mut tally).await?;
    // Ctrl-C is ours from now on: after an interruption, do not keep the person waiting.
    let drain_timeout = match ended {
        Ended::Interrupted => args.drain_timeout.min(Duration::from_secs(5)),
        _ => args.drain_timeout,
    };
    let note = sender.finish(&mut tally, drain_timeout).await?;
    if args.via == Via::Nats {
        let answered = match HttpTarget::parse(&args.url) {
            Ok(target) => target.request("GET", "/healthz", None, b"").await.is_ok(),
            Err(_) => false,
        };
        if !answered {
            tally.warnings.push(format!(
                "crisisd's HTTP API does not answer at {}: give its address with --url to use the commands below",
                args.url
            ));
        }
    }
    summary(&day, &config, &args, &tally, ended, note);
    Ok(if ended == Ended::Interrupted {
        ExitCode::from(130)
    } else if tally.rejected_total() > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// How the sending ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ended {
    DayOver,
    DurationReached,
    Interrupted,
}

/// Sends every message when it is due.
async fn drive(
    day: &Day,
    pace: Pace,
    duration: Option<Duration>,
    sender: &mut Sender,
    tally: &mut Tally,
) -> anyhow::Result<Ended> {
    let started = Instant::now();
    let mut progress_at = started + PROGRESS_EVERY;
    let interrupt = tokio::signal::ctrl_c();
    tokio::pin!(interrupt);
    for (index, message) in day.messages.iter().enumerate() {
        let due = started + pace.due(day, index, message);
        if duration.is_some_and(|limit| due > started + limit) {
            return Ok(Ended::DurationReached);
        }
        tokio::select! {
            _ = tokio::time::sleep_until(due) => {}
            _ = &mut interrupt => return Ok(Ended::Interrupted),
        }
        sender.send(message, tally).await?;
        tally.sent(message);
        if Instant::now() >= progress_at {
            progress_at = Instant::now() + PROGRESS_EVERY;
            println!(
                "{:>7.1} s  simulated {}  {}",
                started.elapsed().as_secs_f64(),
                message.at.format("%Y-%m-%d %H:%MZ"),
                tally.line(day.messages.len())
            );
        }
    }
    Ok(Ended::DayOver)
}

/// Where the messages go.
enum Sender {
    Http(HttpSender),
    Nats(Box<NatsSender>),
}

impl Sender {
    async fn connect(args: &SimulateArgs, day: &Day, tally: &Tally) -> anyhow::Result<Sender> {
        match args.via {
            Via::Http => Ok(Sender::Http(HttpSender::connect(args).await?)),
            Via::Nats => {
                let nats = NatsSender::connect(args, &day.run).await?;
                nats.listen(&tally.rejected).await?;
                Ok(Sender::Nats(Box::new(nats)))
            }
        }
    }

    fn describe(&self) -> String {
        match self {
            Sender::Http(http) => format!("HTTP to {}", http.target.url),
            Sender::Nats(nats) => format!("NATS to {}", without_secrets(&nats.url)),
        }
    }

    async fn send(&mut self, message: &Planned, tally: &mut Tally) -> anyhow::Result<()> {
        match self {
            Sender::Http(http) => http.send(message, tally).await,
            Sender::Nats(nats) => nats.send(message, tally).await,
        }
    }

    /// Waits for what is still under way; says how sure the counts are.
    async fn finish(self, tally: &mut Tally, drain_timeout: Duration) -> anyhow::Result<String> {
        match self {
            Sender::Http(_) => Ok("every message was answered by crisisd".into()),
            Sender::Nats(nats) => nats.finish(tally, drain_timeout).await,
        }
    }
}

fn parse_end(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|err| format!("{err}: give an RFC 3339 time such as 2026-11-22T14:05:00Z"))
}

/// `90`, `90s`, `10m`, `1h`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .map_or((text, "s"), |at| text.split_at(at));
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration such as 90s, 10m or 1h"))?;
    let seconds = match unit {
        "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => return Err(format!("{text:?}: the unit is s, m or h (90s, 10m, 1h)")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|err| format!("{text:?}: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(seed: u64) -> DayConfig {
        DayConfig {
            seed,
            end: parse_end("2026-11-22T14:05:00Z").unwrap(),
            flights: 30,
            passengers: 6,
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_messages_and_another_seed_others() {
        let first = day::day(&config(7));
        let again = day::day(&config(7));
        assert_eq!(
            first, again,
            "same seed and end: the same day, ids included"
        );
        assert!(
            first.messages.len() > 100,
            "{} messages",
            first.messages.len()
        );
        let other = day::day(&config(8));
        let bodies = |day: &Day| {
            day.messages
                .iter()
                .map(|m| m.body.clone())
                .collect::<Vec<_>>()
        };
        assert_ne!(bodies(&first), bodies(&other), "another seed, another day");
        let ids = |day: &Day| {
            day.messages
                .iter()
                .map(|m| m.source_message_id.clone())
                .collect::<std::collections::HashSet<_>>()
        };
        assert!(
            ids(&first).is_disjoint(&ids(&other)),
            "their ids never meet"
        );
        assert_ne!(first.storm.cancelled, other.storm.cancelled);
    }

    #[test]
    fn speed_spreads_the_day_and_rate_spaces_the_messages() {
        let day = day::day(&config(1));
        let last = day.messages.len() - 1;
        let span = Pace::Speed(1440.0).due(&day, last, &day.messages[last]);
        assert!(span <= Duration::from_secs(60), "{span:?}");
        assert!(span >= Duration::from_secs(40), "{span:?}");
        let spaced = Pace::Rate(50.0).due(&day, 100, &day.messages[100]);
        assert_eq!(spaced, Duration::from_secs(2));
    }

    #[test]
    fn urls_and_durations_are_read_or_refused_with_the_fix() {
        let target = HttpTarget::parse("http://127.0.0.1:8080/").unwrap();
        assert_eq!(
            (target.authority.as_str(), target.prefix.as_str()),
            ("127.0.0.1:8080", "")
        );
        let target = HttpTarget::parse("http://crisis.example/api").unwrap();
        assert_eq!(
            (target.authority.as_str(), target.prefix.as_str()),
            ("crisis.example:80", "/api")
        );
        let refused = HttpTarget::parse("https://crisis.example")
            .unwrap_err()
            .to_string();
        assert!(refused.contains("--via nats"), "{refused}");
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
        assert!(parse_duration("3d").unwrap_err().contains("s, m or h"));
    }
}
