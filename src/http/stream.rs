//! `GET /v1/stream`: the committed log as Server-Sent Events, history then live.
//!
//! Each event is `id: <position>` and `data: <envelope JSON>`. A client resumes with
//! `Last-Event-ID` (the last position it saw) or `?from=<position>`: no gap, no
//! duplicate. Filters: `stream`, `aggregate` (`incident`, `complaint`, ...), `type`
//! (prefix, e.g. `incident.` or `complaint.acknowledged`) and `incident` (the incident's
//! own stream and every event whose data names it as `incident_id`). Comments keep idle
//! connections alive. Every client reads the store at its own pace through a bounded
//! queue; one that takes nothing for [`SLOW_CLIENT_TIMEOUT`] gets a final `dropped`
//! event naming the position to resume from, and never holds up anyone else.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use serde::Deserialize;
use tokio::sync::mpsc;
use uuid::Uuid;

use super::AppState;
use super::auth::Caller;
use super::problem::Problem;
use crate::store::{EventStore, RecordedEvent, SubscriptionFilter};

/// Events queued for one client.
pub const CLIENT_QUEUE_EVENTS: usize = 1024;
/// A client whose queue stays full this long is dropped.
pub const SLOW_CLIENT_TIMEOUT: Duration = Duration::from_secs(5);
/// Interval of keep-alive comments.
pub const HEARTBEAT: Duration = Duration::from_secs(15);

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamQuery {
    /// First position to send (default: the next event committed).
    pub from: Option<u64>,
    pub stream: Option<String>,
    pub aggregate: Option<String>,
    #[serde(rename = "type")]
    pub type_prefix: Option<String>,
    pub incident: Option<Uuid>,
}

/// What a client's queue carries.
enum Item {
    Event(Event),
    /// The last item: where to resume and why the stream ended.
    Dropped {
        resume_from: u64,
        reason: String,
    },
}

pub async fn stream(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Query(query): Query<StreamQuery>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, Problem> {
    let from = match last_event_id(&headers)? {
        Some(seen) => seen + 1,
        None => query
            .from
            .unwrap_or_else(|| state.store().head().position + 1),
    };
    let filter = SubscriptionFilter {
        stream: query.stream.clone(),
        type_prefix: query.type_prefix.clone(),
    };
    let aggregate = query.aggregate.map(|a| format!("{a}-"));
    let incident = query.incident;
    let redact = !caller.sees_personal_data;
    let mut subscription = state.store().subscribe(from, filter);
    let mut shutdown = state.shutdown();
    let (tx, rx) = mpsc::channel::<Item>(CLIENT_QUEUE_EVENTS);
    tokio::spawn(async move {
        loop {
            let resume_from = subscription.next_position();
            let next = tokio::select! {
                next = subscription.next() => next,
                _ = shutdown.wait_for(|stop| *stop) => None,
                () = tx.closed() => return,
            };
            let event = match next {
                Some(Ok(event)) => event,
                Some(Err(err)) => {
                    let reason = format!("the event store cannot be read: {err}");
                    let _ = tx
                        .send(Item::Dropped {
                            resume_from,
                            reason,
                        })
                        .await;
                    return;
                }
                None => {
                    let reason = "crisisd is shutting down; reconnect".to_owned();
                    let _ = tx
                        .send(Item::Dropped {
                            resume_from,
                            reason,
                        })
                        .await;
                    return;
                }
            };
            if !wanted(&event, aggregate.as_deref(), incident) {
                continue;
            }
            let item = Item::Event(sse_event(&state, &event, redact));
            match tx.send_timeout(item, SLOW_CLIENT_TIMEOUT).await {
                Ok(()) => {}
                Err(mpsc::error::SendTimeoutError::Timeout(_)) => {
                    tracing::info!(resume_from = event.position, "dropping a slow SSE client");
                    // The client may still drain its queue and read this last item.
                    let reason = format!(
                        "the client read nothing for {}s; reconnect with ?from=<resume_from>",
                        SLOW_CLIENT_TIMEOUT.as_secs()
                    );
                    let dropped = Item::Dropped {
                        resume_from: event.position,
                        reason,
                    };
                    let _ = tx.send_timeout(dropped, SLOW_CLIENT_TIMEOUT).await;
                    return;
                }
                Err(mpsc::error::SendTimeoutError::Closed(_)) => return,
            }
        }
    });
    let body = futures_util::stream::unfold(Some(rx), |rx| async move {
        let mut rx = rx?;
        match rx.recv().await? {
            Item::Event(event) => Some((Ok(event), Some(rx))),
            Item::Dropped {
                resume_from,
                reason,
            } => {
                let data = serde_json::json!({"resume_from": resume_from, "reason": reason});
                Some((
                    Ok(Event::default().event("dropped").data(data.to_string())),
                    None,
                ))
            }
        }
    });
    Ok(Sse::new(body).keep_alive(KeepAlive::new().interval(HEARTBEAT)))
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

fn sse_event(state: &AppState, event: &RecordedEvent, redact: bool) -> Event {
    let json = if redact {
        state.redactor().envelope(event)
    } else {
        serde_json::to_string(event).unwrap_or_default()
    };
    Event::default().id(event.position.to_string()).data(json)
}
