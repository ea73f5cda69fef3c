//! Command bodies, idempotency keys and If-Match.

use super::*;

#[tokio::test]
async fn bad_commands_name_what_to_fix() {
    let api = api().await;
    let id = uuid::Uuid::now_v7();
    let unknown = api
        .post(
            "crisis_lead",
            &format!("/v1/incidents/{id}/launch_rockets"),
            json!({}),
        )
        .await;
    problem(&unknown, StatusCode::NOT_FOUND, "not_found");
    assert!(
        unknown.body["detail"]
            .as_str()
            .unwrap()
            .contains("start_assessment")
    );
    let not_uuid = api
        .post(
            "crisis_lead",
            "/v1/incidents/abc/start_assessment",
            json!({}),
        )
        .await;
    problem(&not_uuid, StatusCode::NOT_FOUND, "not_found");
    let open = format!("/v1/incidents/{id}/open_incident");
    let missing = api
        .post(
            "crisis_lead",
            &open,
            json!({"title": "t", "category": "delay"}),
        )
        .await;
    problem(&missing, StatusCode::BAD_REQUEST, "invalid_body");
    assert!(
        missing.body["detail"]
            .as_str()
            .unwrap()
            .contains("severity"),
        "{}",
        missing.text
    );
    let wrong = api.post("crisis_lead", &open, json!({"title": "t", "category": "volcano", "severity": "high", "flight": null, "correlation_key": null, "signal_ids": []})).await;
    problem(&wrong, StatusCode::BAD_REQUEST, "invalid_body");
    assert_eq!(wrong.body["field"], "/category");
    let extra = api.post("crisis_lead", &open, json!({"title": "t", "category": "delay", "severity": "high", "flight": null, "correlation_key": null, "signal_ids": [], "actor": "mallory"})).await;
    problem(&extra, StatusCode::BAD_REQUEST, "invalid_body");
    let not_json = api
        .call(Some("crisis_lead"), Method::POST, &open, &[], None)
        .await;
    problem(&not_json, StatusCode::BAD_REQUEST, "invalid_body");
    let request = Request::builder()
        .method(Method::POST)
        .uri(&open)
        .header(
            "authorization",
            format!("Bearer {}", api.tokens["crisis_lead"]),
        )
        .body(Body::from("{not json"))
        .unwrap();
    let response = api.router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let refused = api
        .post(
            "crisis_lead",
            &format!("/v1/incidents/{id}/start_planning"),
            json!({}),
        )
        .await;
    problem(&refused, StatusCode::UNPROCESSABLE_ENTITY, "refused");
    let huge =
        json!({"title": "x".repeat(BODY_BYTES_MAX), "category": "delay", "severity": "high"});
    let too_big = api.post("crisis_lead", &open, huge).await;
    assert_eq!(
        too_big.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{}",
        too_big.text
    );
}

/// Passenger references in bodies follow the same rules as in paths and messages: a
/// NUL byte or markup is a 400 naming the field, never a stored id.
#[tokio::test]
async fn passenger_references_in_bodies_are_validated() {
    let api = api().await;
    for bad in [
        "FF1\u{0}",
        "<script>alert(1)</script>",
        "",
        "a@b.example",
        &"9".repeat(65),
    ] {
        let reply = api.post("agent", "/v1/complaints", json!({"channel": "email", "passenger": bad, "tier": "gold",
            "category": "delay", "remedy_sought": "apology", "description": "late", "incident_id": null})).await;
        problem(&reply, StatusCode::BAD_REQUEST, "invalid_body");
        assert_eq!(reply.body["field"], "/passenger", "{bad:?}: {}", reply.text);
    }
    let metrics = api.get("admin", "/metrics").await;
    assert!(
        metrics.text.contains("crisisd_store_head_position 0\n"),
        "nothing stored"
    );
    let good = api.post("agent", "/v1/complaints", json!({"channel": "email", "passenger": "FF-12.3_x", "tier": "gold",
        "category": "delay", "remedy_sought": "apology", "description": "late", "incident_id": null})).await;
    assert_eq!(good.status, StatusCode::OK, "{}", good.text);
}

/// An `Idempotency-Key` is scoped to its caller and route and bound to its request:
/// another caller's same key is their own command; the same caller's key with another
/// body is 422, never the first result with the second command silently dropped.
#[tokio::test]
async fn idempotency_keys_belong_to_their_caller_and_request() {
    let api = api().await;
    let keyed = |role: &'static str, uri: &str, body: Value| {
        let uri = uri.to_owned();
        let api = &api;
        async move {
            api.call(
                Some(role),
                Method::POST,
                &uri,
                &[("idempotency-key", "k-1")],
                Some(body),
            )
            .await
        }
    };
    let complaint = |words: &str| {
        json!({"channel": "email", "passenger": "FF1", "tier": "gold",
        "category": "delay", "remedy_sought": "apology", "description": words, "incident_id": null})
    };
    let mine = keyed("agent", "/v1/complaints", complaint("late")).await;
    assert_eq!(mine.status, StatusCode::OK, "{}", mine.text);
    let theirs = keyed("crisis_lead", "/v1/complaints", complaint("lost bag")).await;
    assert_eq!(theirs.status, StatusCode::OK, "{}", theirs.text);
    assert_ne!(
        theirs.body["stream"], mine.body["stream"],
        "another caller's key is another complaint"
    );
    assert_eq!(theirs.body["duplicate"], false);
    let reused = keyed("agent", "/v1/complaints", complaint("lost bag")).await;
    problem(
        &reused,
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_reused",
    );
    assert_eq!(reused.body["field"], "Idempotency-Key");
    let retry = keyed("agent", "/v1/complaints", complaint("late")).await;
    assert_eq!(
        (retry.body["duplicate"].as_bool(), &retry.body["position"]),
        (Some(true), &mine.body["position"])
    );

    // On an existing stream: the same key by two callers is two commands; a second
    // body under one caller's key is refused, and its events are not stored.
    let stream = mine.body["stream"].as_str().unwrap();
    let uri = format!(
        "/v1/complaints/{}/send_progress_update",
        stream.strip_prefix("complaint-").unwrap()
    );
    let id = stream.strip_prefix("complaint-").unwrap();
    api.ok(
        "agent",
        &format!("/v1/complaints/{id}/acknowledge_complaint"),
        json!({"apology": "sorry"}),
    )
    .await;
    let acked = api
        .ok(
            "agent",
            &format!("/v1/complaints/{id}/route_complaint"),
            json!({"departments": ["baggage"]}),
        )
        .await;
    let first = keyed("agent", &uri, json!({"message": "we are on it"})).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    let other = keyed("crisis_lead", &uri, json!({"message": "the bag is found"})).await;
    assert_eq!(
        (other.status, other.body["duplicate"].as_bool()),
        (StatusCode::OK, Some(false)),
        "{}",
        other.text
    );
    let reused = keyed("agent", &uri, json!({"message": "something else"})).await;
    problem(
        &reused,
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_reused",
    );
    let same = keyed("agent", &uri, json!({"message": "we are on it"})).await;
    assert_eq!(same.body["duplicate"], true, "{}", same.text);
    assert_eq!(same.body["position"], first.body["position"]);
    let version = other.body["stream_version"].as_u64().unwrap();
    assert_eq!(
        version,
        acked["stream_version"].as_u64().unwrap() + 2,
        "two updates, not three"
    );
}

#[tokio::test]
async fn if_match_and_idempotency_keys_protect_concurrent_and_retried_commands() {
    let api = api().await;
    let opened = api
        .ok("crisis_lead", "/v1/incidents", open_body("LH400 delayed"))
        .await;
    let stream = opened["stream"].as_str().unwrap().to_owned();
    let id = stream.strip_prefix("incident-").unwrap().to_owned();
    assert_eq!(opened["stream_version"], 1);
    let uri = format!("/v1/incidents/{id}/start_assessment");
    let stale = api
        .call(
            Some("crisis_lead"),
            Method::POST,
            &uri,
            &[("if-match", "\"7\"")],
            Some(json!({})),
        )
        .await;
    problem(&stale, StatusCode::PRECONDITION_FAILED, "version_mismatch");
    let bad = api
        .call(
            Some("crisis_lead"),
            Method::POST,
            &uri,
            &[("if-match", "soon")],
            Some(json!({})),
        )
        .await;
    problem(&bad, StatusCode::BAD_REQUEST, "invalid_header");
    let headers = [("if-match", "\"1\""), ("idempotency-key", "assess-1")];
    let first = api
        .call(
            Some("crisis_lead"),
            Method::POST,
            &uri,
            &headers,
            Some(json!({})),
        )
        .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    assert_eq!(first.headers["etag"], "\"2\"");
    let retry = api
        .call(
            Some("crisis_lead"),
            Method::POST,
            &uri,
            &[("idempotency-key", "assess-1")],
            Some(json!({})),
        )
        .await;
    assert_eq!(retry.status, StatusCode::OK, "{}", retry.text);
    assert_eq!(retry.body["duplicate"], true);
    assert_eq!(retry.body["position"], first.body["position"]);
    // A create retried with the same key names the same incident, once.
    let key = [("idempotency-key", "open-7")];
    let a = api
        .call(
            Some("crisis_lead"),
            Method::POST,
            "/v1/incidents",
            &key,
            Some(open_body("x")),
        )
        .await;
    let b = api
        .call(
            Some("crisis_lead"),
            Method::POST,
            "/v1/incidents",
            &key,
            Some(open_body("x")),
        )
        .await;
    assert_eq!(a.body["stream"], b.body["stream"]);
    assert_eq!(b.body["duplicate"], true);
}

/// Observability (issue 22): a request's correlation id — the caller's, or a new one —
/// comes back on the answer and is recorded on the events it caused; /metrics has the
/// request's latency under its route template (never its path) and the store's append
/// and commit latency and batch sizes.
#[tokio::test]
async fn a_request_carries_its_correlation_id_to_its_events_and_is_measured_per_route() {
    let api = api().await;
    let mine = uuid::Uuid::now_v7().to_string();
    let body = json!({"channel": "email", "passenger": "FF-C1", "tier": "gold",
        "category": "delay", "remedy_sought": "apology", "description": "late", "incident_id": null});
    let reply = api
        .call(
            Some("agent"),
            Method::POST,
            "/v1/complaints",
            &[("x-correlation-id", &mine)],
            Some(body.clone()),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.headers["x-correlation-id"], mine.as_str());
    let id = reply.body["stream"].as_str().unwrap()["complaint-".len()..].to_owned();
    let timeline = api
        .get(
            "auditor",
            &format!(
                "/v1/complaints/{id}/timeline?after={}",
                reply.body["position"]
            ),
        )
        .await;
    assert_eq!(
        timeline.body["items"][0]["correlation_id"],
        mine.as_str(),
        "{}",
        timeline.text
    );
    // Not a UUID: a new one, answered.
    let other = api
        .call(
            Some("agent"),
            Method::GET,
            "/v1/complaints",
            &[("x-correlation-id", "not-a-uuid")],
            None,
        )
        .await;
    let answered = other.headers["x-correlation-id"].to_str().unwrap();
    assert!(answered.parse::<uuid::Uuid>().is_ok(), "{answered}");
    let metrics = api.get("admin", "/metrics").await;
    for line in [
        "crisisd_http_request_seconds_count{method=\"POST\",route=\"/v1/complaints\"}",
        "crisisd_http_request_seconds_bucket{method=\"GET\",route=\"/v1/complaints/{id}/timeline\",le=\"+Inf\"}",
        "crisisd_store_append_seconds_count ",
        "crisisd_store_commit_seconds_count ",
        "crisisd_store_batch_events_bucket{le=\"1\"}",
        "crisisd_sse_clients ",
        "crisisd_sla_breaches_total ",
    ] {
        assert!(metrics.text.contains(line), "{line} in:\n{}", metrics.text);
    }
    assert!(!metrics.text.contains(&id), "no ids in metrics");
}
