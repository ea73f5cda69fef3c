//! The stream and event-id indexes: in memory, persisted as ONE chunk per committed
//! batch.
//!
//! sled spends several microseconds of CPU on every key it inserts, whatever the key,
//! so per-event index keys (a stream-version key and an id key next to each record)
//! made every append cost three inserts. Instead each batch writes its records plus one
//! `X <first position>` chunk listing, for each of its events in position order, the
//! event id, stream and stream version — in the same atomic `apply_batch` as the
//! records, so a chunk exists exactly when its records do. On open the chunks are read
//! back into two maps: event id → position, and stream → positions by version.
//!
//! Memory: about 40–70 bytes per event (1 million events ≈ 60 MB); opening reads every
//! chunk once. Past what one machine's memory holds, the store is outgrown anyway
//! (a replicated backend would take over behind the same trait).

use std::collections::HashMap;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use uuid::Uuid;

use super::StoreError;
use super::codec::RawRecord;
use super::keys;

/// Format byte of an index chunk.
const CHUNK_FORMAT: u8 = 1;

/// What the index knows of one event (its position is the chunk's first + offset).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub id: Uuid,
    pub stream: String,
    pub version: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Index {
    ids: HashMap<Uuid, u64>,
    /// Positions of each stream's events; version `v` is at `[v - 1]`.
    streams: HashMap<String, Vec<u64>>,
    /// Last position indexed.
    position: u64,
}

/// The index shared by the writer (who inserts) and readers.
#[derive(Debug, Clone, Default)]
pub(crate) struct SharedIndex(Arc<RwLock<Index>>);

impl SharedIndex {
    pub fn new(index: Index) -> Self {
        SharedIndex(Arc::new(RwLock::new(index)))
    }

    pub fn read(&self) -> RwLockReadGuard<'_, Index> {
        self.0.read().unwrap_or_else(|e| e.into_inner())
    }

    pub fn write(&self) -> RwLockWriteGuard<'_, Index> {
        self.0.write().unwrap_or_else(|e| e.into_inner())
    }
}

impl Index {
    pub fn position_of(&self, id: &Uuid) -> Option<u64> {
        self.ids.get(id).copied()
    }

    /// Positions of the stream's events in version order (empty: no such stream).
    pub fn stream(&self, stream: &str) -> &[u64] {
        self.streams.get(stream).map_or(&[], Vec::as_slice)
    }

    /// The stream's last version (`None`: no such stream).
    pub fn version(&self, stream: &str) -> Option<u64> {
        match self.stream(stream).len() {
            0 => None,
            n => Some(n as u64),
        }
    }

    /// Adds the events of positions `first..` in order; each must be the next version
    /// of its stream and the next position.
    pub fn insert(&mut self, first: u64, entries: &[Entry]) -> Result<(), String> {
        if first != self.position + 1 {
            return Err(format!(
                "index chunk starts at position {first}, expected {}",
                self.position + 1
            ));
        }
        for (offset, entry) in entries.iter().enumerate() {
            let position = first + offset as u64;
            if !self.streams.contains_key(&entry.stream) {
                self.streams.insert(entry.stream.clone(), Vec::new());
            }
            let positions = self.streams.get_mut(&entry.stream).expect("inserted above");
            if entry.version != positions.len() as u64 + 1 {
                return Err(format!(
                    "position {position}: {} version {} where {} is next",
                    entry.stream,
                    entry.version,
                    positions.len() + 1
                ));
            }
            if self.ids.insert(entry.id, position).is_some() {
                return Err(format!(
                    "position {position}: event id {} appears twice",
                    entry.id
                ));
            }
            positions.push(position);
            self.position = position;
        }
        Ok(())
    }

    /// Reads the chunks up to `head`. Chunks that do not add up (which only damage or a
    /// bug can cause) are set aside and the index is rebuilt from the log records, the
    /// source of truth.
    pub fn load(tree: &sled::Tree, head: u64) -> Result<Index, StoreError> {
        match Index::from_chunks(tree, head) {
            Ok(index) if index.position == head => Ok(index),
            Ok(index) => {
                tracing::warn!(
                    indexed = index.position,
                    head,
                    "index chunks end before the log's head; indexing the rest from the log"
                );
                let mut index = index;
                index.add_from_log(tree, head)?;
                Ok(index)
            }
            Err(reason) => {
                tracing::warn!(%reason, "index chunks are inconsistent; rebuilding the index from the log");
                let mut index = Index::default();
                index.add_from_log(tree, head)?;
                Ok(index)
            }
        }
    }

    fn from_chunks(tree: &sled::Tree, head: u64) -> Result<Index, String> {
        let mut index = Index::default();
        for chunk in tree.scan_prefix([keys::INDEX]) {
            let (key, value) = chunk.map_err(|err| err.to_string())?;
            let first = keys::index_chunk_position(&key);
            if first > head {
                return Err(format!(
                    "index chunk at position {first} is past the head {head}"
                ));
            }
            let entries = decode_chunk(&value)
                .ok_or_else(|| format!("index chunk at position {first} is unreadable"))?;
            index.insert(first, &entries)?;
        }
        if index.position > head {
            return Err(format!(
                "index reaches position {} past the head {head}",
                index.position
            ));
        }
        Ok(index)
    }

    fn add_from_log(&mut self, tree: &sled::Tree, head: u64) -> Result<(), StoreError> {
        for record in super::log::range(tree, self.position + 1, head) {
            let (position, bytes) = record?;
            let event = RawRecord::decode(&bytes)
                .and_then(|raw| raw.parse().ok())
                .ok_or_else(|| {
                    StoreError::Damaged(format!(
                        "position {position} cannot be read to index it; run `crisisd verify`"
                    ))
                })?;
            let entry = Entry {
                id: event.id,
                stream: event.stream,
                version: event.stream_version,
            };
            self.insert(position, std::slice::from_ref(&entry))
                .map_err(StoreError::Damaged)?;
        }
        Ok(())
    }
}

/// `[format][count: u32]` then per event `[id: 16][version: u64][stream length: u16][stream]`.
pub(crate) fn encode_chunk(entries: &[Entry]) -> Vec<u8> {
    let size: usize = entries.iter().map(|e| 26 + e.stream.len()).sum();
    let mut out = Vec::with_capacity(5 + size);
    out.push(CHUNK_FORMAT);
    out.extend_from_slice(&(entries.len() as u32).to_be_bytes());
    for entry in entries {
        out.extend_from_slice(entry.id.as_bytes());
        out.extend_from_slice(&entry.version.to_be_bytes());
        out.extend_from_slice(&(entry.stream.len() as u16).to_be_bytes());
        out.extend_from_slice(entry.stream.as_bytes());
    }
    out
}

pub(crate) fn decode_chunk(bytes: &[u8]) -> Option<Vec<Entry>> {
    let (&format, rest) = bytes.split_first()?;
    if format != CHUNK_FORMAT {
        return None;
    }
    let count = u32::from_be_bytes(rest.get(..4)?.try_into().ok()?) as usize;
    let mut rest = &rest[4..];
    let mut entries = Vec::with_capacity(count.min(1 << 16));
    for _ in 0..count {
        let id = Uuid::from_slice(rest.get(..16)?).ok()?;
        let version = u64::from_be_bytes(rest.get(16..24)?.try_into().ok()?);
        let len = u16::from_be_bytes(rest.get(24..26)?.try_into().ok()?) as usize;
        let stream = std::str::from_utf8(rest.get(26..26 + len)?)
            .ok()?
            .to_owned();
        rest = &rest[26 + len..];
        entries.push(Entry {
            id,
            stream,
            version,
        });
    }
    rest.is_empty().then_some(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(n: u128, stream: &str, version: u64) -> Entry {
        Entry {
            id: Uuid::from_u128(n),
            stream: stream.into(),
            version,
        }
    }

    #[test]
    fn chunks_round_trip_and_refuse_garbage() {
        let entries = vec![entry(1, "a", 1), entry(2, "bé", 1), entry(3, "a", 2)];
        let bytes = encode_chunk(&entries);
        assert_eq!(decode_chunk(&bytes), Some(entries));
        assert_eq!(decode_chunk(&bytes[..bytes.len() - 1]), None);
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(decode_chunk(&longer), None);
        assert_eq!(decode_chunk(&[]), None);
    }

    #[test]
    fn inserts_must_continue_positions_versions_and_ids() {
        let mut index = Index::default();
        index
            .insert(1, &[entry(1, "a", 1), entry(2, "b", 1)])
            .unwrap();
        index.insert(3, &[entry(3, "a", 2)]).unwrap();
        assert_eq!(index.stream("a"), &[1, 3]);
        assert_eq!(index.version("b"), Some(1));
        assert_eq!(index.version("c"), None);
        assert_eq!(index.position_of(&Uuid::from_u128(3)), Some(3));
        assert!(index.insert(5, &[entry(4, "a", 3)]).is_err(), "a gap");
        assert!(
            index.insert(4, &[entry(4, "a", 4)]).is_err(),
            "a skipped version"
        );
        assert!(
            index.insert(4, &[entry(1, "c", 1)]).is_err(),
            "a repeated id"
        );
    }

    mod with_a_store {
        use serde_json::json;

        use super::super::*;
        use crate::store::{
            Actor, AppendRequest, Direction, ExpectedVersion, NewEvent, SledStore, StoreConfig,
            truncate_from,
        };

        fn events(n: usize) -> Vec<NewEvent> {
            (0..n)
                .map(|i| {
                    let actor = Actor {
                        id: "t".into(),
                        role: "admin".into(),
                    };
                    NewEvent::new("test.happened", json!({"i": i}), actor, chrono::Utc::now())
                })
                .collect()
        }

        async fn build(dir: &std::path::Path) -> SledStore {
            let store = SledStore::open(StoreConfig::new(dir)).unwrap();
            // One request of 6 events to "a", then 4 single ones to "b": a chunk of 6.
            store
                .append(AppendRequest::single(
                    "s-a",
                    ExpectedVersion::NoStream,
                    events(6),
                ))
                .await
                .unwrap();
            for _ in 0..4 {
                store
                    .append(AppendRequest::single(
                        "s-b",
                        ExpectedVersion::Any,
                        events(1),
                    ))
                    .await
                    .unwrap();
            }
            store
        }

        /// Opens `dir` again once the previous handle's sled threads have let go of it.
        fn reopen(dir: &std::path::Path) -> SledStore {
            assert!(crate::store::sled_store::wait_for_release(
                dir,
                std::time::Duration::from_secs(10)
            ));
            SledStore::open(StoreConfig::new(dir)).unwrap()
        }

        #[tokio::test]
        async fn a_repair_inside_a_chunk_leaves_chunks_that_add_up_to_the_new_head() {
            let dir = tempfile::tempdir().unwrap();
            let store = build(dir.path()).await;
            store.close().await;
            drop(store);
            assert!(crate::store::sled_store::wait_for_release(
                dir.path(),
                std::time::Duration::from_secs(10)
            ));
            let dropped = truncate_from(&StoreConfig::new(dir.path()), 4);
            assert_eq!(dropped.unwrap(), 7);
            let store = reopen(dir.path());
            let index = Index::from_chunks(&store.inner_tree(), 3).unwrap();
            assert_eq!(
                index.position, 3,
                "the cut chunk holds exactly positions 1..=3"
            );
            assert_eq!(store.stream_version("s-a").unwrap(), Some(3));
            assert_eq!(store.stream_version("s-b").unwrap(), None);
            // The store goes on from there.
            let next = store
                .append(AppendRequest::single(
                    "s-a",
                    ExpectedVersion::Exact(3),
                    events(1),
                ))
                .await
                .unwrap();
            assert_eq!(next.events[0].position, 4);
        }

        #[tokio::test]
        async fn a_lost_chunk_is_rebuilt_from_the_log() {
            let dir = tempfile::tempdir().unwrap();
            let store = build(dir.path()).await;
            let ids: Vec<_> = store
                .read_all(1, 100)
                .unwrap()
                .into_iter()
                .map(|e| e.id)
                .collect();
            store.close().await;
            drop(store);
            {
                assert!(crate::store::sled_store::wait_for_release(
                    dir.path(),
                    std::time::Duration::from_secs(10)
                ));
                // No background flusher: nothing flushes behind the test's back.
                let db = sled::Config::new()
                    .path(dir.path())
                    .segment_size(crate::store::sled_store::SEGMENT_BYTES)
                    .flush_every_ms(None)
                    .open();
                let db = db.unwrap();
                db.remove(keys::index_chunk(1)).unwrap();
                db.flush().unwrap();
            }
            let store = reopen(dir.path());
            let a = store
                .read_stream("s-a", 1, Direction::Forward, 100)
                .unwrap();
            assert_eq!(a.len(), 6);
            assert_eq!(store.read_event(&ids[2]).unwrap().unwrap().position, 3);
            assert_eq!(
                store
                    .read_stream("s-b", u64::MAX, Direction::Backward, 2)
                    .unwrap()
                    .iter()
                    .map(|e| e.stream_version)
                    .collect::<Vec<_>>(),
                [4, 3]
            );
        }
    }
}
