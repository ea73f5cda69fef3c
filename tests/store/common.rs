use std::path::Path;

use chrono::Utc;
use crisisd::store::{Actor, AppendRequest, ExpectedVersion, NewEvent, SledStore, StoreConfig};
use serde_json::json;

pub fn actor() -> Actor {
    Actor {
        id: "agent-1".into(),
        role: "agent".into(),
    }
}

pub fn event(n: u64) -> NewEvent {
    NewEvent::new("test.happened", json!({"n": n}), actor(), Utc::now())
}

/// Opens the store for serving, waiting for an earlier handle of this process (the
/// test's previous store) to let go of the directory lock first.
pub fn open(dir: &Path) -> SledStore {
    when_released(|| SledStore::open(StoreConfig::new(dir))).expect("store opens")
}

/// Appends `count` single-event appends round-robin over `streams` streams.
pub async fn fill(store: &SledStore, count: u64, streams: u64) {
    for n in 0..count {
        let request = AppendRequest::single(
            format!("test-{}", n % streams),
            ExpectedVersion::Any,
            vec![event(n)],
        );
        store.append(request).await.expect("append");
    }
}

/// Appends `count` events from 16 concurrent tasks (fast: they share fsyncs).
pub async fn fill_concurrently(store: &SledStore, count: u64) {
    let tasks: Vec<_> = (0..16u64)
        .map(|t| {
            let store = store.clone();
            tokio::spawn(async move {
                for n in (t..count).step_by(16) {
                    let request = AppendRequest::single(
                        format!("test-{}", n % 37),
                        ExpectedVersion::Any,
                        vec![event(n)],
                    );
                    store.append(request).await.expect("append");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
}

/// Waits (up to 10 s) until no sled handle of this process holds the directory: sled's
/// background threads let go of it shortly after the last handle is dropped.
pub fn wait_until_unlocked(dir: &Path) {
    assert!(
        crisisd::store::sled_store::wait_for_release(dir, std::time::Duration::from_secs(60)),
        "{} stayed locked for 10 s",
        dir.display()
    );
}

/// Runs `open` until no earlier handle of this process (the test's previous store, a raw
/// sled handle, a forked child's inherited copy) holds the directory lock, for up to
/// 10 s: sled's threads release it a moment after the drop.
pub fn when_released<T>(
    mut open: impl FnMut() -> Result<T, crisisd::store::StoreError>,
) -> Result<T, crisisd::store::StoreError> {
    for _ in 0..500 {
        match open() {
            Err(crisisd::store::StoreError::Locked(_)) => {
                std::thread::sleep(std::time::Duration::from_millis(20))
            }
            other => return other,
        }
    }
    open()
}
