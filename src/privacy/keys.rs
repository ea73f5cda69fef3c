//! The key store: one data key per data subject, apart from the log, and a way to
//! destroy one so that nothing left on disk can bring it back.
//!
//! Three layers:
//! - the **master key** (32 bytes, a file or secret `serve` reads) wraps
//! - the **epoch keys**, kept in `keys/epochs.json`, a small file rewritten whole
//!   (temporary file, fsync, rename, directory fsync) whenever it changes; they wrap
//! - the **data keys**, one per subject, in a sled tree beside the log (`aux/keys`).
//!
//! Why epochs: sled keeps removed and overwritten values in its files until their
//! segments are reused, so deleting a data key's record does not destroy it. Erasing a
//! subject therefore re-wraps every other key of its epoch under a fresh epoch key,
//! makes that durable, and only then drops the old epoch key from `epochs.json`. What
//! sled still holds of the erased key is wrapped under an epoch key that exists nowhere
//! any more: with the master key and every file under the data directory, it cannot be
//! unwrapped. An epoch holds at most [`EPOCH_KEYS_MAX`] keys, which bounds that re-wrap.
//!
//! Durability: a new data key is written to sled before the event it seals is appended,
//! and sled's log is one ordered sequence for every tree, so the flush and fdatasync
//! that make the event durable make its key durable too: no event survives a crash
//! without its key. Erasure and epoch changes flush and fdatasync themselves.
//! A crash in the middle of an erasure leaves either the old epoch (the subject still
//! readable) or none; a rerun finishes it ([`KeyStore::erase`] is idempotent, and
//! opening drops every epoch left without keys).

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use super::sealed::{SecretKey, decrypt, encrypt, random_bytes};
use crate::store::SledStore;

/// Most data keys one epoch wraps (what an erasure re-wraps at most).
pub const EPOCH_KEYS_MAX: u32 = 4_096;
/// Data keys kept unwrapped in memory.
const CACHE_KEYS_MAX: usize = 65_536;
const EPOCHS_FILE: &str = "epochs.json";
const MASTER_CHECK: &[u8] = b"crisisd key store";
const MASTER_CHECK_AAD: &[u8] = b"crisisd-master-check-v1";

/// Why the key store cannot do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(
        "the master key does not open the key store in {dir}: start with the --master-key-file it was created with (a wrong key would read garbage, so crisisd refuses)"
    )]
    WrongMasterKey { dir: PathBuf },
    #[error("{0}")]
    MasterKeyFile(String),
    #[error(
        "the key store in {dir} is damaged: {reason}; restore keys/ from the backup taken with the data directory"
    )]
    Damaged { dir: PathBuf, reason: String },
    #[error("key store storage: {0}")]
    Storage(String),
}

impl From<sled::Error> for KeyError {
    fn from(err: sled::Error) -> Self {
        KeyError::Storage(err.to_string())
    }
}

impl From<std::io::Error> for KeyError {
    fn from(err: std::io::Error) -> Self {
        KeyError::Storage(err.to_string())
    }
}

impl From<crate::store::StoreError> for KeyError {
    fn from(err: crate::store::StoreError) -> Self {
        KeyError::Storage(err.to_string())
    }
}

/// Reads a master key file: 64 hex digits (whitespace around them is ignored).
pub fn read_master_key(path: &Path) -> Result<SecretKey, KeyError> {
    let text = std::fs::read_to_string(path).map_err(|err| {
        KeyError::MasterKeyFile(format!(
            "cannot read the master key file {}: {err}",
            path.display()
        ))
    })?;
    let mut key = [0u8; 32];
    hex::decode_to_slice(text.trim(), &mut key).map_err(|_| {
        KeyError::MasterKeyFile(format!(
            "{} must hold a master key of 64 hex digits (`crisisd keys new-master > FILE` writes one)",
            path.display()
        ))
    })?;
    Ok(SecretKey(key))
}

/// Writes a new random master key to `path` (mode 0600), refusing to overwrite a file.
pub fn create_master_key(path: &Path) -> Result<SecretKey, KeyError> {
    use std::os::unix::fs::OpenOptionsExt;
    let key = SecretKey::random();
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|err| {
            KeyError::MasterKeyFile(format!("cannot create {}: {err}", path.display()))
        })?;
    writeln!(file, "{}", hex::encode(key.0))?;
    file.sync_all()?;
    sync_dir(path.parent().unwrap_or(Path::new(".")))?;
    Ok(key)
}

/// `epochs.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct EpochsFile {
    format: u32,
    /// A known text sealed under the master key: a wrong master key is refused.
    master_check: String,
    current: u32,
    epochs: Vec<EpochEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct EpochEntry {
    id: u32,
    /// The epoch key, sealed under the master key.
    key: String,
}

/// What is in memory under the lock.
struct State {
    master: SecretKey,
    epochs: HashMap<u32, SecretKey>,
    current: u32,
    /// Keys in the current epoch.
    current_keys: u32,
}

/// A subject's data key and its id (`<subject>~<serial>`).
#[derive(Debug, Clone)]
pub struct DataKey {
    pub key_id: String,
    pub key: SecretKey,
}

/// The key store of one data directory.
#[derive(Clone)]
pub struct KeyStore {
    inner: Arc<Inner>,
}

struct Inner {
    dir: PathBuf,
    store: SledStore,
    tree: sled::Tree,
    state: Mutex<State>,
    cache: Mutex<HashMap<String, DataKey>>,
}

fn subject_key(subject: &str) -> Vec<u8> {
    let mut key = vec![b's'];
    key.extend_from_slice(subject.as_bytes());
    key
}

fn epoch_key(epoch: u32, subject: &str) -> Vec<u8> {
    let mut key = vec![b'e'];
    key.extend_from_slice(&epoch.to_be_bytes());
    key.extend_from_slice(subject.as_bytes());
    key
}

fn epoch_prefix(epoch: u32) -> Vec<u8> {
    let mut key = vec![b'e'];
    key.extend_from_slice(&epoch.to_be_bytes());
    key
}

fn epoch_aad(epoch: u32) -> Vec<u8> {
    format!("crisisd-epoch-v1:{epoch}").into_bytes()
}

fn data_key_aad(key_id: &str, epoch: u32) -> Vec<u8> {
    format!("crisisd-data-key-v1:{key_id}:{epoch}").into_bytes()
}

/// A data key record: epoch, serial, wrapped key.
struct Record {
    epoch: u32,
    serial: u32,
    wrapped: Vec<u8>,
}

impl Record {
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + self.wrapped.len());
        out.extend_from_slice(&self.epoch.to_be_bytes());
        out.extend_from_slice(&self.serial.to_be_bytes());
        out.extend_from_slice(&self.wrapped);
        out
    }

    fn decode(bytes: &[u8]) -> Option<Record> {
        if bytes.len() < 8 {
            return None;
        }
        Some(Record {
            epoch: u32::from_be_bytes(bytes[0..4].try_into().ok()?),
            serial: u32::from_be_bytes(bytes[4..8].try_into().ok()?),
            wrapped: bytes[8..].to_vec(),
        })
    }

    fn key_id(&self, subject: &str) -> String {
        format!("{subject}~{:08x}", self.serial)
    }
}

impl KeyStore {
    /// Opens (or creates) the key store of `store`'s data directory under `master`.
    pub fn open(store: &SledStore, master: SecretKey) -> Result<KeyStore, KeyError> {
        let dir = store.path().join("keys");
        std::fs::create_dir_all(&dir)?;
        let tree = store.aux_tree("keys")?;
        let file = match read_epochs(&dir)? {
            Some(file) => {
                let check = STANDARD.decode(&file.master_check).unwrap_or_default();
                if decrypt(&master, &check, MASTER_CHECK_AAD).as_deref() != Some(MASTER_CHECK) {
                    return Err(KeyError::WrongMasterKey { dir });
                }
                file
            }
            None => {
                if tree.iter().next().is_some() {
                    return Err(KeyError::Damaged {
                        dir,
                        reason: format!("{EPOCHS_FILE} is missing but data keys exist"),
                    });
                }
                let file = EpochsFile {
                    format: 1,
                    master_check: STANDARD.encode(encrypt(&master, MASTER_CHECK, MASTER_CHECK_AAD)),
                    current: 1,
                    epochs: vec![new_epoch_entry(&master, 1, &SecretKey::random())],
                };
                write_epochs(&dir, &file)?;
                file
            }
        };
        let mut epochs = HashMap::new();
        for entry in &file.epochs {
            let sealed = STANDARD.decode(&entry.key).unwrap_or_default();
            let key = decrypt(&master, &sealed, &epoch_aad(entry.id)).ok_or_else(|| {
                KeyError::Damaged {
                    dir: dir.clone(),
                    reason: format!("epoch {} does not open under the master key", entry.id),
                }
            })?;
            let key: [u8; 32] = key.try_into().map_err(|_| KeyError::Damaged {
                dir: dir.clone(),
                reason: format!("epoch {} is not a 32-byte key", entry.id),
            })?;
            epochs.insert(entry.id, SecretKey(key));
        }
        if !epochs.contains_key(&file.current) {
            return Err(KeyError::Damaged {
                dir,
                reason: format!("the current epoch {} is not in {EPOCHS_FILE}", file.current),
            });
        }
        let current_keys = tree.scan_prefix(epoch_prefix(file.current)).count() as u32;
        let keys = KeyStore {
            inner: Arc::new(Inner {
                dir,
                store: store.clone(),
                tree,
                state: Mutex::new(State {
                    master,
                    epochs,
                    current: file.current,
                    current_keys,
                }),
                cache: Mutex::new(HashMap::new()),
            }),
        };
        // An erasure that stopped after re-wrapping leaves its old epoch without keys:
        // dropping it finishes the destruction.
        let mut state = keys.lock();
        keys.drop_empty_epochs(&mut state)?;
        drop(state);
        Ok(keys)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The data key of `subject`, created if it has none (and `create`).
    pub fn key_for(&self, subject: &str, create: bool) -> Result<Option<DataKey>, KeyError> {
        if let Some(key) = self.cached(subject) {
            return Ok(Some(key));
        }
        if let Some(key) = self.load(subject)? {
            return Ok(Some(key));
        }
        if !create {
            return Ok(None);
        }
        let mut state = self.lock();
        // Another task may have created it meanwhile.
        if let Some(key) = self.load_locked(subject, &state)? {
            return Ok(Some(key));
        }
        if state.current_keys >= EPOCH_KEYS_MAX {
            self.start_epoch(&mut state)?;
        }
        let key = SecretKey::random();
        let serial = u32::from_be_bytes(random_bytes());
        let epoch = state.current;
        let key_id = format!("{subject}~{serial:08x}");
        let wrapped = encrypt(&state.epochs[&epoch], &key.0, &data_key_aad(&key_id, epoch));
        let record = Record {
            epoch,
            serial,
            wrapped,
        };
        let mut batch = sled::Batch::default();
        batch.insert(subject_key(subject), record.encode());
        batch.insert(epoch_key(epoch, subject), Vec::new());
        self.inner.tree.apply_batch(batch)?;
        state.current_keys += 1;
        let data_key = DataKey { key_id, key };
        self.remember(subject, &data_key);
        Ok(Some(data_key))
    }

    /// The data key named `key_id` (`<subject>~<serial>`), if it still exists.
    pub fn key_by_id(&self, key_id: &str) -> Result<Option<SecretKey>, KeyError> {
        let subject = key_id.split_once('~').map_or(key_id, |(s, _)| s);
        Ok(self
            .key_for(subject, false)?
            .filter(|key| key.key_id == key_id)
            .map(|key| key.key))
    }

    fn cached(&self, subject: &str) -> Option<DataKey> {
        let cache = self.inner.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache.get(subject).cloned()
    }

    fn remember(&self, subject: &str, key: &DataKey) {
        let mut cache = self.inner.cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= CACHE_KEYS_MAX {
            cache.clear();
        }
        cache.insert(subject.to_owned(), key.clone());
    }

    fn forget(&self, subject: &str) {
        let mut cache = self.inner.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache.remove(subject);
    }

    /// Reads and unwraps `subject`'s key from sled.
    fn load(&self, subject: &str) -> Result<Option<DataKey>, KeyError> {
        let state = self.lock();
        self.load_locked(subject, &state)
    }

    fn load_locked(&self, subject: &str, state: &State) -> Result<Option<DataKey>, KeyError> {
        let Some(bytes) = self.inner.tree.get(subject_key(subject))? else {
            return Ok(None);
        };
        let record =
            Record::decode(&bytes).ok_or_else(|| self.damaged("a data key record is short"))?;
        let key_id = record.key_id(subject);
        let epoch_key = state.epochs.get(&record.epoch).cloned();
        // An epoch that is gone means the key was destroyed (an erasure under way).
        let Some(epoch_key) = epoch_key else {
            return Ok(None);
        };
        let key = decrypt(
            &epoch_key,
            &record.wrapped,
            &data_key_aad(&key_id, record.epoch),
        )
        .and_then(|k| <[u8; 32]>::try_from(k).ok())
        .ok_or_else(|| self.damaged("a data key does not open under its epoch key"))?;
        let data_key = DataKey {
            key_id,
            key: SecretKey(key),
        };
        self.remember(subject, &data_key);
        Ok(Some(data_key))
    }

    fn damaged(&self, reason: &str) -> KeyError {
        KeyError::Damaged {
            dir: self.inner.dir.clone(),
            reason: reason.to_owned(),
        }
    }

    /// Destroys `subject`'s data key for good (see the module docs); true if there was
    /// one. Idempotent; returns once nothing on disk can bring the key back.
    pub fn erase(&self, subject: &str) -> Result<bool, KeyError> {
        let mut state = self.lock();
        self.forget(subject);
        let Some(bytes) = self.inner.tree.get(subject_key(subject))? else {
            self.drop_empty_epochs(&mut state)?;
            return Ok(false);
        };
        let record =
            Record::decode(&bytes).ok_or_else(|| self.damaged("a data key record is short"))?;
        let old = record.epoch;
        // 1. A fresh epoch to carry the other keys of the old one.
        let fresh = next_epoch_id(&state);
        let fresh_key = SecretKey::random();
        state.epochs.insert(fresh, fresh_key.clone());
        let was_current = state.current == old;
        if was_current {
            state.current = fresh;
        }
        self.save_epochs(&state)?;
        // 2. Re-wrap them, drop the subject, make it durable.
        let mut batch = sled::Batch::default();
        let mut moved = 0u32;
        if let Some(old_key) = state.epochs.get(&old).cloned() {
            for entry in self.inner.tree.scan_prefix(epoch_prefix(old)) {
                let (index_key, _) = entry?;
                let other = String::from_utf8_lossy(&index_key[5..]).into_owned();
                batch.remove(index_key.to_vec());
                if other == subject {
                    continue;
                }
                let Some(bytes) = self.inner.tree.get(subject_key(&other))? else {
                    continue;
                };
                let rec = Record::decode(&bytes)
                    .ok_or_else(|| self.damaged("a data key record is short"))?;
                let key_id = rec.key_id(&other);
                let key = decrypt(&old_key, &rec.wrapped, &data_key_aad(&key_id, old))
                    .ok_or_else(|| self.damaged("a data key does not open under its epoch key"))?;
                let rewrapped = Record {
                    epoch: fresh,
                    serial: rec.serial,
                    wrapped: encrypt(&fresh_key, &key, &data_key_aad(&key_id, fresh)),
                };
                batch.insert(subject_key(&other), rewrapped.encode());
                batch.insert(epoch_key(fresh, &other), Vec::new());
                moved += 1;
            }
        }
        batch.remove(subject_key(subject));
        self.inner.tree.apply_batch(batch)?;
        self.inner.store.flush_models()?;
        if was_current {
            state.current_keys = moved;
        }
        // 3. Only now the old epoch key goes: what sled keeps of the erased key is
        //    wrapped under a key that no longer exists.
        state.epochs.remove(&old);
        self.save_epochs(&state)?;
        self.drop_empty_epochs(&mut state)?;
        Ok(true)
    }

    /// Re-wraps every epoch key under `new_master` (no data key and no event is
    /// rewritten); from then on only `new_master` opens the store.
    pub fn rotate(&self, new_master: SecretKey) -> Result<(), KeyError> {
        let mut state = self.lock();
        // Data keys created before this are durable with their events already; make
        // sure nothing in sled refers to an epoch the new file could lack.
        self.inner.store.flush_models()?;
        state.master = new_master;
        self.save_epochs(&state)
    }

    /// Starts a new current epoch (the current one is full).
    fn start_epoch(&self, state: &mut State) -> Result<(), KeyError> {
        let id = next_epoch_id(state);
        state.epochs.insert(id, SecretKey::random());
        state.current = id;
        state.current_keys = 0;
        self.save_epochs(state)
    }

    /// Drops epochs (other than the current one) that wrap no key.
    fn drop_empty_epochs(&self, state: &mut State) -> Result<(), KeyError> {
        let empty: Vec<u32> = state
            .epochs
            .keys()
            .copied()
            .filter(|id| *id != state.current)
            .filter(|id| {
                self.inner
                    .tree
                    .scan_prefix(epoch_prefix(*id))
                    .next()
                    .is_none()
            })
            .collect();
        if empty.is_empty() {
            return Ok(());
        }
        for id in empty {
            state.epochs.remove(&id);
        }
        self.save_epochs(state)
    }

    fn save_epochs(&self, state: &State) -> Result<(), KeyError> {
        let mut ids: Vec<u32> = state.epochs.keys().copied().collect();
        ids.sort_unstable();
        let file = EpochsFile {
            format: 1,
            master_check: STANDARD.encode(encrypt(&state.master, MASTER_CHECK, MASTER_CHECK_AAD)),
            current: state.current,
            epochs: ids
                .into_iter()
                .map(|id| new_epoch_entry(&state.master, id, &state.epochs[&id]))
                .collect(),
        };
        write_epochs(&self.inner.dir, &file)
    }

    /// Epoch ids in the file (for tests and `keys` commands).
    pub fn epoch_ids(&self) -> Vec<u32> {
        let state = self.lock();
        let mut ids: Vec<u32> = state.epochs.keys().copied().collect();
        ids.sort_unstable();
        ids
    }
}

fn next_epoch_id(state: &State) -> u32 {
    state.epochs.keys().copied().max().unwrap_or(0) + 1
}

fn new_epoch_entry(master: &SecretKey, id: u32, key: &SecretKey) -> EpochEntry {
    EpochEntry {
        id,
        key: STANDARD.encode(encrypt(master, &key.0, &epoch_aad(id))),
    }
}

fn read_epochs(dir: &Path) -> Result<Option<EpochsFile>, KeyError> {
    let path = dir.join(EPOCHS_FILE);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|err| KeyError::Damaged {
                dir: dir.to_owned(),
                reason: format!("{EPOCHS_FILE} cannot be read: {err}"),
            }),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(err.into()),
    }
}

/// Replaces `epochs.json` atomically and durably.
fn write_epochs(dir: &Path, file: &EpochsFile) -> Result<(), KeyError> {
    use std::os::unix::fs::OpenOptionsExt;
    let path = dir.join(EPOCHS_FILE);
    let partial = dir.join(format!("{EPOCHS_FILE}.partial"));
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&partial)?;
    out.write_all(&serde_json::to_vec_pretty(file).expect("the epochs file serializes"))?;
    out.sync_all()?;
    std::fs::rename(&partial, &path)?;
    sync_dir(dir)?;
    Ok(())
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreConfig;

    fn store() -> (tempfile::TempDir, SledStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(StoreConfig::new(dir.path())).unwrap();
        (dir, store)
    }

    #[test]
    fn a_subject_keeps_its_key_across_reopening_and_a_wrong_master_is_refused() {
        let (_dir, store) = store();
        let master = SecretKey::random();
        let keys = KeyStore::open(&store, master.clone()).unwrap();
        assert!(keys.key_for("p.FF1", false).unwrap().is_none());
        let first = keys.key_for("p.FF1", true).unwrap().unwrap();
        assert!(first.key_id.starts_with("p.FF1~"));
        drop(keys);
        let keys = KeyStore::open(&store, master).unwrap();
        let again = keys.key_for("p.FF1", false).unwrap().unwrap();
        assert_eq!((again.key_id, again.key), (first.key_id.clone(), first.key));
        drop(keys);
        let err = KeyStore::open(&store, SecretKey::random()).err().unwrap();
        assert!(matches!(err, KeyError::WrongMasterKey { .. }), "{err}");
        assert!(err.to_string().contains("--master-key-file"), "{err}");
    }

    /// After an erasure, nothing left on disk opens the erased key, even with the master
    /// key: what sled still holds of it is wrapped under an epoch key that is gone. The
    /// other subjects of its epoch keep their keys.
    #[test]
    fn an_erased_key_cannot_be_recovered_from_disk_and_the_others_survive() {
        let (dir, store) = store();
        let master = SecretKey::random();
        let keys = KeyStore::open(&store, master.clone()).unwrap();
        let erased = keys.key_for("p.ERASE", true).unwrap().unwrap();
        let kept = keys.key_for("p.KEEP", true).unwrap().unwrap();
        store.flush_models().unwrap();
        // What an attacker could keep from before: the wrapped record and the epoch.
        let record_before = keys
            .inner
            .tree
            .get(subject_key("p.ERASE"))
            .unwrap()
            .unwrap();
        let epochs_before = keys.epoch_ids();
        assert!(keys.erase("p.ERASE").unwrap());
        assert!(!keys.erase("p.ERASE").unwrap(), "idempotent");
        assert!(keys.key_for("p.ERASE", false).unwrap().is_none());
        assert_eq!(
            keys.key_by_id(&kept.key_id).unwrap(),
            Some(kept.key.clone())
        );
        assert!(keys.key_by_id(&erased.key_id).unwrap().is_none());
        // The epoch that wrapped the erased key is gone from the file...
        let epochs_after = keys.epoch_ids();
        assert!(
            epochs_before.iter().all(|e| !epochs_after.contains(e)),
            "{epochs_before:?} {epochs_after:?}"
        );
        drop(keys);
        // ...so even the old record, unwrapped with every epoch key the master key
        // opens from the files left on disk, does not give the key.
        let file = read_epochs(&dir.path().join("keys")).unwrap().unwrap();
        let record = Record::decode(&record_before).unwrap();
        let key_id = record.key_id("p.ERASE");
        for entry in &file.epochs {
            let epoch_key = decrypt(
                &master,
                &STANDARD.decode(&entry.key).unwrap(),
                &epoch_aad(entry.id),
            )
            .unwrap();
            let epoch_key = SecretKey(epoch_key.try_into().unwrap());
            for epoch in [record.epoch, entry.id] {
                assert!(
                    decrypt(&epoch_key, &record.wrapped, &data_key_aad(&key_id, epoch)).is_none()
                );
            }
        }
        let keys = KeyStore::open(&store, master).unwrap();
        assert_eq!(keys.key_by_id(&kept.key_id).unwrap(), Some(kept.key));
        assert!(keys.key_for("p.ERASE", false).unwrap().is_none());
        // A new key for the same subject is another key, with another id.
        let new = keys.key_for("p.ERASE", true).unwrap().unwrap();
        assert_ne!(new.key_id, erased.key_id);
    }

    #[test]
    fn rotation_rewraps_under_the_new_master_and_only_it_opens_the_store() {
        let (_dir, store) = store();
        let old = SecretKey::random();
        let keys = KeyStore::open(&store, old.clone()).unwrap();
        let key = keys.key_for("s.1", true).unwrap().unwrap();
        let new = SecretKey::random();
        keys.rotate(new.clone()).unwrap();
        let after = keys.key_for("s.2", true).unwrap().unwrap();
        store.flush_models().unwrap();
        drop(keys);
        assert!(matches!(
            KeyStore::open(&store, old),
            Err(KeyError::WrongMasterKey { .. })
        ));
        let keys = KeyStore::open(&store, new).unwrap();
        assert_eq!(keys.key_by_id(&key.key_id).unwrap(), Some(key.key));
        assert_eq!(keys.key_by_id(&after.key_id).unwrap(), Some(after.key));
    }

    #[test]
    fn a_full_epoch_starts_another_and_an_erasure_rewraps_only_its_own() {
        let (_dir, store) = store();
        let keys = KeyStore::open(&store, SecretKey::random()).unwrap();
        keys.lock().current_keys = EPOCH_KEYS_MAX - 1;
        let a = keys.key_for("p.A", true).unwrap().unwrap();
        let b = keys.key_for("p.B", true).unwrap().unwrap();
        assert_eq!(keys.epoch_ids(), vec![1, 2]);
        assert!(keys.erase("p.A").unwrap());
        assert_eq!(
            keys.epoch_ids(),
            vec![2],
            "epoch 1 held only A: dropped, nothing re-wrapped"
        );
        assert_eq!(keys.key_by_id(&b.key_id).unwrap(), Some(b.key));
        assert!(keys.key_by_id(&a.key_id).unwrap().is_none());
    }
}
