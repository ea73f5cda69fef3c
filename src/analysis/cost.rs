//! Cause to cost for an incident, a flight, the disrupted flights of a period (on a
//! route, if asked) or a root cause: what it was (an incident's causes), what
//! it caused (signals, complaints, passengers affected) and what it costs
//! (compensation owed, offered, paid per regime and currency, the care owed), with the
//! satisfaction it left — each figure with the ids or log positions of the events
//! behind it. Money is counted the same way for both: from the entitlements' ledger
//! lines.
//!
//! Care counts twice: the duties owed (meals, hotel, transport...) per kind, and what
//! was spent on them where staff recorded it (`record_care_expense`), per currency in
//! the totals (`care_spent`).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::Serialize;
use uuid::Uuid;

use chrono::NaiveDate;

use crate::domain::common::{AirportCode, FlightKey, RootCause};
use crate::domain::incident::CauseRecorded;
use crate::domain::policy::compensation::CareDuty;
use crate::projection::compensations::{self, IncidentTotals, LedgerLine, LedgerTotal};
use crate::projection::{ModelError, ReadModel, complaints, disruptions, flights, incidents};

/// The complaints an incident caused.
#[derive(Debug, Clone, Default, PartialEq, Serialize, JsonSchema)]
pub struct ComplaintFigures {
    pub received: u64,
    pub open: u64,
    /// Closed with the customer satisfied.
    pub resolved: u64,
    /// Proposals the customers refused.
    pub reopens: u64,
    /// Resolved / (resolved + reopens).
    pub satisfaction: Option<f64>,
    /// Service levels breached.
    pub breaches: u64,
    /// Resolved complaints per root cause of their accepted resolution.
    pub root_causes: BTreeMap<RootCause, u64>,
    /// The complaints, by id (`GET /v1/complaints/{id}`).
    pub complaint_ids: Vec<Uuid>,
}

/// The passengers it affected, as each source counts them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, JsonSchema)]
pub struct PassengerFigures {
    /// The crisis lead's impact assessment (`null`: not assessed).
    pub assessed: Option<u64>,
    /// Known on its flight from what names them (signals, contacts, complaints).
    pub known: u64,
    /// On its flight's last manifest.
    pub booked: u64,
}

/// What it costs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct CostFigures {
    /// Per currency: owed, offered, accepted, paid, failed, declined (counts and
    /// minor units).
    pub by_currency: IncidentTotals,
    /// Per regime and currency: passengers owed, owed, paid, overdue.
    pub by_regime: Vec<LedgerTotal>,
    /// Care duties owed at the airport, per kind (passengers × regimes owing it).
    pub care_duties: BTreeMap<CareDuty, u64>,
    /// The entitlements, by id (`GET /v1/compensations/{id}`, each with the log
    /// positions of its events).
    pub compensation_ids: Vec<Uuid>,
    /// Log positions of every entitlement event counted.
    pub positions: Vec<u64>,
}

/// The satisfaction surveys after it.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct SurveyFigures {
    pub sent: u64,
    pub answered: u64,
    /// Average score (1 to 5) of the answers.
    pub average_score: Option<f64>,
}

/// One incident, cause to cost.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct IncidentCost {
    pub incident_id: Uuid,
    pub title: String,
    pub flight: Option<FlightKey>,
    pub as_of: DateTime<Utc>,
    /// The root causes its review recorded, with the departments responsible.
    pub causes: Vec<CauseRecorded>,
    /// Signals (posts, calls, messages) attached to it.
    pub signals: u64,
    pub complaints: ComplaintFigures,
    pub passengers: PassengerFigures,
    pub cost: CostFigures,
    pub surveys: SurveyFigures,
}

/// The read models the figures come from.
pub struct Models<'a> {
    pub incidents: &'a ReadModel,
    pub complaints: &'a ReadModel,
    pub compensations: &'a ReadModel,
    pub disruptions: &'a ReadModel,
}

/// The incident `id`, cause to cost, at `now` (`None`: no such incident).
pub fn incident(
    models: &Models<'_>,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<IncidentCost>, ModelError> {
    let Some(summary) = incidents::summary(models.incidents, id)? else {
        return Ok(None);
    };
    let complaints = complaints::of_incident(models.complaints, id)?;
    let entry = match &summary.flight {
        Some(flight) => disruptions::flight_entry(models.disruptions, flight)?,
        None => None,
    };
    let ledger = compensations::incident_ledger(models.compensations, id, now)?;
    let surveys = &summary.surveys;
    Ok(Some(IncidentCost {
        incident_id: id,
        title: summary.title.clone(),
        flight: summary.flight.clone(),
        as_of: now,
        causes: summary.causes.clone(),
        signals: summary.signals,
        complaints: complaint_figures(complaints),
        passengers: PassengerFigures {
            assessed: summary.impact.as_ref().map(|i| i.passengers.total()),
            known: entry.as_ref().map_or(0, |e| e.passengers.len() as u64),
            booked: entry.as_ref().map_or(0, |e| e.booked.len() as u64),
        },
        cost: cost_figures(models.compensations, &ledger.lines, ledger.totals)?,
        surveys: SurveyFigures {
            sent: surveys.sent,
            answered: surveys.answered,
            average_score: (surveys.answered > 0)
                .then(|| surveys.score_sum as f64 / surveys.answered as f64),
        },
    }))
}

fn complaint_figures(summaries: Vec<complaints::ComplaintSummary>) -> ComplaintFigures {
    let mut c = ComplaintFigures::default();
    for complaint in summaries {
        c.received += 1;
        let closed = complaint.status == complaints::Status::Closed;
        c.open += u64::from(!closed);
        c.resolved += u64::from(closed);
        c.reopens += u64::from(complaint.reopens);
        c.breaches += complaint.breaches.len() as u64;
        if closed && let Some(cause) = complaint.root_cause {
            *c.root_causes.entry(cause).or_default() += 1;
        }
        c.complaint_ids.push(complaint.complaint_id);
    }
    c.satisfaction =
        (c.resolved + c.reopens > 0).then(|| c.resolved as f64 / (c.resolved + c.reopens) as f64);
    c
}

/// The money of the entitlements behind `lines`, counted from the entitlements
/// themselves the way the compensations model counts an incident's.
fn cost_figures(
    compensations: &ReadModel,
    lines: &[LedgerLine],
    by_regime: Vec<LedgerTotal>,
) -> Result<CostFigures, ModelError> {
    let mut care_duties: BTreeMap<CareDuty, u64> = BTreeMap::new();
    let mut compensation_ids = Vec::new();
    let mut positions = Vec::new();
    for line in lines {
        for duty in &line.care {
            *care_duties.entry(*duty).or_default() += 1;
        }
        if !compensation_ids.contains(&line.compensation_id) {
            compensation_ids.push(line.compensation_id);
            positions.extend(&line.positions);
        }
    }
    positions.sort_unstable();
    positions.dedup();
    let mut entitlements = Vec::with_capacity(compensation_ids.len());
    for id in &compensation_ids {
        entitlements.extend(compensations::entitlement(compensations, *id)?);
    }
    Ok(CostFigures {
        by_currency: compensations::totals_of(&entitlements),
        by_regime,
        care_duties,
        compensation_ids,
        positions,
    })
}

/// One flight, cause to cost.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct FlightCost {
    pub flight: FlightKey,
    pub as_of: DateTime<Utc>,
    /// How it was disrupted.
    pub disruptions: Vec<flights::Disruption>,
    /// The incidents opened about it.
    pub incident_ids: Vec<Uuid>,
    /// Signals (posts, calls, messages) that named it.
    pub signals: u64,
    pub complaints: ComplaintFigures,
    pub passengers: PassengerFigures,
    pub cost: CostFigures,
}

/// The flight `key`, cause to cost, at `now` (`None`: crisisd heard nothing of it).
pub fn flight(
    models: &Models<'_>,
    flights_model: &ReadModel,
    key: &FlightKey,
    now: DateTime<Utc>,
) -> Result<Option<FlightCost>, ModelError> {
    let Some(record) = flights::flight(flights_model, key)? else {
        return Ok(None);
    };
    let mut summaries = Vec::new();
    for id in &record.complaints {
        summaries.extend(complaints::complaint(models.complaints, *id)?);
    }
    let entry = disruptions::flight_entry(models.disruptions, key)?;
    let ledger = compensations::ledger(models.compensations, key, now)?;
    Ok(Some(FlightCost {
        flight: key.clone(),
        as_of: now,
        disruptions: record.disruptions,
        incident_ids: record.incidents,
        signals: record.signals,
        complaints: complaint_figures(summaries),
        passengers: PassengerFigures {
            assessed: None,
            known: entry.as_ref().map_or(0, |e| e.passengers.len() as u64),
            booked: entry.as_ref().map_or(0, |e| e.booked.len() as u64),
        },
        cost: cost_figures(models.compensations, &ledger.lines, ledger.totals)?,
    }))
}

/// The disrupted flights of a period (on one route, if asked), cause to cost: the
/// figures of [`FlightCost`] added up over them.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct PeriodCost {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// `FRA-JFK`: only flights scheduled from the first airport to the second.
    pub route: Option<String>,
    pub as_of: DateTime<Utc>,
    /// The disrupted flights, by day then flight (`GET /v1/flights/{carrier}/{number}/{date}/cost`
    /// gives each one's figures).
    pub flights: Vec<FlightKey>,
    /// The incidents opened about them.
    pub incident_ids: Vec<Uuid>,
    /// Signals (posts, calls, messages) that named them.
    pub signals: u64,
    pub complaints: ComplaintFigures,
    pub passengers: PassengerFigures,
    pub cost: CostFigures,
}

/// Longest period [`period`] adds up, in days.
pub const PERIOD_DAYS_MAX: i64 = 31;

/// The flights disrupted from `from` to `to` (their scheduled dates, inclusive), only
/// those from `route.0` to `route.1` if given, cause to cost at `now`.
pub fn period(
    models: &Models<'_>,
    flights_model: &ReadModel,
    (from, to): (NaiveDate, NaiveDate),
    route: Option<(AirportCode, AirportCode)>,
    now: DateTime<Utc>,
) -> Result<PeriodCost, ModelError> {
    let mut records = Vec::new();
    for day in from.iter_days().take_while(|d| *d <= to) {
        let (found, _) =
            flights::disrupted(flights_model, day, route.map(|r| r.0), None, usize::MAX)?;
        records.extend(found.into_iter().filter(|f| {
            route.is_none_or(|(origin, destination)| {
                f.state
                    .schedule
                    .as_ref()
                    .is_some_and(|s| s.origin == origin && s.destination == destination)
            })
        }));
    }
    let (mut incident_ids, mut complaint_ids, mut entitlements) =
        (Vec::new(), Vec::new(), Vec::new());
    let (mut signals, mut known, mut booked) = (0, 0, 0);
    let mut seen = std::collections::HashSet::new();
    for record in &records {
        // In log order, each once (an incident or a complaint may name several flights).
        incident_ids.extend(record.incidents.iter().filter(|id| seen.insert(**id)));
        complaint_ids.extend(record.complaints.iter().filter(|id| seen.insert(**id)));
        signals += record.signals;
        if let Some(entry) = disruptions::flight_entry(models.disruptions, &record.flight)? {
            known += entry.passengers.len() as u64;
            booked += entry.booked.len() as u64;
        }
        entitlements.extend(compensations::of_flight(
            models.compensations,
            &record.flight,
        )?);
    }
    let mut summaries = Vec::with_capacity(complaint_ids.len());
    for id in complaint_ids {
        summaries.extend(complaints::complaint(models.complaints, id)?);
    }
    let (lines, totals) = compensations::lines_and_totals(models.compensations, entitlements, now)?;
    Ok(PeriodCost {
        from,
        to,
        route: route.map(|(o, d)| format!("{o}-{d}")),
        as_of: now,
        flights: records.into_iter().map(|r| r.flight).collect(),
        incident_ids,
        signals,
        complaints: complaint_figures(summaries),
        passengers: PassengerFigures {
            assessed: None,
            known,
            booked,
        },
        cost: cost_figures(models.compensations, &lines, totals)?,
    })
}

/// A root cause, cause to cost: the complaints whose resolution names it now, the
/// passengers they are from, and the entitlements resolutions naming it offered.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct RootCauseCost {
    pub root_cause: RootCause,
    pub as_of: DateTime<Utc>,
    pub complaints: ComplaintFigures,
    /// Passengers whose complaints it caused.
    pub passengers: u64,
    pub cost: CostFigures,
}

/// The root cause `cause`, cause to cost at `now`, from the reports model's index of
/// what counts under it.
pub fn root_cause(
    models: &Models<'_>,
    reports_model: &ReadModel,
    cause: &RootCause,
    now: DateTime<Utc>,
) -> Result<RootCauseCost, ModelError> {
    let (complaint_ids, entitlements) =
        crate::projection::reports::under_cause(reports_model, cause)?;
    let mut summaries = Vec::with_capacity(complaint_ids.len());
    for id in complaint_ids {
        summaries.extend(complaints::complaint(models.complaints, id)?);
    }
    let passengers = summaries
        .iter()
        .map(|s| &s.passenger)
        .collect::<std::collections::BTreeSet<_>>()
        .len() as u64;
    let (lines, totals) = compensations::lines_and_totals(models.compensations, entitlements, now)?;
    Ok(RootCauseCost {
        root_cause: cause.clone(),
        as_of: now,
        complaints: complaint_figures(summaries),
        passengers,
        cost: cost_figures(models.compensations, &lines, totals)?,
    })
}
