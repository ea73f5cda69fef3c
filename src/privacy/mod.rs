//! Personal data protection: every personal value is sealed (encrypted) before its event
//! is appended, with the data key of its data subject, and can be erased by destroying
//! that key — crypto-shredding — without touching the immutable, hash-chained log.
//!
//! | module | owns |
//! |---|---|
//! | [`sealed`] | the sealed form of one value (`pd:v1:…`): XChaCha20-Poly1305, bound to its event and field |
//! | [`keys`] | the key store: master key → epoch keys → one data key per subject; erasure that leaves nothing recoverable; rotation |
//! | [`fields`] | which values are personal, from the event schemas (`x-personal-data`) |
//!
//! Who is a data subject: the passenger an event is about, or for feedback from someone
//! not identified, the signal itself ([`crate::domain::common::DataSubject`]; each
//! aggregate names it for its events). The chain covers the sealed form, so `verify`,
//! exports and an outside recomputation are unchanged by sealing and by erasure.
//!
//! Reading: only callers allowed personal data get plaintext ([`Privacy::reveal`]), in
//! what they receive; everyone else gets the sealed form, which an auditor can hash but
//! not read. A value whose key was erased reads as [`ERASED`].

pub mod fields;
pub mod keys;
pub mod sealed;

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;
use uuid::Uuid;

use fields::PersonalPaths;
pub use keys::{DataKey, EpochEntry, KeyError, KeyGrant, KeyStore, Lookup, join_sides};
use sealed::{Sealed, SecretKey, Unopened};

use crate::domain::common::DataSubject;
use crate::store::SledStore;

/// What an erased value reads as.
pub const ERASED: &str = "[erased]";
/// What a value that does not authenticate (tampered, or moved) reads as.
pub const UNREADABLE: &str = "[unreadable]";
/// What a value reads as where its key is not held: a log restored without its keys, or
/// on a node of a cluster whose epoch has not arrived yet.
pub const UNAVAILABLE: &str = "[unavailable]";

/// Why personal data could not be sealed.
#[derive(Debug, thiserror::Error)]
pub enum PrivacyError {
    /// A bug: an event carries personal data but its aggregate names no data subject.
    #[error("{event_type} carries personal data but names no data subject")]
    NoSubject { event_type: String },
    #[error(transparent)]
    Keys(#[from] KeyError),
}

/// Sealing, revealing and erasing personal data of one data directory.
#[derive(Clone)]
pub struct Privacy {
    keys: KeyStore,
    /// Where the event types that can carry personal data carry it, by type and version.
    schemas: Arc<HashMap<String, HashMap<u32, PersonalPaths>>>,
    /// False only in [`Privacy::unsealed_for_benchmark`].
    sealing: bool,
}

impl std::fmt::Debug for Privacy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Privacy")
    }
}

impl Privacy {
    /// Opens the key store of `store`'s data directory under `master`.
    pub fn open(store: &SledStore, master: SecretKey) -> Result<Privacy, KeyError> {
        let mut schemas: HashMap<String, HashMap<u32, PersonalPaths>> = HashMap::new();
        for (event_type, version, schema) in crate::domain::schemas::event_schemas() {
            let paths = PersonalPaths::compile(&schema.to_value());
            if !paths.is_empty() {
                schemas
                    .entry(event_type.to_owned())
                    .or_default()
                    .insert(version, paths);
            }
        }
        Ok(Privacy {
            keys: KeyStore::open(store, master)?,
            schemas: Arc::new(schemas),
            sealing: true,
        })
    }

    /// A key store under a random master key (tests and benchmarks).
    pub fn ephemeral(store: &SledStore) -> Privacy {
        Privacy::open(store, SecretKey::random()).expect("a fresh key store opens")
    }

    /// A key store that seals nothing: personal data is appended in plain text, as it
    /// was before sealing. Only `bench pipeline --sealing-cost` uses it, to measure the
    /// same pipeline with and without sealing in one run; `serve` cannot.
    pub fn unsealed_for_benchmark(store: &SledStore) -> Privacy {
        Privacy {
            sealing: false,
            ..Privacy::ephemeral(store)
        }
    }

    pub fn keys(&self) -> &KeyStore {
        &self.keys
    }

    /// Whether events of this type and version can carry personal data.
    pub fn has_personal_data(&self, event_type: &str, version: u32) -> bool {
        self.sealing && self.schema(event_type, version).is_some()
    }

    fn schema(&self, event_type: &str, version: u32) -> Option<&PersonalPaths> {
        self.schemas.get(event_type)?.get(&version)
    }

    /// The data keys of `subjects` (created where missing), leased until the grant is
    /// dropped: append [`KeyGrant::side`] with the events they seal, and call
    /// [`KeyGrant::written`] once that append is stored.
    pub fn keys_for(&self, subjects: &[DataSubject]) -> Result<KeyGrant, PrivacyError> {
        let names: Vec<String> = subjects.iter().map(DataSubject::key_subject).collect();
        Ok(self.keys.grant(&names)?)
    }

    /// Seals every personal value of `data` (an event `event_id` of `event_type`) with
    /// `key`, its data subject's (from [`Privacy::keys_for`]).
    pub fn seal(
        &self,
        event_type: &str,
        version: u32,
        event_id: Uuid,
        key: Option<&keys::DataKey>,
        data: &mut Value,
    ) -> Result<(), PrivacyError> {
        let Some(paths) = self.schema(event_type, version).filter(|_| self.sealing) else {
            return Ok(());
        };
        let mut missing_key = false;
        paths.for_each(data, &mut |pointer, value| {
            if value.as_str().is_some_and(sealed::is_sealed) {
                return;
            }
            let Some(key) = key else {
                missing_key = true;
                return;
            };
            let plaintext = serde_json::to_vec(value).expect("a JSON value serializes");
            *value = Value::String(sealed::seal(
                &key.key,
                &key.key_id,
                event_id,
                pointer,
                &plaintext,
            ));
        });
        if missing_key {
            return Err(PrivacyError::NoSubject {
                event_type: event_type.to_owned(),
            });
        }
        Ok(())
    }

    /// Opens every sealed value in `value` in place: its plaintext, [`ERASED`] when its
    /// key was destroyed, [`UNAVAILABLE`] when this store never held its key,
    /// [`UNREADABLE`] when it does not authenticate. With `event_id` (an envelope's data)
    /// a value sealed for another event or field is unreadable.
    pub fn reveal(&self, value: &mut Value, event_id: Option<Uuid>) {
        fields::for_each_string(value, &mut |pointer, text| {
            let Some(string) = text.as_str() else { return };
            let Some(sealed) = Sealed::parse(string) else {
                return;
            };
            let expected = event_id.map(|id| (id, pointer));
            let opened = match self.keys.key_by_id(sealed.key_id) {
                Ok(Lookup::Held(key)) => sealed::open(&sealed, &key, expected),
                Ok(Lookup::Erased) => Err(Unopened::Erased),
                Ok(Lookup::Unknown) => Err(Unopened::Unavailable),
                Err(err) => {
                    tracing::warn!(cause = %err, "a data key cannot be read");
                    Err(Unopened::Tampered)
                }
            };
            *text = match opened {
                Ok(plain) => serde_json::from_slice(&plain)
                    .unwrap_or_else(|_| Value::String(UNREADABLE.to_owned())),
                Err(Unopened::Erased) => Value::String(ERASED.to_owned()),
                Err(Unopened::Unavailable) => Value::String(UNAVAILABLE.to_owned()),
                Err(Unopened::Tampered) => Value::String(UNREADABLE.to_owned()),
            };
        });
    }

    /// Destroys `subject`'s data key (see [`keys`]); true if it had one.
    pub fn erase(&self, subject: &DataSubject) -> Result<bool, KeyError> {
        self.keys.erase(&subject.key_subject())
    }

    /// [`KeyStore::erase_with`]: `write` may append the erasure's side record with an
    /// event.
    pub fn erase_with(
        &self,
        subject: &DataSubject,
        write: impl FnOnce(Vec<u8>) -> Result<bool, KeyError>,
    ) -> Result<bool, KeyError> {
        self.keys.erase_with(&subject.key_subject(), write)
    }
}

/// Replaces every sealed value in `value` by `with` (views for callers without
/// personal-data rights, where the sealed form would only be noise).
pub fn conceal(value: &mut Value, with: &str) {
    fields::for_each_string(value, &mut |_, text| {
        if text.as_str().is_some_and(sealed::is_sealed) {
            *text = Value::String(with.to_owned());
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::common::PassengerId;
    use crate::store::StoreConfig;
    use serde_json::json;

    #[tokio::test]
    async fn personal_values_are_sealed_by_schema_revealed_in_their_event_and_erased_with_their_key()
     {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(StoreConfig::new(dir.path())).unwrap();
        let privacy = Privacy::ephemeral(&store);
        let subject = DataSubject::Passenger(PassengerId("FF1".into()));
        let event_id = Uuid::now_v7();
        let original = json!({"passenger_id": "FF1", "tier": "gold",
            "contact": {"name": "Ada Lovelace", "email": "ada@example.org", "phone": null, "language": "en-GB"},
            "consent": {"email": true, "sms": false, "phone": false, "app_push": false}});
        let mut data = original.clone();
        let grant = privacy.keys_for(std::slice::from_ref(&subject)).unwrap();
        let key = grant.key(&subject.key_subject()).cloned();
        privacy
            .seal("passenger.registered", 1, event_id, key.as_ref(), &mut data)
            .unwrap();
        let append = crate::store::AppendRequest::default().with_side(grant.side.clone());
        store.append(append).await.unwrap();
        grant.written();
        let text = data.to_string();
        assert!(
            !text.contains("Ada") && !text.contains("example.org"),
            "{text}"
        );
        assert!(
            data["contact"]["name"]
                .as_str()
                .unwrap()
                .starts_with("pd:v1:p.FF1~")
        );
        assert_eq!(data["contact"]["phone"], Value::Null);
        assert_eq!(data["contact"]["language"], "en-GB", "not personal: kept");
        let mut revealed = data.clone();
        privacy.reveal(&mut revealed, Some(event_id));
        assert_eq!(revealed, original);
        // Read as another event's data: unreadable.
        let mut moved = data.clone();
        privacy.reveal(&mut moved, Some(Uuid::now_v7()));
        assert_eq!(moved["contact"]["name"], UNREADABLE);
        // A field moved inside the event: unreadable too.
        let mut swapped = data.clone();
        swapped["contact"]["name"] = data["contact"]["email"].clone();
        privacy.reveal(&mut swapped, Some(event_id));
        assert_eq!(swapped["contact"]["name"], UNREADABLE);
        assert_eq!(swapped["contact"]["email"], "ada@example.org");
        // Where its key was never held (another node's store): unavailable, not erased.
        let elsewhere = tempfile::tempdir().unwrap();
        let elsewhere = SledStore::open(StoreConfig::new(elsewhere.path())).unwrap();
        let mut there = data.clone();
        Privacy::ephemeral(&elsewhere).reveal(&mut there, Some(event_id));
        assert_eq!(there["contact"]["name"], UNAVAILABLE);

        let erasing = privacy.clone();
        let erase = subject.clone();
        assert!(
            tokio::task::spawn_blocking(move || erasing.erase(&erase).unwrap())
                .await
                .unwrap()
        );
        let mut erased = data.clone();
        privacy.reveal(&mut erased, Some(event_id));
        assert_eq!(erased["contact"]["name"], ERASED);
        assert_eq!(erased["tier"], "gold");

        let mut no_subject = original.clone();
        assert!(matches!(
            privacy.seal("passenger.registered", 1, event_id, None, &mut no_subject),
            Err(PrivacyError::NoSubject { .. })
        ));
        let mut plain = json!({"incident_id": "x"});
        privacy
            .seal("incident.opened", 1, event_id, None, &mut plain)
            .unwrap();
        assert_eq!(
            plain,
            json!({"incident_id": "x"}),
            "no personal data: untouched"
        );
    }
}
