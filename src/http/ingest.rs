//! `POST /v1/ingest/{kind}` (`flightops`, `feedback`): the NATS ingest formats over HTTP,
//! for systems without NATS. Same validation, same idempotency (event ids derive from
//! `source_message_id`, so a retried post changes nothing); the actor is the token's.
//! 202 once the events are durable; 422 with the rejection's code and JSON pointer; 415
//! when the body is not declared `application/json` (parameters such as `charset` are
//! fine): a body sent as a form or as text is not read as JSON by guesswork.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
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
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    let Some(kind) = KINDS.iter().find(|k| **k == kind) else {
        return Err(Problem::not_found(format!(
            "no ingest kind {kind:?}; post to /v1/ingest/flightops or /v1/ingest/feedback"
        ))
        .field("kind"));
    };
    if !declares_json(&headers) {
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "an ingest message is JSON: send it with Content-Type: application/json",
        )
        .field("Content-Type"));
    }
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

/// Whether the request's Content-Type is `application/json`, with or without parameters
/// (the media type is case-insensitive, RFC 9110 §8.3.1).
fn declares_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
}
