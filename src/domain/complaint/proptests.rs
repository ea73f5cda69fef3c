//! Property tests: random command sequences never produce an impossible
//! complaint, every event round-trips, and replay rebuilds the same state.

use proptest::prelude::*;

use super::*;
use crate::domain::common::{Category, Channel, PassengerId, PersonalData, Role, RootCause, Tier};
use crate::domain::policy::sla::SlaKind;
use crate::domain::testing::{at, ctx_at, id};
use crate::domain::{Aggregate, DomainEvent};

use ComplaintCommand as C;

fn text() -> impl Strategy<Value = String> {
    prop_oneof![3 => Just("text".to_owned()), 1 => Just(String::new())]
}

pub(crate) fn command() -> impl Strategy<Value = C> {
    let department = prop_oneof![Just(Department::Baggage), Just(Department::Refunds)];
    prop_oneof![
        1 => Just(C::ReceiveComplaint {
            complaint_id: id(1), channel: Channel::Web, passenger: PassengerId("P1".into()), tier: Tier::Silver,
            category: Category::Delay, remedy_sought: RemedySought::Compensation,
            description: PersonalData("late".into()), incident_id: None, flight: None, received_at: None,
        }),
        2 => text().prop_map(|apology| C::AcknowledgeComplaint { apology }),
        2 => proptest::collection::btree_set(department.clone(), 0..2).prop_map(|departments| C::RouteComplaint { departments }),
        1 => text().prop_map(|message| C::SendProgressUpdate { message }),
        3 => (text(), department.clone()).prop_map(|(resolution, responsible)| C::ProposeResolution {
            resolution, compensation_id: None,
            root_cause: RootCause::parse("baggage/delayed").unwrap(), responsible,
        }),
        1 => (department, text()).prop_map(|(responsible, reason)| C::ReassignResponsibility { responsible, reason }),
        1 => (0u8..7, text()).prop_map(|(score, note)| C::ScoreQuality { accuracy: score, attitude: 3, timeliness: 4, note }),
        1 => text().prop_map(|comment| C::ConfirmSatisfaction { comment: comment.into() }),
        3 => text().prop_map(|reason| C::ReportDissatisfaction { reason: reason.into() }),
        1 => (text(), text()).prop_map(|(supervisor, reason)| C::EscalateToSupervisor { supervisor, reason }),
        1 => (prop_oneof![Just(SlaKind::Acknowledge), Just(SlaKind::FirstFeedback), Just(SlaKind::Resolve)], 0i64..600)
            .prop_map(|(kind, minute)| C::RecordSlaBreach { kind, deadline: at(minute) }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_commands_keep_complaints_possible_and_replayable(
        commands in proptest::collection::vec((command(), 0i64..30), 1..60)
    ) {
        let mut state = Complaint::default();
        let mut log = Vec::new();
        let mut minute = 0;
        for (command, step) in &commands {
            minute += step;
            let Ok(events) = state.decide(command, &ctx_at(Role::Agent, minute)) else { continue };
            for event in events {
                state = state.evolve(&event);
                let broken = invariants::violations(&state);
                prop_assert!(broken.is_empty(), "after {command:?}: {broken:?}");
                let decoded = ComplaintEvent::from_data(event.event_type(), 1, &event.to_data().to_string());
                prop_assert_eq!(decoded.as_ref(), Ok(&event));
                log.push(event);
            }
        }
        let replayed = log.iter().fold(Complaint::default(), |s, e| s.evolve(e));
        prop_assert_eq!(replayed, state);
    }
}
