//! Queries over the read models. Every query accepts `?after=<position>`: it answers
//! once its read model has applied that position (the `position` a command returned),
//! so a client reads its own writes without polling; after [`super::WAIT_MAX`] it
//! answers 504 saying how far the model got.

use std::time::Duration;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::auth::Caller;
use super::commands::passenger_id;
use super::problem::Problem;
use super::{AppState, WAIT_MAX};
use crate::domain::common::{Role, Severity};
use crate::domain::incident::Stage;
use crate::projection::{compensations, complaints, incidents, passengers, timeline};
use crate::store::EventStore;

/// Who may read the crisis read models (auditors too: these hold no personal data).
const READERS: &[Role] = &[Role::Agent, Role::CrisisLead, Role::Auditor];
/// How often a waiting query looks at its projection again.
const WAIT_POLL: Duration = Duration::from_millis(5);

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct After {
    /// Answer once the read model has applied this position.
    pub after: Option<u64>,
}

/// Waits until `projection` has applied `after` (if given).
pub async fn wait_for(
    state: &AppState,
    projection: &str,
    after: Option<u64>,
) -> Result<(), Problem> {
    let Some(after) = after else { return Ok(()) };
    let head = state.store().head().position;
    if after > head {
        return Err(Problem::bad_request(
            "invalid_query",
            format!("position {after} is beyond the log's head {head}; pass a position a command returned"),
        )
        .field("after"));
    }
    let deadline = tokio::time::Instant::now() + WAIT_MAX;
    loop {
        let status = state.projection(projection).ok_or_else(|| {
            Problem::unavailable(format!("read model {projection} is not running"))
        })?;
        if let Some(reason) = status.failed {
            return Err(Problem::unavailable(format!(
                "read model {projection} stopped at position {}: {reason}; an operator must fix it and run `crisisd rebuild {projection}`",
                status.position
            )));
        }
        if status.position >= after {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(Problem::new(
                StatusCode::GATEWAY_TIMEOUT,
                "not_yet",
                format!(
                    "read model {projection} is at position {} after {}s, not yet at {after}; retry",
                    status.position,
                    WAIT_MAX.as_secs()
                ),
            ));
        }
        tokio::time::sleep(WAIT_POLL).await;
    }
}

fn model(state: &AppState, name: &str) -> Result<sled::Tree, Problem> {
    Ok(state.store().model_tree(name)?)
}

fn read_failed(name: &str) -> impl Fn(String) -> Problem + '_ {
    move |reason| {
        Problem::internal(format!(
            "read model {name} cannot be read: {reason}; `crisisd rebuild {name}` rebuilds it"
        ))
    }
}

fn found<T: Serialize>(value: Option<T>, what: &str) -> Result<Json<T>, Problem> {
    value
        .map(Json)
        .ok_or_else(|| Problem::not_found(format!("no {what} with this id")))
}

fn uuid(id: &str, what: &str) -> Result<Uuid, Problem> {
    Uuid::parse_str(id).map_err(|_| {
        Problem::not_found(format!("{what} ids are UUIDs; {id:?} is not one")).field("id")
    })
}

pub async fn healthz() -> &'static str {
    "ok\n"
}

/// 200 when every read model runs (with their lag), 503 when one stopped.
pub async fn readyz(State(state): State<AppState>) -> Response {
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

fn lags(state: &AppState) -> Result<Vec<crate::projection::ProjectionLag>, Problem> {
    let now = Utc::now();
    state
        .projection_names()
        .filter_map(|name| state.projection(name))
        .map(|status| Ok(status.lag(state.store(), now)?))
        .collect()
}

/// `GET /v1/projections`: every read model's position and lag.
pub async fn projections(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Response, Problem> {
    caller.require(READERS)?;
    Ok(Json(lags(&state)?).into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BoardQuery {
    pub stage: Option<Stage>,
    pub min_severity: Option<Severity>,
    pub after: Option<u64>,
}

/// `GET /v1/incidents`: the pipeline board of open incidents.
pub async fn incident_board(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<BoardQuery>,
) -> Result<Json<Vec<incidents::BoardRow>>, Problem> {
    caller.require(READERS)?;
    wait_for(&state, incidents::NAME, query.after).await?;
    let filter = incidents::BoardFilter {
        stage: query.stage,
        min_severity: query.min_severity,
    };
    let rows = incidents::board(&model(&state, incidents::NAME)?, Utc::now(), &filter)
        .map_err(read_failed(incidents::NAME))?;
    Ok(Json(rows))
}

/// `GET /v1/incidents/{id}`: one incident's summary.
pub async fn incident(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(query): Query<After>,
) -> Result<Json<incidents::IncidentSummary>, Problem> {
    caller.require(READERS)?;
    let id = uuid(&id, "incident")?;
    wait_for(&state, incidents::NAME, query.after).await?;
    let summary = incidents::summary(&model(&state, incidents::NAME)?, id)
        .map_err(read_failed(incidents::NAME))?;
    found(summary, "incident")
}

/// `GET /v1/incidents/{id}/timeline`: every event of the incident, in order.
pub async fn incident_timeline(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(query): Query<After>,
) -> Result<Json<Vec<timeline::TimelineEntry>>, Problem> {
    caller.require(READERS)?;
    let id = uuid(&id, "incident")?;
    wait_for(&state, timeline::NAME, query.after).await?;
    let stream = crate::domain::incident::stream_name(id);
    let entries = timeline::read(&model(&state, timeline::NAME)?, &stream)
        .map_err(read_failed(timeline::NAME))?;
    if entries.is_empty() {
        return Err(Problem::not_found("no incident with this id"));
    }
    Ok(Json(entries))
}

/// `GET /v1/complaints/{id}`: one complaint (without the customer's words).
pub async fn complaint(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(query): Query<After>,
) -> Result<Json<complaints::ComplaintSummary>, Problem> {
    caller.require(READERS)?;
    let id = uuid(&id, "complaint")?;
    wait_for(&state, complaints::NAME, query.after).await?;
    let summary = complaints::complaint(&model(&state, complaints::NAME)?, id)
        .map_err(read_failed(complaints::NAME))?;
    found(summary, "complaint")
}

/// `GET /v1/passengers/{id}`: everything about a passenger; contact details only for
/// callers who may see personal data.
pub async fn passenger(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(query): Query<After>,
) -> Result<Json<passengers::PassengerView>, Problem> {
    caller.require(READERS)?;
    let id = passenger_id(&id)?;
    wait_for(&state, passengers::NAME, query.after).await?;
    let mut view = passengers::view(&model(&state, passengers::NAME)?, &id)
        .map_err(read_failed(passengers::NAME))?;
    if !caller.sees_personal_data
        && let Some(view) = &mut view
    {
        view.contact = None;
    }
    found(view, "passenger")
}

/// `GET /v1/compensations/{id}`: one entitlement and where it stands.
pub async fn compensation(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(query): Query<After>,
) -> Result<Json<compensations::Entitlement>, Problem> {
    caller.require(READERS)?;
    let id = uuid(&id, "compensation")?;
    wait_for(&state, compensations::NAME, query.after).await?;
    let entitlement = compensations::entitlement(&model(&state, compensations::NAME)?, id)
        .map_err(read_failed(compensations::NAME))?;
    found(entitlement, "compensation")
}

/// `GET /v1/compensations/overdue`: unsettled entitlements past their legal deadline.
pub async fn overdue_compensations(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<After>,
) -> Result<Json<Vec<compensations::Entitlement>>, Problem> {
    caller.require(READERS)?;
    wait_for(&state, compensations::NAME, query.after).await?;
    let rows = compensations::overdue(&model(&state, compensations::NAME)?, Utc::now())
        .map_err(read_failed(compensations::NAME))?;
    Ok(Json(rows))
}
