//! The monitor: the live signal feed, counts over windows, detected spikes.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use chrono::DateTime;
use chrono::Utc;
use schemars::JsonSchema;
use serde::Deserialize;

use super::AppState;
use super::params::Params;
use super::problem::Problem;
use super::queries::{Page, Paging, model, read_failed, wait_for};
use super::routes::{READERS, Routes, op, schema};
use crate::projection::monitor;

/// This resource's routes.
pub(super) fn routes(routes: Routes) -> Routes {
    routes
        .get(
            "/v1/monitor/feed",
            op("Newest signals first")
                .roles(READERS)
                .query(schema::<FeedQuery>)
                .response(schema::<Page<monitor::FeedEntry>>),
            monitor_feed,
        )
        .get(
            "/v1/monitor/counts",
            op("Signal counts per dimension over a window")
                .roles(READERS)
                .query(schema::<CountsQuery>),
            monitor_counts,
        )
        .get(
            "/v1/monitor/spikes",
            op("Spikes that opened incidents")
                .roles(READERS)
                .query(schema::<SpikesQuery>)
                .response(schema::<Vec<crate::projection::spikes::Decided>>),
            spikes,
        )
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
