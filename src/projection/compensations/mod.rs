//! Compensations read model: every entitlement's status and amounts, totals per
//! incident and currency, and the legal payment deadlines still open — the money side
//! of the **execute** view (the contact side comes from the incidents model).
//!
//! Amounts are integer minor units per ISO 4217 currency; miles are counted apart. An
//! entitlement counts as owed once computed with its governing regime (or once an
//! agent chose it, where the policy could not compare the amounts), offered once an offer is made, and then in
//! exactly one of accepted (awaiting payment), paid, failed (payment failed: still
//! owed) or declined. Paid and declined entitlements leave the open-deadline index.
//! One that owes nothing to pay (care only) is `nothing_owed`: settled as computed,
//! never in the deadline index nor in the totals.
//!
//! An incident cannot close before each compensation linked to it is settled, so the
//! model also keeps, in log order, the settlements an incident must record: one each
//! time a linked entitlement reaches a final state (paid, declined, failed, nothing
//! owed), or an
//! entitlement already in one is linked. The settlement reactor
//! ([`crate::app::settlements`]) records them on the incident.
//!
//! Keys:
//! - `E <compensation:16>` → [`Entitlement`] (JSON);
//! - `T <incident:16>` → [`IncidentTotals`] (JSON): per currency, counts and amounts;
//! - `D <deadline µs:u64 BE> <compensation:16>` → empty: unsettled entitlements by deadline;
//! - `L <compensation:16>` → the incident it is linked to (16 bytes);
//! - `X <compensation:16>` → its last final state ([`Settlement`], JSON);
//! - `S <position:u64 BE>` → [`SettlementDue`] (JSON), in log order;
//! - `F <flight key> 0x00 <compensation:16>` → empty: the entitlements of a flight;
//! - `G <incident:16> <compensation:16>` → empty: the entitlements of an incident.
//!
//! | file | holds |
//! |---|---|
//! | `model.rs` | how each event changes the model |
//! | `views.rs` | the reads HTTP and the settlement reactor make |

mod model;
#[cfg(test)]
mod tests;
mod views;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::common::{Currency, FlightKey, Money, PassengerId, Settlement};
use crate::domain::compensation::{OfferOption, Regime};
use crate::domain::policy::compensation::{CareDuty, RefundRight};

pub use model::totals_of;
pub use views::{
    ExecutionView, FlightLedger, IncidentLedger, LedgerLine, LedgerTotal, entitlement, execution,
    incident_ledger, ledger, ledger_csv, lines_and_totals, of_flight, overdue, settlements_after,
};

pub const NAME: &str = "compensations";

/// Where an entitlement stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Computed,
    /// No regime and no goodwill rule owes cash, a voucher or miles: settled as computed.
    NothingOwed,
    Offered,
    Accepted,
    Paid,
    Failed,
    Declined,
}

/// One entitlement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Entitlement {
    pub compensation_id: Uuid,
    pub incident_id: Option<Uuid>,
    pub flight: FlightKey,
    pub passenger: PassengerId,
    /// `null` while an agent has to choose it (amounts the policy could not compare).
    pub governing: Option<Regime>,
    pub status: Status,
    /// The governing regime's cash; `null` until it is chosen.
    pub entitled: Option<Money>,
    pub choice: Option<OfferOption>,
    pub paid: Option<OfferOption>,
    pub payment_deadline: DateTime<Utc>,
    pub paid_late: bool,
    /// The cash each applicable regime owes (compensation under one is deducted from
    /// another, EU 261 Art. 12: the governing one is paid).
    #[serde(default)]
    pub regimes: Vec<RegimeOwed>,
    /// Log positions of the entitlement's events, oldest first: every figure traces to
    /// them (`GET /v1/audit/events`).
    #[serde(default)]
    pub positions: Vec<u64>,
    /// A recomputation changed the amount after it was paid, declined or settled as
    /// owing nothing: a person decides what follows.
    #[serde(default)]
    pub review_required: bool,
    /// What was spent on the passenger's care, in the order recorded.
    #[serde(default)]
    pub care_expenses: Vec<CareExpense>,
}

/// A care expense: the duty it met, what it cost, its voucher, invoice or booking, and
/// the log position of the event that recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CareExpense {
    pub duty: CareDuty,
    pub amount: Money,
    pub reference: String,
    pub position: u64,
}

/// What one regime owes a passenger: cash (`null`: none), the care due at the airport,
/// and the refund right with its legal deadline and the fare it repays.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RegimeOwed {
    pub regime: Regime,
    pub cash: Option<Money>,
    #[serde(default)]
    pub care: Vec<CareDuty>,
    #[serde(default)]
    pub refund: Option<RefundRight>,
}

impl RegimeOwed {
    fn of(decision: &crate::domain::compensation::CompensationDecision) -> RegimeOwed {
        RegimeOwed {
            regime: decision.regime,
            cash: decision.cash,
            care: decision.care.clone(),
            refund: decision.refund.clone(),
        }
    }
}

impl Entitlement {
    fn settled(&self) -> bool {
        matches!(
            self.status,
            Status::Paid | Status::Declined | Status::NothingOwed
        )
    }
}

/// Counts and sums of one currency.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct Totals {
    pub owed: Tally,
    pub offered: Tally,
    pub accepted: Tally,
    pub paid: Tally,
    pub failed: Tally,
    pub declined: Tally,
    /// Care expenses (meals, hotels, transport) recorded: how many, and their sum.
    #[serde(default)]
    pub care_spent: Tally,
}

/// How many entitlements, and their sum in minor units.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct Tally {
    pub count: u64,
    pub amount_minor: u64,
}

/// An incident's compensation totals: per currency, counts and sums in minor units, and
/// miles accepted and paid.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct IncidentTotals {
    pub by_currency: BTreeMap<Currency, Totals>,
    pub miles_accepted: u64,
    pub miles_paid: u64,
}

/// A settlement an incident must record: its linked compensation reached a final state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SettlementDue {
    pub position: u64,
    pub incident_id: Uuid,
    pub compensation_id: Uuid,
    pub settlement: Settlement,
}

/// The compensations projection.
#[derive(Debug, Default)]
pub struct Compensations;

fn settlement_key(position: u64) -> Vec<u8> {
    let mut key = vec![b'S'];
    key.extend_from_slice(&position.to_be_bytes());
    key
}

fn key(tag: u8, id: Uuid) -> Vec<u8> {
    let mut key = vec![tag];
    key.extend_from_slice(id.as_bytes());
    key
}

/// The prefix of a flight's `F` keys.
fn flight_prefix(flight: &FlightKey) -> Vec<u8> {
    let mut key = vec![b'F'];
    key.extend_from_slice(flight.to_string().as_bytes());
    key.push(0);
    key
}

/// The key of an incident's `G` entry for one of its entitlements (`None`: the prefix).
fn incident_key(incident: Uuid, compensation: Option<Uuid>) -> Vec<u8> {
    let mut key = key(b'G', incident);
    if let Some(id) = compensation {
        key.extend_from_slice(id.as_bytes());
    }
    key
}

fn deadline_key(deadline: DateTime<Utc>, id: Uuid) -> Vec<u8> {
    let mut key = vec![b'D'];
    key.extend_from_slice(
        &u64::try_from(deadline.timestamp_micros())
            .unwrap_or(0)
            .to_be_bytes(),
    );
    key.extend_from_slice(id.as_bytes());
    key
}
