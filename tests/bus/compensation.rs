//! Compensation end to end through the real binary: a flight's manifest of 180
//! passengers and its cancellation, posted over HTTP as flight ops would, give every
//! passenger an entitlement, shown in the flight's ledger (JSON and CSV); a later
//! manifest rerouting 60 of them halves theirs in superseding computations. The crisis
//! team's views of it: the flight with its passengers, the day's disrupted flights, an
//! incident opened for it with every entitlement in its ledger, and a complaint about it
//! in the queue with its deadlines.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::e2e::{Crisisd, free_port, http, token, wait_for_http};

const PASSENGERS: usize = 180;

/// Passengers rerouted by the second manifest: an alternative arriving 3 h late.
const REROUTED: usize = 60;

fn manifest(date: &str, source: &str, rerouted: usize) -> Value {
    let passengers: Vec<Value> = (0..PASSENGERS)
        .map(|i| {
            let tier = ["none", "silver", "gold", "platinum", "diamond"][i % 5];
            let mut passenger = json!({"passenger_ref": format!("PAX{i:04}"), "name": format!("Passenger {i}"),
                "tier": tier,
                "booking_class": if i < 20 { "J" } else { "Y" },
                "fare": {"amount_minor": 30_000 + i as u64 * 100, "currency": "EUR"},
                "contact_consent": ["email"], "boarded": false});
            if i < rerouted {
                passenger["rerouting"] = json!({"flight_number": "LH502",
                    "departure": format!("{date}T11:00:00Z"), "arrival": format!("{date}T21:40:00Z"),
                    "accepted": true});
            }
            passenger
        })
        .collect();
    json!({"v": 1, "source_message_id": source, "carrier": "LH", "flight_number": "500",
        "origin_date": date, "passengers": passengers})
}

fn flight(date: &str, status: &str, source: &str) -> Value {
    let mut message = json!({"v": 1, "source_message_id": source, "carrier": "LH",
        "flight_number": "500", "origin_date": date, "origin": "FRA", "destination": "JFK",
        "scheduled_departure": format!("{date}T10:00:00Z"),
        "scheduled_arrival": format!("{date}T18:40:00Z"), "status": status,
        "passenger_count": PASSENGERS});
    if status == "cancelled" {
        message["change_reason"] = json!("aircraft unserviceable");
        message["delays"] = json!([{"code": "41", "minutes": 600}]);
    }
    message
}

#[test]
fn a_manifest_of_180_on_a_cancelled_flight_gives_180_entitlements_and_a_rerouting_halves_60() {
    let dir = tempfile::tempdir().unwrap();
    let ops = token(dir.path(), "flight_ops", "dcs-feed");
    let auditor = token(dir.path(), "auditor", "regulator-check");
    let agent = token(dir.path(), "agent", "agent-7");
    let lead = token(dir.path(), "crisis_lead", "lead-1");
    let port = free_port().unwrap();
    let crisisd = Crisisd::start_with(dir.path(), &[], port);
    wait_for_http(port);
    let date = (chrono::Utc::now() - chrono::Duration::days(1))
        .date_naive()
        .to_string();
    let post = |path: &str, body: &Value| {
        let (status, answer) = http(port, "POST", path, &ops, &body.to_string());
        assert_eq!(status, 202, "{path}: {answer}");
    };
    post("/v1/ingest/flightops", &flight(&date, "on_time", "aidx-1"));
    post("/v1/ingest/manifest", &manifest(&date, "dcs-LH500-1", 0));
    post("/v1/ingest/manifest", &manifest(&date, "dcs-LH500-1", 0)); // a redelivery changes nothing
    post(
        "/v1/ingest/flightops",
        &flight(&date, "cancelled", "aidx-2"),
    );
    let path = format!("/v1/flights/LH/500/{date}/ledger");
    let ledger_once = |owed: u64| {
        let started = Instant::now();
        loop {
            let (status, body) = http(port, "GET", &path, &auditor, "");
            assert_eq!(status, 200, "{body}");
            let ledger: Value = serde_json::from_str(&body).unwrap();
            let eu = ledger["totals"]
                .as_array()
                .unwrap()
                .iter()
                .find(|t| t["regime"] == "eu261")
                .cloned();
            if eu.is_some_and(|eu| eu["passengers_owed"] == PASSENGERS && eu["owed_minor"] == owed)
            {
                return ledger;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "EU 261 owing {owed} to {PASSENGERS} within a minute: {body}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    let ledger = ledger_once(PASSENGERS as u64 * 60_000);
    let eu = ledger["totals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["regime"] == "eu261")
        .unwrap();
    assert_eq!(
        eu["owed_minor"],
        json!(PASSENGERS as u64 * 60_000),
        "EU 261 Art. 7(1)(c): EUR 600 each, a technical defect is no excuse (C-257/14): {eu}"
    );
    assert_eq!(eu["governing"], json!(PASSENGERS));
    let passengers: std::collections::BTreeSet<&str> = ledger["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["passenger"].as_str().unwrap())
        .collect();
    assert_eq!(passengers.len(), PASSENGERS);
    // Care and refund rights are shown with the money: the passenger view names the fare
    // the refund repays and its legal deadline (EU 261 Art. 8(1)(a): 7 days).
    // `after`: the passengers model (another projector than the ledger's) has applied
    // every entitlement event the ledger shows.
    let computed = ledger["lines"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|l| l["positions"].as_array().unwrap())
        .filter_map(Value::as_u64)
        .max()
        .unwrap();
    let (status, view) = http(
        port,
        "GET",
        &format!("/v1/passengers/PAX0001?after={computed}"),
        &auditor,
        "",
    );
    assert_eq!(status, 200, "{view}");
    let view: Value = serde_json::from_str(&view).unwrap();
    let entitlement = &view["compensations"][0];
    assert_eq!(
        entitlement["refund"]["fare"]["amount_minor"], 30_100,
        "{view}"
    );
    assert!(entitlement["refund"]["deadline"].is_string());
    assert!(
        entitlement["care"]
            .as_array()
            .unwrap()
            .contains(&json!("meals_and_refreshments")),
        "{view}"
    );
    assert_eq!(
        view["bookings"][0]["booking"]["name"],
        Value::Null,
        "an auditor without personal-data rights sees no name: {view}"
    );
    assert_eq!(view["bookings"][0]["booking"]["booking_class"], "J");
    let (_, seen) = http(port, "GET", "/v1/passengers/PAX0001", &agent, "");
    let seen: Value = serde_json::from_str(&seen).unwrap();
    assert_eq!(
        seen["bookings"][0]["booking"]["name"], "Passenger 1",
        "an agent reads the name, opened from its sealed form"
    );
    let (status, csv) = http(port, "GET", &format!("{path}.csv"), &auditor, "");
    assert_eq!(status, 200);
    assert!(
        !csv.contains("Passenger 1"),
        "no names in the regulator's ledger"
    );
    assert_eq!(
        csv.lines()
            .filter(|l| l.contains(",eu261,true,EUR,60000,"))
            .count(),
        PASSENGERS
    );

    // Flight ops reroutes 60 of them on an alternative arriving 3 h late: EU 261 Art.
    // 7(2)(c) halves theirs, each in a superseding computation.
    post(
        "/v1/ingest/manifest",
        &manifest(&date, "dcs-LH500-2", REROUTED),
    );
    let owed = (PASSENGERS - REROUTED) as u64 * 60_000 + REROUTED as u64 * 30_000;
    let ledger = ledger_once(owed);
    let halved: Vec<&Value> = ledger["lines"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["regime"] == "eu261" && l["owed"]["amount_minor"] == 30_000)
        .collect();
    assert_eq!(halved.len(), REROUTED);
    let id = halved[0]["compensation_id"].as_str().unwrap();
    let (status, history) = http(
        port,
        "GET",
        &format!("/v1/audit/events?stream=compensation-{id}"),
        &auditor,
        "",
    );
    assert_eq!(status, 200, "{history}");
    let events: Vec<Value> = history
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        ["compensation.computed", "compensation.recomputed"],
        "{history}"
    );
    let recomputed = &events[1]["data"];
    assert_eq!(recomputed["supersedes"], 1, "{recomputed}");
    assert_eq!(recomputed["previous_entitled"]["amount_minor"], 60_000);
    assert_eq!(recomputed["entitled"]["amount_minor"], 30_000);

    // An agent records that PAX0170 took an alternative arriving 1 h late: told under 7
    // days ahead, no compensation under EU 261 Art. 5(1)(c)(iii).
    let body = json!({"flight": {"carrier": "LH", "number": "500", "date": date},
        "rerouting": {"flight_number": "LH506", "departure": format!("{date}T10:30:00Z"),
            "arrival": format!("{date}T19:40:00Z"), "accepted": true}});
    let (status, answer) = http(
        port,
        "POST",
        "/v1/passengers/PAX0170/record_rerouting",
        &agent,
        &body.to_string(),
    );
    assert_eq!(status, 200, "{answer}");
    let rerouted: Value = serde_json::from_str(&answer).unwrap();
    let rerouted = rerouted["position"].as_u64().unwrap();
    let started = Instant::now();
    loop {
        let (_, body) = http(port, "GET", &path, &auditor, "");
        let ledger: Value = serde_json::from_str(&body).unwrap();
        let line = ledger["lines"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["passenger"] == "PAX0170" && l["regime"] == "eu261")
            .cloned()
            .unwrap();
        if line["owed"].is_null() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the agent's rerouting is decided on: {line}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let (day, served) = team_views(port, &date, &agent, &lead, rerouted);
    crisisd.stop();
    // The same report from the command line, on the stopped service's data directory.
    let report = offline(
        dir.path(),
        &["report", "--period", "day", "--date", &day, "--by", "tier"],
    );
    let offline_report: Value = serde_json::from_str(&report).unwrap();
    assert_eq!(
        offline_report, served,
        "the command line reports what serve answered"
    );
    let csv = offline(
        dir.path(),
        &[
            "report", "--period", "month", "--date", &day, "--format", "csv",
        ],
    );
    assert!(
        csv.starts_with("period,first_day,last_day,by,value,"),
        "{csv}"
    );
    assert!(csv.contains("month,"), "{csv}");
    // What if the shipped policy had been in force: nothing differs.
    let policy = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/crisis-policy.json");
    let what_if: Value =
        serde_json::from_str(&offline(dir.path(), &["what-if", "--policy", policy])).unwrap();
    assert_eq!(
        what_if["breaches"]["would_have_happened"],
        json!([]),
        "{what_if}"
    );
    assert_eq!(what_if["incidents"]["changes"], json!([]), "{what_if}");
    assert!(
        what_if["events"].as_u64().unwrap() > PASSENGERS as u64,
        "{what_if}"
    );
    assert_eq!(what_if["goodwill"]["changed"], 0, "{what_if}");
    // And with every goodwill voucher and miles amount doubled: the cost doubles, for
    // every passenger goodwill gave something.
    let mut doubled: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/deploy/compensation-policy.json"
        ))
        .unwrap(),
    )
    .unwrap();
    for rule in doubled["goodwill"]["rules"].as_array_mut().unwrap() {
        for field in ["voucher_minor", "miles"] {
            rule[field] = json!(rule[field].as_u64().unwrap() * 2);
        }
    }
    let candidate = dir.path().join("doubled.json");
    std::fs::write(&candidate, doubled.to_string()).unwrap();
    let what_if: Value = serde_json::from_str(&offline(
        dir.path(),
        &[
            "what-if",
            "--compensation-policy",
            candidate.to_str().unwrap(),
        ],
    ))
    .unwrap();
    let goodwill = &what_if["goodwill"];
    let eur = |side: &str| goodwill[side]["vouchers"]["EUR"].as_u64().unwrap_or(0);
    assert!(eur("in_force") > 0, "{goodwill}");
    assert_eq!(eur("candidate"), 2 * eur("in_force"), "{goodwill}");
    assert_eq!(
        goodwill["candidate"]["miles"].as_u64(),
        goodwill["in_force"]["miles"].as_u64().map(|m| 2 * m)
    );
    assert!(goodwill["changed"].as_u64().unwrap() > 0, "{goodwill}");
    assert_eq!(what_if["breaches"]["would_have_happened"], json!([]));
}

/// Runs an offline command on the stopped service's data directory; its output.
fn offline(dir: &std::path::Path, args: &[&str]) -> String {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_crisisd"))
        .args(["--data-dir", dir.to_str().unwrap()])
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// What a crisis team reads about the cancelled LH500 (issue 20); `ingested`: a position
/// past every message ingested about the flight.
fn team_views(port: u16, date: &str, agent: &str, lead: &str, ingested: u64) -> (String, Value) {
    let get = |path: &str| {
        let (status, body) = http(port, "GET", path, agent, "");
        assert_eq!(status, 200, "{path}: {body}");
        serde_json::from_str::<Value>(&body).unwrap()
    };
    // `after`: the flight and disruption models (projectors other than the ledger's, which
    // the caller waited on) have applied the cancellation and the manifests.
    let flight = get(&format!("/v1/flights/LH/500/{date}?after={ingested}"));
    assert_eq!(flight["disruptions"], json!(["cancelled"]), "{flight}");
    assert_eq!(flight["state"]["status"], "cancelled", "{flight}");
    assert_eq!(flight["final_disruption"], true, "{flight}");
    assert_eq!(flight["booked"].as_array().unwrap().len(), PASSENGERS);
    let day = get(&format!(
        "/v1/flights?date={date}&airport=JFK&after={ingested}"
    ));
    assert_eq!(day["items"][0]["flight"]["number"], "500", "{day}");

    // An incident for the flight: every entitlement joins its ledger, readable by agents.
    let open = json!({"title": "LH500 cancelled", "category": "cancellation", "severity": "high",
        "flight": {"carrier": "LH", "number": "500", "date": date}, "correlation_key": null,
        "signal_ids": []});
    let (status, answer) = http(port, "POST", "/v1/incidents", lead, &open.to_string());
    assert_eq!(status, 200, "{answer}");
    let answer: Value = serde_json::from_str(&answer).unwrap();
    let incident = answer["stream"].as_str().unwrap()["incident-".len()..].to_owned();
    let opened = &answer["position"];
    let started = Instant::now();
    loop {
        // `after`: the incident's read model has the incident before it is asked for it.
        let ledger = get(&format!(
            "/v1/incidents/{incident}/entitlements?after={opened}"
        ));
        let governing = ledger["lines"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|l| l["governing"] == true)
            .count();
        if governing == PASSENGERS {
            assert!(
                ledger["lines"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|l| l["flight"]["number"] == "500")
            );
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the {PASSENGERS} entitlements join the incident's ledger: {governing} so far"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // A passenger complains about the flight: the complaint is in the queue with the
    // flight, the incident it belongs to and three running deadlines.
    let complaint = json!({"channel": "email", "passenger": "PAX0003", "tier": "platinum",
        "category": "cancellation", "remedy_sought": "compensation", "description": "stranded",
        "incident_id": incident, "flight": {"carrier": "LH", "number": "500", "date": date}});
    let (status, answer) = http(
        port,
        "POST",
        "/v1/complaints",
        agent,
        &complaint.to_string(),
    );
    assert_eq!(status, 200, "{answer}");
    let after: Value = serde_json::from_str(&answer).unwrap();
    let queue = get(&format!(
        "/v1/complaints?flight=LH500&date={date}&after={}",
        after["position"]
    ));
    let items = queue["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{queue}");
    assert_eq!(items[0]["incident_id"], incident.as_str(), "{queue}");
    let deadlines = items[0]["deadlines"].as_array().unwrap();
    assert_eq!(deadlines.len(), 3, "{queue}");
    assert!(
        deadlines
            .iter()
            .all(|d| d["state"] == "pending" && d["time_left_secs"].as_i64().unwrap() > 0),
        "{queue}"
    );
    assert!(
        !queue.to_string().contains("stranded"),
        "no customer's words: {queue}"
    );

    // Today's report counts it under its tier (issue 21).
    let day = chrono::Utc::now().date_naive().to_string();
    let report = get(&format!(
        "/v1/reports?period=day&date={day}&by=tier&after={}",
        after["position"]
    ));
    let platinum = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["value"] == "platinum")
        .unwrap_or_else(|| panic!("{report}"));
    assert_eq!(platinum["complaints"], 1, "{report}");
    (day, report)
}

/// A manifest published on `crisis.ingest.manifest` is stored like one posted over HTTP,
/// and a malformed one is rejected on `crisis.rejected.manifest` with the field to fix.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manifest_over_nats_is_stored_and_a_bad_one_rejected_with_its_field() {
    use futures_util::StreamExt;
    let nats = crate::nats_server::NatsServer::start();
    let dir = tempfile::tempdir().unwrap();
    let auditor = token(dir.path(), "auditor", "regulator-check");
    let port = free_port().unwrap();
    let crisisd = Crisisd::start_with(dir.path(), &["--nats-url", &nats.url()], port);
    wait_for_http(port);
    let client = async_nats::connect(nats.url()).await.unwrap();
    let js = async_nats::jetstream::new(client.clone());
    js.get_or_create_stream(crisisd::bus::ingest::stream_config())
        .await
        .unwrap();
    let mut rejected = client.subscribe("crisis.rejected.manifest").await.unwrap();
    let date = (chrono::Utc::now() - chrono::Duration::days(1))
        .date_naive()
        .to_string();
    let mut bad = manifest(&date, "dcs-bad", 0);
    bad["passengers"][3]["booking_class"] = json!("economy");
    for message in [manifest(&date, "dcs-nats-1", 0), bad] {
        js.publish("crisis.ingest.manifest", message.to_string().into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    let rejection = tokio::time::timeout(Duration::from_secs(30), rejected.next())
        .await
        .expect("a rejection within 30 s")
        .unwrap();
    let rejection: Value = serde_json::from_slice(&rejection.payload).unwrap();
    assert_eq!(
        rejection["pointer"], "/passengers/3/booking_class",
        "{rejection}"
    );
    assert_eq!(rejection["source_message_id"], "dcs-bad");
    let started = Instant::now();
    loop {
        let (status, view) = http(port, "GET", "/v1/passengers/PAX0179", &auditor, "");
        if status == 200 {
            let view: Value = serde_json::from_str(&view).unwrap();
            assert_eq!(view["bookings"][0]["flight"]["number"], "500", "{view}");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the manifest is stored within 30 s: {status} {view}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    crisisd.stop();
}
