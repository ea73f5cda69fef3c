//! End to end with the real binary: flight-ops and feedback messages published to
//! `crisis.ingest.*` by an independent client become events that appear exactly once on
//! `crisis.events.>` in position order, identical to what `crisisd replay` prints.

use std::collections::HashSet;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use async_nats::jetstream;
use futures_util::StreamExt;
use serde_json::{Value, json};

use crate::nats_server::NatsServer;
pub(crate) use crisisd::tools::free_port;

pub(crate) struct Crisisd(pub(crate) Child);

impl Drop for Crisisd {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Crisisd {
    pub(crate) fn start(data_dir: &std::path::Path, nats_url: &str) -> Crisisd {
        Crisisd::start_with(data_dir, &["--nats-url", nats_url], free_port().unwrap())
    }

    pub(crate) fn start_with(data_dir: &std::path::Path, args: &[&str], http_port: u16) -> Crisisd {
        Crisisd::start_logged(data_dir, args, http_port, None)
    }

    /// Like [`Crisisd::start_with`], logging at `info` into `log` when given.
    pub(crate) fn start_logged(
        data_dir: &std::path::Path,
        args: &[&str],
        http_port: u16,
        log: Option<&std::path::Path>,
    ) -> Crisisd {
        let mut command = Command::new(env!("CARGO_BIN_EXE_crisisd"));
        command
            .args(["--data-dir", data_dir.to_str().unwrap(), "serve"])
            .args(["--http-addr", &format!("127.0.0.1:{http_port}")])
            .args(args)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null());
        if let Some(log) = log {
            let file = std::fs::File::create(log).unwrap();
            command.env("RUST_LOG", "info").stderr(file);
        }
        Crisisd(command.spawn().expect("start crisisd serve"))
    }

    /// SIGTERM and wait for a clean exit.
    pub(crate) fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let status = self.0.wait().unwrap();
        assert!(
            status.success(),
            "crisisd exits cleanly on SIGTERM: {status}"
        );
    }
}

/// One HTTP/1.0 request (so no chunked encoding) over a fresh connection: (status, body).
pub(crate) fn http(port: u16, method: &str, path: &str, token: &str, body: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("crisisd listens");
    write!(
        stream,
        "{method} {path} HTTP/1.0\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// `crisisd token add` issues a token that the real `serve` accepts over HTTP, with the
/// token's actor recorded in the event; no NATS needed.
#[test]
fn serve_answers_http_commands_with_tokens_from_token_add() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_crisisd"))
        .args([
            "--data-dir",
            dir.path().to_str().unwrap(),
            "token",
            "add",
            "--role",
            "crisis_lead",
            "--actor",
            "lead-anna",
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let token = String::from_utf8(output.stdout).unwrap().trim().to_owned();
    let port = free_port().unwrap();
    let crisisd = Crisisd::start_with(dir.path(), &[], port);
    let started = std::time::Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed().as_secs() < 30,
            "crisisd serves HTTP within 30 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let (status, body) = http(port, "GET", "/v1/incidents", "crisisd_wrong", "");
    assert_eq!(status, 401, "{body}");
    let open = r#"{"title":"LH400 cancelled","category":"cancellation","severity":"high","flight":null,"correlation_key":null,"signal_ids":[]}"#;
    let (status, body) = http(port, "POST", "/v1/incidents", &token, open);
    assert_eq!(status, 200, "{body}");
    let result: Value = serde_json::from_str(&body).unwrap();
    let position = result["position"].as_u64().unwrap();
    let (status, body) = http(
        port,
        "GET",
        &format!("/v1/incidents?after={position}"),
        &token,
        "",
    );
    assert_eq!(status, 200, "{body}");
    let board: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(board["items"][0]["title"], "LH400 cancelled", "{body}");
    let (status, body) = http(port, "GET", "/v1/audit/events", &token, "");
    assert_eq!(status, 200, "{body}");
    let event: Value = serde_json::from_str(body.lines().next().unwrap()).unwrap();
    assert_eq!(
        event["actor"],
        json!({"id": "lead-anna", "role": "crisis_lead"})
    );
    crisisd.stop();
}

/// When the test's messages were written: crisisd refuses implausible dates and times
/// (an origin date over a year ago, a receipt in the future), so the flights are two days
/// old and the feedback an hour old, whenever the test runs. Fixed once per run, so a
/// producer's retry sends the very same message.
struct Day {
    /// The flights' origin date, two days ago (every time on it has passed).
    date: chrono::NaiveDate,
    /// When the channels received the feedback: an hour ago, so no service level of
    /// the complaints runs out during the test.
    received_at: String,
}

impl Day {
    fn now() -> Day {
        let now = chrono::Utc::now();
        Day {
            date: (now - chrono::Duration::days(2)).date_naive(),
            received_at: (now - chrono::Duration::hours(1))
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        }
    }

    fn at(&self, time: &str) -> String {
        format!("{}T{time}Z", self.date)
    }
}

fn flight_ops(day: &Day, n: u32) -> Value {
    json!({
        "v": 1, "source_message_id": format!("aidx-{n}"), "carrier": "LH", "flight_number": format!("{}", 100 + n % 20),
        "origin_date": day.date.to_string(), "origin": "FRA", "destination": "JFK",
        "scheduled_departure": day.at("10:00:00"), "scheduled_arrival": day.at("18:40:00"),
        "estimated_departure": day.at(&format!("{:02}:{:02}:00", 11 + n / 60 % 10, n % 60)), "status": "delayed",
        "delays": [{"code": "93", "minutes": 30 + n}], "passenger_count": 300
    })
}

fn feedback(day: &Day, n: u32) -> Value {
    json!({
        "v": 1, "source_message_id": format!("fb-{n}"), "channel": "social_media", "text": "still waiting at the gate",
        "passenger_ref": format!("FF{n:06}"), "category_hint": "delay", "received_at": day.received_at, "reach": 50,
        "flight": {"carrier": "LH", "flight_number": "999", "origin_date": day.date.to_string()}
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ingest_to_published_events_exactly_once_and_identical_to_replay() {
    let nats = NatsServer::start();
    let dir = tempfile::tempdir().unwrap();
    let crisisd = Crisisd::start(dir.path(), &nats.url());
    let client = async_nats::connect(nats.url()).await.unwrap();
    let js = jetstream::new(client.clone());
    // Producers create the ingest stream if crisisd has not yet: durable handoff either way.
    js.get_or_create_stream(crisisd::bus::ingest::stream_config())
        .await
        .unwrap();
    let mut rejected = client.subscribe("crisis.rejected.>").await.unwrap();
    let day = Day::now();
    let mut acks = Vec::new();
    for n in 0..200u32 {
        acks.push(
            js.publish(
                "crisis.ingest.flightops",
                serde_json::to_vec(&flight_ops(&day, n)).unwrap().into(),
            )
            .await
            .unwrap(),
        );
        acks.push(
            js.publish(
                "crisis.ingest.feedback",
                serde_json::to_vec(&feedback(&day, n)).unwrap().into(),
            )
            .await
            .unwrap(),
        );
    }
    // The same messages again: a producer retry changes nothing.
    for n in 0..50u32 {
        acks.push(
            js.publish(
                "crisis.ingest.feedback",
                serde_json::to_vec(&feedback(&day, n)).unwrap().into(),
            )
            .await
            .unwrap(),
        );
    }
    // LH400 arrives 4 h 10 min late; two passengers called about it: each is owed an
    // EU 261 entitlement, computed by crisisd itself.
    let late = json!({
        "v": 1, "source_message_id": "aidx-late", "carrier": "LH", "flight_number": "400",
        "origin_date": day.date.to_string(), "origin": "FRA", "destination": "JFK",
        "scheduled_departure": day.at("10:00:00"), "scheduled_arrival": day.at("18:40:00"),
        "actual_departure": day.at("14:00:00"), "actual_arrival": day.at("22:50:00"),
        "status": "delayed", "delays": [{"code": "41", "minutes": 240}], "passenger_count": 300
    });
    acks.push(
        js.publish(
            "crisis.ingest.flightops",
            serde_json::to_vec(&late).unwrap().into(),
        )
        .await
        .unwrap(),
    );
    for passenger in ["FF-LATE-1", "FF-LATE-2"] {
        let call = json!({
            "v": 1, "source_message_id": format!("call-{passenger}"), "channel": "hotline",
            "text": "we landed four hours late", "passenger_ref": passenger,
            "flight": {"carrier": "LH", "flight_number": "400", "origin_date": day.date.to_string()},
            "category_hint": "delay", "received_at": day.received_at, "reach": 1
        });
        acks.push(
            js.publish(
                "crisis.ingest.feedback",
                serde_json::to_vec(&call).unwrap().into(),
            )
            .await
            .unwrap(),
        );
    }
    acks.push(
        js.publish("crisis.ingest.flightops", b"{\"v\": 1}".to_vec().into())
            .await
            .unwrap(),
    );
    for ack in acks {
        ack.await.unwrap();
    }
    let rejection = tokio::time::timeout(Duration::from_secs(30), rejected.next())
        .await
        .expect("the bad message is rejected")
        .unwrap();
    let rejection: Value = serde_json::from_slice(&rejection.payload).unwrap();
    assert_eq!(
        (rejection["code"].as_str(), rejection["pointer"].as_str()),
        (Some("missing_field"), Some("/source_message_id"))
    );

    // Wait until crisisd has acknowledged every ingest message and the published stream
    // stops growing, then compare with the store.
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        assert!(Instant::now() < deadline, "ingest not drained after 90 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
        let Ok(ingest) = js.get_stream("CRISIS_INGEST").await else {
            continue;
        };
        let Ok(mut consumer) = ingest
            .get_consumer::<jetstream::consumer::pull::Config>("crisisd-ingest")
            .await
        else {
            continue;
        };
        let info = consumer.info().await.unwrap();
        // Acknowledged and rejected messages leave CRISIS_INGEST (work-queue retention):
        // the customers' words stay only sealed, in crisisd's log.
        let left = js
            .get_stream("CRISIS_INGEST")
            .await
            .map(|s| s.cached_info().state.messages)
            .unwrap_or(u64::MAX);
        if info.num_pending == 0 && info.num_ack_pending == 0 && left == 0 {
            break;
        }
    }
    // The reactors go on after ingest has drained (the spike reactor attaches 200
    // signals, the entitlement reactor computes): wait for their last facts to be
    // published, then for the stream to stay unchanged for two seconds.
    let deadline = Instant::now() + Duration::from_secs(120);
    let (mut last, mut unchanged_since) = (0, Instant::now());
    loop {
        assert!(
            Instant::now() < deadline,
            "events not all published after 120 s"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
        let attached = published(&js, "crisis.events.signal.*.attached_to_incident").await;
        let computed = published(&js, "crisis.events.compensation.*.computed").await;
        let now = js
            .get_stream("CRISIS_EVENTS")
            .await
            .map(|s| s.cached_info().state.messages)
            .unwrap_or(0);
        if now != last {
            (last, unchanged_since) = (now, Instant::now());
        } else if attached >= 200
            && computed >= 2
            && unchanged_since.elapsed() >= Duration::from_secs(2)
        {
            break;
        }
    }
    crisisd.stop();
    let replay = Command::new(env!("CARGO_BIN_EXE_crisisd"))
        .args(["--data-dir", dir.path().to_str().unwrap(), "replay"])
        .output()
        .unwrap();
    assert!(replay.status.success());
    let stored: Vec<Value> = String::from_utf8(replay.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let signals = stored
        .iter()
        .filter(|e| e["type"] == "signal.recorded")
        .count();
    let complaints = stored
        .iter()
        .filter(|e| e["type"] == "complaint.received")
        .count();
    assert_eq!(
        (signals, complaints),
        (202, 202),
        "each feedback message once, despite the retries"
    );
    // 200 delay posts about one flight are a spike: crisisd opens one incident by
    // itself, attaches every signal to it; the complaints received before it opened join
    // it, those received once it is known carry it from their receipt.
    let opened: Vec<&Value> = stored
        .iter()
        .filter(|e| e["type"] == "incident.opened")
        .collect();
    assert_eq!(opened.len(), 1, "one incident for the spike");
    assert_eq!(opened[0]["actor"]["id"], "crisisd-spike-detector");
    let attached = stored
        .iter()
        .filter(|e| e["type"] == "signal.attached_to_incident")
        .count();
    assert_eq!(attached, 200, "every signal of the spike is attached");
    let incident = &opened[0]["data"]["incident_id"];
    let joined = stored
        .iter()
        .filter(|e| e["type"] == "complaint.linked_to_incident")
        .filter(|e| e["data"]["incident_id"] == *incident)
        .count();
    let born_in_it = stored
        .iter()
        .filter(|e| e["type"] == "complaint.received")
        .filter(|e| e["data"]["incident_id"] == *incident)
        .count();
    assert_eq!(
        joined + born_in_it,
        200,
        "every complaint about the flight belongs to its incident ({joined} joined, {born_in_it} at receipt)"
    );
    let entitlements: Vec<&Value> = stored
        .iter()
        .filter(|e| e["type"] == "compensation.computed")
        .collect();
    assert_eq!(
        entitlements.len(),
        2,
        "one entitlement per passenger on LH400"
    );
    for entitlement in entitlements {
        assert_eq!(
            (
                entitlement["data"]["governing"].as_str(),
                entitlement["data"]["entitled"]["amount_minor"].as_u64()
            ),
            (Some("eu261"), Some(60_000)),
            "{entitlement}"
        );
    }
    assert!(stored.iter().any(|e| e["type"] == "flight.scheduled"));

    let mut stream = js.get_stream("CRISIS_EVENTS").await.unwrap();
    assert_eq!(
        stream.info().await.unwrap().state.messages,
        stored.len() as u64,
        "every stored event published exactly once"
    );
    let mut ids = HashSet::new();
    for (i, event) in stored.iter().enumerate() {
        let message = stream.get_raw_message(i as u64 + 1).await.unwrap();
        let header = |name: &str| message.headers.get(name).unwrap().as_str().to_owned();
        assert_eq!(
            header("ce-sequence"),
            event["position"].to_string(),
            "published in position order"
        );
        assert_eq!(header("ce-id"), event["id"].as_str().unwrap());
        assert_eq!(header("ce-type"), event["type"].as_str().unwrap());
        assert_eq!(header("ce-hash"), event["hash"].as_str().unwrap());
        let payload: Value = serde_json::from_slice(&message.payload).unwrap();
        assert_eq!(
            payload, event["data"],
            "the published data is the stored data"
        );
        assert!(ids.insert(header("ce-id")));
    }
}

/// How many messages `CRISIS_EVENTS` holds on subjects matching `filter` (0 while the
/// stream is not there yet).
async fn published(js: &jetstream::Context, filter: &str) -> usize {
    let Ok(stream) = js.get_stream("CRISIS_EVENTS").await else {
        return 0;
    };
    let Ok(subjects) = stream.info_with_subjects(filter).await else {
        return 0;
    };
    subjects
        .filter_map(|entry| async move { entry.ok().map(|(_, count)| count) })
        .fold(0, |sum, count| async move { sum + count })
        .await
}

/// Issues a token with `crisisd token add`.
pub(crate) fn token(data_dir: &std::path::Path, role: &str, actor: &str) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_crisisd"))
        .args(["--data-dir", data_dir.to_str().unwrap(), "token", "add"])
        .args(["--role", role, "--actor", actor])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

pub(crate) fn wait_for_http(port: u16) {
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed().as_secs() < 30,
            "crisisd serves HTTP within 30 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The `data:` lines of `GET /v1/stream?from=1` until position `head` has arrived.
pub(crate) fn sse_envelopes(port: u16, token: &str, head: u64) -> Vec<String> {
    use std::io::{BufRead, BufReader, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "GET /v1/stream?from=1 HTTP/1.0\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\n\r\n"
    )
    .unwrap();
    let mut envelopes = Vec::new();
    for line in BufReader::new(stream).lines() {
        let line = line.expect("the stream sends every event within 30 s");
        if let Some(data) = line.strip_prefix("data: ") {
            let position = serde_json::from_str::<Value>(data).unwrap()["position"]
                .as_u64()
                .unwrap();
            envelopes.push(data.to_owned());
            if position >= head {
                break;
            }
        }
    }
    envelopes
}

/// Runs tests/tools/verify_chain.py (RFC 8785 and BLAKE3 from PyPI, no crisisd code)
/// over NDJSON envelopes; returns its output.
pub(crate) fn verify_independently(envelopes: &str) -> String {
    let check = Command::new("python3")
        .args(["-c", "import rfc8785, blake3"])
        .output()
        .expect("python3 runs the independent chain check");
    assert!(
        check.status.success(),
        "the independent chain check needs Python's rfc8785 and blake3: run `python3 -m pip install rfc8785 blake3` (tests/run.sh does)"
    );
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), envelopes).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/tools/verify_chain.py");
    let output = Command::new("python3")
        .arg(script)
        .arg(file.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "independent recomputation failed: {text}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    text
}

/// What auditors download over HTTP — `/v1/audit/events` and the live `/v1/stream` —
/// verifies with independent JCS and BLAKE3 libraries, exactly as `crisisd export` does:
/// the API serves the stored canonical bytes, timestamps included (a time whose
/// microseconds end in zeros was re-serialized shorter, and failed).
#[test]
fn the_http_audit_export_and_stream_verify_with_independent_libraries() {
    let dir = tempfile::tempdir().unwrap();
    // Events that happened on a whole millisecond (a flight-ops clock's precision): the
    // stored form is `…10:00:00.647000Z`, which chrono alone writes `…10:00:00.647Z`.
    {
        let store =
            crisisd::store::SledStore::open(crisisd::store::StoreConfig::new(dir.path())).unwrap();
        let runtime = tokio::runtime::Runtime::new().unwrap();
        for n in 0..5u64 {
            let occurred_at =
                chrono::DateTime::from_timestamp_millis(1_795_000_000_647 + n as i64 * 1000)
                    .unwrap();
            let event = crisisd::store::NewEvent {
                occurred_at,
                ..crisisd::store::NewEvent::new(
                    "audit.probe_recorded",
                    json!({"n": n, "at": "2026-11-22T10:00:00.647Z"}),
                    crisisd::store::Actor {
                        id: "probe".into(),
                        role: "admin".into(),
                    },
                    occurred_at,
                )
            };
            let append = crisisd::store::AppendRequest::single(
                format!("probe-{n}"),
                crisisd::store::ExpectedVersion::NoStream,
                vec![event],
            );
            runtime.block_on(store.append(append)).unwrap();
        }
        drop(store);
        assert!(crisisd::store::sled_store::wait_for_release(
            dir.path(),
            Duration::from_secs(60)
        ));
    }
    let lead = token(dir.path(), "crisis_lead", "lead-anna");
    let admin = token(dir.path(), "admin", "auditor-with-rights");
    let port = free_port().unwrap();
    let crisisd = Crisisd::start_with(dir.path(), &[], port);
    wait_for_http(port);
    for n in 0..20 {
        let open = json!({"title": format!("LH{n} cancelled — “storm” ✈"), "category": "cancellation",
            "severity": "high", "flight": null, "correlation_key": null, "signal_ids": []});
        let (status, body) = http(port, "POST", "/v1/incidents", &lead, &open.to_string());
        assert_eq!(status, 200, "{body}");
    }
    let (status, export) = http(port, "GET", "/v1/audit/events", &admin, "");
    assert_eq!(status, 200, "{export}");
    assert_eq!(export.lines().count(), 25);
    assert!(export.contains("\"occurred_at\":\"2026-11-18T11:06:40.647000Z\""));
    assert_eq!(verify_independently(&export).trim(), "verified 25");
    let streamed = sse_envelopes(port, &admin, 25).join("\n");
    assert_eq!(verify_independently(&streamed).trim(), "verified 25");
    crisisd.stop();
    let offline = Command::new(env!("CARGO_BIN_EXE_crisisd"))
        .args(["--data-dir", dir.path().to_str().unwrap(), "replay"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(offline.stdout).unwrap(),
        export,
        "the HTTP export is byte for byte what `crisisd replay` prints"
    );
}

/// Issue 20, tokens: a running `serve` picks up a token added after it started and
/// refuses one revoked, without a restart; `token list` shows them by id. A live stream
/// keeps its connection across the reloads, and one opened with the revoked token ends
/// saying why.
#[test]
fn a_running_serve_picks_up_added_and_revoked_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let first = token(dir.path(), "crisis_lead", "lead-anna");
    let port = free_port().unwrap();
    let crisisd = Crisisd::start_with(dir.path(), &[], port);
    wait_for_http(port);
    let (status, _) = http(port, "GET", "/v1/incidents", &first, "");
    assert_eq!(status, 200);
    let mut kept = sse_lines(port, &first);
    let added = token(dir.path(), "agent", "agent-7");
    let answered = |token: &str, expected: u16| {
        let started = Instant::now();
        loop {
            let (status, body) = http(port, "GET", "/v1/incidents", token, "");
            if status == expected {
                return body;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "{expected} within 20 s; still {status}: {body}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    answered(&added, 200);
    let mut cut = sse_lines(port, &added);
    let list = Command::new(env!("CARGO_BIN_EXE_crisisd"))
        .args(["--data-dir", dir.path().to_str().unwrap(), "token", "list"])
        .output()
        .unwrap();
    let listed = String::from_utf8(list.stdout).unwrap();
    let line = listed
        .lines()
        .find(|l| l.contains("agent-7"))
        .unwrap_or_else(|| panic!("{listed}"));
    assert!(!listed.contains(&added), "never the token itself");
    let id = line.split_whitespace().next().unwrap();
    let revoke = Command::new(env!("CARGO_BIN_EXE_crisisd"))
        .args([
            "--data-dir",
            dir.path().to_str().unwrap(),
            "token",
            "revoke",
            id,
        ])
        .output()
        .unwrap();
    assert!(
        revoke.status.success(),
        "{}",
        String::from_utf8_lossy(&revoke.stderr)
    );
    let refused = answered(&added, 401);
    assert!(refused.contains("not valid"), "{refused}");
    answered(&first, 200);
    let open = json!({"title": "after the reloads", "category": "delay", "severity": "low",
        "flight": null, "correlation_key": null, "signal_ids": []});
    let (status, answer) = http(port, "POST", "/v1/incidents", &first, &open.to_string());
    assert_eq!(status, 200, "{answer}");
    let seen = kept
        .by_ref()
        .find_map(|line| {
            line.strip_prefix("data: ")
                .map(|data| serde_json::from_str::<Value>(data).unwrap())
        })
        .expect("the stream opened before both reloads is still open");
    assert_eq!(seen["type"], "incident.opened", "{seen}");
    let mut ended = cut.by_ref().skip_while(|line| line != "event: dropped");
    assert_eq!(ended.next().as_deref(), Some("event: dropped"));
    let why = ended.next().unwrap_or_default();
    assert!(
        why.contains("not valid"),
        "the revoked token's stream ends: {why}"
    );
    crisisd.stop();
}

/// The lines of a live stream opened with `token` (from the next event), read as they
/// come; a line not there within 30 s fails the test.
fn sse_lines(port: u16, token: &str) -> impl Iterator<Item = String> {
    use std::io::{BufRead, BufReader, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "GET /v1/stream HTTP/1.0\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\n\r\n"
    )
    .unwrap();
    let mut lines = BufReader::new(stream).lines();
    let status = lines.next().unwrap().unwrap();
    assert!(status.contains(" 200 "), "{status}");
    lines.map(|line| line.expect("the stream sends within 30 s"))
}
