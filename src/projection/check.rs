//! Whether a data directory's read models are what a replay of its log gives: each model
//! must hold exactly what its projection makes of the log up to the model's checkpoint
//! (models may be behind the head; never inconsistent with their checkpoint). The
//! power-cut rounds and the cluster's failover tests check every node with it.

use super::{Projection, ReadModel, Scratch, all};
use crate::store::{RecordedEvent, SledStore};

/// Compares every read model of `store` with a replay of `events` (the whole log, in
/// position order) up to that model's checkpoint; says which model differs, and where.
pub fn check_against_replay(store: &SledStore, events: &[RecordedEvent]) -> Result<(), String> {
    for projection in all(&Default::default()) {
        let name = projection.name();
        let live = ReadModel::open(store, name).map_err(|e| e.to_string())?;
        let at = live.applied_position().map_err(|e| e.to_string())? as usize;
        if at > events.len() {
            return Err(format!(
                "{name} applied {at}, past the head {}",
                events.len()
            ));
        }
        let mut scratch = Scratch::new(projection).map_err(|e| e.to_string())?;
        for chunk in events[..at].chunks(1_000) {
            scratch
                .apply(chunk)
                .map_err(|e| format!("{name} replays: {e}"))?;
        }
        let (live, replayed) = (entries(&live)?, entries(&scratch.model())?);
        if live != replayed {
            let differ = live
                .iter()
                .zip(&replayed)
                .find(|(a, b)| a != b)
                .map(|(a, _)| String::from_utf8_lossy(&a.0).into_owned());
            return Err(format!(
                "{name} at {at} differs from a replay ({} keys live, {} replayed; first difference at {differ:?})",
                live.len(),
                replayed.len()
            ));
        }
    }
    Ok(())
}

/// A model's keys and values, in key order.
type Entries = Vec<(Vec<u8>, Vec<u8>)>;

/// A model's keys and values, without its format version.
fn entries(model: &ReadModel) -> Result<Entries, String> {
    let mut entries = Vec::new();
    for key in model.prefix_keys(b"") {
        let key = key.map_err(|e| e.to_string())?;
        if key.as_slice() == b"\xffversion" {
            continue;
        }
        let value = model
            .get_bytes(&key)
            .map_err(|e| e.to_string())?
            .unwrap_or_default();
        entries.push((key, value));
    }
    Ok(entries)
}
