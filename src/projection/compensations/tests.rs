use super::*;
use crate::domain::DomainEvent;
use crate::domain::compensation::{CompensationEvent, ComputedOutline};
use crate::domain::incident::ContactOutcome;
use crate::projection::incidents::Incidents;
use crate::projection::testing::{rebuilt, start, store_with};
use crate::testing::workload::uuid;
use chrono::Duration;

#[test]
fn the_computed_outline_reads_what_the_full_event_holds_but_its_decisions() {
    let computed: Vec<_> = crate::testing::workload::scenario(4, start())
        .into_iter()
        .flat_map(|step| step.events)
        .filter(|e| e.event_type == ComputedOutline::EVENT_TYPE)
        .collect();
    assert!(!computed.is_empty());
    for event in computed {
        let data = event.data.to_string();
        let outline = ComputedOutline::from_data(1, &data).unwrap();
        let CompensationEvent::Computed(full) =
            CompensationEvent::from_data(&event.event_type, 1, &data).unwrap()
        else {
            panic!("a computed event");
        };
        assert!(!full.decisions.is_empty());
        let expected = ComputedOutline {
            compensation_id: full.compensation_id,
            decisions: full
                .decisions
                .iter()
                .map(|d| crate::domain::compensation::OwedOutline {
                    regime: d.regime,
                    cash: d.cash,
                    voucher: d.voucher,
                    miles: d.miles,
                    care: d.care.clone(),
                    refund: d.refund.clone(),
                })
                .collect(),
            flight: full.flight,
            passenger: full.passenger,
            incident_id: full.incident_id,
            governing: full.governing,
            entitled: full.entitled,
            payment_deadline: full.payment_deadline,
            computed_at: full.computed_at,
        };
        assert_eq!(outline, expected);
        assert!(
            ComputedOutline::from_data(2, &data).is_err(),
            "versions are checked"
        );
    }
}

#[tokio::test]
async fn execution_counts_contacts_and_money_per_currency_and_finds_overdue_payments() {
    // Scenario 4: 8 passengers, each owed EUR 600 under EU 261; offers to all;
    // passengers 3 and 7 decline, 2 and 6 accept but are unpaid, the rest are paid.
    let (_dir, store) = store_with(&[4]).await;
    let incidents = rebuilt(&store, Incidents);
    let tree = rebuilt(&store, Compensations);
    let incident = uuid(start(), "incident", 4, 0);
    let view = execution(&incidents, &tree, incident, start())
        .unwrap()
        .unwrap();
    let eur = |count, euros: u64| Tally {
        count,
        amount_minor: euros * 100,
    };
    assert_eq!(
        view,
        ExecutionView {
            incident_id: incident,
            contacts_planned: 8,
            contacts_made: 8,
            contacts_by_outcome: [
                (ContactOutcome::Reached, 4),
                (ContactOutcome::LeftMessage, 4)
            ]
            .into(),
            compensation: IncidentTotals {
                by_currency: [(
                    Currency::EUR,
                    Totals {
                        owed: eur(8, 4_800),
                        offered: eur(8, 4_800),
                        accepted: eur(2, 1_200),
                        paid: eur(4, 2_400),
                        failed: Tally::default(),
                        declined: eur(2, 1_200),
                        care_spent: Tally::default(),
                    }
                )]
                .into(),
                miles_accepted: 0,
                miles_paid: 0,
            },
            overdue: vec![],
        }
    );
    // A week and a day later the two unpaid ones are past their legal deadline.
    let later = start() + Duration::days(8);
    let overdue = overdue(&tree, later).unwrap();
    assert_eq!(overdue.len(), 2);
    assert!(
        overdue
            .iter()
            .all(|e| e.status == Status::Accepted && e.incident_id == Some(incident))
    );
    let view = execution(&incidents, &tree, incident, later)
        .unwrap()
        .unwrap();
    assert_eq!(view.overdue, overdue);
}

/// Events `command` produces on `state` as `ctx`, ready to append.
fn decided<A: crate::domain::Aggregate>(
    state: &mut A,
    command: &A::Command,
    ctx: &crate::domain::Context,
) -> Vec<crate::store::NewEvent>
where
    A::Error: std::fmt::Debug,
{
    let events = state.decide(command, ctx).expect("accepted");
    events
        .into_iter()
        .map(|event| {
            *state = std::mem::take(state).evolve(&event);
            crate::store::NewEvent::new(
                event.event_type(),
                event.to_data(),
                crate::app::command::store_actor(&ctx.actor),
                ctx.now,
            )
        })
        .collect()
}

/// Issue 19, item 8: an entitlement owing nothing to pay (care only) is settled as
/// computed: not on the overdue list, not in the totals, and its incident is told, so
/// it can close.
#[tokio::test]
async fn an_entitlement_owing_nothing_is_settled_and_never_overdue() {
    use crate::domain::Context;
    use crate::domain::common::{Category, PassengerId, Severity, Tier};
    use crate::domain::compensation::{self as comp, Compensation, CompensationCommand};
    use crate::domain::incident::{self as inc, Incident, IncidentCommand};
    use crate::domain::policy::compensation::decide;
    use crate::domain::policy::compensation_policy::CompensationPolicy;
    use crate::store::{AppendRequest, ExpectedVersion};

    let dir = tempfile::tempdir().unwrap();
    let store = crate::store::SledStore::open(crate::store::StoreConfig::new(dir.path())).unwrap();
    let lead = Context::new(
        start(),
        crate::domain::common::Actor {
            id: "lead".into(),
            role: crate::domain::common::Role::CrisisLead,
        },
    );
    // FRA -> JFK 2 h 30 late, a passenger without tier: EU 261 owes no cash under
    // 3 h (Sturgeon), US DOT no refund, the goodwill policy nothing below 4 h.
    let mut input = crate::testing::workload::fra_jfk_delay(Tier::None, false, start());
    input.disruption = crate::domain::policy::compensation::Disruption::Delay {
        departure_delay_minutes: 150,
        arrival_delay_minutes: 150,
        overnight: false,
    };
    let decisions = decide(&input, &CompensationPolicy::default_policy());
    assert!(decisions.iter().all(|d| d.owes_nothing()), "{decisions:#?}");
    let flight = crate::domain::common::FlightKey::new("LH", "400", start().date_naive()).unwrap();
    let passenger = PassengerId("P1".into());
    let compensation_id = comp::compensation_id(&flight, &passenger);
    let incident_id = uuid(start(), "incident", 99, 0);

    let mut incident = Incident::default();
    let mut events = decided(
        &mut incident,
        &IncidentCommand::OpenIncident {
            incident_id,
            title: "LH400".into(),
            category: Category::Delay,
            severity: Severity::Medium,
            flight: Some(flight.clone()),
            correlation_key: None,
            signal_ids: vec![],
        },
        &lead,
    );
    events.extend(decided(
        &mut incident,
        &IncidentCommand::LinkCompensation {
            compensation_id,
            passenger: passenger.clone(),
        },
        &lead,
    ));
    let computed = decided(
        &mut Compensation::default(),
        &CompensationCommand::ComputeEntitlement {
            compensation_id,
            flight,
            passenger,
            incident_id: Some(incident_id),
            decisions,
            governing: Some(crate::domain::policy::compensation::Regime::Eu261),
            governing_reasoning: vec![],
        },
        &lead,
    );
    for (stream, events) in [
        (inc::stream_name(incident_id), events),
        (comp::stream_name(compensation_id), computed),
    ] {
        let request = AppendRequest::single(stream, ExpectedVersion::Any, events);
        store.append(request).await.unwrap();
    }
    let tree = rebuilt(&store, Compensations);
    let entitlement = entitlement(&tree, compensation_id).unwrap().unwrap();
    assert_eq!(entitlement.status, Status::NothingOwed);
    assert_eq!(
        overdue(&tree, start() + Duration::days(365)).unwrap(),
        vec![]
    );
    let due = settlements_after(&tree, 0, 10).unwrap();
    assert_eq!(
        due.iter()
            .map(|d| (d.incident_id, d.compensation_id, &d.settlement))
            .collect::<Vec<_>>(),
        vec![(incident_id, compensation_id, &Settlement::NothingOwed)]
    );
    let totals: Option<IncidentTotals> = tree.get(key(b'T', incident_id)).unwrap();
    assert_eq!(totals.unwrap_or_default(), IncidentTotals::default());
}
