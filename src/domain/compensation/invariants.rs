//! What must hold for every entitlement rebuilt from any accepted history.

use super::{Compensation, CompensationStatus as S, OfferOption};

/// Every broken invariant of `state`, described; empty when the state is possible.
pub fn violations(state: &Compensation) -> Vec<String> {
    let mut broken = Vec::new();
    let mut check = |ok: bool, what: &str| {
        if !ok {
            broken.push(what.to_owned());
        }
    };
    let Some(computed) = &state.computed else {
        check(
            *state == Compensation::default(),
            "an uncomputed entitlement has no facts",
        );
        return broken;
    };
    let decided = state.entitled();
    check(
        decided.is_some() || state.status == S::Computed,
        "nothing is offered before the governing regime is decided",
    );
    let Some(entitled) = decided else {
        return broken;
    };
    check(
        state.payment_deadline_after_computation(),
        "the deadline is not before the computation",
    );
    check(
        !computed.owes_nothing() || state.status == S::Computed,
        "nothing happens to an entitlement that owes nothing",
    );
    if state.status >= S::Offered {
        check(!state.options.is_empty(), "an offer has options");
    }
    for option in &state.options {
        check(!option.is_zero(), "no option is worth nothing");
        // A recomputation after payment or refusal leaves the old offer on record, for
        // a person to review; every live offer covers the entitlement.
        if state.review_required {
            continue;
        }
        if let OfferOption::Cash { amount } = option {
            let covers = amount.currency == entitled.currency
                && amount.amount_minor >= entitled.amount_minor;
            check(covers, "cash options cover the entitlement in its currency");
        }
    }
    let has_choice = matches!(state.status, S::Accepted | S::Paid | S::Failed);
    check(
        has_choice == state.choice.is_some(),
        "a choice exists exactly once accepted",
    );
    check(
        state
            .choice
            .as_ref()
            .is_none_or(|c| state.options.contains(c)),
        "the choice was offered",
    );
    check(
        (state.status == S::Paid) == state.paid.is_some(),
        "paid exactly when a payment is recorded",
    );
    check(
        state
            .paid
            .as_ref()
            .is_none_or(|p| Some(&p.paid) == state.choice.as_ref()),
        "the accepted option is paid",
    );
    if state.status == S::Failed {
        check(
            state
                .failure_reason
                .as_ref()
                .is_some_and(|r| !r.trim().is_empty()),
            "failures carry a reason",
        );
    }
    broken
}

impl Compensation {
    fn payment_deadline_after_computation(&self) -> bool {
        self.computed
            .as_ref()
            .is_none_or(|c| c.payment_deadline >= c.computed_at)
            && self.chosen.as_ref().is_none_or(|c| {
                self.computed
                    .as_ref()
                    .is_some_and(|p| p.governing.is_none())
                    && !c.reason.trim().is_empty()
            })
    }
}
