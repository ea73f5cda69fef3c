//! The HTTP API under `/v1` (axum): commands, queries, the live event stream (SSE) and
//! the auditors' replay and verification, behind bearer tokens with roles.
//!
//! Each resource's module declares its routes beside its handlers; `routes` builds
//! the router and the OpenAPI document from those declarations.
//!
//! | module | owns |
//! |---|---|
//! | `incidents` | opening, commands, the board and the views of each pipeline stage |
//! | `complaints` | registering, commands, views, KPIs, quality samples |
//! | `knowledge` | the knowledge base: publishing, revising, retiring, search |
//! | `suggestions` | customer suggestions: registering, their loop's commands, list |
//! | `passengers` | the passenger view, commands, erasure |
//! | `compensations` | entitlements, their decisions, commands, the overdue list |
//! | `flights` | disrupted flights, a flight's view, its compensation ledger (JSON, CSV) |
//! | `monitor` | the signal feed, counts, detected spikes |
//! | `reports` | daily, weekly and monthly reports (JSON, CSV) |
//! | [`stream`] | `GET /v1/stream`: Server-Sent Events of envelopes, resumable |
//! | [`audit`] | NDJSON replay and hash-chain verification |
//! | `admin` | operator actions: master key rotation |
//! | [`ingest`] | `POST /v1/ingest/flightops`, `/v1/ingest/feedback`: the NATS ingest formats over HTTP |
//! | `service` | liveness, readiness, metrics, read model positions |
//! | `routes` | the route table: router, role checks and OpenAPI document from one declaration |
//! | `params` | typed query strings and path parameters |
//! | `commands` | the command mechanism every aggregate's `POST .../{id}/{command}` shares |
//! | `queries` | what every read shares: waiting for a position (read-your-writes), pages |
//! | [`auth`] | tokens file, `Caller` extractor, role checks |
//! | [`problem`] | `application/problem+json` errors |
//! | [`metrics`] | `GET /metrics` in Prometheus text format |
//! | [`redact`] | personal data removed from event data, driven by the event schemas |
//! | [`server`] | the accept loop: header and idle timeouts, the connection limit, shutdown |
//! | `head_timeout` | how long a connection may wait for a request head |
//! | `refusals` | hyper's own refusals (414, 431, 400) answered as problems |

mod admin;
pub mod audit;
pub mod auth;
pub mod board;
pub mod cluster;
mod commands;
mod compensations;
mod complaints;
mod flights;
mod head_timeout;
mod incidents;
pub mod ingest;
mod knowledge;
pub mod metrics;
mod monitor;
mod params;
mod passengers;
pub mod problem;
mod queries;
pub mod redact;
mod refusals;
mod reports;
mod routes;
pub mod server;
mod service;
pub mod stream;
mod suggestions;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;

use tokio::sync::watch;

use crate::projection::ProjectionStatus;
use crate::store::SledStore;
use auth::Tokens;

/// Largest request body accepted (commands and HTTP ingest are small).
pub const BODY_BYTES_MAX: usize = 256 * 1024;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    journal: crate::app::Journal,
    /// Replaced whole when the tokens file changes (requests read a snapshot).
    tokens: std::sync::RwLock<Arc<Tokens>>,
    projections: BTreeMap<&'static str, Arc<Mutex<ProjectionStatus>>>,
    redactor: redact::Redactor,
    ingest: crate::app::ingest::CrisisIngest,
    stream_limits: stream::StreamLimits,
    http_counters: metrics::HttpCounters,
    shutdown: watch::Receiver<bool>,
    /// The crisis policy `serve` runs with (its root-cause taxonomy checks commands).
    policy: Arc<crate::domain::policy::crisis::CrisisPolicy>,
    compensation_policy: Arc<crate::domain::policy::compensation_policy::CompensationPolicy>,
    /// This node in its cluster (a single node says so).
    cluster: watch::Receiver<crate::cluster::node::ClusterView>,
    /// A follower's open connections to the leader, for the commands it forwards.
    forwarder: cluster::Forwarder,
}

impl AppState {
    pub fn new(
        journal: crate::app::Journal,
        tokens: Tokens,
        projections: BTreeMap<&'static str, Arc<Mutex<ProjectionStatus>>>,
        shutdown: watch::Receiver<bool>,
    ) -> Self {
        AppState {
            inner: Arc::new(Inner {
                journal: journal.clone(),
                tokens: std::sync::RwLock::new(Arc::new(tokens)),
                projections,
                redactor: redact::Redactor::from_event_schemas(),
                ingest: crate::app::ingest::CrisisIngest::new(journal),
                stream_limits: stream::StreamLimits::default(),
                http_counters: metrics::HttpCounters::default(),
                shutdown,
                policy: Arc::default(),
                compensation_policy: Arc::new(
                    crate::domain::policy::compensation_policy::CompensationPolicy::default_policy(
                    ),
                ),
                cluster: watch::channel(crate::cluster::node::ClusterView::single()).1,
                forwarder: cluster::Forwarder::default(),
            }),
        }
    }

    /// Ingest over HTTP with this handler (the one NATS ingest uses, same policy).
    pub fn with_ingest(mut self, ingest: crate::app::ingest::CrisisIngest) -> Self {
        Arc::get_mut(&mut self.inner)
            .expect("the ingest handler is set before the state is shared")
            .ingest = ingest;
        self
    }

    /// The crisis policy in force (default: the built-in one); call before serving.
    pub fn with_policy(mut self, policy: crate::domain::policy::crisis::CrisisPolicy) -> Self {
        Arc::get_mut(&mut self.inner)
            .expect("the policy is set before the state is shared")
            .policy = Arc::new(policy);
        self
    }

    /// This node's view of its cluster (default: a single node); call before serving.
    pub fn with_cluster(
        mut self,
        view: watch::Receiver<crate::cluster::node::ClusterView>,
    ) -> Self {
        Arc::get_mut(&mut self.inner)
            .expect("the cluster view is set before the state is shared")
            .cluster = view;
        self
    }

    pub fn cluster(&self) -> &watch::Receiver<crate::cluster::node::ClusterView> {
        &self.inner.cluster
    }

    pub fn policy(&self) -> &crate::domain::policy::crisis::CrisisPolicy {
        &self.inner.policy
    }

    /// The compensation policy in force (default: the built-in one); call before serving.
    pub fn with_compensation_policy(
        mut self,
        policy: crate::domain::policy::compensation_policy::CompensationPolicy,
    ) -> Self {
        Arc::get_mut(&mut self.inner)
            .expect("the policy is set before the state is shared")
            .compensation_policy = Arc::new(policy);
        self
    }

    pub fn compensation_policy(
        &self,
    ) -> &crate::domain::policy::compensation_policy::CompensationPolicy {
        &self.inner.compensation_policy
    }

    /// Other limits for SSE clients (tests use small ones); call before serving.
    #[cfg(test)]
    pub fn with_stream_limits(mut self, limits: stream::StreamLimits) -> Self {
        Arc::get_mut(&mut self.inner)
            .expect("stream limits are set before the state is shared")
            .stream_limits = limits;
        self
    }

    pub fn http_counters(&self) -> &metrics::HttpCounters {
        &self.inner.http_counters
    }

    pub fn stream_limits(&self) -> stream::StreamLimits {
        self.inner.stream_limits
    }

    pub fn store(&self) -> &SledStore {
        self.inner.journal.store()
    }

    /// Where commands write (the store and the key store that seals personal data).
    pub fn journal(&self) -> &crate::app::Journal {
        &self.inner.journal
    }

    pub fn privacy(&self) -> &crate::privacy::Privacy {
        self.inner.journal.privacy()
    }

    /// The tokens in force now.
    pub fn tokens(&self) -> Arc<Tokens> {
        self.inner
            .tokens
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Puts `tokens` in force for the requests that come next (those being served keep
    /// the caller they were authorised as).
    pub fn replace_tokens(&self, tokens: Tokens) {
        *self.inner.tokens.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(tokens);
    }

    /// Turns true when crisisd shuts down (long-lived responses end then).
    pub fn shutdown(&self) -> watch::Receiver<bool> {
        self.inner.shutdown.clone()
    }

    pub fn ingest(&self) -> &crate::app::ingest::CrisisIngest {
        &self.inner.ingest
    }

    pub fn redactor(&self) -> &redact::Redactor {
        &self.inner.redactor
    }

    /// A projector's status, by projection name.
    pub fn projection(&self, name: &str) -> Option<ProjectionStatus> {
        let status = self.inner.projections.get(name)?;
        Some(status.lock().unwrap_or_else(|e| e.into_inner()).clone())
    }

    pub fn projection_names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.inner.projections.keys().copied()
    }
}

/// Every route of the API, and `/openapi.json` describing them.
pub fn router(state: AppState) -> Router {
    let (routes, document) = routes(state.clone());
    let document = Arc::new(document);
    routes
        .route(
            "/openapi.json",
            get(move || {
                let document = document.clone();
                async move { axum::Json((*document).clone()) }
            }),
        )
        .fallback(|| async {
            problem::Problem::not_found("no such route; /openapi.json lists them")
        })
        .layer(DefaultBodyLimit::max(BODY_BYTES_MAX))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            cluster::writes_to_leader,
        ))
        .layer(axum::middleware::from_fn(time_limit))
        .layer(axum::middleware::from_fn_with_state(state.clone(), observe))
        .layer(axum::middleware::map_response(
            problem::plain_errors_as_problems,
        ))
        .with_state(state)
}

fn routes(state: AppState) -> (Router<AppState>, serde_json::Value) {
    let mut routes = routes::Routes::new(state);
    for resource in [
        service::routes,
        incidents::routes,
        complaints::routes,
        suggestions::routes,
        knowledge::routes,
        passengers::routes,
        compensations::routes,
        flights::routes,
        monitor::routes,
        reports::routes,
        stream::routes,
        audit::routes,
        admin::routes,
        ingest::routes,
        board::routes,
        cluster::routes,
    ] {
        routes = resource(routes);
    }
    routes.finish()
}

/// Binds the API's address (at start, so a taken port stops `serve` with a clear error).
pub async fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await.map_err(|err| {
        std::io::Error::new(
            err.kind(),
            format!("cannot listen on {addr}: {err}; choose another --http-addr"),
        )
    })
}

/// Serves the API within `limits` until `shutdown` turns true, then lets the requests in
/// flight finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    limits: server::ServerLimits,
    shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    tracing::info!(
        http_addr = %listener.local_addr()?,
        header_timeout_ms = limits.header_timeout.as_millis() as u64,
        idle_timeout_s = limits.idle_timeout.as_secs(),
        connections_max = limits.connections_max,
        "HTTP API listening"
    );
    server::serve(listener, router(state), limits, shutdown).await
}

/// Longest a request may take to produce its answer (a streamed body — SSE, replay —
/// then flows for as long as the client reads).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The header carrying a request's correlation id: the caller's, when it is a UUID, else
/// a new one; answered on every response and recorded on every event the request causes.
pub const CORRELATION_ID: &str = "x-correlation-id";

/// Every request: its correlation id, a span carrying it (so each log line of the request
/// names it), its latency per route template, its status class.
async fn observe(
    axum::extract::State(state): axum::extract::State<AppState>,
    mut request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use tracing::Instrument;
    let started = std::time::Instant::now();
    let correlation = request
        .headers()
        .get(CORRELATION_ID)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<uuid::Uuid>().ok())
        .unwrap_or_else(uuid::Uuid::now_v7);
    let header = axum::http::HeaderValue::from_str(&correlation.to_string())
        .expect("a UUID is a header value");
    request.headers_mut().insert(CORRELATION_ID, header.clone());
    // A template (`/v1/incidents/{id}`), never the path: no ids in labels or logs.
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_owned();
    let method = request.method().clone();
    let span = tracing::info_span!("http", correlation_id = %correlation, %method, %route);
    let mut response = next.run(request).instrument(span.clone()).await;
    let status = response.status().as_u16();
    state.http_counters().count(status);
    crate::metrics::METRICS.http_answered(method.as_str(), &route, started.elapsed());
    span.in_scope(|| {
        tracing::debug!(
            status,
            elapsed_ms = started.elapsed().as_secs_f64() * 1e3,
            "answered"
        )
    });
    response.headers_mut().insert(CORRELATION_ID, header);
    response
}

async fn time_limit(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    match tokio::time::timeout(REQUEST_TIMEOUT, next.run(request)).await {
        Ok(response) => response,
        Err(_) => problem::Problem::unavailable(format!(
            "the request took over {}s; retry (commands with an Idempotency-Key are safe to retry)",
            REQUEST_TIMEOUT.as_secs()
        ))
        .into_response(),
    }
}

/// How long a query may wait for its read model to reach a position.
pub const WAIT_MAX: Duration = Duration::from_secs(10);
