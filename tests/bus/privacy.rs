//! Personal data through the real binary and a real nats-server: sealed in every copy
//! (sled, `CRISIS_EVENTS`, `CRISIS_INGEST`, the logs), readable with personal-data
//! rights, erased everywhere by destroying one key while the chain, the KPIs and the
//! exports stay whole; erasure across `kill -9`; master-key rotation under load.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use async_nats::jetstream;
use futures_util::StreamExt;
use serde_json::{Value, json};

use crate::e2e::{
    Crisisd, free_port, http, sse_envelopes, token, verify_independently, wait_for_http,
};
use crate::nats_server::NatsServer;

/// Distinctive personal data, so a search of the disk cannot match anything else.
const NAME: &str = "Zanzibar Quixotic-Plumtree";
const EMAIL: &str = "zq.plumtree+crisis@example.org";
const PHONE: &str = "+44 7700 900123";
const COMPLAINT: &str = "my grandmother's hearing aid vanished near gate 42Q";
const FEEDBACK: &str = "the marmalade sandwich was confiscated by an owl";
const SECRETS: [&str; 5] = [NAME, EMAIL, PHONE, COMPLAINT, FEEDBACK];

/// Every file under `dir` that holds one of `needles`, with the needle.
fn files_containing(dir: &Path, needles: &[&str]) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(path) = stack.pop() {
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            for entry in std::fs::read_dir(&path).unwrap() {
                stack.push(entry.unwrap().path());
            }
            continue;
        }
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        for needle in needles {
            if bytes
                .windows(needle.len())
                .any(|window| window == needle.as_bytes())
            {
                found.push((path.display().to_string(), (*needle).to_owned()));
            }
        }
    }
    found
}

fn crisisd(data_dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_crisisd"))
        .args(["--data-dir", data_dir.to_str().unwrap()])
        .args(args)
        .output()
        .unwrap()
}

fn ok(reply: (u16, String)) -> Value {
    assert_eq!(reply.0, 200, "{}", reply.1);
    serde_json::from_str(&reply.1).unwrap()
}

fn register(port: u16, agent: &str, passenger: &str, name: &str, email: &str) -> Value {
    let body = json!({"tier": "gold",
        "contact": {"name": name, "email": email, "phone": PHONE, "language": "en-GB"},
        "consent": {"email": true, "sms": false, "phone": true, "app_push": false}});
    ok(http(
        port,
        "POST",
        &format!("/v1/passengers/{passenger}/register_passenger"),
        agent,
        &body.to_string(),
    ))
}

/// Messages of `CRISIS_EVENTS`, their payloads as text.
async fn published_payloads(js: &jetstream::Context) -> Vec<String> {
    let stream = js.get_stream("CRISIS_EVENTS").await.unwrap();
    let consumer = stream
        .create_consumer(jetstream::consumer::pull::Config {
            deliver_policy: jetstream::consumer::DeliverPolicy::All,
            ..Default::default()
        })
        .await
        .unwrap();
    let total = stream.cached_info().state.messages as usize;
    let mut payloads = Vec::new();
    let mut messages = consumer.messages().await.unwrap();
    while payloads.len() < total {
        let message = tokio::time::timeout(Duration::from_secs(60), messages.next())
            .await
            .expect("a fresh consumer reads the stream")
            .unwrap()
            .unwrap();
        payloads.push(String::from_utf8_lossy(&message.payload).into_owned());
        message.ack().await.unwrap();
    }
    payloads
}

async fn stream_messages(js: &jetstream::Context, name: &str) -> u64 {
    match js.get_stream(name).await {
        Ok(mut stream) => stream.info().await.map_or(0, |i| i.state.messages),
        Err(_) => 0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn personal_data_is_sealed_in_every_copy_and_erased_in_all_of_them() {
    let nats = NatsServer::start();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log = dir.path().join("crisisd.log");
    let agent = token(&data, "agent", "agent-ann");
    let admin = token(&data, "admin", "privacy-officer");
    let auditor = token(&data, "auditor", "auditor-abe");
    let port = free_port().unwrap();
    let server = Crisisd::start_logged(&data, &["--nats-url", &nats.url()], port, Some(&log));
    wait_for_http(port);

    register(port, &agent, "FF9001", NAME, EMAIL);
    let complaint = json!({"channel": "email", "passenger": "FF9001", "tier": "gold",
        "category": "baggage_lost", "remedy_sought": "baggage_trace", "description": COMPLAINT,
        "incident_id": null});
    let filed = ok(http(
        port,
        "POST",
        "/v1/complaints",
        &agent,
        &complaint.to_string(),
    ));
    let complaint_id = filed["stream"]
        .as_str()
        .unwrap()
        .strip_prefix("complaint-")
        .unwrap()
        .to_owned();
    let client = async_nats::connect(nats.url()).await.unwrap();
    let js = jetstream::new(client);
    let received_at = (chrono::Utc::now() - chrono::Duration::minutes(10))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let feedback = json!({"v": 1, "source_message_id": "web-77", "channel": "web", "text": FEEDBACK,
        "passenger_ref": "FF9001", "category_hint": "service", "received_at": received_at});
    // The stream as crisisd creates it (it may not have yet): work-queue retention.
    js.get_or_create_stream(crisisd::bus::ingest::stream_config())
        .await
        .unwrap();
    js.publish("crisis.ingest.feedback", feedback.to_string().into())
        .await
        .unwrap()
        .await
        .unwrap();
    // registered, complaint received, and the feedback's signal and complaint.
    let deadline = Instant::now() + Duration::from_secs(60);
    while stream_messages(&js, "CRISIS_EVENTS").await < 4
        || stream_messages(&js, "CRISIS_INGEST").await > 0
    {
        assert!(
            Instant::now() < deadline,
            "events not published / ingest not drained in 60 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Read back with personal-data rights: all there.
    let view = ok(http(
        port,
        "GET",
        "/v1/passengers/FF9001?after=4",
        &admin,
        "",
    ));
    assert_eq!(view["contact"]["name"], NAME, "{view}");
    assert_eq!(view["contact"]["email"], EMAIL);
    let as_of = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let state = ok(http(
        port,
        "GET",
        &format!("/v1/complaints/{complaint_id}?as_of={as_of}"),
        &admin,
        "",
    ));
    assert_eq!(
        state["state"]["received"]["description"], COMPLAINT,
        "{state}"
    );
    let kpis_before = ok(http(
        port,
        "GET",
        "/v1/complaints/kpis?dimension=tier&after=4",
        &auditor,
        "",
    ));
    let sealed_export = http(port, "GET", "/v1/audit/events", &auditor, "").1;
    assert_eq!(
        verify_independently(&sealed_export).trim(),
        "verified 4",
        "an auditor without rights verifies the chain"
    );

    // Nowhere in plain text: the data directory, the nats-server store (both streams), the logs.
    let on_disk = files_containing(&data, &SECRETS);
    assert!(
        on_disk.is_empty(),
        "plaintext personal data on disk: {on_disk:?}"
    );
    let in_nats = files_containing(nats.store_dir(), &SECRETS);
    assert!(
        in_nats.is_empty(),
        "plaintext personal data in nats-server's store: {in_nats:?}"
    );
    for payload in published_payloads(&js).await {
        assert!(SECRETS.iter().all(|s| !payload.contains(s)), "{payload}");
    }

    // Erase: every read path shows the fields erased; counts and the chain stay.
    let erased = ok(http(
        port,
        "POST",
        "/v1/passengers/FF9001/erase",
        &admin,
        r#"{"reason": "erasure request 2026-117"}"#,
    ));
    let after = erased["position"].as_u64().unwrap();
    let again = ok(http(
        port,
        "POST",
        "/v1/passengers/FF9001/erase",
        &admin,
        r#"{"reason": "erasure request 2026-117"}"#,
    ));
    assert_eq!(
        again["duplicate"], true,
        "erasing twice changes nothing: {again}"
    );
    let view = ok(http(
        port,
        "GET",
        &format!("/v1/passengers/FF9001?after={after}"),
        &admin,
        "",
    ));
    assert_eq!(
        (&view["contact"], &view["erased"]),
        (&Value::Null, &json!(true)),
        "{view}"
    );
    let state = ok(http(
        port,
        "GET",
        &format!("/v1/complaints/{complaint_id}?as_of={as_of}"),
        &admin,
        "",
    ));
    assert_eq!(
        state["state"]["received"]["description"], "[erased]",
        "{state}"
    );
    let revealed = http(port, "GET", "/v1/audit/events?reveal=true", &admin, "").1;
    assert!(SECRETS.iter().all(|s| !revealed.contains(s)), "{revealed}");
    assert!(revealed.contains("[erased]"));
    let streamed = sse_envelopes(port, &admin, after).join("\n");
    assert!(
        SECRETS.iter().all(|s| !streamed.contains(s)) && streamed.contains("[erased]"),
        "{streamed}"
    );
    let kpis_after = ok(http(
        port,
        "GET",
        &format!("/v1/complaints/kpis?dimension=tier&after={after}"),
        &auditor,
        "",
    ));
    assert_eq!(kpis_after, kpis_before, "KPIs count the same complaints");
    let export = http(port, "GET", "/v1/audit/events", &auditor, "").1;
    assert!(
        export.starts_with(&sealed_export),
        "the log before the erasure is unchanged"
    );
    assert_eq!(
        verify_independently(&export).trim(),
        format!("verified {after}")
    );
    server.stop();

    // Offline: verify, export and outside recomputation pass; a rebuild agrees.
    assert!(crisisd(&data, &["verify"]).status.success());
    let file = dir.path().join("export.ndjson");
    assert!(
        crisisd(&data, &["export", "--out", file.to_str().unwrap()])
            .status
            .success()
    );
    verify_independently(&std::fs::read_to_string(&file).unwrap());
    let rebuilt = crisisd(&data, &["rebuild", "--all"]);
    assert!(
        rebuilt.status.success(),
        "{}",
        String::from_utf8_lossy(&rebuilt.stderr)
    );

    // With every file left under the data directory and the master key, the values
    // sealed before the erasure do not open.
    {
        let store =
            crisisd::store::SledStore::open(crisisd::store::StoreConfig::new(&data)).unwrap();
        let master = crisisd::privacy::keys::read_master_key(&data.join("master.key")).unwrap();
        let privacy = crisisd::privacy::Privacy::open(&store, master).unwrap();
        let mut before: Vec<Value> = sealed_export
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        for envelope in &mut before {
            let id = envelope["id"].as_str().unwrap().parse().unwrap();
            privacy.reveal(&mut envelope["data"], Some(id));
        }
        let text = serde_json::to_string(&before).unwrap();
        assert!(SECRETS.iter().all(|s| !text.contains(s)), "{text}");
        let mut published = Vec::new();
        for payload in published_payloads(&js).await {
            let mut value: Value = serde_json::from_str(&payload).unwrap();
            privacy.reveal(&mut value, None);
            published.push(value);
        }
        let text = serde_json::to_string(&published).unwrap();
        assert!(
            SECRETS.iter().all(|s| !text.contains(s)) && text.contains("[erased]"),
            "a fresh consumer of CRISIS_EVENTS: {text}"
        );
        drop(privacy);
        drop(store);
        assert!(crisisd::store::sled_store::wait_for_release(
            &data,
            Duration::from_secs(60)
        ));
    }
    let port = free_port().unwrap();
    let server = Crisisd::start_logged(&data, &[], port, None);
    wait_for_http(port);
    let view = ok(http(port, "GET", "/v1/passengers/FF9001", &admin, ""));
    assert_eq!(
        (&view["contact"], &view["erased"]),
        (&Value::Null, &json!(true)),
        "after a rebuild: {view}"
    );
    server.stop();

    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(!logged.is_empty());
    assert!(
        SECRETS.iter().all(|s| !logged.contains(s)),
        "personal data in the logs: {logged}"
    );
    assert!(
        !logged.contains('\u{1b}'),
        "no colour codes in a log that is not a terminal: {logged}"
    );
}

/// `kill -9` while erasures run, again and again: after a restart every passenger is
/// either fully readable (no erasure recorded) or fully erased (recorded, key gone) —
/// never a recorded erasure whose data still reads.
#[test]
fn kill_9_during_erasure_never_leaves_a_passenger_half_erased() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let agent = token(&data, "agent", "agent-ann");
    let admin = token(&data, "admin", "privacy-officer");
    let mut passengers = Vec::new();
    for round in 0..6u32 {
        let port = free_port().unwrap();
        let mut server = Crisisd::start_with(&data, &[], port);
        wait_for_http(port);
        // Every passenger so far is whole or erased.
        check_whole_or_erased(port, &admin, &passengers);
        let batch: Vec<String> = (0..6).map(|n| format!("K{round}-{n}")).collect();
        for passenger in &batch {
            register(
                port,
                &agent,
                passenger,
                &format!("Name of {passenger}"),
                &format!("{}@example.org", passenger.to_lowercase()),
            );
        }
        passengers.extend(batch.iter().cloned());
        // Erase them concurrently and kill the server in the middle: in even rounds
        // after a few milliseconds, in odd ones as soon as the first erasure answered
        // (so some land however loaded the machine is).
        let (answered, first) = std::sync::mpsc::channel();
        let threads: Vec<_> = batch
            .iter()
            .map(|passenger| {
                let (admin, passenger) = (admin.clone(), passenger.clone());
                let answered = answered.clone();
                std::thread::spawn(move || {
                    let path = format!("/v1/passengers/{passenger}/erase");
                    let status = try_post(port, &path, &admin, r#"{"reason": "r"}"#);
                    let _ = answered.send(status);
                    status
                })
            })
            .collect();
        if round % 2 == 0 {
            std::thread::sleep(Duration::from_millis(2 + u64::from(round) * 3));
        } else {
            let status = first.recv_timeout(Duration::from_secs(60));
            assert!(
                matches!(status, Ok(Some(200))),
                "round {round}: the first erasure answered {status:?}, not 200"
            );
        }
        server.0.kill().unwrap();
        server.0.wait().unwrap();
        for thread in threads {
            let _ = thread.join();
        }
    }
    let port = free_port().unwrap();
    let server = Crisisd::start_with(&data, &[], port);
    wait_for_http(port);
    let (erased, whole) = check_whole_or_erased(port, &admin, &passengers);
    eprintln!("after 6 kill -9 rounds: {erased} passengers erased, {whole} whole");
    assert!(
        erased > 0,
        "no erasure ever landed: the kills came too early to test anything"
    );
    server.stop();
    assert!(crisisd(&data, &["verify"]).status.success());
}

/// A POST whose connection may be cut (the server is killed): the status, if any.
fn try_post(port: u16, path: &str, token: &str, body: &str) -> Option<u16> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    write!(
        stream,
        "POST {path} HTTP/1.0\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    response.get(9..12)?.parse().ok()
}

/// Checks each passenger; returns how many are erased and how many whole.
fn check_whole_or_erased(port: u16, admin: &str, passengers: &[String]) -> (usize, usize) {
    let (mut erased_count, mut whole) = (0, 0);
    for passenger in passengers {
        let (status, body) = http(
            port,
            "GET",
            &format!("/v1/passengers/{passenger}?after=1"),
            admin,
            "",
        );
        if status == 404 {
            continue; // its registration was never acknowledged
        }
        let view: Value = serde_json::from_str(&body).unwrap();
        let erased = view["erased"] == true;
        // The passenger's events, opened as a caller allowed personal data gets them.
        let events = http(
            port,
            "GET",
            &format!("/v1/audit/events?stream=passenger-{passenger}&reveal=true"),
            admin,
            "",
        )
        .1;
        let registered: Value = serde_json::from_str(events.lines().next().unwrap()).unwrap();
        let name = registered["data"]["contact"]["name"]
            .as_str()
            .unwrap()
            .to_owned();
        let recorded = events.contains("\"type\":\"passenger.erased\"");
        if recorded {
            assert_eq!(
                name, "[erased]",
                "{passenger}: erasure recorded but the name still reads"
            );
            erased_count += 1;
        } else {
            assert_eq!(
                name,
                format!("Name of {passenger}"),
                "{passenger}: not erased but unreadable"
            );
            assert!(!erased);
            whole += 1;
        }
    }
    (erased_count, whole)
}

/// Rotating the master key while commands keep coming loses nothing: after a restart
/// with the new key, every acknowledged event is there and every value reads; the old
/// key is refused with a message that says so.
#[test]
fn master_key_rotation_under_load_loses_nothing_and_a_wrong_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let old_key = dir.path().join("old.key");
    let new_key = dir.path().join("new.key");
    for path in [&old_key, &new_key] {
        let key = crisisd(&data, &["keys", "new-master"]);
        std::fs::write(path, key.stdout).unwrap();
    }
    let agent = token(&data, "agent", "agent-ann");
    let admin = token(&data, "admin", "key-keeper");
    let port = free_port().unwrap();
    let server = Crisisd::start_with(
        &data,
        &["--master-key-file", old_key.to_str().unwrap()],
        port,
    );
    wait_for_http(port);
    // Registrations (each a new data key) before, during and after the rotation.
    let rotated_flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = rotated_flag.clone();
    let registered = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = registered.clone();
    let load = std::thread::spawn(move || {
        let mut acknowledged = Vec::new();
        let mut last = 0;
        let mut after_rotation = 0;
        for n in 0.. {
            if flag.load(std::sync::atomic::Ordering::SeqCst) {
                after_rotation += 1;
                if after_rotation > 30 {
                    break;
                }
            }
            let passenger = format!("R{n}");
            let answer = register(
                port,
                &agent,
                &passenger,
                &format!("Name of {passenger}"),
                "r@example.org",
            );
            last = answer["position"].as_u64().unwrap();
            acknowledged.push(passenger);
            counter.store(acknowledged.len(), std::sync::atomic::Ordering::SeqCst);
        }
        (acknowledged, last)
    });
    // Rotate once a few registrations landed, however slow the machine.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while registered.load(std::sync::atomic::Ordering::SeqCst) < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "no registrations within 60 s"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let body = json!({"new_master_key_file": new_key.to_str().unwrap()}).to_string();
    let rotated = ok(http(port, "POST", "/v1/admin/keys/rotate", &admin, &body));
    assert_eq!(rotated["master_key_file"], new_key.to_str().unwrap());
    rotated_flag.store(true, std::sync::atomic::Ordering::SeqCst);
    let (acknowledged, last) = load.join().unwrap();
    assert!(
        acknowledged.len() > 31,
        "registrations before the rotation too"
    );
    server.stop();

    let refused = Command::new(env!("CARGO_BIN_EXE_crisisd"))
        .args([
            "--data-dir",
            data.to_str().unwrap(),
            "serve",
            "--http-addr",
            &format!("127.0.0.1:{}", free_port().unwrap()),
        ])
        .args(["--master-key-file", old_key.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && stderr.contains("does not open the key store"),
        "{stderr}"
    );

    let port = free_port().unwrap();
    let server = Crisisd::start_with(
        &data,
        &["--master-key-file", new_key.to_str().unwrap()],
        port,
    );
    wait_for_http(port);
    // `after`: the last registration. SIGTERM stops the projectors where they are, so
    // the restarted passengers model may still be applying the last ones.
    for passenger in &acknowledged {
        let view = ok(http(
            port,
            "GET",
            &format!("/v1/passengers/{passenger}?after={last}"),
            &admin,
            "",
        ));
        assert_eq!(
            view["contact"]["name"],
            format!("Name of {passenger}"),
            "{view}"
        );
    }
    server.stop();
}
