//! The key store: one data key per data subject, apart from the events, and a way to
//! destroy one so that nothing left on disk can bring it back.
//!
//! Three layers:
//! - the **master key** (32 bytes, a file or secret `serve` reads) wraps
//! - the **epoch keys**, kept in `keys/epochs.json`, a small file rewritten whole
//!   (temporary file, fsync, rename, directory fsync) whenever it changes; they wrap
//! - the **data keys**, one per subject, written as side records of the store's own
//!   batches ([`crate::store::AppendRequest::side`]): a new key travels with the first
//!   event it seals, in the same atomic, fsynced batch, so a key is durable exactly
//!   when that event is — no extra write, no extra fsync — and an event never outlives
//!   its key. They are read back into memory when the store opens (about 100 bytes per
//!   subject).
//!
//! Why epochs: side records, like everything sled stores, are never truly overwritten,
//! so deleting a data key does not destroy it. Erasing a subject therefore moves every
//! other key of its epoch to a fresh epoch (a side record re-wraps them, durably), and
//! only then drops the old epoch key from `epochs.json`. What the store still holds of
//! the erased key is wrapped under an epoch key that exists nowhere any more: with the
//! master key and every file under the data directory, it cannot be unwrapped. An
//! epoch wraps at most [`EPOCH_KEYS_MAX`] keys, which bounds that re-wrap.
//!
//! Keys handed out but not yet written are leased ([`KeyGrant`]); an erasure waits for
//! the leases of the epoch it destroys, and from its start a key of that epoch not yet
//! written is moved to the current epoch before it is handed out again, so no record of
//! the destroyed epoch is written after it (the erased subject's own key excepted: what
//! it seals is erased with it).
//! Granting takes one lock, briefly; marking keys written and releasing leases take
//! none (atomic flags and counters), so appenders on many threads do not queue up on
//! the key store.
//! A crash in the middle of an erasure leaves either the old epoch (the subject still
//! readable; the erasure's event makes the next start finish it) or none.
//!
//! A full epoch hands over to a **spare** one that `epochs.json` already holds, so
//! granting keys never waits for the disk: the next spare is written by a thread of its
//! own while keys go on being created. A key is only ever created in an epoch that is
//! durable in `epochs.json` (a spare not yet written is written first, on the granting
//! path, as every new epoch was before spares).

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use super::sealed::{SecretKey, decrypt, encrypt, random_bytes};
use crate::store::{AppendRequest, SledStore};

/// Most data keys one epoch wraps (what an erasure re-wraps at most).
pub const EPOCH_KEYS_MAX: u32 = 4_096;
/// Longest an erasure waits for another node of a cluster to hold its fresh epoch.
const SHARE_PATIENCE: Duration = Duration::from_secs(10);
/// Data keys kept unwrapped in memory.
const CACHE_KEYS_MAX: usize = 65_536;
const EPOCHS_FILE: &str = "epochs.json";
const MASTER_CHECK: &[u8] = b"crisisd key store";
const MASTER_CHECK_AAD: &[u8] = b"crisisd-master-check-v1";
/// Format byte of a side record of the key store.
const SIDE_FORMAT: u8 = 1;

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
    /// What was to carry an erasure's side record was refused; nothing was destroyed.
    #[error("{0}")]
    Refused(String),
    /// A data key is wrapped under an epoch this node has not received (yet).
    #[error(
        "this node does not hold epoch {epoch} of the key store yet: it is fetched from the cluster's other nodes; retry in a moment"
    )]
    EpochNotHeld { epoch: u32 },
    /// In a cluster, an epoch takes keys only once another node holds it.
    #[error(
        "no other node of the cluster has confirmed holding epoch {epoch} of the key store, so it cannot take keys yet (a machine's loss would lose them): check that the other crisisd nodes run, reach NATS and use the same master key; retry in a moment"
    )]
    NotShared { epoch: u32 },
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
    /// The epoch the current one hands over to when it is full. The file may still name
    /// the epoch before as current when the spare already holds keys (the handover is
    /// written afterwards): opening the store then takes the spare as current.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    spare: Option<u32>,
    epochs: Vec<EpochEntry>,
    /// Epochs destroyed here: what they wrapped reads as erased. Missing in files of
    /// crisisd before clusters shared keys, where every epoch not in the file was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    retired: Option<Vec<u32>>,
    /// The epoch an erasure is destroying: if it wraps no key any more when the store
    /// opens (the process died after the re-wrap), opening finishes the destruction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    retiring: Option<u32>,
}

/// An epoch key sealed under the master key: as `epochs.json` holds it, and as it
/// travels between the nodes of a cluster.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct EpochEntry {
    pub id: u32,
    /// The epoch key, sealed under the master key.
    pub key: String,
}

/// A data key as stored: its epoch, serial and wrapped bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Record {
    epoch: u32,
    serial: u32,
    wrapped: Vec<u8>,
}

impl Record {
    fn key_id(&self, subject: &str) -> String {
        format!("{subject}~{:08x}", self.serial)
    }
}

/// One entry of a side record.
enum Entry {
    Key(String, Record),
    Tombstone(String),
}

fn encode_entries(entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::new();
    for entry in entries {
        match entry {
            Entry::Key(subject, record) => push_entry(&mut out, subject, Some(record)),
            Entry::Tombstone(subject) => push_entry(&mut out, subject, None),
        }
    }
    out
}

/// Appends one entry (a key, or with `None` a tombstone) to the side record `out`,
/// starting it if it is empty.
fn push_entry(out: &mut Vec<u8>, subject: &str, record: Option<&Record>) {
    let wrapped = record.map_or(0, |r| 10 + r.wrapped.len());
    out.reserve(1 + 3 + subject.len() + wrapped);
    if out.is_empty() {
        out.push(SIDE_FORMAT);
    }
    out.push(if record.is_some() { 1 } else { 2 });
    out.extend_from_slice(&(subject.len() as u16).to_be_bytes());
    out.extend_from_slice(subject.as_bytes());
    if let Some(record) = record {
        out.extend_from_slice(&record.epoch.to_be_bytes());
        out.extend_from_slice(&record.serial.to_be_bytes());
        out.extend_from_slice(&(record.wrapped.len() as u16).to_be_bytes());
        out.extend_from_slice(&record.wrapped);
    }
}

/// One side record holding the entries of two (either may be empty).
pub fn join_sides(first: &[u8], second: &[u8]) -> Vec<u8> {
    match (first.is_empty(), second.split_first()) {
        (_, None) => first.to_vec(),
        (true, Some(_)) => second.to_vec(),
        (false, Some((_, entries))) => [first, entries].concat(),
    }
}

fn decode_entries(bytes: &[u8]) -> Option<Vec<Entry>> {
    let (&format, mut rest) = bytes.split_first()?;
    if format != SIDE_FORMAT {
        return None;
    }
    let mut take = |n: usize| -> Option<&[u8]> {
        let (head, tail) = rest.split_at_checked(n)?;
        rest = tail;
        Some(head)
    };
    let mut entries = Vec::new();
    while let Some(kind) = take(1) {
        let len = u16::from_be_bytes(take(2)?.try_into().ok()?) as usize;
        let subject = String::from_utf8(take(len)?.to_vec()).ok()?;
        match kind[0] {
            1 => {
                let epoch = u32::from_be_bytes(take(4)?.try_into().ok()?);
                let serial = u32::from_be_bytes(take(4)?.try_into().ok()?);
                let len = u16::from_be_bytes(take(2)?.try_into().ok()?) as usize;
                let wrapped = take(len)?.to_vec();
                entries.push(Entry::Key(
                    subject,
                    Record {
                        epoch,
                        serial,
                        wrapped,
                    },
                ));
            }
            2 => entries.push(Entry::Tombstone(subject)),
            _ => return None,
        }
    }
    Some(entries)
}

fn epoch_aad(epoch: u32) -> Vec<u8> {
    format!("crisisd-epoch-v1:{epoch}").into_bytes()
}

fn data_key_aad(key_id: &str, epoch: u32) -> Vec<u8> {
    format!("crisisd-data-key-v1:{key_id}:{epoch}").into_bytes()
}

/// What the key store knows of a data key, by its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    Held(SecretKey),
    /// Destroyed by an erasure.
    Erased,
    /// Never held by this store.
    Unknown,
}

#[cfg(test)]
impl Lookup {
    /// The key, if held.
    pub fn held(self) -> Option<SecretKey> {
        match self {
            Lookup::Held(key) => Some(key),
            Lookup::Erased | Lookup::Unknown => None,
        }
    }
}

/// A subject's data key and its id (`<subject>~<serial>`), cheap to clone: every grant
/// and read of a key clones it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataKey {
    pub key_id: Arc<str>,
    pub key: SecretKey,
}

/// What the lock guards.
struct State {
    master: SecretKey,
    epochs: HashMap<u32, SecretKey>,
    current: u32,
    /// Keys in the current epoch.
    current_keys: u32,
    /// The next current epoch, and the generation that added it.
    spare: Option<(u32, u64)>,
    /// Counts changes to what `epochs.json` holds; `durable` is the last one written.
    generation: u64,
    durable: u64,
    /// Every data key by subject: durable, or handed out and not yet written.
    keys: HashMap<Arc<str>, Arc<Slot>>,
    /// Unwrapped keys, with the serial of the record they came from.
    cache: HashMap<Arc<str>, (u32, DataKey)>,
    /// The ids (`<subject>~<serial>`) of the data keys erased here: what they sealed
    /// reads as erased, where a key this store never held reads as unavailable.
    erased: HashSet<String>,
    /// Outstanding grants per epoch (a grant holds the counters it raised).
    leases: HashMap<u32, Arc<AtomicUsize>>,
    /// The epoch an erasure is destroying, and the subject erased: a key of that epoch
    /// not yet written is moved to the current epoch before a grant carries it, so no
    /// record of the old epoch reaches the disk after the erasure stopped waiting.
    retiring: Option<(u32, Arc<str>)>,
    /// Epochs destroyed here (kept in `epochs.json`).
    retired: HashSet<u32>,
    /// In a cluster ([`KeyStore::require_sharing`]): the epochs another node is known to
    /// hold. Only those take keys.
    shared: Option<HashSet<u32>>,
    /// Epochs that wrap keys known here but are neither held nor destroyed here.
    missing: HashSet<u32>,
}

/// One subject's data key as stored.
struct Slot {
    record: Record,
    /// Set, without the lock, once an append carrying the record is stored
    /// ([`KeyGrant::written`]); until then every grant of the key carries it again.
    durable: AtomicBool,
}

impl Slot {
    fn new(record: Record, durable: bool) -> Arc<Slot> {
        Arc::new(Slot {
            record,
            durable: AtomicBool::new(durable),
        })
    }

    fn is_durable(&self) -> bool {
        self.durable.load(Ordering::Acquire)
    }
}

/// The key store of one data directory.
#[derive(Clone)]
pub struct KeyStore {
    inner: Arc<Inner>,
}

struct Inner {
    dir: PathBuf,
    store: SledStore,
    state: Mutex<State>,
    /// Erasures waiting for a lease count to fall to zero: a grant's drop wakes them
    /// only then (a wake-up is a system call; most drops have no one to wake).
    waiting: AtomicUsize,
    /// What an erasure waits on, with [`Inner::released`].
    release: Mutex<()>,
    released: Condvar,
    /// One erasure (or rotation) at a time.
    erasing: Mutex<()>,
    /// Held while `epochs.json` is written: the generation it holds.
    file: Mutex<u64>,
    /// One learner of replicated side records at a time; how far the side records
    /// written from the cluster's log were learned ([`SledStore::replicated_side_records`]).
    learning: Mutex<()>,
    learned: AtomicU64,
}

/// Keys for the events about to be appended: the side record to append with them (the
/// keys not yet written), and a lease on their epochs until the append is done.
pub struct KeyGrant {
    inner: Arc<Inner>,
    /// Each subject's key, by subject (a grant holds a few: looked up in order).
    keys: Vec<(Arc<str>, DataKey)>,
    /// New keys, as a side record ([`AppendRequest::side`]); empty if none.
    pub side: Vec<u8>,
    fresh: Vec<Arc<Slot>>,
    leases: Vec<Arc<AtomicUsize>>,
}

impl KeyGrant {
    /// The key granted for `subject` (a [`crate::domain::common::DataSubject::key_subject`]).
    pub fn key(&self, subject: &str) -> Option<&DataKey> {
        self.keys
            .iter()
            .find(|(name, _)| **name == *subject)
            .map(|(_, key)| key)
    }

    /// The append carrying [`KeyGrant::side`] was written: its keys are durable.
    pub fn written(self) {
        for slot in &self.fresh {
            slot.durable.store(true, Ordering::Release);
        }
    }
}

impl Drop for KeyGrant {
    fn drop(&mut self) {
        let mut released = false;
        for lease in &self.leases {
            released |= lease.fetch_sub(1, Ordering::SeqCst) == 1;
        }
        if released && self.inner.waiting.load(Ordering::SeqCst) > 0 {
            // Taking the lock orders this wake-up after the waiter's check of the count.
            let _waiter = lock(&self.inner.release);
            self.inner.released.notify_all();
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl KeyStore {
    /// Opens (or creates) the key store of `store`'s data directory under `master`.
    pub fn open(store: &SledStore, master: SecretKey) -> Result<KeyStore, KeyError> {
        let dir = store.path().join("keys");
        if !dir.exists() {
            std::fs::create_dir_all(&dir)?;
            // The new directory's name is durable only once its parent is synced:
            // without this, a power cut could take keys/ (and epochs.json in it) away
            // while the data keys it wraps survive in the store.
            sync_dir(store.path())?;
        }
        let mut written: HashMap<Arc<str>, Record> = HashMap::new();
        let mut erased = HashSet::new();
        // Epochs that held an erased key: destroyed once they hold no other.
        let mut emptied = HashSet::new();
        for side in store.side_records() {
            let side = side?;
            let Some(entries) = decode_entries(&side) else {
                continue; // not the key store's
            };
            for entry in entries {
                match entry {
                    Entry::Key(subject, record) => {
                        written.insert(subject.into(), record);
                    }
                    Entry::Tombstone(subject) => {
                        if let Some(record) = written.remove(subject.as_str()) {
                            erased.insert(record.key_id(&subject));
                            emptied.insert(record.epoch);
                        }
                    }
                }
            }
        }
        let file = match read_epochs(&dir)? {
            Some(file) => {
                let check = STANDARD.decode(&file.master_check).unwrap_or_default();
                if decrypt(&master, &check, MASTER_CHECK_AAD).as_deref() != Some(MASTER_CHECK) {
                    return Err(KeyError::WrongMasterKey { dir });
                }
                file
            }
            None => {
                if !written.is_empty() {
                    return Err(KeyError::Damaged {
                        dir,
                        reason: format!("{EPOCHS_FILE} is missing but data keys exist"),
                    });
                }
                let first = random_epoch_id(|_| false);
                let file = EpochsFile {
                    format: 1,
                    master_check: STANDARD.encode(encrypt(&master, MASTER_CHECK, MASTER_CHECK_AAD)),
                    current: first,
                    spare: None,
                    epochs: vec![new_epoch_entry(&master, first, &SecretKey::random())],
                    retired: Some(Vec::new()),
                    retiring: None,
                };
                write_epochs(&dir, &file)?;
                file
            }
        };
        let mut epochs = HashMap::new();
        for entry in &file.epochs {
            let key = open_epoch(&master, entry).ok_or_else(|| KeyError::Damaged {
                dir: dir.clone(),
                reason: format!("epoch {} does not open under the master key", entry.id),
            })?;
            epochs.insert(entry.id, key);
        }
        if !epochs.contains_key(&file.current) {
            return Err(KeyError::Damaged {
                dir,
                reason: format!("the current epoch {} is not in {EPOCHS_FILE}", file.current),
            });
        }
        // Keys of a destroyed epoch are erased. A key of an epoch neither held nor
        // destroyed here came from another node of a cluster: it is kept, and opens
        // once that epoch arrives.
        let legacy = file.retired.is_none();
        let mut retired: HashSet<u32> = file.retired.iter().flatten().copied().collect();
        let mut missing = HashSet::new();
        written.retain(|subject, record| {
            let held = epochs.contains_key(&record.epoch);
            if !held && legacy {
                retired.insert(record.epoch);
            }
            let destroyed = !held && retired.contains(&record.epoch);
            if destroyed {
                erased.insert(record.key_id(subject));
            } else if !held {
                missing.insert(record.epoch);
            }
            !destroyed
        });
        // A spare that holds keys took over before the file said so.
        let spare = file.spare.filter(|id| epochs.contains_key(id));
        let (current, spare) = match spare {
            Some(id) if written.values().any(|r| r.epoch == id) => (id, None),
            spare => (file.current, spare),
        };
        let current_keys = written.values().filter(|r| r.epoch == current).count() as u32;
        let keys = KeyStore {
            inner: Arc::new(Inner {
                dir,
                store: store.clone(),
                state: Mutex::new(State {
                    master,
                    epochs,
                    current,
                    current_keys,
                    spare: spare.map(|id| (id, 0)),
                    generation: 0,
                    durable: 0,
                    keys: written
                        .into_iter()
                        .map(|(subject, record)| (subject, Slot::new(record, true)))
                        .collect(),
                    cache: HashMap::new(),
                    erased,
                    leases: HashMap::new(),
                    retiring: None,
                    retired,
                    shared: None,
                    missing,
                }),
                waiting: AtomicUsize::new(0),
                release: Mutex::new(()),
                released: Condvar::new(),
                erasing: Mutex::new(()),
                file: Mutex::new(0),
                learning: Mutex::new(()),
                learned: AtomicU64::new(store.side_sequence()?),
            }),
        };
        // An erasure that stopped after re-wrapping leaves its old epoch without keys:
        // dropping it finishes the destruction. (Files of before the `retiring` field:
        // every empty epoch goes, as then.)
        let mut state = lock(&keys.inner.state);
        if legacy {
            keys.drop_empty_epochs(&mut state)?;
        } else {
            // An erasure this node wrote or took from a cluster's log may have stopped
            // before it destroyed the epoch: finished here.
            let mut candidates: Vec<u32> = emptied.into_iter().chain(file.retiring).collect();
            candidates.sort_unstable();
            candidates.dedup();
            for epoch in candidates {
                keys.retire_if_empty(&mut state, epoch)?;
            }
        }
        if state.spare.is_none() || current != file.current {
            // The first spare (or a file that lags a handover): written before any key.
            add_spare(&mut state);
            keys.save_epochs(&mut state)?;
        }
        drop(state);
        Ok(keys)
    }

    /// Keys of `subjects` (created where missing), leased until the grant is dropped.
    pub fn grant(&self, subjects: &[String]) -> Result<KeyGrant, KeyError> {
        // A node that followed a cluster's log and now leads knows every key first.
        self.learn()?;
        let mut grant = KeyGrant {
            inner: self.inner.clone(),
            keys: Vec::with_capacity(subjects.len()),
            side: Vec::new(),
            fresh: Vec::new(),
            leases: Vec::new(),
        };
        let mut state = lock(&self.inner.state);
        let state = &mut *state;
        for subject in subjects {
            if grant.key(subject).is_some() {
                continue;
            }
            let (name, mut slot, key) = match state.keys.get_key_value(subject.as_str()) {
                Some((name, slot)) => {
                    let (name, slot) = (name.clone(), slot.clone());
                    let key = self.unwrap(state, &name, &slot.record)?;
                    (name, slot, key)
                }
                None => self.create(state, subject)?,
            };
            // A durable key writes nothing: only a key carried in the side record is
            // leased, so an erasure waits for nothing else.
            if !slot.is_durable() {
                let retiring = state.retiring.as_ref().is_some_and(|(epoch, erased)| {
                    *epoch == slot.record.epoch && *erased != name && *epoch != state.current
                });
                if retiring {
                    slot = self.wrap_in_current(state, &name, slot.record.serial, &key)?;
                }
                push_entry(&mut grant.side, &name, Some(&slot.record));
                grant.fresh.push(slot.clone());
                let lease = state.leases.entry(slot.record.epoch).or_default();
                if !grant.leases.iter().any(|held| Arc::ptr_eq(held, lease)) {
                    lease.fetch_add(1, Ordering::SeqCst);
                    grant.leases.push(lease.clone());
                }
            }
            grant.keys.push((name, key));
        }
        Ok(grant)
    }

    /// A new key for `subject` in the current epoch, not durable until written.
    fn create(
        &self,
        state: &mut State,
        subject: &str,
    ) -> Result<(Arc<str>, Arc<Slot>, DataKey), KeyError> {
        let serial = u32::from_be_bytes(random_bytes());
        let key = DataKey {
            key_id: format!("{subject}~{serial:08x}").into(),
            key: SecretKey::random(),
        };
        let name: Arc<str> = subject.into();
        let slot = self.wrap_in_current(state, &name, serial, &key)?;
        remember(state, &name, serial, key.clone());
        Ok((name, slot, key))
    }

    /// `key` (serial `serial`) wrapped in the current epoch, as `name`'s key not yet
    /// written: a new key, or one moved out of an epoch being destroyed (the same key
    /// and serial, so what it sealed still opens).
    fn wrap_in_current(
        &self,
        state: &mut State,
        name: &Arc<str>,
        serial: u32,
        key: &DataKey,
    ) -> Result<Arc<Slot>, KeyError> {
        if state.current_keys >= EPOCH_KEYS_MAX {
            self.hand_over(state)?;
        }
        let epoch = state.current;
        if !is_shared(state, epoch) {
            return Err(KeyError::NotShared { epoch });
        }
        let record = Record {
            epoch,
            serial,
            wrapped: encrypt(
                &state.epochs[&epoch],
                &key.key.0,
                &data_key_aad(&key.key_id, epoch),
            ),
        };
        state.current_keys += 1;
        let slot = Slot::new(record, false);
        state.keys.insert(name.clone(), slot.clone());
        Ok(slot)
    }

    /// The unwrapped key of `record`.
    fn unwrap(
        &self,
        state: &mut State,
        subject: &Arc<str>,
        record: &Record,
    ) -> Result<DataKey, KeyError> {
        if let Some((_, key)) = state
            .cache
            .get(subject)
            .filter(|(serial, _)| *serial == record.serial)
        {
            return Ok(key.clone());
        }
        let key_id = record.key_id(subject);
        let epoch_key = state
            .epochs
            .get(&record.epoch)
            .ok_or(KeyError::EpochNotHeld {
                epoch: record.epoch,
            })?;
        let key = decrypt(
            epoch_key,
            &record.wrapped,
            &data_key_aad(&key_id, record.epoch),
        )
        .and_then(|k| <[u8; 32]>::try_from(k).ok())
        .ok_or_else(|| self.damaged("a data key does not open under its epoch key"))?;
        let data_key = DataKey {
            key_id: key_id.into(),
            key: SecretKey(key),
        };
        remember(state, subject, record.serial, data_key.clone());
        Ok(data_key)
    }

    /// The data key of `subject`, if it has one (written or not yet).
    pub fn key_of(&self, subject: &str) -> Result<Option<DataKey>, KeyError> {
        let mut state = lock(&self.inner.state);
        let Some((name, slot)) = state
            .keys
            .get_key_value(subject)
            .map(|(name, slot)| (name.clone(), slot.clone()))
        else {
            return Ok(None);
        };
        self.unwrap(&mut state, &name, &slot.record).map(Some)
    }

    /// The data key named `key_id` (`<subject>~<serial>`): held, erased here, or never
    /// held by this store (another node's, or a copy of the log without its keys).
    pub fn key_by_id(&self, key_id: &str) -> Result<Lookup, KeyError> {
        let subject = key_id.split_once('~').map_or(key_id, |(s, _)| s);
        let held = || -> Result<Option<SecretKey>, KeyError> {
            match self.key_of(subject) {
                Ok(Some(key)) if *key.key_id == *key_id => Ok(Some(key.key)),
                Ok(_) | Err(KeyError::EpochNotHeld { .. }) => Ok(None),
                Err(err) => Err(err),
            }
        };
        if let Some(key) = held()? {
            return Ok(Lookup::Held(key));
        }
        // Following a cluster: the key may have arrived with the leader's records.
        if self.learn()?
            && let Some(key) = held()?
        {
            return Ok(Lookup::Held(key));
        }
        Ok(if lock(&self.inner.state).erased.contains(key_id) {
            Lookup::Erased
        } else {
            Lookup::Unknown
        })
    }

    /// Learns the keys (and erasures) the cluster's leader wrote, from the side records
    /// this node's store took from the cluster's log since it last looked; true if there
    /// were any. An erasure's record that leaves an epoch without keys destroys that
    /// epoch here too. Cheap when there is nothing new.
    pub fn learn(&self) -> Result<bool, KeyError> {
        let store = &self.inner.store;
        if store.replicated_side_sequence() <= self.inner.learned.load(Ordering::Acquire) {
            return Ok(false);
        }
        let _one = lock(&self.inner.learning);
        let after = self.inner.learned.load(Ordering::Acquire);
        let (upto, sides) = store.replicated_side_records(after)?;
        if upto == after {
            return Ok(false);
        }
        let mut state = lock(&self.inner.state);
        let mut emptied = Vec::new();
        for entries in sides.iter().filter_map(|side| decode_entries(side)) {
            for entry in entries {
                match entry {
                    Entry::Key(subject, record) => {
                        if state.retired.contains(&record.epoch) {
                            state.erased.insert(record.key_id(&subject));
                            continue;
                        }
                        let same = state
                            .keys
                            .get(subject.as_str())
                            .is_some_and(|slot| slot.record == record);
                        if !same {
                            if !state.epochs.contains_key(&record.epoch) {
                                state.missing.insert(record.epoch);
                            }
                            state.keys.insert(subject.into(), Slot::new(record, true));
                        }
                    }
                    Entry::Tombstone(subject) => {
                        state.cache.remove(subject.as_str());
                        if let Some(slot) = state.keys.remove(subject.as_str()) {
                            state.erased.insert(slot.record.key_id(&subject));
                            emptied.push(slot.record.epoch);
                        }
                    }
                }
            }
        }
        for epoch in emptied {
            self.retire_if_empty(&mut state, epoch)?;
        }
        // Only now: a retirement that failed is tried again with the same records.
        self.inner.learned.store(upto, Ordering::Release);
        Ok(true)
    }

    /// Destroys `epoch` if no key is wrapped under it any more and it takes no new
    /// ones (neither current nor spare).
    /// (this node's current epoch or spare — a former leader's — is replaced by a new
    /// one first: an erasure elsewhere destroyed it).
    fn retire_if_empty(&self, state: &mut State, epoch: u32) -> Result<(), KeyError> {
        if state.retired.contains(&epoch)
            || state.keys.values().any(|slot| slot.record.epoch == epoch)
        {
            return Ok(());
        }
        if epoch == state.current {
            let fresh = next_epoch_id(state);
            state.epochs.insert(fresh, SecretKey::random());
            state.current = fresh;
            state.current_keys = 0;
        }
        if state.spare.is_some_and(|(spare, _)| spare == epoch) {
            add_spare(state);
        }
        forget_epoch(state, epoch);
        self.save_epochs(state)
    }

    /// From now on an epoch takes keys only once another node of the cluster is known
    /// to hold it ([`KeyStore::shared`]), so the loss of one machine loses no key.
    pub fn require_sharing(&self) {
        let mut state = lock(&self.inner.state);
        if state.shared.is_none() {
            state.shared = Some(HashSet::new());
        }
    }

    /// The epochs held here that no other node is known to hold yet, sealed to send.
    pub fn unshared(&self) -> Vec<EpochEntry> {
        let state = lock(&self.inner.state);
        let Some(shared) = &state.shared else {
            return Vec::new();
        };
        let mut ids: Vec<u32> = state
            .epochs
            .keys()
            .filter(|id| !shared.contains(id))
            .copied()
            .collect();
        ids.sort_unstable();
        ids.into_iter()
            .map(|id| new_epoch_entry(&state.master, id, &state.epochs[&id]))
            .collect()
    }

    /// Another node confirmed it holds `epoch` durably.
    pub fn shared(&self, epoch: u32) {
        if let Some(shared) = &mut lock(&self.inner.state).shared {
            shared.insert(epoch);
        }
    }

    /// Takes an epoch another node sent (it created it, or this node asked for it),
    /// durably; true once it is held here (false: destroyed here already, so never
    /// taken back). Refused if it does not open under this node's master key.
    pub fn hold(&self, entry: &EpochEntry) -> Result<bool, KeyError> {
        let mut state = lock(&self.inner.state);
        if state.retired.contains(&entry.id) {
            return Ok(false);
        }
        let key = open_epoch(&state.master, entry).ok_or_else(|| {
            KeyError::MasterKeyFile(format!(
                "epoch {} from another node does not open under this node's master key: every node of a cluster needs the same --master-key-file",
                entry.id
            ))
        })?;
        match state.epochs.get(&entry.id) {
            Some(held) if *held == key => {}
            Some(_) => {
                return Err(self.damaged(&format!(
                    "another node sent an epoch {} that differs from the one held here",
                    entry.id
                )));
            }
            None => {
                state.epochs.insert(entry.id, key);
                if let Err(err) = self.save_epochs(&mut state) {
                    // Not durable here: never answer that it is held.
                    state.epochs.remove(&entry.id);
                    return Err(err);
                }
                state.missing.remove(&entry.id);
            }
        }
        if let Some(shared) = &mut state.shared {
            shared.insert(entry.id);
        }
        Ok(true)
    }

    /// Every epoch held here, sealed to send.
    pub fn all_sealed(&self) -> Vec<EpochEntry> {
        let state = lock(&self.inner.state);
        state
            .epochs
            .iter()
            .map(|(id, key)| new_epoch_entry(&state.master, *id, key))
            .collect()
    }

    /// Epochs that wrap keys known here but are neither held nor destroyed here: to
    /// fetch from the other nodes of the cluster.
    pub fn missing(&self) -> Vec<u32> {
        let mut missing: Vec<u32> = lock(&self.inner.state).missing.iter().copied().collect();
        missing.sort_unstable();
        missing
    }

    fn damaged(&self, reason: &str) -> KeyError {
        KeyError::Damaged {
            dir: self.inner.dir.clone(),
            reason: reason.to_owned(),
        }
    }

    /// Destroys `subject`'s data key for good (see the module docs); true if there was
    /// one. Idempotent; returns once nothing on disk can bring the key back. Blocking:
    /// call it from a blocking context (it waits for leases and for the disk).
    pub fn erase(&self, subject: &str) -> Result<bool, KeyError> {
        self.erase_with(subject, |_| Ok(false))
    }

    /// [`KeyStore::erase`], where `write` may append the erasure's side record (the
    /// subject's tombstone and its epoch's other keys re-wrapped) with an event — then
    /// it travels through a cluster's log with that event, and every node destroys the
    /// epoch when it applies it — and says whether it did; if not, the side record is
    /// appended alone (on this node only).
    pub fn erase_with(
        &self,
        subject: &str,
        write: impl FnOnce(Vec<u8>) -> Result<bool, KeyError>,
    ) -> Result<bool, KeyError> {
        // What the cluster's leader erased arrives as its side record: that is learned
        // (and its epoch destroyed) first.
        self.learn()?;
        let _one = lock(&self.inner.erasing);
        // 1. New keys go to a fresh epoch from now on.
        let (old, lease) = {
            let mut state = lock(&self.inner.state);
            state.cache.remove(subject);
            let record = state.keys.get(subject).map(|slot| slot.record.clone());
            let Some(record) = record else {
                return Ok(false);
            };
            if state.current == record.epoch {
                self.hand_over(&mut state)?;
            }
            state.retiring = Some((record.epoch, subject.into()));
            (
                record.epoch,
                state.leases.entry(record.epoch).or_default().clone(),
            )
        };
        // 2. No key of the old epoch is on its way to the disk any more.
        self.inner.waiting.fetch_add(1, Ordering::SeqCst);
        let mut waiter = lock(&self.inner.release);
        while lease.load(Ordering::SeqCst) > 0 {
            // The timeout only bounds the cost of a wake-up this loop would miss.
            waiter = self
                .inner
                .released
                .wait_timeout(waiter, Duration::from_millis(100))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        drop(waiter);
        self.inner.waiting.fetch_sub(1, Ordering::SeqCst);
        // 3. Re-wrap the old epoch's other keys under a fresh epoch, durably (in a
        // cluster, once another node holds it).
        let (fresh, fresh_key) = {
            let mut state = lock(&self.inner.state);
            let fresh = next_epoch_id(&state);
            let fresh_key = SecretKey::random();
            state.epochs.insert(fresh, fresh_key.clone());
            self.save_epochs(&mut state)?;
            (fresh, fresh_key)
        };
        self.wait_shared(fresh).inspect_err(|_| {
            lock(&self.inner.state).retiring = None;
        })?;
        let (rewrapped, side) = {
            let state = lock(&self.inner.state);
            let Some(old_key) = state.epochs.get(&old).cloned() else {
                drop(state);
                lock(&self.inner.state).retiring = None;
                return Err(KeyError::EpochNotHeld { epoch: old });
            };
            let mut entries = vec![Entry::Tombstone(subject.to_owned())];
            let mut rewrapped = Vec::new();
            let keys_of_old = state
                .keys
                .iter()
                .filter(|(s, slot)| slot.record.epoch == old && &***s != subject)
                .map(|(s, slot)| (s.clone(), slot.clone()))
                .collect::<Vec<_>>();
            for (other, slot) in keys_of_old {
                let record = &slot.record;
                let key_id = record.key_id(&other);
                let key = decrypt(&old_key, &record.wrapped, &data_key_aad(&key_id, old))
                    .ok_or_else(|| self.damaged("a data key does not open under its epoch key"))?;
                let moved = Record {
                    epoch: fresh,
                    serial: record.serial,
                    wrapped: encrypt(&fresh_key, &key, &data_key_aad(&key_id, fresh)),
                };
                let durable = slot.is_durable();
                if durable {
                    entries.push(Entry::Key(other.to_string(), moved.clone()));
                }
                rewrapped.push((other, Slot::new(moved, durable)));
            }
            (rewrapped, encode_entries(&entries))
        };
        let written = write(side.clone()).inspect_err(|_| {
            // Nothing destroyed; the erasure's event, if it was stored after all, makes
            // the erasure run again.
            lock(&self.inner.state).retiring = None;
        })?;
        if !written {
            let store = self.inner.store.clone();
            let append = AppendRequest::default().with_side(side);
            let written = match tokio::runtime::Handle::try_current() {
                Ok(handle) => handle.block_on(store.append(append)),
                Err(_) => tokio::runtime::Builder::new_current_thread()
                    .build()?
                    .block_on(store.append(append)),
            };
            written.map_err(|err| KeyError::Storage(err.to_string()))?;
        }
        // 4. Only now the old epoch key goes.
        let mut state = lock(&self.inner.state);
        if let Some(slot) = state.keys.remove(subject) {
            let erased = slot.record.key_id(subject);
            state.erased.insert(erased);
        }
        state.cache.remove(subject);
        for (other, slot) in rewrapped {
            // A grant may have moved it to the current epoch meanwhile: that one stays.
            if state
                .keys
                .get(&other)
                .is_some_and(|s| s.record.epoch == old)
            {
                state.keys.insert(other, slot);
            }
        }
        if !state.keys.values().any(|slot| slot.record.epoch == fresh) {
            // Nothing to re-wrap: the fresh epoch wraps no record anywhere.
            state.epochs.remove(&fresh);
        }
        forget_epoch(&mut state, old);
        state.retiring = None;
        self.save_epochs(&mut state)?;
        Ok(true)
    }

    /// Waits until another node holds `epoch` (at once on a single node), at most
    /// [`SHARE_PATIENCE`].
    fn wait_shared(&self, epoch: u32) -> Result<(), KeyError> {
        let started = std::time::Instant::now();
        while !is_shared(&lock(&self.inner.state), epoch) {
            if started.elapsed() > SHARE_PATIENCE {
                return Err(KeyError::NotShared { epoch });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    /// Re-wraps every epoch key under `new_master` (no data key and no event is
    /// rewritten); from then on only `new_master` opens the store.
    pub fn rotate(&self, new_master: SecretKey) -> Result<(), KeyError> {
        let _one = lock(&self.inner.erasing);
        let mut state = lock(&self.inner.state);
        state.master = new_master;
        self.save_epochs(&mut state)
    }

    /// The spare becomes the current epoch — written first if it is not yet durable —
    /// and a new spare is added and written by a thread of its own.
    fn hand_over(&self, state: &mut State) -> Result<(), KeyError> {
        if let Some((spare, _)) = state.spare
            && !is_shared(state, spare)
        {
            return Err(KeyError::NotShared { epoch: spare });
        }
        let (id, added) = match state.spare.take() {
            Some(spare) => spare,
            None => add_spare(state),
        };
        state.current = id;
        state.current_keys = 0;
        if state.durable < added {
            self.save_epochs(state)?;
        }
        add_spare(state);
        let inner = self.inner.clone();
        std::thread::Builder::new()
            .name("crisisd-keys".into())
            .spawn(move || {
                if let Err(err) = persist(&inner) {
                    // The next hand-over writes it on the granting path, and fails there.
                    tracing::warn!(error = %err, "the key store could not write its next spare epoch ahead");
                }
            })?;
        Ok(())
    }

    /// Drops epochs (other than the current one) that wrap no key.
    fn drop_empty_epochs(&self, state: &mut State) -> Result<(), KeyError> {
        let used: std::collections::HashSet<u32> =
            state.keys.values().map(|slot| slot.record.epoch).collect();
        let leased = |id: &u32| {
            state
                .leases
                .get(id)
                .is_some_and(|n| n.load(Ordering::SeqCst) > 0)
        };
        let empty: Vec<u32> = state
            .epochs
            .keys()
            .copied()
            .filter(|id| {
                *id != state.current
                    && state.spare.is_none_or(|(spare, _)| spare != *id)
                    && !used.contains(id)
                    && !leased(id)
            })
            .collect();
        if empty.is_empty() {
            return Ok(());
        }
        for id in empty {
            forget_epoch(state, id);
        }
        self.save_epochs(state)
    }

    /// Writes what `state` holds to `epochs.json`, now (every such write follows a
    /// change, so it counts as one).
    fn save_epochs(&self, state: &mut State) -> Result<(), KeyError> {
        state.generation += 1;
        let (generation, file) = snapshot(state);
        write_generation(&self.inner, generation, &file)?;
        state.durable = state.durable.max(generation);
        Ok(())
    }

    /// Epoch ids in the file (for tests and `keys` commands).
    pub fn epoch_ids(&self) -> Vec<u32> {
        let state = lock(&self.inner.state);
        let mut ids: Vec<u32> = state.epochs.keys().copied().collect();
        ids.sort_unstable();
        ids
    }
}

/// Drops `epoch`'s key from memory (written by the caller) and remembers it destroyed.
fn forget_epoch(state: &mut State, epoch: u32) {
    state.epochs.remove(&epoch);
    state.leases.remove(&epoch);
    state.missing.remove(&epoch);
    state.retired.insert(epoch);
    if let Some(shared) = &mut state.shared {
        shared.remove(&epoch);
    }
}

/// Whether `epoch` may take keys: always on a single node; in a cluster, once another
/// node holds it.
fn is_shared(state: &State, epoch: u32) -> bool {
    state
        .shared
        .as_ref()
        .is_none_or(|shared| shared.contains(&epoch))
}

/// The epoch key `entry` seals, if `master` opens it.
fn open_epoch(master: &SecretKey, entry: &EpochEntry) -> Option<SecretKey> {
    let sealed = STANDARD.decode(&entry.key).ok()?;
    decrypt(master, &sealed, &epoch_aad(entry.id))
        .and_then(|k| <[u8; 32]>::try_from(k).ok())
        .map(SecretKey)
}

fn remember(state: &mut State, subject: &Arc<str>, serial: u32, key: DataKey) {
    if state.cache.len() >= CACHE_KEYS_MAX {
        state.cache.clear();
    }
    state.cache.insert(subject.clone(), (serial, key));
}

/// A new epoch's id: random, so that the epochs of a cluster's nodes, each created
/// apart, never share one (ids this store holds or destroyed are skipped).
fn next_epoch_id(state: &State) -> u32 {
    random_epoch_id(|id| state.epochs.contains_key(&id) || state.retired.contains(&id))
}

fn random_epoch_id(taken: impl Fn(u32) -> bool) -> u32 {
    loop {
        let id = u32::from_be_bytes(random_bytes());
        if id != 0 && !taken(id) {
            return id;
        }
    }
}

/// Adds a new spare epoch (in memory; not yet written): its id and generation.
fn add_spare(state: &mut State) -> (u32, u64) {
    let id = next_epoch_id(state);
    state.epochs.insert(id, SecretKey::random());
    state.generation += 1;
    state.spare = Some((id, state.generation));
    (id, state.generation)
}

/// What `epochs.json` should hold now, and the generation it is.
fn snapshot(state: &State) -> (u64, EpochsFile) {
    let mut ids: Vec<u32> = state.epochs.keys().copied().collect();
    ids.sort_unstable();
    let file = EpochsFile {
        format: 1,
        master_check: STANDARD.encode(encrypt(&state.master, MASTER_CHECK, MASTER_CHECK_AAD)),
        current: state.current,
        spare: state.spare.map(|(id, _)| id),
        epochs: ids
            .into_iter()
            .map(|id| new_epoch_entry(&state.master, id, &state.epochs[&id]))
            .collect(),
        retired: Some({
            let mut retired: Vec<u32> = state.retired.iter().copied().collect();
            retired.sort_unstable();
            retired
        }),
        retiring: state.retiring.as_ref().map(|(epoch, _)| *epoch),
    };
    (state.generation, file)
}

/// Writes `file` unless a later generation is already written (writers may finish out
/// of order: the file never goes back).
fn write_generation(inner: &Inner, generation: u64, file: &EpochsFile) -> Result<(), KeyError> {
    let mut written = lock(&inner.file);
    if *written < generation {
        write_epochs(&inner.dir, file)?;
        *written = generation;
    }
    Ok(())
}

/// Writes the state as it is now, off the granting path (see [`KeyStore::hand_over`]).
fn persist(inner: &Inner) -> Result<(), KeyError> {
    let (generation, file) = snapshot(&lock(&inner.state));
    write_generation(inner, generation, &file)?;
    let mut state = lock(&inner.state);
    state.durable = state.durable.max(generation);
    Ok(())
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

    /// The current epoch and the spare.
    fn current_and_spare(keys: &KeyStore) -> (u32, u32) {
        let state = lock(&keys.inner.state);
        (state.current, state.spare.expect("a spare").0)
    }

    fn sorted(ids: &[u32]) -> Vec<u32> {
        let mut ids = ids.to_vec();
        ids.sort_unstable();
        ids
    }

    fn store() -> (tempfile::TempDir, SledStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(StoreConfig::new(dir.path())).unwrap();
        (dir, store)
    }

    /// A key as commands get it: granted, then written with its (here eventless) append.
    fn create(store: &SledStore, keys: &KeyStore, subject: &str) -> DataKey {
        let grant = keys.grant(&[subject.to_owned()]).unwrap();
        let key = grant.key(subject).unwrap().clone();
        if !grant.side.is_empty() {
            write(store, grant);
        }
        key
    }

    /// Appends `grant`'s side record (with no events) and marks its keys written.
    fn write(store: &SledStore, grant: KeyGrant) {
        let append = AppendRequest::default().with_side(grant.side.clone());
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(store.append(append))
            .unwrap();
        grant.written();
    }

    /// Appends one event carrying `side` (as a command does) on the leader's store.
    fn append_with_side(store: &SledStore, side: Vec<u8>) {
        let actor = crate::store::Actor {
            id: "t".into(),
            role: "admin".into(),
        };
        let event = crate::store::NewEvent::new(
            "test.happened",
            serde_json::json!({}),
            actor,
            chrono::Utc::now(),
        );
        let append =
            AppendRequest::single("test-s", crate::store::ExpectedVersion::Any, vec![event])
                .with_side(side);
        block_on(store.append(append)).unwrap();
    }

    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(future)
    }

    /// Ships the leader's records from `from` on, each with the side records of its
    /// batch, to the follower (as the cluster's log does).
    fn ship(leader: &SledStore, follower: &SledStore, from: u64) {
        let records: Vec<Vec<u8>> = leader
            .raw_range(from, u64::MAX)
            .map(|r| r.unwrap().1.to_vec())
            .collect();
        let mut chunk = Vec::new();
        for side in leader.side_records().skip(shipped_sides(follower)) {
            crate::store::writer::push_side(&mut chunk, &side.unwrap());
        }
        block_on(follower.apply_replicated(records, chunk)).unwrap();
    }

    fn shipped_sides(store: &SledStore) -> usize {
        store.side_records().count()
    }

    /// A follower learns the leader's data keys from the side records its log brings; it
    /// opens them once it holds their epoch (sent by the leader), and an erasure's record
    /// destroys the emptied epoch on the follower as on the leader. In a cluster, an epoch
    /// takes keys only once another node holds it.
    #[test]
    fn a_follower_learns_keys_and_erasures_from_the_log_and_epochs_take_keys_once_shared() {
        let (_a, leader_store) = store();
        let (_b, follower_store) = store();
        follower_store.set_role(crate::store::Role::Follower { leader: None });
        let master = SecretKey::random();
        let leader = KeyStore::open(&leader_store, master.clone()).unwrap();
        let follower = KeyStore::open(&follower_store, master.clone()).unwrap();
        leader.require_sharing();
        follower.require_sharing();
        let refused = leader.grant(&["p.A".into()]).err().unwrap();
        assert!(matches!(refused, KeyError::NotShared { .. }), "{refused}");
        // The follower takes the leader's epochs; the leader learns it holds them.
        for epoch in leader.unshared() {
            assert!(follower.hold(&epoch).unwrap());
            leader.shared(epoch.id);
        }
        assert!(leader.unshared().is_empty());
        let grant = leader.grant(&["p.A".into(), "p.B".into()]).unwrap();
        let (a, b) = (
            grant.key("p.A").unwrap().clone(),
            grant.key("p.B").unwrap().clone(),
        );
        append_with_side(&leader_store, grant.side.clone());
        grant.written();
        assert_eq!(follower.key_by_id(&a.key_id).unwrap(), Lookup::Unknown);
        ship(&leader_store, &follower_store, 1);
        assert_eq!(
            follower.key_by_id(&a.key_id).unwrap(),
            Lookup::Held(a.key.clone())
        );
        assert!(follower.missing().is_empty());

        // An erasure on the leader, its side record carried by an event: the follower
        // destroys the epoch too, and keeps B (re-wrapped under a fresh epoch it holds).
        let epoch_of_a = lock(&leader.inner.state).keys["p.A"].record.epoch;
        let done = Arc::new(AtomicBool::new(false));
        let sharing = {
            let (leader, follower, done) = (leader.clone(), follower.clone(), done.clone());
            std::thread::spawn(move || {
                // What the cluster's key sharing does while the erasure waits.
                while !done.load(Ordering::SeqCst) {
                    for epoch in leader.unshared() {
                        follower.hold(&epoch).unwrap();
                        leader.shared(epoch.id);
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
            })
        };
        let erased = leader
            .erase_with("p.A", |side| {
                append_with_side(&leader_store, side);
                Ok(true)
            })
            .unwrap();
        done.store(true, Ordering::SeqCst);
        sharing.join().unwrap();
        assert!(erased);
        assert!(!leader.epoch_ids().contains(&epoch_of_a));
        ship(&leader_store, &follower_store, 2);
        assert!(
            follower.epoch_ids().contains(&epoch_of_a),
            "not learned yet"
        );
        // Stopped before it learned the erasure: opening finishes it.
        drop(follower);
        let follower = KeyStore::open(&follower_store, master.clone()).unwrap();
        assert!(
            !follower.epoch_ids().contains(&epoch_of_a),
            "the follower destroyed the erased key's epoch"
        );
        assert_eq!(follower.key_by_id(&a.key_id).unwrap(), Lookup::Erased);
        assert_eq!(
            follower.key_by_id(&b.key_id).unwrap(),
            Lookup::Held(b.key.clone())
        );
        // Reopened, the follower still tells erased from held, and its file says why.
        drop(follower);
        let follower = KeyStore::open(&follower_store, master.clone()).unwrap();
        assert_eq!(follower.key_by_id(&a.key_id).unwrap(), Lookup::Erased);
        assert_eq!(follower.key_by_id(&b.key_id).unwrap(), Lookup::Held(b.key));
        // An epoch it destroyed is never taken back.
        let destroyed = EpochEntry {
            id: epoch_of_a,
            key: STANDARD.encode(encrypt(&master, &[7; 32], &epoch_aad(epoch_of_a))),
        };
        assert!(!follower.hold(&destroyed).unwrap());
        // An epoch sealed under another master key is refused, saying so.
        let foreign = new_epoch_entry(&SecretKey::random(), 77, &SecretKey::random());
        let refused = follower.hold(&foreign).unwrap_err();
        assert!(
            refused.to_string().contains("same --master-key-file"),
            "{refused}"
        );
    }

    /// A former leader whose current epoch an erasure on the new leader destroyed
    /// learns it while following: the epoch goes, and a fresh one takes its new keys.
    #[test]
    fn a_former_leaders_current_epoch_destroyed_elsewhere_is_replaced() {
        let (_a, old_store) = store();
        let (_b, new_store) = store();
        let master = SecretKey::random();
        let old = KeyStore::open(&old_store, master.clone()).unwrap();
        let new = KeyStore::open(&new_store, master.clone()).unwrap();
        // The old leader seals P.1 in its current epoch; the other node follows.
        new_store.set_role(crate::store::Role::Follower { leader: None });
        let grant = old.grant(&["p.1".into()]).unwrap();
        let key = grant.key("p.1").unwrap().clone();
        append_with_side(&old_store, grant.side.clone());
        grant.written();
        ship(&old_store, &new_store, 1);
        for epoch in old.all_sealed() {
            assert!(new.hold(&epoch).unwrap());
        }
        assert_eq!(
            new.key_by_id(&key.key_id).unwrap(),
            Lookup::Held(key.key.clone())
        );
        let (current, _) = current_and_spare(&old);
        // Leadership moves; the new leader erases P.1.
        new_store.set_role(crate::store::Role::Single);
        old_store.set_role(crate::store::Role::Follower { leader: None });
        let erased = new
            .erase_with("p.1", |side| {
                append_with_side(&new_store, side);
                Ok(true)
            })
            .unwrap();
        assert!(erased);
        ship(&new_store, &old_store, 2);
        assert!(old.learn().unwrap());
        assert_eq!(old.key_by_id(&key.key_id).unwrap(), Lookup::Erased);
        assert!(
            !old.epoch_ids().contains(&current),
            "destroyed on the old leader"
        );
        let (replaced, _) = current_and_spare(&old);
        assert_ne!(replaced, current);
        drop(old);
        let old = KeyStore::open(&old_store, master).unwrap();
        assert!(!old.epoch_ids().contains(&current));
        assert_eq!(old.key_by_id(&key.key_id).unwrap(), Lookup::Erased);
    }

    /// A key id tells erased from never held, also after reopening (from the tombstone,
    /// or from a record left in a destroyed epoch) and after the subject has a new key.
    #[test]
    fn a_key_id_reads_held_erased_or_unknown_across_reopening() {
        let (_dir, store) = store();
        let master = SecretKey::random();
        let keys = KeyStore::open(&store, master.clone()).unwrap();
        let first = create(&store, &keys, "p.FF1");
        let other = create(&store, &keys, "p.FF2");
        assert_eq!(
            keys.key_by_id(&first.key_id).unwrap(),
            Lookup::Held(first.key.clone())
        );
        assert_eq!(keys.key_by_id("p.FF9~0000abcd").unwrap(), Lookup::Unknown);
        assert!(keys.erase("p.FF1").unwrap());
        let second = create(&store, &keys, "p.FF1");
        assert_ne!(second.key_id, first.key_id, "a new key after the erasure");
        let expect = |keys: &KeyStore| {
            assert_eq!(keys.key_by_id(&first.key_id).unwrap(), Lookup::Erased);
            assert_eq!(
                keys.key_by_id(&second.key_id).unwrap(),
                Lookup::Held(second.key.clone())
            );
            assert_eq!(
                keys.key_by_id(&other.key_id).unwrap(),
                Lookup::Held(other.key.clone())
            );
            let never = format!("p.FF1~{:08x}", u32::MAX);
            assert_ne!(never, *first.key_id);
            assert_ne!(never, *second.key_id);
            assert_eq!(keys.key_by_id(&never).unwrap(), Lookup::Unknown);
            assert_eq!(
                keys.key_by_id("s.unknown~00000001").unwrap(),
                Lookup::Unknown
            );
        };
        expect(&keys);
        drop(keys);
        let keys = KeyStore::open(&store, master).unwrap();
        expect(&keys);
    }

    #[test]
    fn a_subject_keeps_its_key_across_reopening_and_a_wrong_master_is_refused() {
        let (_dir, store) = store();
        let master = SecretKey::random();
        let keys = KeyStore::open(&store, master.clone()).unwrap();
        assert!(keys.key_of("p.FF1").unwrap().is_none());
        let first = create(&store, &keys, "p.FF1");
        assert!(first.key_id.starts_with("p.FF1~"));
        assert_eq!(
            keys.grant(&["p.FF1".into()]).unwrap().side,
            Vec::<u8>::new(),
            "written once"
        );
        // A key granted but never written (its append failed) is not kept.
        let unwritten = keys.grant(&["p.LOST".into()]).unwrap();
        assert!(!unwritten.side.is_empty());
        drop(unwritten);
        drop(keys);
        let keys = KeyStore::open(&store, master).unwrap();
        assert_eq!(keys.key_of("p.FF1").unwrap(), Some(first));
        assert!(keys.key_of("p.LOST").unwrap().is_none());
        drop(keys);
        let err = KeyStore::open(&store, SecretKey::random()).err().unwrap();
        assert!(matches!(err, KeyError::WrongMasterKey { .. }), "{err}");
        assert!(err.to_string().contains("--master-key-file"), "{err}");
    }

    /// After an erasure, nothing left on disk opens the erased key, even with the master
    /// key: what the store still holds of it is wrapped under an epoch key that is gone.
    /// The other subjects of its epoch keep their keys.
    #[test]
    fn an_erased_key_cannot_be_recovered_from_disk_and_the_others_survive() {
        let (dir, store) = store();
        let master = SecretKey::random();
        let keys = KeyStore::open(&store, master.clone()).unwrap();
        let erased = create(&store, &keys, "p.ERASE");
        let kept = create(&store, &keys, "p.KEEP");
        let epochs_before = keys.epoch_ids();
        let (first, spare) = current_and_spare(&keys);
        assert!(keys.erase("p.ERASE").unwrap());
        assert!(!keys.erase("p.ERASE").unwrap(), "idempotent");
        assert!(keys.key_of("p.ERASE").unwrap().is_none());
        assert_eq!(
            keys.key_by_id(&kept.key_id).unwrap().held(),
            Some(kept.key.clone())
        );
        assert!(keys.key_by_id(&erased.key_id).unwrap().held().is_none());
        let epochs_after = keys.epoch_ids();
        assert_eq!(
            epochs_before,
            sorted(&[first, spare]),
            "the current epoch and its spare"
        );
        assert!(
            !epochs_after.contains(&first),
            "the erased key's epoch is gone: {epochs_after:?}"
        );
        drop(keys);
        // Every record the store ever held of the erased key, unwrapped with every epoch
        // key the master key opens from the files left on disk: none gives the key.
        let file = read_epochs(&dir.path().join("keys")).unwrap().unwrap();
        let mut tried = 0;
        for side in store.side_records() {
            for entry in decode_entries(&side.unwrap()).unwrap() {
                let Entry::Key(subject, record) = entry else {
                    continue;
                };
                if subject != "p.ERASE" {
                    continue;
                }
                let key_id = record.key_id(&subject);
                for epoch in &file.epochs {
                    let sealed = STANDARD.decode(&epoch.key).unwrap();
                    let epoch_key = decrypt(&master, &sealed, &epoch_aad(epoch.id)).unwrap();
                    let epoch_key = SecretKey(epoch_key.try_into().unwrap());
                    for id in [record.epoch, epoch.id] {
                        assert!(
                            decrypt(&epoch_key, &record.wrapped, &data_key_aad(&key_id, id))
                                .is_none()
                        );
                        tried += 1;
                    }
                }
            }
        }
        assert!(
            tried > 0,
            "the erased key's record is still on disk, wrapped"
        );
        let keys = KeyStore::open(&store, master).unwrap();
        assert_eq!(keys.key_by_id(&kept.key_id).unwrap().held(), Some(kept.key));
        assert!(keys.key_of("p.ERASE").unwrap().is_none());
        let new = create(&store, &keys, "p.ERASE");
        assert_ne!(
            new.key_id, erased.key_id,
            "a key after erasure is another key"
        );
    }

    #[test]
    fn rotation_rewraps_under_the_new_master_and_only_it_opens_the_store() {
        let (_dir, store) = store();
        let old = SecretKey::random();
        let keys = KeyStore::open(&store, old.clone()).unwrap();
        let key = create(&store, &keys, "s.1");
        let new = SecretKey::random();
        keys.rotate(new.clone()).unwrap();
        let after = create(&store, &keys, "s.2");
        drop(keys);
        assert!(matches!(
            KeyStore::open(&store, old),
            Err(KeyError::WrongMasterKey { .. })
        ));
        let keys = KeyStore::open(&store, new).unwrap();
        assert_eq!(keys.key_by_id(&key.key_id).unwrap().held(), Some(key.key));
        assert_eq!(
            keys.key_by_id(&after.key_id).unwrap().held(),
            Some(after.key)
        );
    }

    #[test]
    fn a_full_epoch_starts_another_and_an_erasure_rewraps_only_its_own() {
        let (_dir, store) = store();
        let keys = KeyStore::open(&store, SecretKey::random()).unwrap();
        lock(&keys.inner.state).current_keys = EPOCH_KEYS_MAX - 1;
        let (first, spare) = current_and_spare(&keys);
        assert_eq!(
            keys.epoch_ids(),
            sorted(&[first, spare]),
            "the current epoch and its spare"
        );
        let a = create(&store, &keys, "p.A");
        let b = create(&store, &keys, "p.B");
        let (current, next) = current_and_spare(&keys);
        assert_eq!(current, spare, "B went to the spare");
        assert_eq!(keys.epoch_ids(), sorted(&[first, spare, next]));
        assert!(keys.erase("p.A").unwrap());
        assert_eq!(
            keys.epoch_ids(),
            sorted(&[spare, next]),
            "the first epoch held only A: dropped"
        );
        assert_eq!(keys.key_by_id(&b.key_id).unwrap().held(), Some(b.key));
        assert!(keys.key_by_id(&a.key_id).unwrap().held().is_none());
    }

    /// The spare is written before it takes keys; the file naming it current is written
    /// afterwards, and may not be when the process dies: opening then takes the spare
    /// that holds keys as current, and every key opens.
    #[test]
    fn a_handover_the_file_does_not_show_yet_is_found_on_opening() {
        let (dir, store) = store();
        let master = SecretKey::random();
        let keys = KeyStore::open(&store, master.clone()).unwrap();
        let before = create(&store, &keys, "p.BEFORE");
        let (first, spare) = current_and_spare(&keys);
        let epochs_file = dir.path().join("keys").join(EPOCHS_FILE);
        let lagging = std::fs::read(&epochs_file).unwrap();
        lock(&keys.inner.state).current_keys = EPOCH_KEYS_MAX;
        let after = create(&store, &keys, "p.AFTER");
        // Whatever the thread wrote ahead is lost: the file names epoch 1 current.
        let _ = persist(&keys.inner);
        std::fs::write(&epochs_file, &lagging).unwrap();
        drop(keys);
        let keys = KeyStore::open(&store, master.clone()).unwrap();
        assert_eq!(
            keys.key_by_id(&before.key_id).unwrap().held(),
            Some(before.key)
        );
        assert_eq!(
            keys.key_by_id(&after.key_id).unwrap().held(),
            Some(after.key)
        );
        let (current, next) = current_and_spare(&keys);
        assert_eq!(current, spare, "the spare holding AFTER's key");
        assert_eq!(
            keys.epoch_ids(),
            sorted(&[first, spare, next]),
            "with a new spare, written"
        );
        let file = read_epochs(&dir.path().join("keys")).unwrap().unwrap();
        assert_eq!((file.current, file.spare), (spare, Some(next)));
        // Keys go on being created in that epoch, and a reopening agrees.
        let more = create(&store, &keys, "p.MORE");
        drop(keys);
        let keys = KeyStore::open(&store, master).unwrap();
        assert_eq!(keys.key_by_id(&more.key_id).unwrap().held(), Some(more.key));
        assert_eq!(lock(&keys.inner.state).current_keys, 2);
    }

    /// Appenders on several threads create and write keys while erasures run: after
    /// reopening, every key that was written opens with its value, and only the erased
    /// subjects have none. (Leases and the written flag work without the state lock.)
    #[test]
    fn keys_written_while_erasures_run_all_survive_and_only_erased_ones_go() {
        let (_dir, store) = store();
        let master = SecretKey::random();
        let keys = KeyStore::open(&store, master.clone()).unwrap();
        let doomed: Vec<String> = (0..8).map(|n| format!("p.GONE{n}")).collect();
        for subject in &doomed {
            create(&store, &keys, subject);
        }
        let appenders: Vec<_> = (0..4)
            .map(|thread| {
                let (store, keys) = (store.clone(), keys.clone());
                std::thread::spawn(move || {
                    (0..200)
                        .map(|n| {
                            let subject = format!("s.{thread}-{n}");
                            (subject.clone(), create(&store, &keys, &subject))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let erasing = {
            let keys = keys.clone();
            let doomed = doomed.clone();
            std::thread::spawn(move || {
                for subject in &doomed {
                    assert!(keys.erase(subject).unwrap());
                }
            })
        };
        let created: Vec<(String, DataKey)> = appenders
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect();
        erasing.join().unwrap();
        assert!(
            lock(&keys.inner.state)
                .leases
                .values()
                .all(|n| n.load(Ordering::SeqCst) == 0),
            "every lease released"
        );
        drop(keys);
        let keys = KeyStore::open(&store, master).unwrap();
        for (subject, key) in &created {
            assert_eq!(
                keys.key_of(subject).unwrap().as_ref(),
                Some(key),
                "{subject}"
            );
        }
        for subject in &doomed {
            assert!(keys.key_of(subject).unwrap().is_none(), "{subject}");
        }
    }

    /// A key whose first append failed, granted again while an erasure destroys its
    /// epoch (after the erasure stopped waiting for leases), is written in the current
    /// epoch, not the dying one: it survives the erasure and a reopening.
    #[test]
    fn a_key_granted_again_during_an_erasure_is_written_in_the_current_epoch() {
        let (_dir, store) = store();
        let master = SecretKey::random();
        let keys = KeyStore::open(&store, master.clone()).unwrap();
        create(&store, &keys, "p.GONE");
        let failed = keys.grant(&["p.RETRY".into()]).unwrap();
        let retry = failed.key("p.RETRY").unwrap().clone();
        drop(failed); // its append failed
        let (first, spare) = current_and_spare(&keys);
        {
            // Where an erasure of p.GONE stands after its wait: the first epoch is
            // retiring.
            let mut state = lock(&keys.inner.state);
            keys.hand_over(&mut state).unwrap();
            state.retiring = Some((first, "p.GONE".into()));
        }
        let again = keys.grant(&["p.RETRY".into(), "p.GONE".into()]).unwrap();
        assert_eq!(*again.key("p.RETRY").unwrap(), retry, "the same key");
        let entries = decode_entries(&again.side).unwrap();
        let epochs: Vec<(&str, u32)> = entries
            .iter()
            .filter_map(|e| match e {
                Entry::Key(subject, record) => Some((subject.as_str(), record.epoch)),
                Entry::Tombstone(_) => None,
            })
            .collect();
        assert_eq!(epochs, vec![("p.RETRY", spare)], "moved; GONE is durable");
        write(&store, again);
        assert!(keys.erase("p.GONE").unwrap());
        drop(keys);
        let keys = KeyStore::open(&store, master).unwrap();
        assert_eq!(keys.key_of("p.RETRY").unwrap(), Some(retry));
        assert!(keys.key_of("p.GONE").unwrap().is_none());
    }

    /// An erasure waits for keys of its epoch that are on their way to the disk, and
    /// re-wraps them too: a key granted just before an erasure still opens after it.
    #[test]
    fn an_erasure_waits_for_keys_of_its_epoch_being_written() {
        let (_dir, store) = store();
        let keys = KeyStore::open(&store, SecretKey::random()).unwrap();
        create(&store, &keys, "p.GONE");
        let grant = keys.grant(&["p.BUSY".into()]).unwrap();
        let busy = grant.key("p.BUSY").unwrap().clone();
        let erasing = {
            let keys = keys.clone();
            std::thread::spawn(move || keys.erase("p.GONE").unwrap())
        };
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert!(!erasing.is_finished(), "waits for the lease");
        write(&store, grant);
        assert!(erasing.join().unwrap());
        assert_eq!(keys.key_by_id(&busy.key_id).unwrap().held(), Some(busy.key));
    }
}
