//! Customer suggestions: registering one, its loop's commands, the list and one
//! suggestion (without the customer's words).

use axum::Json;
use axum::extract::State;
use chrono::Utc;
use schemars::JsonSchema;
use serde::Deserialize;

use super::AppState;
use super::params::{IdPath, Params};
use super::problem::Problem;
use super::queries::{After, Page, Paging, found, model, read_failed, wait_for};
use super::routes::{READERS, Routes, op, schema};
use crate::domain::complaint::Department;
use crate::domain::suggestion::Suggestion;
use crate::projection::suggestions::{self, Stage, SuggestionSummary};

/// This resource's routes.
pub(super) fn routes(routes: Routes) -> Routes {
    routes
        .create::<Suggestion>(
            "Register a customer's suggestion under a new id (suggestion_id is chosen by crisisd)",
        )
        .get(
            "/v1/suggestions",
            op("Customer suggestions in order of receipt, with their stage and evaluation deadline")
                .roles(READERS)
                .query(schema::<SuggestionQuery>)
                .response(schema::<Page<SuggestionSummary>>),
            list,
        )
        .get(
            "/v1/suggestions/{id}",
            op("A suggestion's stage, topic, department and deadline")
                .path(schema::<IdPath>)
                .roles(READERS)
                .query(schema::<After>)
                .response(schema::<SuggestionSummary>),
            one,
        )
        .commands_of::<Suggestion>("Suggestion command", schema::<IdPath>)
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SuggestionQuery {
    pub stage: Option<Stage>,
    pub department: Option<Department>,
    /// Only those past their evaluation deadline (`true`) or not (`false`).
    pub overdue: Option<bool>,
    /// Answer once the read model has applied this log position.
    pub after: Option<u64>,
    /// Suggestions per page (default and most: 500).
    #[schemars(range(min = 1))]
    pub limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// `GET /v1/suggestions?stage=&department=&overdue=`.
pub async fn list(
    State(state): State<AppState>,
    Params(query): Params<SuggestionQuery>,
) -> Result<Json<Page<SuggestionSummary>>, Problem> {
    wait_for(&state, suggestions::NAME, query.after).await?;
    let now = Utc::now();
    let rows: Vec<SuggestionSummary> = suggestions::list(
        &model(&state, suggestions::NAME)?,
        query.stage,
        query.department,
    )
    .map_err(read_failed(suggestions::NAME))?
    .into_iter()
    .map(|s| s.at(now))
    .filter(|s| query.overdue.is_none_or(|o| o == s.overdue))
    .collect();
    let paging = Paging {
        limit: query.limit,
        cursor: query.cursor,
    };
    Ok(Json(paging.page(rows)?))
}

/// `GET /v1/suggestions/{id}`.
pub async fn one(
    State(state): State<AppState>,
    IdPath { id }: IdPath,
    Params(query): Params<After>,
) -> Result<Json<SuggestionSummary>, Problem> {
    wait_for(&state, suggestions::NAME, query.after).await?;
    let found_one = suggestions::suggestion(&model(&state, suggestions::NAME)?, id)
        .map_err(read_failed(suggestions::NAME))?
        .map(|s| s.at(Utc::now()));
    found(found_one, "suggestion")
}
