//! The HTTP API under `/v1` (axum): commands, queries, the live event stream (SSE) and
//! the auditors' replay and verification, behind bearer tokens with roles.
//!
//! | module | owns |
//! |---|---|
//! | [`auth`] | tokens file, `Caller` extractor, role checks |
//! | [`problem`] | `application/problem+json` errors |
//! | [`commands`] | `POST /v1/<aggregate>/{id}/{command}`: one route per aggregate, every command |
//! | [`ingest`] | `POST /v1/ingest/{kind}`: the NATS ingest formats over HTTP |
//! | [`queries`] | read models, waiting for a position (read-your-writes) |
//! | [`stream`] | `GET /v1/stream`: Server-Sent Events of envelopes, resumable |
//! | [`audit`] | NDJSON replay and hash-chain verification |
//! | [`redact`] | personal data removed from event data, driven by the event schemas |

pub mod audit;
pub mod auth;
pub mod commands;
pub mod ingest;
pub mod problem;
pub mod queries;
pub mod redact;
pub mod stream;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
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
    store: SledStore,
    tokens: Tokens,
    projections: BTreeMap<&'static str, Arc<Mutex<ProjectionStatus>>>,
    redactor: redact::Redactor,
    ingest: crate::app::ingest::CrisisIngest,
    shutdown: watch::Receiver<bool>,
}

impl AppState {
    pub fn new(
        store: SledStore,
        tokens: Tokens,
        projections: BTreeMap<&'static str, Arc<Mutex<ProjectionStatus>>>,
        shutdown: watch::Receiver<bool>,
    ) -> Self {
        AppState {
            inner: Arc::new(Inner {
                store: store.clone(),
                tokens,
                projections,
                redactor: redact::Redactor::from_event_schemas(),
                ingest: crate::app::ingest::CrisisIngest::new(store.clone()),
                shutdown,
            }),
        }
    }

    pub fn store(&self) -> &SledStore {
        &self.inner.store
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

/// Every route of the API.
pub fn router(state: AppState) -> Router {
    // Static segments first: a route with a parameter in the same place (`{id}`,
    // `{command}`) must not shadow them.
    Router::new()
        .route("/healthz", get(queries::healthz))
        .route("/readyz", get(queries::readyz))
        .route(
            "/v1/incidents",
            post(commands::open_incident).get(queries::incident_board),
        )
        .route("/v1/complaints", post(commands::receive_complaint))
        .route("/v1/complaints/kpis", get(queries::complaint_kpis))
        .route(
            "/v1/compensations/overdue",
            get(queries::overdue_compensations),
        )
        .route(
            "/v1/plans/awaiting-approval",
            get(queries::awaiting_approval),
        )
        .route("/v1/people/loads", get(queries::loads))
        .route("/v1/follow-ups", get(queries::open_follow_ups))
        .route("/v1/follow-ups/summary", get(queries::follow_up_summary))
        .route("/v1/reviews", get(queries::reviews))
        .route("/v1/monitor/feed", get(queries::monitor_feed))
        .route("/v1/monitor/counts", get(queries::monitor_counts))
        .route("/v1/monitor/spikes", get(queries::spikes))
        .route("/v1/projections", get(queries::projections))
        .route("/v1/stream", get(stream::stream))
        .route("/v1/audit/events", get(audit::events))
        .route("/v1/audit/verify", get(audit::verify))
        .route("/v1/ingest/{kind}", post(ingest::ingest))
        .route("/v1/incidents/{id}", get(queries::incident))
        .route(
            "/v1/incidents/{id}/timeline",
            get(queries::incident_timeline),
        )
        .route("/v1/incidents/{id}/impact", get(queries::incident_impact))
        .route("/v1/incidents/{id}/plans", get(queries::incident_plans))
        .route(
            "/v1/incidents/{id}/execution",
            get(queries::incident_execution),
        )
        .route(
            "/v1/incidents/{id}/follow-up",
            get(queries::incident_follow_up),
        )
        .route("/v1/complaints/{id}", get(queries::complaint))
        .route(
            "/v1/complaints/{id}/timeline",
            get(queries::complaint_timeline),
        )
        .route("/v1/passengers/{id}", get(queries::passenger))
        .route("/v1/compensations/{id}", get(queries::compensation))
        .route("/v1/incidents/{id}/{command}", post(commands::incident))
        .route("/v1/complaints/{id}/{command}", post(commands::complaint))
        .route("/v1/passengers/{id}/{command}", post(commands::passenger))
        .route(
            "/v1/compensations/{id}/{command}",
            post(commands::compensation),
        )
        .fallback(|| async {
            problem::Problem::not_found("no such route; see the README for the API")
        })
        .layer(DefaultBodyLimit::max(BODY_BYTES_MAX))
        .layer(axum::middleware::map_response(
            problem::plain_errors_as_problems,
        ))
        .with_state(state)
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

/// Serves the API until `shutdown` turns true.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    tracing::info!(http_addr = %listener.local_addr()?, "HTTP API listening");
    axum::serve(listener, router(state))
        .with_graceful_shutdown(async move {
            let _ = shutdown.wait_for(|stop| *stop).await;
        })
        .await
}

/// How long a query may wait for its read model to reach a position.
pub const WAIT_MAX: Duration = Duration::from_secs(10);
