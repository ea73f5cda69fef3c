//! Errors as `application/problem+json` (RFC 9457): a stable `code` clients match on,
//! a human `detail` that says what to do, and the offending `field` when there is one.

use std::borrow::Cow;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::app::command::CommandError;
use crate::privacy::{KeyError, PrivacyError};
use crate::store::{AppendError, StoreError};

/// One error answer.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    #[serde(skip)]
    pub status: StatusCode,
    /// Stable, machine-readable (`unknown_command`, `version_mismatch`, ...).
    pub code: Cow<'static, str>,
    pub title: String,
    pub detail: String,
    /// JSON pointer (body) or name (header, query parameter) of the offending input.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl Problem {
    pub fn new(
        status: StatusCode,
        code: impl Into<Cow<'static, str>>,
        detail: impl Into<String>,
    ) -> Self {
        Problem {
            status,
            code: code.into(),
            title: status.canonical_reason().unwrap_or("error").to_owned(),
            detail: detail.into(),
            field: None,
        }
    }

    pub fn field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Problem::new(StatusCode::BAD_REQUEST, code, detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Problem::new(StatusCode::NOT_FOUND, "not_found", detail)
    }

    pub fn unavailable(detail: impl Into<String>) -> Self {
        Problem::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", detail)
    }

    pub fn internal(detail: impl Into<String>) -> Self {
        Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", detail)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut response = (self.status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"crisisd\""),
            );
        }
        response
    }
}

impl From<StoreError> for Problem {
    fn from(err: StoreError) -> Self {
        tracing::error!(cause = %err, "event store read failed");
        Problem::unavailable(format!("the event store cannot be read: {err}"))
    }
}

impl<E: std::error::Error> From<CommandError<E>> for Problem {
    fn from(err: CommandError<E>) -> Self {
        let detail = err.to_string();
        match err {
            CommandError::Refused(_) => {
                Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "refused", detail)
            }
            CommandError::PreconditionFailed { .. } => {
                Problem::new(StatusCode::PRECONDITION_FAILED, "version_mismatch", detail)
                    .field("If-Match")
            }
            CommandError::Contended { .. } => {
                Problem::new(StatusCode::CONFLICT, "contended", detail)
            }
            CommandError::IdempotencyKeyReused { .. } => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                detail,
            )
            .field("Idempotency-Key"),
            CommandError::Undecodable { .. } => Problem::internal(detail),
            CommandError::Append(AppendError::WrongExpectedVersion { .. }) => {
                Problem::new(StatusCode::CONFLICT, "conflict", detail)
            }
            CommandError::Append(AppendError::Unavailable { .. }) => Problem::unavailable(detail),
            CommandError::Append(AppendError::PartiallyStored { .. }) => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                detail,
            )
            .field("Idempotency-Key"),
            CommandError::Append(_) => Problem::bad_request("invalid_event", detail),
            CommandError::Store(err) => Problem::from(err),
            CommandError::Privacy(PrivacyError::Keys(
                err @ (KeyError::NotShared { .. } | KeyError::EpochNotHeld { .. }),
            )) => {
                tracing::warn!(cause = %err, "personal data cannot be sealed yet");
                Problem::unavailable(format!("{err}; nothing was stored"))
            }
            CommandError::Privacy(err) => {
                tracing::error!(cause = %err, "personal data could not be sealed");
                Problem::unavailable(
                    "personal data cannot be sealed now (the key store failed); nothing was stored: retry, and tell an operator if it persists",
                )
            }
        }
    }
}

/// Turns axum's own plain-text rejections (a query string that does not parse, a body
/// over the limit, a method the route lacks) into problems, so every error a client
/// sees has the same shape.
pub async fn plain_errors_as_problems(response: Response) -> Response {
    let status = response.status();
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
    let is_error = status.is_client_error() || status.is_server_error();
    if !is_error || is_problem {
        return response;
    }
    let code = match status {
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::NOT_FOUND => "not_found",
        s if s.is_server_error() => "internal",
        _ => "invalid_request",
    };
    let bytes = axum::body::to_bytes(response.into_body(), 64 * 1024)
        .await
        .unwrap_or_default();
    let detail = String::from_utf8_lossy(&bytes).trim().to_owned();
    let detail = if detail.is_empty() {
        status.canonical_reason().unwrap_or("error").to_owned()
    } else {
        detail
    };
    Problem::new(status, code, detail).into_response()
}
