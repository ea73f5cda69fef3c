//! Given events / when command / then events (or the refusal) for every compensation command.

use super::*;
use crate::domain::common::{Currency, Role};
use crate::domain::testing;
use crate::domain::testing::{at, ctx_at, id};
use crate::domain::{DomainEvent, EventDecodeError};

use CompensationCommand as C;
use CompensationError as Err_;
use CompensationEvent as E;

pub(super) fn flight() -> FlightKey {
    FlightKey::new(
        "LH",
        "400",
        chrono::NaiveDate::from_ymd_opt(2026, 11, 22).unwrap(),
    )
    .unwrap()
}

pub(super) fn passenger() -> PassengerId {
    PassengerId("P1".into())
}

pub(super) fn eur(cents: u64) -> Money {
    Money::new(cents, Currency::EUR)
}

/// A decision of `regime` owing `cash`, payable within 7 days of `at(0)`.
pub(super) fn decision(regime: Regime, cash: Option<Money>) -> CompensationDecision {
    let mut decision = real_decisions()[0].clone();
    decision.regime = regime;
    decision.rule_id = format!("test.{regime:?}");
    decision.cash = cash;
    decision.voucher = None;
    decision.miles = None;
    decision.payment_deadline = at(7 * 24 * 60);
    decision
}

/// What the compensation policy decides for a 4 h arrival delay FRA → JFK on
/// an EU carrier: EU 261 cash, US DOT, and goodwill.
fn real_decisions() -> Vec<CompensationDecision> {
    use crate::domain::common::Tier;
    use crate::domain::policy::compensation::decide;
    use crate::domain::policy::compensation_policy::CompensationPolicy;
    let input = crate::testing::workload::fra_jfk_delay(Tier::Gold, true, at(0));
    decide(&input, &CompensationPolicy::default_policy())
}

#[test]
fn computes_from_the_policys_real_decisions() {
    let decisions = real_decisions();
    let eu = decisions
        .iter()
        .find(|d| d.regime == Regime::Eu261)
        .expect("EU 261 applies to a departure from FRA");
    let compute = compute_with(decisions.clone(), Regime::Eu261);
    let events = when_at(&[], compute, 0).unwrap();
    let E::Computed(computed_event) = &events[0] else {
        panic!("{events:?}")
    };
    assert_eq!(computed_event.entitled, Some(eu.entitled()));
    assert_eq!(
        computed_event.entitled,
        Some(eur(60_000)),
        "EU 261 art. 7(1)(c): EUR 600 beyond 3,500 km"
    );
    assert_eq!(computed_event.payment_deadline, eu.payment_deadline);
    assert_eq!(computed_event.decisions, decisions);
}

fn compute_with(decisions: Vec<CompensationDecision>, governing: Regime) -> C {
    C::ComputeEntitlement {
        compensation_id: compensation_id(&flight(), &passenger()),
        flight: flight(),
        passenger: passenger(),
        incident_id: Some(id(9)),
        decisions,
        governing: Some(governing),
        governing_reasoning: vec![],
    }
}

/// EU 261 owing `eu` next to APPR owing CAD 700, with no rate to compare them: the
/// governing regime is left to an agent.
pub(super) fn compute_undecided(eu: Money) -> C {
    let decisions = vec![
        decision(Regime::Eu261, (eu.amount_minor > 0).then_some(eu)),
        decision(Regime::CanadaAppr, Some(Money::new(70_000, Currency::CAD))),
        decision(Regime::Goodwill, None),
    ];
    C::ComputeEntitlement {
        compensation_id: compensation_id(&flight(), &passenger()),
        flight: flight(),
        passenger: passenger(),
        incident_id: Some(id(9)),
        decisions,
        governing: None,
        governing_reasoning: vec!["no EUR/CAD rate".into()],
    }
}

/// An EU 261 entitlement to `entitled`, next to a goodwill decision owing nothing.
pub(super) fn compute_command(entitled: Money) -> C {
    let eu = decision(
        Regime::Eu261,
        (entitled.amount_minor > 0).then_some(entitled),
    );
    compute_with(vec![eu, decision(Regime::Goodwill, None)], Regime::Eu261)
}

fn given(events: &[E]) -> Compensation {
    testing::given(events)
}

/// Decides as an agent at `minute` and checks every produced event round-trips.
fn when_at(events: &[E], command: C, minute: i64) -> Result<Vec<E>, CompensationError> {
    testing::when_in::<Compensation>(events, &command, &ctx_at(Role::Agent, minute))
}

fn when(events: &[E], command: C) -> Result<Vec<E>, CompensationError> {
    when_at(events, command, 60)
}

fn computed() -> Vec<E> {
    given(&[])
        .decide(&compute_command(eur(60_000)), &ctx_at(Role::Agent, 0))
        .unwrap()
}

fn cash() -> OfferOption {
    OfferOption::Cash {
        amount: eur(60_000),
    }
}

fn voucher() -> OfferOption {
    OfferOption::Voucher {
        amount: eur(80_000),
    }
}

fn offered() -> Vec<E> {
    [
        computed(),
        when(
            &computed(),
            C::OfferCompensation {
                options: vec![cash(), voucher()],
            },
        )
        .unwrap(),
    ]
    .concat()
}

fn accepted() -> Vec<E> {
    [
        offered(),
        when(&offered(), C::AcceptOffer { choice: cash() }).unwrap(),
    ]
    .concat()
}

fn paid() -> Vec<E> {
    [
        accepted(),
        when(
            &accepted(),
            C::RecordPayment {
                reference: "PAY-1".into(),
            },
        )
        .unwrap(),
    ]
    .concat()
}

fn failed() -> Vec<E> {
    [
        accepted(),
        when(
            &accepted(),
            C::RecordPaymentFailure {
                reason: "IBAN closed".into(),
            },
        )
        .unwrap(),
    ]
    .concat()
}

#[test]
fn compensation_id_is_deterministic_per_flight_and_passenger() {
    let first = compensation_id(&flight(), &passenger());
    assert_eq!(first, compensation_id(&flight(), &passenger()));
    assert_eq!(first.get_version_num(), 5);
    assert_ne!(first, compensation_id(&flight(), &PassengerId("P2".into())));
    let namespace = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, b"urn:crisisd:compensation");
    assert_eq!(
        COMPENSATION_NAMESPACE, namespace,
        "the namespace is derived as documented"
    );
    assert_eq!(
        stream_name(id(1)),
        "compensation-00000000-0000-0000-0000-000000000001"
    );
}

#[test]
fn compute_entitlement() {
    let events = computed();
    let E::Computed(computed_event) = &events[0] else {
        panic!("{events:?}")
    };
    assert_eq!(
        (computed_event.entitled, computed_event.computed_at),
        (Some(eur(60_000)), at(0))
    );
    assert_eq!(
        when(&computed(), compute_command(eur(1))),
        Err(Err_::AlreadyComputed)
    );
    let C::ComputeEntitlement {
        flight,
        passenger,
        decisions,
        governing,
        ..
    } = compute_command(eur(1))
    else {
        unreachable!()
    };
    let wrong_id = C::ComputeEntitlement {
        compensation_id: id(1),
        flight,
        passenger,
        incident_id: None,
        decisions,
        governing,
        governing_reasoning: vec![],
    };
    let expected = compensation_id(&self::flight(), &self::passenger());
    assert_eq!(when(&[], wrong_id), Err(Err_::IdMismatch { expected }));
    let mut odd_flight = compute_command(eur(1));
    if let C::ComputeEntitlement { flight, .. } = &mut odd_flight {
        flight.carrier = "l\u{16}".into();
    }
    assert!(matches!(
        when(&[], odd_flight),
        Err(Err_::InvalidFlight { .. })
    ));
    let late = when_at(&[], compute_command(eur(1)), 8 * 24 * 60);
    assert_eq!(late, Err(Err_::DeadlineBeforeComputation));
    assert_eq!(
        when(
            &[],
            C::DeclineOffer {
                reason: String::new().into()
            }
        ),
        Err(Err_::NotComputed)
    );
}

#[test]
fn the_governing_decision_sets_amount_and_deadline() {
    let uk = decision(Regime::Uk261, Some(Money::new(52_000, Currency::GBP)));
    let eu = decision(Regime::Eu261, Some(eur(60_000)));
    let events = when(
        &[],
        compute_with(vec![eu.clone(), uk.clone()], Regime::Uk261),
    )
    .unwrap();
    let E::Computed(computed_event) = &events[0] else {
        panic!("{events:?}")
    };
    assert_eq!(
        computed_event.entitled,
        Some(Money::new(52_000, Currency::GBP))
    );
    assert_eq!(computed_event.payment_deadline, at(7 * 24 * 60));
    assert_eq!(
        computed_event.decisions,
        vec![eu.clone(), uk.clone()],
        "every decision is embedded"
    );
    assert_eq!(
        when(&[], compute_with(vec![], Regime::Eu261)),
        Err(Err_::NoDecision)
    );
    let missing = when(&[], compute_with(vec![uk], Regime::Eu261));
    assert_eq!(
        missing,
        Err(Err_::GoverningDecisionMissing {
            regime: Regime::Eu261
        })
    );
    let goodwill = decision(Regime::Goodwill, Some(eur(10_000)));
    let lower = when(&[], compute_with(vec![eu, goodwill], Regime::Goodwill));
    assert_eq!(
        lower,
        Err(Err_::GoverningDecisionNotHighest {
            regime: Regime::Eu261
        })
    );
}

#[test]
fn offer_compensation() {
    let offer = |options: Vec<OfferOption>| C::OfferCompensation { options };
    assert!(matches!(
        &when(&computed(), offer(vec![cash()])).unwrap()[..],
        [E::Offered(_)]
    ));
    assert!(
        when(&offered(), offer(vec![cash()])).is_ok(),
        "an unanswered offer can be replaced"
    );
    assert_eq!(when(&computed(), offer(vec![])), Err(Err_::NoOptions));
    assert_eq!(
        when(&computed(), offer(vec![voucher()])),
        Err(Err_::CashOptionRequired)
    );
    let low = OfferOption::Cash {
        amount: eur(59_999),
    };
    assert_eq!(
        when(&computed(), offer(vec![low])),
        Err(Err_::CashBelowEntitlement {
            offered: 59_999,
            entitled: 60_000
        })
    );
    let pounds = OfferOption::Cash {
        amount: Money::new(60_000, Currency::GBP),
    };
    assert_eq!(
        when(&computed(), offer(vec![pounds])),
        Err(Err_::CurrencyMismatch {
            expected: "EUR".into()
        })
    );
    assert_eq!(
        when(
            &computed(),
            offer(vec![cash(), OfferOption::Miles { miles: 0 }])
        ),
        Err(Err_::ZeroOption)
    );
    let status = CompensationStatus::Accepted;
    assert_eq!(
        when(&accepted(), offer(vec![cash()])),
        Err(Err_::OfferClosed { status })
    );
}

#[test]
fn goodwill_only_entitlement_may_be_offered_as_miles() {
    let mut goodwill = decision(Regime::Goodwill, None);
    goodwill.miles = Some(10_000);
    let compute = compute_with(vec![decision(Regime::Eu261, None), goodwill], Regime::Eu261);
    let zero = given(&[])
        .decide(&compute, &ctx_at(Role::Agent, 0))
        .unwrap();
    let miles = C::OfferCompensation {
        options: vec![OfferOption::Miles { miles: 10_000 }],
    };
    assert!(when(&zero, miles).is_ok());
}

#[test]
fn accept_offer() {
    let events = when(&offered(), C::AcceptOffer { choice: voucher() }).unwrap();
    assert_eq!(
        events,
        vec![E::Accepted(CompensationAccepted {
            choice: voucher(),
            accepted_at: at(60)
        })]
    );
    let other = OfferOption::Miles { miles: 5 };
    assert_eq!(
        when(&offered(), C::AcceptOffer { choice: other }),
        Err(Err_::ChoiceNotOffered)
    );
    assert_eq!(
        when(&computed(), C::AcceptOffer { choice: cash() }),
        Err(Err_::NoOpenOffer)
    );
}

#[test]
fn decline_offer_settles() {
    let events = when(
        &offered(),
        C::DeclineOffer {
            reason: "going to court".into(),
        },
    )
    .unwrap();
    assert_eq!(
        given(&[offered(), events].concat()).settlement(),
        Some(Settlement::Declined)
    );
    assert_eq!(
        when(
            &accepted(),
            C::DeclineOffer {
                reason: String::new().into()
            }
        ),
        Err(Err_::NoOpenOffer)
    );
}

#[test]
fn record_payment() {
    let events = when(
        &accepted(),
        C::RecordPayment {
            reference: "SEPA-1".into(),
        },
    )
    .unwrap();
    let E::Paid(paid) = &events[0] else {
        panic!("{events:?}")
    };
    assert_eq!((&paid.paid, paid.late), (&cash(), false));
    assert_eq!(
        given(&[accepted(), events].concat()).settlement(),
        Some(Settlement::Paid)
    );
    let late = when_at(
        &accepted(),
        C::RecordPayment {
            reference: "SEPA-1".into(),
        },
        8 * 24 * 60,
    )
    .unwrap();
    assert!(matches!(
        &late[..],
        [E::Paid(CompensationPaid { late: true, .. })]
    ));
    assert!(
        when(
            &failed(),
            C::RecordPayment {
                reference: "SEPA-2".into()
            }
        )
        .is_ok(),
        "a failed payment can be retried"
    );
    assert_eq!(
        when(
            &offered(),
            C::RecordPayment {
                reference: "x".into()
            }
        ),
        Err(Err_::PaymentRequiresAcceptance)
    );
    assert_eq!(
        when(
            &accepted(),
            C::RecordPayment {
                reference: " ".into()
            }
        ),
        Err(Err_::Required { field: "reference" })
    );
}

#[test]
fn record_payment_failure() {
    let settlement = given(&failed()).settlement();
    assert_eq!(
        settlement,
        Some(Settlement::Failed {
            reason: "IBAN closed".into()
        })
    );
    assert_eq!(
        when(&accepted(), C::RecordPaymentFailure { reason: "".into() }),
        Err(Err_::Required { field: "reason" })
    );
    assert_eq!(
        when(
            &failed(),
            C::RecordPaymentFailure {
                reason: "again".into()
            }
        ),
        Err(Err_::PaymentRequiresAcceptance)
    );
}

#[test]
fn negative_amounts_never_decode() {
    let mut data = computed()[0].to_data();
    data["entitled"]["amount_minor"] = serde_json::json!(-60_000);
    let decoded = CompensationEvent::from_data("compensation.computed", 1, &data.to_string());
    assert!(
        matches!(decoded, Err(EventDecodeError::InvalidData { .. })),
        "{decoded:?}"
    );
}

#[test]
fn decoding_refuses_unknown_types_and_newer_versions() {
    let data = computed()[0].to_data().to_string();
    let unknown = CompensationEvent::from_data("compensation.teleported", 1, &data);
    assert_eq!(
        unknown,
        Err(EventDecodeError::UnknownType {
            event_type: "compensation.teleported".into()
        })
    );
    let newer = CompensationEvent::from_data("compensation.computed", 2, &data);
    let expected = EventDecodeError::UnsupportedVersion {
        event_type: "compensation.computed".into(),
        found: 2,
        supported: 1,
    };
    assert_eq!(newer, Err(expected));
    assert!(matches!(
        CompensationEvent::from_data("compensation.computed", 0, &data),
        Err(EventDecodeError::InvalidData { .. })
    ));
}

#[test]
fn settlement_feeds_the_incident_close_rule() {
    use crate::domain::incident::{Incident, IncidentCommand};
    let mut incident = Incident::default();
    let lead = ctx_at(Role::CrisisLead, 0);
    let link = IncidentCommand::LinkCompensation {
        compensation_id: id(40),
        passenger: passenger(),
    };
    let open = IncidentCommand::OpenIncident {
        incident_id: id(9),
        title: "LH400".into(),
        category: crate::domain::common::Category::Cancellation,
        severity: crate::domain::common::Severity::High,
        flight: Some(flight()),
        correlation_key: None,
        signal_ids: vec![],
    };
    for command in [open, link] {
        for event in incident.decide(&command, &lead).unwrap() {
            incident = incident.evolve(&event);
        }
    }
    assert_eq!(
        given(&accepted()).settlement(),
        None,
        "an accepted, unpaid entitlement is not settled"
    );
    let settlement = given(&failed())
        .settlement()
        .expect("a failed payment is settled");
    let record = IncidentCommand::RecordCompensationSettlement {
        compensation_id: id(40),
        settlement,
    };
    let events = incident
        .decide(&record, &lead)
        .expect("a failure with its reason is accepted");
    let incident = events.iter().fold(incident, |i, e| i.evolve(e));
    assert!(incident.unsettled_compensations().is_empty());
}

/// Issue 19, item 8: an entitlement that owes nothing to pay (care only) is settled as
/// computed: nothing could ever be offered or paid on it, and an incident must be able
/// to close over it.
#[test]
fn an_entitlement_owing_nothing_is_settled_as_computed() {
    let nothing = compute_with(
        vec![
            decision(Regime::Eu261, None),
            decision(Regime::Goodwill, None),
        ],
        Regime::Eu261,
    );
    let events = when_at(&[], nothing, 0).unwrap();
    assert_eq!(given(&events).settlement(), Some(Settlement::NothingOwed));
    let voucher = OfferOption::Voucher { amount: eur(5_000) };
    assert_eq!(
        when(
            &events,
            C::OfferCompensation {
                options: vec![voucher.clone()]
            }
        ),
        Err(Err_::NothingOwed),
        "a gesture beyond the policy is not this entitlement's"
    );
    // Zero cash but a goodwill voucher owed: open until the voucher is settled.
    let mut goodwill = decision(Regime::Goodwill, None);
    goodwill.voucher = Some(eur(5_000));
    let some = compute_with(vec![decision(Regime::Eu261, None), goodwill], Regime::Eu261);
    let events = when_at(&[], some, 0).unwrap();
    assert_eq!(given(&events).settlement(), None);
    assert!(
        when(
            &events,
            C::OfferCompensation {
                options: vec![voucher]
            }
        )
        .is_ok()
    );
}

/// Issue 19, item 2: without an exchange rate the computation does not guess which
/// regime governs; an agent chooses, with a reason, among the regimes owing cash, and
/// only then can an offer be made (in the chosen regime's currency).
#[test]
fn an_undecided_governing_regime_is_chosen_by_an_agent_before_any_offer() {
    let events = when_at(&[], compute_undecided(eur(60_000)), 0).unwrap();
    let E::Computed(undecided) = &events[0] else {
        panic!("{events:?}")
    };
    assert_eq!((undecided.governing, undecided.entitled), (None, None));
    assert_eq!(
        undecided.payment_deadline,
        at(7 * 24 * 60),
        "the earliest deadline"
    );
    let cad = |cents| OfferOption::Cash {
        amount: Money::new(cents, Currency::CAD),
    };
    assert_eq!(
        when(
            &events,
            C::OfferCompensation {
                options: vec![cad(70_000)]
            }
        ),
        Err(Err_::GoverningUndecided)
    );
    let choose = |regime, reason: &str| C::ChooseGoverningRegime {
        regime,
        reason: reason.into(),
    };
    assert_eq!(
        when(&events, choose(Regime::CanadaAppr, " ")),
        Err(Err_::Required { field: "reason" })
    );
    assert_eq!(
        when(&events, choose(Regime::Goodwill, "goodwill")),
        Err(Err_::GoverningOwesNothing {
            regime: Regime::Goodwill
        })
    );
    assert_eq!(
        when(&events, choose(Regime::UsDot, "US")),
        Err(Err_::GoverningDecisionMissing {
            regime: Regime::UsDot
        })
    );
    let chosen = when(
        &events,
        choose(Regime::CanadaAppr, "the passenger claims under APPR"),
    )
    .unwrap();
    let E::GoverningChosen(choice) = &chosen[0] else {
        panic!("{chosen:?}")
    };
    assert_eq!(choice.entitled, Money::new(70_000, Currency::CAD));
    let history = [events.clone(), chosen].concat();
    assert_eq!(
        when(&history, choose(Regime::Eu261, "changed my mind")),
        Err(Err_::GoverningAlreadyDecided)
    );
    assert_eq!(
        when(
            &history,
            C::OfferCompensation {
                options: vec![cash()]
            }
        ),
        Err(Err_::CurrencyMismatch {
            expected: "CAD".into()
        })
    );
    assert!(
        when(
            &history,
            C::OfferCompensation {
                options: vec![cad(70_000)]
            }
        )
        .is_ok()
    );
    // A computation that could compare (one currency owed) must name the regime.
    let C::ComputeEntitlement { decisions, .. } = compute_command(eur(60_000)) else {
        unreachable!()
    };
    let unnamed = C::ComputeEntitlement {
        compensation_id: compensation_id(&flight(), &passenger()),
        flight: flight(),
        passenger: passenger(),
        incident_id: None,
        decisions,
        governing: None,
        governing_reasoning: vec![],
    };
    assert_eq!(when_at(&[], unnamed, 0), Err(Err_::GoverningRequired));
    // A decided one cannot be chosen again.
    assert_eq!(
        when(&computed(), choose(Regime::Eu261, "again")),
        Err(Err_::GoverningAlreadyDecided)
    );
}

/// A recomputation with `decisions` (EU 261 owing `eu`, goodwill nothing).
pub(super) fn recompute(eu: Money, reason: &str) -> C {
    C::RecomputeEntitlement {
        decisions: vec![
            decision(Regime::Eu261, (eu.amount_minor > 0).then_some(eu)),
            decision(Regime::Goodwill, None),
        ],
        governing: Some(Regime::Eu261),
        governing_reasoning: vec![],
        reason: reason.into(),
    }
}

/// Issue 19, facts change: a recomputation supersedes the computation before (naming
/// it), never overwrites it; an open offer for the old amount lapses; what was paid is
/// not reduced but flagged for review; the same facts record nothing.
#[test]
fn a_recomputation_supersedes_and_never_reduces_what_was_paid() {
    assert_eq!(
        when(&computed(), recompute(eur(60_000), "same facts")),
        Err(Err_::NothingChanged)
    );
    assert_eq!(
        when(&computed(), recompute(eur(30_000), " ")),
        Err(Err_::Required { field: "reason" })
    );
    // Offered EUR 600, then a rerouting halves it: the offer lapses.
    let halved = when(&offered(), recompute(eur(30_000), "rerouting taken")).unwrap();
    let E::Recomputed(r) = &halved[0] else {
        panic!("{halved:?}")
    };
    assert_eq!(
        (r.supersedes, r.previous_entitled, r.entitled),
        (1, Some(eur(60_000)), Some(eur(30_000)))
    );
    assert!(!r.review_required);
    let state = given(&[offered(), halved.clone()].concat());
    assert_eq!(
        (state.status, state.options.len(), state.revision),
        (CompensationStatus::Computed, 0, 2)
    );
    let cash = |cents| OfferOption::Cash { amount: eur(cents) };
    assert!(
        when(
            &[offered(), halved].concat(),
            C::OfferCompensation {
                options: vec![cash(30_000)]
            }
        )
        .is_ok()
    );
    // Paid EUR 600, then halved: nothing is reduced, a person reviews.
    let paid = paid();
    let after = when(&paid, recompute(eur(30_000), "rerouting taken")).unwrap();
    let E::Recomputed(r) = &after[0] else {
        panic!("{after:?}")
    };
    assert!(
        r.review_required,
        "a paid amount that no longer matches is reviewed"
    );
    let state = given(&[paid, after].concat());
    assert_eq!(state.status, CompensationStatus::Paid);
    assert!(state.review_required);
    assert_eq!(state.settlement(), Some(Settlement::Paid));
}

/// Care is a cost of the disruption, recorded whatever the claim's state (before an
/// offer, after payment), and it changes nothing of the claim.
#[test]
fn record_care_expense() {
    let hotel = |minor| C::RecordCareExpense {
        duty: CareDuty::Accommodation,
        amount: Money::new(minor, Currency::EUR),
        reference: "HOTEL-FRA-0042".into(),
    };
    for history in [computed(), paid()] {
        let events = when(&history, hotel(12_000)).unwrap();
        assert_eq!(
            events,
            vec![E::CareExpenseRecorded(CareExpenseRecorded {
                duty: CareDuty::Accommodation,
                amount: Money::new(12_000, Currency::EUR),
                reference: "HOTEL-FRA-0042".into(),
            })]
        );
        let mut after = history.clone();
        after.extend(events);
        assert_eq!(given(&after), given(&history), "the claim is unchanged");
    }
    assert_eq!(when(&computed(), hotel(0)), Err(Err_::CareExpenseZero));
    assert_eq!(
        when(
            &computed(),
            C::RecordCareExpense {
                duty: CareDuty::MealsAndRefreshments,
                amount: Money::new(1_500, Currency::EUR),
                reference: " ".into(),
            }
        ),
        Err(Err_::Required { field: "reference" })
    );
    assert_eq!(when(&[], hotel(100)), Err(Err_::NotComputed));
}
