//! The service's own routes: liveness, readiness, metrics, read model positions.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::Utc;

use super::AppState;
use super::metrics;
use super::problem::Problem;
use super::routes::{READERS, Routes, op, schema};
use crate::projection::ProjectionLag;

/// This resource's routes.
pub(super) fn routes(routes: Routes) -> Routes {
    routes
        .get("/healthz", op("Liveness"), healthz)
        .get(
            "/metrics",
            op("Prometheus metrics: log head, read model and follower lag, HTTP answers")
                .media("text/plain"),
            metrics::metrics,
        )
        .get(
            "/readyz",
            op("Readiness: the event store takes appends and every read model runs")
                .response(schema::<Vec<ProjectionLag>>),
            readyz,
        )
        .get(
            "/v1/projections",
            op("Read model positions and lag")
                .roles(READERS)
                .response(schema::<Vec<ProjectionLag>>),
            projections,
        )
}

pub async fn healthz() -> &'static str {
    "ok\n"
}

/// 200 when every read model runs (with their lag); 503 when one stopped, or when the
/// event store refuses appends (a write or fsync failed), saying why.
pub async fn readyz(State(state): State<AppState>) -> Response {
    if let Some(reason) = state.store().failure() {
        return Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_failed",
            format!("the event store refuses appends: {reason}"),
        )
        .into_response();
    }
    let lags = match lags(&state) {
        Ok(lags) => lags,
        Err(problem) => return problem.into_response(),
    };
    let status = if lags.iter().any(|l| l.failed.is_some()) {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (status, Json(lags)).into_response()
}

fn lags(state: &AppState) -> Result<Vec<ProjectionLag>, Problem> {
    let now = Utc::now();
    state
        .projection_names()
        .filter_map(|name| state.projection(name))
        .map(|status| Ok(status.lag(state.store(), now)?))
        .collect()
}

/// `GET /v1/projections`: every read model's position and lag.
pub async fn projections(State(state): State<AppState>) -> Result<Response, Problem> {
    Ok(Json(lags(&state)?).into_response())
}
