//! Complaints: registering one, its commands, its views and the KPIs.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, NaiveDate, Utc};
use schemars::JsonSchema;
use serde::Deserialize;

use super::AppState;
use super::auth::Caller;
use super::params::{IdPath, Params, flight_filter};
use super::problem::Problem;
use super::queries::{
    ListQuery, OneQuery, Page, Paging, SummaryOrAsOf, bad_cursor, model, read_failed,
    summary_or_as_of, timeline_of, wait_for,
};
use super::routes::{READERS, Routes, op, schema};
use crate::domain::complaint::Complaint;
use crate::projection::complaints;

/// This resource's routes.
pub(super) fn routes(routes: Routes) -> Routes {
    routes
        .create::<Complaint>(
            "Register a complaint under a new id (complaint_id is chosen by crisisd)",
        )
        .get(
            "/v1/complaints",
            op("The queue of open complaints, oldest first, each with its service-level deadlines and the time left")
                .roles(READERS)
                .query(schema::<QueueQuery>)
                .response(schema::<Page<complaints::ComplaintSummary>>),
            complaint_queue,
        )
        .get(
            "/v1/complaints/kpis",
            op("Complaint KPIs per dimension value")
                .roles(READERS)
                .query(schema::<KpiQuery>)
                .response(schema::<Page<complaints::KpiRow>>),
            complaint_kpis,
        )
        .get(
            "/v1/complaints/quality-sample",
            op("A supervisor's sample of the complaints closed on a day and not yet scored for quality")
                .roles(READERS)
                .query(schema::<SampleQuery>)
                .response(schema::<Page<complaints::ComplaintSummary>>),
            quality_sample,
        )
        .get(
            "/v1/complaints/{id}",
            op("A complaint's summary, or its state as of an instant")
                .path(schema::<IdPath>)
                .roles(READERS)
                .query(schema::<OneQuery>)
                .response(schema::<SummaryOrAsOf<complaints::ComplaintSummary>>),
            complaint,
        )
        .get(
            "/v1/complaints/{id}/timeline",
            op("A complaint's events with their actors")
                .path(schema::<IdPath>)
                .roles(READERS)
                .query(schema::<ListQuery>)
                .response(schema::<Page<super::queries::TimelineItem>>),
            complaint_timeline,
        )
        .commands_of::<Complaint>("Complaint command", schema::<IdPath>)
}

/// `GET /v1/complaints/{id}`: one complaint (without the customer's words), or with
/// `?as_of=` its state then.
pub async fn complaint(
    State(state): State<AppState>,
    caller: Caller,
    IdPath { id }: IdPath,
    Params(query): Params<OneQuery>,
) -> Result<Json<SummaryOrAsOf<complaints::ComplaintSummary>>, Problem> {
    let stream = crate::domain::complaint::stream_name(id);
    summary_or_as_of::<Complaint, _>(
        &state,
        &caller,
        &stream,
        query,
        complaints::NAME,
        "complaint",
        |model| Ok(complaints::complaint(model, id)?.map(|c| c.at(Utc::now()))),
    )
    .await
}

/// `GET /v1/complaints/{id}/timeline`: every event of the complaint, in order.
pub async fn complaint_timeline(
    State(state): State<AppState>,
    caller: Caller,
    IdPath { id }: IdPath,
    Params(query): Params<ListQuery>,
) -> Result<Json<Page<super::queries::TimelineItem>>, Problem> {
    let stream = crate::domain::complaint::stream_name(id);
    timeline_of(&state, &caller, &stream, query, "complaint").await
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SampleQuery {
    /// The day the complaints closed, `YYYY-MM-DD` (UTC).
    pub date: NaiveDate,
    /// How many (default 10, at most 500).
    #[schemars(range(min = 1, max = 500))]
    pub size: Option<usize>,
    /// Answer once the read model has applied this log position.
    pub after: Option<u64>,
}

/// `GET /v1/complaints/quality-sample?date=&size=`: the same sample whoever asks, until
/// its complaints are scored (`score_quality`).
pub async fn quality_sample(
    State(state): State<AppState>,
    Params(query): Params<SampleQuery>,
) -> Result<Json<Page<complaints::ComplaintSummary>>, Problem> {
    let size = query.size.unwrap_or(10);
    if !(1..=500).contains(&size) {
        return Err(
            Problem::bad_request("invalid_query", format!("size is 1 to 500, not {size}"))
                .field("size"),
        );
    }
    wait_for(&state, complaints::NAME, query.after).await?;
    let items = complaints::quality_sample(&model(&state, complaints::NAME)?, query.date, size)
        .map_err(read_failed(complaints::NAME))?;
    Ok(Json(Page {
        items,
        next_cursor: None,
    }))
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
pub struct QueueQuery {
    /// Only complaints where they stand now (any open status; closed ones leave the
    /// queue).
    pub status: Option<complaints::Status>,
    pub tier: Option<crate::domain::common::Tier>,
    pub channel: Option<crate::domain::common::Channel>,
    pub category: Option<crate::domain::common::Category>,
    /// Only complaints this agent or supervisor owns.
    pub owner: Option<String>,
    /// The flight's designator and number, e.g. `LH400` (with `date`).
    pub flight: Option<String>,
    /// The flight's origin date, `YYYY-MM-DD` (with `flight`).
    pub date: Option<NaiveDate>,
    /// Only complaints of this incident.
    pub incident: Option<uuid::Uuid>,
    /// Only complaints with (`true`) or without (`false`) a breached service level.
    pub breached: Option<bool>,
    /// Only complaints whose next running deadline falls before this instant (RFC
    /// 3339): what must be worked on first.
    pub due_before: Option<DateTime<Utc>>,
    /// Answer once the read model has applied this log position.
    pub after: Option<u64>,
    /// Complaints per page (default and most: 500).
    #[schemars(range(min = 1))]
    pub limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Open complaints one queue request reads at most: a filter matching rarely answers a
/// short page with a cursor to continue, never a scan of every open complaint.
const QUEUE_SCAN_MAX: usize = 20_000;

/// `GET /v1/complaints`: the open complaints, oldest receipt first, filtered, a page
/// at a time; each with its deadlines and the time left on the running ones.
pub async fn complaint_queue(
    State(state): State<AppState>,
    Params(query): Params<QueueQuery>,
) -> Result<Json<Page<complaints::ComplaintSummary>>, Problem> {
    wait_for(&state, complaints::NAME, query.after).await?;
    let limit = Paging {
        limit: query.limit,
        cursor: None,
    }
    .limit()?;
    let cursor = query
        .cursor
        .as_deref()
        .map(|c| c.parse().map_err(|()| bad_cursor()))
        .transpose()?;
    let filter = complaints::QueueFilter {
        status: query.status,
        tier: query.tier,
        channel: query.channel,
        category: query.category,
        owner: query.owner,
        flight: flight_filter(query.flight.as_deref(), query.date)?,
        incident_id: query.incident,
        breached: query.breached,
        due_before: query.due_before,
    };
    let (items, next) = complaints::queue(
        &model(&state, complaints::NAME)?,
        &filter,
        cursor,
        limit,
        QUEUE_SCAN_MAX,
    )
    .map_err(read_failed(complaints::NAME))?;
    let now = Utc::now();
    Ok(Json(Page {
        items: items.into_iter().map(|c| c.at(now)).collect(),
        next_cursor: next.map(|c| c.to_string()),
    }))
}
