//! Server-Sent Events: resuming, slow clients, filters.

use super::*;

async fn sse_events(
    body: &mut Body,
    count: usize,
) -> Vec<(Option<String>, Option<String>, String)> {
    let mut buffer = String::new();
    let mut events = Vec::new();
    while events.len() < count {
        let frame = tokio::time::timeout(std::time::Duration::from_secs(60), body.frame())
            .await
            .expect("an SSE event within 10 s")
            .expect("the stream stays open")
            .unwrap();
        let Ok(data) = frame.into_data() else {
            continue;
        };
        buffer.push_str(std::str::from_utf8(&data).unwrap());
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let (mut id, mut name, mut data) = (None, None, String::new());
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("id: ") {
                    id = Some(v.to_owned())
                }
                if let Some(v) = line.strip_prefix("event: ") {
                    name = Some(v.to_owned())
                }
                if let Some(v) = line.strip_prefix("data: ") {
                    data.push_str(v)
                }
            }
            if id.is_some() || name.is_some() {
                events.push((id, name, data));
            }
        }
    }
    events
}

#[tokio::test]
async fn sse_resumes_from_last_event_id_with_no_gap_and_no_duplicate() {
    let api = api().await;
    for i in 0..5 {
        api.ok(
            "crisis_lead",
            "/v1/incidents",
            open_body(&format!("incident {i}")),
        )
        .await;
    }
    let request = api.request(
        Some("agent"),
        Method::GET,
        "/v1/stream?from=1&type=incident.",
        &[],
        None,
    );
    let response = api.router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut body = response.into_body();
    let first = sse_events(&mut body, 3).await;
    let ids: Vec<u64> = first
        .iter()
        .map(|(id, _, _)| id.as_ref().unwrap().parse().unwrap())
        .collect();
    assert_eq!(ids, [1, 2, 3]);
    let envelope: Value = serde_json::from_str(&first[0].2).unwrap();
    assert_eq!(envelope["type"], "incident.opened");
    drop(body);
    // More commits while disconnected, then resume after the last id seen.
    for i in 5..8 {
        api.ok(
            "crisis_lead",
            "/v1/incidents",
            open_body(&format!("incident {i}")),
        )
        .await;
    }
    let request = api.request(
        Some("agent"),
        Method::GET,
        "/v1/stream",
        &[("last-event-id", "3")],
        None,
    );
    let mut body = api
        .router
        .clone()
        .oneshot(request)
        .await
        .unwrap()
        .into_body();
    let rest = sse_events(&mut body, 5).await;
    let ids: Vec<u64> = rest
        .iter()
        .map(|(id, _, _)| id.as_ref().unwrap().parse().unwrap())
        .collect();
    assert_eq!(ids, [4, 5, 6, 7, 8]);
    // Live: an event committed now arrives on the open stream.
    api.ok("crisis_lead", "/v1/incidents", open_body("live"))
        .await;
    let live = sse_events(&mut body, 1).await;
    assert_eq!(live[0].0.as_deref(), Some("9"));
    let bad = api
        .call(
            Some("agent"),
            Method::GET,
            "/v1/stream",
            &[("last-event-id", "x")],
            None,
        )
        .await;
    problem(&bad, StatusCode::BAD_REQUEST, "invalid_header");
    // A position this log never reached: another log, or a restored older backup.
    let ahead = api
        .call(
            Some("agent"),
            Method::GET,
            "/v1/stream",
            &[("last-event-id", "10")],
            None,
        )
        .await;
    problem(&ahead, StatusCode::BAD_REQUEST, "beyond_head");
    assert!(
        ahead.text.contains("past the head of the log (9)"),
        "{}",
        ahead.text
    );
    problem(
        &api.get("flight_ops", "/v1/stream").await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
}

fn positions(events: &[(Option<String>, Option<String>, String)]) -> Vec<u64> {
    events
        .iter()
        .filter_map(|(id, _, _)| id.as_ref()?.parse().ok())
        .collect()
}

#[tokio::test]
async fn a_slow_sse_client_is_dropped_with_where_to_resume_and_loses_nothing() {
    let limits = stream::StreamLimits {
        queue_events: 4,
        slow_client_timeout: std::time::Duration::from_millis(200),
        ..Default::default()
    };
    let api = api_with(limits).await;
    for i in 0..12 {
        api.ok(
            "crisis_lead",
            "/v1/incidents",
            open_body(&format!("incident {i}")),
        )
        .await;
    }
    let request = api.request(Some("agent"), Method::GET, "/v1/stream?from=1", &[], None);
    let mut body = api
        .router
        .clone()
        .oneshot(request)
        .await
        .unwrap()
        .into_body();
    // Read nothing for a while: the queue fills and the client is dropped (waiting
    // well over the 200 ms timeout: the test runtime's one thread is shared).
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let got = sse_events(&mut body, 5).await;
    assert_eq!(positions(&got), [1, 2, 3, 4], "the queued events first");
    assert_eq!(got[4].1.as_deref(), Some("dropped"));
    let dropped: Value = serde_json::from_str(&got[4].2).unwrap();
    assert_eq!(dropped["resume_from"], 5, "{dropped}");
    assert!(
        body.frame().await.is_none(),
        "the stream ends after the dropped event"
    );
    // Resuming where it says gives the rest.
    let request = api.request(Some("agent"), Method::GET, "/v1/stream?from=5", &[], None);
    let mut body = api
        .router
        .clone()
        .oneshot(request)
        .await
        .unwrap()
        .into_body();
    assert_eq!(
        positions(&sse_events(&mut body, 8).await),
        (5..=12).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn an_sse_client_resuming_during_load_sees_every_event_exactly_once() {
    let api = std::sync::Arc::new(api().await);
    const EVENTS: u64 = 150;
    let writer = {
        let api = api.clone();
        tokio::spawn(async move {
            for i in 0..EVENTS {
                api.ok(
                    "crisis_lead",
                    "/v1/incidents",
                    open_body(&format!("incident {i}")),
                )
                .await;
            }
        })
    };
    let mut seen = Vec::new();
    let mut last: Option<u64> = None;
    while (seen.len() as u64) < EVENTS {
        let headers: Vec<(&str, String)> = last
            .map(|l| ("last-event-id", l.to_string()))
            .into_iter()
            .collect();
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let uri = if last.is_none() {
            "/v1/stream?from=1"
        } else {
            "/v1/stream"
        };
        let request = api.request(Some("auditor"), Method::GET, uri, &headers, None);
        let mut body = api
            .router
            .clone()
            .oneshot(request)
            .await
            .unwrap()
            .into_body();
        // Read a few, then hang up in the middle of the load.
        let take = 17.min(EVENTS as usize - seen.len());
        let got = positions(&sse_events(&mut body, take).await);
        last = got.last().copied().or(last);
        seen.extend(got);
        drop(body);
    }
    writer.await.unwrap();
    assert_eq!(
        seen,
        (1..=EVENTS).collect::<Vec<_>>(),
        "no gap, no duplicate, in order"
    );
}

#[tokio::test]
async fn sse_filters_by_incident_aggregate_and_type() {
    let api = api().await;
    let opened = api
        .ok("crisis_lead", "/v1/incidents", open_body("LH400"))
        .await;
    let id = incident_id(&opened);
    api.ok("crisis_lead", "/v1/incidents", open_body("another"))
        .await;
    api.ok(
        "agent",
        "/v1/complaints",
        json!({"channel": "email", "passenger": "FF5", "tier": "none",
        "category": "delay", "remedy_sought": "apology", "description": "late", "incident_id": id}),
    )
    .await;
    api.ok("agent", "/v1/complaints", json!({"channel": "email", "passenger": "FF6", "tier": "none",
        "category": "delay", "remedy_sought": "apology", "description": "late", "incident_id": null})).await;
    let read = |uri: String, count: usize| {
        let api = &api;
        async move {
            let request = api.request(Some("agent"), Method::GET, &uri, &[], None);
            let mut body = api
                .router
                .clone()
                .oneshot(request)
                .await
                .unwrap()
                .into_body();
            let events = sse_events(&mut body, count).await;
            events
                .iter()
                .map(|(_, _, data)| serde_json::from_str::<Value>(data).unwrap())
                .collect::<Vec<_>>()
        }
    };
    let linked = read(format!("/v1/stream?from=1&incident={id}"), 2).await;
    assert_eq!(linked[0]["type"], "incident.opened");
    assert_eq!(
        linked[1]["type"], "complaint.received",
        "the complaint naming the incident"
    );
    let complaints = read("/v1/stream?from=1&aggregate=complaint".into(), 2).await;
    assert!(
        complaints
            .iter()
            .all(|e| e["stream"].as_str().unwrap().starts_with("complaint-"))
    );
    let opened = read("/v1/stream?from=1&type=incident.opened".into(), 2).await;
    assert!(opened.iter().all(|e| e["type"] == "incident.opened"));
    let unknown = api.get("agent", "/v1/stream?colour=red").await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
}
