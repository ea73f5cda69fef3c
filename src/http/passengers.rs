//! Passengers: the passenger view, their commands and erasure.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;

use super::AppState;
use super::auth::Caller;
use super::commands::{CommandResult, typed_body};
use super::params::{Params, PassengerPath};
use super::problem::Problem;
use super::queries::{After, found, model, read_failed, wait_for};
use super::routes::{READERS, Routes, op, schema};
use crate::domain::common::Role;
use crate::domain::passenger::Passenger;
use crate::projection::passengers;

/// This resource's routes.
pub(super) fn routes(routes: Routes) -> Routes {
    routes
        .get(
            "/v1/passengers/{id}",
            op("Everything about a passenger")
                .path(schema::<PassengerPath>)
                .roles(READERS)
                .query(schema::<After>)
                .response(schema::<passengers::PassengerView>),
            passenger,
        )
        .post(
            "/v1/passengers/{id}/erase",
            op(concat!(
                "Erase a passenger's personal data: ",
                "records passenger.erased and destroys their data key"
            ))
            .path(schema::<PassengerPath>)
            .roles(&[Role::Admin])
            .request(schema::<EraseBody>)
            .response(schema::<CommandResult>),
            erase,
        )
        .commands_of::<Passenger>("Passenger command", schema::<PassengerPath>)
}

/// The body of `POST /v1/passengers/{id}/erase`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EraseBody {
    /// Why (e.g. the erasure request's reference): recorded, so staff-written, never
    /// the passenger's words.
    pub reason: String,
}

/// `POST /v1/passengers/{id}/erase`: records `passenger.erased` and destroys the
/// passenger's data key before answering; from then on every personal value sealed with
/// it, in every copy of the log, reads as erased. Repeating it changes nothing.
pub async fn erase(
    State(state): State<AppState>,
    caller: Caller,
    path: PassengerPath,
    body: Bytes,
) -> Result<CommandResult, Problem> {
    let passenger = path.passenger();
    let body: EraseBody = typed_body(&body)?;
    let executed = crate::app::erasures::erase_passenger(
        state.journal(),
        &passenger,
        &body.reason,
        caller.actor.clone(),
    )
    .await?;
    Ok(executed.into())
}

/// `GET /v1/passengers/{id}`: everything about a passenger; contact details only for
/// callers who may see personal data.
pub async fn passenger(
    State(state): State<AppState>,
    caller: Caller,
    path: PassengerPath,
    Params(query): Params<After>,
) -> Result<Json<serde_json::Value>, Problem> {
    let id = path.passenger();
    wait_for(&state, passengers::NAME, query.after).await?;
    let mut view = passengers::view(&model(&state, passengers::NAME)?, &id)
        .map_err(read_failed(passengers::NAME))?;
    if !caller.sees_personal_data
        && let Some(view) = &mut view
    {
        view.contact = None;
        for booking in &mut view.bookings {
            booking.booking.name = None;
        }
    }
    let Json(view) = found(view, "passenger")?;
    let mut json = serde_json::to_value(&view).map_err(|err| Problem::internal(err.to_string()))?;
    if caller.sees_personal_data {
        state.privacy().reveal(&mut json, None);
    }
    Ok(Json(json))
}
