//! Flights: the disrupted flights of a day; one flight as crisisd knows it (its status
//! and disruption facts, the incidents, complaints and passengers about it); a flight's
//! compensation ledger, per passenger and regime, as JSON or CSV for a regulator's or
//! an auditor's check (every line names the log positions of the events behind it); a
//! crisis lead's override of who answers for the disruption.

use axum::Json;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::header;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use chrono::{NaiveDate, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::AppState;
use super::auth::Caller;
use super::commands::{CommandResult, command_meta, typed_body};
use super::params::Params;
use super::problem::Problem;
use super::queries::{After, Page, Paging, bad_cursor, model, read_failed, wait_for};
use super::routes::{READERS, Routes, op, schema};
use crate::app::command::execute;
use crate::domain::common::{AirportCode, FlightKey, PassengerId, Role};
use crate::domain::flight::{self, Controllability, Flight, FlightCommand};
use crate::projection::{compensations, disruptions, flights};
use axum::body::Bytes;
use axum::http::HeaderMap;

/// This resource's routes.
pub(super) fn routes(routes: Routes) -> Routes {
    routes
        .get(
            "/v1/flights",
            op("The flights disrupted on a day (delayed, cancelled, diverted, returned to the ramp), at an airport if given, in flight order")
                .roles(READERS)
                .query(schema::<DisruptedQuery>)
                .response(schema::<Page<flights::FlightRecord>>),
            disrupted,
        )
        .get(
            "/v1/flights/{carrier}/{number}/{date}",
            op("A flight as crisisd knows it: schedule, status, disruption facts, its incidents, complaints and passengers")
                .path(schema::<FlightPath>)
                .roles(READERS)
                .query(schema::<After>)
                .response(schema::<FlightView>),
            flight_view,
        )
        .get(
            "/v1/flights/{carrier}/{number}/{date}/cost",
            op("A flight, cause to cost: its disruptions, incidents, signals, complaints, passengers, compensation owed, offered and paid per regime and currency, care owed; with the ids and positions behind each figure")
                .path(schema::<FlightPath>)
                .roles(READERS)
                .query(schema::<After>)
                .response(schema::<crate::analysis::cost::FlightCost>),
            flight_cost,
        )
        .get(
            "/v1/flights/{carrier}/{number}/{date}/ledger",
            op("A flight's compensation ledger: per passenger and regime, owed, paid, overdue")
                .path(schema::<FlightPath>)
                .roles(READERS)
                .query(schema::<After>)
                .response(schema::<compensations::FlightLedger>),
            ledger,
        )
        .post(
            "/v1/flights/{carrier}/{number}/{date}/override_controllability",
            op("Override who answers for a flight's disruption (the delay codes' reading), with a reason; entitlements computed on the old cause are recomputed")
                .path(schema::<FlightPath>)
                .roles(&[Role::CrisisLead])
                .request(schema::<OverrideBody>)
                .response(schema::<CommandResult>),
            override_controllability,
        )
        .get(
            "/v1/flights/{carrier}/{number}/{date}/ledger.csv",
            op("A flight's compensation ledger as CSV (RFC 4180), one line per passenger and regime")
                .path(schema::<FlightPath>)
                .roles(READERS)
                .query(schema::<After>)
                .media("text/csv"),
            ledger_csv,
        )
}

/// The body of `override_controllability`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OverrideBody {
    /// `carrier_caused`, `safety` or `extraordinary`: it stands for every regulation.
    pub controllability: Controllability,
    /// Why (e.g. "bird strike confirmed by engineering"): staff-written, recorded.
    pub reason: String,
}

/// `POST /v1/flights/{carrier}/{number}/{date}/override_controllability`: records the
/// crisis lead's class; a flight whose disruption is final has its entitlements
/// recomputed (superseding computations where a decision changes).
pub async fn override_controllability(
    State(state): State<AppState>,
    caller: Caller,
    path: FlightPath,
    headers: HeaderMap,
    body: Bytes,
) -> Result<CommandResult, Problem> {
    let request: OverrideBody = typed_body(&body)?;
    let fingerprinted = serde_json::json!({
        "controllability": request.controllability,
        "reason": request.reason,
    });
    let meta = command_meta(
        &caller,
        "flights",
        "override_controllability",
        &headers,
        &fingerprinted,
    )?;
    let command = FlightCommand::OverrideControllability {
        controllability: request.controllability,
        reason: request.reason,
    };
    let stream = flight::stream_name(&path.key());
    let executed = execute::<Flight>(state.journal(), &stream, &command, &meta).await?;
    Ok(executed.into())
}

/// The flight of a `/v1/flights/{carrier}/{number}/{date}` route; a key that cannot be
/// a flight is a 404 saying why.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct FlightPath {
    /// IATA (2) or ICAO (3) airline designator.
    #[schemars(regex(pattern = r"^[A-Z0-9]{2,3}$"))]
    pub carrier: String,
    /// 1-4 digits and an optional letter.
    #[schemars(regex(pattern = r"^[0-9]{1,4}[A-Z]?$"))]
    pub number: String,
    /// Scheduled departure date at the origin (local), YYYY-MM-DD.
    pub date: NaiveDate,
}

impl<S: Send + Sync> FromRequestParts<S> for FlightPath {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        let Path(path) = Path::<FlightPath>::from_request_parts(parts, state)
            .await
            .map_err(|err| Problem::not_found(format!("no such flight: {}", err.body_text())))?;
        FlightKey::new(&path.carrier, &path.number, path.date)
            .map_err(|why| Problem::not_found(format!("no such flight: {why}")))?;
        Ok(path)
    }
}

impl FlightPath {
    fn key(&self) -> FlightKey {
        FlightKey::new(&self.carrier, &self.number, self.date).expect("checked when taken")
    }
}

/// The query of `GET /v1/flights`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DisruptedQuery {
    /// The flights' day: the scheduled departure date at the origin, `YYYY-MM-DD`.
    pub date: NaiveDate,
    /// Only flights from, to or diverted to this airport (IATA code).
    pub airport: Option<AirportCode>,
    /// Answer once the read model has applied this log position.
    pub after: Option<u64>,
    /// Flights per page (default and most: 500).
    #[schemars(range(min = 1))]
    pub limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// `GET /v1/flights?date=&airport=`: the day's disrupted flights, a page at a time.
pub async fn disrupted(
    State(state): State<AppState>,
    Params(query): Params<DisruptedQuery>,
) -> Result<Json<Page<flights::FlightRecord>>, Problem> {
    wait_for(&state, flights::NAME, query.after).await?;
    let limit = Paging {
        limit: query.limit,
        cursor: None,
    }
    .limit()?;
    let after = query
        .cursor
        .as_deref()
        .map(|cursor| {
            FlightKey::from_stream(cursor)
                .map(|key| flight::stream_name(&key))
                .ok_or_else(bad_cursor)
        })
        .transpose()?;
    let (items, more) = flights::disrupted(
        &model(&state, flights::NAME)?,
        query.date,
        query.airport,
        after.as_deref(),
        limit,
    )
    .map_err(read_failed(flights::NAME))?;
    let next_cursor = more
        .then(|| items.last().map(|f| flight::stream_name(&f.flight)))
        .flatten();
    Ok(Json(Page { items, next_cursor }))
}

/// One flight as crisisd knows it.
#[derive(Debug, Serialize, JsonSchema)]
pub struct FlightView {
    #[serde(flatten)]
    pub record: flights::FlightRecord,
    /// Disrupted for good: cancelled, or arrived at least the regulations' threshold
    /// late (what compensation is computed on).
    pub final_disruption: bool,
    /// Passengers known to be on it from what names them (signals, contacts,
    /// complaints), by pseudonymous id.
    pub passengers: Vec<PassengerId>,
    /// Passengers its last manifest lists, by pseudonymous id.
    pub booked: Vec<PassengerId>,
}

/// `GET /v1/flights/{carrier}/{number}/{date}`: a flight crisisd has heard of (from
/// flight ops, an incident, a complaint or a signal), or a 404.
pub async fn flight_view(
    State(state): State<AppState>,
    path: FlightPath,
    Params(query): Params<After>,
) -> Result<Json<FlightView>, Problem> {
    wait_for(&state, flights::NAME, query.after).await?;
    wait_for(&state, disruptions::NAME, query.after).await?;
    let key = path.key();
    let record = flights::flight(&model(&state, flights::NAME)?, &key)
        .map_err(read_failed(flights::NAME))?;
    let Some(record) = record else {
        return Err(Problem::not_found(format!(
            "crisisd has heard nothing of flight {key}"
        )));
    };
    let entry = disruptions::flight_entry(&model(&state, disruptions::NAME)?, &key)
        .map_err(read_failed(disruptions::NAME))?;
    let (final_disruption, passengers, booked) = entry.map_or_else(Default::default, |e| {
        (e.final_disruption, e.passengers, e.booked)
    });
    Ok(Json(FlightView {
        record,
        final_disruption,
        passengers,
        booked,
    }))
}

/// `GET /v1/flights/{carrier}/{number}/{date}/cost`.
pub async fn flight_cost(
    State(state): State<AppState>,
    path: FlightPath,
    Params(query): Params<After>,
) -> Result<Json<crate::analysis::cost::FlightCost>, Problem> {
    let read = super::reports::CostModels::read(&state, query.after).await?;
    let flights_model = super::reports::applied(&state, flights::NAME, query.after).await?;
    let key = path.key();
    let cost = crate::analysis::cost::flight(&read.models(), &flights_model, &key, Utc::now())
        .map_err(read_failed(flights::NAME))?;
    cost.map(Json)
        .ok_or_else(|| Problem::not_found(format!("crisisd has heard nothing of flight {key}")))
}

async fn read(
    state: &AppState,
    path: &FlightPath,
    after: Option<u64>,
) -> Result<compensations::FlightLedger, Problem> {
    wait_for(state, compensations::NAME, after).await?;
    compensations::ledger(&model(state, compensations::NAME)?, &path.key(), Utc::now())
        .map_err(read_failed(compensations::NAME))
}

/// `GET /v1/flights/{carrier}/{number}/{date}/ledger`: lines and totals (a flight
/// crisisd computed nothing for has none).
pub async fn ledger(
    State(state): State<AppState>,
    path: FlightPath,
    Params(query): Params<After>,
) -> Result<Json<compensations::FlightLedger>, Problem> {
    Ok(Json(read(&state, &path, query.after).await?))
}

/// `GET /v1/flights/{carrier}/{number}/{date}/ledger.csv`: the lines as CSV.
pub async fn ledger_csv(
    State(state): State<AppState>,
    path: FlightPath,
    Params(query): Params<After>,
) -> Result<Response, Problem> {
    let ledger = read(&state, &path, query.after).await?;
    let file = format!("attachment; filename=\"ledger-{}.csv\"", ledger.flight);
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, file),
        ],
        compensations::ledger_csv(&ledger),
    )
        .into_response())
}
