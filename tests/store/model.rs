//! Property test: random appends (conflicts, retries of the same ids, multi-stream)
//! interleaved with close/reopen give the same results and reads as a simple model.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use crisisd::store::{
    AppendError, AppendOutcome, AppendRequest, Direction, ExpectedVersion, NewEvent, SledStore,
    StreamAppend,
};
use proptest::prelude::*;
use uuid::Uuid;

use crate::common::event;

#[derive(Debug, Clone)]
enum Expect {
    Any,
    NoStream,
    Exact(u64),
    /// The model's current version: usually succeeds.
    Current,
}

#[derive(Debug, Clone)]
enum Op {
    Append(Vec<(u8, Expect, u8)>),
    Retry(usize),
    RetryWithExtraEvent(usize),
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    let expect = prop_oneof![
        Just(Expect::Any),
        Just(Expect::NoStream),
        (0u64..4).prop_map(Expect::Exact),
        Just(Expect::Current),
        Just(Expect::Current)
    ];
    let stream_append = (0u8..5, expect, 1u8..4);
    prop_oneof![
        6 => prop::collection::vec(stream_append, 1..4).prop_map(Op::Append),
        2 => any::<usize>().prop_map(Op::Retry),
        1 => any::<usize>().prop_map(Op::RetryWithExtraEvent),
        1 => Just(Op::Reopen),
    ]
}

/// What the store should do, computed the simplest way.
#[derive(Default)]
struct Model {
    log: Vec<(Uuid, String, u64)>,
    versions: HashMap<String, u64>,
    positions: HashMap<Uuid, u64>,
}

impl Model {
    fn append(&mut self, request: &AppendRequest) -> Result<(Vec<(u64, u64)>, bool), AppendError> {
        let ids: Vec<Uuid> = request
            .streams
            .iter()
            .flat_map(|s| s.events.iter().map(|e| e.id))
            .collect();
        let stored: Vec<&Uuid> = ids
            .iter()
            .filter(|id| self.positions.contains_key(id))
            .collect();
        if !stored.is_empty() {
            if stored.len() < ids.len() {
                let new = *ids
                    .iter()
                    .find(|id| !self.positions.contains_key(id))
                    .unwrap();
                return Err(AppendError::PartiallyStored {
                    stored: **stored.first().unwrap(),
                    new,
                });
            }
            let originals = ids.iter().map(|id| {
                let p = self.positions[id];
                (p, self.log[p as usize - 1].2)
            });
            return Ok((originals.collect(), true));
        }
        for s in &request.streams {
            let actual = self.versions.get(&s.stream).copied();
            let ok = match s.expected {
                ExpectedVersion::Any => true,
                ExpectedVersion::NoStream => actual.is_none(),
                ExpectedVersion::Exact(v) => actual == Some(v),
            };
            if !ok {
                return Err(AppendError::WrongExpectedVersion {
                    stream: s.stream.clone(),
                    expected: s.expected,
                    actual,
                });
            }
        }
        let mut out = Vec::new();
        for s in &request.streams {
            for e in &s.events {
                let version = self.versions.get(&s.stream).copied().unwrap_or(0) + 1;
                self.versions.insert(s.stream.clone(), version);
                self.log.push((e.id, s.stream.clone(), version));
                self.positions.insert(e.id, self.log.len() as u64);
                out.push((self.log.len() as u64, version));
            }
        }
        Ok((out, false))
    }
}

fn summary(
    outcome: Result<AppendOutcome, AppendError>,
) -> Result<(Vec<(u64, u64)>, bool), AppendError> {
    outcome.map(|o| {
        (
            o.events
                .iter()
                .map(|e| (e.position, e.stream_version))
                .collect(),
            o.duplicate,
        )
    })
}

/// Reopens once sled's background threads have released the lock.
fn reopen(dir: &Path) -> SledStore {
    crate::common::open(dir)
}

fn check_reads(store: &SledStore, model: &Model) {
    let all = store.read_all(1, usize::MAX).unwrap();
    let got: Vec<(Uuid, String, u64)> = all
        .iter()
        .map(|e| (e.id, e.stream.clone(), e.stream_version))
        .collect();
    assert_eq!(got, model.log);
    assert!(
        all.iter()
            .enumerate()
            .all(|(i, e)| e.position == i as u64 + 1)
    );
    assert_eq!(store.head().position, model.log.len() as u64);
    let mut by_stream: BTreeMap<&str, Vec<Uuid>> = BTreeMap::new();
    for (id, stream, _) in &model.log {
        by_stream.entry(stream).or_default().push(*id);
    }
    for (stream, ids) in by_stream {
        let forward: Vec<Uuid> = store
            .read_stream(stream, 1, Direction::Forward, usize::MAX)
            .unwrap()
            .iter()
            .map(|e| e.id)
            .collect();
        assert_eq!(forward, ids);
        let last = ids.len() as u64;
        let backward: Vec<Uuid> = store
            .read_stream(stream, last, Direction::Backward, 2)
            .unwrap()
            .iter()
            .map(|e| e.id)
            .collect();
        let expected: Vec<Uuid> = ids.iter().rev().take(2).copied().collect();
        assert_eq!(backward, expected);
        assert_eq!(store.stream_version(stream).unwrap(), Some(last));
    }
    assert!(store.verify(1, u64::MAX).unwrap().is_ok());
}

fn run_case(ops: Vec<Op>) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    runtime.block_on(async {
        let mut store = reopen(dir.path());
        let mut model = Model::default();
        let mut sent: Vec<AppendRequest> = Vec::new();
        let mut n = 0u64;
        for op in ops {
            let request = match op {
                Op::Reopen => {
                    store.close().await;
                    drop(store);
                    store = reopen(dir.path());
                    check_reads(&store, &model);
                    continue;
                }
                Op::Append(parts) => {
                    let mut streams: BTreeMap<u8, (Expect, u8)> = BTreeMap::new();
                    for (s, e, count) in parts {
                        streams.insert(s, (e, count));
                    }
                    let streams = streams.into_iter().map(|(s, (expect, count))| {
                        let stream = format!("model-{s}");
                        let expected = match expect {
                            Expect::Any => ExpectedVersion::Any,
                            Expect::NoStream => ExpectedVersion::NoStream,
                            Expect::Exact(v) => ExpectedVersion::Exact(v),
                            Expect::Current => model
                                .versions
                                .get(&stream)
                                .map_or(ExpectedVersion::NoStream, |v| ExpectedVersion::Exact(*v)),
                        };
                        let events: Vec<NewEvent> = (0..count)
                            .map(|_| {
                                n += 1;
                                event(n)
                            })
                            .collect();
                        StreamAppend {
                            stream,
                            expected,
                            events,
                        }
                    });
                    AppendRequest {
                        streams: streams.collect(),
                        ..Default::default()
                    }
                }
                Op::Retry(k) if !sent.is_empty() => sent[k % sent.len()].clone(),
                Op::RetryWithExtraEvent(k) if !sent.is_empty() => {
                    let mut request = sent[k % sent.len()].clone();
                    n += 1;
                    request.streams[0].events.push(event(n));
                    request
                }
                Op::Retry(_) | Op::RetryWithExtraEvent(_) => continue,
            };
            let expected = model.append(&request);
            let got = summary(store.append(request.clone()).await);
            assert_eq!(got, expected, "request {request:?}");
            sent.push(request);
        }
        check_reads(&store, &model);
        store.close().await;
    });
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
    #[test]
    fn store_behaves_like_the_model(ops in prop::collection::vec(op(), 1..40)) {
        run_case(ops);
    }
}
