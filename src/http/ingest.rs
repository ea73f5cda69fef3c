//! `POST /v1/ingest/{kind}` (`flightops`, `feedback`): the NATS ingest formats over HTTP,
//! for systems without NATS. Same validation, same idempotency (event ids derive from
//! `source_message_id`, so a retried post changes nothing); the actor is the token's.
//! 202 once the events are durable; 422 with the rejection's code and JSON pointer.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::auth::Caller;
use super::problem::Problem;
use crate::bus::ingest::Handled;

/// The kinds of ingest message (the `crisis.ingest.<kind>` subject token).
pub const KINDS: [&str; 2] = ["flightops", "feedback"];

pub async fn ingest(
    State(state): State<AppState>,
    caller: Caller,
    Path(kind): Path<String>,
    body: Bytes,
) -> Result<Response, Problem> {
    let Some(kind) = KINDS.iter().find(|k| **k == kind) else {
        return Err(Problem::not_found(format!(
            "no ingest kind {kind:?}; post to /v1/ingest/flightops or /v1/ingest/feedback"
        ))
        .field("kind"));
    };
    match state.ingest().ingest(kind, &body, &caller.actor).await {
        Ok(Handled::Stored) => Ok((
            StatusCode::ACCEPTED,
            Json(serde_json::json!({"stored": true})),
        )
            .into_response()),
        Ok(Handled::Rejected(rejection)) => Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            rejection.code,
            rejection.message,
        )
        .field(rejection.pointer)),
        Err(reason) => Err(Problem::unavailable(format!(
            "the message could not be stored now: {reason}; retry it (it is idempotent)"
        ))),
    }
}
