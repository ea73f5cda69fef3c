//! Complaints: registering one, its commands, its views and the KPIs.

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use schemars::JsonSchema;
use serde::Deserialize;

use super::AppState;
use super::auth::Caller;
use super::params::{IdPath, Params};
use super::problem::Problem;
use super::queries::{
    ListQuery, OneQuery, Page, Paging, model, read_failed, summary_or_as_of, timeline_of, wait_for,
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
            "/v1/complaints/kpis",
            op("Complaint KPIs per dimension value")
                .roles(READERS)
                .query(schema::<KpiQuery>)
                .response(schema::<Page<complaints::KpiRow>>),
            complaint_kpis,
        )
        .get(
            "/v1/complaints/{id}",
            op("A complaint's summary, or its state as of an instant")
                .path(schema::<IdPath>)
                .roles(READERS)
                .query(schema::<OneQuery>)
                .response(schema::<complaints::ComplaintSummary>),
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
) -> Result<Response, Problem> {
    let stream = crate::domain::complaint::stream_name(id);
    summary_or_as_of::<Complaint, _>(
        &state,
        &caller,
        &stream,
        query,
        complaints::NAME,
        "complaint",
        |model| complaints::complaint(model, id),
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
