//! Incidents: opening one, its commands, the pipeline board and the views of each stage.

use axum::Json;
use axum::extract::State;
use chrono::Utc;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::AppState;
use super::auth::Caller;
use super::params::{IdPath, Params};
use super::problem::Problem;
use super::queries::{
    After, ListQuery, OneQuery, Page, Paging, SummaryOrAsOf, bad_cursor, found, model, read_failed,
    summary_or_as_of, timeline_of, wait_for,
};
use super::routes::{READERS, Routes, op, schema};
use crate::domain::common::{Category, Severity};
use crate::domain::incident::{Incident, Stage};
use crate::projection::{ModelError, ReadModel, compensations, complaints, incidents};

/// This resource's routes.
pub(super) fn routes(routes: Routes) -> Routes {
    routes
        .create::<Incident>("Open an incident under a new id (incident_id is chosen by crisisd)")
        .get(
            "/v1/incidents",
            op(concat!(
                "Pipeline board of open incidents: most severe first, ",
                "then longest in their stage, then id"
            ))
            .roles(READERS)
            .query(schema::<BoardQuery>)
            .response(schema::<Page<incidents::BoardRow>>),
            incident_board,
        )
        .get(
            "/v1/plans/awaiting-approval",
            op("Plans waiting for a crisis lead")
                .roles(READERS)
                .query(schema::<ListQuery>)
                .response(schema::<Page<incidents::AwaitingApproval>>),
            awaiting_approval,
        )
        .get(
            "/v1/people/loads",
            op("Who holds which incident roles now")
                .roles(READERS)
                .query(schema::<ListQuery>)
                .response(schema::<Page<incidents::PersonLoad>>),
            loads,
        )
        .get(
            "/v1/follow-ups",
            op("Incidents in follow-up with open work")
                .roles(READERS)
                .query(schema::<ListQuery>)
                .response(schema::<Page<incidents::FollowUpView>>),
            open_follow_ups,
        )
        .get(
            "/v1/follow-ups/summary",
            op("Survey response and satisfaction across incidents")
                .roles(READERS)
                .query(schema::<After>)
                .response(schema::<incidents::FollowUpSummary>),
            follow_up_summary,
        )
        .get(
            "/v1/reviews",
            op("Lessons and improvements of reviewed incidents")
                .roles(READERS)
                .query(schema::<ReviewQuery>)
                .response(schema::<Page<incidents::ReviewEntry>>),
            reviews,
        )
        .get(
            "/v1/incidents/{id}",
            op("An incident's summary, or its state as of an instant")
                .path(schema::<IdPath>)
                .roles(READERS)
                .query(schema::<OneQuery>)
                .response(schema::<SummaryOrAsOf<incidents::IncidentSummary>>),
            incident,
        )
        .get(
            "/v1/incidents/{id}/timeline",
            op("An incident's events with their actors")
                .path(schema::<IdPath>)
                .roles(READERS)
                .query(schema::<ListQuery>)
                .response(schema::<Page<super::queries::TimelineItem>>),
            incident_timeline,
        )
        .get(
            "/v1/incidents/{id}/impact",
            op("An incident's impact assessment")
                .path(schema::<IdPath>)
                .roles(READERS)
                .query(schema::<After>)
                .response(schema::<incidents::ImpactView>),
            incident_impact,
        )
        .get(
            "/v1/incidents/{id}/plans",
            op("An incident's approved plans")
                .path(schema::<IdPath>)
                .roles(READERS)
                .query(schema::<After>)
                .response(schema::<incidents::ApprovedPlans>),
            incident_plans,
        )
        .get(
            "/v1/incidents/{id}/execution",
            op("An incident's contacts and compensations")
                .path(schema::<IdPath>)
                .roles(READERS)
                .query(schema::<After>)
                .response(schema::<compensations::ExecutionView>),
            incident_execution,
        )
        .get(
            "/v1/incidents/{id}/entitlements",
            op("An incident's compensation ledger: per flight, passenger and regime, owed, offered, paid, overdue, with deadlines")
                .path(schema::<IdPath>)
                .roles(READERS)
                .query(schema::<After>)
                .response(schema::<compensations::IncidentLedger>),
            incident_entitlements,
        )
        .get(
            "/v1/incidents/{id}/cost",
            op("An incident, cause to cost: its causes, signals, complaints, passengers affected, compensation owed, offered and paid per regime and currency, care owed, satisfaction; with the ids and positions behind each figure")
                .path(schema::<IdPath>)
                .roles(READERS)
                .query(schema::<After>)
                .response(schema::<crate::analysis::cost::IncidentCost>),
            incident_cost,
        )
        .get(
            "/v1/incidents/{id}/follow-up",
            op("An incident's surveys and open problems")
                .path(schema::<IdPath>)
                .roles(READERS)
                .query(schema::<After>)
                .response(schema::<incidents::FollowUpView>),
            incident_follow_up,
        )
        .commands_of::<Incident>("Incident command", schema::<IdPath>)
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
    wait_for(&state, complaints::NAME, query.after).await?;
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
    let mut page = incidents::board(&tree, Utc::now(), &filter, after.as_ref(), paging.limit()?)
        .map_err(read_failed(incidents::NAME))?;
    let complaints_model = model(&state, complaints::NAME)?;
    for row in &mut page.rows {
        row.open_complaints = complaints::open_of_incident(&complaints_model, row.incident_id)
            .map_err(read_failed(complaints::NAME))?;
    }
    Ok(Json(Page {
        items: page.rows,
        next_cursor: page.next.map(|key| key.encode()),
    }))
}

/// `GET /v1/incidents/{id}`: one incident's summary, or with `?as_of=` its state then.
pub async fn incident(
    State(state): State<AppState>,
    caller: Caller,
    IdPath { id }: IdPath,
    Params(query): Params<OneQuery>,
) -> Result<Json<SummaryOrAsOf<incidents::IncidentSummary>>, Problem> {
    let stream = crate::domain::incident::stream_name(id);
    summary_or_as_of::<Incident, _>(
        &state,
        &caller,
        &stream,
        query,
        incidents::NAME,
        "incident",
        |model| incidents::summary(model, id),
    )
    .await
}

/// `GET /v1/incidents/{id}/timeline`: every event of the incident, in order.
pub async fn incident_timeline(
    State(state): State<AppState>,
    caller: Caller,
    IdPath { id }: IdPath,
    Params(query): Params<ListQuery>,
) -> Result<Json<Page<super::queries::TimelineItem>>, Problem> {
    let stream = crate::domain::incident::stream_name(id);
    timeline_of(&state, &caller, &stream, query, "incident").await
}

/// Answers one incident's view of a model by a query function.
async fn incident_view<T: Serialize>(
    state: &AppState,
    id: Uuid,
    after: Option<u64>,
    view: impl FnOnce(&ReadModel, Uuid) -> Result<Option<T>, ModelError>,
) -> Result<Json<T>, Problem> {
    wait_for(state, incidents::NAME, after).await?;
    let found_view =
        view(&model(state, incidents::NAME)?, id).map_err(read_failed(incidents::NAME))?;
    found(found_view, "incident")
}

/// `GET /v1/incidents/{id}/impact`: the assessment with passengers by tier and roles.
pub async fn incident_impact(
    State(state): State<AppState>,
    IdPath { id }: IdPath,
    Params(query): Params<After>,
) -> Result<Json<incidents::ImpactView>, Problem> {
    incident_view(&state, id, query.after, |tree, id| {
        incidents::impact(tree, id, Utc::now())
    })
    .await
}

/// `GET /v1/incidents/{id}/plans`: the approved communication and compensation plans.
pub async fn incident_plans(
    State(state): State<AppState>,
    IdPath { id }: IdPath,
    Params(query): Params<After>,
) -> Result<Json<incidents::ApprovedPlans>, Problem> {
    incident_view(&state, id, query.after, incidents::approved).await
}

/// `GET /v1/incidents/{id}/follow-up`: surveys, satisfaction and open problems.
pub async fn incident_follow_up(
    State(state): State<AppState>,
    IdPath { id }: IdPath,
    Params(query): Params<After>,
) -> Result<Json<incidents::FollowUpView>, Problem> {
    incident_view(&state, id, query.after, incidents::follow_up).await
}

/// `GET /v1/incidents/{id}/execution`: contacts and compensations of an incident.
pub async fn incident_execution(
    State(state): State<AppState>,
    IdPath { id }: IdPath,
    Params(query): Params<After>,
) -> Result<Json<compensations::ExecutionView>, Problem> {
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

/// `GET /v1/incidents/{id}/entitlements`: the ledger lines of every entitlement linked
/// to the incident, and their totals (an incident with none has none; an unknown
/// incident is a 404).
pub async fn incident_entitlements(
    State(state): State<AppState>,
    IdPath { id }: IdPath,
    Params(query): Params<After>,
) -> Result<Json<compensations::IncidentLedger>, Problem> {
    wait_for(&state, incidents::NAME, query.after).await?;
    wait_for(&state, compensations::NAME, query.after).await?;
    let known = incidents::summary(&model(&state, incidents::NAME)?, id)
        .map_err(read_failed(incidents::NAME))?
        .is_some();
    let ledger = known
        .then(|| {
            compensations::incident_ledger(&model(&state, compensations::NAME)?, id, Utc::now())
                .map_err(read_failed(compensations::NAME))
        })
        .transpose()?;
    found(ledger, "incident")
}

/// `GET /v1/incidents/{id}/cost`: the incident, cause to cost.
pub async fn incident_cost(
    State(state): State<AppState>,
    IdPath { id }: IdPath,
    Params(query): Params<After>,
) -> Result<Json<crate::analysis::cost::IncidentCost>, Problem> {
    let read = super::reports::CostModels::read(&state, query.after).await?;
    let cost = crate::analysis::cost::incident(&read.models(), id, Utc::now())
        .map_err(read_failed(incidents::NAME))?;
    found(cost, "incident")
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
