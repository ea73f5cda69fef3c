//! Auditors: `GET /v1/audit/events` replays envelopes as NDJSON (streamed, personal data
//! redacted unless granted), `GET /v1/audit/verify` checks the hash chain.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::AppState;
use super::auth::Caller;
use super::params::Params;
use super::problem::Problem;
use super::routes::{AUDIT, Routes, op, schema};
use crate::store::codec::RawRecord;
use crate::store::{StoreError, VerifyReport, position_range};

/// This resource's routes.
pub(super) fn routes(routes: Routes) -> Routes {
    routes
        .get(
            "/v1/audit/events",
            op("NDJSON replay of envelopes")
                .roles(AUDIT)
                .query(schema::<EventsQuery>)
                .media("application/x-ndjson"),
            events,
        )
        .get(
            "/v1/audit/verify",
            op("Hash-chain verification")
                .roles(AUDIT)
                .query(schema::<VerifyQuery>)
                .response(schema::<crate::store::VerifyReport>),
            verify,
        )
}

/// Events read per step of a replay.
const REPLAY_CHUNK_EVENTS: usize = 1_000;

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    /// First log position (default 1).
    pub from: Option<u64>,
    /// Last log position (default: the head).
    pub to: Option<u64>,
    /// Only this stream.
    pub stream: Option<String>,
    /// Only event types starting with this.
    #[serde(rename = "type")]
    pub type_prefix: Option<String>,
    /// With personal-data rights: personal values opened (the lines then no longer hash
    /// to the chain; without it they are the stored, sealed form).
    #[serde(default)]
    pub reveal: bool,
}

/// How personal data appears in a replay line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Personal {
    /// As stored: sealed values stay sealed (plaintext of older events too).
    Stored,
    /// Plaintext of events written before sealing is redacted; sealed values stay.
    Redacted,
    /// Sealed values opened.
    Revealed,
}

/// `GET /v1/audit/events?from=&to=&stream=&type=`: envelopes in position order, one per
/// line, up to `to` or the head at the time of the request. Lines are the stored
/// canonical bytes with their hashes spliced in, exactly what `crisisd export` writes, so
/// an auditor recomputes the chain from them with any JCS and BLAKE3 library; personal
/// data in them is sealed. Callers without personal-data rights get plaintext of events
/// older than sealing redacted; callers with them may ask for `reveal=true`.
pub async fn events(
    State(state): State<AppState>,
    caller: Caller,
    Params(query): Params<EventsQuery>,
) -> Result<Response, Problem> {
    let (from, to) = range(query.from, query.to, state.store().head().position)?;
    let personal = match (caller.sees_personal_data, query.reveal) {
        (true, true) => Personal::Revealed,
        (true, false) => Personal::Stored,
        (false, false) => Personal::Redacted,
        (false, true) => {
            return Err(Problem::new(
                axum::http::StatusCode::FORBIDDEN,
                "forbidden",
                "reveal=true needs a token allowed personal data (`crisisd token add --personal-data`)",
            )
            .field("reveal"));
        }
    };
    let chunks = futures_util::stream::unfold(from, move |next| {
        let state = state.clone();
        let query_stream = query.stream.clone();
        let query_type = query.type_prefix.clone();
        async move {
            if next > to {
                return None;
            }
            let last = to.min(next.saturating_add(REPLAY_CHUNK_EVENTS as u64 - 1));
            let read = tokio::task::spawn_blocking(move || {
                let filter = Filter {
                    stream: query_stream.as_deref(),
                    type_prefix: query_type.as_deref(),
                };
                ndjson(&state, next, last, &filter, personal)
            })
            .await;
            match read {
                Ok(Ok(lines)) => Some((Ok(bytes::Bytes::from(lines)), last + 1)),
                Ok(Err(err)) => Some((Err(std::io::Error::other(err.to_string())), to + 1)),
                Err(err) => Some((Err(std::io::Error::other(err.to_string())), to + 1)),
            }
        }
    });
    let mut response = Body::from_stream(chunks).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-ndjson"),
    );
    Ok(response)
}

/// Which envelopes a replay keeps.
struct Filter<'a> {
    stream: Option<&'a str>,
    type_prefix: Option<&'a str>,
}

/// The NDJSON lines of `[from, to]` that pass `filter`.
fn ndjson(
    state: &AppState,
    from: u64,
    to: u64,
    filter: &Filter<'_>,
    personal: Personal,
) -> Result<Vec<u8>, StoreError> {
    let mut lines = Vec::new();
    for entry in state.store().raw_range(from, to) {
        let (position, bytes) = entry?;
        let damaged = || {
            StoreError::Damaged(format!(
                "position {position} is not a readable record; run `crisisd verify`"
            ))
        };
        let raw = RawRecord::decode(&bytes).ok_or_else(damaged)?;
        let parse =
            filter.stream.is_some() || filter.type_prefix.is_some() || personal != Personal::Stored;
        if parse {
            let event = raw.parse().map_err(|_| damaged())?;
            if filter.stream.is_some_and(|s| s != event.stream)
                || filter
                    .type_prefix
                    .is_some_and(|t| !event.event_type.starts_with(t))
            {
                continue;
            }
            let holds_personal = state
                .redactor()
                .may_hold_personal_data(&event.event_type, event.schema_version);
            if holds_personal && personal != Personal::Stored {
                let line = match personal {
                    Personal::Revealed => super::stream::revealed_envelope(state, &event),
                    _ => state.redactor().envelope(&event),
                };
                lines.extend_from_slice(line.as_bytes());
                lines.push(b'\n');
                continue;
            }
        }
        lines.extend_from_slice(&raw.envelope_json());
        lines.push(b'\n');
    }
    Ok(lines)
}

/// The range a query asks for, or a 400 naming what to fix.
fn range(from: Option<u64>, to: Option<u64>, head: u64) -> Result<(u64, u64), Problem> {
    position_range(from, to, head)
        .map_err(|err| Problem::bad_request("invalid_query", err.to_string()).field("from"))
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyQuery {
    /// First log position (default 1).
    pub from: Option<u64>,
    /// Last log position (default: the head).
    pub to: Option<u64>,
}

/// `GET /v1/audit/verify?from=&to=`: the chain's verdict: records verified, the hash of
/// the last good one, and the first damage (position and kind) if any.
pub async fn verify(
    State(state): State<AppState>,
    Params(query): Params<VerifyQuery>,
) -> Result<Json<VerifyReport>, Problem> {
    let store = state.store().clone();
    let (from, to) = range(query.from, query.to, store.head().position)?;
    let report = tokio::task::spawn_blocking(move || store.verify(from, to))
        .await
        .map_err(|err| Problem::internal(format!("verification task failed: {err}")))??;
    Ok(Json(report))
}
