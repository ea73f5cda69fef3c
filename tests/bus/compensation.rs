//! Compensation end to end through the real binary: a flight's manifest of 180
//! passengers and its cancellation, posted over HTTP as flight ops would, give every
//! passenger an entitlement, shown in the flight's ledger (JSON and CSV).

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::e2e::{Crisisd, free_port, http, token, wait_for_http};

const PASSENGERS: usize = 180;

fn manifest(date: &str) -> Value {
    let passengers: Vec<Value> = (0..PASSENGERS)
        .map(|i| {
            let tier = ["none", "silver", "gold", "platinum", "diamond"][i % 5];
            json!({"passenger_ref": format!("PAX{i:04}"), "name": format!("Passenger {i}"),
                "tier": tier,
                "booking_class": if i < 20 { "J" } else { "Y" },
                "fare": {"amount_minor": 30_000 + i as u64 * 100, "currency": "EUR"},
                "contact_consent": ["email"], "boarded": false})
        })
        .collect();
    json!({"v": 1, "source_message_id": "dcs-LH500-1", "carrier": "LH", "flight_number": "500",
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
fn a_manifest_of_180_on_a_cancelled_flight_gives_180_entitlements() {
    let dir = tempfile::tempdir().unwrap();
    let ops = token(dir.path(), "flight_ops", "dcs-feed");
    let auditor = token(dir.path(), "auditor", "regulator-check");
    let port = free_port();
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
    post("/v1/ingest/manifest", &manifest(&date));
    post("/v1/ingest/manifest", &manifest(&date)); // a redelivery changes nothing
    post(
        "/v1/ingest/flightops",
        &flight(&date, "cancelled", "aidx-2"),
    );
    let path = format!("/v1/flights/LH/500/{date}/ledger");
    let started = Instant::now();
    let ledger = loop {
        let (status, body) = http(port, "GET", &path, &auditor, "");
        assert_eq!(status, 200, "{body}");
        let ledger: Value = serde_json::from_str(&body).unwrap();
        let eu = ledger["totals"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["regime"] == "eu261")
            .cloned();
        if eu.is_some_and(|eu| eu["passengers_owed"] == PASSENGERS) {
            break ledger;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "180 entitlements within a minute: {body}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
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
    crisisd.stop();
}
