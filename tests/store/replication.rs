//! The store's cluster hooks (docs/store.md, "Replication"): a leader's batches reach the
//! replicated log before anyone learns of them, and a follower's log, fed that log's
//! records, is byte-identical to the leader's. The replicated log here is a vector in
//! memory; tests/cluster runs the JetStream one.

use std::sync::{Arc, Mutex};

use crisisd::store::{
    AppendError, AppendRequest, AppendSpan, ExpectedVersion, ReplicationError, Replicator, Role,
    SledStore, StreamAppend,
};

use crate::common::{event, open};

/// What the leader handed over: records, where each group of appends ended, and the
/// side records, by the position of the event they travel with.
#[derive(Default)]
struct Log {
    records: Vec<(u64, Vec<u8>)>,
    groups: Vec<Vec<usize>>,
    sides: Vec<(u64, Vec<u8>)>,
    /// Refuse every call after this many (a deposed leader).
    accept_calls: Option<usize>,
    calls: usize,
}

#[derive(Clone, Default)]
struct MemoryLog(Arc<Mutex<Log>>);

impl Replicator for MemoryLog {
    fn replicate(
        &mut self,
        records: &[(u64, Vec<u8>)],
        appends: &[AppendSpan],
    ) -> Result<(), ReplicationError> {
        let ends: Vec<usize> = appends.iter().map(|span| span.end).collect();
        let mut log = self.0.lock().unwrap();
        log.calls += 1;
        if log.accept_calls.is_some_and(|n| log.calls > n) {
            return Err(ReplicationError::Fenced(
                "expected last sequence mismatch".into(),
            ));
        }
        let expected = log.records.last().map_or(1, |(p, _)| p + 1);
        assert_eq!(records[0].0, expected, "the leader continues the log");
        assert_eq!(
            ends.last(),
            Some(&records.len()),
            "the last group ends the call"
        );
        log.records.extend(records.iter().cloned());
        let mut begin = 0;
        for span in appends {
            if !span.side.is_empty() {
                log.sides.push((records[begin].0, span.side.clone()));
            }
            begin = span.end;
        }
        log.groups.push(ends);
        Ok(())
    }
}

fn leader(store: &SledStore, log: &MemoryLog, replicated: u64) {
    store.set_role(Role::Leader {
        replicator: Box::new(log.clone()),
        replicated,
    });
}

fn raw(store: &SledStore) -> Vec<(u64, Vec<u8>)> {
    store
        .raw_range(1, u64::MAX)
        .map(|r| r.map(|(p, v)| (p, v.to_vec())).unwrap())
        .collect()
}

/// Single, multi-event and multi-stream appends from concurrent tasks.
async fn write_load(store: &SledStore, tasks: u64, each: u64) -> Vec<Vec<u64>> {
    let handles: Vec<_> = (0..tasks)
        .map(|t| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut appends = Vec::new();
                for n in 0..each {
                    let request = match n % 3 {
                        0 => AppendRequest::single(
                            format!("one-{t}"),
                            ExpectedVersion::Any,
                            vec![event(n)],
                        )
                        .with_side(format!("side {t} {n}").into_bytes()),
                        1 => AppendRequest::single(
                            format!("three-{}", n % 5),
                            ExpectedVersion::Any,
                            vec![event(n), event(n + 1), event(n + 2)],
                        ),
                        _ => AppendRequest {
                            streams: (0..2)
                                .map(|s| StreamAppend {
                                    stream: format!("pair-{t}-{s}"),
                                    expected: ExpectedVersion::Any,
                                    events: vec![event(n), event(n + 1)],
                                })
                                .collect(),
                            side: Vec::new(),
                        },
                    };
                    let done = store.append(request).await.expect("append");
                    appends.push(done.events.iter().map(|c| c.position).collect());
                }
                appends
            })
        })
        .collect();
    let mut all = Vec::new();
    for handle in handles {
        all.extend(handle.await.unwrap());
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_fed_the_leaders_log_is_byte_identical_and_no_append_is_split() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let first = open(a.path());
    let log = MemoryLog::default();
    leader(&first, &log, 0);
    let appends = write_load(&first, 8, 30).await;

    // Everything acknowledged is in the replicated log, in position order.
    let shipped = log.0.lock().unwrap().records.clone();
    assert_eq!(
        shipped,
        raw(&first),
        "the log holds exactly the leader's records"
    );
    let acked: usize = appends.iter().map(Vec::len).sum();
    assert_eq!(shipped.len(), acked);
    // A group boundary never falls inside an append.
    let mut boundaries = std::collections::HashSet::new();
    let mut offset = 0;
    for ends in &log.0.lock().unwrap().groups {
        boundaries.extend(ends.iter().map(|end| shipped[offset + end - 1].0));
        offset += ends.last().unwrap();
    }
    for positions in &appends {
        let last = *positions.last().unwrap();
        for p in positions.iter().filter(|p| **p != last) {
            assert!(
                !boundaries.contains(p),
                "a group ends inside the append {positions:?}"
            );
        }
    }

    let sides_shipped = log.0.lock().unwrap().sides.clone();
    // The follower applies it in uneven chunks, as it would read the stream.
    let second = open(b.path());
    second.set_role(Role::Follower {
        leader: Some("node-a at http://127.0.0.1:8080".into()),
    });
    let mut at = 0;
    for size in [1usize, 7, 64, 3].into_iter().cycle() {
        if at >= shipped.len() {
            break;
        }
        let part = &shipped[at..(at + size).min(shipped.len())];
        let chunk: Vec<Vec<u8>> = part.iter().map(|(_, r)| r.clone()).collect();
        let mut sides = Vec::new();
        for (_, side) in sides_shipped
            .iter()
            .filter(|(p, _)| part.iter().any(|(q, _)| q == p))
        {
            sides.extend_from_slice(&(side.len() as u32).to_be_bytes());
            sides.extend_from_slice(side);
        }
        at += chunk.len();
        second
            .apply_replicated(chunk, sides)
            .await
            .expect("the follower applies");
    }
    assert_eq!(raw(&second), raw(&first), "byte-identical logs");
    // Every side record travelled with its append's first event, in log order.
    let side_records =
        |store: &SledStore| -> Vec<Vec<u8>> { store.side_records().map(Result::unwrap).collect() };
    assert_eq!(sides_shipped.len(), 8 * 10);
    assert_eq!(
        sides_shipped
            .iter()
            .map(|(_, s)| s.clone())
            .collect::<Vec<_>>(),
        side_records(&first),
        "shipped in the leader's order"
    );
    assert_eq!(side_records(&second), side_records(&first));
    assert_eq!(second.head(), first.head());
    let report = second.verify(1, second.head().position).unwrap();
    assert!(report.damage.is_none(), "{:?}", report.damage);
    for stream in ["one-3", "three-4", "pair-5-1"] {
        assert_eq!(
            second.stream_version(stream).unwrap(),
            first.stream_version(stream).unwrap()
        );
    }
    // A follower refuses commands and names the leader.
    let refused = second
        .append(AppendRequest::single(
            "test-x",
            ExpectedVersion::Any,
            vec![event(1)],
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, AppendError::Unavailable { reason } if reason.contains("node-a at http://127.0.0.1:8080")),
        "{refused}"
    );
    // Its own side records (its key store's) change no position: it takes them, and
    // they are not among the side records it took from the log.
    let (upto, from_log) = second.replicated_side_records(0).unwrap();
    assert_eq!(from_log, side_records(&first));
    let head = second.head();
    second
        .append(AppendRequest::default().with_side(b"local".to_vec()))
        .await
        .expect("a follower takes a side-only append");
    assert_eq!(second.head(), head);
    assert_eq!(
        second.replicated_side_records(upto).unwrap(),
        (upto, vec![])
    );
    assert_eq!(side_records(&second).last().unwrap(), b"local");

    // Failover: the follower, caught up, leads; only its new records are shipped.
    let log_b = MemoryLog::default();
    log_b.0.lock().unwrap().records = shipped.clone();
    leader(&second, &log_b, second.head().position);
    second
        .append(AppendRequest::single(
            "after-failover",
            ExpectedVersion::NoStream,
            vec![event(9)],
        ))
        .await
        .expect("the new leader takes writes");
    let log_b = log_b.0.lock().unwrap();
    assert_eq!(log_b.records.len(), shipped.len() + 1);
    assert_eq!(log_b.groups.len(), 1, "one call, for the new record only");
}

/// A log that holds each batch until the test releases it, and notes the thread that
/// sent it.
#[derive(Clone, Default)]
struct GatedLog {
    log: MemoryLog,
    open: Arc<(Mutex<bool>, std::sync::Condvar)>,
    threads: Arc<Mutex<Vec<String>>>,
}

impl Replicator for GatedLog {
    fn replicate(
        &mut self,
        records: &[(u64, Vec<u8>)],
        appends: &[AppendSpan],
    ) -> Result<(), ReplicationError> {
        let thread = std::thread::current().name().unwrap_or("").to_owned();
        self.threads.lock().unwrap().push(thread);
        let (open, opened) = &*self.open;
        let mut guard = open.lock().unwrap();
        while !*guard {
            guard = opened.wait(guard).unwrap();
        }
        drop(guard);
        self.log.replicate(records, appends)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_acknowledges_a_batch_once_the_log_holds_it_sent_beside_the_fsync() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let gated = GatedLog::default();
    store.set_role(Role::Leader {
        replicator: Box::new(gated.clone()),
        replicated: 0,
    });
    let appending = tokio::spawn({
        let store = store.clone();
        async move {
            store
                .append(AppendRequest::single(
                    "test-s",
                    ExpectedVersion::NoStream,
                    vec![event(1)],
                ))
                .await
        }
    });
    // The batch is durable in sled long before this; the log has not confirmed it.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        !appending.is_finished(),
        "acknowledged before the log took it"
    );
    assert_eq!(store.head().position, 0, "visible before the log took it");
    let (open, opened) = &*gated.open;
    *open.lock().unwrap() = true;
    opened.notify_all();
    let done = appending
        .await
        .unwrap()
        .expect("appended once the log took it");
    assert_eq!(done.events[0].position, 1);
    assert_eq!(store.head().position, 1);
    assert_eq!(raw(&store), gated.log.0.lock().unwrap().records);
    // Sent by a thread of its own, so the syncer's fsync runs meanwhile.
    assert_eq!(*gated.threads.lock().unwrap(), ["crisisd-store-replicate"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_batch_is_never_acknowledged_or_visible_and_the_node_stops_writing() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let log = MemoryLog::default();
    log.0.lock().unwrap().accept_calls = Some(3);
    leader(&store, &log, 0);
    for n in 0..3 {
        store
            .append(AppendRequest::single(
                "test-s",
                ExpectedVersion::Any,
                vec![event(n)],
            ))
            .await
            .expect("replicated");
    }
    let replicated = store.head();
    assert_eq!(replicated.position, 3);
    let refused = store
        .append(AppendRequest::single(
            "test-s",
            ExpectedVersion::Any,
            vec![event(3), event(4)],
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, AppendError::Unavailable { reason } if reason.contains("another node leads")),
        "{refused}"
    );
    assert_eq!(
        store.head(),
        replicated,
        "readers never see what the log refused"
    );
    assert_eq!(store.read_all(1, 100).unwrap().len(), 3);
    let later = store
        .append(AppendRequest::single(
            "test-t",
            ExpectedVersion::Any,
            vec![event(5)],
        ))
        .await
        .unwrap_err();
    assert!(matches!(later, AppendError::Unavailable { .. }), "{later}");
    store.close().await;
    drop(store);

    // Restarting, the node drops what never reached the log before it follows.
    crate::common::wait_until_unlocked(dir.path());
    let dropped = crisisd::store::truncate_from(
        &crisisd::store::StoreConfig::new(dir.path()),
        replicated.position + 1,
    )
    .unwrap();
    assert_eq!(
        dropped, 2,
        "the refused append's two records, durable locally"
    );
    let reopened = open(dir.path());
    assert_eq!(reopened.head(), replicated);
    assert_eq!(raw(&reopened), log.0.lock().unwrap().records);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_refuses_records_that_do_not_continue_its_log_and_writes_none() {
    let (a, b, c) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let source = open(a.path());
    crate::common::fill(&source, 6, 2).await;
    let records: Vec<Vec<u8>> = raw(&source).into_iter().map(|(_, r)| r).collect();
    let other = open(c.path());
    crate::common::fill(&other, 3, 1).await;
    let foreign: Vec<Vec<u8>> = raw(&other).into_iter().map(|(_, r)| r).collect();

    let follower = open(b.path());
    let refused = follower
        .apply_replicated(records[..2].to_vec(), Vec::new())
        .await;
    assert!(
        refused.is_err(),
        "a single node applies no leader's records"
    );
    follower.set_role(Role::Follower { leader: None });
    follower
        .apply_replicated(records[..2].to_vec(), Vec::new())
        .await
        .unwrap();
    let head = follower.head();

    let mut edited = records[2].clone();
    let last = edited.len() - 3;
    edited[last] ^= 1;
    let cases: Vec<(&str, Vec<Vec<u8>>)> = vec![
        ("a gap", vec![records[3].clone()]),
        ("a repeat", vec![records[1].clone()]),
        ("an edited record", vec![edited]),
        ("another log's record", vec![foreign[2].clone()]),
        (
            "good then bad",
            vec![records[2].clone(), records[4].clone()],
        ),
        ("not a record", vec![b"hello".to_vec()]),
    ];
    for (what, batch) in cases {
        let err = follower
            .apply_replicated(batch, Vec::new())
            .await
            .unwrap_err();
        assert!(
            matches!(err, AppendError::Unavailable { .. }),
            "{what}: {err}"
        );
        assert_eq!(follower.head(), head, "{what}: nothing written");
    }
    // A refusal is not a failure: the right records still apply.
    follower
        .apply_replicated(records[2..].to_vec(), Vec::new())
        .await
        .unwrap();
    assert_eq!(raw(&follower), raw(&source));
}
