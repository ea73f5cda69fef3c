//! Periodic reports: a day's, a week's or a month's customer-service figures, in total
//! and per department, agent, tier, channel or route, as JSON or CSV; and cause to cost
//! for the disrupted flights of a period (on a route) and for a root cause, each with
//! the ids and log positions behind its figures.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{NaiveDate, Utc};
use schemars::JsonSchema;
use serde::Deserialize;

use super::AppState;
use super::params::Params;
use super::problem::Problem;
use super::queries::{model, read_failed, wait_for};
use super::routes::{READERS, Routes, op, schema};
use crate::analysis::cost::{self, PeriodCost, RootCauseCost};
use crate::analysis::what_if::WhatIfReport;
use crate::domain::common::Role;
use crate::domain::common::{AirportCode, RootCause};
use crate::projection::reports::{self, By, Period, PeriodKind, Report};
use crate::projection::{ReadModel, compensations, complaints, disruptions, flights, incidents};
use axum::http::StatusCode;

/// This resource's routes.
pub(super) fn routes(routes: Routes) -> Routes {
    routes
        .get(
            "/v1/reports",
            op("A day's, week's or month's customer-service report: volumes, resolution and on-time rates, satisfaction, handling time, breaches per tier, top root causes against the previous period")
                .roles(READERS)
                .query(schema::<ReportQuery>)
                .response(schema::<Report>),
            report,
        )
        .get(
            "/v1/reports.csv",
            op("The same report as CSV (RFC 4180): a row per value, the total last")
                .roles(READERS)
                .query(schema::<ReportQuery>)
                .media("text/csv"),
            report_csv,
        )
        .get(
            "/v1/costs/flights",
            op("The disrupted flights of a period (at most 31 days; on a route if given), cause to cost: the flights, incidents, signals, complaints, passengers, compensation owed, offered and paid per regime and currency, care owed, satisfaction; with the ids and positions behind each figure")
                .roles(READERS)
                .query(schema::<PeriodCostQuery>)
                .response(schema::<PeriodCost>),
            period_cost,
        )
        .post(
            "/v1/what-if",
            op("What a candidate crisis or compensation policy would have changed over a range of history: breaches that would or would not have happened, incidents opened earlier, later, at another severity or not at all, goodwill per currency; writes nothing (long ranges: `crisisd what-if` offline)")
                .roles(&[Role::CrisisLead, Role::Auditor])
                .request(schema::<WhatIfBody>)
                .response(schema::<WhatIfReport>),
            what_if,
        )
        .get(
            "/v1/costs/root-cause",
            op("A root cause, cause to cost: the complaints whose resolution names it, their passengers and satisfaction, and the compensation owed, offered and paid on what those resolutions offered; with the ids and positions behind each figure")
                .roles(READERS)
                .query(schema::<RootCauseCostQuery>)
                .response(schema::<RootCauseCost>),
            root_cause_cost,
        )
}

/// A what-if run: the candidate policies (`null`: the one in force) and the range.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WhatIfBody {
    /// A crisis policy (the shape of deploy/crisis-policy.json; fields left out keep the
    /// built-in policy's values), or `null` for the one in force.
    #[serde(default)]
    pub policy: Option<serde_json::Map<String, serde_json::Value>>,
    /// A compensation policy (the shape of deploy/compensation-policy.json), or `null`.
    #[serde(default)]
    pub compensation_policy: Option<serde_json::Map<String, serde_json::Value>>,
    /// The first log position replayed (default 1).
    #[schemars(range(min = 1))]
    pub from: Option<u64>,
    /// The last (default: the head).
    pub to: Option<u64>,
}

/// `POST /v1/what-if`: replays the range under the policies in force and the candidates
/// on scratch models, apart from the store.
pub async fn what_if(
    State(state): State<AppState>,
    body: axum::body::Bytes,
) -> Result<Json<WhatIfReport>, Problem> {
    use crate::domain::policy::compensation_policy::CompensationPolicy;
    use crate::domain::policy::crisis::CrisisPolicy;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(Problem::bad_request(
            "invalid_body",
            "send a JSON object: {} compares the policies in force with themselves",
        )
        .field(""));
    }
    let request: WhatIfBody = super::commands::typed_body(&body)?;
    if request.from == Some(0) {
        return Err(Problem::bad_request(
            "invalid_body",
            "from is a log position: 1 or more (positions start at 1)",
        )
        .field("/from"));
    }
    let invalid = |field: &str, why: String| {
        Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_policy", why).field(field)
    };
    let in_force = state.policy().clone();
    let candidate = match &request.policy {
        Some(policy) => CrisisPolicy::parse(&serde_json::Value::Object(policy.clone()).to_string())
            .map_err(|why| invalid("/policy", why))?,
        None => in_force.clone(),
    };
    let comp_in_force = state.compensation_policy().clone();
    let comp_candidate = match &request.compensation_policy {
        Some(policy) => {
            CompensationPolicy::parse(&serde_json::Value::Object(policy.clone()).to_string())
                .map_err(|why| invalid("/compensation_policy", why.to_string()))?
        }
        None => comp_in_force.clone(),
    };
    let store = state.store().clone();
    let (from, to) = (
        request.from.unwrap_or(1).max(1),
        request.to.unwrap_or(u64::MAX),
    );
    let report = tokio::task::spawn_blocking(move || {
        let policies = crate::analysis::what_if::Policies {
            crisis: (&in_force, &candidate),
            compensation: (&comp_in_force, &comp_candidate),
        };
        crate::analysis::what_if::replay(&store, &policies, from, to)
    })
    .await
    .map_err(|err| Problem::unavailable(format!("the what-if replay stopped: {err}")))?
    .map_err(|err| Problem::unavailable(format!("the what-if replay failed: {err}; retry")))?;
    Ok(Json(report))
}

/// Which flights.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PeriodCostQuery {
    /// The first day, `YYYY-MM-DD`: flights by scheduled departure date at the origin.
    pub from: NaiveDate,
    /// The last day (default: `from`); at most 30 days after it.
    pub to: Option<NaiveDate>,
    /// Only flights scheduled from one airport to another: `FRA-JFK` (IATA codes).
    #[schemars(regex(pattern = r"^[A-Z]{3}-[A-Z]{3}$"))]
    pub route: Option<String>,
    /// Answer once the read models have applied this log position.
    pub after: Option<u64>,
}

/// Which root cause.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RootCauseCostQuery {
    /// A code of the crisis policy's root causes, e.g. `baggage/delayed`.
    pub code: RootCause,
    /// Answer once the read models have applied this log position.
    pub after: Option<u64>,
}

/// The read models cause to cost reads, once each has applied `after`.
pub(super) struct CostModels {
    incidents: ReadModel,
    complaints: ReadModel,
    compensations: ReadModel,
    disruptions: ReadModel,
}

/// The model `name` once it has applied `after`.
pub(super) async fn applied(
    state: &AppState,
    name: &'static str,
    after: Option<u64>,
) -> Result<ReadModel, Problem> {
    wait_for(state, name, after).await?;
    model(state, name)
}

impl CostModels {
    pub(super) async fn read(state: &AppState, after: Option<u64>) -> Result<CostModels, Problem> {
        Ok(CostModels {
            incidents: applied(state, incidents::NAME, after).await?,
            complaints: applied(state, complaints::NAME, after).await?,
            compensations: applied(state, compensations::NAME, after).await?,
            disruptions: applied(state, disruptions::NAME, after).await?,
        })
    }

    pub(super) fn models(&self) -> cost::Models<'_> {
        cost::Models {
            incidents: &self.incidents,
            complaints: &self.complaints,
            compensations: &self.compensations,
            disruptions: &self.disruptions,
        }
    }
}

/// `GET /v1/costs/flights?from=&to=&route=`.
pub async fn period_cost(
    State(state): State<AppState>,
    Params(query): Params<PeriodCostQuery>,
) -> Result<Json<PeriodCost>, Problem> {
    let to = query.to.unwrap_or(query.from);
    let days = (to - query.from).num_days();
    if !(0..cost::PERIOD_DAYS_MAX).contains(&days) {
        return Err(Problem::bad_request(
            "invalid_query",
            format!(
                "to ({to}) must be from ({}) or a day up to {} days after it; ask period by period",
                query.from,
                cost::PERIOD_DAYS_MAX - 1
            ),
        )
        .field("to"));
    }
    let route = query.route.as_deref().map(parse_route).transpose()?;
    let read = CostModels::read(&state, query.after).await?;
    let flights_model = applied(&state, flights::NAME, query.after).await?;
    cost::period(
        &read.models(),
        &flights_model,
        (query.from, to),
        route,
        Utc::now(),
    )
    .map(Json)
    .map_err(read_failed(flights::NAME))
}

/// `FRA-JFK` → its two airports, or a 400 saying what a route looks like.
fn parse_route(route: &str) -> Result<(AirportCode, AirportCode), Problem> {
    let refused = || {
        Problem::bad_request(
            "invalid_query",
            format!("route {route:?} is not two IATA airport codes joined by '-', e.g. FRA-JFK"),
        )
        .field("route")
    };
    let (origin, destination) = route.split_once('-').ok_or_else(refused)?;
    Ok((
        AirportCode::parse(origin).map_err(|_| refused())?,
        AirportCode::parse(destination).map_err(|_| refused())?,
    ))
}

/// `GET /v1/costs/root-cause?code=`.
pub async fn root_cause_cost(
    State(state): State<AppState>,
    Params(query): Params<RootCauseCostQuery>,
) -> Result<Json<RootCauseCost>, Problem> {
    state
        .policy()
        .root_causes
        .require(&query.code)
        .map_err(Problem::not_found)?;
    let read = CostModels::read(&state, query.after).await?;
    let reports_model = applied(&state, reports::NAME, query.after).await?;
    cost::root_cause(&read.models(), &reports_model, &query.code, Utc::now())
        .map(Json)
        .map_err(read_failed(reports::NAME))
}

/// Which report.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    /// `day`, `week` (Monday to Sunday) or `month`.
    pub period: PeriodKind,
    /// Any day of the period, `YYYY-MM-DD` (UTC): the week or month holding it.
    pub date: NaiveDate,
    /// `all` (default), `department`, `agent`, `tier`, `channel`, `route` or `root_cause`.
    pub by: Option<By>,
    /// Answer once the read model has applied this log position.
    pub after: Option<u64>,
}

async fn read(state: &AppState, query: &ReportQuery) -> Result<Report, Problem> {
    wait_for(state, reports::NAME, query.after).await?;
    let period = Period::of(query.period, query.date)
        .map_err(|why| Problem::bad_request("invalid_query", why).field("date"))?;
    reports::report(
        &model(state, reports::NAME)?,
        period,
        query.by.unwrap_or(By::All),
        Utc::now().date_naive(),
    )
    .map_err(read_failed(reports::NAME))
}

/// `GET /v1/reports?period=&date=&by=`.
pub async fn report(
    State(state): State<AppState>,
    Params(query): Params<ReportQuery>,
) -> Result<Json<Report>, Problem> {
    Ok(Json(read(&state, &query).await?))
}

/// `GET /v1/reports.csv?period=&date=&by=`.
pub async fn report_csv(
    State(state): State<AppState>,
    Params(query): Params<ReportQuery>,
) -> Result<Response, Problem> {
    let report = read(&state, &query).await?;
    let file = format!(
        "attachment; filename=\"report-{}-{}.csv\"",
        crate::projection::spelled(&report.period.kind),
        report.period.first_day
    );
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, file),
        ],
        reports::report_csv(&report),
    )
        .into_response())
}
