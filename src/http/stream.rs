//! `GET /v1/stream`: the committed log as Server-Sent Events, history then live.
//!
//! Each event is `id: <position>` and `data: <envelope JSON>`. A client resumes with
//! `Last-Event-ID` (the last position it saw) or `?from=<position>`: no gap, no
//! duplicate. Filters: `stream`, `aggregate` (`incident`, `complaint`, ...), `type`
//! (prefix, e.g. `incident.` or `complaint.acknowledged`) and `incident` (the incident's
//! own stream and every event whose data names it as `incident_id`). Comments keep idle
//! connections alive. Every client reads the store at its own pace through a bounded
//! queue; one that takes nothing for [`StreamLimits::slow_client_timeout`] gets a final `dropped`
//! event naming the position to resume from, and never holds up anyone else.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use serde::Deserialize;
use tokio::sync::mpsc;
use uuid::Uuid;

use super::AppState;
use super::auth::Caller;
use super::params::Params;
use super::problem::Problem;
use super::routes::{READERS, Routes, op, schema};
use crate::store::{RecordedEvent, SubscriptionFilter};

/// This resource's routes.
pub(super) fn routes(routes: Routes) -> Routes {
    routes.get(
        "/v1/stream",
        op("Server-Sent Events of envelopes, resumable with Last-Event-ID")
            .roles(READERS)
            .query(schema::<StreamQuery>)
            .media("text/event-stream"),
        stream,
    )
}

/// How much a client may lag and how often idle streams are kept alive.
#[derive(Debug, Clone, Copy)]
pub struct StreamLimits {
    /// Events queued for one client.
    pub queue_events: usize,
    /// A client whose queue stays full this long is dropped.
    pub slow_client_timeout: Duration,
    /// Interval of keep-alive comments.
    pub heartbeat: Duration,
    /// How often a stream checks its token still stands: a revoked or expired token's
    /// stream ends within this (plus the tokens file's reload interval).
    pub token_recheck: Duration,
}

impl Default for StreamLimits {
    fn default() -> Self {
        StreamLimits {
            queue_events: 1024,
            slow_client_timeout: Duration::from_secs(5),
            heartbeat: Duration::from_secs(15),
            token_recheck: Duration::from_secs(2),
        }
    }
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StreamQuery {
    /// First log position to send (default: the next event committed; a
    /// `Last-Event-ID` header resumes after it instead).
    pub from: Option<u64>,
    /// Only this stream.
    pub stream: Option<String>,
    /// Only this aggregate (incident, complaint, passenger, compensation, flight, signal, suggestion, manifest).
    pub aggregate: Option<String>,
    /// Only event types starting with this.
    #[serde(rename = "type")]
    pub type_prefix: Option<String>,
    /// The incident's own stream and the events that name it.
    pub incident: Option<Uuid>,
}

/// Why a stream ended before the client left.
struct Ended {
    resume_from: u64,
    reason: String,
}

pub async fn stream(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Params(query): Params<StreamQuery>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, Problem> {
    let head = state.store().head().position;
    let from = match last_event_id(&headers)? {
        // A client that saw a position this log never reached talks to another log (or
        // one restored from an older backup): waiting would hide that.
        Some(seen) if seen > head => {
            return Err(Problem::bad_request(
                "beyond_head",
                format!("Last-Event-ID {seen} is past the head of the log ({head}): this log never reached it; resume from ?from=<position> at most {}", head + 1),
            )
            .field("Last-Event-ID"));
        }
        Some(seen) => seen.saturating_add(1),
        // `?from` ahead of the log waits for it: a client may subscribe to what is next.
        None => query.from.unwrap_or(head + 1),
    };
    let filter = SubscriptionFilter {
        stream: query.stream.clone(),
        type_prefix: query.type_prefix.clone(),
    };
    let aggregate = query.aggregate.map(|a| format!("{a}-"));
    let incident = query.incident;
    let reveal = caller.sees_personal_data;
    let token_hash = caller.token_hash;
    let mut subscription = state.store().subscribe(from, filter);
    let mut shutdown = state.shutdown();
    let limits = state.stream_limits();
    let (tx, rx) = mpsc::channel::<Event>(limits.queue_events);
    // Why the stream ended early, given to the client once it has drained its queue.
    let ended: Arc<Mutex<Option<Ended>>> = Arc::default();
    let end = ended.clone();
    tokio::spawn(async move {
        // Counted while the stream lives.
        let _client = crate::metrics::SseClient::connected();
        let mut recheck = tokio::time::interval(limits.token_recheck);
        recheck.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let stop = |resume_from: u64, reason: String| {
            *end.lock().unwrap_or_else(|e| e.into_inner()) = Some(Ended {
                resume_from,
                reason,
            });
        };
        loop {
            let resume_from = subscription.next_position();
            let next = tokio::select! {
                next = subscription.next() => next,
                _ = shutdown.wait_for(|stop| *stop) => None,
                () = tx.closed() => return,
                _ = recheck.tick() => {
                    // A token revoked or expired since the stream opened ends it: the
                    // tokens file is the one place access is granted and taken away.
                    match state.tokens().check(&token_hash, chrono::Utc::now()) {
                        Ok(()) => continue,
                        Err(why) => {
                            tracing::info!(resume_from, "ending an SSE stream whose token no longer stands");
                            return stop(resume_from, why);
                        }
                    }
                }
            };
            let event = match next {
                Some(Ok(event)) => event,
                Some(Err(err)) => {
                    return stop(
                        resume_from,
                        format!("the event store cannot be read: {err}"),
                    );
                }
                None => return stop(resume_from, "crisisd is shutting down; reconnect".into()),
            };
            if !wanted(&event, aggregate.as_deref(), incident) {
                continue;
            }
            let item = sse_event(&state, &event, reveal);
            match tx.send_timeout(item, limits.slow_client_timeout).await {
                Ok(()) => {}
                Err(mpsc::error::SendTimeoutError::Timeout(_)) => {
                    tracing::info!(resume_from = event.position, "dropping a slow SSE client");
                    let reason = format!(
                        "the client read nothing for {}s; reconnect with ?from={}",
                        limits.slow_client_timeout.as_secs_f64(),
                        event.position
                    );
                    return stop(event.position, reason);
                }
                Err(mpsc::error::SendTimeoutError::Closed(_)) => return,
            }
        }
    });
    let body = futures_util::stream::unfold(Some(rx), move |rx| {
        let ended = ended.clone();
        async move {
            let mut rx = rx?;
            if let Some(event) = rx.recv().await {
                return Some((Ok(event), Some(rx)));
            }
            // The producer stopped: after the last queued event, say where to resume.
            let ended = ended.lock().unwrap_or_else(|e| e.into_inner()).take()?;
            let data =
                serde_json::json!({"resume_from": ended.resume_from, "reason": ended.reason});
            Some((
                Ok(Event::default().event("dropped").data(data.to_string())),
                None,
            ))
        }
    });
    Ok(Sse::new(body).keep_alive(KeepAlive::new().interval(limits.heartbeat)))
}

fn last_event_id(headers: &HeaderMap) -> Result<Option<u64>, Problem> {
    let Some(value) = headers.get("last-event-id") else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Some)
        .ok_or_else(|| {
            Problem::bad_request(
                "invalid_header",
                "Last-Event-ID must be the position (the `id:`) of the last event received",
            )
            .field("Last-Event-ID")
        })
}

fn wanted(event: &RecordedEvent, aggregate: Option<&str>, incident: Option<Uuid>) -> bool {
    if aggregate.is_some_and(|prefix| !event.stream.starts_with(prefix)) {
        return false;
    }
    let Some(incident) = incident else {
        return true;
    };
    if event.stream == crate::domain::incident::stream_name(incident) {
        return true;
    }
    #[derive(Deserialize)]
    struct Linked {
        incident_id: Option<Uuid>,
    }
    serde_json::from_str::<Linked>(event.data.get())
        .is_ok_and(|linked| linked.incident_id == Some(incident))
}

/// An event as a caller receives it: personal values opened for callers allowed personal
/// data; for the others, sealed values as stored and older plaintext redacted.
fn sse_event(state: &AppState, event: &RecordedEvent, reveal: bool) -> Event {
    let personal = state
        .redactor()
        .may_hold_personal_data(&event.event_type, event.schema_version);
    let json = match (personal, reveal) {
        (false, _) => serde_json::to_string(event).unwrap_or_default(),
        (true, true) => revealed_envelope(state, event),
        (true, false) => state.redactor().envelope(event),
    };
    Event::default().id(event.position.to_string()).data(json)
}

/// The envelope of `event` with its sealed personal values opened (checked against the
/// event and field they were sealed for).
pub fn revealed_envelope(state: &AppState, event: &RecordedEvent) -> String {
    let mut envelope = serde_json::to_value(event).unwrap_or(serde_json::Value::Null);
    if let Some(data) = envelope.get_mut("data") {
        state.privacy().reveal(data, Some(event.id));
    }
    envelope.to_string()
}
