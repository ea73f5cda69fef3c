//! The auditors' replay and verification.

use super::*;

#[tokio::test]
async fn auditors_replay_and_verify_without_personal_data() {
    let api = api().await;
    api.ok("agent", "/v1/passengers/FF2002/register_passenger", json!({"tier": "gold",
        "contact": {"name": "Ada Lovelace", "email": "ada@example.org", "phone": null, "language": "en-GB"},
        "consent": {"email": true, "sms": false, "phone": false, "app_push": false}})).await;
    let complaint = api.ok("agent", "/v1/complaints", json!({"channel": "email", "passenger": "FF2002", "tier": "gold",
        "category": "baggage_lost", "remedy_sought": "compensation", "description": "my bag with my medicine is gone", "incident_id": null})).await;
    let after = complaint["position"].as_u64().unwrap();

    let audit = api.get("auditor", "/v1/audit/events?from=1").await;
    assert_eq!(audit.status, StatusCode::OK, "{}", audit.text);
    assert_eq!(audit.headers["content-type"], "application/x-ndjson");
    let lines: Vec<Value> = audit
        .text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len() as u64, after);
    assert!(
        !audit.text.contains("Ada") && !audit.text.contains("medicine"),
        "{}",
        audit.text
    );
    // Sealed as stored: the line hashes to the chain, its personal values do not read.
    let sealed = lines[0]["data"]["contact"]["name"].as_str().unwrap();
    assert!(sealed.starts_with("pd:v1:p.FF2002~"), "{sealed}");
    assert_eq!(lines[0]["position"], 1);
    let stored = api.get("admin", "/v1/audit/events?type=passenger.").await;
    assert!(
        !stored.text.contains("Ada Lovelace"),
        "sealed unless revealed"
    );
    problem(
        &api.get("auditor", "/v1/audit/events?reveal=true").await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    let full = api
        .get("admin", "/v1/audit/events?type=passenger.&reveal=true")
        .await;
    assert!(full.text.contains("Ada Lovelace"), "{}", full.text);
    assert_eq!(full.text.lines().count(), 1);
    problem(
        &api.get("agent", "/v1/audit/events").await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );

    let view = api
        .get("auditor", &format!("/v1/passengers/FF2002?after={after}"))
        .await;
    assert_eq!(view.status, StatusCode::OK, "{}", view.text);
    assert_eq!(
        view.body["contact"],
        Value::Null,
        "auditors get no contact details"
    );
    let view = api.get("agent", "/v1/passengers/FF2002").await;
    assert_eq!(view.body["contact"]["name"], "Ada Lovelace");

    let verify = api.get("auditor", "/v1/audit/verify").await;
    assert_eq!(verify.status, StatusCode::OK, "{}", verify.text);
    assert_eq!(verify.body["verified"], after);
    assert_eq!(verify.body["damage"], Value::Null);
}

/// A range past the head or reversed is a 400 naming `from` on both audit routes, never
/// a report of damage or an empty "verified 0".
#[tokio::test]
async fn audit_ranges_past_the_head_or_reversed_are_refused() {
    let api = api().await;
    for n in 0..3 {
        api.ok(
            "crisis_lead",
            "/v1/incidents",
            json!({"title": format!("incident {n}"), "category": "delay",
            "severity": "low", "flight": null, "correlation_key": null, "signal_ids": []}),
        )
        .await;
    }
    for route in ["/v1/audit/verify", "/v1/audit/events"] {
        for query in ["from=3&to=1", "from=9", "from=4"] {
            let reply = api.get("auditor", &format!("{route}?{query}")).await;
            problem(&reply, StatusCode::BAD_REQUEST, "invalid_query");
            assert_eq!(reply.body["field"], "from", "{route}?{query}");
        }
        let last = api.get("auditor", &format!("{route}?from=3&to=99")).await;
        assert_eq!(last.status, StatusCode::OK, "{route}: {}", last.text);
    }
    let verify = api.get("auditor", "/v1/audit/verify?from=2").await;
    assert_eq!(
        (verify.body["verified"].as_u64(), &verify.body["damage"]),
        (Some(2), &Value::Null)
    );
}
