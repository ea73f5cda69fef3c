//! `POST /v1/ingest/flightops`, `/v1/ingest/feedback` and `/v1/ingest/manifest`: the NATS
//! ingest formats over HTTP,
//! for systems without NATS. Same validation, same idempotency (event ids derive from
//! `source_message_id`, so a retried post changes nothing); the actor is the token's.
//! 202 once the events are durable; 422 with the rejection's code and JSON pointer; 415
//! when the body is not declared `application/json` (parameters such as `charset` are
//! fine): a body sent as a form or as text is not read as JSON by guesswork.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::auth::Caller;
use super::problem::Problem;
use super::routes::{Routes, op, schema};
use crate::bus::ingest::Handled;
use crate::domain::common::Role;

/// This resource's routes.
pub(super) fn routes(routes: Routes) -> Routes {
    routes
        .post(
            "/v1/ingest/flightops",
            op("Ingest a flight-ops message (the format of crisis.ingest.flightops)")
                .roles(&[Role::FlightOps])
                .request(schema::<crate::domain::ingest::FlightOpsMessageV1>)
                .status(202)
                .response(schema::<Stored>),
            flightops,
        )
        .post(
            "/v1/ingest/manifest",
            op("Ingest a flight's passenger manifest (the format of crisis.ingest.manifest)")
                .roles(&[Role::FlightOps])
                .request(schema::<crate::domain::ingest::ManifestMessageV1>)
                .status(202)
                .response(schema::<Stored>),
            manifest,
        )
        .post(
            "/v1/ingest/feedback",
            op("Ingest a channel's feedback message (the format of crisis.ingest.feedback)")
                .roles(&[Role::Channel])
                .request(schema::<crate::domain::ingest::FeedbackMessageV1>)
                .status(202)
                .response(schema::<Stored>),
            feedback,
        )
}

/// What an ingest answers once the message's events are durable (202).
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub struct Stored {
    /// Always true: a message that is not stored is answered with a problem.
    pub stored: bool,
}

/// `POST /v1/ingest/flightops`: a flight-ops message, as on `crisis.ingest.flightops`.
pub async fn flightops(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    ingest(&state, &caller, "flightops", &headers, &body).await
}

/// `POST /v1/ingest/manifest`: a flight's passenger list, as on `crisis.ingest.manifest`.
pub async fn manifest(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    ingest(&state, &caller, "manifest", &headers, &body).await
}

/// `POST /v1/ingest/feedback`: a channel's feedback message, as on `crisis.ingest.feedback`.
pub async fn feedback(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    ingest(&state, &caller, "feedback", &headers, &body).await
}

async fn ingest(
    state: &AppState,
    caller: &Caller,
    kind: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, Problem> {
    if !declares_json(headers) {
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "an ingest message is JSON: send it with Content-Type: application/json",
        )
        .field("Content-Type"));
    }
    match state.ingest().ingest(kind, body, &caller.actor).await {
        Ok(Handled::Stored) => {
            crate::metrics::METRICS.ingested("http", "accepted");
            Ok((StatusCode::ACCEPTED, Json(Stored { stored: true })).into_response())
        }
        Ok(Handled::Rejected(rejection)) => {
            crate::metrics::METRICS.ingested("http", &rejection.code);
            Err(Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                rejection.code,
                rejection.message,
            )
            .field(rejection.pointer))
        }
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
