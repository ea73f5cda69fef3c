//! Compensations: entitlements, their commands and the overdue list.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use chrono::Utc;

use super::AppState;
use super::auth::Caller;
use super::commands::{CommandPath, CommandResult, CommandTarget, run};
use super::params::{IdPath, Params};
use super::problem::Problem;
use super::queries::{After, ListQuery, Page, found, model, read_failed, wait_for};
use super::routes::{CARE, READERS, Routes, op, schema};
use crate::domain::compensation::Compensation;
use crate::projection::compensations;

/// This resource's routes.
pub(super) fn routes(routes: Routes) -> Routes {
    routes
        .get(
            "/v1/compensations/overdue",
            op("Unsettled entitlements past their legal deadline")
                .roles(READERS)
                .query(schema::<ListQuery>)
                .response(schema::<Page<compensations::Entitlement>>),
            overdue_compensations,
        )
        .get(
            "/v1/compensations/{id}",
            op("A compensation entitlement")
                .path(schema::<IdPath>)
                .roles(READERS)
                .query(schema::<After>)
                .response(schema::<compensations::Entitlement>),
            compensation,
        )
        .post(
            "/v1/compensations/{id}/{command}",
            op("Compensation command")
                .path(schema::<IdPath>)
                .roles(CARE)
                .commands(Compensation::COMMANDS)
                .id_field(<Compensation as CommandTarget>::CREATE.1)
                .request(schema::<<Compensation as crate::domain::Aggregate>::Command>)
                .response(schema::<CommandResult>),
            command,
        )
}

pub async fn command(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, command)): CommandPath,
    headers: HeaderMap,
    body: Bytes,
) -> Result<CommandResult, Problem> {
    run::<Compensation>(&state, &caller, &id, &command, &headers, &body).await
}

/// `GET /v1/compensations/{id}`: one entitlement and where it stands.
pub async fn compensation(
    State(state): State<AppState>,
    IdPath { id }: IdPath,
    Params(query): Params<After>,
) -> Result<Json<compensations::Entitlement>, Problem> {
    wait_for(&state, compensations::NAME, query.after).await?;
    let entitlement = compensations::entitlement(&model(&state, compensations::NAME)?, id)
        .map_err(read_failed(compensations::NAME))?;
    found(entitlement, "compensation")
}

/// `GET /v1/compensations/overdue`: unsettled entitlements past their legal deadline,
/// earliest first.
pub async fn overdue_compensations(
    State(state): State<AppState>,
    Params(query): Params<ListQuery>,
) -> Result<Json<Page<compensations::Entitlement>>, Problem> {
    wait_for(&state, compensations::NAME, query.after).await?;
    let rows = compensations::overdue(&model(&state, compensations::NAME)?, Utc::now())
        .map_err(read_failed(compensations::NAME))?;
    Ok(Json(query.paging().page(rows)?))
}
