//! The API driven in-process (the real router, store and projectors; no mocks).

use std::collections::{BTreeMap, HashMap};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tokio::sync::watch;
use tower::ServiceExt;

use super::auth::{TokenEntry, Tokens, hash_token, new_token};
use super::*;
use crate::domain::common::Role;
use crate::projection::Projector;
use crate::store::{SledStore, StoreConfig};

struct Api {
    router: Router,
    /// The store behind the router, for tests that need a log no command can write.
    store: SledStore,
    journal: crate::app::Journal,
    tokens: HashMap<&'static str, String>,
    _shutdown: watch::Sender<bool>,
    _dir: tempfile::TempDir,
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
    text: String,
}

const ROLES: [(&str, Role); 5] = [
    ("flight_ops", Role::FlightOps),
    ("agent", Role::Agent),
    ("crisis_lead", Role::CrisisLead),
    ("auditor", Role::Auditor),
    ("admin", Role::Admin),
];

async fn api() -> Api {
    api_with(stream::StreamLimits::default()).await
}

async fn api_with(limits: stream::StreamLimits) -> Api {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(StoreConfig::new(dir.path().join("data"))).unwrap();
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let mut tokens = HashMap::new();
    let mut entries = Vec::new();
    for (name, role) in ROLES {
        let token = new_token();
        entries.push(TokenEntry {
            hash: hash_token(&token),
            actor: format!("{name}-1"),
            role,
            personal_data: false,
        });
        tokens.insert(name, token);
    }
    let mut statuses = BTreeMap::new();
    for projection in crate::projection::all(&Default::default()) {
        let name = projection.name();
        let projector = Projector::new(store.clone(), projection).unwrap();
        statuses.insert(name, projector.status());
        tokio::spawn(projector.run(shutdown_rx.clone()));
    }
    let journal = crate::app::Journal::ephemeral(store.clone());
    let state = AppState::new(
        journal.clone(),
        Tokens::from_entries(entries),
        statuses,
        shutdown_rx,
    )
    .with_stream_limits(limits);
    Api {
        router: router(state),
        store,
        journal,
        tokens,
        _shutdown: shutdown_tx,
        _dir: dir,
    }
}

impl Api {
    fn request(
        &self,
        role: Option<&str>,
        method: Method,
        uri: &str,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> Request<Body> {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(role) = role {
            request = request.header("authorization", format!("Bearer {}", self.tokens[role]));
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let body = body.map_or(Body::empty(), |b| Body::from(b.to_string()));
        request.body(body).unwrap()
    }

    async fn call(
        &self,
        role: Option<&str>,
        method: Method,
        uri: &str,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> Reply {
        let request = self.request(role, method, uri, headers, body);
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
            text,
        }
    }

    async fn post(&self, role: &str, uri: &str, body: Value) -> Reply {
        let json = [("content-type", "application/json")];
        self.call(Some(role), Method::POST, uri, &json, Some(body))
            .await
    }

    async fn get(&self, role: &str, uri: &str) -> Reply {
        self.call(Some(role), Method::GET, uri, &[], None).await
    }

    /// Posts a command that must succeed; returns its result.
    async fn ok(&self, role: &str, uri: &str, body: Value) -> Value {
        let reply = self.post(role, uri, body).await;
        assert_eq!(reply.status, StatusCode::OK, "{uri}: {}", reply.text);
        reply.body
    }
}

#[track_caller]
fn problem(reply: &Reply, status: StatusCode, code: &str) {
    assert_eq!(
        reply.status,
        status,
        "{} {}",
        reply.text,
        std::panic::Location::caller()
    );
    assert_eq!(reply.headers["content-type"], "application/problem+json");
    assert_eq!(reply.body["code"], code, "{}", reply.text);
}

#[tokio::test]
async fn a_request_without_a_valid_token_is_401_and_the_wrong_role_403() {
    let api = api().await;
    let uri = "/v1/incidents";
    let body = json!({"title": "t", "category": "delay", "severity": "high", "flight": null, "correlation_key": null, "signal_ids": []});
    let reply = api
        .call(None, Method::POST, uri, &[], Some(body.clone()))
        .await;
    problem(&reply, StatusCode::UNAUTHORIZED, "unauthorized");
    assert!(reply.headers.contains_key("www-authenticate"));
    let forged = api
        .call(
            None,
            Method::GET,
            uri,
            &[("authorization", "Bearer crisisd_forged")],
            None,
        )
        .await;
    problem(&forged, StatusCode::UNAUTHORIZED, "unauthorized");
    for role in ["agent", "auditor", "flight_ops"] {
        problem(
            &api.post(role, uri, body.clone()).await,
            StatusCode::FORBIDDEN,
            "forbidden",
        );
    }
    problem(
        &api.get("flight_ops", uri).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    assert_eq!(
        api.post("crisis_lead", uri, body.clone()).await.status,
        StatusCode::OK
    );
    assert_eq!(api.post("admin", uri, body).await.status, StatusCode::OK);
}

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

fn open_body(title: &str) -> Value {
    json!({"title": title, "category": "delay", "severity": "high", "flight": null, "correlation_key": null, "signal_ids": []})
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
    api.ok(
        lead,
        &at("record_lesson"),
        json!({"lesson": "notify sooner"}),
    )
    .await;
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
    let types: Vec<&str> = timeline
        .body
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
    let actors: Vec<&str> = timeline
        .body
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

/// Reads SSE frames from `body` until `count` events (not comments) arrived.
/// The incident id of a command answer (`"stream": "incident-<id>"`).
fn incident_id(answer: &Value) -> String {
    answer["stream"]
        .as_str()
        .and_then(|s| s.strip_prefix("incident-"))
        .expect("an incident stream")
        .to_owned()
}

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
    problem(
        &api.get("flight_ops", "/v1/stream").await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
}

#[tokio::test]
async fn every_command_in_the_role_tables_is_a_command_of_its_aggregate() {
    use super::commands::CommandTarget;
    fn check<A: CommandTarget>() {
        let schema = serde_json::to_value(schemars::schema_for!(A::Command)).unwrap();
        let text = schema.to_string();
        let mut variants: Vec<String> = schema["oneOf"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| {
                v["properties"]["command"]["const"]
                    .as_str()
                    .map(str::to_owned)
                    .or_else(|| {
                        v["properties"]["command"]["enum"][0]
                            .as_str()
                            .map(str::to_owned)
                    })
                    .unwrap_or_else(|| panic!("variant without a tag in {text}"))
            })
            .collect();
        variants.sort();
        // Commands with a route of their own (erasure also destroys a key).
        variants.retain(|v| v != "erase_passenger");
        let mut table: Vec<String> = A::COMMANDS.iter().map(|(n, _)| (*n).to_owned()).collect();
        table.sort();
        assert_eq!(
            table,
            variants,
            "{}: the role table must list every command",
            A::COLLECTION
        );
    }
    check::<crate::domain::incident::Incident>();
    check::<crate::domain::complaint::Complaint>();
    check::<crate::domain::compensation::Compensation>();
    check::<crate::domain::passenger::Passenger>();
}

/// A feedback message about yesterday's LH400, received a minute ago (ingest refuses
/// implausible times, so tests that go through it use times relative to now).
fn feedback_message(source: &str) -> Value {
    let now = chrono::Utc::now();
    let yesterday = (now - chrono::Duration::days(1)).date_naive();
    let received_at =
        (now - chrono::Duration::minutes(1)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    json!({"v": 1, "source_message_id": source, "channel": "email", "text": "my bag never arrived",
        "passenger_ref": "FF3003", "flight": {"carrier": "LH", "flight_number": "400", "origin_date": yesterday.to_string()},
        "category_hint": "baggage_lost", "received_at": received_at})
}

/// Ingest reads JSON only when the request says it is JSON (parameters such as charset
/// allowed); anything else is 415 and nothing is stored.
#[tokio::test]
async fn http_ingest_refuses_a_body_not_declared_json() {
    let api = api().await;
    let message = feedback_message("fb-media");
    let undeclared: [&[(&str, &str)]; 4] = [
        &[],
        &[("content-type", "text/plain")],
        &[("content-type", "application/x-www-form-urlencoded")],
        &[("content-type", "application/jsonl")],
    ];
    for headers in undeclared {
        let reply = api
            .call(
                Some("flight_ops"),
                Method::POST,
                "/v1/ingest/feedback",
                headers,
                Some(message.clone()),
            )
            .await;
        problem(
            &reply,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        );
    }
    assert_eq!(
        crate::store::EventStore::head(&api.store).position,
        0,
        "nothing stored"
    );
    for content_type in ["application/json", "Application/JSON; charset=utf-8"] {
        let reply = api
            .call(
                Some("flight_ops"),
                Method::POST,
                "/v1/ingest/feedback",
                &[("content-type", content_type)],
                Some(message.clone()),
            )
            .await;
        assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text);
    }
}

#[tokio::test]
async fn http_ingest_stores_valid_messages_once_and_rejects_bad_ones_with_the_field() {
    let api = api().await;
    let message = feedback_message("fb-1");
    let stored = api
        .post("flight_ops", "/v1/ingest/feedback", message.clone())
        .await;
    assert_eq!(stored.status, StatusCode::ACCEPTED, "{}", stored.text);
    let again = api
        .post("flight_ops", "/v1/ingest/feedback", message.clone())
        .await;
    assert_eq!(
        again.status,
        StatusCode::ACCEPTED,
        "a retry is accepted and changes nothing"
    );
    let events = api.get("admin", "/v1/audit/events").await;
    let lines: Vec<Value> = events
        .text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let signals = lines
        .iter()
        .filter(|e| e["type"] == "signal.recorded")
        .count();
    assert_eq!(signals, 1, "{}", events.text);
    assert_eq!(
        lines[0]["actor"]["id"], "flight_ops-1",
        "the actor comes from the token"
    );

    let mut bad = message.clone();
    bad["received_at"] = json!("yesterday");
    bad["source_message_id"] = json!("fb-2");
    let rejected = api.post("flight_ops", "/v1/ingest/feedback", bad).await;
    assert_eq!(
        rejected.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        rejected.text
    );
    assert_eq!(rejected.body["field"], "/received_at", "{}", rejected.text);
    let mut version = message.clone();
    version["v"] = json!(9);
    let rejected = api.post("flight_ops", "/v1/ingest/feedback", version).await;
    problem(
        &rejected,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unsupported_version",
    );
    problem(
        &api.post("flight_ops", "/v1/ingest/weather", json!({}))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    problem(
        &api.post("agent", "/v1/ingest/feedback", message).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
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
    use crate::store::{Actor, AppendRequest, EventStore, ExpectedVersion, NewEvent};
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

/// Every GET route: 401 without a token, 403 for a role it does not serve, and an
/// answer (not a server error) for a role it serves.
#[tokio::test]
async fn every_query_route_checks_token_and_role() {
    let api = api().await;
    let opened = api.ok("crisis_lead", "/v1/incidents", open_body("x")).await;
    let id = incident_id(&opened);
    let routes = [
        "/v1/incidents".to_owned(),
        format!("/v1/incidents/{id}"),
        format!("/v1/incidents/{id}/timeline"),
        format!("/v1/incidents/{id}/impact"),
        format!("/v1/incidents/{id}/plans"),
        format!("/v1/incidents/{id}/execution"),
        format!("/v1/incidents/{id}/follow-up"),
        "/v1/plans/awaiting-approval".to_owned(),
        "/v1/people/loads".to_owned(),
        "/v1/follow-ups".to_owned(),
        "/v1/follow-ups/summary".to_owned(),
        "/v1/reviews".to_owned(),
        "/v1/complaints/kpis?dimension=agent".to_owned(),
        format!("/v1/complaints/{id}"),
        format!("/v1/complaints/{id}/timeline"),
        "/v1/passengers/FF1".to_owned(),
        format!("/v1/compensations/{id}"),
        "/v1/compensations/overdue".to_owned(),
        "/v1/monitor/feed".to_owned(),
        "/v1/monitor/counts?window=1h".to_owned(),
        "/v1/monitor/spikes".to_owned(),
        "/v1/projections".to_owned(),
        "/v1/audit/verify".to_owned(),
        "/v1/audit/events".to_owned(),
    ];
    for route in &routes {
        let anonymous = api.call(None, Method::GET, route, &[], None).await;
        assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED, "{route}");
        problem(&anonymous, StatusCode::UNAUTHORIZED, "unauthorized");
        let wrong = api.get("flight_ops", route).await;
        problem(&wrong, StatusCode::FORBIDDEN, "forbidden");
        let uri = match route.starts_with("/v1/audit") {
            true => route.clone(),
            false => format!(
                "{route}{}after={}",
                if route.contains('?') { "&" } else { "?" },
                opened["position"]
            ),
        };
        let answer = api.get("crisis_lead", &uri).await;
        assert!(
            answer.status == StatusCode::OK || answer.status == StatusCode::NOT_FOUND,
            "{route}: {} {}",
            answer.status,
            answer.text
        );
    }
}

/// Every `$ref` in `value` points into `components/schemas` of `document`.
fn refs_resolve(document: &Value, value: &Value, broken: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                let target = r.strip_prefix('#').and_then(|p| document.pointer(p));
                if target.is_none() {
                    broken.push(r.clone());
                }
            }
            map.values().for_each(|v| refs_resolve(document, v, broken));
        }
        Value::Array(items) => items.iter().for_each(|v| refs_resolve(document, v, broken)),
        _ => {}
    }
}

#[tokio::test]
async fn the_openapi_document_is_valid_and_every_route_in_it_is_served() {
    let api = api().await;
    let reply = api
        .call(None, Method::GET, "/openapi.json", &[], None)
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let document = reply.body;
    assert_eq!(document["openapi"], "3.1.0");
    let mut broken = Vec::new();
    refs_resolve(&document, &document, &mut broken);
    assert!(broken.is_empty(), "unresolved $refs: {broken:?}");
    let paths = document["paths"].as_object().unwrap();
    let mut operation_ids = std::collections::HashSet::new();
    let mut walked = 0;
    for (path, item) in paths {
        for (method, operation) in item.as_object().unwrap() {
            assert!(
                operation_ids.insert(operation["operationId"].as_str().unwrap().to_owned()),
                "{path}: duplicate operationId"
            );
            let responses = operation["responses"].as_object().unwrap();
            assert!(
                responses.keys().any(|status| status.starts_with('2')),
                "{method} {path} declares its success"
            );
            // Every path parameter is declared, with a schema (schemathesis refuses
            // a document that leaves one out).
            for segment in path.split('/') {
                if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    let declared =
                        operation["parameters"].as_array().unwrap().iter().any(|p| {
                            p["in"] == "path" && p["name"] == name && p["schema"].is_object()
                        });
                    assert!(declared, "{method} {path}: {{{name}}} is not declared");
                }
            }
            if path.starts_with("/v1/") {
                assert!(
                    operation["security"].is_array(),
                    "{method} {path} declares its roles"
                );
                assert!(
                    operation["x-roles"]
                        .as_array()
                        .is_some_and(|r| !r.is_empty()),
                    "{method} {path}"
                );
            }
            if method == "post" && path.contains("/{id}/") {
                assert!(
                    operation["requestBody"]["content"]["application/json"]["schema"].is_object(),
                    "{path}"
                );
            }
            let uri = path
                .replace(
                    "{id}",
                    if path.starts_with("/v1/passengers") {
                        "FF1"
                    } else {
                        "0190a4b2-0000-7000-8000-000000000001"
                    },
                )
                .replace("{kind}", "feedback");
            let uri = if uri == "/v1/stream" {
                "/v1/stream?from=999999".to_owned()
            } else {
                uri
            };
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            if uri.starts_with("/v1/stream") {
                let request = api.request(Some("admin"), m, &uri, &[], None);
                let response = api.router.clone().oneshot(request).await.unwrap();
                assert_eq!(response.status(), StatusCode::OK, "{uri}");
                walked += 1;
                continue;
            }
            let answer = api.call(Some("admin"), m, &uri, &[], Some(json!({}))).await;
            assert!(
                answer.status != StatusCode::METHOD_NOT_ALLOWED
                    && !answer.text.contains("no such route")
                    && !answer.status.is_server_error(),
                "{method} {uri}: {} {}",
                answer.status,
                answer.text
            );
            walked += 1;
        }
    }
    assert!(walked > 60, "walked {walked} operations");
    // Each command is its own documented path with its own body schema.
    let approve = &paths["/v1/incidents/{id}/approve_communication_plan"]["post"];
    assert_eq!(approve["x-roles"], json!(["crisis_lead"]));
    let body = approve["requestBody"]["content"]["application/json"]["schema"].to_string();
    assert!(body.contains("version"), "{body}");
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
        heartbeat: std::time::Duration::from_secs(15),
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

/// Every operation of the document: 401 without a token, 403 for a role it does not
/// serve, a problem for invalid input from a role it serves.
#[tokio::test]
async fn every_operation_refuses_missing_tokens_wrong_roles_and_invalid_input() {
    let api = api().await;
    let document = api
        .call(None, Method::GET, "/openapi.json", &[], None)
        .await
        .body;
    let mut checked = 0;
    for (path, item) in document["paths"].as_object().unwrap() {
        if !path.starts_with("/v1/") {
            continue;
        }
        for (method, operation) in item.as_object().unwrap() {
            let uri = path
                .replace(
                    "{id}",
                    if path.starts_with("/v1/passengers") {
                        "FF1"
                    } else {
                        "0190a4b2-0000-7000-8000-000000000001"
                    },
                )
                .replace("{kind}", "feedback");
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let body = (method == "post").then(|| json!({"bogus": 1}));
            let anonymous = api.call(None, m.clone(), &uri, &[], body.clone()).await;
            problem(&anonymous, StatusCode::UNAUTHORIZED, "unauthorized");
            let roles: Vec<&str> = operation["x-roles"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r.as_str().unwrap())
                .collect();
            let outsider = ["flight_ops", "auditor", "agent", "crisis_lead"]
                .into_iter()
                .find(|r| !roles.contains(r))
                .unwrap();
            let refused = api
                .call(Some(outsider), m.clone(), &uri, &[], body.clone())
                .await;
            problem(&refused, StatusCode::FORBIDDEN, "forbidden");
            let has_params = operation["parameters"]
                .as_array()
                .is_some_and(|p| !p.is_empty());
            if method == "post" || has_params {
                let uri = if method == "get" {
                    format!("{uri}?bogus=1")
                } else {
                    uri
                };
                let invalid = api.call(Some(roles[0]), m, &uri, &[], body).await;
                assert!(
                    invalid.status.is_client_error()
                        && invalid.headers["content-type"] == "application/problem+json",
                    "{method} {uri}: {} {}",
                    invalid.status,
                    invalid.text
                );
            }
            checked += 1;
        }
    }
    assert!(checked > 60, "{checked}");
}

#[tokio::test]
async fn metrics_show_head_lag_and_answers_without_ids_or_personal_data() {
    let api = api().await;
    let opened = api
        .ok("crisis_lead", "/v1/incidents", open_body("Ada's flight"))
        .await;
    api.get(
        "auditor",
        &format!("/v1/incidents?after={}", opened["position"]),
    )
    .await;
    let metrics = api.call(None, Method::GET, "/metrics", &[], None).await;
    assert_eq!(metrics.status, StatusCode::OK);
    let text = metrics.text;
    assert!(text.contains("crisisd_store_head_position 1\n"), "{text}");
    assert!(
        text.contains("crisisd_projection_position{projection=\"incidents\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("crisisd_projection_lag_events{projection=\"timeline\"}"),
        "{text}"
    );
    assert!(
        text.contains("crisisd_follower_lag_events{follower=\"nats-publisher\"} 1\n"),
        "{text}"
    );
    assert!(
        !text.contains("crisisd_http_responses_total{class=\"2xx\"} 0\n"),
        "{text}"
    );
    let stream = opened["stream"].as_str().unwrap();
    assert!(!text.contains(stream) && !text.contains("Ada"), "{text}");
}

/// What the compensation policy owes for a 4 h delay FRA → JFK on an EU carrier.
fn real_decisions() -> Value {
    use crate::domain::common::{AirportCode, Tier};
    use crate::domain::flight::Controllability;
    use crate::domain::policy::compensation::*;
    use crate::domain::policy::goodwill::GoodwillPolicy;
    let input = CompensationInput {
        origin: AirportCode::parse("FRA").unwrap(),
        destination: AirportCode::parse("JFK").unwrap(),
        origin_country: "DE".into(),
        destination_country: "US".into(),
        distance_km: 6_200,
        carrier: "LH".into(),
        carrier_home: CarrierHome::Eu,
        carrier_size: CarrierSize::Large,
        disruption: Disruption::Delay {
            departure_delay_minutes: 240,
            arrival_delay_minutes: 240,
            overnight: false,
        },
        controllability: Controllability::CarrierCaused,
        passenger_accepted_change: false,
        payment_method: PaymentMethod::Card,
        tier: Tier::Gold,
        decided_at: chrono::Utc::now(),
    };
    serde_json::to_value(decide(&input, &GoodwillPolicy::default_policy())).unwrap()
}

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
        json!({"resolution": "EUR 600", "compensation_id": null}),
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
        json!({"resolution": "EUR 600 + miles", "compensation_id": null}),
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
    let timeline = api
        .get(
            "auditor",
            &format!("/v1/complaints/{id}/timeline?after={}", closed["position"]),
        )
        .await;
    assert_eq!(
        timeline.body.as_array().unwrap().len(),
        8,
        "{}",
        timeline.text
    );

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

/// The service's reactors on the API's store, polling often (as `serve` runs them).
fn spawn_reactors(api: &Api) {
    use crate::app::reactor::{self, ReactorConfig};
    let config = ReactorConfig {
        poll: std::time::Duration::from_millis(10),
        ..ReactorConfig::default()
    };
    let store = api.store.clone();
    let stop = api._shutdown.subscribe();
    let carrier = crate::domain::compensation::input::CarrierProfile {
        home: crate::domain::policy::compensation::CarrierHome::Eu,
        size: crate::domain::policy::compensation::CarrierSize::Large,
    };
    let spikes = crate::app::spikes::SpikeReaction::new(api.journal.clone()).unwrap();
    tokio::spawn(reactor::run(
        spikes,
        store.clone(),
        config.clone(),
        stop.clone(),
    ));
    let goodwill = crate::domain::policy::goodwill::GoodwillPolicy::default_policy();
    let entitlements =
        crate::app::entitlements::EntitlementReaction::new(api.journal.clone(), carrier, goodwill)
            .unwrap();
    tokio::spawn(reactor::run(
        entitlements,
        store.clone(),
        config.clone(),
        stop.clone(),
    ));
    let settlements =
        crate::app::settlements::SettlementReaction::new(api.journal.clone()).unwrap();
    tokio::spawn(reactor::run(settlements, store, config, stop));
}

/// Polls `check` every 20 ms until it answers `Some`, for at most 60 s.
async fn eventually<T, F: std::future::Future<Output = Option<T>>>(
    what: &str,
    mut check: impl FnMut() -> F,
) -> T {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        if let Some(found) = check().await {
            return found;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: not within 60 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
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
        let reply = api.post("flight_ops", "/v1/ingest/feedback", message).await;
        assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text);
    }
    let incident = eventually("the spike opens an incident", || async {
        let board = api.get("crisis_lead", "/v1/incidents").await;
        board.body["items"][0]["incident_id"]
            .as_str()
            .map(str::to_owned)
    })
    .await;
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
        (view.body["compensation"]["by_currency"]["EUR"]["owed"][0] == 5).then_some(())
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
    let board = api.get("crisis_lead", "/v1/incidents").await;
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
}
