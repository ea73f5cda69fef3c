//! The complaint loop, compensations and the crisis end to end.

use super::*;

/// The complaint loop and a compensation from computed to paid, through the API only.
#[tokio::test]
async fn the_complaint_loop_and_a_compensation_run_through_the_api() {
    let api = api().await;
    api.ok("agent", "/v1/passengers/FF4004/register_passenger", json!({"tier": "gold",
        "contact": {"name": "Grace Hopper", "email": null, "phone": "+1 555 0100", "language": null},
        "consent": {"email": false, "sms": false, "phone": true, "app_push": false}})).await;
    api.ok(
        "agent",
        "/v1/passengers/FF4004/change_tier",
        json!({"tier": "platinum"}),
    )
    .await;
    let received = api.ok("agent", "/v1/complaints", json!({"channel": "hotline", "passenger": "FF4004", "tier": "platinum",
        "category": "delay", "remedy_sought": "compensation", "description": "four hours late", "incident_id": null})).await;
    let id = received["stream"]
        .as_str()
        .unwrap()
        .strip_prefix("complaint-")
        .unwrap()
        .to_owned();
    let at = |command: &str| format!("/v1/complaints/{id}/{command}");
    api.ok(
        "agent",
        &at("acknowledge_complaint"),
        json!({"apology": "We are sorry"}),
    )
    .await;
    api.ok(
        "agent",
        &at("route_complaint"),
        json!({"departments": ["customer_care", "refunds"]}),
    )
    .await;
    api.ok(
        "agent",
        &at("send_progress_update"),
        json!({"message": "Refunds is on it"}),
    )
    .await;
    api.ok(
        "agent",
        &at("propose_resolution"),
        json!({"resolution": "EUR 600", "compensation_id": null,
            "root_cause": "operations/delay", "responsible": "flight_operations"}),
    )
    .await;
    api.ok(
        "agent",
        &at("report_dissatisfaction"),
        json!({"reason": "want miles too"}),
    )
    .await;
    api.ok(
        "agent",
        &at("propose_resolution"),
        json!({"resolution": "EUR 600 + miles", "compensation_id": null,
            "root_cause": "operations/delay", "responsible": "flight_operations"}),
    )
    .await;
    let closed = api
        .ok(
            "agent",
            &at("confirm_satisfaction"),
            json!({"comment": "thanks"}),
        )
        .await;
    let summary = api
        .get(
            "auditor",
            &format!("/v1/complaints/{id}?after={}", closed["position"]),
        )
        .await;
    assert_eq!(summary.status, StatusCode::OK, "{}", summary.text);
    assert_eq!(
        (
            summary.body["reopens"].as_u64(),
            summary.body["proposals"].as_u64()
        ),
        (Some(1), Some(2)),
        "{}",
        summary.text
    );
    // As of now, the state spells its status as the API does everywhere (issue 20).
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let state = api
        .get("auditor", &format!("/v1/complaints/{id}?as_of={now}"))
        .await;
    assert_eq!(state.body["state"]["status"], "closed", "{}", state.text);
    let timeline = api
        .get(
            "auditor",
            &format!("/v1/complaints/{id}/timeline?after={}", closed["position"]),
        )
        .await;
    let entries = timeline.body["items"].as_array().unwrap();
    assert_eq!(entries.len(), 8, "{}", timeline.text);
    // The timeline carries what each event says (issue 20): the customer's words are
    // sealed for an auditor without personal-data rights, opened for an agent.
    let received = &entries[0];
    assert_eq!(received["type"], "complaint.received");
    let words = received["data"]["description"].as_str().unwrap();
    assert!(words.starts_with("pd:v1:"), "{words}");
    let agent_view = api
        .get("agent", &format!("/v1/complaints/{id}/timeline?limit=3"))
        .await;
    let first_page = agent_view.body["items"].as_array().unwrap();
    assert_eq!(first_page.len(), 3);
    assert!(
        !first_page[0]["data"]["description"]
            .as_str()
            .unwrap()
            .starts_with("pd:"),
        "{}",
        agent_view.text
    );
    let cursor = agent_view.body["next_cursor"].as_str().unwrap();
    let rest = api
        .get(
            "agent",
            &format!("/v1/complaints/{id}/timeline?cursor={cursor}"),
        )
        .await;
    assert_eq!(rest.body["items"].as_array().unwrap().len(), 5);
    assert_eq!(rest.body["next_cursor"], Value::Null);

    // A compensation: crisisd computes it (a system command), agents carry it to paid.
    let flight = json!({"carrier": "LH", "number": "400", "date": "2026-11-22"});
    let key: crate::domain::common::FlightKey = serde_json::from_value(flight.clone()).unwrap();
    let cid = crate::domain::compensation::compensation_id(
        &key,
        &crate::domain::common::PassengerId("FF4004".into()),
    );
    let compute = json!({"flight": flight, "passenger": "FF4004", "incident_id": null, "decisions": real_decisions(), "governing": "eu261"});
    let uri = |command: &str| format!("/v1/compensations/{cid}/{command}");
    problem(
        &api.post("agent", &uri("compute_entitlement"), compute.clone())
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    api.ok("admin", &uri("compute_entitlement"), compute).await;
    let cash = json!({"form": "cash", "amount": {"amount_minor": 60000, "currency": "EUR"}});
    api.ok(
        "agent",
        &uri("offer_compensation"),
        json!({"options": [cash, {"form": "miles", "miles": 40000}]}),
    )
    .await;
    api.ok("agent", &uri("accept_offer"), json!({"choice": cash}))
        .await;
    let paid = api
        .ok(
            "agent",
            &uri("record_payment"),
            json!({"reference": "SEPA-1"}),
        )
        .await;
    let entitlement = api
        .get(
            "auditor",
            &format!("/v1/compensations/{cid}?after={}", paid["position"]),
        )
        .await;
    assert_eq!(entitlement.status, StatusCode::OK, "{}", entitlement.text);
    assert_eq!(entitlement.body["status"], "paid", "{}", entitlement.text);
    let view = api
        .get(
            "agent",
            &format!("/v1/passengers/FF4004?after={}", paid["position"]),
        )
        .await;
    assert_eq!(view.body["tier"], "platinum", "{}", view.text);
    assert_eq!(
        view.body["complaints"].as_array().unwrap().len(),
        1,
        "{}",
        view.text
    );
    assert_eq!(
        view.body["compensations"][0]["status"], "paid",
        "{}",
        view.text
    );
}

/// A whole crisis in the natural order, through the API with the service's own
/// reactors: a flight lands four hours late, five passengers complain, and only then
/// does the spike open the incident. Everything that existed joins it (entitlements,
/// complaints); the team runs the pipeline, pays every passenger, and can close the
/// incident because crisisd records each payment on it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crisis_runs_from_complaints_through_payment_to_closing() {
    let api = api().await;
    spawn_reactors(&api);
    let now = chrono::Utc::now();
    let departure = (now - chrono::Duration::hours(30))
        .with_nanosecond(0)
        .unwrap();
    use chrono::Timelike;
    let date = departure.date_naive();
    let rfc =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let flight = json!({"v": 1, "source_message_id": "aidx-1", "carrier": "LH", "flight_number": "400",
        "origin_date": date.to_string(), "origin": "FRA", "destination": "JFK",
        "scheduled_departure": rfc(departure), "scheduled_arrival": rfc(departure + chrono::Duration::hours(8)),
        "actual_departure": rfc(departure + chrono::Duration::minutes(250)),
        "actual_arrival": rfc(departure + chrono::Duration::minutes(8 * 60 + 250)),
        "status": "delayed", "delays": [{"code": "41", "minutes": 250}], "passenger_count": 300});
    let reply = api.post("flight_ops", "/v1/ingest/flightops", flight).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text);
    let passengers: Vec<String> = (1..=5).map(|n| format!("FF{n}")).collect();
    for (n, passenger) in passengers.iter().enumerate() {
        let message = json!({"v": 1, "source_message_id": format!("call-{n}"), "channel": "hotline",
            "text": "we landed four hours late", "passenger_ref": passenger,
            "flight": {"carrier": "LH", "flight_number": "400", "origin_date": date.to_string()},
            "category_hint": "delay", "received_at": rfc(now - chrono::Duration::minutes(20 - n as i64)),
            "reach": 1});
        let reply = api.post("channel", "/v1/ingest/feedback", message).await;
        assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text);
    }
    let incident = eventually("the spike opens an incident", || async {
        let board = api.get("crisis_lead", "/v1/incidents").await;
        board.body["items"][0]["incident_id"]
            .as_str()
            .map(str::to_owned)
    })
    .await;
    let spikes = api.get("agent", "/v1/monitor/spikes").await;
    assert_eq!(
        spikes.body["items"].as_array().map(Vec::len),
        Some(1),
        "a page like every list: {}",
        spikes.text
    );
    let flight_key = crate::domain::common::FlightKey::new("LH", "400", date).unwrap();
    let compensation_ids: Vec<uuid::Uuid> = passengers
        .iter()
        .map(|p| {
            crate::domain::compensation::compensation_id(
                &flight_key,
                &crate::domain::common::PassengerId(p.clone()),
            )
        })
        .collect();
    // What existed before the incident joins it: the five entitlements, computed while
    // there was no incident, and the five complaints.
    eventually("the entitlements join the incident", || async {
        let view = api
            .get(
                "crisis_lead",
                &format!("/v1/incidents/{incident}/execution"),
            )
            .await;
        (view.body["compensation"]["by_currency"]["EUR"]["owed"]["count"] == 5).then_some(())
    })
    .await;
    for n in 0..5 {
        let complaint = crate::app::feedback::complaint_id(&format!("call-{n}"));
        eventually("the complaint joins the incident", || async {
            let view = api
                .get("agent", &format!("/v1/complaints/{complaint}"))
                .await;
            (view.body["incident_id"] == incident.as_str()).then_some(())
        })
        .await;
    }
    // A passenger who complains once the incident is known carries it from the start
    // (issue 20): `complaint.received` names the incident, no join needed.
    let late = json!({"v": 1, "source_message_id": "call-late", "channel": "hotline",
        "text": "still no news", "passenger_ref": "FF1",
        "flight": {"carrier": "LH", "flight_number": "400", "origin_date": date.to_string()},
        "category_hint": "delay", "received_at": rfc(now - chrono::Duration::minutes(1)),
        "reach": 1});
    let reply = api.post("channel", "/v1/ingest/feedback", late).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text);
    let late_complaint = crate::app::feedback::complaint_id("call-late");
    let received = eventually("the late complaint is in its timeline", || async {
        let timeline = api
            .get(
                "agent",
                &format!("/v1/complaints/{late_complaint}/timeline"),
            )
            .await;
        timeline.body["items"][0].as_object().cloned()
    })
    .await;
    assert_eq!(received["type"], "complaint.received");
    assert_eq!(received["data"]["incident_id"], incident.as_str());
    let board = api
        .get(
            "crisis_lead",
            &format!("/v1/incidents?after={}", received["position"]),
        )
        .await;
    assert!(
        board.body["items"][0]["next_deadline"].is_string(),
        "{}",
        board.text
    );

    let lead = |command: &str, body: Value| {
        let uri = format!("/v1/incidents/{incident}/{command}");
        let api = &api;
        async move { api.ok("crisis_lead", &uri, body).await }
    };
    lead("start_assessment", json!({})).await;
    lead("assess_impact", json!({"impact": {"passengers": {"diamond": 0, "platinum": 0, "gold": 0, "silver": 0, "none": 5},
        "operations": "medium", "operations_note": "aircraft swap", "reputation": "low", "reputation_note": "calls"}})).await;
    lead("start_planning", json!({})).await;
    lead(
        "draft_communication_plan",
        json!({"plan": {"content": "we apologise", "channels": ["sms"]}}),
    )
    .await;
    lead(
        "draft_compensation_plan",
        json!({"plan": {"summary": "EU 261 art. 7 cash", "goodwill": null, "budget": null}}),
    )
    .await;
    lead("approve_communication_plan", json!({"version": 1})).await;
    lead("approve_compensation_plan", json!({"version": 1})).await;
    lead("start_execution", json!({})).await;
    for (n, id) in compensation_ids.iter().enumerate() {
        let entitlement = api.get("agent", &format!("/v1/compensations/{id}")).await;
        assert_eq!(
            entitlement.body["incident_id"],
            incident.as_str(),
            "{}",
            entitlement.text
        );
        let cash = json!({"form": "cash", "amount": entitlement.body["entitled"]});
        api.ok(
            "agent",
            &format!("/v1/compensations/{id}/offer_compensation"),
            json!({"options": [cash]}),
        )
        .await;
        api.ok(
            "agent",
            &format!("/v1/compensations/{id}/accept_offer"),
            json!({"choice": cash}),
        )
        .await;
        api.ok(
            "agent",
            &format!("/v1/compensations/{id}/record_payment"),
            json!({"reference": format!("PAY-{n}")}),
        )
        .await;
    }
    // A hotel night for the first passenger: a cost of the delay, whatever the claim.
    let hotel = json!({"duty": "accommodation", "amount": {"amount_minor": 12_000, "currency": "EUR"},
        "reference": "HOTEL-FRA-0042"});
    let zero = api
        .post(
            "agent",
            &format!(
                "/v1/compensations/{}/record_care_expense",
                compensation_ids[0]
            ),
            json!({"duty": "accommodation", "amount": {"amount_minor": 0, "currency": "EUR"},
                "reference": "X"}),
        )
        .await;
    problem(&zero, StatusCode::UNPROCESSABLE_ENTITY, "refused");
    let last_payment = api
        .ok(
            "agent",
            &format!(
                "/v1/compensations/{}/record_care_expense",
                compensation_ids[0]
            ),
            hotel,
        )
        .await["position"]
        .clone();
    let entitlement = api
        .get(
            "agent",
            &format!(
                "/v1/compensations/{}?after={last_payment}",
                compensation_ids[0]
            ),
        )
        .await;
    assert_eq!(
        entitlement.body["care_expenses"][0]["reference"], "HOTEL-FRA-0042",
        "{}",
        entitlement.text
    );
    // Agents see why (issue 19): every regime's decision with the article applied.
    let why = api
        .get(
            "agent",
            &format!("/v1/compensations/{}/decisions", compensation_ids[0]),
        )
        .await;
    assert_eq!(why.status, StatusCode::OK, "{}", why.text);
    assert_eq!(why.body["governing"], "eu261");
    let eu = why.body["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["regime"] == "eu261")
        .expect("EU 261 applies from FRA")
        .clone();
    assert!(
        eu["reasoning"].to_string().contains("C-257/14"),
        "a technical defect is within the carrier's control: {eu}"
    );
    assert_eq!(
        eu["refund"],
        Value::Null,
        "a 4 h 10 delay gives no refund right"
    );
    // The regulator's ledger: a line per passenger and regime, totals per regime.
    let ledger_uri = format!("/v1/flights/LH/400/{date}/ledger");
    let ledger = api
        .get("auditor", &format!("{ledger_uri}?after={last_payment}"))
        .await;
    assert_eq!(ledger.status, StatusCode::OK, "{}", ledger.text);
    let lines = ledger.body["lines"].as_array().unwrap();
    assert_eq!(
        lines.len(),
        15,
        "5 passengers x EU 261, US DOT, goodwill: {}",
        ledger.text
    );
    assert!(
        lines
            .iter()
            .all(|l| !l["positions"].as_array().unwrap().is_empty())
    );
    let eu = ledger.body["totals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["regime"] == "eu261")
        .unwrap()
        .clone();
    assert_eq!(
        (
            &eu["passengers_owed"],
            &eu["owed_minor"],
            &eu["paid_minor"],
            &eu["overdue"]
        ),
        (&json!(5), &json!(300_000), &json!(300_000), &json!(0)),
        "{eu}"
    );
    let csv = api
        .get("auditor", &format!("{ledger_uri}.csv?after={last_payment}"))
        .await;
    assert_eq!(csv.status, StatusCode::OK, "{}", csv.text);
    assert_eq!(csv.headers["content-type"], "text/csv; charset=utf-8");
    let rows: Vec<&str> = csv.text.split("\r\n").filter(|r| !r.is_empty()).collect();
    assert_eq!(rows.len(), 16, "a header and 15 lines: {}", csv.text);
    assert!(rows[0].starts_with("flight,passenger,compensation_id,regime,governing"));
    assert!(
        rows.iter()
            .any(|r| r.contains(",eu261,true,EUR,60000,paid,cash,EUR,60000,")),
        "{}",
        csv.text
    );
    let nothing = api
        .get("auditor", "/v1/flights/LH/401/2026-01-01/ledger")
        .await;
    assert_eq!(nothing.body["lines"], json!([]));
    let bad = api
        .get("auditor", "/v1/flights/LH/40000/2026-01-01/ledger")
        .await;
    assert_eq!(bad.status, StatusCode::NOT_FOUND, "{}", bad.text);

    // The incident's ledger, for agents who make the offers: the same lines, each
    // naming its flight.
    let by_incident = api
        .get(
            "agent",
            &format!("/v1/incidents/{incident}/entitlements?after={last_payment}"),
        )
        .await;
    assert_eq!(by_incident.status, StatusCode::OK, "{}", by_incident.text);
    assert_eq!(by_incident.body["lines"], ledger.body["lines"]);
    assert_eq!(by_incident.body["totals"], ledger.body["totals"]);
    assert_eq!(by_incident.body["lines"][0]["flight"]["number"], "400");
    let unknown = api
        .get(
            "agent",
            &format!("/v1/incidents/{}/entitlements", uuid::Uuid::now_v7()),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{}", unknown.text);

    // Cause to cost (issue 21): what the incident caused and what it costs, with the
    // ids and positions behind the figures.
    let cost = api
        .get(
            "auditor",
            &format!("/v1/incidents/{incident}/cost?after={last_payment}"),
        )
        .await;
    assert_eq!(cost.status, StatusCode::OK, "{}", cost.text);
    let c = &cost.body;
    assert_eq!(c["complaints"]["received"], 6, "{}", cost.text);
    assert_eq!(
        c["complaints"]["complaint_ids"].as_array().unwrap().len(),
        6
    );
    assert_eq!(c["passengers"]["known"], 5, "{}", cost.text);
    assert_eq!(c["cost"]["compensation_ids"].as_array().unwrap().len(), 5);
    assert!(!c["cost"]["positions"].as_array().unwrap().is_empty());
    let eu = c["cost"]["by_regime"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["regime"] == "eu261")
        .unwrap()
        .clone();
    assert_eq!(
        (&eu["owed_minor"], &eu["paid_minor"]),
        (&json!(300_000), &json!(300_000))
    );
    assert_eq!(
        c["cost"]["by_currency"]["by_currency"]["EUR"]["paid"]["count"], 5,
        "{}",
        cost.text
    );
    assert_eq!(
        c["cost"]["by_currency"]["by_currency"]["EUR"]["care_spent"],
        json!({"count": 1, "amount_minor": 12_000}),
        "{}",
        cost.text
    );
    assert!(c["signals"].as_u64().unwrap() >= 5, "{}", cost.text);
    assert!(
        !cost.text.contains("four hours late"),
        "no customer's words"
    );
    // What the day and the route cost, from the reports (issue 21).
    let today = chrono::Utc::now().date_naive();
    let report = api
        .get(
            "auditor",
            &format!("/v1/reports?period=day&date={today}&by=route&after={last_payment}"),
        )
        .await;
    let route = &report.body["rows"][0];
    assert_eq!(route["value"], "FRA-JFK", "{}", report.text);
    assert_eq!(
        (
            &route["compensation_owed"]["EUR"],
            &route["compensation_paid"]["EUR"]
        ),
        (&json!(300_000), &json!(300_000)),
        "{}",
        report.text
    );
    assert_eq!(route["care_spent"]["EUR"], 12_000, "{}", report.text);
    // The flight's, counted the same way: here the same money.
    let flight_cost = api
        .get(
            "auditor",
            &format!("/v1/flights/LH/400/{date}/cost?after={last_payment}"),
        )
        .await;
    assert_eq!(flight_cost.status, StatusCode::OK, "{}", flight_cost.text);
    assert_eq!(
        flight_cost.body["cost"], cost.body["cost"],
        "{}",
        flight_cost.text
    );
    assert_eq!(flight_cost.body["complaints"]["received"], 6);
    assert_eq!(flight_cost.body["incident_ids"], json!([incident]));
    // The board's card: its flight and its complaints still open.
    let board = api
        .get("agent", &format!("/v1/incidents?after={last_payment}"))
        .await;
    let card = board.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["incident_id"] == incident)
        .unwrap()
        .clone();
    assert_eq!(
        (&card["open_complaints"], &card["flight"]["number"]),
        (&json!(6), &json!("400")),
        "{card}"
    );
    // The day's and the route's disrupted flights add up to the same (one flight).
    for route in ["", "&route=FRA-JFK"] {
        let period = api
            .get(
                "auditor",
                &format!("/v1/costs/flights?from={date}{route}&after={last_payment}"),
            )
            .await;
        assert_eq!(period.status, StatusCode::OK, "{}", period.text);
        assert_eq!(period.body["cost"], cost.body["cost"], "{}", period.text);
        assert_eq!(period.body["complaints"], flight_cost.body["complaints"]);
        assert_eq!(period.body["flights"][0]["number"], "400");
    }
    let other_route = api
        .get(
            "auditor",
            &format!("/v1/costs/flights?from={date}&route=FRA-LHR"),
        )
        .await;
    assert_eq!(
        other_route.body["flights"],
        json!([]),
        "{}",
        other_route.text
    );
    assert_eq!(other_route.body["cost"]["compensation_ids"], json!([]));
    for (query, field) in [
        (format!("from={date}&route=FRA"), "route"),
        (format!("from={date}&to=2000-01-01"), "to"),
        ("from=2026-01-01&to=2026-03-01".to_owned(), "to"),
    ] {
        let refused = api
            .get("auditor", &format!("/v1/costs/flights?{query}"))
            .await;
        problem(&refused, StatusCode::BAD_REQUEST, "invalid_query");
        assert_eq!(refused.body["field"], field, "{query}: {}", refused.text);
    }

    // The flight as crisisd knows it, and the day's disrupted flights.
    let view = api
        .get(
            "agent",
            &format!("/v1/flights/LH/400/{date}?after={last_payment}"),
        )
        .await;
    assert_eq!(view.status, StatusCode::OK, "{}", view.text);
    assert_eq!(
        view.body["disruptions"],
        json!(["delayed"]),
        "{}",
        view.text
    );
    assert_eq!(view.body["state"]["status"], "delayed", "{}", view.text);
    assert_eq!(view.body["incidents"], json!([incident]), "{}", view.text);
    assert_eq!(
        view.body["complaints"].as_array().unwrap().len(),
        6,
        "{}",
        view.text
    );
    assert_eq!(view.body["final_disruption"], true, "{}", view.text);
    assert_eq!(
        view.body["passengers"].as_array().unwrap().len(),
        5,
        "{}",
        view.text
    );
    assert!(
        !view.text.contains("four hours late"),
        "no customer's words: {}",
        view.text
    );
    for uri in [
        format!("/v1/flights?date={date}"),
        format!("/v1/flights?date={date}&airport=JFK"),
    ] {
        let day = api.get("crisis_lead", &uri).await;
        assert_eq!(day.status, StatusCode::OK, "{}", day.text);
        assert_eq!(
            day.body["items"][0]["flight"]["number"], "400",
            "{uri}: {}",
            day.text
        );
    }
    let elsewhere = api
        .get(
            "crisis_lead",
            &format!("/v1/flights?date={date}&airport=LHR"),
        )
        .await;
    assert_eq!(elsewhere.body["items"], json!([]), "{}", elsewhere.text);
    let unheard = api.get("agent", "/v1/flights/LH/401/2026-01-01").await;
    assert_eq!(unheard.status, StatusCode::NOT_FOUND, "{}", unheard.text);

    lead("start_follow_up", json!({})).await;
    lead("start_review", json!({})).await;
    lead("record_lesson", json!({"lesson": "swap aircraft earlier"})).await;
    lead("record_improvement", json!({"improvement_id": uuid::Uuid::now_v7(),
        "improvement": {"description": "alert at 60 min inbound delay", "owner": "ops-planning", "due": null}})).await;
    // crisisd records each payment on the incident; then it closes.
    let uri = format!("/v1/incidents/{incident}/close_incident");
    let closed = eventually(
        "the incident closes once every payment is recorded",
        || async {
            let reply = api
                .post("crisis_lead", &uri, json!({"summary": "all paid"}))
                .await;
            (reply.status == StatusCode::OK).then_some(reply.body["position"].clone())
        },
    )
    .await;
    let summary = api
        .get(
            "auditor",
            &format!("/v1/incidents/{incident}?after={closed}"),
        )
        .await;
    assert_eq!(summary.body["stage"], "closed", "{}", summary.text);

    // After the fact, engineering finds a bird strike behind the "defect": a crisis lead
    // overrides the cause. Every entitlement is recomputed (EU 261 Art. 5(3): nothing
    // owed now); what was paid is not reduced but flagged for review.
    let path = format!("/v1/flights/LH/400/{date}/override_controllability");
    let refused = api
        .post(
            "agent",
            &path,
            json!({"controllability": "extraordinary", "reason": "bird strike"}),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text);
    let overridden = api
        .ok(
            "crisis_lead",
            &path,
            json!({"controllability": "extraordinary", "reason": "bird strike confirmed by engineering"}),
        )
        .await;
    assert_eq!(overridden["events"].as_array().unwrap().len(), 1);
    let id = compensation_ids[0];
    let entitlement = eventually("the paid entitlement is recomputed", || async {
        let view = api.get("auditor", &format!("/v1/compensations/{id}")).await;
        (view.body["review_required"] == true).then_some(view.body)
    })
    .await;
    assert_eq!(entitlement["status"], "paid", "{entitlement}");
    assert_eq!(entitlement["entitled"]["amount_minor"], 0, "{entitlement}");
    let why = api
        .get("agent", &format!("/v1/compensations/{id}/decisions"))
        .await;
    assert!(why.text.contains("eu261.art5.3"), "{}", why.text);
}

/// Registers a complaint over HTTP and answers its id.
async fn complaint(api: &Api, passenger: &str, tier: &str, flight: Value) -> String {
    let received = api
        .ok(
            "agent",
            "/v1/complaints",
            json!({"channel": "email", "passenger": passenger, "tier": tier,
                "category": "delay", "remedy_sought": "compensation",
                "description": "late", "incident_id": null, "flight": flight}),
        )
        .await;
    received["stream"].as_str().unwrap()["complaint-".len()..].to_owned()
}

/// The queue of open complaints (issue 20): each with its deadlines and the time left,
/// filtered by tier, owner, flight and urgency, a page at a time with a cursor that
/// stays valid as complaints close.
#[tokio::test]
async fn the_queue_shows_open_complaints_with_their_deadlines() {
    let api = api().await;
    let lh400 = json!({"carrier": "LH", "number": "400", "date": "2026-12-01"});
    let gold = complaint(&api, "P1", "gold", lh400.clone()).await;
    let silver = complaint(&api, "P2", "silver", Value::Null).await;
    let closing = complaint(&api, "P3", "gold", lh400).await;
    let at = |id: &str, command: &str| format!("/v1/complaints/{id}/{command}");
    api.ok(
        "agent",
        &at(&gold, "acknowledge_complaint"),
        json!({"apology": "sorry"}),
    )
    .await;
    for (command, body) in [
        ("acknowledge_complaint", json!({"apology": "sorry"})),
        ("route_complaint", json!({"departments": ["refunds"]})),
    ] {
        api.ok("agent", &at(&closing, command), body).await;
    }
    api.ok(
        "agent",
        &at(&closing, "propose_resolution"),
        json!({"resolution": "a voucher", "compensation_id": null,
            "root_cause": "operations/delay", "responsible": "flight_operations"}),
    )
    .await;
    let last = api
        .ok(
            "crisis_lead",
            &at(&closing, "confirm_satisfaction"),
            json!({"comment": "ok"}),
        )
        .await;
    let after = last["position"].as_u64().unwrap();

    let queue = api
        .get("auditor", &format!("/v1/complaints?after={after}"))
        .await;
    assert_eq!(queue.status, StatusCode::OK, "{}", queue.text);
    let items = queue.body["items"].as_array().unwrap();
    let ids: Vec<&str> = items
        .iter()
        .map(|c| c["complaint_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        vec![gold.as_str(), silver.as_str()],
        "closed ones leave"
    );
    assert_eq!(items[0]["owner"], "agent-1");
    assert_eq!(items[0]["flight"]["number"], "400", "{}", queue.text);
    let deadlines = items[0]["deadlines"].as_array().unwrap();
    assert_eq!(deadlines.len(), 3);
    assert_eq!(
        (&deadlines[0]["kind"], &deadlines[0]["state"]),
        (&json!("acknowledge"), &json!("met"))
    );
    assert_eq!(deadlines[0]["time_left_secs"], Value::Null);
    assert_eq!(deadlines[1]["state"], "pending");
    let left = deadlines[1]["time_left_secs"].as_i64().unwrap();
    assert!(
        (7 * 3600..=8 * 3600).contains(&left),
        "gold: first feedback within 8 h, {left} s left"
    );
    // One complaint's view shows its deadlines too.
    let one = api.get("agent", &format!("/v1/complaints/{silver}")).await;
    assert_eq!(one.body["deadlines"][0]["state"], "pending", "{}", one.text);
    assert!(one.body["deadlines"][0]["time_left_secs"].as_i64().unwrap() > 3 * 3600);

    let filtered = |query: &str| {
        let api = &api;
        let query = query.to_owned();
        async move {
            let reply = api.get("agent", &format!("/v1/complaints?{query}")).await;
            assert_eq!(reply.status, StatusCode::OK, "{query}: {}", reply.text);
            reply.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["complaint_id"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(filtered("tier=silver").await, vec![silver.clone()]);
    assert_eq!(filtered("owner=agent-1").await, vec![gold.clone()]);
    assert_eq!(
        filtered("flight=LH400&date=2026-12-01").await,
        vec![gold.clone()]
    );
    assert_eq!(filtered("status=received").await, vec![silver.clone()]);
    assert_eq!(filtered("breached=true").await, Vec::<String>::new());
    // Silver acknowledges within 4 h; Gold's next deadline (feedback) is in 8 h.
    let soon = (chrono::Utc::now() + chrono::Duration::hours(5))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    assert_eq!(
        filtered(&format!("due_before={soon}")).await,
        vec![silver.clone()]
    );

    let first = api.get("agent", "/v1/complaints?limit=1").await;
    assert_eq!(first.body["items"][0]["complaint_id"], gold.as_str());
    let cursor = first.body["next_cursor"].as_str().unwrap().to_owned();
    let second = api
        .get("agent", &format!("/v1/complaints?limit=1&cursor={cursor}"))
        .await;
    assert_eq!(second.body["items"][0]["complaint_id"], silver.as_str());
    assert_eq!(second.body["next_cursor"], Value::Null);
    for bad in ["cursor=nope", "flight=LH400", "limit=0", "tier=tin"] {
        let reply = api.get("agent", &format!("/v1/complaints?{bad}")).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{bad}: {}",
            reply.text
        );
    }
}

/// KPIs credit each action to who did it (issue 20): the agent who acknowledged, the
/// one who proposed the resolution the customer accepted, the one who closed.
#[tokio::test]
async fn kpis_credit_the_agent_who_did_each_action() {
    let api = api().await;
    let id = complaint(&api, "P1", "gold", Value::Null).await;
    let at = |command: &str| format!("/v1/complaints/{id}/{command}");
    api.ok(
        "agent",
        &at("acknowledge_complaint"),
        json!({"apology": "sorry"}),
    )
    .await;
    api.ok(
        "agent",
        &at("route_complaint"),
        json!({"departments": ["refunds"]}),
    )
    .await;
    api.ok(
        "crisis_lead",
        &at("escalate_to_supervisor"),
        json!({"supervisor": "sup-9", "reason": "a VIP"}),
    )
    .await;
    api.ok(
        "crisis_lead",
        &at("propose_resolution"),
        json!({"resolution": "EUR 600", "compensation_id": null,
            "root_cause": "operations/delay", "responsible": "flight_operations"}),
    )
    .await;
    let closed = api
        .ok(
            "agent",
            &at("confirm_satisfaction"),
            json!({"comment": "ok"}),
        )
        .await;
    let kpis = api
        .get(
            "auditor",
            &format!(
                "/v1/complaints/kpis?dimension=agent&after={}",
                closed["position"]
            ),
        )
        .await;
    assert_eq!(kpis.status, StatusCode::OK, "{}", kpis.text);
    let row = |agent: &str| {
        kpis.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["value"] == agent)
            .unwrap_or_else(|| panic!("{agent} in {}", kpis.text))["counters"]
            .clone()
    };
    let agent = row("agent-1");
    let lead = row("crisis_lead-1");
    let pick = |c: &Value| {
        [
            "acknowledged",
            "escalated",
            "proposals",
            "resolved",
            "closed",
        ]
        .map(|k| c[k].as_u64().unwrap())
    };
    assert_eq!(pick(&agent), [1, 0, 0, 0, 1], "{}", kpis.text);
    assert_eq!(pick(&lead), [0, 1, 1, 1, 0], "{}", kpis.text);
}

/// Root cause and responsibility (issue 21): a resolution records a cause of the
/// policy's taxonomy and the department responsible; handing it to another department
/// is an event with its reason, seen in the complaint and its timeline.
#[tokio::test]
async fn a_resolution_records_its_root_cause_and_responsibility_moves_by_event() {
    let api = api().await;
    let id = complaint(&api, "P9", "silver", Value::Null).await;
    let at = |command: &str| format!("/v1/complaints/{id}/{command}");
    for (command, body) in [
        ("acknowledge_complaint", json!({"apology": "sorry"})),
        ("route_complaint", json!({"departments": ["baggage"]})),
    ] {
        api.ok("agent", &at(command), body).await;
    }
    let propose = |code: &str| {
        json!({"resolution": "bag delivered", "compensation_id": null,
            "root_cause": code, "responsible": "baggage"})
    };
    let unknown = api
        .post("agent", &at("propose_resolution"), propose("baggage/eaten"))
        .await;
    problem(
        &unknown,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown_root_cause",
    );
    assert_eq!(unknown.body["field"], "/root_cause");
    let malformed = api
        .post("agent", &at("propose_resolution"), propose("Baggage"))
        .await;
    assert_eq!(
        malformed.status,
        StatusCode::BAD_REQUEST,
        "{}",
        malformed.text
    );
    let early = api
        .post(
            "agent",
            &at("reassign_responsibility"),
            json!({"responsible": "partners", "reason": "handler"}),
        )
        .await;
    problem(&early, StatusCode::UNPROCESSABLE_ENTITY, "refused");
    api.ok(
        "agent",
        &at("propose_resolution"),
        propose("baggage/delayed"),
    )
    .await;
    api.ok(
        "crisis_lead",
        &at("confirm_satisfaction"),
        json!({"comment": "ok"}),
    )
    .await;
    let moved = api
        .ok(
            "crisis_lead",
            &at("reassign_responsibility"),
            json!({"responsible": "partners", "reason": "the contracted handler left it in FRA"}),
        )
        .await;
    let view = api
        .get(
            "auditor",
            &format!("/v1/complaints/{id}?after={}", moved["position"]),
        )
        .await;
    assert_eq!(
        (
            &view.body["root_cause"],
            &view.body["responsible"],
            &view.body["status"]
        ),
        (
            &json!("baggage/delayed"),
            &json!("partners"),
            &json!("closed")
        ),
        "{}",
        view.text
    );
    let timeline = api
        .get(
            "auditor",
            &format!("/v1/complaints/{id}/timeline?after={}", moved["position"]),
        )
        .await;
    let last = timeline.body["items"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["type"], "complaint.responsibility_reassigned");
    assert_eq!(
        (&last["data"]["from"], &last["data"]["to"]),
        (&json!("baggage"), &json!("partners"))
    );

    // Today's report counts the resolution under the department then responsible and
    // its root cause (the reassignment came after).
    let today = chrono::Utc::now().date_naive();
    let uri = format!(
        "/v1/reports?period=day&date={today}&by=department&after={}",
        moved["position"]
    );
    let report = api.get("agent", &uri).await;
    assert_eq!(report.status, StatusCode::OK, "{}", report.text);
    assert_eq!(report.body["complete"], false);
    assert_eq!(
        report.body["rows"][0]["value"], "baggage",
        "{}",
        report.text
    );
    assert_eq!(report.body["rows"][0]["resolved"], 1, "{}", report.text);
    assert_eq!(
        report.body["top_root_causes"][0]["root_cause"], "baggage/delayed",
        "{}",
        report.text
    );
    let csv = api
        .get("auditor", &uri.replace("/v1/reports?", "/v1/reports.csv?"))
        .await;
    assert_eq!(csv.status, StatusCode::OK, "{}", csv.text);
    assert!(csv.text.contains(",department,baggage,"), "{}", csv.text);
    let year = api
        .get("agent", &format!("/v1/reports?period=year&date={today}"))
        .await;
    assert_eq!(year.status, StatusCode::BAD_REQUEST, "{}", year.text);
    // schemathesis found a week of 0000-01-01 reaching into year -1.
    let before_year_zero = api
        .get("agent", "/v1/reports?period=week&date=0000-01-01")
        .await;
    problem(&before_year_zero, StatusCode::BAD_REQUEST, "invalid_query");

    // The root cause, cause to cost: the complaint its resolution names, its passenger.
    let cause = api
        .get(
            "auditor",
            &format!(
                "/v1/costs/root-cause?code=baggage/delayed&after={}",
                moved["position"]
            ),
        )
        .await;
    assert_eq!(cause.status, StatusCode::OK, "{}", cause.text);
    assert_eq!(cause.body["complaints"]["complaint_ids"], json!([id]));
    assert_eq!(cause.body["complaints"]["resolved"], 1, "{}", cause.text);
    assert_eq!(cause.body["passengers"], 1, "{}", cause.text);
    assert_eq!(cause.body["cost"]["compensation_ids"], json!([]));
    let other = api
        .get("auditor", "/v1/costs/root-cause?code=operations/delay")
        .await;
    assert_eq!(other.body["complaints"]["received"], 0, "{}", other.text);
    let unknown = api
        .get("auditor", "/v1/costs/root-cause?code=baggage/eaten")
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{}", unknown.text);
    assert!(unknown.text.contains("baggage/delayed"), "lists the codes");
}

/// Quality monitoring (issue 21): a supervisor samples the day's closed complaints,
/// scores one, and the score counts for the agent whose resolution was accepted; a
/// scored complaint leaves the sample.
#[tokio::test]
async fn a_supervisor_samples_closed_complaints_and_scores_feed_the_agent_kpis() {
    let api = api().await;
    let mut closed = Vec::new();
    let mut last = 0;
    for n in 0..3 {
        let id = complaint(&api, &format!("Q{n}"), "gold", Value::Null).await;
        let at = |command: &str| format!("/v1/complaints/{id}/{command}");
        for (command, body) in [
            ("acknowledge_complaint", json!({"apology": "sorry"})),
            ("route_complaint", json!({"departments": ["refunds"]})),
            (
                "propose_resolution",
                json!({"resolution": "refund", "compensation_id": null,
                    "root_cause": "fare/refund", "responsible": "refunds"}),
            ),
        ] {
            api.ok("agent", &at(command), body).await;
        }
        last = api
            .ok(
                "crisis_lead",
                &at("confirm_satisfaction"),
                json!({"comment": "ok"}),
            )
            .await["position"]
            .as_u64()
            .unwrap();
        closed.push(id);
    }
    let today = chrono::Utc::now().date_naive();
    let sample_uri = format!("/v1/complaints/quality-sample?date={today}&size=2&after={last}");
    let sample = api.get("crisis_lead", &sample_uri).await;
    assert_eq!(sample.status, StatusCode::OK, "{}", sample.text);
    let drawn: Vec<String> = sample.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["complaint_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(drawn.len(), 2);
    assert!(drawn.iter().all(|id| closed.contains(id)));
    let again = api.get("auditor", &sample_uri).await;
    assert_eq!(again.body, sample.body, "the same sample whoever asks");

    let score = |accuracy: u8| json!({"accuracy": accuracy, "attitude": 4, "timeliness": 3, "note": "clear"});
    let refused = api
        .post(
            "agent",
            &format!("/v1/complaints/{}/score_quality", drawn[0]),
            score(5),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "supervisors score");
    let scored = api
        .ok(
            "crisis_lead",
            &format!("/v1/complaints/{}/score_quality", drawn[0]),
            score(5),
        )
        .await;
    let after = scored["position"].as_u64().unwrap();
    let twice = api
        .post(
            "crisis_lead",
            &format!("/v1/complaints/{}/score_quality", drawn[0]),
            score(2),
        )
        .await;
    problem(&twice, StatusCode::UNPROCESSABLE_ENTITY, "refused");
    let view = api
        .get(
            "agent",
            &format!("/v1/complaints/{}?after={after}", drawn[0]),
        )
        .await;
    assert_eq!(
        view.body["quality"],
        json!({"accuracy": 5, "attitude": 4, "timeliness": 3})
    );
    let kpis = api
        .get(
            "crisis_lead",
            &format!("/v1/complaints/kpis?dimension=agent&value=agent-1&after={after}"),
        )
        .await;
    let row = &kpis.body["items"][0];
    assert_eq!(row["counters"]["quality_scored"], 1, "{}", kpis.text);
    assert_eq!(row["quality_avg"], 4.0, "{}", kpis.text);
    let next = api
        .get(
            "crisis_lead",
            &format!("/v1/complaints/quality-sample?date={today}&size=5&after={after}"),
        )
        .await;
    let left: Vec<&str> = next.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["complaint_id"].as_str().unwrap())
        .collect();
    assert_eq!(left.len(), 2, "{}", next.text);
    assert!(
        !left.contains(&drawn[0].as_str()),
        "a scored complaint leaves the sample"
    );
    let report = api
        .get(
            "crisis_lead",
            &format!("/v1/reports?period=day&date={today}&by=agent&after={after}"),
        )
        .await;
    assert_eq!(report.body["rows"][0]["quality"], 4.0, "{}", report.text);
}

/// The suggestion loop (issue 21): received → classified → forwarded → evaluated →
/// the customer told when adopted; the words stay out of every view.
#[tokio::test]
async fn a_suggestion_runs_its_loop_through_the_api() {
    let api = api().await;
    let received = api
        .ok(
            "agent",
            "/v1/suggestions",
            json!({"channel": "app", "passenger": "FF77", "text": "let me pick a seat in the app"}),
        )
        .await;
    let id = received["stream"].as_str().unwrap()["suggestion-".len()..].to_owned();
    let at = |command: &str| format!("/v1/suggestions/{id}/{command}");
    let unknown = api
        .post(
            "agent",
            &at("classify_suggestion"),
            json!({"topic": "digital/teleport"}),
        )
        .await;
    problem(
        &unknown,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown_root_cause",
    );
    assert_eq!(unknown.body["field"], "/topic");
    api.ok(
        "agent",
        &at("classify_suggestion"),
        json!({"topic": "digital/app"}),
    )
    .await;
    let early = api
        .post(
            "agent",
            &at("notify_customer"),
            json!({"message": "thanks"}),
        )
        .await;
    problem(&early, StatusCode::UNPROCESSABLE_ENTITY, "refused");
    api.ok(
        "agent",
        &at("forward_suggestion"),
        json!({"department": "digital"}),
    )
    .await;
    let agent_decides = api
        .post(
            "agent",
            &at("evaluate_suggestion"),
            json!({"outcome": "adopted", "reason": "on the roadmap"}),
        )
        .await;
    assert_eq!(agent_decides.status, StatusCode::FORBIDDEN);
    api.ok(
        "crisis_lead",
        &at("evaluate_suggestion"),
        json!({"outcome": "adopted", "reason": "on the roadmap"}),
    )
    .await;
    let told = api
        .ok(
            "agent",
            &at("notify_customer"),
            json!({"message": "it ships in March"}),
        )
        .await;
    let view = api
        .get(
            "auditor",
            &format!("/v1/suggestions/{id}?after={}", told["position"]),
        )
        .await;
    assert_eq!(view.status, StatusCode::OK, "{}", view.text);
    assert_eq!(view.body["stage"], "customer_notified", "{}", view.text);
    assert_eq!(view.body["evaluated_on_time"], true, "{}", view.text);
    assert_eq!(view.body["topic"], "digital/app");
    assert!(
        !view.text.contains("seat"),
        "no customer's words: {}",
        view.text
    );
    let list = api
        .get("agent", "/v1/suggestions?department=digital&overdue=false")
        .await;
    assert_eq!(
        list.body["items"].as_array().unwrap().len(),
        1,
        "{}",
        list.text
    );
    let none = api.get("agent", "/v1/suggestions?stage=declined").await;
    assert_eq!(none.body["items"], json!([]));
    let today = chrono::Utc::now().date_naive();
    let report = api
        .get(
            "agent",
            &format!(
                "/v1/reports?period=day&date={today}&after={}",
                told["position"]
            ),
        )
        .await;
    assert_eq!(
        (
            &report.body["total"]["suggestions"],
            &report.body["total"]["suggestions_adopted"]
        ),
        (&json!(1), &json!(1)),
        "{}",
        report.text
    );
}

/// What-if over HTTP (issue 23's board asks it): the policy in force against itself
/// differs in nothing; a stricter service level reports the breach it implies; a policy
/// that does not parse is a 422 naming the field; agents may not run it.
#[tokio::test]
async fn what_if_over_http_reports_the_breaches_a_stricter_policy_implies() {
    let api = api().await;
    let received_at = (chrono::Utc::now() - chrono::Duration::minutes(30)).to_rfc3339();
    let received = api
        .ok(
            "agent",
            "/v1/complaints",
            json!({"channel": "email", "passenger": "W1", "tier": "none",
                "category": "delay", "remedy_sought": "apology", "description": "late",
                "incident_id": null, "received_at": received_at}),
        )
        .await;
    let id = received["stream"].as_str().unwrap()["complaint-".len()..].to_owned();
    let same = api
        .ok("crisis_lead", "/v1/what-if", json!({"policy": null}))
        .await;
    assert_eq!(same["breaches"]["would_have_happened"], json!([]), "{same}");
    assert_eq!(same["breaches"]["would_not_have_happened"], json!([]));
    assert_eq!(same["incidents"]["changes"], json!([]));
    let mut policy: Value =
        serde_json::from_str(include_str!("../../../deploy/crisis-policy.json")).unwrap();
    for tier in ["diamond", "platinum", "gold", "silver", "none"] {
        policy["sla"]["tiers"][tier]["acknowledge_minutes"] = json!(1);
    }
    let stricter = api
        .ok("auditor", "/v1/what-if", json!({"policy": policy}))
        .await;
    let would = stricter["breaches"]["would_have_happened"]
        .as_array()
        .unwrap();
    assert!(
        would
            .iter()
            .any(|b| b["complaint_id"] == id.as_str() && b["kind"] == "acknowledge"),
        "{stricter}"
    );
    let broken = api
        .post(
            "crisis_lead",
            "/v1/what-if",
            json!({"policy": {"sla": {"tiers": 7}}}),
        )
        .await;
    problem(&broken, StatusCode::UNPROCESSABLE_ENTITY, "invalid_policy");
    assert_eq!(broken.body["field"], "/policy", "{}", broken.text);
    let agent = api.post("agent", "/v1/what-if", json!({})).await;
    assert_eq!(agent.status, StatusCode::FORBIDDEN, "{}", agent.text);
    // schemathesis found an empty body answered as {}: the body is required.
    let empty = api
        .call(Some("crisis_lead"), Method::POST, "/v1/what-if", &[], None)
        .await;
    problem(&empty, StatusCode::BAD_REQUEST, "invalid_body");
    let zero = api
        .post("crisis_lead", "/v1/what-if", json!({"from": 0}))
        .await;
    problem(&zero, StatusCode::BAD_REQUEST, "invalid_body");
    assert_eq!(zero.body["field"], "/from");
}
