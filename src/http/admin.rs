//! Operator actions over HTTP (admin only): `POST /v1/admin/keys/rotate` re-wraps every
//! key of personal data under a new master key while `serve` runs, rewriting no event.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use serde::{Deserialize, Serialize};

use super::AppState;
use super::problem::Problem;
use super::routes::{Routes, op, schema};
use crate::domain::common::Role;

/// This resource's routes.
pub(super) fn routes(routes: Routes) -> Routes {
    routes.post(
        "/v1/admin/keys/rotate",
        op("Re-wrap every key of personal data under a new master key (no event is rewritten)")
            .roles(&[Role::Admin])
            .request(schema::<RotateBody>)
            .response(schema::<Rotated>),
        rotate_keys,
    )
}

/// The body of `POST /v1/admin/keys/rotate`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateBody {
    /// A file on the server holding the new master key (64 hex digits, e.g. from
    /// `crisisd keys new-master`); the key itself never travels over HTTP.
    pub new_master_key_file: String,
}

/// What a rotation answers.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Rotated {
    /// The file whose key now opens the key store: give it as `--master-key-file`
    /// from the next start on, and destroy the old master key.
    pub master_key_file: String,
}

pub async fn rotate_keys(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Json<Rotated>, Problem> {
    let body: RotateBody = serde_json::from_slice(&body).map_err(|err| {
        Problem::bad_request(
            "invalid_body",
            format!("the body is {{\"new_master_key_file\": \"<path on the server>\"}}: {err}"),
        )
        .field("/new_master_key_file")
    })?;
    let path = std::path::PathBuf::from(&body.new_master_key_file);
    let key = crate::privacy::keys::read_master_key(&path).map_err(|err| {
        Problem::bad_request("invalid_key_file", err.to_string()).field("/new_master_key_file")
    })?;
    let privacy = state.privacy().clone();
    tokio::task::spawn_blocking(move || privacy.keys().rotate(key))
        .await
        .map_err(|err| Problem::internal(format!("rotation task failed: {err}")))?
        .map_err(|err| {
            tracing::error!(cause = %err, "master key rotation failed");
            Problem::unavailable(format!(
                "the key store could not be rewritten: {err}; the old master key still opens it"
            ))
        })?;
    tracing::warn!(master_key_file = %path.display(), "master key rotated: start crisisd with this --master-key-file from now on");
    Ok(Json(Rotated {
        master_key_file: body.new_master_key_file,
    }))
}
