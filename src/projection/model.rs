//! The read side's interface: a [`ReadModel`] handle with typed reads over one model's
//! keys and its checkpoint, and [`ModelError`] for what can go wrong reading or applying.
//! HTTP, the reactors and the views read models only through it, so a model's storage
//! can change (memory with snapshots, another layout) without touching them.

use std::ops::RangeBounds;

use serde::de::DeserializeOwned;

use crate::domain::DomainEvent;
use crate::store::{RecordedEvent, SledStore, StoreError};

/// Why a read model could not be read, or an event not applied to it.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The model's storage failed (disk, I/O): worth retrying, or see the log.
    #[error("the read model's storage failed: {0}")]
    Storage(#[from] sled::Error),
    /// A stored value does not decode: the model is damaged or from another build;
    /// `crisisd rebuild <projection>` rebuilds it from the log.
    #[error(
        "a stored read-model value does not decode ({0}); `crisisd rebuild` rebuilds the model"
    )]
    Corrupt(#[from] serde_json::Error),
    /// What the event or the model says breaks the model's rules (a bug or a newer
    /// event schema).
    #[error("{0}")]
    Invalid(String),
}

impl From<crate::domain::EventDecodeError> for ModelError {
    fn from(err: crate::domain::EventDecodeError) -> Self {
        ModelError::Invalid(err.to_string())
    }
}

impl From<std::string::FromUtf8Error> for ModelError {
    fn from(err: std::string::FromUtf8Error) -> Self {
        ModelError::Invalid(format!("a model key is not UTF-8: {err}"))
    }
}

impl From<uuid::Error> for ModelError {
    fn from(err: uuid::Error) -> Self {
        ModelError::Invalid(format!("a model key holds no uuid: {err}"))
    }
}

/// `event`'s data as the aggregate's event enum `E`, decoded once for every model that
/// reads the same copy of the event ([`crate::store::DecodedData`]).
pub fn decoded<E>(event: &RecordedEvent) -> Result<E, crate::domain::EventDecodeError>
where
    E: DomainEvent + Clone + Send + Sync + 'static,
{
    event
        .decoded
        .get_or_decode(|| E::from_data(&event.event_type, event.schema_version, event.data.get()))
}

/// One read model's stored state, for reading.
#[derive(Debug, Clone)]
pub struct ReadModel {
    tree: sled::Tree,
}

impl ReadModel {
    /// The model called `name` in `store` (empty when it was never built).
    pub fn open(store: &SledStore, name: &str) -> Result<ReadModel, StoreError> {
        Ok(ReadModel {
            tree: store.model_tree(name)?,
        })
    }

    /// A model kept in a tree of its own (a what-if replay's scratch tree).
    pub(crate) fn from_tree(tree: sled::Tree) -> ReadModel {
        ReadModel { tree }
    }

    /// The value stored under `key`, decoded.
    pub fn get<T: DeserializeOwned>(&self, key: impl AsRef<[u8]>) -> Result<Option<T>, ModelError> {
        match self.tree.get(key)? {
            Some(bytes) => Ok(Some(serde_json::from_slice(&bytes)?)),
            None => Ok(None),
        }
    }

    /// The raw bytes stored under `key` (models that store more than JSON).
    pub fn get_bytes(&self, key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>, ModelError> {
        Ok(self.tree.get(key)?.map(|bytes| bytes.to_vec()))
    }

    /// Keys and decoded values in `range`, in key order (reversible).
    pub fn range<K, R, T>(
        &self,
        range: R,
    ) -> impl DoubleEndedIterator<Item = Result<(Vec<u8>, T), ModelError>> + use<K, R, T>
    where
        K: AsRef<[u8]>,
        R: RangeBounds<K>,
        T: DeserializeOwned,
    {
        self.tree.range(range).map(decode_entry)
    }

    /// Keys in `range`, in key order (reversible), without decoding their values.
    pub fn keys<K, R>(
        &self,
        range: R,
    ) -> impl DoubleEndedIterator<Item = Result<Vec<u8>, ModelError>> + use<K, R>
    where
        K: AsRef<[u8]>,
        R: RangeBounds<K>,
    {
        self.tree
            .range(range)
            .map(|entry| Ok(entry.map(|(key, _)| key.to_vec())?))
    }

    /// Keys under `prefix`, in key order, without decoding their values.
    pub fn prefix_keys<P: AsRef<[u8]>>(
        &self,
        prefix: P,
    ) -> impl DoubleEndedIterator<Item = Result<Vec<u8>, ModelError>> + use<P> {
        self.tree
            .scan_prefix(prefix)
            .map(|entry| Ok(entry.map(|(key, _)| key.to_vec())?))
    }

    /// Keys and decoded values under `prefix`, in key order (reversible).
    pub fn prefix<P: AsRef<[u8]>, T: DeserializeOwned>(
        &self,
        prefix: P,
    ) -> impl DoubleEndedIterator<Item = Result<(Vec<u8>, T), ModelError>> + use<P, T> {
        self.tree.scan_prefix(prefix).map(decode_entry)
    }

    /// The last log position the model has applied (0 for a new model).
    pub fn applied_position(&self) -> Result<u64, StoreError> {
        super::runtime::applied_position(&self.tree)
    }
}

fn decode_entry<T: DeserializeOwned>(
    entry: sled::Result<(sled::IVec, sled::IVec)>,
) -> Result<(Vec<u8>, T), ModelError> {
    let (key, value) = entry?;
    Ok((key.to_vec(), serde_json::from_slice(&value)?))
}
