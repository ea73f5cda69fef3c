//! The shipped NATS configuration (`deploy/nats/nats-server.conf`), started as it is:
//! crisisd runs through its own restricted user; flight ops, customer channels, crisis
//! teams and auditors each can do what their role needs, and every other publish or
//! subscription is refused by the server.

use std::path::Path;
use std::time::{Duration, Instant};

use async_nats::jetstream;
use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::e2e::{Crisisd, free_port};
use crate::nats_server::NatsServer;

const PASSWORDS: [(&str, &str); 5] = [
    ("CRISISD_NATS_PASSWORD", "pw-crisisd"),
    ("FLIGHT_OPS_NATS_PASSWORD", "pw-flight-ops"),
    ("CHANNEL_NATS_PASSWORD", "pw-channel"),
    ("CRISIS_TEAM_NATS_PASSWORD", "pw-crisis-team"),
    ("AUDITOR_NATS_PASSWORD", "pw-auditor"),
];

/// A client connected as `user`, with the inbox prefix the configuration gives it, and
/// the errors the server sends it (permission violations).
struct User {
    client: async_nats::Client,
    errors: mpsc::UnboundedReceiver<String>,
}

impl User {
    async fn connect(url: &str, user: &str, password: &str) -> User {
        let (tx, errors) = mpsc::unbounded_channel();
        let client = async_nats::ConnectOptions::with_user_and_password(
            user.to_owned(),
            password.to_owned(),
        )
        .custom_inbox_prefix(format!("_INBOX_{user}"))
        .event_callback(move |event| {
            let tx = tx.clone();
            async move {
                if let async_nats::Event::ServerError(err) = event {
                    let _ = tx.send(err.to_string());
                }
            }
        })
        .connect(url)
        .await
        .unwrap_or_else(|err| panic!("{user} connects: {err}"));
        User { client, errors }
    }

    /// Asserts the server refuses `what` (the next error it sends names it).
    async fn refused(&mut self, what: &str) {
        self.client.flush().await.unwrap();
        let said = tokio::time::timeout(Duration::from_secs(10), self.errors.recv())
            .await
            .unwrap_or_else(|_| panic!("no refusal of {what} within 10 s"))
            .unwrap();
        assert!(
            said.contains("Permissions Violation") && said.contains(what),
            "refused {what}: {said}"
        );
    }

    /// Publishing to `subject` is refused.
    async fn cannot_publish(&mut self, subject: &str) {
        self.client
            .publish(subject.to_owned(), "{}".into())
            .await
            .unwrap();
        self.refused(&format!("Publish to \"{subject}\"")).await;
    }

    /// Subscribing to `subject` is refused.
    async fn cannot_subscribe(&mut self, subject: &str) {
        let _subscription = self.client.subscribe(subject.to_owned()).await.unwrap();
        self.refused(&format!("Subscription to \"{subject}\""))
            .await;
    }

    /// No refusal came: everything this user did was allowed.
    fn nothing_refused(&mut self) {
        assert_eq!(self.errors.try_recv().ok(), None);
    }
}

fn flight(date: &str, n: u32) -> Value {
    json!({"v": 1, "source_message_id": format!("aidx-{n}"), "carrier": "LH",
        "flight_number": "400", "origin_date": date, "origin": "FRA", "destination": "JFK",
        "scheduled_departure": format!("{date}T10:00:00Z"),
        "scheduled_arrival": format!("{date}T18:40:00Z"), "status": "delayed",
        "delays": [{"code": "41", "minutes": 90 + n}], "passenger_count": 300})
}

fn feedback(received_at: &str) -> Value {
    json!({"v": 1, "source_message_id": "hotline-1", "channel": "hotline",
        "text": "still at the gate", "passenger_ref": "FF1", "category_hint": "delay",
        "received_at": received_at, "reach": 1})
}

/// Publishes to JetStream and waits for its acknowledgement; retries while crisisd
/// has not created the ingest stream yet (producers may not create it here).
async fn published(js: &jetstream::Context, subject: &str, message: &Value) {
    let started = Instant::now();
    loop {
        let ack = match js
            .publish(subject.to_owned(), message.to_string().into())
            .await
        {
            Ok(ack) => ack.await,
            Err(err) => Err(err),
        };
        match ack {
            Ok(_) => return,
            Err(err) => {
                assert!(
                    started.elapsed() < Duration::from_secs(30),
                    "{subject} acknowledged within 30 s: {err}"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

/// The next message on `subscription` whose subject ends in `suffix`.
async fn next_ending(subscription: &mut async_nats::Subscriber, suffix: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let message = tokio::time::timeout(left, subscription.next())
            .await
            .unwrap_or_else(|_| panic!("a message on *{suffix} within 30 s"))
            .unwrap();
        if message.subject.ends_with(suffix) {
            return serde_json::from_slice(&message.payload).unwrap_or(Value::Null);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shipped_nats_configuration_grants_each_role_its_subjects_and_nothing_else() {
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/nats/nats-server.conf");
    let nats = NatsServer::start_with_config(&config, &PASSWORDS);
    let url = nats.url();
    let dir = tempfile::tempdir().unwrap();
    let password_file = dir.path().join("nats-password");
    std::fs::write(&password_file, "pw-crisisd\n").unwrap();
    let crisisd = Crisisd::start_with(
        dir.path(),
        &[
            "--nats-url",
            &url,
            "--nats-user",
            "crisisd",
            "--nats-password-file",
            password_file.to_str().unwrap(),
        ],
        free_port().unwrap(),
    );
    let mut ops = User::connect(&url, "flight_ops", "pw-flight-ops").await;
    let mut channel = User::connect(&url, "channel", "pw-channel").await;
    let mut team = User::connect(&url, "crisis_team", "pw-crisis-team").await;
    let mut auditor = User::connect(&url, "auditor", "pw-auditor").await;

    // Crisis teams and auditors read events live.
    let mut team_events = team.client.subscribe("crisis.events.>").await.unwrap();
    let mut audited = auditor.client.subscribe("crisis.events.>").await.unwrap();
    // Flight ops publish and read their rejections, live and from CRISIS_REJECTED.
    let mut rejections = ops
        .client
        .subscribe("crisis.rejected.flightops")
        .await
        .unwrap();
    let date = (chrono::Utc::now() - chrono::Duration::days(1))
        .date_naive()
        .to_string();
    let ops_js = jetstream::new(ops.client.clone());
    published(&ops_js, "crisis.ingest.flightops", &flight(&date, 0)).await;
    let mut broken = flight(&date, 1);
    broken["origin"] = json!("Frankfurt");
    published(&ops_js, "crisis.ingest.flightops", &broken).await;
    let rejection = next_ending(&mut rejections, ".flightops").await;
    assert_eq!(rejection["source_message_id"], "aidx-1", "{rejection}");
    let stored = ops_js
        .get_stream("CRISIS_REJECTED")
        .await
        .unwrap()
        .create_consumer(jetstream::consumer::pull::Config {
            name: Some("flight-ops-rejections".into()),
            filter_subject: "crisis.rejected.flightops".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut kept = stored.fetch().max_messages(1).messages().await.unwrap();
    let kept = kept.next().await.unwrap().unwrap();
    let kept_rejection: Value = serde_json::from_slice(&kept.payload).unwrap();
    assert_eq!(kept_rejection["source_message_id"], "aidx-1");
    kept.ack().await.unwrap();
    // Customer channels publish feedback.
    let channel_js = jetstream::new(channel.client.clone());
    let received_at = (chrono::Utc::now() - chrono::Duration::minutes(5))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    published(
        &channel_js,
        "crisis.ingest.feedback",
        &feedback(&received_at),
    )
    .await;

    // What they published reached crisisd, which published the facts as its own user.
    for events in [&mut team_events, &mut audited] {
        next_ending(events, ".scheduled").await;
        next_ending(events, ".recorded").await;
    }
    // Auditors (and teams) replay from the stream.
    let replay = jetstream::new(auditor.client.clone())
        .get_stream("CRISIS_EVENTS")
        .await
        .unwrap()
        .create_consumer(jetstream::consumer::pull::Config::default())
        .await
        .unwrap();
    let mut first = replay.fetch().max_messages(1).messages().await.unwrap();
    let first = first.next().await.unwrap().unwrap();
    assert_eq!(
        first
            .headers
            .as_ref()
            .unwrap()
            .get("ce-sequence")
            .unwrap()
            .as_str(),
        "1"
    );
    for user in [&mut ops, &mut channel, &mut team, &mut auditor] {
        user.nothing_refused();
    }

    // And nothing else.
    ops.cannot_publish("crisis.ingest.feedback").await;
    ops.cannot_publish("crisis.events.flight.x.forged").await;
    ops.cannot_publish("crisis.rejected.flightops").await;
    ops.cannot_publish("$JS.API.STREAM.DELETE.CRISIS_INGEST")
        .await;
    ops.cannot_publish("$JS.API.CONSUMER.CREATE.CRISIS_REJECTED.peek.crisis.rejected.feedback")
        .await;
    ops.cannot_subscribe("crisis.events.>").await;
    ops.cannot_subscribe("crisis.ingest.>").await;
    ops.cannot_subscribe("crisis.rejected.feedback").await;
    channel.cannot_publish("crisis.ingest.flightops").await;
    channel.cannot_publish("crisis.ingest.manifest").await;
    channel.cannot_subscribe("crisis.rejected.flightops").await;
    channel.cannot_subscribe("crisis.events.>").await;
    for user in [&mut team, &mut auditor] {
        user.cannot_publish("crisis.ingest.flightops").await;
        user.cannot_publish("crisis.events.incident.x.opened").await;
        user.cannot_publish("$JS.API.STREAM.PURGE.CRISIS_EVENTS")
            .await;
        user.cannot_publish("$JS.API.CONSUMER.CREATE.CRISIS_INGEST")
            .await;
        user.cannot_subscribe("crisis.ingest.>").await;
    }
    // Nobody reads replies meant for another user: JetStream acknowledgements, or the
    // customers' words a pull consumer delivers to crisisd.
    for user in [&mut ops, &mut channel, &mut team, &mut auditor] {
        user.cannot_subscribe("_INBOX.>").await;
        user.cannot_subscribe("_INBOX_crisisd.>").await;
    }
    // Cluster mode: the nodes hand each other the key store's epoch keys on
    // crisis.keys.<cluster>.*; crisisd's user may, no other.
    let mut node = User::connect(&url, "crisisd", "pw-crisisd").await;
    let mut holds = node
        .client
        .subscribe("crisis.keys.prod.hold".to_owned())
        .await
        .unwrap();
    let _fetches = node
        .client
        .subscribe("crisis.keys.prod.fetch".to_owned())
        .await
        .unwrap();
    node.client
        .publish("crisis.keys.prod.hold".to_owned(), "{}".into())
        .await
        .unwrap();
    let held = tokio::time::timeout(Duration::from_secs(10), holds.next())
        .await
        .expect("crisisd's user reads what it sent on crisis.keys.prod.hold");
    assert!(held.is_some());
    node.nothing_refused();
    for user in [&mut ops, &mut channel, &mut team, &mut auditor] {
        user.cannot_subscribe("crisis.keys.>").await;
        user.cannot_publish("crisis.keys.prod.hold").await;
    }
    crisisd.stop();
}
