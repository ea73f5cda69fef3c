//! Queries over the read models. Every query accepts `?after=<position>`: it answers
//! once its read model has applied that position (the `position` a command returned),
//! so a client reads its own writes without polling; after [`super::WAIT_MAX`] it
//! answers 504 saying how far the model got.

use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::auth::Caller;
use super::commands::passenger_id;
use super::params::Params;
use super::problem::Problem;
use super::{AppState, WAIT_MAX, redact};
use crate::app::command::load_as_of;
use crate::domain::Aggregate;
use crate::domain::common::{Category, Severity};
use crate::domain::complaint::Complaint;
use crate::domain::incident::Incident;
use crate::domain::incident::Stage;
use crate::projection::{
    ModelError, ReadModel, compensations, complaints, incidents, monitor, passengers, timeline,
};
use crate::store::EventStore;

/// How often a waiting query looks at its projection again.
const WAIT_POLL: Duration = Duration::from_millis(5);

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct After {
    /// Answer once the read model has applied this log position (a command's answer
    /// gives it), to read your own writes.
    pub after: Option<u64>,
}

/// The query of a list: `after` and a page.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Answer once the read model has applied this log position.
    pub after: Option<u64>,
    /// Items per page (default and most: 500).
    #[schemars(range(min = 1))]
    pub limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl ListQuery {
    fn paging(&self) -> Paging {
        Paging {
            limit: self.limit,
            cursor: self.cursor.clone(),
        }
    }
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

/// Most items a list answers with (`limit` defaults to it).
pub const PAGE_ITEMS_MAX: usize = 500;

/// A page of a list: `next_cursor` (opaque) fetches the next one, `null` at the end.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Default)]
pub struct Paging {
    pub limit: Option<usize>,
    pub cursor: Option<String>,
}

impl Paging {
    fn limit(&self) -> Result<usize, Problem> {
        match self.limit {
            Some(0) => Err(
                Problem::bad_request("invalid_query", "limit must be at least 1").field("limit"),
            ),
            Some(n) => Ok(n.min(PAGE_ITEMS_MAX)),
            None => Ok(PAGE_ITEMS_MAX),
        }
    }

    /// Cuts one page out of a list whose order is fixed by the read model.
    pub fn page<T>(&self, items: Vec<T>) -> Result<Page<T>, Problem> {
        let offset = match &self.cursor {
            None => 0,
            Some(cursor) => cursor.parse::<usize>().map_err(|_| bad_cursor())?,
        };
        let limit = self.limit()?;
        let total = items.len();
        let items: Vec<T> = items.into_iter().skip(offset).take(limit).collect();
        let end = offset + items.len();
        Ok(Page {
            items,
            next_cursor: (end < total).then(|| end.to_string()),
        })
    }
}

fn bad_cursor() -> Problem {
    Problem::bad_request(
        "invalid_query",
        "cursor must be a next_cursor this API returned",
    )
    .field("cursor")
}

fn model(state: &AppState, name: &str) -> Result<ReadModel, Problem> {
    Ok(ReadModel::open(state.store(), name)?)
}

fn read_failed(name: &str) -> impl Fn(ModelError) -> Problem + '_ {
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
pub async fn projections(State(state): State<AppState>) -> Result<Response, Problem> {
    Ok(Json(lags(&state)?).into_response())
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BoardQuery {
    /// Only incidents in this stage.
    pub stage: Option<Stage>,
    /// Only incidents of at least this severity.
    pub min_severity: Option<Severity>,
    /// Answer once the read model has applied this log position.
    pub after: Option<u64>,
    /// Rows per page (default and most: 500).
    #[schemars(range(min = 1))]
    pub limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// `GET /v1/incidents`: the pipeline board of open incidents (most severe first, then
/// longest in their stage, then id), a page at a time. Its cursor is the last row's
/// place on the board ([`incidents::BoardKey`]), not an offset: the next page starts
/// strictly after it, so incidents opened or closed meanwhile and the clock moving on
/// never make a page skip or repeat a row.
pub async fn incident_board(
    State(state): State<AppState>,
    Params(query): Params<BoardQuery>,
) -> Result<Json<Page<incidents::BoardRow>>, Problem> {
    let paging = Paging {
        limit: query.limit,
        cursor: query.cursor.clone(),
    };
    wait_for(&state, incidents::NAME, query.after).await?;
    let filter = incidents::BoardFilter {
        stage: query.stage,
        min_severity: query.min_severity,
    };
    let after = paging
        .cursor
        .as_deref()
        .map(|cursor| incidents::BoardKey::decode(cursor).ok_or_else(bad_cursor))
        .transpose()?;
    let tree = model(&state, incidents::NAME)?;
    let page = incidents::board(&tree, Utc::now(), &filter, after.as_ref(), paging.limit()?)
        .map_err(read_failed(incidents::NAME))?;
    Ok(Json(Page {
        items: page.rows,
        next_cursor: page.next.map(|key| key.encode()),
    }))
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OneQuery {
    /// Answer once the read model has applied this log position.
    pub after: Option<u64>,
    /// The state as crisisd knew it at this instant, rebuilt from the events recorded
    /// up to it.
    pub as_of: Option<DateTime<Utc>>,
}

/// An aggregate's state as of an instant, as `GET ...?as_of=` answers it.
#[derive(Debug, Serialize)]
pub struct AsOf {
    pub as_of: DateTime<Utc>,
    /// Version of the stream's last event recorded by then.
    pub stream_version: u64,
    pub state: serde_json::Value,
}

fn as_of<A: Aggregate + Serialize + schemars::JsonSchema>(
    state: &AppState,
    caller: &Caller,
    stream: &str,
    at: DateTime<Utc>,
) -> Result<Json<AsOf>, Problem> {
    let (aggregate, version) = load_as_of::<A, _>(state.store(), stream, Some(at))?;
    let Some(version) = version else {
        return Err(Problem::not_found(format!(
            "{stream} had no events at {at}"
        )));
    };
    let mut json =
        serde_json::to_value(&aggregate).map_err(|err| Problem::internal(err.to_string()))?;
    if caller.sees_personal_data {
        state.privacy().reveal(&mut json, None);
    } else {
        let schema = schemars::schema_for!(A).to_value();
        redact::redact_by_schema(&schema, &mut json);
    }
    Ok(Json(AsOf {
        as_of: at,
        stream_version: version,
        state: json,
    }))
}

/// `GET /v1/incidents/{id}`: one incident's summary, or with `?as_of=` its state then.
pub async fn incident(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Params(query): Params<OneQuery>,
) -> Result<Response, Problem> {
    let id = uuid(&id, "incident")?;
    if let Some(at) = query.as_of {
        let stream = crate::domain::incident::stream_name(id);
        return Ok(as_of::<Incident>(&state, &caller, &stream, at)?.into_response());
    }
    wait_for(&state, incidents::NAME, query.after).await?;
    let summary = incidents::summary(&model(&state, incidents::NAME)?, id)
        .map_err(read_failed(incidents::NAME))?;
    Ok(found(summary, "incident")?.into_response())
}

/// `GET /v1/incidents/{id}/timeline`: every event of the incident, in order.
pub async fn incident_timeline(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Params(query): Params<After>,
) -> Result<Json<Vec<timeline::TimelineEntry>>, Problem> {
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

/// `GET /v1/complaints/{id}`: one complaint (without the customer's words), or with
/// `?as_of=` its state then.
pub async fn complaint(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Params(query): Params<OneQuery>,
) -> Result<Response, Problem> {
    let id = uuid(&id, "complaint")?;
    if let Some(at) = query.as_of {
        let stream = crate::domain::complaint::stream_name(id);
        return Ok(as_of::<Complaint>(&state, &caller, &stream, at)?.into_response());
    }
    wait_for(&state, complaints::NAME, query.after).await?;
    let summary = complaints::complaint(&model(&state, complaints::NAME)?, id)
        .map_err(read_failed(complaints::NAME))?;
    Ok(found(summary, "complaint")?.into_response())
}

/// `GET /v1/passengers/{id}`: everything about a passenger; contact details only for
/// callers who may see personal data.
pub async fn passenger(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Params(query): Params<After>,
) -> Result<Json<serde_json::Value>, Problem> {
    let id = passenger_id(&id)?;
    wait_for(&state, passengers::NAME, query.after).await?;
    let mut view = passengers::view(&model(&state, passengers::NAME)?, &id)
        .map_err(read_failed(passengers::NAME))?;
    if !caller.sees_personal_data
        && let Some(view) = &mut view
    {
        view.contact = None;
    }
    let Json(view) = found(view, "passenger")?;
    let mut json = serde_json::to_value(&view).map_err(|err| Problem::internal(err.to_string()))?;
    if caller.sees_personal_data {
        state.privacy().reveal(&mut json, None);
    }
    Ok(Json(json))
}

/// `GET /v1/compensations/{id}`: one entitlement and where it stands.
pub async fn compensation(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Params(query): Params<After>,
) -> Result<Json<compensations::Entitlement>, Problem> {
    let id = uuid(&id, "compensation")?;
    wait_for(&state, compensations::NAME, query.after).await?;
    let entitlement = compensations::entitlement(&model(&state, compensations::NAME)?, id)
        .map_err(read_failed(compensations::NAME))?;
    found(entitlement, "compensation")
}

/// `GET /v1/compensations/overdue`: unsettled entitlements past their legal deadline,
/// earliest first.
pub async fn overdue_compensations(
    State(state): State<AppState>,
    Params(query): Params<ListQuery>,
) -> Result<Json<Page<compensations::Entitlement>>, Problem> {
    wait_for(&state, compensations::NAME, query.after).await?;
    let rows = compensations::overdue(&model(&state, compensations::NAME)?, Utc::now())
        .map_err(read_failed(compensations::NAME))?;
    Ok(Json(query.paging().page(rows)?))
}

/// Answers one incident's view of a model by a query function.
async fn incident_view<T: Serialize>(
    state: &AppState,
    id: &str,
    after: Option<u64>,
    view: impl FnOnce(&ReadModel, Uuid) -> Result<Option<T>, ModelError>,
) -> Result<Json<T>, Problem> {
    let id = uuid(id, "incident")?;
    wait_for(state, incidents::NAME, after).await?;
    let found_view =
        view(&model(state, incidents::NAME)?, id).map_err(read_failed(incidents::NAME))?;
    found(found_view, "incident")
}

/// `GET /v1/incidents/{id}/impact`: the assessment with passengers by tier and roles.
pub async fn incident_impact(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Params(query): Params<After>,
) -> Result<Json<incidents::ImpactView>, Problem> {
    incident_view(&state, &id, query.after, |tree, id| {
        incidents::impact(tree, id, Utc::now())
    })
    .await
}

/// `GET /v1/incidents/{id}/plans`: the approved communication and compensation plans.
pub async fn incident_plans(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Params(query): Params<After>,
) -> Result<Json<incidents::ApprovedPlans>, Problem> {
    incident_view(&state, &id, query.after, incidents::approved).await
}

/// `GET /v1/incidents/{id}/follow-up`: surveys, satisfaction and open problems.
pub async fn incident_follow_up(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Params(query): Params<After>,
) -> Result<Json<incidents::FollowUpView>, Problem> {
    incident_view(&state, &id, query.after, incidents::follow_up).await
}

/// `GET /v1/incidents/{id}/execution`: contacts and compensations of an incident.
pub async fn incident_execution(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Params(query): Params<After>,
) -> Result<Json<compensations::ExecutionView>, Problem> {
    let id = uuid(&id, "incident")?;
    wait_for(&state, incidents::NAME, query.after).await?;
    wait_for(&state, compensations::NAME, query.after).await?;
    let view = compensations::execution(
        &model(&state, incidents::NAME)?,
        &model(&state, compensations::NAME)?,
        id,
        Utc::now(),
    )
    .map_err(read_failed(compensations::NAME))?;
    found(view, "incident")
}

/// `GET /v1/complaints/{id}/timeline` and the incidents' twin: a stream's events.
pub async fn complaint_timeline(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Params(query): Params<After>,
) -> Result<Json<Vec<timeline::TimelineEntry>>, Problem> {
    let id = uuid(&id, "complaint")?;
    wait_for(&state, timeline::NAME, query.after).await?;
    let stream = crate::domain::complaint::stream_name(id);
    let entries = timeline::read(&model(&state, timeline::NAME)?, &stream)
        .map_err(read_failed(timeline::NAME))?;
    if entries.is_empty() {
        return Err(Problem::not_found("no complaint with this id"));
    }
    Ok(Json(entries))
}

/// Answers a list read from the incidents model, a page at a time.
async fn incidents_list<T: Serialize>(
    state: &AppState,
    after: Option<u64>,
    paging: &Paging,
    list: impl FnOnce(&ReadModel) -> Result<Vec<T>, ModelError>,
) -> Result<Json<Page<T>>, Problem> {
    wait_for(state, incidents::NAME, after).await?;
    let rows = list(&model(state, incidents::NAME)?).map_err(read_failed(incidents::NAME))?;
    Ok(Json(paging.page(rows)?))
}

/// `GET /v1/plans/awaiting-approval`: drafted plans no crisis lead approved yet.
pub async fn awaiting_approval(
    State(state): State<AppState>,
    Params(query): Params<ListQuery>,
) -> Result<Json<Page<incidents::AwaitingApproval>>, Problem> {
    incidents_list(
        &state,
        query.after,
        &query.paging(),
        incidents::awaiting_approval,
    )
    .await
}

/// `GET /v1/people/loads`: who holds which incident roles now.
pub async fn loads(
    State(state): State<AppState>,
    Params(query): Params<ListQuery>,
) -> Result<Json<Page<incidents::PersonLoad>>, Problem> {
    incidents_list(&state, query.after, &query.paging(), |tree| {
        incidents::loads(tree, Utc::now())
    })
    .await
}

/// `GET /v1/follow-ups`: incidents in follow-up with unanswered surveys or open problems.
pub async fn open_follow_ups(
    State(state): State<AppState>,
    Params(query): Params<ListQuery>,
) -> Result<Json<Page<incidents::FollowUpView>>, Problem> {
    incidents_list(
        &state,
        query.after,
        &query.paging(),
        incidents::open_follow_ups,
    )
    .await
}

/// `GET /v1/follow-ups/summary`: survey response and satisfaction across incidents.
pub async fn follow_up_summary(
    State(state): State<AppState>,
    Params(query): Params<After>,
) -> Result<Json<incidents::FollowUpSummary>, Problem> {
    wait_for(&state, incidents::NAME, query.after).await?;
    let summary = incidents::follow_up_summary(&model(&state, incidents::NAME)?)
        .map_err(read_failed(incidents::NAME))?;
    Ok(Json(summary))
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewQuery {
    /// Only incidents of this category.
    pub category: Option<Category>,
    /// Only improvements with this owner.
    pub owner: Option<String>,
    /// Answer once the read model has applied this log position.
    pub after: Option<u64>,
    /// Entries per page (default and most: 500).
    #[schemars(range(min = 1))]
    pub limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// `GET /v1/reviews?category=&owner=`: lessons and improvements of reviewed incidents.
pub async fn reviews(
    State(state): State<AppState>,
    Params(query): Params<ReviewQuery>,
) -> Result<Json<Page<incidents::ReviewEntry>>, Problem> {
    let paging = Paging {
        limit: query.limit,
        cursor: query.cursor.clone(),
    };
    incidents_list(&state, query.after, &paging, |tree| {
        incidents::review(tree, query.category, query.owner.as_deref())
    })
    .await
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KpiQuery {
    /// What the KPIs are counted by.
    pub dimension: complaints::Dimension,
    /// Only this value of the dimension (an agent, a tier, a day...).
    pub value: Option<String>,
    /// Answer once the read model has applied this log position.
    pub after: Option<u64>,
    /// Rows per page (default and most: 500).
    #[schemars(range(min = 1))]
    pub limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// `GET /v1/complaints/kpis?dimension=agent|department|tier|channel|day&value=`.
pub async fn complaint_kpis(
    State(state): State<AppState>,
    Params(query): Params<KpiQuery>,
) -> Result<Json<Page<complaints::KpiRow>>, Problem> {
    let paging = Paging {
        limit: query.limit,
        cursor: query.cursor.clone(),
    };
    wait_for(&state, complaints::NAME, query.after).await?;
    let rows = complaints::kpis(
        &model(&state, complaints::NAME)?,
        query.dimension,
        query.value.as_deref(),
    )
    .map_err(read_failed(complaints::NAME))?;
    Ok(Json(paging.page(rows)?))
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FeedQuery {
    /// Signals per page (default and most: 500).
    #[schemars(range(min = 1))]
    pub limit: Option<usize>,
    /// Signals before this log position (the `next_cursor` of the previous page).
    pub cursor: Option<u64>,
    /// Answer once the read model has applied this log position.
    pub after: Option<u64>,
}

/// `GET /v1/monitor/feed`: the newest signals first (no passenger data), a page at a time.
pub async fn monitor_feed(
    State(state): State<AppState>,
    Params(query): Params<FeedQuery>,
) -> Result<Json<Page<monitor::FeedEntry>>, Problem> {
    wait_for(&state, monitor::NAME, query.after).await?;
    let limit = Paging {
        limit: query.limit,
        cursor: None,
    }
    .limit()?;
    let mut items = monitor::feed(&model(&state, monitor::NAME)?, limit + 1, query.cursor)
        .map_err(read_failed(monitor::NAME))?;
    let more = items.len() > limit;
    items.truncate(limit);
    let next_cursor = more
        .then(|| items.last().map(|e| e.position.to_string()))
        .flatten();
    Ok(Json(Page { items, next_cursor }))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CountsQuery {
    /// The window the counts cover, ending now.
    pub window: monitor::Window,
    /// Answer once the read model has applied this log position.
    pub after: Option<u64>,
}

/// `GET /v1/monitor/counts?window=15m|1h|24h`: signals per category, channel, flight and
/// airport over the window.
pub async fn monitor_counts(
    State(state): State<AppState>,
    Params(query): Params<CountsQuery>,
) -> Result<Response, Problem> {
    wait_for(&state, monitor::NAME, query.after).await?;
    let counts = monitor::counts(&model(&state, monitor::NAME)?, query.window, Utc::now())
        .map_err(read_failed(monitor::NAME))?;
    Ok(Json(counts).into_response())
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SpikesQuery {
    /// Spikes detected at or after this instant (RFC 3339; default: the last 24 hours).
    pub since: Option<DateTime<Utc>>,
    /// Answer once the read model has applied this log position.
    pub after: Option<u64>,
}

/// `GET /v1/monitor/spikes?since=`: spikes that opened incidents, newest first.
pub async fn spikes(
    State(state): State<AppState>,
    Params(query): Params<SpikesQuery>,
) -> Result<Json<Vec<crate::projection::spikes::Decided>>, Problem> {
    wait_for(&state, crate::projection::spikes::NAME, query.after).await?;
    let since = query
        .since
        .unwrap_or_else(|| Utc::now() - chrono::Duration::hours(24));
    let found = crate::projection::spikes::detected(
        &model(&state, crate::projection::spikes::NAME)?,
        since,
    )
    .map_err(read_failed(crate::projection::spikes::NAME))?;
    Ok(Json(found))
}
