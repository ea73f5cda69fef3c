//! Determinism of every read model: for randomly generated histories, the models built
//! live (projectors following appends as they land, in batches of whatever size the
//! timing gives) equal the models rebuilt from position 1.
//!
//! Histories come from the domain's own property-test generators (incident pipeline,
//! complaint loop, compensation lifecycle) plus random signals, interleaved in a random
//! order across streams, so they are valid the way real ones are.

use std::time::Duration;

use chrono::{DateTime, Utc};
use proptest::prelude::*;

use crate::domain::common::{Category, Channel, FlightKey, PersonalData, Role, Severity};
use crate::domain::testing::{at, ctx_at, id};
use crate::domain::{Aggregate, DomainEvent, compensation, complaint, incident, signal};
use crate::projection::{Projector, all, rebuild};
use crate::store::{Actor, AppendRequest, ExpectedVersion, NewEvent, SledStore};

/// One event to append: stream, type, data, occurred at.
type Scripted = (String, &'static str, serde_json::Value, DateTime<Utc>);

fn decided<A: Aggregate>(
    stream: &str,
    commands: impl IntoIterator<Item = (A::Command, crate::domain::Context)>,
) -> Vec<Scripted>
where
    A::Event: DomainEvent,
{
    let mut state = A::default();
    let mut out = Vec::new();
    for (command, ctx) in commands {
        let Ok(events) = state.decide(&command, &ctx) else {
            continue;
        };
        for event in events {
            state = state.evolve(&event);
            out.push((
                stream.to_owned(),
                event.event_type(),
                event.to_data(),
                ctx.now,
            ));
        }
    }
    out
}

fn signal_command() -> impl Strategy<Value = (signal::SignalCommand, i64)> {
    let channel = prop_oneof![
        Just(Channel::SocialMedia),
        Just(Channel::Hotline),
        Just(Channel::Email)
    ];
    let category = prop_oneof![
        Just(Category::Delay),
        Just(Category::Cancellation),
        Just(Category::BaggageLost)
    ];
    let severity = prop_oneof![
        Just(Severity::Low),
        Just(Severity::Medium),
        Just(Severity::High),
        Just(Severity::Critical)
    ];
    let kind = (channel, category, severity);
    (kind, 0u64..5_000, 0i64..3_000, any::<bool>()).prop_map(
        |((channel, category, severity), reach, minute, with_flight)| {
            let date = chrono::NaiveDate::from_ymd_opt(2026, 11, 22).expect("valid date");
            let flight = with_flight.then(|| FlightKey::new("LH", "400", date).expect("valid"));
            let command = signal::SignalCommand::RecordSignal {
                signal_id: uuid::Uuid::from_u128(minute as u128 * 31 + reach as u128),
                channel,
                category,
                severity,
                flight,
                passenger: None,
                reach,
                summary: PersonalData("words".into()),
                source_ref: None,
                observed_at: at(minute),
                kind: None,
            };
            (command, minute)
        },
    )
}

fn history() -> impl Strategy<Value = Vec<Scripted>> {
    let incidents = incident::proptests::sequence();
    let complaints = proptest::collection::vec((complaint::proptests::command(), 0i64..60), 1..40);
    let compensations =
        proptest::collection::vec((compensation::proptests::step(), 0i64..3_000), 1..30);
    let signals = proptest::collection::vec(signal_command(), 0..40);
    let order = proptest::collection::vec(0u8..4, 0..400);
    (incidents, complaints, compensations, signals, order).prop_map(
        |(incidents, complaints, compensations, signals, order)| {
            let incident_stream = incident::stream_name(id(1));
            let incident_log = decided::<incident::Incident>(
                &incident_stream,
                incidents
                    .into_iter()
                    .map(|(ctx, command)| (keyed(command), ctx)),
            );
            let mut minute = 0;
            let complaint_log = decided::<complaint::Complaint>(
                &complaint::stream_name(id(1)),
                complaints.into_iter().map(|(command, step)| {
                    minute += step;
                    (command, ctx_at(Role::Agent, minute))
                }),
            );
            let mut state = compensation::Compensation::default();
            let mut minute = 0;
            let mut compensation_log = Vec::new();
            for (step, elapsed) in &compensations {
                minute += elapsed;
                let Some(command) = compensation::proptests::resolve(step, &state) else {
                    continue;
                };
                let ctx = ctx_at(Role::Agent, minute);
                let Ok(events) = state.decide(&command, &ctx) else {
                    continue;
                };
                for event in events {
                    state = state.evolve(&event);
                    compensation_log.push((
                        compensation::stream_name(id(1)),
                        event.event_type(),
                        event.to_data(),
                        ctx.now,
                    ));
                }
            }
            let signal_log: Vec<Scripted> = signals
                .into_iter()
                .flat_map(|(command, minute)| {
                    let signal::SignalCommand::RecordSignal { signal_id, .. } = &command else {
                        unreachable!("signal_command records")
                    };
                    let stream = signal::stream_name(*signal_id);
                    decided::<signal::Signal>(&stream, [(command, ctx_at(Role::Agent, minute))])
                })
                .collect();
            interleave(
                [incident_log, complaint_log, compensation_log, signal_log],
                &order,
            )
        },
    )
}

/// The incident opened under the key of the flight signals about delays, so the
/// spikes model follows its severity, closing and reopening against those signals.
fn keyed(command: incident::IncidentCommand) -> incident::IncidentCommand {
    match command {
        incident::IncidentCommand::OpenIncident {
            incident_id,
            title,
            category,
            severity,
            flight,
            signal_ids,
            ..
        } => incident::IncidentCommand::OpenIncident {
            incident_id,
            title,
            category,
            severity,
            flight,
            correlation_key: Some("LH400-2026-11-22/delay".into()),
            signal_ids,
        },
        other => other,
    }
}

/// Merges the logs, keeping each one's order, picking the next log from `order`.
fn interleave(logs: [Vec<Scripted>; 4], order: &[u8]) -> Vec<Scripted> {
    let mut logs = logs.map(std::collections::VecDeque::from);
    let mut out = Vec::new();
    for &pick in order {
        if let Some(event) = logs[usize::from(pick)].pop_front() {
            out.push(event);
        }
    }
    for log in logs {
        out.extend(log);
    }
    out
}

type Snapshot = Vec<(&'static str, Vec<(Vec<u8>, Vec<u8>)>)>;

fn snapshot(store: &SledStore) -> Snapshot {
    all(&Default::default())
        .iter()
        .map(|p| {
            let tree = store.model_tree(p.name()).expect("model tree");
            let entries = tree
                .iter()
                .map(|entry| entry.expect("model read"))
                .map(|(k, v)| (k.to_vec(), v.to_vec()))
                .collect();
            (p.name(), entries)
        })
        .collect()
}

/// The models built live, then rebuilt one by one, then rebuilt together in one pass.
async fn live_then_rebuild(
    history: Vec<Scripted>,
    chunks: Vec<usize>,
) -> (Snapshot, Snapshot, Snapshot) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SledStore::open(crate::store::StoreConfig::new(dir.path())).expect("open store");
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut statuses = Vec::new();
    let mut tasks = Vec::new();
    for projection in all(&Default::default()) {
        let projector = Projector::new(store.clone(), projection).expect("projector");
        statuses.push(projector.status());
        tasks.push(tokio::spawn(projector.run(stop_rx.clone())));
    }
    let actor = Actor {
        id: "agent-1".into(),
        role: "agent".into(),
    };
    let mut events = history.into_iter();
    for chunk in chunks.iter().cycle() {
        let mut appended = false;
        for (stream, event_type, data, occurred_at) in events.by_ref().take(*chunk) {
            let event = NewEvent::new(event_type, data, actor.clone(), occurred_at);
            store
                .append(AppendRequest::single(
                    stream,
                    ExpectedVersion::Any,
                    vec![event],
                ))
                .await
                .expect("append");
            appended = true;
        }
        if !appended {
            break;
        }
        tokio::task::yield_now().await;
    }
    let head = store.head().position;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    for status in &statuses {
        loop {
            let status = status.lock().expect("status").clone();
            assert!(status.failed.is_none(), "{status:?}");
            if status.position == head {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "a live projector did not reach the head ({head}) within 60 s: {status:?}"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    stop_tx.send(true).expect("stop");
    for task in tasks {
        task.await.expect("join").expect("projector ran");
    }
    let live = snapshot(&store);
    for projection in all(&Default::default()) {
        rebuild(&store, projection, |_, _| {}).expect("rebuild");
    }
    let one_by_one = snapshot(&store);
    crate::projection::rebuild_together(&store, all(&Default::default()), |_, _| {})
        .expect("rebuild together");
    (live, one_by_one, snapshot(&store))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn every_model_built_live_equals_its_rebuild(
        history in history(),
        chunks in proptest::collection::vec(1usize..20, 1..6),
    ) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let events = history.len();
        let (live, rebuilt, together) = runtime.block_on(live_then_rebuild(history, chunks));
        for (((name, live), (_, rebuilt)), (_, together)) in live.iter().zip(&rebuilt).zip(&together) {
            prop_assert!(live == rebuilt, "model {name} differs after {events} events: live {} entries, rebuilt {}", live.len(), rebuilt.len());
            prop_assert!(live == together, "model {name} rebuilt with the others differs after {events} events");
        }
    }
}
