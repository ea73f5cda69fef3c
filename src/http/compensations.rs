//! Compensations: entitlements, their commands and the overdue list.

use axum::Json;
use axum::extract::State;
use chrono::Utc;

use super::AppState;
use super::params::{IdPath, Params};
use super::problem::Problem;
use super::queries::{After, ListQuery, Page, found, model, read_failed, wait_for};
use super::routes::{READERS, Routes, op, schema};
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
        .commands_of::<Compensation>("Compensation command", schema::<IdPath>)
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
