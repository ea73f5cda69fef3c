//! Auditors: `GET /v1/audit/events` replays envelopes as NDJSON (streamed, personal data
//! redacted unless granted), `GET /v1/audit/verify` checks the hash chain.

use axum::Json;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::AppState;
use super::auth::Caller;
use super::problem::Problem;
use crate::store::{EventStore, VerifyReport};

/// Events read per step of a replay.
const REPLAY_CHUNK_EVENTS: usize = 1_000;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    pub from: Option<u64>,
    pub to: Option<u64>,
    pub stream: Option<String>,
    #[serde(rename = "type")]
    pub type_prefix: Option<String>,
}

/// `GET /v1/audit/events?from=&to=&stream=&type=`: envelopes in position order, one per
/// line, up to `to` or the head at the time of the request.
pub async fn events(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<EventsQuery>,
) -> Result<Response, Problem> {
    let from = query.from.unwrap_or(1).max(1);
    let to = query
        .to
        .unwrap_or(u64::MAX)
        .min(state.store().head().position);
    if query.from.is_some() && query.to.is_some() && from > to {
        return Err(
            Problem::bad_request("invalid_query", "from must not be after to").field("from"),
        );
    }
    let redact = !caller.sees_personal_data;
    let chunks = futures_util::stream::unfold(from, move |next| {
        let state = state.clone();
        let query_stream = query.stream.clone();
        let query_type = query.type_prefix.clone();
        async move {
            if next > to {
                return None;
            }
            let store = state.store().clone();
            let count = REPLAY_CHUNK_EVENTS.min((to - next + 1) as usize);
            let read = tokio::task::spawn_blocking(move || store.read_all(next, count)).await;
            let events = match read {
                Ok(Ok(events)) if !events.is_empty() => events,
                Ok(Ok(_)) => return None,
                Ok(Err(err)) => return Some((Err(std::io::Error::other(err.to_string())), to + 1)),
                Err(err) => return Some((Err(std::io::Error::other(err.to_string())), to + 1)),
            };
            let after = events.last().map_or(to + 1, |e| e.position + 1);
            let mut lines = Vec::new();
            for event in events.iter().filter(|e| e.position <= to) {
                if query_stream.as_deref().is_some_and(|s| s != event.stream)
                    || query_type
                        .as_deref()
                        .is_some_and(|t| !event.event_type.starts_with(t))
                {
                    continue;
                }
                if redact {
                    lines.extend_from_slice(state.redactor().envelope(event).as_bytes());
                } else {
                    lines.extend_from_slice(&serde_json::to_vec(event).unwrap_or_default());
                }
                lines.push(b'\n');
            }
            Some((Ok(bytes::Bytes::from(lines)), after))
        }
    });
    let mut response = Body::from_stream(chunks).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-ndjson"),
    );
    Ok(response)
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyQuery {
    pub from: Option<u64>,
    pub to: Option<u64>,
}

/// `GET /v1/audit/verify?from=&to=`: the chain's verdict: records verified, the hash of
/// the last good one, and the first damage (position and kind) if any.
pub async fn verify(
    State(state): State<AppState>,
    Query(query): Query<VerifyQuery>,
) -> Result<Json<VerifyReport>, Problem> {
    let store = state.store().clone();
    let from = query.from.unwrap_or(1).max(1);
    let to = query.to.unwrap_or(u64::MAX);
    let report = tokio::task::spawn_blocking(move || store.verify(from, to))
        .await
        .map_err(|err| Problem::internal(format!("verification task failed: {err}")))??;
    Ok(Json(report))
}
