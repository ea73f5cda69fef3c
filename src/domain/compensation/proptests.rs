//! Property tests: random command sequences with random amounts never leave
//! an impossible entitlement, amounts in every event are non-negative
//! integers, events round-trip, and replay rebuilds the same state.

use proptest::prelude::*;

use super::tests::{compute_command, compute_undecided, eur, recompute};
use super::*;
use crate::domain::common::{Currency, Role};
use crate::domain::testing::ctx_at;
use crate::domain::{Aggregate, DomainEvent};

use CompensationCommand as C;

fn money() -> impl Strategy<Value = Money> {
    let currency = prop_oneof![4 => Just(Currency::EUR), 1 => Just(Currency::GBP)];
    (
        prop_oneof![Just(0u64), Just(25_000), Just(60_000), 0u64..100_000],
        currency,
    )
        .prop_map(|(amount, currency)| Money::new(amount, currency))
}

fn option() -> impl Strategy<Value = OfferOption> {
    prop_oneof![
        money().prop_map(|amount| OfferOption::Cash { amount }),
        money().prop_map(|amount| OfferOption::Voucher { amount }),
        (0u64..20_000).prop_map(|miles| OfferOption::Miles { miles }),
    ]
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![3 => Just("text".to_owned()), 1 => Just(String::new())]
}

fn command() -> impl Strategy<Value = C> {
    prop_oneof![
        1 => (0u64..100_000).prop_map(|cents| compute_command(eur(cents))),
        1 => (0u64..100_000).prop_map(|cents| compute_undecided(eur(cents))),
        1 => (0u64..100_000, text()).prop_map(|(cents, reason)| recompute(eur(cents), &reason)),
        1 => (prop_oneof![Just(Regime::Eu261), Just(Regime::CanadaAppr), Just(Regime::Goodwill)], text())
            .prop_map(|(regime, reason)| C::ChooseGoverningRegime { regime, reason }),
        4 => proptest::collection::vec(option(), 0..3).prop_map(|options| C::OfferCompensation { options }),
        3 => option().prop_map(|choice| C::AcceptOffer { choice }),
        1 => text().prop_map(|reason| C::DeclineOffer { reason: reason.into() }),
        2 => text().prop_map(|reference| C::RecordPayment { reference }),
        2 => text().prop_map(|reason| C::RecordPaymentFailure { reason }),
        1 => (money(), text()).prop_map(|(amount, reference)| C::RecordCareExpense {
            duty: crate::domain::policy::compensation::CareDuty::Accommodation,
            amount,
            reference,
        }),
    ]
}

/// A generated step, resolved against the current state so that sequences
/// often take valid paths (accepting an option that was really offered,
/// offering cash that covers the entitlement) besides the random ones.
#[derive(Debug, Clone)]
pub(crate) enum Step {
    Raw(Box<C>),
    AcceptNth(usize),
    OfferCovering { extra: u64, voucher_first: bool },
}

pub(crate) fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => command().prop_map(|c| Step::Raw(Box::new(c))),
        2 => (0usize..3).prop_map(Step::AcceptNth),
        2 => (0u64..5_000, any::<bool>()).prop_map(|(extra, voucher_first)| Step::OfferCovering { extra, voucher_first }),
    ]
}

pub(crate) fn resolve(step: &Step, state: &Compensation) -> Option<C> {
    match step {
        Step::Raw(command) => Some(C::clone(command)),
        Step::AcceptNth(n) => {
            let choice = state.options.get(n % state.options.len().max(1))?.clone();
            Some(C::AcceptOffer { choice })
        }
        Step::OfferCovering {
            extra,
            voucher_first,
        } => {
            let entitled = state.entitled()?;
            let cash = OfferOption::Cash {
                amount: Money::new(entitled.amount_minor + extra + 1, entitled.currency),
            };
            let voucher = OfferOption::Voucher {
                amount: Money::new(2 * entitled.amount_minor + 1, entitled.currency),
            };
            let options = if *voucher_first {
                vec![voucher, cash]
            } else {
                vec![cash, voucher]
            };
            Some(C::OfferCompensation { options })
        }
    }
}

/// Every `amount_minor` and `miles` in `value` is a non-negative integer (or absent: `null`).
fn amounts_non_negative(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::Object(map) => map.iter().all(|(key, v)| {
            let is_amount = key == "amount_minor" || key == "miles";
            (!is_amount || v.is_null() || v.as_u64().is_some()) && amounts_non_negative(v)
        }),
        serde_json::Value::Array(items) => items.iter().all(amounts_non_negative),
        _ => true,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_commands_keep_entitlements_possible_and_replayable(
        steps in proptest::collection::vec((step(), 0i64..3000), 1..40)
    ) {
        let mut state = Compensation::default();
        let mut log = Vec::new();
        let mut minute = 0;
        for (step, elapsed) in &steps {
            minute += elapsed;
            let Some(command) = resolve(step, &state) else { continue };
            let Ok(events) = state.decide(&command, &ctx_at(Role::Agent, minute)) else { continue };
            for event in events {
                state = state.evolve(&event);
                let broken = invariants::violations(&state);
                prop_assert!(broken.is_empty(), "after {command:?}: {broken:?}");
                let data = event.to_data();
                prop_assert!(amounts_non_negative(&data), "negative or non-integer amount in {data}");
                let decoded = CompensationEvent::from_data(event.event_type(), 1, &data.to_string());
                prop_assert_eq!(decoded.as_ref(), Ok(&event));
                log.push(event);
            }
        }
        let replayed = log.iter().fold(Compensation::default(), |s, e| s.evolve(e));
        prop_assert_eq!(replayed, state);
    }
}
