//! The crisis team's rules through the real binary (issue 20): a cancelled flight
//! reported operating is a reinstatement; the monitor feed filters; a contact on a
//! refused channel is refused unless it is the mandatory notice; the timeline carries
//! each event's data a page at a time; KPIs credit the agent who acted.

use serde_json::{Value, json};

use crate::e2e::{Crisisd, free_port, http, token, wait_for_http};

#[test]
fn a_crisis_teams_rules_hold_through_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let ops = token(dir.path(), "flight_ops", "aidx");
    let channel = token(dir.path(), "channel", "hotline");
    let agent = token(dir.path(), "agent", "agent-7");
    let lead = token(dir.path(), "crisis_lead", "lead-1");
    let port = free_port().unwrap();
    let crisisd = Crisisd::start_with(dir.path(), &[], port);
    wait_for_http(port);
    let call = |token: &str, method: &str, path: &str, body: Value| {
        let (status, answer) = http(port, method, path, token, &body.to_string());
        let answer: Value = serde_json::from_str(&answer).unwrap_or(Value::Null);
        (status, answer)
    };
    let ok = |token: &str, path: &str, body: Value| {
        let (status, answer) = call(token, "POST", path, body);
        assert!(status == 200 || status == 202, "{path}: {status} {answer}");
        answer
    };
    let get = |token: &str, path: &str| {
        let (status, answer) = call(token, "GET", path, Value::Null);
        assert_eq!(status, 200, "{path}: {answer}");
        answer
    };
    let now = chrono::Utc::now();
    let date = (now - chrono::Duration::days(1)).date_naive().to_string();
    let rfc =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);

    // Reinstatement: cancelled, then reported operating.
    let flight = |status: &str, source: &str| {
        json!({"v": 1, "source_message_id": source, "carrier": "LH", "flight_number": "600",
            "origin_date": date, "origin": "MUC", "destination": "LHR",
            "scheduled_departure": format!("{date}T09:00:00Z"),
            "scheduled_arrival": format!("{date}T10:40:00Z"), "status": status,
            "passenger_count": 150})
    };
    ok(
        &ops,
        "/v1/ingest/flightops",
        flight("cancelled", "aidx-600-1"),
    );
    ok(
        &ops,
        "/v1/ingest/flightops",
        flight("on_time", "aidx-600-2"),
    );
    let (status, log) = http(
        port,
        "GET",
        &format!("/v1/audit/events?stream=flight-LH600-{date}"),
        &lead,
        "",
    );
    assert_eq!(status, 200, "{log}");
    assert!(log.contains("\"flight.reinstated\""), "{log}");
    // `after`: the flight's read models have applied its last event (the reinstatement).
    let last: Value = serde_json::from_str(log.lines().last().unwrap()).unwrap();
    let view = get(
        &agent,
        &format!("/v1/flights/LH/600/{date}?after={}", last["position"]),
    );
    assert_eq!(
        view["disruptions"],
        json!(["cancelled", "reinstated"]),
        "{view}"
    );

    // The monitor feed filters by channel, category, flight and time.
    for (n, channel_name, category) in [
        (1, "social_media", "cancellation"),
        (2, "hotline", "cancellation"),
        (3, "social_media", "service"),
    ] {
        ok(
            &channel,
            "/v1/ingest/feedback",
            json!({"v": 1, "source_message_id": format!("fb-{n}"), "channel": channel_name,
                "text": "what happened to LH600?", "category_hint": category,
                "flight": {"carrier": "LH", "flight_number": "600", "origin_date": date},
                "received_at": rfc(now - chrono::Duration::minutes(10 - n))}),
        );
    }
    let feed = |query: &str| {
        let answer = get(&agent, &format!("/v1/monitor/feed?{query}"));
        answer["items"].as_array().unwrap().len()
    };
    let since = rfc(now - chrono::Duration::minutes(30));
    let started = std::time::Instant::now();
    while feed("") < 3 {
        assert!(
            started.elapsed().as_secs() < 30,
            "three signals in the feed"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(feed("channel=social_media"), 2);
    assert_eq!(feed("channel=social_media&category=cancellation"), 1);
    assert_eq!(feed(&format!("flight=LH600&date={date}&since={since}")), 3);
    assert_eq!(feed("airport=MUC"), 3);
    assert_eq!(feed("airport=FRA"), 0);

    // Consent: FF9 agreed to e-mail only.
    ok(
        &agent,
        "/v1/passengers/FF9/register_passenger",
        json!({"tier": "gold", "contact": {"name": "Ada L", "email": "ada@example.org",
            "phone": "+491700000000", "language": null},
            "consent": {"email": true, "sms": false, "phone": false, "app_push": false}}),
    );
    let opened = ok(
        &lead,
        "/v1/incidents",
        json!({"title": "LH600", "category": "cancellation", "severity": "high",
            "flight": null, "correlation_key": null, "signal_ids": []}),
    );
    let incident = opened["stream"].as_str().unwrap()["incident-".len()..].to_owned();
    let at = |command: &str| format!("/v1/incidents/{incident}/{command}");
    for (command, body) in [
        ("start_assessment", json!({})),
        (
            "assess_impact",
            json!({"impact": {"passengers": {"diamond": 0, "platinum": 0,
            "gold": 1, "silver": 0, "none": 0}, "operations": "low", "operations_note": "",
            "reputation": "low", "reputation_note": ""}}),
        ),
        ("start_planning", json!({})),
        (
            "draft_communication_plan",
            json!({"plan": {"content": "sorry", "channels": ["sms"]}}),
        ),
        (
            "draft_compensation_plan",
            json!({"plan": {"summary": "EU 261", "goodwill": null, "budget": null}}),
        ),
        ("approve_communication_plan", json!({"version": 1})),
        ("approve_compensation_plan", json!({"version": 1})),
        ("start_execution", json!({})),
    ] {
        ok(&lead, &at(command), body);
    }
    let sms = |n: u128, mandatory: bool| {
        json!({"contact_id": uuid::Uuid::from_u128(n), "passenger": "FF9", "method": "sms",
            "mandatory_notice": mandatory})
    };
    let (status, refused) = call(&agent, "POST", &at("plan_contact"), sms(1, false));
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["code"], "consent_refused", "{refused}");
    let planned = ok(&agent, &at("plan_contact"), sms(2, true));

    // The timeline carries each event's data, a page at a time (`after`: the timeline
    // model has applied the contact just planned).
    let first = get(
        &agent,
        &format!(
            "/v1/incidents/{incident}/timeline?limit=2&after={}",
            planned["position"]
        ),
    );
    assert_eq!(first["items"].as_array().unwrap().len(), 2, "{first}");
    assert_eq!(first["items"][0]["data"]["title"], "LH600", "{first}");
    let cursor = first["next_cursor"]
        .as_str()
        .expect("more pages")
        .to_owned();
    let rest = get(
        &agent,
        &format!("/v1/incidents/{incident}/timeline?limit=100&cursor={cursor}"),
    );
    let last = rest["items"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["type"], "incident.contact_planned", "{last}");
    assert_eq!(last["data"]["mandatory_notice"], true, "{last}");

    // KPIs credit the agent who acted.
    let complaint = ok(
        &agent,
        "/v1/complaints",
        json!({"channel": "email", "passenger": "FF9", "tier": "gold", "category": "cancellation",
            "remedy_sought": "refund", "description": "refund me", "incident_id": null}),
    );
    let id = complaint["stream"].as_str().unwrap()["complaint-".len()..].to_owned();
    let acked = ok(
        &agent,
        &format!("/v1/complaints/{id}/acknowledge_complaint"),
        json!({"apology": "sorry"}),
    );
    let kpis = get(
        &lead,
        &format!(
            "/v1/complaints/kpis?dimension=agent&value=agent-7&after={}",
            acked["position"]
        ),
    );
    assert_eq!(kpis["items"][0]["counters"]["acknowledged"], 1, "{kpis}");
    crisisd.stop();
}
