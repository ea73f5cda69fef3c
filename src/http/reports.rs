//! Periodic reports: a day's, a week's or a month's customer-service figures, in total
//! and per department, agent, tier, channel or route, as JSON or CSV.

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
use crate::projection::reports::{self, By, Period, PeriodKind, Report};

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
