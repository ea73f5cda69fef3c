use super::*;
use crate::app::command::load;
use crate::domain::DomainEvent;
use crate::domain::common::{PassengerId, Tier};
use crate::domain::compensation::{self, Compensation};
use crate::domain::incident::PassengersByTier;
use crate::projection::testing::{rebuilt, start, store_with};
use crate::testing::workload::uuid;
use chrono::Duration;

fn incident(n: u64) -> Uuid {
    uuid(start(), "incident", n, 0)
}

fn minutes(m: i64) -> DateTime<Utc> {
    start() + Duration::minutes(m)
}

/// Scenario `n` goes through the pipeline up to stage `n % 8` (0 monitor … 7 closed).
const SCENARIOS: [u64; 6] = [2, 3, 4, 5, 6, 7];

#[tokio::test]
async fn the_board_lists_open_incidents_most_severe_and_earliest_into_their_stage_first() {
    let (_dir, store) = store_with(&SCENARIOS).await;
    let tree = rebuilt(&store, Incidents);
    // In scenarios 4 to 6, compensations 2 and 6 are accepted but unpaid: the next deadline.
    let unpaid_deadline = |n: u64| {
        let flight = summary(&tree, incident(n))
            .unwrap()
            .unwrap()
            .flight
            .unwrap();
        let passenger = PassengerId(format!("P{}-{n}-2", start().timestamp()));
        let id = compensation::compensation_id(&flight, &passenger);
        let (unpaid, _) = load::<Compensation>(&store, &compensation::stream_name(id)).unwrap();
        Some(unpaid.computed.unwrap().payment_deadline)
    };
    let now = minutes(60);
    let row = |n: u64, stage, entered: i64, next_deadline| BoardRow {
        incident_id: incident(n),
        title: format!("LH{} delay", 400 + n),
        category: Category::Delay,
        stage,
        severity: Severity::High,
        stage_entered_at: minutes(entered),
        age_in_stage_seconds: (60 - entered) * 60,
        lead: Some(format!("lead-{}", n % 5)),
        passengers_affected: 8,
        next_deadline,
        flight: summary(&tree, incident(n)).unwrap().unwrap().flight,
        open_complaints: 0,
    };
    let mut expected = vec![
        row(2, Stage::Plan, 2 + 30, None),
        row(3, Stage::Plan, 3 + 30, None),
        row(4, Stage::Execute, 4 + 50, unpaid_deadline(4)),
    ];
    // Follow-up (5) and review (6) started later than now: negative ages clamp to 0.
    let later = |n: u64, stage| BoardRow {
        stage_entered_at: summary(&tree, incident(n))
            .unwrap()
            .unwrap()
            .stage_entered_at,
        age_in_stage_seconds: 0,
        ..row(n, stage, 60, unpaid_deadline(n))
    };
    expected.push(later(5, Stage::FollowUp));
    expected.push(later(6, Stage::Review));
    expected.sort_by_key(BoardRow::key);
    let all = |filter: &BoardFilter| board(&tree, now, filter, None, 500).unwrap();
    let whole = all(&BoardFilter::default());
    assert_eq!(whole.rows, expected);
    assert_eq!(whole.next, None);
    let executing = BoardFilter {
        stage: Some(Stage::Execute),
        min_severity: None,
    };
    assert_eq!(
        all(&executing).rows,
        vec![row(4, Stage::Execute, 4 + 50, unpaid_deadline(4))]
    );
    let critical = BoardFilter {
        stage: None,
        min_severity: Some(Severity::Critical),
    };
    assert_eq!(all(&critical).rows, vec![]);
}

#[tokio::test]
async fn assess_shows_impact_by_tier_and_each_persons_load() {
    let (_dir, store) = store_with(&[3, 4]).await;
    let tree = rebuilt(&store, Incidents);
    let now = minutes(60);
    let view = impact(&tree, incident(3), now).unwrap().unwrap();
    // Scenario 3's passengers have tiers (3 + i) % 5 for i in 0..8.
    assert_eq!(
        view.impact.as_ref().unwrap().passengers,
        PassengersByTier {
            diamond: 2,
            platinum: 1,
            gold: 1,
            silver: 2,
            none: 2
        }
    );
    assert_eq!(view.revision, 1);
    assert_eq!(
        view.active_assignments
            .iter()
            .map(|a| (a.person.as_str(), a.role))
            .collect::<Vec<_>>(),
        vec![
            ("lead-3", IncidentRole::CrisisLead),
            ("agent-3", IncidentRole::CustomerCare)
        ]
    );
    let load = |person: &str, n, role| PersonLoad {
        person: person.into(),
        assignments: vec![RoleHeld {
            incident_id: incident(n),
            role,
        }],
        load: 1,
    };
    assert_eq!(
        loads(&tree, now).unwrap(),
        vec![
            load("agent-3", 3, IncidentRole::CustomerCare),
            load("agent-4", 4, IncidentRole::CustomerCare),
            load("lead-3", 3, IncidentRole::CrisisLead),
            load("lead-4", 4, IncidentRole::CrisisLead),
        ]
    );
    // The customer-care shifts end 8 h after they start.
    let evening = minutes(3 + 16 + 8 * 60 + 5);
    assert_eq!(
        loads(&tree, evening)
            .unwrap()
            .iter()
            .map(|l| l.person.as_str())
            .collect::<Vec<_>>(),
        vec!["lead-3", "lead-4"]
    );
}

#[tokio::test]
async fn plans_wait_for_approval_until_a_lead_approves_them() {
    let (_dir, store) = store_with(&[2, 3]).await;
    let tree = rebuilt(&store, Incidents);
    assert_eq!(
        awaiting_approval(&tree).unwrap(),
        vec![
            AwaitingApproval {
                incident_id: incident(2),
                kind: PlanKind::Communication,
                version: 1
            },
            AwaitingApproval {
                incident_id: incident(2),
                kind: PlanKind::Compensation,
                version: 1
            },
        ]
    );
    let plans = approved(&tree, incident(3)).unwrap().unwrap();
    let ApprovedPlan {
        progress,
        plan: communication,
    } = plans.communication.unwrap();
    assert_eq!(
        progress,
        PlanProgress {
            drafted_version: 1,
            approved_version: Some(1),
            approved_by: Some("lead-3".into()),
            approved_at: Some(minutes(3 + 40)),
        }
    );
    assert_eq!(
        communication.content,
        "apology, new departure time, care vouchers"
    );
    assert_eq!(
        plans.compensation.unwrap().plan.summary,
        "EU 261 art. 7 cash to every passenger"
    );
    let unapproved = approved(&tree, incident(2)).unwrap().unwrap();
    assert_eq!(
        (unapproved.communication, unapproved.compensation),
        (None, None)
    );
}

#[tokio::test]
async fn follow_up_counts_responses_and_satisfaction_and_review_finds_owners() {
    let (_dir, store) = store_with(&SCENARIOS).await;
    let tree = rebuilt(&store, Incidents);
    let view = follow_up(&tree, incident(5)).unwrap().unwrap();
    // Four surveys by e-mail, three answered with scores 1, 2, 3.
    assert_eq!(
        view,
        FollowUpView {
            incident_id: incident(5),
            stage: Stage::FollowUp,
            surveys: Surveys {
                sent: 4,
                answered: 3,
                score_sum: 6,
                by_method: [(
                    SurveyMethod::Email,
                    SurveyCounts {
                        sent: 4,
                        answered: 3,
                        score_sum: 6
                    }
                )]
                .into(),
                // Passenger i of scenario 5 has tier (5 + i) % 5: Diamond, Platinum, Gold, Silver.
                by_tier: [
                    (
                        Tier::Diamond,
                        SurveyCounts {
                            sent: 1,
                            answered: 1,
                            score_sum: 1
                        }
                    ),
                    (
                        Tier::Platinum,
                        SurveyCounts {
                            sent: 1,
                            answered: 1,
                            score_sum: 2
                        }
                    ),
                    (
                        Tier::Gold,
                        SurveyCounts {
                            sent: 1,
                            answered: 1,
                            score_sum: 3
                        }
                    ),
                    (
                        Tier::Silver,
                        SurveyCounts {
                            sent: 1,
                            answered: 0,
                            score_sum: 0
                        }
                    ),
                ]
                .into(),
            },
            response_rate: 0.75,
            satisfaction: Some(2.0),
            open_problems: 0,
        }
    );
    assert_eq!(
        open_follow_ups(&tree)
            .unwrap()
            .iter()
            .map(|v| v.incident_id)
            .collect::<Vec<_>>(),
        vec![incident(5)],
        "6 and 7 moved on to review"
    );
    let across = follow_up_summary(&tree).unwrap();
    assert_eq!(
        across.by_method[&SurveyMethod::Email].sent,
        12,
        "scenarios 5, 6 and 7 sent 4 surveys each"
    );
    assert_eq!(across.by_tier.values().map(|c| c.answered).sum::<u64>(), 9);
    let found = review(&tree, Some(Category::Delay), Some("ops-planning")).unwrap();
    let mut ids: Vec<Uuid> = found.iter().map(|e| e.incident_id).collect();
    ids.sort();
    let mut expected = vec![incident(6), incident(7)];
    expected.sort();
    assert_eq!(ids, expected);
    assert_eq!(
        found[0].lessons,
        vec!["swap aircraft earlier when the inbound is late".to_owned()]
    );
    assert_eq!(found[0].improvements[0].improvement.owner, "ops-planning");
    assert!(review(&tree, None, Some("nobody")).unwrap().is_empty());
    assert!(
        review(&tree, Some(Category::Safety), None)
            .unwrap()
            .is_empty()
    );
    let closed = summary(&tree, incident(7)).unwrap().unwrap();
    assert_eq!(
        (
            closed.stage,
            closed.compensations_linked,
            closed.compensations_settled,
            closed.unsettled_deadlines.len()
        ),
        (Stage::Closed, 8, 8, 0)
    );
}

/// Logs written before a survey had one answer may hold two for it: the incident state
/// (which `as_of` shows), the follow-up view and the follow-up summary all keep the first.
#[tokio::test]
async fn a_legacy_second_answer_changes_no_view() {
    use crate::domain::incident::{self as domain, Incident};
    use crate::store::{Actor, AppendRequest, ExpectedVersion, NewEvent};
    let (_clean_dir, clean) = store_with(&[5]).await;
    let (_dir, store) = store_with(&[5]).await;
    // Scenario 5 answered its first survey (a Diamond passenger's) with score 1.
    let survey = uuid(start(), "survey", 5, 0);
    let stream = domain::stream_name(incident(5));
    let second = NewEvent::new(
        "incident.satisfaction_recorded",
        serde_json::json!({"survey_id": survey, "score": 5}),
        Actor {
            id: "agent-5".into(),
            role: "agent".into(),
        },
        minutes(3 * 24 * 60),
    );
    let request = AppendRequest::single(stream.clone(), ExpectedVersion::Any, vec![second]);
    store
        .append(request)
        .await
        .expect("append the legacy answer");

    let (state, _) = load::<Incident>(&store, &stream).unwrap();
    assert_eq!(state.surveys[&survey].score, Some(1), "the first answer");
    let tree = rebuilt(&store, Incidents);
    let view = follow_up(&tree, incident(5)).unwrap().unwrap();
    assert_eq!(
        view.surveys.by_tier[&Tier::Diamond],
        SurveyCounts {
            sent: 1,
            answered: 1,
            score_sum: 1
        }
    );
    let across = follow_up_summary(&tree).unwrap();
    assert_eq!(across.by_tier[&Tier::Diamond].score_sum, 1);
    let clean_tree = rebuilt(&clean, Incidents);
    assert_eq!(view, follow_up(&clean_tree, incident(5)).unwrap().unwrap());
    assert_eq!(across, follow_up_summary(&clean_tree).unwrap());
}

/// Appends an `incident.opened` for incident `id(n)` at `opened_at`.
async fn open_at(
    store: &crate::store::SledStore,
    n: u128,
    severity: Severity,
    opened_at: DateTime<Utc>,
) {
    use crate::domain::incident::{self as domain, IncidentOpened};
    use crate::store::{Actor, AppendRequest, ExpectedVersion, NewEvent};
    let incident_id = Uuid::from_u128(n);
    let opened = IncidentEvent::Opened(IncidentOpened {
        incident_id,
        title: format!("incident {n}"),
        category: Category::Delay,
        severity,
        flight: None,
        correlation_key: None,
        signal_ids: Vec::new(),
        opened_at,
    });
    let actor = Actor {
        id: "lead-1".into(),
        role: "crisis_lead".into(),
    };
    let event = NewEvent::new(opened.event_type(), opened.to_data(), actor, opened_at);
    let request = AppendRequest::single(
        domain::stream_name(incident_id),
        ExpectedVersion::NoStream,
        vec![event],
    );
    store.append(request).await.expect("append incident.opened");
}

/// The board's pages, walked with small limits while the clock moves on and incidents
/// open between pages, hold every earlier incident exactly once, in the board's order.
/// Incidents 1, 2 and 4 enter their stage within one second of each other (across a
/// second boundary), where an order by whole seconds of age changes with `now`.
#[tokio::test]
async fn board_pages_hold_every_row_once_in_order_while_time_passes_and_incidents_open() {
    let (_dir, store) = store_with(&[]).await;
    let t = |ms: i64| start() + Duration::milliseconds(ms);
    open_at(&store, 1, Severity::High, t(1_100)).await;
    open_at(&store, 2, Severity::High, t(900)).await;
    open_at(&store, 3, Severity::Critical, t(3_000)).await;
    open_at(&store, 4, Severity::High, t(900)).await;
    open_at(&store, 5, Severity::Low, t(200)).await;
    let expected = [3, 2, 4, 1, 5].map(Uuid::from_u128).to_vec();
    let mut opened = 100;
    for limit in [1, 2] {
        let mut now = t(10_000);
        let mut after = None;
        let mut seen = Vec::new();
        let mut ended = false;
        for _ in 0..20 {
            let tree = rebuilt(&store, Incidents);
            let page = board(&tree, now, &BoardFilter::default(), after.as_ref(), limit).unwrap();
            assert!(page.rows.len() <= limit);
            seen.extend(page.rows.iter().map(|r| r.incident_id));
            let Some(next) = page.next else {
                ended = true;
                break;
            };
            after = Some(BoardKey::decode(&next.encode()).expect("a cursor round-trips"));
            now += Duration::milliseconds(500);
            // During the first turns a critical incident opens (before the cursor once
            // it is past the critical ones) and a low one (after it).
            if seen.len() <= 3 {
                for severity in [Severity::Critical, Severity::Low] {
                    opened += 1;
                    open_at(&store, opened, severity, now).await;
                }
            }
        }
        assert!(ended, "the walk reached the last page: {seen:?}");
        let earlier: Vec<Uuid> = seen
            .iter()
            .copied()
            .filter(|id| id.as_u128() < 100)
            .collect();
        assert_eq!(earlier, expected, "limit {limit}");
        let mut once = seen.clone();
        once.sort();
        once.dedup();
        assert_eq!(once.len(), seen.len(), "no row twice: {seen:?}");
    }
}

#[test]
fn a_board_cursor_is_only_a_key_this_api_wrote() {
    let key = BoardKey {
        severity: Severity::High,
        stage_entered_at: start() + Duration::nanoseconds(1_500),
        incident_id: incident(2),
    };
    let cursor = key.encode();
    assert_eq!(BoardKey::decode(&cursor), Some(key));
    for bad in [
        "0".to_owned(),
        "xyz".to_owned(),
        cursor.replace("high", "urgent"),
        cursor.to_uppercase(),
        format!("{cursor}.1"),
        cursor.replacen('.', ".+", 1),
    ] {
        assert_eq!(BoardKey::decode(&bad), None, "{bad}");
    }
}
