//! Subscriptions: history then live, no gap, no duplicate; a stalled subscriber does
//! not hold the writer back.

use std::time::Duration;

use crisisd::store::SubscriptionFilter;

use crate::common::{fill_concurrently, open};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn subscriber_started_mid_load_sees_every_event_once_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    const TOTAL: u64 = 6_000;
    let load = tokio::spawn({
        let store = store.clone();
        async move { fill_concurrently(&store, TOTAL).await }
    });
    while store.head().position < 500 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let started_at = store.head().position;
    let mut from_start = store.subscribe(1, SubscriptionFilter::default());
    let mut from_now = store.subscribe(started_at + 1, SubscriptionFilter::default());
    let filtered_stream = SubscriptionFilter {
        stream: Some("test-5".into()),
        type_prefix: None,
    };
    let mut one_stream = store.subscribe(1, filtered_stream);
    let mut none = store.subscribe(
        1,
        SubscriptionFilter {
            stream: None,
            type_prefix: Some("other.".into()),
        },
    );
    for expected in 1..=TOTAL {
        let event = tokio::time::timeout(Duration::from_secs(30), from_start.next())
            .await
            .expect("live events arrive")
            .unwrap()
            .unwrap();
        assert_eq!(event.position, expected);
    }
    for expected in started_at + 1..=TOTAL {
        assert_eq!(from_now.next().await.unwrap().unwrap().position, expected);
    }
    load.await.unwrap();
    assert!(
        started_at < TOTAL,
        "the subscriber must start while appends are running"
    );
    let mut versions = Vec::new();
    while versions.len() < (TOTAL / 37) as usize {
        let event = one_stream.next().await.unwrap().unwrap();
        assert_eq!(event.stream, "test-5");
        versions.push(event.stream_version);
    }
    assert_eq!(versions, (1..=versions.len() as u64).collect::<Vec<_>>());
    assert!(
        tokio::time::timeout(Duration::from_millis(200), none.next())
            .await
            .is_err(),
        "a filter matching nothing waits"
    );
    assert!(
        tokio::time::timeout(Duration::from_millis(200), from_start.next())
            .await
            .is_err(),
        "no duplicate after the end"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stalled_subscriber_does_not_block_appends_and_resumes_without_gaps() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    fill_concurrently(&store, 10).await;
    let mut stalled = store.subscribe(1, SubscriptionFilter::default());
    assert_eq!(stalled.next().await.unwrap().unwrap().position, 1);
    // The subscriber now stops reading while 20,000 more events are appended. The writer
    // never waits on subscribers, so this completes no matter what the subscriber does.
    tokio::time::timeout(Duration::from_secs(120), fill_concurrently(&store, 20_000))
        .await
        .expect("appends finish while a subscriber stalls");
    assert_eq!(store.head().position, 20_010);
    for expected in 2..=20_010 {
        assert_eq!(stalled.next().await.unwrap().unwrap().position, expected);
    }
    store.close().await;
    assert!(
        stalled.next().await.is_none(),
        "a closed store ends its subscriptions"
    );
}

/// `next` is cancel-safe: a caller that only ever polls with a zero timeout (the
/// publisher and the projection runtime take "what is ready now" this way) still gets
/// every event once, in order. Before, each cancelled poll dropped the chunk being read
/// and the next poll read it again, so such a caller re-read the log without end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_next_keeps_the_chunk_it_was_reading() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    const TOTAL: u64 = 3_000;
    fill_concurrently(&store, TOTAL).await;
    // Reopened, the in-memory tail is empty: every chunk is read from sled.
    store.close().await;
    drop(store);
    let store = open(dir.path());
    let mut subscription = store.subscribe(1, SubscriptionFilter::default());
    let mut expected = 1;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while expected <= TOTAL {
        assert!(
            tokio::time::Instant::now() < deadline,
            "stuck at position {expected}: a cancelled read was thrown away"
        );
        match tokio::time::timeout(Duration::ZERO, subscription.next()).await {
            Ok(event) => {
                assert_eq!(event.unwrap().unwrap().position, expected);
                expected += 1;
            }
            // The chunk is being read on a blocking thread; give it time and poll again.
            Err(_) => tokio::time::sleep(Duration::from_millis(1)).await,
        }
    }
    assert!(
        tokio::time::timeout(Duration::from_millis(100), subscription.next())
            .await
            .is_err(),
        "no duplicate after the end"
    );
    store.close().await;
}

/// Recent records come from the in-memory tail: identical to what sled gives, shared
/// (one parsed copy) by the subscribers at the tip; a subscriber further behind than
/// the tail reads sled first and then continues from the tail without a gap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_from_the_tail_equal_those_from_sled_and_are_shared() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    const TOTAL: u64 = crisisd::store::tail::TAIL_EVENTS as u64 + 2_000;
    fill_concurrently(&store, TOTAL).await;
    let from_sled = store.read_all(1, TOTAL as usize).unwrap();
    assert_eq!(from_sled.len() as u64, TOTAL);
    let mut a = store.subscribe(1, SubscriptionFilter::default());
    let mut b = store.subscribe(1, SubscriptionFilter::default());
    let mut shared = 0;
    for expected in &from_sled {
        let x = a.next().await.unwrap().unwrap();
        let y = b.next().await.unwrap().unwrap();
        assert_eq!(
            serde_json::to_string(&*x).unwrap(),
            serde_json::to_string(expected).unwrap(),
            "position {}",
            expected.position
        );
        assert_eq!(x.position, y.position);
        if std::sync::Arc::ptr_eq(&x, &y) {
            shared += 1;
        }
    }
    // The oldest 2,000 (and the rest of the chunk that reaches into the tail) are read
    // from sled by each; everything after comes from the tail, parsed once.
    assert!(
        shared >= crisisd::store::tail::TAIL_EVENTS - 512,
        "only {shared} events were shared"
    );
    store.close().await;
}

/// Events ready in the tail never make `next` wait, so it must give way by itself: on
/// a single-threaded runtime another task runs long before a subscriber has taken
/// 5,000 ready events.
#[tokio::test(flavor = "current_thread")]
async fn a_subscriber_catching_up_through_the_tail_lets_other_tasks_run() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    const TOTAL: u64 = 5_000;
    fill_concurrently(&store, TOTAL).await;
    let ran = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    tokio::spawn({
        let ran = ran.clone();
        async move { ran.store(true, std::sync::atomic::Ordering::SeqCst) }
    });
    let mut subscription = store.subscribe(1, SubscriptionFilter::default());
    let mut taken = 0;
    while !ran.load(std::sync::atomic::Ordering::SeqCst) {
        subscription.next().await.unwrap().unwrap();
        taken += 1;
        assert!(
            taken < TOTAL,
            "the subscriber took every event before the other task ran"
        );
    }
    store.close().await;
}

/// Under live appends, several subscribers never get an event past the durable head
/// they could observe, and get every position once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_subscribers_never_get_ahead_of_the_head() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    const TOTAL: u64 = 4_000;
    let load = tokio::spawn({
        let store = store.clone();
        async move { fill_concurrently(&store, TOTAL).await }
    });
    let followers: Vec<_> = (0..3)
        .map(|_| {
            let store = store.clone();
            let mut subscription = store.subscribe(1, SubscriptionFilter::default());
            tokio::spawn(async move {
                for expected in 1..=TOTAL {
                    let event = subscription.next().await.unwrap().unwrap();
                    assert_eq!(event.position, expected);
                    assert!(
                        event.position <= store.head().position,
                        "position {} delivered before the head reached it",
                        event.position
                    );
                }
            })
        })
        .collect();
    for follower in followers {
        tokio::time::timeout(Duration::from_secs(60), follower)
            .await
            .expect("followers keep up")
            .unwrap();
    }
    load.await.unwrap();
    store.close().await;
}
