//! Compensations: entitlements, the decisions behind them, their commands and the
//! overdue list.

use axum::Json;
use axum::extract::State;
use chrono::Utc;

use super::AppState;
use super::params::{IdPath, Params};
use super::problem::Problem;
use super::queries::{After, ListQuery, Page, found, model, read_failed, wait_for};
use super::routes::{READERS, Routes, op, schema};
use crate::app::command::load;
use crate::domain::compensation::{Compensation, CompensationDecision, GoverningChosen, Regime};
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
        .get(
            "/v1/compensations/{id}/decisions",
            op("Why an entitlement is what it is: every regime's decision, article by article")
                .path(schema::<IdPath>)
                .roles(READERS)
                .response(schema::<EntitlementDecisions>),
            decisions,
        )
        .commands_of::<Compensation>("Compensation command", schema::<IdPath>)
}

/// Every applicable regime's decision on one entitlement, as it was computed: the rule
/// and article applied line by line, the cash, voucher or miles, the care owed and the
/// refund right with its legal deadline; which regime governs and why. Holds no
/// personal data, so agents who make the offers read it as auditors do.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub struct EntitlementDecisions {
    pub compensation_id: uuid::Uuid,
    pub flight: crate::domain::common::FlightKey,
    pub passenger: crate::domain::common::PassengerId,
    /// The regime the claim is paid under (`null` while an agent has to choose it).
    pub governing: Option<Regime>,
    pub governing_reasoning: Vec<String>,
    /// The agent's choice, where the computation left it open.
    pub chosen: Option<GoverningChosen>,
    pub decisions: Vec<CompensationDecision>,
}

/// `GET /v1/compensations/{id}/decisions`: read from the entitlement's own events, so
/// always current.
pub async fn decisions(
    State(state): State<AppState>,
    IdPath { id }: IdPath,
) -> Result<Json<EntitlementDecisions>, Problem> {
    let stream = crate::domain::compensation::stream_name(id);
    let (entitlement, _) = load::<Compensation>(state.store(), &stream).map_err(|err| {
        Problem::unavailable(format!(
            "the entitlement could not be read now: {err}; retry"
        ))
    })?;
    let Some(computed) = entitlement.computed else {
        return Err(Problem::not_found("no compensation with this id"));
    };
    Ok(Json(EntitlementDecisions {
        compensation_id: id,
        flight: computed.flight,
        passenger: computed.passenger,
        governing: computed
            .governing
            .or(entitlement.chosen.as_ref().map(|c| c.regime)),
        governing_reasoning: computed.governing_reasoning,
        chosen: entitlement.chosen,
        decisions: computed.decisions,
    }))
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
