//! The reads of the compensations model: one entitlement, the overdue ones, an
//! incident's execute view, a flight's or an incident's ledger, and the settlements due
//! to incidents.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::{
    Entitlement, IncidentTotals, SettlementDue, Status, deadline_key, flight_prefix, incident_key,
    key, settlement_key,
};
use crate::domain::common::{Currency, FlightKey, Money, PassengerId};
use crate::domain::compensation::{OfferOption, Regime};
use crate::projection::model::{ModelError, ReadModel};
use crate::projection::{csv_field, spelled};

pub fn settlements_after(
    tree: &ReadModel,
    after: u64,
    limit: usize,
) -> Result<Vec<SettlementDue>, ModelError> {
    tree.range(settlement_key(after.saturating_add(1))..settlement_key(u64::MAX))
        .take(limit)
        .map(|entry| entry.map(|(_, due)| due))
        .collect()
}

pub fn entitlement(tree: &ReadModel, id: Uuid) -> Result<Option<Entitlement>, ModelError> {
    tree.get(key(b'E', id))
}

/// Unsettled entitlements whose legal payment deadline passed before `now`, earliest
/// first (failed payments included: the money is still owed).
pub fn overdue(tree: &ReadModel, now: DateTime<Utc>) -> Result<Vec<Entitlement>, ModelError> {
    let end = deadline_key(now, Uuid::nil());
    let mut found = Vec::new();
    for k in tree.keys(b"D".to_vec()..end) {
        let k = k?;
        let id = Uuid::from_slice(&k[9..])?;
        if let Some(e) = entitlement(tree, id)? {
            found.push(e);
        }
    }
    Ok(found)
}

/// The execute view of one incident: contacts made and compensation money.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ExecutionView {
    pub incident_id: Uuid,
    pub contacts_planned: u64,
    pub contacts_made: u64,
    pub contacts_by_outcome: BTreeMap<crate::domain::incident::ContactOutcome, u64>,
    pub compensation: IncidentTotals,
    pub overdue: Vec<Entitlement>,
}

/// Joins the incidents model (contacts) and this one (money) for one incident.
pub fn execution(
    incidents: &ReadModel,
    compensations: &ReadModel,
    incident_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<ExecutionView>, ModelError> {
    let Some(summary) = crate::projection::incidents::summary(incidents, incident_id)? else {
        return Ok(None);
    };
    let compensation = compensations
        .get(key(b'T', incident_id))?
        .unwrap_or_default();
    let overdue = overdue(compensations, now)?
        .into_iter()
        .filter(|e| e.incident_id == Some(incident_id))
        .collect();
    Ok(Some(ExecutionView {
        incident_id,
        contacts_planned: summary.contacts_planned,
        contacts_made: summary.contacts_by_outcome.values().sum(),
        contacts_by_outcome: summary.contacts_by_outcome,
        compensation,
        overdue,
    }))
}

/// One passenger's entitlement under one regime, as a regulator checks it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct LedgerLine {
    pub flight: FlightKey,
    pub passenger: PassengerId,
    pub compensation_id: Uuid,
    pub regime: Regime,
    /// The regime the claim is paid under (the others are deducted, EU 261 Art. 12).
    pub governing: bool,
    /// Cash this regime owes; `null`: none.
    pub owed: Option<Money>,
    /// Care this regime owes at the airport (meals, hotel, transport, communication).
    pub care: Vec<crate::domain::policy::compensation::CareDuty>,
    /// The refund right this regime gives, its legal deadline and the fare it repays.
    pub refund: Option<crate::domain::policy::compensation::RefundRight>,
    pub status: Status,
    /// What was paid (governing line only): cash, a voucher or miles.
    pub paid: Option<OfferOption>,
    pub paid_late: bool,
    pub payment_deadline: DateTime<Utc>,
    /// Unsettled and past the deadline at the time of the read.
    pub overdue: bool,
    /// Log positions of the entitlement's events.
    pub positions: Vec<u64>,
}

/// Per regime and currency: passengers owed cash, the sums owed and paid, the overdue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct LedgerTotal {
    pub regime: Regime,
    pub currency: Currency,
    /// Passengers this regime owes cash to.
    pub passengers_owed: u64,
    pub owed_minor: u64,
    /// Passengers whose claim this regime governs.
    pub governing: u64,
    /// Cash paid under this regime as the governing one.
    pub paid_minor: u64,
    pub overdue: u64,
}

/// A flight's compensation ledger at one instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct FlightLedger {
    pub flight: FlightKey,
    pub as_of: DateTime<Utc>,
    pub lines: Vec<LedgerLine>,
    pub totals: Vec<LedgerTotal>,
}

/// An incident's compensation ledger at one instant: every entitlement linked to it,
/// whichever flight it is owed for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct IncidentLedger {
    pub incident_id: Uuid,
    pub as_of: DateTime<Utc>,
    /// By flight, passenger, then regime.
    pub lines: Vec<LedgerLine>,
    pub totals: Vec<LedgerTotal>,
}

/// The ledger of `flight` at `now`: a line per passenger and applicable regime, by
/// passenger then regime, and the totals per regime and currency.
pub fn ledger(
    tree: &ReadModel,
    flight: &FlightKey,
    now: DateTime<Utc>,
) -> Result<FlightLedger, ModelError> {
    let (lines, totals) = lines_and_totals(tree, ids_under(tree, &flight_prefix(flight))?, now)?;
    Ok(FlightLedger {
        flight: flight.clone(),
        as_of: now,
        lines,
        totals,
    })
}

/// The ledger of `incident_id` at `now`, like a flight's over every flight the
/// incident's entitlements are owed for.
pub fn incident_ledger(
    tree: &ReadModel,
    incident_id: Uuid,
    now: DateTime<Utc>,
) -> Result<IncidentLedger, ModelError> {
    let ids = ids_under(tree, &incident_key(incident_id, None))?;
    let (lines, totals) = lines_and_totals(tree, ids, now)?;
    Ok(IncidentLedger {
        incident_id,
        as_of: now,
        lines,
        totals,
    })
}

/// The ids of the entitlements whose ids follow `prefix` in the model's keys.
fn ids_under(tree: &ReadModel, prefix: &[u8]) -> Result<Vec<Uuid>, ModelError> {
    tree.prefix_keys(prefix)
        .map(|k| Ok(Uuid::from_slice(&k?[prefix.len()..])?))
        .collect()
}

/// The ids of the entitlements owed for `flight`.
pub fn of_flight(tree: &ReadModel, flight: &FlightKey) -> Result<Vec<Uuid>, ModelError> {
    ids_under(tree, &flight_prefix(flight))
}

/// The ledger lines of the entitlements `ids` at `now`, by flight, passenger and
/// regime, and their totals per regime and currency.
pub fn lines_and_totals(
    tree: &ReadModel,
    ids: impl IntoIterator<Item = Uuid>,
    now: DateTime<Utc>,
) -> Result<(Vec<LedgerLine>, Vec<LedgerTotal>), ModelError> {
    let mut lines = Vec::new();
    for id in ids {
        let Some(e) = entitlement(tree, id)? else {
            continue;
        };
        let overdue = !e.settled() && e.payment_deadline < now;
        for owed in &e.regimes {
            let governing = e.governing == Some(owed.regime);
            lines.push(LedgerLine {
                flight: e.flight.clone(),
                passenger: e.passenger.clone(),
                compensation_id: e.compensation_id,
                regime: owed.regime,
                governing,
                owed: owed.cash.filter(|m| m.amount_minor > 0),
                care: owed.care.clone(),
                refund: owed.refund.clone(),
                status: e.status,
                paid: if governing { e.paid.clone() } else { None },
                paid_late: governing && e.paid_late,
                payment_deadline: e.payment_deadline,
                overdue,
                positions: e.positions.clone(),
            });
        }
    }
    lines.sort_by(|a, b| {
        (&a.flight, &a.passenger, a.regime).cmp(&(&b.flight, &b.passenger, b.regime))
    });
    let mut totals: BTreeMap<(Regime, Currency), LedgerTotal> = BTreeMap::new();
    for line in &lines {
        let Some(owed) = line.owed else { continue };
        let total = totals
            .entry((line.regime, owed.currency))
            .or_insert(LedgerTotal {
                regime: line.regime,
                currency: owed.currency,
                passengers_owed: 0,
                owed_minor: 0,
                governing: 0,
                paid_minor: 0,
                overdue: 0,
            });
        total.passengers_owed += 1;
        total.owed_minor += owed.amount_minor;
        if line.governing {
            total.governing += 1;
            total.overdue += u64::from(line.overdue);
            if let Some(OfferOption::Cash { amount }) = &line.paid
                && amount.currency == owed.currency
            {
                total.paid_minor += amount.amount_minor;
            }
        }
    }
    Ok((lines, totals.into_values().collect()))
}

/// The ledger's lines as CSV (RFC 4180), one line per passenger and regime, amounts in
/// minor units with their currency, positions separated by spaces.
pub fn ledger_csv(ledger: &FlightLedger) -> String {
    let mut out = String::from(
        "flight,passenger,compensation_id,regime,governing,owed_currency,owed_minor,status,paid_form,paid_currency,paid_amount,paid_late,payment_deadline,overdue,care,refund_deadline,refund_fare_currency,refund_fare_minor,positions\r\n",
    );
    let regime = |r: Regime| spelled(&r);
    let status = |s: Status| spelled(&s);
    for line in &ledger.lines {
        let (paid_form, paid_currency, paid_amount) = match &line.paid {
            Some(OfferOption::Cash { amount }) => (
                "cash",
                amount.currency.as_str().to_owned(),
                amount.amount_minor,
            ),
            Some(OfferOption::Voucher { amount }) => (
                "voucher",
                amount.currency.as_str().to_owned(),
                amount.amount_minor,
            ),
            Some(OfferOption::Miles { miles }) => ("miles", String::new(), *miles),
            None => ("", String::new(), 0),
        };
        let fields = [
            line.flight.to_string(),
            line.passenger.0.clone(),
            line.compensation_id.to_string(),
            regime(line.regime),
            line.governing.to_string(),
            line.owed
                .map_or_else(String::new, |m| m.currency.as_str().to_owned()),
            line.owed
                .map_or_else(String::new, |m| m.amount_minor.to_string()),
            status(line.status),
            paid_form.to_owned(),
            paid_currency,
            if line.paid.is_some() {
                paid_amount.to_string()
            } else {
                String::new()
            },
            line.paid_late.to_string(),
            line.payment_deadline
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            line.overdue.to_string(),
            line.care.iter().map(spelled).collect::<Vec<_>>().join(" "),
            line.refund.as_ref().map_or_else(String::new, |r| {
                r.deadline
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            }),
            line.refund
                .as_ref()
                .and_then(|r| r.fare)
                .map_or_else(String::new, |m| m.currency.as_str().to_owned()),
            line.refund
                .as_ref()
                .and_then(|r| r.fare)
                .map_or_else(String::new, |m| m.amount_minor.to_string()),
            line.positions
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(" "),
        ];
        let quoted: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        out.push_str(&quoted.join(","));
        out.push_str("\r\n");
    }
    out
}
