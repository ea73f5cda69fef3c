//! `crisisd simulate` through the real binaries (issue 22): a small day sent over NATS to
//! a real `crisisd serve` fills the pipeline — disrupted flights, signals in the monitor,
//! complaints in the queue, incidents the spikes opened — and so does one sent over HTTP
//! with role tokens; a token without the role, and a day crisisd must refuse, are told
//! apart and explained.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;

use crate::e2e::{Crisisd, free_port, http, token, wait_for_http};
use crate::nats_server::NatsServer;

/// Runs `crisisd simulate` with `args`: its output, and stdout as text.
fn simulate(args: &[&str]) -> (Output, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_crisisd"))
        .arg("simulate")
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("crisisd simulate runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    (output, stdout)
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// `GET path` until `holds` is true of the answer, within 30 s: the read models and the
/// spike reactor follow the log a moment behind ingest.
fn eventually(port: u16, token: &str, path: &str, holds: impl Fn(&Value) -> bool) -> Value {
    let started = Instant::now();
    loop {
        let (status, body) = http(port, "GET", path, token, "");
        let answer: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        if status == 200 && holds(&answer) {
            return answer;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "GET {path} within 30 s; last answer {status}: {body}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// The flights the summary names as having a spike (`spike: 8 posts about LH1234-2026-…`).
fn spike_flights(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter_map(|line| line.trim().strip_prefix("spike: "))
        .filter_map(|line| line.split(" about ").nth(1))
        .filter_map(|rest| rest.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

/// What a day of `cancelled` storm flights leaves in crisisd, as its API shows it.
fn the_pipeline_filled(
    port: u16,
    reader: &str,
    end: DateTime<Utc>,
    cancelled: usize,
    stdout: &str,
) {
    let items = |answer: &Value| answer["items"].as_array().cloned().unwrap_or_default();
    let dates = [end - chrono::Duration::days(1), end].map(|t| t.date_naive());
    let disrupted = |wanted: &str| {
        dates
            .iter()
            .map(|date| {
                let answer =
                    eventually(port, reader, &format!("/v1/flights?date={date}"), |_| true);
                items(&answer)
                    .iter()
                    .filter(|f| {
                        f["disruptions"]
                            .as_array()
                            .is_some_and(|d| d.iter().any(|d| d == wanted))
                    })
                    .count()
            })
            .sum::<usize>()
    };
    // The storm's flights fall on the day before `end` or on `end`'s date (a day
    // ending just after midnight UTC has them all the day before): wait for both.
    let deadline = Instant::now() + Duration::from_secs(30);
    while disrupted("cancelled") < cancelled && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(
        disrupted("cancelled"),
        cancelled,
        "the storm's bank, cancelled"
    );
    assert!(disrupted("delayed") >= 1, "the long delay at least");
    let feed = eventually(port, reader, "/v1/monitor/feed", |answer| {
        items(answer).len() >= 10
    });
    let channels: std::collections::BTreeSet<String> = items(&feed)
        .iter()
        .filter_map(|s| s["channel"].as_str().map(str::to_owned))
        .collect();
    assert!(
        channels.len() >= 2,
        "signals from several channels: {channels:?}"
    );
    eventually(port, reader, "/v1/complaints", |answer| {
        items(answer).len() >= 5
    });
    let spikes = spike_flights(stdout);
    assert_eq!(spikes.len(), 2, "two spikes in the summary: {stdout}");
    let board = eventually(port, reader, "/v1/incidents", |answer| {
        spikes.iter().all(|flight| {
            items(answer).iter().any(|incident| {
                incident["title"]
                    .as_str()
                    .is_some_and(|t| t.contains(flight.as_str()))
            })
        })
    });
    for incident in items(&board) {
        assert_eq!(
            incident["stage"], "monitor",
            "opened by the detector: {incident}"
        );
    }
}

#[test]
fn a_simulated_day_fills_the_pipeline_over_nats_and_over_http() {
    let started = Instant::now();
    let end = DateTime::from_timestamp(Utc::now().timestamp() - 60, 0).unwrap();
    let end_text = end.to_rfc3339_opts(SecondsFormat::Secs, true);

    // Over NATS: 20 flights, a day in 10 s.
    let nats = NatsServer::start();
    let dir = tempfile::tempdir().unwrap();
    let reader = token(dir.path(), "crisis_lead", "lead-1");
    let port = free_port().unwrap();
    let crisisd = Crisisd::start_with(dir.path(), &["--nats-url", &nats.url()], port);
    wait_for_http(port);
    let url = format!("http://127.0.0.1:{port}");
    let (output, stdout) = simulate(&[
        "--via",
        "nats",
        "--nats-url",
        &nats.url(),
        "--url",
        &url,
        "--flights",
        "20",
        "--passengers",
        "6",
        "--seed",
        "7",
        "--end",
        &end_text,
        "--speed",
        "8640",
    ]);
    assert!(output.status.success(), "{stdout}{}", stderr(&output));
    assert!(stdout.contains("rejected: none"), "{stdout}");
    assert!(
        stdout.contains("crisisd has taken every message"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("--seed 7 --end {end_text}")),
        "{stdout}"
    );
    assert!(!stdout.contains("\"text\""), "never a message's content");
    the_pipeline_filled(port, &reader, end, 2, &stdout);

    // The same day again changes nothing: every message is one crisisd has.
    let (status, before) = http(port, "GET", "/v1/audit/events", &reader, "");
    assert_eq!(status, 200);
    let (output, stdout) = simulate(&[
        "--via",
        "nats",
        "--nats-url",
        &nats.url(),
        "--url",
        &url,
        "--flights",
        "20",
        "--passengers",
        "6",
        "--seed",
        "7",
        "--end",
        &end_text,
        "--rate",
        "1000",
    ]);
    assert!(output.status.success(), "{stdout}{}", stderr(&output));
    std::thread::sleep(Duration::from_secs(1));
    let (_, after) = http(port, "GET", "/v1/audit/events", &reader, "");
    assert_eq!(
        before.lines().count(),
        after.lines().count(),
        "sent twice, stored once"
    );

    // A day over a year old: crisisd rejects every message; each rejection is counted
    // with its reason, from crisis.rejected.<kind>, and the run fails.
    let old = (end - chrono::Duration::days(400)).to_rfc3339_opts(SecondsFormat::Secs, true);
    let (output, stdout) = simulate(&[
        "--via",
        "nats",
        "--nats-url",
        &nats.url(),
        "--url",
        &url,
        "--flights",
        "5",
        "--passengers",
        "2",
        "--end",
        &old,
        "--rate",
        "1000",
    ]);
    assert_eq!(output.status.code(), Some(1), "{stdout}{}", stderr(&output));
    assert!(
        stdout.contains("out_of_range at \"/origin_date\""),
        "{stdout}"
    );
    crisisd.stop();
    drop(nats);

    // Over HTTP, without NATS: a flight-ops token and a channel token.
    let dir = tempfile::tempdir().unwrap();
    let reader = token(dir.path(), "auditor", "audit-1");
    let ops = token(dir.path(), "flight_ops", "sim-ops");
    let channel = token(dir.path(), "channel", "sim-channel");
    let port = free_port().unwrap();
    let crisisd = Crisisd::start_with(dir.path(), &[], port);
    wait_for_http(port);
    let url = format!("http://127.0.0.1:{port}");
    // The channel's token cannot send flight ops: the run stops saying which role it needs.
    let (output, _) = simulate(&[
        "--url",
        &url,
        "--token",
        &channel,
        "--flights",
        "5",
        "--rate",
        "100",
    ]);
    assert!(!output.status.success());
    let why = stderr(&output);
    assert!(
        why.contains("403") && why.contains("crisisd token add --role flight_ops"),
        "{why}"
    );
    let (output, stdout) = simulate(&[
        "--url",
        &url,
        "--flight-ops-token",
        &ops,
        "--channel-token",
        &channel,
        "--flights",
        "10",
        "--passengers",
        "4",
        "--seed",
        "8",
        "--end",
        &end_text,
        "--rate",
        "200",
    ]);
    assert!(output.status.success(), "{stdout}{}", stderr(&output));
    assert!(stdout.contains("rejected: none"), "{stdout}");
    the_pipeline_filled(port, &reader, end, 2, &stdout);
    crisisd.stop();

    // Nothing listening: the run says where it looked and how to start crisisd.
    let (output, _) = simulate(&["--url", &url, "--token", &ops]);
    let why = stderr(&output);
    assert!(why.contains(&url) && why.contains("crisisd serve"), "{why}");
    // Reported, not asserted: the machines are shared and their speed varies.
    eprintln!("simulate test took {:?}", started.elapsed());
}
