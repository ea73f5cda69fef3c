//! The HTTP API under `/v1` (axum): commands, queries, the live event stream (SSE) and
//! the auditors' replay and verification, behind bearer tokens with roles.
//!
//! | module | owns |
//! |---|---|
//! | [`auth`] | tokens file, `Caller` extractor, role checks |
//! | [`problem`] | `application/problem+json` errors |
//! | [`commands`] | `POST /v1/<aggregate>/{id}/{command}`: one route per aggregate, every command |
//! | [`ingest`] | `POST /v1/ingest/{kind}`: the NATS ingest formats over HTTP |
//! | [`metrics`] | `GET /metrics` in Prometheus text format |
//! | [`queries`] | read models, waiting for a position (read-your-writes) |
//! | [`stream`] | `GET /v1/stream`: Server-Sent Events of envelopes, resumable |
//! | [`admin`] | operator actions: master key rotation |
//! | [`audit`] | NDJSON replay and hash-chain verification |
//! | [`routes`] | the route table: router, role checks and OpenAPI document from one declaration |
//! | [`redact`] | personal data removed from event data, driven by the event schemas |
//! | [`server`] | the accept loop: header and idle timeouts, the connection limit, shutdown |
//! | [`head_timeout`] | how long a connection may wait for a request head |

pub mod admin;
pub mod audit;
pub mod auth;
pub mod commands;
mod head_timeout;
pub mod ingest;
pub mod metrics;
pub mod params;
pub mod problem;
pub mod queries;
pub mod redact;
pub mod routes;
pub mod server;
pub mod stream;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;

use crate::domain::common::Role;
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
    tokens: Tokens,
    projections: BTreeMap<&'static str, Arc<Mutex<ProjectionStatus>>>,
    redactor: redact::Redactor,
    ingest: crate::app::ingest::CrisisIngest,
    stream_limits: stream::StreamLimits,
    http_counters: metrics::HttpCounters,
    shutdown: watch::Receiver<bool>,
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
                tokens,
                projections,
                redactor: redact::Redactor::from_event_schemas(),
                ingest: crate::app::ingest::CrisisIngest::new(journal),
                stream_limits: stream::StreamLimits::default(),
                http_counters: metrics::HttpCounters::default(),
                shutdown,
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

    /// Other limits for SSE clients (tests use small ones); call before serving.
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

    pub fn tokens(&self) -> &Tokens {
        &self.inner.tokens
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
        .layer(axum::middleware::from_fn(time_limit))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            count_responses,
        ))
        .layer(axum::middleware::map_response(
            problem::plain_errors_as_problems,
        ))
        .with_state(state)
}

/// The OpenAPI document of [`router`].
pub fn openapi(state: AppState) -> serde_json::Value {
    routes(state).1
}

fn schema<T: schemars::JsonSchema>(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
    generator.subschema_for::<T>()
}

fn routes(state: AppState) -> (Router<AppState>, serde_json::Value) {
    use crate::domain::common::Role::*;
    use crate::projection::{
        compensations as comp, complaints as compl, incidents as inc, monitor, passengers, timeline,
    };
    use commands::CommandTarget;
    use queries::Page;
    use routes::op;
    const READERS: &[Role] = &[Agent, CrisisLead, Auditor];
    const CARE: &[Role] = &[Agent, CrisisLead];
    const AUDIT: &[Role] = &[Auditor, CrisisLead];
    use params::{IdPath, PassengerPath};
    use queries::{After as ONE, ListQuery as LIST, OneQuery as AS_OF};
    type Incident = crate::domain::incident::Incident;
    type Complaint = crate::domain::complaint::Complaint;
    type Compensation = crate::domain::compensation::Compensation;
    type Passenger = crate::domain::passenger::Passenger;
    type Lags = Vec<crate::projection::ProjectionLag>;
    // Static segments first: a route with a parameter in the same place (`{id}`,
    // `{command}`) must not shadow them.
    routes::Routes::new(state)
        .get("/healthz", op("Liveness"), queries::healthz)
        .get(
            "/metrics",
            op("Prometheus metrics: log head, read model and follower lag, HTTP answers")
                .media("text/plain"),
            metrics::metrics,
        )
        .get(
            "/readyz",
            op("Readiness: every read model runs").response(schema::<Lags>),
            queries::readyz,
        )
        .post(
            "/v1/incidents",
            op("Open an incident under a new id (incident_id is chosen by crisisd)")
                .roles(&[CrisisLead])
                .commands(&[("open_incident", &[CrisisLead])])
                .id_field(<Incident as CommandTarget>::CREATE.1)
                .request(schema::<<Incident as crate::domain::Aggregate>::Command>)
                .response(schema::<commands::CommandResult>),
            commands::open_incident,
        )
        .get(
            "/v1/incidents",
            op("Pipeline board of open incidents: most severe first, then longest in their stage, then id")
                .roles(READERS)
                .query(schema::<queries::BoardQuery>)
                .response(schema::<Page<inc::BoardRow>>),
            queries::incident_board,
        )
        .post(
            "/v1/complaints",
            op("Register a complaint under a new id (complaint_id is chosen by crisisd)")
                .roles(CARE)
                .commands(&[("receive_complaint", CARE)])
                .id_field(<Complaint as CommandTarget>::CREATE.1)
                .request(schema::<<Complaint as crate::domain::Aggregate>::Command>)
                .response(schema::<commands::CommandResult>),
            commands::receive_complaint,
        )
        .get(
            "/v1/complaints/kpis",
            op("Complaint KPIs per dimension value")
                .roles(READERS)
                .query(schema::<queries::KpiQuery>)
                .response(schema::<Page<compl::KpiRow>>),
            queries::complaint_kpis,
        )
        .get(
            "/v1/compensations/overdue",
            op("Unsettled entitlements past their legal deadline")
                .roles(READERS)
                .query(schema::<LIST>)
                .response(schema::<Page<comp::Entitlement>>),
            queries::overdue_compensations,
        )
        .get(
            "/v1/plans/awaiting-approval",
            op("Plans waiting for a crisis lead")
                .roles(READERS)
                .query(schema::<LIST>)
                .response(schema::<Page<inc::AwaitingApproval>>),
            queries::awaiting_approval,
        )
        .get(
            "/v1/people/loads",
            op("Who holds which incident roles now")
                .roles(READERS)
                .query(schema::<LIST>)
                .response(schema::<Page<inc::PersonLoad>>),
            queries::loads,
        )
        .get(
            "/v1/follow-ups",
            op("Incidents in follow-up with open work")
                .roles(READERS)
                .query(schema::<LIST>)
                .response(schema::<Page<inc::FollowUpView>>),
            queries::open_follow_ups,
        )
        .get(
            "/v1/follow-ups/summary",
            op("Survey response and satisfaction across incidents")
                .roles(READERS)
                .query(schema::<ONE>)
                .response(schema::<inc::FollowUpSummary>),
            queries::follow_up_summary,
        )
        .get(
            "/v1/reviews",
            op("Lessons and improvements of reviewed incidents")
                .roles(READERS)
                .query(schema::<queries::ReviewQuery>)
                .response(schema::<Page<inc::ReviewEntry>>),
            queries::reviews,
        )
        .get(
            "/v1/monitor/feed",
            op("Newest signals first")
                .roles(READERS)
                .query(schema::<queries::FeedQuery>)
                .response(schema::<Page<monitor::FeedEntry>>),
            queries::monitor_feed,
        )
        .get(
            "/v1/monitor/counts",
            op("Signal counts per dimension over a window")
                .roles(READERS)
                .query(schema::<queries::CountsQuery>),
            queries::monitor_counts,
        )
        .get(
            "/v1/monitor/spikes",
            op("Spikes that opened incidents")
                .roles(READERS)
                .query(schema::<queries::SpikesQuery>)
                .response(schema::<Vec<crate::projection::spikes::Decided>>),
            queries::spikes,
        )
        .get(
            "/v1/projections",
            op("Read model positions and lag")
                .roles(READERS)
                .response(schema::<Lags>),
            queries::projections,
        )
        .get(
            "/v1/stream",
            op("Server-Sent Events of envelopes, resumable with Last-Event-ID")
                .roles(READERS)
                .query(schema::<stream::StreamQuery>)
                .media("text/event-stream"),
            stream::stream,
        )
        .get(
            "/v1/audit/events",
            op("NDJSON replay of envelopes")
                .roles(AUDIT)
                .query(schema::<audit::EventsQuery>)
                .media("application/x-ndjson"),
            audit::events,
        )
        .get(
            "/v1/audit/verify",
            op("Hash-chain verification")
                .roles(AUDIT)
                .query(schema::<audit::VerifyQuery>)
                .response(schema::<crate::store::VerifyReport>),
            audit::verify,
        )
        .post(
            "/v1/admin/keys/rotate",
            op("Re-wrap every key of personal data under a new master key (no event is rewritten)")
                .roles(&[Admin])
                .request(schema::<admin::RotateBody>)
                .response(schema::<admin::Rotated>),
            admin::rotate_keys,
        )
        .post(
            "/v1/ingest/flightops",
            op("Ingest a flight-ops message (the format of crisis.ingest.flightops)")
                .roles(&[FlightOps])
                .request(schema::<crate::domain::ingest::FlightOpsMessageV1>)
                .status(202)
                .response(schema::<ingest::Stored>),
            ingest::flightops,
        )
        .post(
            "/v1/ingest/feedback",
            op("Ingest a channel's feedback message (the format of crisis.ingest.feedback)")
                .roles(&[FlightOps])
                .request(schema::<crate::domain::ingest::FeedbackMessageV1>)
                .status(202)
                .response(schema::<ingest::Stored>),
            ingest::feedback,
        )
        .get(
            "/v1/incidents/{id}",
            op("An incident's summary, or its state as of an instant")
                .path(schema::<IdPath>)
                .roles(READERS)
                .query(schema::<AS_OF>)
                .response(schema::<inc::IncidentSummary>),
            queries::incident,
        )
        .get(
            "/v1/incidents/{id}/timeline",
            op("An incident's events with their actors")
                .path(schema::<IdPath>)
                .roles(READERS)
                .query(schema::<ONE>)
                .response(schema::<Vec<timeline::TimelineEntry>>),
            queries::incident_timeline,
        )
        .get(
            "/v1/incidents/{id}/impact",
            op("An incident's impact assessment")
                .path(schema::<IdPath>)
                .roles(READERS)
                .query(schema::<ONE>)
                .response(schema::<inc::ImpactView>),
            queries::incident_impact,
        )
        .get(
            "/v1/incidents/{id}/plans",
            op("An incident's approved plans")
                .path(schema::<IdPath>)
                .roles(READERS)
                .query(schema::<ONE>)
                .response(schema::<inc::ApprovedPlans>),
            queries::incident_plans,
        )
        .get(
            "/v1/incidents/{id}/execution",
            op("An incident's contacts and compensations")
                .path(schema::<IdPath>)
                .roles(READERS)
                .query(schema::<ONE>)
                .response(schema::<comp::ExecutionView>),
            queries::incident_execution,
        )
        .get(
            "/v1/incidents/{id}/follow-up",
            op("An incident's surveys and open problems")
                .path(schema::<IdPath>)
                .roles(READERS)
                .query(schema::<ONE>)
                .response(schema::<inc::FollowUpView>),
            queries::incident_follow_up,
        )
        .get(
            "/v1/complaints/{id}",
            op("A complaint's summary, or its state as of an instant")
                .path(schema::<IdPath>)
                .roles(READERS)
                .query(schema::<AS_OF>)
                .response(schema::<compl::ComplaintSummary>),
            queries::complaint,
        )
        .get(
            "/v1/complaints/{id}/timeline",
            op("A complaint's events with their actors")
                .path(schema::<IdPath>)
                .roles(READERS)
                .query(schema::<ONE>)
                .response(schema::<Vec<timeline::TimelineEntry>>),
            queries::complaint_timeline,
        )
        .get(
            "/v1/passengers/{id}",
            op("Everything about a passenger")
                .path(schema::<PassengerPath>)
                .roles(READERS)
                .query(schema::<ONE>)
                .response(schema::<passengers::PassengerView>),
            queries::passenger,
        )
        .get(
            "/v1/compensations/{id}",
            op("A compensation entitlement")
                .path(schema::<IdPath>)
                .roles(READERS)
                .query(schema::<ONE>)
                .response(schema::<comp::Entitlement>),
            queries::compensation,
        )
        .post(
            "/v1/incidents/{id}/{command}",
            op("Incident command")
                .path(schema::<IdPath>)
                .roles(CARE)
                .commands(Incident::COMMANDS)
                .id_field(<Incident as CommandTarget>::CREATE.1)
                .request(schema::<<Incident as crate::domain::Aggregate>::Command>)
                .response(schema::<commands::CommandResult>),
            commands::incident,
        )
        .post(
            "/v1/complaints/{id}/{command}",
            op("Complaint command")
                .path(schema::<IdPath>)
                .roles(CARE)
                .commands(Complaint::COMMANDS)
                .id_field(<Complaint as CommandTarget>::CREATE.1)
                .request(schema::<<Complaint as crate::domain::Aggregate>::Command>)
                .response(schema::<commands::CommandResult>),
            commands::complaint,
        )
        .post(
            "/v1/passengers/{id}/erase",
            op("Erase a passenger's personal data: records passenger.erased and destroys their data key")
                .path(schema::<PassengerPath>)
                .roles(&[Admin])
                .request(schema::<commands::EraseBody>)
                .response(schema::<commands::CommandResult>),
            commands::erase_passenger,
        )
        .post(
            "/v1/passengers/{id}/{command}",
            op("Passenger command")
                .path(schema::<PassengerPath>)
                .roles(CARE)
                .commands(Passenger::COMMANDS)
                .id_field(<Passenger as CommandTarget>::CREATE.1)
                .request(schema::<<Passenger as crate::domain::Aggregate>::Command>)
                .response(schema::<commands::CommandResult>),
            commands::passenger,
        )
        .post(
            "/v1/compensations/{id}/{command}",
            op("Compensation command")
                .path(schema::<IdPath>)
                .roles(CARE)
                .commands(Compensation::COMMANDS)
                .id_field(<Compensation as CommandTarget>::CREATE.1)
                .request(schema::<<Compensation as crate::domain::Aggregate>::Command>)
                .response(schema::<commands::CommandResult>),
            commands::compensation,
        )
        .finish()
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

async fn count_responses(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let response = next.run(request).await;
    state.http_counters().count(response.status().as_u16());
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
