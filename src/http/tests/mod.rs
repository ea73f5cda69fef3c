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

mod access;
mod auditors;
mod bodies;
mod cluster;
mod complaints;
mod incidents;
mod ingestion;
mod sse;

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

const ROLES: [(&str, Role); 6] = [
    ("flight_ops", Role::FlightOps),
    ("channel", Role::Channel),
    ("agent", Role::Agent),
    ("crisis_lead", Role::CrisisLead),
    ("auditor", Role::Auditor),
    ("admin", Role::Admin),
];

async fn api() -> Api {
    api_with(stream::StreamLimits::default()).await
}

async fn api_with(limits: stream::StreamLimits) -> Api {
    api_configured(limits, None, None).await
}

/// An API with `cluster` as its view of the cluster (default: a single node) and the
/// tokens of `same_tokens` (another API's: a request forwarded between them is
/// authorised on both).
async fn api_configured(
    limits: stream::StreamLimits,
    cluster: Option<watch::Receiver<crate::cluster::node::ClusterView>>,
    same_tokens: Option<&Api>,
) -> Api {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(StoreConfig::new(dir.path().join("data"))).unwrap();
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let mut tokens = HashMap::new();
    let mut entries = Vec::new();
    for (name, role) in ROLES {
        let token = same_tokens.map_or_else(new_token, |api| api.tokens[name].clone());
        entries.push(TokenEntry {
            hash: hash_token(&token),
            actor: format!("{name}-1"),
            role,
            personal_data: false,
            created_at: None,
            expires_at: None,
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
    let state = match cluster {
        Some(view) => state.with_cluster(view),
        None => state,
    };
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

fn open_body(title: &str) -> Value {
    json!({"title": title, "category": "delay", "severity": "high", "flight": null, "correlation_key": null, "signal_ids": []})
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

/// What the compensation policy owes for a 4 h delay FRA → JFK on an EU carrier.
fn real_decisions() -> Value {
    use crate::domain::common::Tier;
    use crate::domain::policy::compensation::decide;
    use crate::domain::policy::compensation_policy::CompensationPolicy;
    let input = crate::testing::workload::fra_jfk_delay(Tier::Gold, false, chrono::Utc::now());
    serde_json::to_value(decide(&input, &CompensationPolicy::default_policy())).unwrap()
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
        listed: false,
    };
    let spikes = crate::app::spikes::SpikeReaction::new(api.journal.clone()).unwrap();
    tokio::spawn(reactor::run(
        spikes,
        store.clone(),
        config.clone(),
        stop.clone(),
    ));
    let policy = crate::domain::policy::compensation_policy::CompensationPolicy::default_policy();
    let entitlements =
        crate::app::entitlements::EntitlementReaction::new(api.journal.clone(), carrier, policy)
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
