//! The knowledge base: playbooks, templates and answers, their versions and a search.

use axum::Json;
use axum::extract::State;
use schemars::JsonSchema;
use serde::Deserialize;

use super::AppState;
use super::params::{IdPath, Params};
use super::problem::Problem;
use super::queries::{After, Page, Paging, found, model, read_failed, wait_for};
use super::routes::{READERS, Routes, op, schema};
use crate::domain::common::Category;
use crate::domain::knowledge::{Entry, EntryKind};
use crate::projection::knowledge::{self, EntrySummary, Search};

/// This resource's routes.
pub(super) fn routes(routes: Routes) -> Routes {
    routes
        .create::<Entry>("Publish a playbook, template or answer under a new id (entry_id is chosen by crisisd)")
        .get(
            "/v1/knowledge",
            op("Search the knowledge base: words, kind, disruption type, language, the incident whose review revised an entry")
                .roles(READERS)
                .query(schema::<KnowledgeQuery>)
                .response(schema::<Page<EntrySummary>>),
            search,
        )
        .get(
            "/v1/knowledge/{id}",
            op("An entry at its current version, with its revisions")
                .path(schema::<IdPath>)
                .roles(READERS)
                .query(schema::<After>)
                .response(schema::<EntrySummary>),
            one,
        )
        .commands_of::<Entry>("Knowledge entry command", schema::<IdPath>)
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KnowledgeQuery {
    /// Words that must all appear in the title or the body (any case).
    #[schemars(length(max = 200))]
    pub q: Option<String>,
    pub kind: Option<EntryKind>,
    pub category: Option<Category>,
    pub language: Option<String>,
    /// Only entries a review of this incident revised.
    pub incident: Option<uuid::Uuid>,
    /// Retired entries too (default: no).
    pub retired: Option<bool>,
    /// Answer once the read model has applied this log position.
    pub after: Option<u64>,
    /// Entries per page (default and most: 500).
    #[schemars(range(min = 1))]
    pub limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// `GET /v1/knowledge?q=&kind=&category=&language=&incident=&retired=`.
pub async fn search(
    State(state): State<AppState>,
    Params(query): Params<KnowledgeQuery>,
) -> Result<Json<Page<EntrySummary>>, Problem> {
    if query.q.as_ref().is_some_and(|q| q.chars().count() > 200) {
        return Err(
            Problem::bad_request("invalid_query", "q holds at most 200 characters").field("q"),
        );
    }
    wait_for(&state, knowledge::NAME, query.after).await?;
    let wanted = Search {
        words: query.q,
        kind: query.kind,
        category: query.category,
        language: query.language,
        incident_id: query.incident,
        retired: query.retired.unwrap_or(false),
    };
    let rows = knowledge::search(&model(&state, knowledge::NAME)?, &wanted)
        .map_err(read_failed(knowledge::NAME))?;
    let paging = Paging {
        limit: query.limit,
        cursor: query.cursor,
    };
    Ok(Json(paging.page(rows)?))
}

/// `GET /v1/knowledge/{id}`.
pub async fn one(
    State(state): State<AppState>,
    IdPath { id }: IdPath,
    Params(query): Params<After>,
) -> Result<Json<EntrySummary>, Problem> {
    wait_for(&state, knowledge::NAME, query.after).await?;
    let entry = knowledge::entry(&model(&state, knowledge::NAME)?, id)
        .map_err(read_failed(knowledge::NAME))?;
    found(entry, "knowledge entry")
}
