//! Property tests: random command sequences (random actors, small id pools so
//! commands collide) never produce an impossible incident, every produced
//! event round-trips, and replaying the events rebuilds the same state.

use proptest::prelude::*;

use super::*;
use crate::domain::common::{Category, PassengerId, Role, Settlement, Severity};
use crate::domain::testing::{at, ctx_as, id};
use crate::domain::{Aggregate, Context, DomainEvent};

use IncidentCommand as C;

fn severity() -> impl Strategy<Value = Severity> {
    prop_oneof![
        Just(Severity::Low),
        Just(Severity::Medium),
        Just(Severity::High),
        Just(Severity::Critical)
    ]
}

fn small_id() -> impl Strategy<Value = uuid::Uuid> {
    (1u128..4).prop_map(id)
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![3 => Just("text".to_owned()), 1 => Just(String::new())]
}

fn channels() -> impl Strategy<Value = std::collections::BTreeSet<CommChannel>> {
    proptest::collection::btree_set(
        prop_oneof![
            Just(CommChannel::Website),
            Just(CommChannel::Sms),
            Just(CommChannel::Social)
        ],
        0..3,
    )
}

fn settlement() -> impl Strategy<Value = Settlement> {
    prop_oneof![
        Just(Settlement::Paid),
        Just(Settlement::Declined),
        Just(Settlement::NothingOwed),
        text().prop_map(|reason| Settlement::Failed { reason })
    ]
}

fn impact() -> ImpactAssessment {
    ImpactAssessment {
        passengers: PassengersByTier {
            none: 10,
            ..Default::default()
        },
        operations: ImpactLevel::Low,
        operations_note: String::new(),
        reputation: ImpactLevel::Low,
        reputation_note: String::new(),
    }
}

/// Commands weighted toward the happy path so sequences reach late stages.
fn command() -> impl Strategy<Value = C> {
    let passenger = || Just(PassengerId("P1".to_owned()));
    prop_oneof![
        3 => (severity(), text()).prop_map(|(severity, title)| C::OpenIncident {
            incident_id: id(1), title, category: Category::Delay, severity,
            flight: None, correlation_key: None, signal_ids: vec![],
        }),
        1 => small_id().prop_map(|signal_id| C::AttachSignal { signal_id }),
        4 => Just(C::StartAssessment),
        4 => Just(C::AssessImpact { impact: impact() }),
        4 => Just(C::StartPlanning),
        4 => channels().prop_map(|channels| C::DraftCommunicationPlan {
            plan: CommunicationPlan { content: "c".into(), channels },
            template: None,
        }),
        4 => text().prop_map(|summary| C::DraftCompensationPlan {
            plan: CompensationPlan { summary, goodwill: None, budget: None },
        }),
        4 => (1u32..3).prop_map(|version| C::ApproveCommunicationPlan { version }),
        4 => (1u32..3).prop_map(|version| C::ApproveCompensationPlan { version }),
        4 => Just(C::StartExecution),
        1 => Just(C::PublishInformation { channel: CommChannel::Sms, content: "c".into() }),
        2 => (small_id(), passenger()).prop_map(|(contact_id, passenger)| C::PlanContact {
            contact_id, passenger, method: ContactMethod::Sms, mandatory_notice: false,
        }),
        3 => small_id().prop_map(|contact_id| C::RecordContactOutcome {
            contact_id, outcome: ContactOutcome::Reached, note: String::new().into(),
        }),
        4 => Just(C::StartFollowUp),
        1 => (small_id(), passenger()).prop_map(|(survey_id, passenger)| C::SendSurvey {
            survey_id, passenger, method: SurveyMethod::Email,
        }),
        1 => (small_id(), 0u8..7).prop_map(|(survey_id, score)| C::RecordSatisfaction { survey_id, score }),
        1 => Just(C::SummariseOpenProblems { problems: vec!["p".into()] }),
        4 => Just(C::StartReview),
        3 => text().prop_map(|lesson| C::RecordLesson { lesson, knowledge: Vec::new() }),
        3 => (small_id(), text()).prop_map(|(improvement_id, owner)| C::RecordImprovement {
            improvement_id, improvement: Improvement { description: "d".into(), owner, due: None, knowledge: Vec::new() },
        }),
        4 => text().prop_map(|summary| C::CloseIncident { summary }),
        2 => text().prop_map(|reason| C::ReopenIncident { reason }),
        2 => severity().prop_map(|to| C::EscalateSeverity { to, reason: "r".into() }),
        2 => severity().prop_map(|to| C::DeescalateSeverity { to, reason: "r".into() }),
        2 => (small_id(), 0i64..4, proptest::option::of(0i64..4)).prop_map(|(assignment_id, from, until)| {
            C::AssignRole {
                assignment_id, role: IncidentRole::CrisisLead, person: "p".into(),
                from: at(from * 10), until: until.map(|u| at(u * 10)),
            }
        }),
        1 => (small_id(), 0i64..4).prop_map(|(assignment_id, end)| C::EndRoleAssignment {
            assignment_id, at: at(end * 10),
        }),
        2 => (small_id(), passenger()).prop_map(|(compensation_id, passenger)| C::LinkCompensation {
            compensation_id, passenger,
        }),
        2 => (small_id(), settlement()).prop_map(|(compensation_id, settlement)| {
            C::RecordCompensationSettlement { compensation_id, settlement }
        }),
    ]
}

fn actor_ctx() -> impl Strategy<Value = Context> {
    prop_oneof![4 => Just(Role::CrisisLead), 1 => Just(Role::Agent)].prop_map(ctx_as)
}

/// The pipeline walked in order by a crisis lead, from opening to closing.
fn happy_path() -> Vec<C> {
    let mut path = vec![
        C::OpenIncident {
            incident_id: id(1),
            title: "t".into(),
            category: Category::Delay,
            severity: Severity::Medium,
            flight: None,
            correlation_key: None,
            signal_ids: vec![],
        },
        C::StartAssessment,
        C::AssessImpact { impact: impact() },
        C::StartPlanning,
        C::DraftCommunicationPlan {
            plan: CommunicationPlan {
                content: "c".into(),
                channels: [CommChannel::Sms].into(),
            },
            template: None,
        },
        C::DraftCompensationPlan {
            plan: CompensationPlan {
                summary: "s".into(),
                goodwill: None,
                budget: None,
            },
        },
        C::ApproveCommunicationPlan { version: 1 },
        C::ApproveCompensationPlan { version: 1 },
        C::StartExecution,
    ];
    for n in 1..4 {
        path.push(C::RecordContactOutcome {
            contact_id: id(n),
            outcome: ContactOutcome::Reached,
            note: String::new().into(),
        });
    }
    path.extend([
        C::StartFollowUp,
        C::StartReview,
        C::RecordLesson {
            lesson: "l".into(),
            knowledge: Vec::new(),
        },
    ]);
    path.push(C::RecordImprovement {
        improvement_id: id(1),
        improvement: Improvement {
            description: "d".into(),
            owner: "o".into(),
            due: None,
            knowledge: Vec::new(),
        },
    });
    for n in 1..4 {
        path.push(C::RecordCompensationSettlement {
            compensation_id: id(n),
            settlement: Settlement::Paid,
        });
    }
    path.push(C::CloseIncident {
        summary: "s".into(),
    });
    path
}

/// Either fully random commands, or the happy path with random commands
/// interleaved (so late stages and their refusals are exercised too).
pub(crate) fn sequence() -> impl Strategy<Value = Vec<(Context, C)>> {
    let random = proptest::collection::vec((actor_ctx(), command()), 1..120);
    let noise = proptest::collection::vec((actor_ctx(), command()), 0..4);
    let interleaved = proptest::collection::vec(noise, happy_path().len()).prop_map(|noise| {
        let lead = ctx_as(Role::CrisisLead);
        noise
            .into_iter()
            .zip(happy_path())
            .flat_map(|(mut before, step)| {
                before.push((lead.clone(), step));
                before
            })
            .collect()
    });
    prop_oneof![random, interleaved]
}

/// Runs `commands` and returns every accepted event and the final state,
/// checking the invariants after each event.
fn run(commands: &[(Context, C)]) -> Result<(Vec<IncidentEvent>, Incident), TestCaseError> {
    let mut state = Incident::default();
    let mut log = Vec::new();
    for (ctx, command) in commands {
        let Ok(events) = state.decide(command, ctx) else {
            continue;
        };
        for event in events {
            state = state.evolve(&event);
            let broken = invariants::violations(&state);
            prop_assert!(
                broken.is_empty(),
                "after {command:?} -> {event:?}: {broken:?}"
            );
            let decoded =
                IncidentEvent::from_data(event.event_type(), 1, &event.to_data().to_string());
            prop_assert_eq!(decoded.as_ref(), Ok(&event));
            log.push(event);
        }
    }
    Ok((log, state))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_commands_keep_incidents_possible_and_replayable(
        commands in sequence()
    ) {
        let (log, state) = run(&commands)?;
        let replayed = log.iter().fold(Incident::default(), |s, e| s.evolve(e));
        prop_assert_eq!(replayed, state);
    }
}

/// Guards the generator: if random sequences stopped reaching the end of the
/// pipeline, the property above would silently test only the early stages.
#[test]
fn generated_sequences_reach_closed_incidents() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]);
    let mut runner = TestRunner::new_with_rng(Config::default(), rng);
    let strategy = sequence();
    let mut closed = 0;
    for _ in 0..256 {
        let commands = strategy.new_tree(&mut runner).unwrap().current();
        let (log, _) = run(&commands).unwrap();
        closed += usize::from(log.iter().any(|e| matches!(e, IncidentEvent::Closed(_))));
    }
    assert!(
        closed >= 10,
        "only {closed} of 256 generated sequences closed an incident"
    );
}
