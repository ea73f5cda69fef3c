//! The compensation entitlement aggregate: one per passenger per disrupted
//! flight, computed → offered → accepted (cash, voucher or miles) or declined
//! → paid or failed (with a reason; a failed payment may be retried).
//!
//! Amounts are integer minor units ([`Money`]); "never negative" holds by
//! type (`u64`), and a cash option may never undercut the statutory amount.
//! The stream id is a UUID v5 of flight key and passenger id
//! ([`compensation_id`]), so computing the same entitlement twice lands on the
//! same stream and is refused there.
mod events;
pub mod input;
#[cfg(test)]
pub(crate) mod invariants;

#[cfg(test)]
pub(crate) mod proptests;
#[cfg(test)]
mod tests;

use crate::domain::common::api_name;
use uuid::Uuid;

pub use events::*;

#[cfg(test)]
use crate::domain::common::Settlement;
use crate::domain::common::{DataSubject, FlightKey, Money, PassengerId, PersonalData};
use crate::domain::{Aggregate, Context};

/// The explainable decisions of [`policy::compensation`](crate::domain::policy::compensation),
/// embedded in `compensation.computed`.
pub use crate::domain::policy::compensation::{CareDuty, CompensationDecision, Regime};

/// Namespace of compensation stream ids: UUID v5 of the URL namespace and
/// `urn:crisisd:compensation`. Never change it: ids of stored streams depend on it.
pub const COMPENSATION_NAMESPACE: Uuid = uuid::uuid!("10af4d52-5b36-57dc-8e8f-360d0d2cc3bd");

/// The entitlement id of `passenger` on `flight`: UUID v5 of `<flight key>/<passenger id>`.
pub fn compensation_id(flight: &FlightKey, passenger: &PassengerId) -> Uuid {
    Uuid::new_v5(
        &COMPENSATION_NAMESPACE,
        format!("{flight}/{passenger}").as_bytes(),
    )
}

/// The stream holding one entitlement: `compensation-<uuid>`.
pub fn stream_name(compensation_id: Uuid) -> String {
    format!("compensation-{compensation_id}")
}

/// A request to a compensation entitlement.
/// Over HTTP the variant is named by the route (`start_assessment`) and its fields are
/// the JSON body.
#[derive(Debug, Clone, PartialEq, serde::Deserialize, schemars::JsonSchema)]
#[serde(
    tag = "command",
    content = "fields",
    rename_all = "snake_case",
    deny_unknown_fields
)]
pub enum CompensationCommand {
    /// Records what the policy decided the passenger is owed: every
    /// applicable regime's decision, and the one the claim is paid under
    /// (EU 261 art. 12: compensation under one regime is deducted from another,
    /// so one governs the amount and the deadline).
    ComputeEntitlement {
        compensation_id: Uuid,
        flight: FlightKey,
        passenger: PassengerId,
        incident_id: Option<Uuid>,
        decisions: Vec<CompensationDecision>,
        /// `null` only when the regimes owe cash in currencies that cannot be
        /// compared: an agent then chooses with `choose_governing_regime`.
        governing: Option<Regime>,
        /// Why that regime governs, or why none was chosen.
        #[serde(default)]
        governing_reasoning: Vec<String>,
    },
    /// Records a computation on changed facts that supersedes the one before (refused
    /// when it decides nothing new).
    RecomputeEntitlement {
        decisions: Vec<CompensationDecision>,
        governing: Option<Regime>,
        #[serde(default)]
        governing_reasoning: Vec<String>,
        /// Which facts changed.
        reason: String,
    },
    /// Chooses the regime the claim is paid under, where the computation could not
    /// compare the amounts owed (no exchange rate between their currencies).
    ChooseGoverningRegime { regime: Regime, reason: String },
    /// Puts options to the passenger (replacing an unanswered offer).
    OfferCompensation { options: Vec<OfferOption> },
    /// The passenger takes one offered option.
    AcceptOffer { choice: OfferOption },
    /// The passenger refuses the offer.
    DeclineOffer { reason: PersonalData<String> },
    /// The accepted option was paid out.
    RecordPayment { reference: String },
    /// Paying the accepted option failed.
    RecordPaymentFailure { reason: String },
    /// Records what the airline spent on the passenger's care (a meal voucher, a hotel
    /// night, a taxi): a cost of the disruption, whatever the cash claim's state.
    RecordCareExpense {
        duty: CareDuty,
        amount: Money,
        /// The voucher, invoice or booking it was spent on (staff-written).
        reference: String,
    },
}

/// A refused compensation command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompensationError {
    #[error("the entitlement has not been computed")]
    NotComputed,
    #[error("{reason}")]
    InvalidFlight { reason: String },
    #[error("the entitlement was already computed")]
    AlreadyComputed,
    #[error("the id must be the UUID v5 of flight and passenger ({expected})")]
    IdMismatch { expected: Uuid },
    #[error("the payment deadline lies before the computation")]
    DeadlineBeforeComputation,
    #[error("an entitlement needs at least one policy decision")]
    NoDecision,
    #[error("no decision of the governing regime {} was given", api_name(.regime))]
    GoverningDecisionMissing { regime: Regime },
    #[error("{} owes more in the same currency than the governing regime; it must govern", api_name(.regime))]
    GoverningDecisionNotHighest { regime: Regime },
    #[error(
        "the governing regime is not chosen yet (the policy has no exchange rate to compare the amounts owed): choose it first with choose_governing_regime"
    )]
    GoverningUndecided,
    #[error("a care expense must be more than zero")]
    CareExpenseZero,
    #[error("the new facts change no decision: nothing to recompute")]
    NothingChanged,
    #[error("the governing regime is already decided")]
    GoverningAlreadyDecided,
    #[error(
        "give the governing regime: the amounts owed are comparable (one currency), so a computation decides it"
    )]
    GoverningRequired,
    #[error("{} owes no cash here; choose a regime that does", api_name(.regime))]
    GoverningOwesNothing { regime: Regime },
    #[error("an offer is no longer possible in status {}", api_name(.status))]
    OfferClosed { status: CompensationStatus },
    #[error("an offer needs at least one option")]
    NoOptions,
    #[error(
        "nothing is owed: no regime and no goodwill rule owes cash, a voucher or miles (care at most), so there is nothing to offer"
    )]
    NothingOwed,
    #[error("an offer option is worth nothing")]
    ZeroOption,
    #[error("a cash entitlement must be offered as cash (vouchers only in addition)")]
    CashOptionRequired,
    #[error("cash offered ({offered} minor units) is below the entitlement ({entitled})")]
    CashBelowEntitlement { offered: u64, entitled: u64 },
    #[error("cash must be offered in the entitlement's currency {expected}")]
    CurrencyMismatch { expected: String },
    #[error("no offer is waiting for the passenger's answer")]
    NoOpenOffer,
    #[error("the chosen option was not offered")]
    ChoiceNotOffered,
    #[error("a payment requires an accepted offer (or a failed payment to retry)")]
    PaymentRequiresAcceptance,
    #[error("{field} must not be empty")]
    Required { field: &'static str },
}

/// Where an entitlement stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CompensationStatus {
    #[default]
    None,
    Computed,
    Offered,
    Accepted,
    Declined,
    Paid,
    Failed,
}

/// The state of one compensation stream.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Compensation {
    pub status: CompensationStatus,
    pub computed: Option<CompensationComputed>,
    /// The agent's choice, where the computation left the governing regime open.
    pub chosen: Option<GoverningChosen>,
    /// Computations so far: 1 once computed, one more per recomputation.
    pub revision: u32,
    /// A recomputation changed the amount of a settled entitlement: a person decides.
    pub review_required: bool,
    pub options: Vec<OfferOption>,
    pub choice: Option<OfferOption>,
    pub failure_reason: Option<String>,
    pub paid: Option<CompensationPaid>,
}

impl Compensation {
    /// The final state the incident's close rule needs, once reached.
    #[cfg(test)]
    pub fn settlement(&self) -> Option<Settlement> {
        match self.status {
            CompensationStatus::Computed
                if self.computed.as_ref().is_some_and(|c| c.owes_nothing()) =>
            {
                Some(Settlement::NothingOwed)
            }
            CompensationStatus::Paid => Some(Settlement::Paid),
            CompensationStatus::Declined => Some(Settlement::Declined),
            CompensationStatus::Failed => Some(Settlement::Failed {
                reason: self.failure_reason.clone().unwrap_or_default(),
            }),
            _ => None,
        }
    }

    /// The cash owed under the governing regime; `None` until it is decided.
    pub fn entitled(&self) -> Option<Money> {
        let computed = self.computed.as_ref()?;
        computed
            .entitled
            .or_else(|| self.chosen.as_ref().map(|c| c.entitled))
    }

    /// The deadline of the governing regime (while undecided, the earliest one).
    pub fn payment_deadline(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        match &self.chosen {
            Some(chosen) => Some(chosen.payment_deadline),
            None => self.computed.as_ref().map(|c| c.payment_deadline),
        }
    }

    fn check_offer(&self, options: &[OfferOption]) -> Result<(), CompensationError> {
        use CompensationStatus as S;
        if !matches!(self.status, S::Computed | S::Offered) {
            return Err(CompensationError::OfferClosed {
                status: self.status,
            });
        }
        if self.computed.as_ref().is_some_and(|c| c.owes_nothing()) {
            return Err(CompensationError::NothingOwed);
        }
        if options.is_empty() {
            return Err(CompensationError::NoOptions);
        }
        if options.iter().any(OfferOption::is_zero) {
            return Err(CompensationError::ZeroOption);
        }
        let entitled = self
            .entitled()
            .ok_or(CompensationError::GoverningUndecided)?;
        let cash: Vec<Money> = options
            .iter()
            .filter_map(|o| match o {
                OfferOption::Cash { amount } => Some(*amount),
                _ => None,
            })
            .collect();
        if entitled.amount_minor > 0 && cash.is_empty() {
            return Err(CompensationError::CashOptionRequired);
        }
        for amount in cash {
            if amount.currency != entitled.currency {
                return Err(CompensationError::CurrencyMismatch {
                    expected: entitled.currency.to_string(),
                });
            }
            if amount.amount_minor < entitled.amount_minor {
                let (offered, entitled) = (amount.amount_minor, entitled.amount_minor);
                return Err(CompensationError::CashBelowEntitlement { offered, entitled });
            }
        }
        Ok(())
    }
}

fn require_text(field: &'static str, text: &str) -> Result<(), CompensationError> {
    if text.trim().is_empty() {
        Err(CompensationError::Required { field })
    } else {
        Ok(())
    }
}

impl Aggregate for Compensation {
    type Command = CompensationCommand;
    type Event = CompensationEvent;
    type Error = CompensationError;

    fn decide(
        &self,
        command: &CompensationCommand,
        ctx: &Context,
    ) -> Result<Vec<CompensationEvent>, CompensationError> {
        use CompensationCommand as C;
        use CompensationStatus as S;
        let event = match (self.status, command) {
            (S::None, C::ComputeEntitlement { .. }) => {
                CompensationEvent::Computed(compute(command, ctx)?)
            }
            (_, C::ComputeEntitlement { .. }) => return Err(CompensationError::AlreadyComputed),
            (S::None, _) => return Err(CompensationError::NotComputed),
            (
                _,
                C::RecomputeEntitlement {
                    decisions,
                    governing,
                    governing_reasoning,
                    reason,
                },
            ) => CompensationEvent::Recomputed(self.recompute(
                decisions,
                *governing,
                governing_reasoning,
                reason,
                ctx,
            )?),
            (_, C::ChooseGoverningRegime { regime, reason }) => {
                CompensationEvent::GoverningChosen(self.choose(*regime, reason, ctx)?)
            }
            (_, C::OfferCompensation { options }) => {
                self.check_offer(options)?;
                let offered = CompensationOffered {
                    options: options.clone(),
                    offered_by: ctx.actor.id.clone(),
                    offered_at: ctx.now,
                };
                CompensationEvent::Offered(offered)
            }
            (S::Offered, C::AcceptOffer { choice }) => {
                if !self.options.contains(choice) {
                    return Err(CompensationError::ChoiceNotOffered);
                }
                CompensationEvent::Accepted(CompensationAccepted {
                    choice: choice.clone(),
                    accepted_at: ctx.now,
                })
            }
            (S::Offered, C::DeclineOffer { reason }) => {
                CompensationEvent::Declined(CompensationDeclined {
                    reason: reason.clone(),
                    declined_at: ctx.now,
                })
            }
            (_, C::AcceptOffer { .. } | C::DeclineOffer { .. }) => {
                return Err(CompensationError::NoOpenOffer);
            }
            (S::Accepted | S::Failed, C::RecordPayment { reference }) => {
                require_text("reference", reference)?;
                let deadline = self.payment_deadline().expect("computed");
                CompensationEvent::Paid(CompensationPaid {
                    paid: self
                        .choice
                        .clone()
                        .expect("an accepted entitlement has a choice"),
                    reference: reference.clone(),
                    paid_at: ctx.now,
                    late: ctx.now > deadline,
                })
            }
            (
                _,
                C::RecordCareExpense {
                    duty,
                    amount,
                    reference,
                },
            ) => {
                require_text("reference", reference)?;
                if amount.amount_minor == 0 {
                    return Err(CompensationError::CareExpenseZero);
                }
                CompensationEvent::CareExpenseRecorded(CareExpenseRecorded {
                    duty: *duty,
                    amount: *amount,
                    reference: reference.clone(),
                })
            }
            (S::Accepted, C::RecordPaymentFailure { reason }) => {
                require_text("reason", reason)?;
                CompensationEvent::Failed(CompensationFailed {
                    reason: reason.clone(),
                    failed_at: ctx.now,
                })
            }
            (_, C::RecordPayment { .. } | C::RecordPaymentFailure { .. }) => {
                return Err(CompensationError::PaymentRequiresAcceptance);
            }
        };
        Ok(vec![event])
    }

    fn evolve(mut self, event: &CompensationEvent) -> Self {
        use CompensationStatus as S;
        match event {
            CompensationEvent::Computed(e) => {
                self.computed = Some(e.clone());
                self.status = S::Computed;
                self.revision = 1;
            }
            CompensationEvent::Recomputed(e) => {
                let before = self.entitled();
                let computed = self.computed.as_mut().expect("recomputed after computed");
                computed.decisions = e.decisions.clone();
                computed.governing = e.governing;
                computed.governing_reasoning = e.governing_reasoning.clone();
                computed.entitled = e.entitled;
                computed.payment_deadline = e.payment_deadline;
                self.chosen = None;
                self.revision += 1;
                self.review_required |= e.review_required;
                let changed = before != e.entitled;
                if changed && matches!(self.status, S::Offered | S::Accepted | S::Failed) {
                    // The offer answered the old amount: a new one is due.
                    self.status = S::Computed;
                    self.options.clear();
                    self.choice = None;
                    self.failure_reason = None;
                }
            }
            CompensationEvent::GoverningChosen(e) => self.chosen = Some(e.clone()),
            CompensationEvent::Offered(e) => {
                self.options = e.options.clone();
                self.status = S::Offered;
            }
            CompensationEvent::Accepted(e) => {
                self.choice = Some(e.choice.clone());
                self.status = S::Accepted;
            }
            CompensationEvent::Declined(_) => self.status = S::Declined,
            CompensationEvent::Paid(e) => {
                self.paid = Some(e.clone());
                self.status = S::Paid;
            }
            CompensationEvent::Failed(e) => {
                self.failure_reason = Some(e.reason.clone());
                self.status = S::Failed;
            }
            // A cost, not a step of the claim.
            CompensationEvent::CareExpenseRecorded(_) => {}
        }
        self
    }

    /// The passenger the entitlement is for (a declining passenger's reason).
    fn data_subject(&self, event: &CompensationEvent) -> Option<DataSubject> {
        let passenger = match event {
            CompensationEvent::Computed(c) => &c.passenger,
            _ => &self.computed.as_ref()?.passenger,
        };
        Some(DataSubject::Passenger(passenger.clone()))
    }
}

fn compute(
    command: &CompensationCommand,
    ctx: &Context,
) -> Result<CompensationComputed, CompensationError> {
    let CompensationCommand::ComputeEntitlement {
        compensation_id: id,
        flight,
        passenger,
        incident_id,
        decisions,
        governing,
        governing_reasoning,
    } = command
    else {
        unreachable!("compute is only called with ComputeEntitlement")
    };
    flight
        .check()
        .map_err(|reason| CompensationError::InvalidFlight { reason })?;
    let expected = compensation_id(flight, passenger);
    if *id != expected {
        return Err(CompensationError::IdMismatch { expected });
    }
    let (entitled, payment_deadline) = match governing {
        Some(regime) => {
            let decision = governing_decision(decisions, *regime)?;
            (Some(decision.entitled()), decision.payment_deadline)
        }
        None => (None, undecided_deadline(decisions)?),
    };
    if payment_deadline < ctx.now {
        return Err(CompensationError::DeadlineBeforeComputation);
    }
    Ok(CompensationComputed {
        compensation_id: *id,
        flight: flight.clone(),
        passenger: passenger.clone(),
        incident_id: *incident_id,
        decisions: decisions.clone(),
        governing: *governing,
        governing_reasoning: governing_reasoning.clone(),
        entitled,
        payment_deadline,
        computed_at: ctx.now,
    })
}

/// Whether two decisions decide the same, leaving aside when they were decided and the
/// deadlines that run from then: two computations on the same facts decide the same.
fn same_decision(a: &CompensationDecision, b: &CompensationDecision) -> bool {
    let refund = |d: &CompensationDecision| d.refund.as_ref().map(|r| (r.rule_id.clone(), r.fare));
    a.regime == b.regime
        && a.rule_id == b.rule_id
        && (a.cash, a.voucher, a.miles) == (b.cash, b.voucher, b.miles)
        && a.care == b.care
        && refund(a) == refund(b)
}

impl Compensation {
    fn recompute(
        &self,
        decisions: &[CompensationDecision],
        governing: Option<Regime>,
        governing_reasoning: &[String],
        reason: &str,
        ctx: &Context,
    ) -> Result<CompensationRecomputed, CompensationError> {
        use CompensationStatus as S;
        require_text("reason", reason)?;
        let computed = self.computed.as_ref().expect("computed");
        let same = computed.decisions.len() == decisions.len()
            && computed
                .decisions
                .iter()
                .zip(decisions)
                .all(|(a, b)| same_decision(a, b))
            && computed.governing == governing;
        if same {
            return Err(CompensationError::NothingChanged);
        }
        let (entitled, payment_deadline) = match governing {
            Some(regime) => {
                let decision = governing_decision(decisions, regime)?;
                (Some(decision.entitled()), decision.payment_deadline)
            }
            None => (None, undecided_deadline(decisions)?),
        };
        let previous = self.entitled();
        let settled = matches!(self.status, S::Paid | S::Declined) || computed.owes_nothing();
        Ok(CompensationRecomputed {
            decisions: decisions.to_vec(),
            governing,
            governing_reasoning: governing_reasoning.to_vec(),
            entitled,
            payment_deadline,
            supersedes: self.revision,
            previous_entitled: previous,
            reason: reason.to_owned(),
            review_required: settled && previous != entitled,
            recomputed_at: ctx.now,
        })
    }
}

/// The earliest deadline of the regimes owing cash, when they owe it in more than one
/// currency (else the computation must name the governing regime).
fn undecided_deadline(
    decisions: &[CompensationDecision],
) -> Result<chrono::DateTime<chrono::Utc>, CompensationError> {
    if decisions.is_empty() {
        return Err(CompensationError::NoDecision);
    }
    let owing: Vec<&CompensationDecision> = decisions
        .iter()
        .filter(|d| d.entitled().amount_minor > 0)
        .collect();
    let currencies: std::collections::BTreeSet<_> =
        owing.iter().map(|d| d.entitled().currency).collect();
    if currencies.len() < 2 {
        return Err(CompensationError::GoverningRequired);
    }
    Ok(owing
        .iter()
        .map(|d| d.payment_deadline)
        .min()
        .expect("two currencies owed"))
}

impl Compensation {
    fn choose(
        &self,
        regime: Regime,
        reason: &str,
        ctx: &Context,
    ) -> Result<GoverningChosen, CompensationError> {
        let computed = self.computed.as_ref().expect("computed");
        if computed.governing.is_some() || self.chosen.is_some() {
            return Err(CompensationError::GoverningAlreadyDecided);
        }
        require_text("reason", reason)?;
        let owes_cash = computed
            .decisions
            .iter()
            .find(|d| d.regime == regime)
            .ok_or(CompensationError::GoverningDecisionMissing { regime })?
            .entitled()
            .amount_minor
            > 0;
        if !owes_cash {
            return Err(CompensationError::GoverningOwesNothing { regime });
        }
        let decision = governing_decision(&computed.decisions, regime)?;
        let entitled = decision.entitled();
        Ok(GoverningChosen {
            regime,
            entitled,
            payment_deadline: decision.payment_deadline,
            reason: reason.to_owned(),
            chosen_by: ctx.actor.id.clone(),
            chosen_at: ctx.now,
        })
    }
}

/// The decision of the governing regime, refused when absent or when another
/// regime owes more cash in the same currency (the passenger may claim the
/// higher amount; amounts in different currencies are not compared here).
fn governing_decision(
    decisions: &[CompensationDecision],
    governing: Regime,
) -> Result<&CompensationDecision, CompensationError> {
    if decisions.is_empty() {
        return Err(CompensationError::NoDecision);
    }
    let chosen = decisions
        .iter()
        .find(|d| d.regime == governing)
        .ok_or(CompensationError::GoverningDecisionMissing { regime: governing })?;
    let entitled = chosen.entitled();
    let higher = decisions.iter().find(|d| {
        let owed = d.entitled();
        owed.currency == entitled.currency && owed.amount_minor > entitled.amount_minor
    });
    match higher {
        Some(d) => Err(CompensationError::GoverningDecisionNotHighest { regime: d.regime }),
        None => Ok(chosen),
    }
}
