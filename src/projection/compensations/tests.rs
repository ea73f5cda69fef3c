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
    let eur = |count, euros: u64| (count, euros * 100);
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
                        failed: (0, 0),
                        declined: eur(2, 1_200),
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
