//! What every read over the read models shares. Every query accepts
//! `?after=<position>`: it answers once its read model has applied that position (the
//! `position` a command returned), so a client reads its own writes without polling;
//! after [`super::WAIT_MAX`] it answers 504 saying how far the model got. Lists answer
//! a [`Page`] at a time.

use std::time::Duration;

use axum::Json;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::auth::Caller;
use super::problem::Problem;
use super::{AppState, WAIT_MAX, redact};
use crate::app::command::load_as_of;
use crate::domain::Aggregate;
use crate::projection::{ModelError, ReadModel, timeline};

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
    pub(super) fn paging(&self) -> Paging {
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
    // A node of a cluster may trail the leader that gave the position: it waits.
    if after > head && state.cluster().borrow().cluster.is_none() {
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
#[schemars(rename = "PageOf{T}")]
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
    pub(super) fn limit(&self) -> Result<usize, Problem> {
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

pub(super) fn bad_cursor() -> Problem {
    Problem::bad_request(
        "invalid_query",
        "cursor must be a next_cursor this API returned",
    )
    .field("cursor")
}

pub(super) fn model(state: &AppState, name: &str) -> Result<ReadModel, Problem> {
    Ok(ReadModel::open(state.store(), name)?)
}

pub(super) fn read_failed(name: &str) -> impl Fn(ModelError) -> Problem + '_ {
    move |reason| {
        Problem::internal(format!(
            "read model {name} cannot be read: {reason}; `crisisd rebuild {name}` rebuilds it"
        ))
    }
}

pub(super) fn found<T: Serialize>(value: Option<T>, what: &str) -> Result<Json<T>, Problem> {
    value
        .map(Json)
        .ok_or_else(|| Problem::not_found(format!("no {what} with this id")))
}

pub(super) fn uuid(id: &str, what: &str) -> Result<Uuid, Problem> {
    Uuid::parse_str(id).map_err(|_| {
        Problem::not_found(format!("{what} ids are UUIDs; {id:?} is not one")).field("id")
    })
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
#[derive(Debug, Serialize, JsonSchema)]
pub struct AsOf {
    pub as_of: DateTime<Utc>,
    /// Version of the stream's last event recorded by then.
    pub stream_version: u64,
    pub state: serde_json::Value,
}

/// What `GET /v1/<resource>/{id}` answers (the document's schema for it): the summary,
/// or with `?as_of=` the state then.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum SummaryOrAsOf<S> {
    Summary(S),
    AsOf(AsOf),
}

/// `GET /v1/<resource>/{id}`: one aggregate's summary, read from `projection` by
/// `read`, or with `?as_of=` its state rebuilt from `stream` as it stood then.
pub(super) async fn summary_or_as_of<A, T>(
    state: &AppState,
    caller: &Caller,
    stream: &str,
    query: OneQuery,
    projection: &'static str,
    what: &str,
    read: impl FnOnce(&ReadModel) -> Result<Option<T>, ModelError>,
) -> Result<Json<SummaryOrAsOf<T>>, Problem>
where
    A: Aggregate + Serialize + schemars::JsonSchema,
    T: Serialize,
{
    if let Some(at) = query.as_of {
        let Json(then) = as_of::<A>(state, caller, stream, at)?;
        return Ok(Json(SummaryOrAsOf::AsOf(then)));
    }
    wait_for(state, projection, query.after).await?;
    let summary = read(&model(state, projection)?).map_err(read_failed(projection))?;
    let Json(summary) = found(summary, what)?;
    Ok(Json(SummaryOrAsOf::Summary(summary)))
}

/// One entry of a timeline with what the event says: its data, personal values opened
/// for callers allowed personal data, redacted for the others.
#[derive(Debug, Serialize, JsonSchema)]
pub struct TimelineItem {
    #[serde(flatten)]
    pub entry: timeline::TimelineEntry,
    pub data: serde_json::Value,
}

/// `GET /v1/<resource>/{id}/timeline`: the events of `stream` in order, with actor and
/// data, a page at a time (`cursor`: the `next_cursor` of the page before); not found
/// (naming `what`) when the stream has none.
pub(super) async fn timeline_of(
    state: &AppState,
    caller: &Caller,
    stream: &str,
    query: ListQuery,
    what: &str,
) -> Result<Json<Page<TimelineItem>>, Problem> {
    wait_for(state, timeline::NAME, query.after).await?;
    let entries = timeline::read(&model(state, timeline::NAME)?, stream)
        .map_err(read_failed(timeline::NAME))?;
    if entries.is_empty() {
        return Err(Problem::not_found(format!("no {what} with this id")));
    }
    let limit = query.paging().limit()?;
    let after = match &query.cursor {
        None => 0,
        Some(cursor) => cursor.parse::<u64>().map_err(|_| bad_cursor())?,
    };
    let mut page: Vec<timeline::TimelineEntry> = entries
        .into_iter()
        .filter(|e| e.position > after)
        .take(limit + 1)
        .collect();
    let more = page.len() > limit;
    page.truncate(limit);
    let next_cursor = more
        .then(|| page.last().map(|e| e.position.to_string()))
        .flatten();
    let mut items = Vec::with_capacity(page.len());
    for entry in page {
        let event = state
            .store()
            .read_all(entry.position, 1)
            .map_err(|err| Problem::unavailable(format!("reading the log: {err}; retry")))?
            .into_iter()
            .next()
            .filter(|e| e.position == entry.position)
            .ok_or_else(|| Problem::internal("a timeline entry's event is missing from the log"))?;
        let mut data: serde_json::Value =
            serde_json::from_str(event.data.get()).unwrap_or(serde_json::Value::Null);
        let redactor = state.redactor();
        if redactor.may_hold_personal_data(&event.event_type, event.schema_version) {
            if caller.sees_personal_data {
                state.privacy().reveal(&mut data, Some(event.id));
            } else {
                redactor.data(&event.event_type, event.schema_version, &mut data);
            }
        }
        items.push(TimelineItem { entry, data });
    }
    Ok(Json(Page { items, next_cursor }))
}

pub(super) fn as_of<A: Aggregate + Serialize + schemars::JsonSchema>(
    state: &AppState,
    caller: &Caller,
    stream: &str,
    at: DateTime<Utc>,
) -> Result<Json<AsOf>, Problem> {
    let (aggregate, version) = load_as_of::<A>(state.store(), stream, Some(at))?;
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
