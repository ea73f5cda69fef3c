//! The monitor: the live signal feed, counts over windows, detected spikes.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use chrono::DateTime;
use chrono::Utc;
use schemars::JsonSchema;
use serde::Deserialize;

use super::AppState;
use super::params::{Params, flight_filter};
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
                .response(schema::<Page<crate::projection::spikes::Decided>>),
            spikes,
        )
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FeedQuery {
    /// Signals per page (default and most: 500).
    #[schemars(range(min = 1))]
    pub limit: Option<usize>,
    pub category: Option<crate::domain::common::Category>,
    pub channel: Option<crate::domain::common::Channel>,
    /// The flight's designator and number, e.g. `LH400` (with `date`).
    pub flight: Option<String>,
    /// The flight's origin date, `YYYY-MM-DD` (with `flight`).
    pub date: Option<chrono::NaiveDate>,
    /// IATA code of the airport the signal is about.
    pub airport: Option<String>,
    /// Signals observed at or after this instant (RFC 3339).
    pub since: Option<DateTime<Utc>>,
    /// Signals observed before this instant (RFC 3339).
    pub until: Option<DateTime<Utc>>,
    /// Signals before this log position (the `next_cursor` of the previous page).
    pub cursor: Option<u64>,
    /// Answer once the read model has applied this log position.
    pub after: Option<u64>,
}

/// Signals one feed request reads at most: a filter matching rarely answers a short page
/// with a cursor to continue, never a scan of the whole log.
const FEED_SCAN_MAX: usize = 20_000;

/// `GET /v1/monitor/feed`: the newest signals first (no passenger data), a page at a
/// time, filtered by category, channel, flight, airport and time range.
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
    let flight = flight_filter(query.flight.as_deref(), query.date)?;
    let filter = monitor::FeedFilter {
        category: query.category,
        channel: query.channel,
        flight,
        airport: query.airport.clone(),
        since: query.since,
        until: query.until,
    };
    let (mut items, stopped) = monitor::feed_filtered(
        &model(&state, monitor::NAME)?,
        limit + 1,
        query.cursor,
        &filter,
        FEED_SCAN_MAX,
    )
    .map_err(read_failed(monitor::NAME))?;
    let more = items.len() > limit;
    items.truncate(limit);
    let next_cursor = if more {
        items.last().map(|e| e.position.to_string())
    } else {
        stopped.map(|position| position.to_string())
    };
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
    /// Spikes per page (default and most: 500).
    #[schemars(range(min = 1))]
    pub limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// `GET /v1/monitor/spikes?since=`: spikes that opened incidents, newest first.
pub async fn spikes(
    State(state): State<AppState>,
    Params(query): Params<SpikesQuery>,
) -> Result<Json<Page<crate::projection::spikes::Decided>>, Problem> {
    wait_for(&state, crate::projection::spikes::NAME, query.after).await?;
    let since = query
        .since
        .unwrap_or_else(|| Utc::now() - chrono::Duration::hours(24));
    let found = crate::projection::spikes::detected(
        &model(&state, crate::projection::spikes::NAME)?,
        since,
    )
    .map_err(read_failed(crate::projection::spikes::NAME))?;
    let paging = Paging {
        limit: query.limit,
        cursor: query.cursor.clone(),
    };
    Ok(Json(paging.page(found)?))
}
