//! Many writers on one stream with Exact(n): exactly one wins each version.

use std::collections::{BTreeMap, HashSet};

use crisisd::store::{AppendError, AppendRequest, Direction, ExpectedVersion};

use crate::common::{event, open};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn exactly_one_writer_wins_each_version() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    const TASKS: u64 = 24;
    const EACH: u64 = 15;
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut won = Vec::new();
                let mut conflicts = 0u64;
                while (won.len() as u64) < EACH {
                    let version = store.stream_version("race-1").unwrap();
                    let expected =
                        version.map_or(ExpectedVersion::NoStream, ExpectedVersion::Exact);
                    let ev = event(t * 1000 + won.len() as u64);
                    match store
                        .append(AppendRequest::single("race-1", expected, vec![ev.clone()]))
                        .await
                    {
                        Ok(outcome) => {
                            assert_eq!(outcome.events[0].stream_version, version.unwrap_or(0) + 1);
                            won.push((outcome.events[0].stream_version, ev.id));
                        }
                        Err(AppendError::WrongExpectedVersion {
                            stream,
                            expected: e,
                            actual,
                        }) => {
                            assert_eq!((stream.as_str(), e), ("race-1", expected));
                            assert_ne!(actual, version, "a conflict reports the version that won");
                            conflicts += 1;
                        }
                        Err(other) => panic!("unexpected error {other}"),
                    }
                }
                (won, conflicts)
            })
        })
        .collect();
    let mut winners = BTreeMap::new();
    let mut conflicts = 0;
    for task in tasks {
        let (won, c) = task.await.unwrap();
        conflicts += c;
        for (version, id) in won {
            assert!(
                winners.insert(version, id).is_none(),
                "two writers won version {version}"
            );
        }
    }
    assert!(conflicts > 0, "the test must actually race");
    let total = TASKS * EACH;
    assert_eq!(
        winners.keys().copied().collect::<Vec<_>>(),
        (1..=total).collect::<Vec<_>>()
    );
    let stored = store
        .read_stream("race-1", 1, Direction::Forward, usize::MAX)
        .unwrap();
    assert_eq!(
        stored.len() as u64,
        total,
        "nothing lost, nothing duplicated"
    );
    for e in &stored {
        assert_eq!(
            winners[&e.stream_version], e.id,
            "the stored event at each version is the winner's"
        );
    }
    assert_eq!(
        stored.iter().map(|e| e.id).collect::<HashSet<_>>().len() as u64,
        total
    );
    assert!(store.verify(1, u64::MAX).unwrap().is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_retries_of_one_append_store_it_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    for round in 0..50 {
        let request = AppendRequest::single(
            format!("retry-{round}"),
            ExpectedVersion::NoStream,
            vec![event(1), event(2)],
        );
        let attempts: Vec<_> = (0..8)
            .map(|_| {
                tokio::spawn({
                    let (store, request) = (store.clone(), request.clone());
                    async move { store.append(request).await }
                })
            })
            .collect();
        let mut outcomes = Vec::new();
        for a in attempts {
            outcomes.push(
                a.await
                    .unwrap()
                    .expect("a retry of a stored append succeeds"),
            );
        }
        assert_eq!(
            outcomes.iter().filter(|o| !o.duplicate).count(),
            1,
            "exactly one attempt writes"
        );
        assert!(
            outcomes.iter().all(|o| o.events == outcomes[0].events),
            "every attempt sees the original positions"
        );
    }
    assert_eq!(store.head().position, 100);
}
