//! Test support: stores holding workload scenarios, rebuilt models.

use chrono::{DateTime, Utc};

use crate::projection::{Projection, ReadModel, rebuild};
use crate::store::{AppendRequest, ExpectedVersion, SledStore, StoreConfig};
use crate::testing::workload;

/// Where every test scenario starts: 2026-11-22 06:00 UTC (a Sunday).
pub fn start() -> DateTime<Utc> {
    "2026-11-22T06:00:00Z".parse().expect("valid instant")
}

/// A fresh store holding the given workload scenarios, one append per command.
pub async fn store_with(scenarios: &[u64]) -> (tempfile::TempDir, SledStore) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SledStore::open(StoreConfig::new(dir.path())).expect("open store");
    for &n in scenarios {
        for step in workload::scenario(n, start()) {
            let request = AppendRequest::single(step.stream, ExpectedVersion::Any, step.events);
            store.append(request).await.expect("append");
        }
    }
    (dir, store)
}

/// Rebuilds `projection` and returns its tree.
pub fn rebuilt(store: &SledStore, projection: impl Projection) -> ReadModel {
    let name = projection.name();
    rebuild(store, projection, |_, _| {}).expect("rebuild");
    ReadModel::open(store, name).expect("model tree")
}
