//! Offline import of exported NDJSON envelopes (`crisisd export` output) into a store,
//! keeping every position, timestamp and hash.
//!
//! Two passes over the file. The first verifies everything and writes nothing: each
//! line is an envelope; its hash is `blake3(prev_hash ‖ JCS(envelope without the
//! hashes))`; its `prev_hash` is the previous record's hash (the first one links to the
//! store's head, so an export can extend the store it came from or fill an empty one);
//! positions follow the head without a gap; stream versions follow each stream's;
//! event ids are new; `recorded_at` never goes back. Only a file that passes all of it
//! is written, in atomic batches that each carry the head, then made durable with one
//! flush and fdatasync. A crash during the second pass leaves a verified prefix, and the
//! import can be rerun with the rest (`export --from <head + 1>`).

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::codec::{self, HashBytes, RawRecord};
use super::index::{self, Index};
use super::keys;
use super::log;
use super::sled_store::{check_tail, open_tree};
use super::types::Head;
use super::{StoreConfig, StoreError};

/// Records written per atomic sled batch.
const IMPORT_BATCH_RECORDS: usize = 1_000;

/// Why an import was refused: the line and what is wrong with it.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("line {line}: {reason}; nothing was imported")]
    Invalid { line: u64, reason: String },
    #[error("cannot read {0}")]
    Read(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ImportReport {
    pub imported: u64,
    pub first_position: u64,
    pub head: u64,
    pub head_hash: HashBytes,
}

/// One verified line, ready to store.
struct Checked {
    position: u64,
    id: Uuid,
    stream: String,
    stream_version: u64,
    record: Vec<u8>,
    hash: HashBytes,
}

/// Verification state carried from line to line.
struct Chain<'a> {
    index: &'a Index,
    head: Head,
    recorded_at: Option<DateTime<Utc>>,
    versions: HashMap<String, u64>,
    ids: HashSet<Uuid>,
}

impl Chain<'_> {
    fn check(&mut self, line: &str) -> Result<Checked, String> {
        let mut envelope: serde_json::Value =
            serde_json::from_str(line).map_err(|err| format!("not a JSON envelope: {err}"))?;
        let fields = envelope.as_object_mut().ok_or("not a JSON object")?;
        let hash = take_hash(fields, "hash")?;
        let prev_hash = take_hash(fields, "prev_hash")?;
        let canonical = serde_json_canonicalizer::to_vec(&envelope)
            .map_err(|err| format!("cannot canonicalize: {err}"))?;
        if codec::chain_hash(&prev_hash, &canonical) != hash {
            return Err("its hash does not match its content: the line was edited".into());
        }
        let record = codec::encode_record(&prev_hash, &hash, &canonical);
        let event = RawRecord::decode(&record)
            .ok_or("not a record")?
            .parse()
            .map_err(|err| format!("not an envelope of this store format: {err}"))?;
        let expected = self.head.position + 1;
        if event.position != expected {
            return Err(format!(
                "position {} where {expected} is next (the store's head is {}; export from position {expected})",
                event.position, self.head.position
            ));
        }
        if prev_hash != self.head.hash {
            return Err(format!(
                "prev_hash {prev_hash} does not link to {} at position {}: lines are missing, reordered or from another store",
                self.head.hash, self.head.position
            ));
        }
        if self.recorded_at.is_some_and(|t| event.recorded_at < t) {
            return Err("recorded_at goes back in time".into());
        }
        let stored_version = match self.versions.get(&event.stream) {
            Some(v) => *v,
            None => self.index.version(&event.stream).unwrap_or(0),
        };
        if event.stream_version != stored_version + 1 {
            return Err(format!(
                "{} version {} where {} is next",
                event.stream,
                event.stream_version,
                stored_version + 1
            ));
        }
        let known = self.ids.contains(&event.id) || self.index.position_of(&event.id).is_some();
        if known {
            return Err(format!("event id {} is already stored", event.id));
        }
        self.ids.insert(event.id);
        self.versions
            .insert(event.stream.clone(), event.stream_version);
        self.recorded_at = Some(event.recorded_at);
        self.head = Head {
            position: event.position,
            hash,
        };
        Ok(Checked {
            position: event.position,
            id: event.id,
            stream: event.stream,
            stream_version: event.stream_version,
            record,
            hash,
        })
    }
}

fn take_hash(
    fields: &mut serde_json::Map<String, serde_json::Value>,
    name: &str,
) -> Result<HashBytes, String> {
    let value = fields.remove(name).ok_or(format!("no {name}"))?;
    let text = value.as_str().ok_or(format!("{name} is not a string"))?;
    HashBytes::from_hex(text).map_err(|err| format!("{name}: {err}"))
}

/// Verifies `file` against the store at `config`, then imports it; `progress(done,
/// pass)` is called every 10,000 lines (pass 1 verifies, pass 2 writes).
pub fn import(
    config: &StoreConfig,
    file: &Path,
    mut progress: impl FnMut(u64, u8),
) -> Result<ImportReport, ImportError> {
    let (db, tree, head) = open_tree(config)?;
    check_tail(&tree, &head).map_err(|damage| {
        StoreError::Damaged(format!(
            "the store is damaged ({damage}); run `crisisd verify` before importing into it"
        ))
    })?;
    let lines = || -> Result<_, ImportError> {
        let reader = File::open(file)
            .map_err(|err| ImportError::Read(format!("{}: {err}", file.display())))?;
        Ok(BufReader::with_capacity(1 << 20, reader).lines())
    };
    let index = Index::load(&tree, head.position)?;
    let recorded_at = last_recorded_at(&tree, &head);
    let chain = |index| Chain {
        index,
        head,
        recorded_at,
        versions: HashMap::new(),
        ids: HashSet::new(),
    };
    // Pass 1: verify everything, write nothing.
    let mut verifying = chain(&index);
    let mut count = 0u64;
    for (n, line) in lines()?.enumerate() {
        let line = line.map_err(|err| ImportError::Read(format!("{}: {err}", file.display())))?;
        if line.trim().is_empty() {
            continue;
        }
        verifying
            .check(&line)
            .map_err(|reason| ImportError::Invalid {
                line: n as u64 + 1,
                reason,
            })?;
        count += 1;
        if count.is_multiple_of(10_000) {
            progress(count, 1);
        }
    }
    // Pass 2: the same checks again (cheap) while writing, batch by batch.
    let mut writing = chain(&index);
    let mut appender = log::Appender::after(&tree, head.position).map_err(StoreError::from)?;
    let mut batch = sled::Batch::default();
    let mut entries = Vec::new();
    let mut in_batch = 0;
    let mut written = 0u64;
    for (n, line) in lines()?.enumerate() {
        let line = line.map_err(|err| ImportError::Read(format!("{}: {err}", file.display())))?;
        if line.trim().is_empty() {
            continue;
        }
        let checked = writing
            .check(&line)
            .map_err(|reason| ImportError::Invalid {
                line: n as u64 + 1,
                reason: format!("{reason} (the file changed during the import)"),
            })?;
        appender.push(&checked.record, &mut batch);
        entries.push(index::Entry {
            id: checked.id,
            stream: checked.stream,
            version: checked.stream_version,
        });
        in_batch += 1;
        written += 1;
        if in_batch == IMPORT_BATCH_RECORDS {
            let first = checked.position + 1 - in_batch as u64;
            appender.finish(&mut batch);
            batch.insert(&keys::index_chunk(first), index::encode_chunk(&entries));
            batch.insert(keys::HEAD, head_value(checked.position, &checked.hash));
            tree.apply_batch(std::mem::take(&mut batch))
                .map_err(StoreError::from)?;
            entries.clear();
            in_batch = 0;
        }
        if written.is_multiple_of(10_000) {
            progress(written, 2);
        }
    }
    if in_batch > 0 {
        let first = writing.head.position + 1 - in_batch as u64;
        appender.finish(&mut batch);
        batch.insert(&keys::index_chunk(first), index::encode_chunk(&entries));
        batch.insert(
            keys::HEAD,
            head_value(writing.head.position, &writing.head.hash),
        );
        tree.apply_batch(batch).map_err(StoreError::from)?;
    }
    db.flush().map_err(StoreError::from)?;
    File::open(config.path.join("db"))
        .and_then(|f| f.sync_data())
        .map_err(|err| StoreError::Storage(format!("fdatasync after import: {err}")))?;
    Ok(ImportReport {
        imported: written,
        first_position: head.position + 1,
        head: writing.head.position,
        head_hash: writing.head.hash,
    })
}

fn head_value(position: u64, hash: &HashBytes) -> Vec<u8> {
    let mut value = position.to_be_bytes().to_vec();
    value.extend_from_slice(&hash.0);
    value
}

fn last_recorded_at(tree: &sled::Tree, head: &Head) -> Option<DateTime<Utc>> {
    let bytes = log::get(tree, head.position).ok()??;
    RawRecord::decode(&bytes)?
        .parse()
        .ok()
        .map(|e| e.recorded_at)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::store::{Actor, AppendRequest, Direction, ExpectedVersion, NewEvent, SledStore};

    fn event(n: u64) -> NewEvent {
        NewEvent::new(
            "test.happened",
            json!({"n": n, "text": "ünïcode ✓"}),
            Actor {
                id: "tester".into(),
                role: "admin".into(),
            },
            Utc::now(),
        )
    }

    async fn store_with(dir: &Path, events: u64) -> SledStore {
        let store = SledStore::open(StoreConfig::new(dir)).unwrap();
        for n in 0..events {
            let request =
                AppendRequest::single(format!("s-{}", n % 3), ExpectedVersion::Any, vec![event(n)]);
            store.append(request).await.unwrap();
        }
        store
    }

    fn export(store: &SledStore, from: u64, to: u64) -> Vec<String> {
        store
            .raw_range(from, to)
            .map(|entry| {
                let (_, bytes) = entry.unwrap();
                String::from_utf8(RawRecord::decode(&bytes).unwrap().envelope_json()).unwrap()
            })
            .collect()
    }

    /// sled's IO threads hold the directory lock a moment after a handle (the previous
    /// import's, the source store's) is dropped; a new process would not have to wait.
    fn released(config: &StoreConfig) -> &StoreConfig {
        assert!(crate::store::sled_store::wait_for_release(
            &config.path,
            std::time::Duration::from_secs(10)
        ));
        config
    }

    fn open_when_released(config: StoreConfig) -> SledStore {
        SledStore::open(released(&config).clone()).unwrap()
    }

    fn write(dir: &Path, lines: &[String]) -> std::path::PathBuf {
        let path = dir.join("export.ndjson");
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        path
    }

    #[tokio::test]
    async fn an_export_imports_byte_for_byte_and_the_store_goes_on_from_it() {
        let dir = tempfile::tempdir().unwrap();
        let source = store_with(&dir.path().join("a"), 25).await;
        let lines = export(&source, 1, u64::MAX);
        let file = write(dir.path(), &lines);
        let target_config = StoreConfig::new(dir.path().join("b"));
        // In two parts: an export extends the store it continues.
        let first = write(dir.path(), &lines[..10]);
        let report = import(released(&target_config), &first, |_, _| {}).unwrap();
        assert_eq!((report.imported, report.head), (10, 10));
        std::fs::write(&file, lines[10..].join("\n")).unwrap();
        let report = import(released(&target_config), &file, |_, _| {}).unwrap();
        assert_eq!((report.first_position, report.head), (11, 25));
        let target = open_when_released(target_config);
        assert_eq!(
            export(&target, 1, u64::MAX),
            lines,
            "identical envelopes, hashes included"
        );
        assert!(target.verify(1, u64::MAX).unwrap().is_ok());
        let stream = target
            .read_stream("s-1", 1, Direction::Forward, 100)
            .unwrap();
        assert_eq!(stream.len(), 8);
        let original = source.read_all(7, 1).unwrap().remove(0);
        assert_eq!(target.read_event(&original.id).unwrap().unwrap(), original);
        // The imported store appends on top, and a duplicate id is still a duplicate.
        let again = AppendRequest::single(
            original.stream.clone(),
            ExpectedVersion::Any,
            vec![NewEvent {
                id: original.id,
                ..event(7)
            }],
        );
        assert!(target.append(again).await.unwrap().duplicate);
        let next = AppendRequest::single("s-1", ExpectedVersion::Exact(8), vec![event(99)]);
        assert_eq!(target.append(next).await.unwrap().events[0].position, 26);
    }

    #[tokio::test]
    async fn a_damaged_export_is_refused_at_its_line_and_nothing_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let source = store_with(&dir.path().join("a"), 12).await;
        let lines = export(&source, 1, u64::MAX);
        let config = StoreConfig::new(dir.path().join("b"));
        let edited = {
            let mut l = lines.clone();
            l[5] = l[5].replace("\"n\":5", "\"n\":6");
            l
        };
        let missing = {
            let mut l = lines.clone();
            l.remove(7);
            l
        };
        let swapped = {
            let mut l = lines.clone();
            l.swap(3, 4);
            l
        };
        let not_json = {
            let mut l = lines.clone();
            l[9] = "{oops".into();
            l
        };
        for (what, bad, line, words) in [
            ("edited", edited, 6, "edited"),
            ("missing", missing, 8, "position 9 where 8"),
            ("swapped", swapped, 4, "position 5 where 4"),
            ("not json", not_json, 10, "not a JSON envelope"),
        ] {
            let file = write(dir.path(), &bad);
            match import(released(&config), &file, |_, _| {}) {
                Err(ImportError::Invalid { line: l, reason }) => {
                    assert_eq!(l, line, "{what}: {reason}");
                    assert!(reason.contains(words), "{what}: {reason}");
                }
                other => panic!("{what}: {other:?}"),
            }
        }
        let target = open_when_released(config.clone());
        assert_eq!(target.head().position, 0, "nothing was written");
        target.close().await;
        drop(target);
        // The good file imports; importing it again is refused whole.
        let file = write(dir.path(), &lines);
        let imported = import(released(&config), &file, |_, _| {});
        assert_eq!(imported.unwrap().imported, 12);
        let again = import(released(&config), &file, |_, _| {})
            .unwrap_err()
            .to_string();
        assert!(
            again.contains("line 1") && again.contains("position 1 where 13"),
            "{again}"
        );
    }
}
