//! The replicated log against a three-server NATS cluster: fenced atomic batches, exact
//! read-back, and no acknowledged batch lost when a NATS server is killed mid-append.

use std::time::Duration;

use bytes::Bytes;
use crisisd::cluster::{LogConfig, LogError, LogRecord, ReplicatedLog};
use futures_util::StreamExt;
use tokio::time::{Instant, timeout};

use crate::nats_cluster::{NatsCluster, stream_leader};

async fn open(cluster: &NatsCluster, name: &str) -> ReplicatedLog {
    let mut config = LogConfig::for_cluster(name);
    config.stream = format!("CRISIS_LOG_{name}");
    ReplicatedLog::open(cluster.client().await, config)
        .await
        .unwrap()
}

fn batch(tag: &str, n: usize) -> Vec<Bytes> {
    (0..n)
        .map(|i| Bytes::from(format!("{tag}:{i}/{n}")))
        .collect()
}

/// Reads records `from..=to` (bounded in time). A read error — the stream electing a
/// new leader after a server was killed — reopens the reader from the next record, as
/// `read_from`'s callers do.
async fn read(log: &ReplicatedLog, from: u64, to: u64) -> Vec<LogRecord> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut records: Vec<LogRecord> = Vec::new();
    'reopen: while records.len() < (to + 1 - from) as usize {
        assert!(
            tokio::time::Instant::now() < deadline,
            "records {from}..={to} within 60 s"
        );
        let next_seq = from + records.len() as u64;
        let mut reader = match log.read_from(next_seq).await {
            Ok(reader) => reader,
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(250)).await;
                continue;
            }
        };
        while records.len() < (to + 1 - from) as usize {
            match timeout(Duration::from_secs(30), reader.next()).await {
                Ok(Some(Ok(record))) => records.push(record),
                _ => {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                    continue 'reopen;
                }
            }
        }
    }
    records
}

fn payloads(records: &[LogRecord]) -> Vec<Bytes> {
    records.iter().map(|r| r.payload.clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_append_in_order_and_read_back_exactly() {
    let cluster = NatsCluster::start().await;
    let log = open(&cluster, "order").await;
    assert_eq!(log.last_sequence().await.unwrap(), 0);
    let batches = [batch("one", 1), batch("two", 7), batch("three", 250)];
    let mut last = 0;
    for records in &batches {
        let appended = log.append_batch(last, records).await.unwrap();
        assert_eq!(appended, last + records.len() as u64);
        last = appended;
    }
    assert_eq!(log.last_sequence().await.unwrap(), last);

    let all = read(&log, 1, last).await;
    assert_eq!(payloads(&all), batches.concat());
    assert!(all.iter().enumerate().all(|(i, r)| r.seq == i as u64 + 1));
    let tail = read(&log, 3, last).await;
    assert_eq!(payloads(&tail), batches.concat()[2..]);

    assert!(
        all.iter().all(|r| r.side.is_empty()),
        "no side records sent"
    );

    // Side records ride with the record they were given to, as they were sent.
    let sides = [
        (0, Bytes::from_static(b"\x00\x00\x00\x02k1")),
        (2, Bytes::from(vec![7u8; 90_000])),
    ];
    let sided = batch("sided", 3);
    let appended = log
        .append_batch_with_sides(last, &sided, &sides)
        .await
        .unwrap();
    let back = read(&log, last + 1, appended).await;
    assert_eq!(payloads(&back), sided);
    let got: Vec<Bytes> = back.iter().map(|r| r.side.clone()).collect();
    assert_eq!(got, [sides[0].1.clone(), Bytes::new(), sides[1].1.clone()]);
    assert_eq!(log.record(appended).await.unwrap().side, sides[1].1);
    last = appended;

    // Opening again finds the same stream and settings.
    let again = open(&cluster, "order").await;
    assert_eq!(again.last_sequence().await.unwrap(), last);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_with_a_stale_expected_sequence_is_fenced_and_stores_nothing() {
    let cluster = NatsCluster::start().await;
    let leader = open(&cluster, "fence").await;
    let deposed = open(&cluster, "fence").await; // its own connection
    assert_eq!(leader.append_batch(0, &batch("new", 3)).await.unwrap(), 3);

    // The deposed writer still believes the log ends at 0.
    match deposed.append_batch(0, &batch("stale", 5)).await {
        Err(LogError::Fenced {
            expected: 0,
            actual,
        }) => assert_eq!(actual, Some(3)),
        other => panic!("expected Fenced, got {other:?}"),
    }
    match deposed.append_batch(2, &batch("stale1", 1)).await {
        Err(LogError::Fenced {
            expected: 2,
            actual: Some(3),
        }) => {}
        other => panic!("expected Fenced, got {other:?}"),
    }
    assert_eq!(deposed.last_sequence().await.unwrap(), 3);
    assert_eq!(payloads(&read(&deposed, 1, 3).await), batch("new", 3));

    // The token is the only thing checked: at the true last sequence it may append.
    assert_eq!(
        deposed
            .append_batch(3, &batch("caught-up", 2))
            .await
            .unwrap(),
        5
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_batches_at_one_expected_sequence_store_exactly_one_whole_batch() {
    let cluster = NatsCluster::start().await;
    let a = open(&cluster, "race").await;
    let b = open(&cluster, "race").await;
    let mut last = 0;
    for round in 0..5 {
        let (ra, rb) = (
            batch(&format!("a{round}"), 60),
            batch(&format!("b{round}"), 60),
        );
        let (got_a, got_b) = tokio::join!(a.append_batch(last, &ra), b.append_batch(last, &rb));
        let winner = match (got_a, got_b) {
            (Ok(seq), Err(LogError::Fenced { .. })) => {
                assert_eq!(seq, last + 60);
                ra
            }
            (Err(LogError::Fenced { .. }), Ok(seq)) => {
                assert_eq!(seq, last + 60);
                rb
            }
            other => panic!("round {round}: exactly one batch must win: {other:?}"),
        };
        assert_eq!(
            a.last_sequence().await.unwrap(),
            last + 60,
            "no record of the loser stored"
        );
        assert_eq!(payloads(&read(&a, last + 1, last + 60).await), winner);
        last += 60;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_drops_an_incomplete_atomic_batch_and_too_large_batches_are_refused() {
    let cluster = NatsCluster::start().await;
    let log = open(&cluster, "atomic").await;
    log.append_batch(0, &batch("first", 2)).await.unwrap();

    // A batch whose second message never arrived: the commit is refused, nothing stored.
    let client = cluster.client().await;
    let subject = log.config().subject.clone();
    let headers = |n: &str, commit: bool| {
        let mut h = async_nats::HeaderMap::new();
        h.insert("Nats-Batch-Id", "gapbatch");
        h.insert("Nats-Batch-Sequence", n);
        if commit {
            h.insert("Nats-Batch-Commit", "1");
        }
        h
    };
    let first = client
        .request_with_headers(subject.clone(), headers("1", false), "x1".into())
        .await
        .unwrap();
    assert!(
        first.payload.is_empty(),
        "the first message of a batch is staged: {first:?}"
    );
    let commit = client
        .request_with_headers(subject.clone(), headers("3", true), "x3".into())
        .await
        .unwrap();
    let answer = String::from_utf8_lossy(&commit.payload);
    assert!(
        answer.contains("\"error\""),
        "an incomplete batch must be refused: {answer}"
    );
    assert_eq!(
        log.last_sequence().await.unwrap(),
        2,
        "nothing of it stored"
    );

    let too_many = batch("big", crisisd::cluster::log::BATCH_RECORDS_MAX + 1);
    assert!(matches!(
        log.append_batch(2, &too_many).await,
        Err(LogError::InvalidBatch(_))
    ));
    assert!(matches!(
        log.append_batch(2, &[]).await,
        Err(LogError::InvalidBatch(_))
    ));
    assert_eq!(log.last_sequence().await.unwrap(), 2);
}

/// Kills a NATS server: runs alone, not beside the node tests (tests/cluster/nodes.rs).
#[test]
fn every_acknowledged_batch_survives_kill_9_of_the_streams_nats_leader_during_appends() {
    let _serial = crate::nodes::serial();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(every_acknowledged_batch_survives_kill_9_of_the_streams_nats_leader_during_appends_alone());
}

async fn every_acknowledged_batch_survives_kill_9_of_the_streams_nats_leader_during_appends_alone()
{
    let mut cluster = NatsCluster::start().await;
    let log = open(&cluster, "kill").await;
    let js = async_nats::jetstream::new(cluster.client().await);
    let batch_len = 20;
    let batches_total = 40;
    let mut acknowledged: Vec<(u64, Vec<Bytes>)> = Vec::new();
    let mut expected = 0;
    let mut killed = None;
    let started = Instant::now();
    let mut number = 0;
    while number < batches_total {
        assert!(
            started.elapsed() < Duration::from_secs(180),
            "appends did not resume within 180 s"
        );
        if number == 10 && killed.is_none() {
            let leader = cluster.index_of(&stream_leader(&js, &log.config().stream).await);
            cluster.kill(leader);
            killed = Some(leader);
        }
        let records = batch(&format!("batch{number}"), batch_len);
        match log.append_batch(expected, &records).await {
            Ok(last) => {
                acknowledged.push((expected + 1, records));
                expected = last;
                number += 1;
            }
            // Not acknowledged: maybe stored. Learn the stream's end; a stored copy is
            // checked below for being whole, never counted as acknowledged.
            Err(LogError::Unacknowledged { .. } | LogError::Fenced { .. }) => {
                if let Ok(last) = log.last_sequence().await {
                    expected = last;
                }
                number += 1;
            }
            Err(LogError::Unavailable(_) | LogError::Refused { .. }) => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(other) => panic!("unexpected append error: {other}"),
        }
    }
    cluster.restart(killed.expect("a server was killed"));
    eprintln!(
        "{} of {batches_total} batches acknowledged in {:?} across the kill",
        acknowledged.len(),
        started.elapsed()
    );
    assert!(acknowledged.len() >= 20, "appends resumed after the kill");

    let last = log.last_sequence().await.unwrap();
    let all = read(&log, 1, last).await;
    for (first_seq, records) in &acknowledged {
        let at = (*first_seq - 1) as usize;
        assert_eq!(
            payloads(&all[at..at + records.len()]),
            *records,
            "batch at {first_seq}"
        );
    }
    // Everything stored is whole batches, in sequence: no partial batch, no duplicate.
    for (i, chunk) in all.chunks(batch_len).enumerate() {
        let tag = String::from_utf8_lossy(&chunk[0].payload)
            .split(':')
            .next()
            .unwrap()
            .to_owned();
        assert_eq!(
            payloads(chunk),
            batch(&tag, batch_len),
            "chunk {i} is one whole batch"
        );
    }
    let mut tags: Vec<String> = all
        .chunks(batch_len)
        .map(|c| {
            String::from_utf8_lossy(&c[0].payload)
                .split(':')
                .next()
                .unwrap()
                .to_owned()
        })
        .collect();
    let stored = tags.len();
    tags.sort();
    tags.dedup();
    assert_eq!(tags.len(), stored, "no batch stored twice");
}
