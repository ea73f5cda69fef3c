//! Reads, validation, "as of" lookups, locking and invalid input.

use std::time::Duration;

use chrono::Utc;
use crisisd::store::{
    AppendError, AppendRequest, Direction, ExpectedVersion, NewEvent, SledStore, StoreConfig,
    StoreError, StreamAppend,
};
use serde_json::json;

use crate::common::{actor, event, fill, open, when_released};

#[tokio::test]
async fn streams_read_forwards_and_backwards_from_a_version() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    fill(&store, 30, 3).await;
    let forward = store
        .read_stream("test-1", 4, Direction::Forward, 3)
        .unwrap();
    assert_eq!(
        forward.iter().map(|e| e.stream_version).collect::<Vec<_>>(),
        vec![4, 5, 6]
    );
    let backward = store
        .read_stream("test-1", 4, Direction::Backward, 10)
        .unwrap();
    assert_eq!(
        backward
            .iter()
            .map(|e| e.stream_version)
            .collect::<Vec<_>>(),
        vec![4, 3, 2, 1]
    );
    assert!(
        store
            .read_stream("test-9", 1, Direction::Forward, 10)
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.stream_version("test-2").unwrap(), Some(10));
    assert_eq!(store.stream_version("test-9").unwrap(), None);
    let all = store.read_all(11, 5).unwrap();
    assert_eq!(
        all.iter().map(|e| e.position).collect::<Vec<_>>(),
        vec![11, 12, 13, 14, 15]
    );
    assert!(store.read_all(31, 5).unwrap().is_empty());
}

#[tokio::test]
async fn multi_stream_appends_are_atomic() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    fill(&store, 1, 1).await; // test-0 at version 1
    let request = AppendRequest {
        streams: vec![
            StreamAppend {
                stream: "a-1".into(),
                expected: ExpectedVersion::NoStream,
                events: vec![event(1)],
            },
            StreamAppend {
                stream: "test-0".into(),
                expected: ExpectedVersion::Exact(7),
                events: vec![event(2)],
            },
        ],
        ..Default::default()
    };
    let err = store.append(request).await.unwrap_err();
    assert_eq!(
        err,
        AppendError::WrongExpectedVersion {
            stream: "test-0".into(),
            expected: ExpectedVersion::Exact(7),
            actual: Some(1)
        }
    );
    assert!(err.to_string().contains("reload"), "{err}");
    assert_eq!(
        store.stream_version("a-1").unwrap(),
        None,
        "nothing of a refused append is written"
    );
    assert_eq!(store.head().position, 1);
}

#[tokio::test]
async fn position_at_finds_the_first_event_at_or_after_an_instant() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let before = Utc::now() - chrono::Duration::seconds(1);
    for n in 0..12 {
        store
            .append(AppendRequest::single(
                "t-1",
                ExpectedVersion::Any,
                vec![event(n)],
            ))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let events = store.read_all(1, 100).unwrap();
    assert_eq!(store.position_at(before).unwrap(), Some(1));
    for e in &events {
        let found = store.position_at(e.recorded_at).unwrap().unwrap();
        assert!(found <= e.position);
        assert!(events[found as usize - 1].recorded_at >= e.recorded_at);
        assert!(found == 1 || events[found as usize - 2].recorded_at < e.recorded_at);
    }
    let after = events.last().unwrap().recorded_at + chrono::Duration::microseconds(1);
    assert_eq!(store.position_at(after).unwrap(), None);
    assert!(
        events
            .windows(2)
            .all(|w| w[0].recorded_at <= w[1].recorded_at),
        "recorded_at never decreases"
    );
}

#[tokio::test]
async fn invalid_appends_say_what_to_fix_and_store_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let bad =
        |stream: &str, ev: NewEvent| AppendRequest::single(stream, ExpectedVersion::Any, vec![ev]);
    let cases = vec![
        (bad("no_dash", event(1)), "stream names"),
        (
            bad(
                "x-1",
                NewEvent::new("nodot", json!({}), actor(), Utc::now()),
            ),
            "event types",
        ),
        (
            bad(
                "x-1",
                NewEvent::new("x.y", json!("text"), actor(), Utc::now()),
            ),
            "JSON object",
        ),
        (
            bad(
                "x-1",
                NewEvent::new("x.y", json!({"id": u64::MAX}), actor(), Utc::now()),
            ),
            "send it as a string",
        ),
        (
            bad(
                "x-1",
                NewEvent::new("x.y", json!({"t": "x".repeat(70_000)}), actor(), Utc::now()),
            ),
            "over the limit",
        ),
        (AppendRequest::default(), "at least one event"),
        (
            AppendRequest::single(
                "x-1",
                ExpectedVersion::Any,
                (0..=crisisd::store::APPEND_EVENTS_MAX as u64)
                    .map(event)
                    .collect(),
            ),
            "at most 1000 events, not 1001: split it",
        ),
    ];
    for (request, expected) in cases {
        let err = store.append(request).await.unwrap_err();
        assert!(
            err.to_string().contains(expected),
            "{err} should mention {expected:?}"
        );
    }
    let ev = event(1);
    let twice = AppendRequest::single("x-1", ExpectedVersion::Any, vec![ev.clone(), ev]);
    assert!(matches!(
        store.append(twice).await,
        Err(AppendError::InvalidRequest { .. })
    ));
    assert_eq!(store.head().position, 0);
}

#[tokio::test]
async fn a_second_process_cannot_open_the_same_directory() {
    let dir = tempfile::tempdir().unwrap();
    let _store = open(dir.path());
    let err = SledStore::open(StoreConfig::new(dir.path())).expect_err("locked");
    assert!(matches!(err, StoreError::Locked(_)), "{err}");
    assert!(err.to_string().contains("already running"), "{err}");
}

#[tokio::test]
async fn closed_store_refuses_appends_and_reopens_with_everything() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    fill(&store, 10, 2).await;
    store.close().await;
    let err = store
        .append(AppendRequest::single(
            "x-1",
            ExpectedVersion::Any,
            vec![event(1)],
        ))
        .await
        .unwrap_err();
    assert!(matches!(err, AppendError::Unavailable { .. }), "{err}");
    drop(store);
    let store = open(dir.path());
    assert_eq!(store.head().position, 10);
    assert_eq!(store.read_all(1, 100).unwrap().len(), 10);
}

#[test]
fn an_older_store_format_is_refused_with_how_to_move_it() {
    for older in crisisd::store::keys::OLDER_FORMAT_NAMES {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = sled::Config::new()
                .path(dir.path())
                .segment_size(crisisd::store::sled_store::SEGMENT_BYTES)
                .flush_every_ms(None)
                .open()
                .unwrap();
            db.insert(crisisd::store::keys::FORMAT, older).unwrap();
            db.flush().unwrap();
        }
        let err = when_released(|| SledStore::open(StoreConfig::new(dir.path())))
            .expect_err("an older format is refused");
        let message = err.to_string();
        assert!(
            message.contains(std::str::from_utf8(older).unwrap())
                && message.contains("crisisd replay")
                && message.contains("import"),
            "{message}"
        );
    }
}

#[tokio::test]
async fn events_near_the_size_cap_fill_log_keys_and_read_back_verified() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let big = "x".repeat(60 * 1024);
    let mut appends = Vec::new();
    for n in 0..40u64 {
        let event = NewEvent::new("test.big", json!({"n": n, "pad": big}), actor(), Utc::now());
        // Alternate single appends and pairs, so keys are filled across batches.
        let events = if n % 3 == 0 {
            let second =
                NewEvent::new("test.big", json!({"n": n, "pad": "y"}), actor(), Utc::now());
            vec![event, second]
        } else {
            vec![event]
        };
        appends.push(AppendRequest::single("big-1", ExpectedVersion::Any, events));
    }
    for request in appends {
        store.append(request).await.unwrap();
    }
    let head = store.head().position;
    store.close().await;
    drop(store);
    let store = open(dir.path());
    assert_eq!(store.head().position, head);
    assert!(store.verify(1, u64::MAX).unwrap().is_ok());
    let events = store
        .read_stream("big-1", 1, Direction::Forward, 1_000)
        .unwrap();
    assert_eq!(events.len() as u64, head);
    assert!(
        events
            .iter()
            .enumerate()
            .all(|(i, e)| e.position == i as u64 + 1)
    );
    let big_ones = events
        .iter()
        .filter(|e| e.data.get().len() > 60 * 1024)
        .count();
    assert_eq!(big_ones, 40);
}

/// Side records (the key store's new keys) are written with their events in one atomic
/// batch, only when the events are: not for a refused or duplicate append. An append
/// may carry one alone. They read back in write order, also after reopening.
#[tokio::test]
async fn side_records_are_written_with_their_events_or_not_at_all() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let with = |n: u64, side: &[u8]| {
        AppendRequest::single(
            format!("side-{n}"),
            ExpectedVersion::NoStream,
            vec![event(n)],
        )
        .with_side(side.to_vec())
    };
    store.append(with(1, b"one")).await.unwrap();
    let refused = store.append(with(1, b"refused")).await;
    assert!(refused.is_err(), "the stream exists: a conflict");
    let first = event(2);
    let request = AppendRequest::single("side-2", ExpectedVersion::Any, vec![first])
        .with_side(b"two".to_vec());
    store.append(request.clone()).await.unwrap();
    let again = store
        .append(request.with_side(b"duplicate".to_vec()))
        .await
        .unwrap();
    assert!(again.duplicate);
    store
        .append(AppendRequest::default().with_side(b"alone".to_vec()))
        .await
        .unwrap();
    assert!(
        store.append(AppendRequest::default()).await.is_err(),
        "nothing to append"
    );
    let read = |store: &crisisd::store::SledStore| -> Vec<Vec<u8>> {
        store.side_records().map(|r| r.unwrap()).collect()
    };
    let expected: Vec<Vec<u8>> = vec![b"one".to_vec(), b"two".to_vec(), b"alone".to_vec()];
    assert_eq!(read(&store), expected);
    assert_eq!(
        store.head().position,
        2,
        "a side record alone moves no position"
    );
    store.close().await;
    drop(store);
    let store = when_released(|| SledStore::open(StoreConfig::new(dir.path()))).unwrap();
    assert_eq!(read(&store), expected);
    assert!(store.verify(1, u64::MAX).unwrap().is_ok());
}
