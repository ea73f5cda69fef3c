//! The incident pipeline, its views, as-of reads, lists and the board.

use super::*;

/// A whole incident, first signal to close, through the API only; the read models on
/// the way and the timeline at the end.
#[tokio::test]
async fn an_incident_runs_from_open_to_close_through_the_api() {
    let api = api().await;
    let opened = api
        .ok("crisis_lead", "/v1/incidents", open_body("LH400 cancelled"))
        .await;
    let id = incident_id(&opened);
    let at = |command: &str| format!("/v1/incidents/{id}/{command}");
    let board = api
        .get(
            "auditor",
            &format!("/v1/incidents?after={}", opened["position"]),
        )
        .await;
    assert_eq!(board.status, StatusCode::OK, "{}", board.text);
    assert_eq!(board.body["items"][0]["stage"], "monitor");
    let lead = "crisis_lead";
    api.ok(lead, &at("start_assessment"), json!({})).await;
    api.ok(lead, &at("assess_impact"), json!({"impact": {"passengers": {"diamond": 0, "platinum": 1, "gold": 3, "silver": 0, "none": 140},
        "operations": "high", "operations_note": "aircraft swap", "reputation": "medium", "reputation_note": "trending"}})).await;
    let planning = api.ok(lead, &at("start_planning"), json!({})).await;
    let view = |what: &str, reply: &Value| {
        format!("/v1/incidents/{id}/{what}?after={}", reply["position"])
    };
    let impact = api.get("auditor", &view("impact", &planning)).await;
    assert_eq!(impact.status, StatusCode::OK, "{}", impact.text);
    assert!(
        impact.text.contains("140"),
        "passengers by tier: {}",
        impact.text
    );
    api.ok(
        lead,
        &at("draft_communication_plan"),
        json!({"plan": {"content": "We are sorry", "channels": ["sms", "website"]}}),
    )
    .await;
    api.ok(
        lead,
        &at("draft_compensation_plan"),
        json!({"plan": {"summary": "EU261 cash", "goodwill": null, "budget": null}}),
    )
    .await;
    // Agents may not approve.
    problem(
        &api.post(
            "agent",
            &at("approve_communication_plan"),
            json!({"version": 1}),
        )
        .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    api.ok(
        lead,
        &at("approve_communication_plan"),
        json!({"version": 1}),
    )
    .await;
    api.ok(
        lead,
        &at("approve_compensation_plan"),
        json!({"version": 1}),
    )
    .await;
    api.ok(lead, &at("start_execution"), json!({})).await;
    api.ok(
        "agent",
        &at("publish_information"),
        json!({"channel": "sms", "content": "Rebooked on LH402"}),
    )
    .await;
    let contact = uuid::Uuid::now_v7();
    api.ok(
        "agent",
        &at("plan_contact"),
        json!({"contact_id": contact, "passenger": "FF1001", "method": "phone"}),
    )
    .await;
    // Consent (issue 20): FF2002 agreed to e-mail only. An SMS is refused, saying what
    // to do, unless it is the mandatory notice about the disruption, recorded as such.
    api.ok(
        "agent",
        "/v1/passengers/FF2002/register_passenger",
        json!({"tier": "gold", "contact": {"name": "Grace Hopper", "email": "grace@example.org",
            "phone": "+491701234567", "language": null},
            "consent": {"email": true, "sms": false, "phone": false, "app_push": false}}),
    )
    .await;
    let sms = |n: u128, mandatory: bool| {
        json!({"contact_id": uuid::Uuid::from_u128(n), "passenger": "FF2002", "method": "sms",
            "mandatory_notice": mandatory})
    };
    let refused = api.post("agent", &at("plan_contact"), sms(1, false)).await;
    problem(
        &refused,
        StatusCode::UNPROCESSABLE_ENTITY,
        "consent_refused",
    );
    assert!(
        refused.text.contains("mandatory_notice"),
        "{}",
        refused.text
    );
    let notice = api.ok("agent", &at("plan_contact"), sms(2, true)).await;
    let email =
        json!({"contact_id": uuid::Uuid::from_u128(3), "passenger": "FF2002", "method": "email"});
    api.ok("agent", &at("plan_contact"), email).await;
    let grace = api
        .get(
            "agent",
            &format!("/v1/passengers/FF2002?after={}", notice["position"]),
        )
        .await;
    assert_eq!(
        grace.body["contacts"][0]["mandatory_notice"], true,
        "{}",
        grace.text
    );
    for n in [2u128, 3] {
        api.ok(
            "agent",
            &at("record_contact_outcome"),
            json!({"contact_id": uuid::Uuid::from_u128(n), "outcome": "reached", "note": ""}),
        )
        .await;
    }
    // Follow-up needs every contact's outcome.
    problem(
        &api.post(lead, &at("start_follow_up"), json!({})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "refused",
    );
    api.ok(
        "agent",
        &at("record_contact_outcome"),
        json!({"contact_id": contact, "outcome": "reached", "note": "rebooked"}),
    )
    .await;
    api.ok(lead, &at("start_follow_up"), json!({})).await;
    let survey = uuid::Uuid::now_v7();
    api.ok(
        "agent",
        &at("send_survey"),
        json!({"survey_id": survey, "passenger": "FF1001", "method": "email"}),
    )
    .await;
    api.ok(
        "agent",
        &at("record_satisfaction"),
        json!({"survey_id": survey, "score": 4}),
    )
    .await;
    api.ok(lead, &at("start_review"), json!({})).await;
    problem(
        &api.post(lead, &at("close_incident"), json!({"summary": "done"}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "refused",
    );
    // A lesson links to the knowledge-base entries it changed (issue 21); they must exist.
    let playbook = api
        .ok(
            lead,
            "/v1/knowledge",
            json!({"kind": "playbook", "category": "delay", "language": "en",
                "title": "Long delay", "body": "Notify at 60 minutes."}),
        )
        .await;
    let playbook = playbook["stream"].as_str().unwrap()["knowledge-".len()..].to_owned();
    let missing = api
        .post(
            lead,
            &at("record_lesson"),
            json!({"lesson": "notify sooner", "knowledge": [playbook, uuid::Uuid::now_v7()]}),
        )
        .await;
    problem(
        &missing,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown_knowledge_entry",
    );
    assert_eq!(missing.body["field"], "/knowledge/1", "{}", missing.text);
    api.ok(
        lead,
        &at("record_lesson"),
        json!({"lesson": "notify sooner", "knowledge": [playbook]}),
    )
    .await;
    // The review's causes come from the policy's taxonomy (issue 21).
    let cause = |code: &str| json!({"root_cause": code, "responsible": "ground_handling", "finding": "slow rebooking desk"});
    let unknown = api
        .post(lead, &at("record_cause"), cause("ground/aliens"))
        .await;
    problem(
        &unknown,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown_root_cause",
    );
    assert!(unknown.text.contains("ground/check_in"), "{}", unknown.text);
    let recorded = api
        .ok(lead, &at("record_cause"), cause("ground/check_in"))
        .await;
    let reviews = api
        .get(
            "auditor",
            &format!("/v1/reviews?after={}", recorded["position"]),
        )
        .await;
    assert_eq!(
        reviews.body["items"][0]["causes"],
        json!([{"root_cause": "ground/check_in", "responsible": "ground_handling", "finding": "slow rebooking desk"}]),
        "{}",
        reviews.text
    );
    assert_eq!(
        reviews.body["items"][0]["knowledge"],
        json!([playbook]),
        "{}",
        reviews.text
    );
    api.ok(
        lead,
        &at("record_improvement"),
        json!({"improvement_id": uuid::Uuid::now_v7(),
        "improvement": {"description": "SMS earlier", "owner": "ops-lead", "due": null}}),
    )
    .await;
    let closed = api
        .ok(
            lead,
            &at("close_incident"),
            json!({"summary": "all rebooked"}),
        )
        .await;

    let after = closed["position"].as_u64().unwrap();
    let summary = api
        .get("auditor", &format!("/v1/incidents/{id}?after={after}"))
        .await;
    assert_eq!(summary.status, StatusCode::OK, "{}", summary.text);
    assert_eq!(summary.body["stage"], "closed", "{}", summary.text);
    let timeline = api
        .get(
            "auditor",
            &format!("/v1/incidents/{id}/timeline?after={after}"),
        )
        .await;
    let types: Vec<&str> = timeline.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(types.first(), Some(&"incident.opened"));
    assert_eq!(types.last(), Some(&"incident.closed"));
    assert_eq!(
        types.len() as u64,
        closed["stream_version"].as_u64().unwrap()
    );
    let actors: Vec<&str> = timeline.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["actor_id"].as_str().unwrap())
        .collect();
    assert!(
        actors.contains(&"agent-1") && actors.contains(&"crisis_lead-1"),
        "actors come from tokens: {actors:?}"
    );
    let board = api
        .get("agent", &format!("/v1/incidents?after={after}"))
        .await;
    assert_eq!(
        board.body,
        json!({"items": [], "next_cursor": null}),
        "a closed incident leaves the board"
    );
    let lags = api.get("auditor", "/v1/projections").await;
    assert!(lags.body.as_array().unwrap().len() >= 5, "{}", lags.text);
    let ready = api.call(None, Method::GET, "/readyz", &[], None).await;
    assert_eq!(ready.status, StatusCode::OK);
    let too_far = api
        .get(
            "auditor",
            &format!("/v1/incidents/{id}?after={}", after + 1000),
        )
        .await;
    problem(&too_far, StatusCode::BAD_REQUEST, "invalid_query");
}

#[tokio::test]
async fn as_of_an_instant_between_two_events_is_the_state_after_the_first() {
    let api = api().await;
    let opened = api
        .ok("crisis_lead", "/v1/incidents", open_body("LH400"))
        .await;
    let id = incident_id(&opened);
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let between = chrono::Utc::now();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    api.ok(
        "crisis_lead",
        &format!("/v1/incidents/{id}/start_assessment"),
        json!({}),
    )
    .await;
    let then = api
        .get(
            "auditor",
            &format!(
                "/v1/incidents/{id}?as_of={}",
                between
                    .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
                    .replace('+', "%2B")
            ),
        )
        .await;
    assert_eq!(then.status, StatusCode::OK, "{}", then.text);
    assert_eq!(then.body["stream_version"], 1);
    assert_eq!(then.body["state"]["stage"], "monitor");
    assert_eq!(then.body["state"]["title"], "LH400");
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let latest = api
        .get("auditor", &format!("/v1/incidents/{id}?as_of={now}"))
        .await;
    assert_eq!(latest.body["stream_version"], 2);
    assert_eq!(latest.body["state"]["stage"], "assess");
    let before = api
        .get(
            "auditor",
            &format!("/v1/incidents/{id}?as_of=2001-01-01T00:00:00Z"),
        )
        .await;
    problem(&before, StatusCode::NOT_FOUND, "not_found");
    let garbage = api
        .get("auditor", &format!("/v1/incidents/{id}?as_of=soon"))
        .await;
    assert_eq!(garbage.status, StatusCode::BAD_REQUEST);

    // Complaints too, and an auditor does not see the customer's words.
    let complaint = api.ok("agent", "/v1/complaints", json!({"channel": "email", "passenger": "FF9", "tier": "none",
        "category": "service", "remedy_sought": "apology", "description": "rude staff at gate B4", "incident_id": null})).await;
    let cid = complaint["stream"]
        .as_str()
        .unwrap()
        .strip_prefix("complaint-")
        .unwrap()
        .to_owned();
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let audited = api
        .get("auditor", &format!("/v1/complaints/{cid}?as_of={now}"))
        .await;
    assert_eq!(audited.status, StatusCode::OK, "{}", audited.text);
    assert!(!audited.text.contains("rude staff"), "{}", audited.text);
    let agent = api
        .get("agent", &format!("/v1/complaints/{cid}?as_of={now}"))
        .await;
    assert!(agent.text.contains("rude staff"), "{}", agent.text);
}

/// A survey has one answer, the first: the API refuses a second, and for a log written
/// before that rule (two answers) the `as_of` state and the follow-up summary agree.
#[tokio::test]
async fn a_second_satisfaction_answer_is_refused_and_every_view_keeps_the_first() {
    use crate::store::{Actor, AppendRequest, ExpectedVersion, NewEvent};
    use crate::testing::workload;
    let api = api().await;
    // Scenario 5 stops in follow-up; its first survey (a Diamond passenger's) scored 1.
    let start = crate::projection::testing::start();
    for step in workload::scenario(5, start) {
        let request = AppendRequest::single(step.stream, ExpectedVersion::Any, step.events);
        api.store.append(request).await.unwrap();
    }
    let id = workload::uuid(start, "incident", 5, 0);
    let survey = workload::uuid(start, "survey", 5, 0);
    let refused = api
        .post(
            "agent",
            &format!("/v1/incidents/{id}/record_satisfaction"),
            json!({"survey_id": survey, "score": 5}),
        )
        .await;
    problem(&refused, StatusCode::UNPROCESSABLE_ENTITY, "refused");
    let detail = refused.body["detail"].as_str().unwrap();
    assert!(
        detail.contains(&survey.to_string()) && detail.contains("already answered with score 1"),
        "{detail}"
    );
    let legacy = NewEvent::new(
        "incident.satisfaction_recorded",
        json!({"survey_id": survey, "score": 5}),
        Actor {
            id: "agent-5".into(),
            role: "agent".into(),
        },
        chrono::Utc::now(),
    );
    let stream = crate::domain::incident::stream_name(id);
    let request = AppendRequest::single(stream, ExpectedVersion::Any, vec![legacy]);
    let after = api.store.append(request).await.unwrap().events[0].position;
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let state = api
        .get("auditor", &format!("/v1/incidents/{id}?as_of={now}"))
        .await;
    assert_eq!(state.status, StatusCode::OK, "{}", state.text);
    assert_eq!(
        state.body["state"]["surveys"][survey.to_string()]["score"],
        1
    );
    let summary = api
        .get("auditor", &format!("/v1/follow-ups/summary?after={after}"))
        .await;
    assert_eq!(summary.status, StatusCode::OK, "{}", summary.text);
    assert_eq!(
        summary.body["by_tier"]["diamond"],
        json!({"sent": 1, "answered": 1, "score_sum": 1}),
        "{}",
        summary.text
    );
}

#[tokio::test]
async fn lists_page_with_cursors_and_refuse_unknown_parameters() {
    let api = api().await;
    let mut last = 0;
    for i in 0..5 {
        last = api
            .ok(
                "crisis_lead",
                "/v1/incidents",
                open_body(&format!("incident {i}")),
            )
            .await["position"]
            .as_u64()
            .unwrap();
    }
    let mut seen = Vec::new();
    let mut uri = format!("/v1/incidents?after={last}&limit=2");
    loop {
        let page = api.get("agent", &uri).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        let items = page.body["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(
            items
                .iter()
                .map(|r| r["incident_id"].as_str().unwrap().to_owned()),
        );
        match page.body["next_cursor"].as_str() {
            Some(cursor) => uri = format!("/v1/incidents?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 5, "every incident once across the pages");
    let typo = api.get("agent", "/v1/incidents?min_severty=high").await;
    problem(&typo, StatusCode::BAD_REQUEST, "invalid_query");
    assert_eq!(typo.body["field"], "min_severty");
    let bad_cursor = api.get("agent", "/v1/incidents?cursor=xyz").await;
    problem(&bad_cursor, StatusCode::BAD_REQUEST, "invalid_query");
    let kpis = api.get("agent", "/v1/complaints/kpis?dimension=mood").await;
    problem(&kpis, StatusCode::BAD_REQUEST, "invalid_query");
    assert_eq!(
        api.get("agent", "/v1/complaints/kpis?dimension=tier")
            .await
            .status,
        StatusCode::OK
    );
    // The monitor feed's filters (issue 20): a flight needs its date, and the other way.
    let feed = api
        .get(
            "agent",
            "/v1/monitor/feed?channel=hotline&category=delay&flight=LH400&date=2026-11-22&airport=FRA&since=2026-11-22T00:00:00Z",
        )
        .await;
    assert_eq!(feed.status, StatusCode::OK, "{}", feed.text);
    let half = api.get("agent", "/v1/monitor/feed?flight=LH400").await;
    problem(&half, StatusCode::BAD_REQUEST, "invalid_query");
    assert_eq!(half.body["field"], "date");
    let odd = api
        .get("agent", "/v1/monitor/feed?flight=400&date=2026-11-22")
        .await;
    problem(&odd, StatusCode::BAD_REQUEST, "invalid_query");
}

/// The board's cursor is a place in its order, not an offset: incidents opened between
/// pages (one sorting before the cursor, one after) make no earlier row skip or repeat,
/// and a cursor this API did not write is 400.
#[tokio::test]
async fn board_pages_keep_their_place_while_incidents_open() {
    let api = api().await;
    let open = |title: String, severity: &str| {
        let mut body = open_body(&title);
        body["severity"] = json!(severity);
        body
    };
    let mut last = 0;
    for (i, severity) in ["medium", "high", "medium", "high", "high"]
        .iter()
        .enumerate()
    {
        let reply = api
            .ok(
                "crisis_lead",
                "/v1/incidents",
                open(format!("earlier {i}"), severity),
            )
            .await;
        last = reply["position"].as_u64().unwrap();
    }
    let whole = api
        .get("agent", &format!("/v1/incidents?after={last}"))
        .await;
    let rows = whole.body["items"].as_array().unwrap().clone();
    let rank = |row: &Value| match row["severity"].as_str().unwrap() {
        "high" => 0,
        _ => 1,
    };
    let key = |row: &Value| {
        let entered: chrono::DateTime<chrono::Utc> =
            serde_json::from_value(row["stage_entered_at"].clone()).unwrap();
        (
            rank(row),
            entered,
            row["incident_id"].as_str().unwrap().to_owned(),
        )
    };
    assert!(
        rows.windows(2).all(|w| key(&w[0]) < key(&w[1])),
        "most severe first, then earliest into its stage, then id: {rows:?}"
    );
    let expected: Vec<String> = rows
        .iter()
        .map(|r| r["incident_id"].as_str().unwrap().to_owned())
        .collect();
    for limit in [1, 2] {
        let mut seen = Vec::new();
        let mut uri = format!("/v1/incidents?limit={limit}");
        for turn in 0.. {
            assert!(turn < 20, "the walk ends");
            let page = api.get("agent", &uri).await;
            assert_eq!(page.status, StatusCode::OK, "{}", page.text);
            seen.extend(
                page.body["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r["incident_id"].as_str().unwrap().to_owned()),
            );
            let Some(cursor) = page.body["next_cursor"].as_str() else {
                break;
            };
            uri = format!("/v1/incidents?limit={limit}&cursor={cursor}");
            if turn < 2 {
                for severity in ["critical", "low"] {
                    let title = format!("later {limit} {turn} {severity}");
                    let reply = api
                        .ok("crisis_lead", "/v1/incidents", open(title, severity))
                        .await;
                    let after = reply["position"].as_u64().unwrap();
                    // The board has the new incident before the next page is read.
                    api.get("agent", &format!("/v1/incidents?after={after}&limit=1"))
                        .await;
                }
            }
        }
        let earlier: Vec<String> = seen
            .iter()
            .filter(|id| expected.contains(id))
            .cloned()
            .collect();
        assert_eq!(
            earlier, expected,
            "limit {limit}: every earlier row once, in order"
        );
    }
    for bad in ["0", "xyz", "high.1.2"] {
        let reply = api
            .get("agent", &format!("/v1/incidents?cursor={bad}"))
            .await;
        problem(&reply, StatusCode::BAD_REQUEST, "invalid_query");
        assert_eq!(reply.body["field"], "cursor");
    }
}

/// The knowledge base (issue 21): versioned playbooks and templates per disruption type
/// and language; a revision names the incident whose review changed it; staff search.
#[tokio::test]
async fn the_knowledge_base_is_versioned_searched_and_linked_to_reviews() {
    let api = api().await;
    let lead = "crisis_lead";
    let entry = json!({"kind": "template", "category": "cancellation", "language": "en",
        "title": "Cancellation SMS", "body": "Your flight is cancelled. Rebook in the app."});
    let refused = api.post("agent", "/v1/knowledge", entry.clone()).await;
    assert_eq!(
        refused.status,
        StatusCode::FORBIDDEN,
        "crisis leads keep it"
    );
    let published = api.ok(lead, "/v1/knowledge", entry).await;
    let id = published["stream"].as_str().unwrap()["knowledge-".len()..].to_owned();
    let incident = uuid::Uuid::now_v7();
    let revised = api
        .ok(
            lead,
            &format!("/v1/knowledge/{id}/revise_entry"),
            json!({"title": "Cancellation SMS", "body": "Rebook in the app: your flight is cancelled.",
                "reason": "lead with what to do", "incident_id": incident}),
        )
        .await;
    let after = revised["position"].as_u64().unwrap();
    let view = api
        .get("agent", &format!("/v1/knowledge/{id}?after={after}"))
        .await;
    assert_eq!(view.body["version"], 2, "{}", view.text);
    assert_eq!(
        view.body["revisions"][0]["incident_id"],
        incident.to_string()
    );
    for query in [
        "q=rebook%20APP",
        "category=cancellation&language=en",
        &format!("incident={incident}"),
    ] {
        let found = api.get("agent", &format!("/v1/knowledge?{query}")).await;
        assert_eq!(
            found.body["items"].as_array().map(Vec::len),
            Some(1),
            "{query}: {}",
            found.text
        );
    }
    let long = api
        .get("agent", &format!("/v1/knowledge?q={}", "a".repeat(201)))
        .await;
    problem(&long, StatusCode::BAD_REQUEST, "invalid_query");
    let none = api.get("agent", "/v1/knowledge?q=hotel").await;
    assert_eq!(none.body["items"], json!([]));
    let retired = api
        .ok(
            lead,
            &format!("/v1/knowledge/{id}/retire_entry"),
            json!({"reason": "replaced by the app notice"}),
        )
        .await;
    let after = retired["position"].as_u64().unwrap();
    let hidden = api
        .get("agent", &format!("/v1/knowledge?q=rebook&after={after}"))
        .await;
    assert_eq!(
        hidden.body["items"],
        json!([]),
        "retired entries leave searches"
    );
    let kept = api
        .get("agent", "/v1/knowledge?q=rebook&retired=true")
        .await;
    assert_eq!(kept.body["items"].as_array().map(Vec::len), Some(1));

    // A communication plan starts from a template in use, at its current version.
    let template = api
        .ok(
            lead,
            "/v1/knowledge",
            json!({"kind": "template", "category": "delay", "language": "de",
                "title": "Verspätung", "body": "Ihr Flug ist verspätet."}),
        )
        .await;
    let template_id = template["stream"].as_str().unwrap()["knowledge-".len()..].to_owned();
    let opened = api.ok(lead, "/v1/incidents", open_body("LH400")).await;
    let incident_id = incident_id(&opened);
    let at = |command: &str| format!("/v1/incidents/{incident_id}/{command}");
    api.ok(lead, &at("start_assessment"), json!({})).await;
    api.ok(lead, &at("assess_impact"), json!({"impact": {"passengers": {"diamond": 0, "platinum": 0, "gold": 0, "silver": 0, "none": 5},
        "operations": "low", "operations_note": "", "reputation": "low", "reputation_note": ""}})).await;
    api.ok(lead, &at("start_planning"), json!({})).await;
    let plan = |entry: &str, version: u32| {
        json!({"plan": {"content": "Ihr Flug ist verspätet.", "channels": ["sms"]},
            "template": {"entry_id": entry, "version": version}})
    };
    let stale = api
        .post(lead, &at("draft_communication_plan"), plan(&template_id, 2))
        .await;
    problem(&stale, StatusCode::UNPROCESSABLE_ENTITY, "unknown_template");
    let retired_one = api
        .post(lead, &at("draft_communication_plan"), plan(&id, 2))
        .await;
    problem(
        &retired_one,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown_template",
    );
    let drafted = api
        .ok(lead, &at("draft_communication_plan"), plan(&template_id, 1))
        .await;
    let timeline = api
        .get(
            "auditor",
            &format!(
                "/v1/incidents/{incident_id}/timeline?after={}",
                drafted["position"]
            ),
        )
        .await;
    let last = timeline.body["items"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(
        last["data"]["template"]["entry_id"],
        template_id.as_str(),
        "{last}"
    );
}
