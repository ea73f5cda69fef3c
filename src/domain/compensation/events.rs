//! The facts of one compensation entitlement and the offer forms they carry.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{CareDuty, CompensationDecision, Regime};
use crate::domain::common::{FlightKey, Money, PassengerId, PersonalData};
use crate::domain::event::domain_events;

/// One way the passenger may take the compensation.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "form", rename_all = "snake_case")]
pub enum OfferOption {
    /// Money to the passenger's account or card.
    Cash { amount: Money },
    /// A travel voucher (EU 261 art. 7(3): only with the passenger's signed agreement).
    Voucher { amount: Money },
    /// Loyalty miles.
    Miles {
        #[schemars(range(max = 9_007_199_254_740_991u64))]
        miles: u64,
    },
}

impl OfferOption {
    /// Whether the option is worth nothing (a zero amount or zero miles).
    pub fn is_zero(&self) -> bool {
        match self {
            OfferOption::Cash { amount } | OfferOption::Voucher { amount } => {
                amount.amount_minor == 0
            }
            OfferOption::Miles { miles } => *miles == 0,
        }
    }
}

/// `compensation.computed`: what the passenger is owed and by when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CompensationComputed {
    pub compensation_id: Uuid,
    pub flight: FlightKey,
    pub passenger: PassengerId,
    pub incident_id: Option<Uuid>,
    /// Every applicable regime's explainable decision (inputs, rule id and
    /// version, reasoning), as the compensation policy produced them.
    pub decisions: Vec<CompensationDecision>,
    /// The regime the claim is paid under; `entitled` and `payment_deadline` are its.
    /// `null` when regimes owe amounts in currencies the policy has no exchange rate
    /// between: an agent chooses (`compensation.governing_chosen`).
    pub governing: Option<Regime>,
    /// Why that regime governs (the amounts compared, the rate used), or why none was
    /// chosen.
    #[serde(default)]
    pub governing_reasoning: Vec<String>,
    /// Statutory cash owed (zero when only care or goodwill is due); `null` until the
    /// governing regime is chosen.
    pub entitled: Option<Money>,
    /// The legal deadline for paying (e.g. APPR: answer within 30 days); while the
    /// governing regime is open, the earliest deadline of the regimes owing cash.
    pub payment_deadline: DateTime<Utc>,
    pub computed_at: DateTime<Utc>,
}

/// `compensation.recomputed`: the facts changed after the computation (a rerouting
/// taken, a later arrival report, a cause overridden, a corrected manifest); this
/// computation supersedes the one before, never overwriting it. What was paid is not
/// reduced: a changed amount on a paid or declined entitlement is flagged for review.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CompensationRecomputed {
    /// Every applicable regime's decision on the new facts.
    pub decisions: Vec<CompensationDecision>,
    pub governing: Option<Regime>,
    #[serde(default)]
    pub governing_reasoning: Vec<String>,
    pub entitled: Option<Money>,
    pub payment_deadline: DateTime<Utc>,
    /// The computation this one replaces: 1 is `compensation.computed`, 2 the first
    /// `compensation.recomputed`, and so on.
    pub supersedes: u32,
    /// What the superseded computation owed under its governing regime.
    pub previous_entitled: Option<Money>,
    /// Which facts changed.
    pub reason: String,
    /// Paid or declined already, or settled as owing nothing, and the amount changed:
    /// a person decides what follows (a top-up, a new offer), nothing is reduced.
    pub review_required: bool,
    pub recomputed_at: DateTime<Utc>,
}

/// `compensation.governing_chosen`: an agent chose the regime the claim is paid under,
/// where the policy could not compare the amounts owed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct GoverningChosen {
    pub regime: Regime,
    pub entitled: Money,
    pub payment_deadline: DateTime<Utc>,
    pub reason: String,
    pub chosen_by: String,
    pub chosen_at: DateTime<Utc>,
}

impl CompensationComputed {
    /// No decision owes cash, a voucher or miles: nothing will ever be paid, so the
    /// entitlement is settled as computed.
    pub fn owes_nothing(&self) -> bool {
        self.decisions
            .iter()
            .all(CompensationDecision::owes_nothing)
    }
}

/// `compensation.computed` as read models need it: everything but the explanation
/// of each decision (inputs, reasoning), kept for audit. Decoding skips those instead
/// of building them, which made up most of a read model's rebuild time for this event.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ComputedOutline {
    pub compensation_id: Uuid,
    /// What each decision owes to pay, nothing else of it.
    pub decisions: Vec<OwedOutline>,
    pub flight: FlightKey,
    pub passenger: PassengerId,
    pub incident_id: Option<Uuid>,
    pub governing: Option<Regime>,
    pub entitled: Option<Money>,
    pub payment_deadline: DateTime<Utc>,
    pub computed_at: DateTime<Utc>,
}

/// What one decision of a `compensation.computed` owes to pay.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct OwedOutline {
    pub regime: Regime,
    pub cash: Option<Money>,
    pub voucher: Option<Money>,
    pub miles: Option<u64>,
    #[serde(default)]
    pub care: Vec<crate::domain::policy::compensation::CareDuty>,
    #[serde(default)]
    pub refund: Option<crate::domain::policy::compensation::RefundRight>,
}

impl ComputedOutline {
    pub const EVENT_TYPE: &'static str = "compensation.computed";

    /// See [`CompensationComputed::owes_nothing`].
    pub fn owes_nothing(&self) -> bool {
        self.decisions
            .iter()
            .all(|d| crate::domain::policy::compensation::owes_nothing(d.cash, d.voucher, d.miles))
    }

    /// Decodes the data of a `compensation.computed` event, checking its schema version.
    pub fn from_data(
        schema_version: u32,
        data: &str,
    ) -> Result<ComputedOutline, crate::domain::EventDecodeError> {
        crate::domain::event::decode(Self::EVENT_TYPE, schema_version, data)
    }
}

/// `compensation.offered`: the options put to the passenger (replaces earlier offers).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CompensationOffered {
    pub options: Vec<OfferOption>,
    pub offered_by: String,
    pub offered_at: DateTime<Utc>,
}

/// `compensation.accepted`: the passenger chose one offered option.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CompensationAccepted {
    pub choice: OfferOption,
    pub accepted_at: DateTime<Utc>,
}

/// `compensation.declined`: the passenger refused every option (settled).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CompensationDeclined {
    /// Why the passenger refused, as they said it: personal data.
    pub reason: PersonalData<String>,
    pub declined_at: DateTime<Utc>,
}

/// `compensation.paid` (settled).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CompensationPaid {
    pub paid: OfferOption,
    /// Payment system reference (transfer id, voucher code, miles booking).
    pub reference: String,
    pub paid_at: DateTime<Utc>,
    /// Paid after the legal deadline.
    pub late: bool,
}

/// `compensation.failed`: the payment did not go through (settled with a reason; may be retried).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CompensationFailed {
    pub reason: String,
    pub failed_at: DateTime<Utc>,
}

/// `compensation.care_expense_recorded`: what the airline spent on the passenger's care.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CareExpenseRecorded {
    pub duty: CareDuty,
    pub amount: Money,
    /// The voucher, invoice or booking (staff-written).
    pub reference: String,
}

domain_events! {
    /// Every fact a compensation stream holds.
    pub enum CompensationEvent {
        Computed(CompensationComputed) = "compensation.computed",
        GoverningChosen(GoverningChosen) = "compensation.governing_chosen",
        Recomputed(CompensationRecomputed) = "compensation.recomputed",
        Offered(CompensationOffered) = "compensation.offered",
        Accepted(CompensationAccepted) = "compensation.accepted",
        Declined(CompensationDeclined) = "compensation.declined",
        Paid(CompensationPaid) = "compensation.paid",
        Failed(CompensationFailed) = "compensation.failed",
        CareExpenseRecorded(CareExpenseRecorded) = "compensation.care_expense_recorded",
    }
}
