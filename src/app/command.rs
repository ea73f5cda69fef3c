//! Command handling: load an aggregate's stream, `decide`, append the new events with the
//! version that was decided on.
//!
//! - A concurrent writer makes the append conflict: the handler reloads and decides again,
//!   at most [`COMMAND_ATTEMPTS_MAX`] times. With an `If-Match` version it does not retry:
//!   the caller decided against that version, so a conflict is theirs to see.
//! - An idempotency key makes the event ids deterministic (UUID v5 of stream, key and
//!   index), so a retried command finds its events already stored and gets the original
//!   positions back instead of writing a second set.
//! - A key is bound to its request by a fingerprint (a BLAKE3 hash of the request the
//!   caller made): the events record the request's id as their `causation_id`, UUID v5
//!   of key and fingerprint. The same key with another request finds events caused by
//!   another request and is refused ([`CommandError::IdempotencyKeyReused`]), never
//!   answered with the first request's result while its own is dropped. The check
//!   lives in the events themselves, so it holds across crashes and restarts.
//! - A refusal by the domain is returned as a value, naming the rule.
//! - Personal data is sealed on the way in: each event's personal values are encrypted
//!   with the key of the data subject its aggregate names (on the state before the
//!   event) before the append, in the caller's task ([`Journal`]).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::common::{Actor as DomainActor, DataSubject};
use crate::domain::{Aggregate, Context, DomainEvent, EventDecodeError};
use crate::privacy::{KeyGrant, Privacy, PrivacyError};
use crate::store::{
    Actor, AppendError, AppendRequest, Committed, Direction, ExpectedVersion, NewEvent, SledStore,
    StoreError, StreamAppend,
};

/// Where commands write: the event store, and the key store that seals personal data
/// before it is appended. Reads go to the store directly ([`Journal::store`]).
#[derive(Clone, Debug)]
pub struct Journal {
    store: SledStore,
    privacy: Privacy,
}

impl Journal {
    pub fn new(store: SledStore, privacy: Privacy) -> Self {
        Journal { store, privacy }
    }

    pub fn store(&self) -> &SledStore {
        &self.store
    }

    pub fn privacy(&self) -> &Privacy {
        &self.privacy
    }

    /// A journal whose key store has a random master key (tests and benchmarks).
    pub fn ephemeral(store: SledStore) -> Self {
        let privacy = Privacy::ephemeral(&store);
        Journal { store, privacy }
    }

    /// A journal that does not seal personal data ([`Privacy::unsealed_for_benchmark`]).
    pub fn unsealed_for_benchmark(store: SledStore) -> Self {
        let privacy = Privacy::unsealed_for_benchmark(&store);
        Journal { store, privacy }
    }
}

/// Decide-and-append attempts before giving up on a contended stream.
pub const COMMAND_ATTEMPTS_MAX: u32 = 10;
/// Events read per page when loading a stream.
const LOAD_PAGE_EVENTS: usize = 1_000;
/// Namespace of the UUID v5 event ids derived from idempotency keys.
const IDEMPOTENCY_NAMESPACE: Uuid = Uuid::from_u128(0x6a1f_3c8e_52d4_4b0f_9e21_c7d3_0b8a_4e15);
/// Namespace of request ids: UUID v5 of an idempotency key and its request's fingerprint.
const REQUEST_NAMESPACE: Uuid = Uuid::from_u128(0x91d2_4e6b_0c7a_4f38_b5e1_2a9c_6d03_7f4e);

/// Who issues a command, when, and how it relates to others.
#[derive(Debug, Clone)]
pub struct CommandMeta {
    pub actor: DomainActor,
    pub now: DateTime<Utc>,
    /// Defaults to the first new event's id.
    pub correlation_id: Option<Uuid>,
    /// Defaults to the first new event's id.
    pub causation_id: Option<Uuid>,
    /// Same key, same stream → same result, never a second set of events.
    pub idempotency_key: Option<String>,
    /// With a key: what the request was (a hash of its content). The same key with
    /// another fingerprint is refused as a reused key.
    pub request_fingerprint: Option<[u8; 32]>,
    /// `If-Match`: the stream version the caller decided against.
    pub expected_version: Option<u64>,
}

impl CommandMeta {
    pub fn new(actor: DomainActor, now: DateTime<Utc>) -> Self {
        CommandMeta {
            actor,
            now,
            correlation_id: None,
            causation_id: None,
            idempotency_key: None,
            request_fingerprint: None,
            expected_version: None,
        }
    }

    /// The id of the request that a keyed, fingerprinted command carries out: recorded
    /// as the `causation_id` of its events.
    pub fn request_id(&self) -> Option<Uuid> {
        let (key, fingerprint) = (self.idempotency_key.as_ref()?, self.request_fingerprint?);
        let mut name = Vec::with_capacity(key.len() + 33);
        name.extend_from_slice(key.as_bytes());
        name.push(b'\n');
        name.extend_from_slice(&fingerprint);
        Some(Uuid::new_v5(&REQUEST_NAMESPACE, &name))
    }
}

/// The fingerprint of a request's content: BLAKE3 of its canonical JSON (RFC 8785), so
/// key order and whitespace do not make two requests differ.
pub fn fingerprint(request: &serde_json::Value) -> [u8; 32] {
    let canonical = crate::store::codec::canonical_without_floats(request)
        .map(String::into_bytes)
        .or_else(|| serde_json_canonicalizer::to_vec(request).ok())
        .unwrap_or_else(|| request.to_string().into_bytes());
    *blake3::hash(&canonical).as_bytes()
}

/// The result of a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Executed {
    pub stream: String,
    /// The stream's version after the command.
    pub stream_version: u64,
    /// Global position of the last new event (or the stream's last, if none was new).
    pub position: u64,
    pub events: Vec<Committed>,
    /// True when an idempotent retry found the original events.
    pub duplicate: bool,
}

/// Why a command did not produce events.
#[derive(Debug, thiserror::Error)]
pub enum CommandError<E: std::error::Error> {
    /// The domain refused: show the rule to the caller (HTTP 422).
    #[error("refused: {0}")]
    Refused(E),
    /// `If-Match` named another version (HTTP 412): reload and decide again.
    #[error("stream {stream} is at {}, not version {expected}: reload it and decide again", actual.map_or("no version".to_owned(), |v| format!("version {v}")))]
    PreconditionFailed {
        stream: String,
        expected: u64,
        actual: Option<u64>,
    },
    /// Other writers kept winning (HTTP 409): retry later.
    #[error("stream {stream} changed under every one of {attempts} attempts; retry later")]
    Contended { stream: String, attempts: u32 },
    /// The idempotency key was used before for another request (another body, or a
    /// command that produced other events): use a new key for a new request.
    #[error(
        "this idempotency key was already used on {stream} for a different request; send the original request again to get its result, or use a new key"
    )]
    IdempotencyKeyReused { stream: String, key: String },
    /// A stored event of the stream cannot be decoded by this build.
    #[error("event at position {position} of {stream} cannot be read: {source}")]
    Undecodable {
        stream: String,
        position: u64,
        source: EventDecodeError,
    },
    #[error(transparent)]
    Append(AppendError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Personal data could not be sealed (the key store failed): nothing was stored.
    #[error("personal data cannot be sealed: {0}")]
    Privacy(#[from] PrivacyError),
}

/// Rebuilds an aggregate from its stream: the state and its version (`None`: no stream).
pub fn load<A: Aggregate>(
    store: &SledStore,
    stream: &str,
) -> Result<(A, Option<u64>), CommandError<A::Error>> {
    load_as_of(store, stream, None)
}

/// Like [`load`], from the events recorded at or before `as_of` only (`None`: all):
/// the state as crisisd knew it at that instant.
pub fn load_as_of<A: Aggregate>(
    store: &SledStore,
    stream: &str,
    as_of: Option<DateTime<Utc>>,
) -> Result<(A, Option<u64>), CommandError<A::Error>> {
    let mut state = A::default();
    let mut version = None;
    loop {
        let from = version.map_or(1, |v| v + 1);
        let page = store.read_stream(stream, from, Direction::Forward, LOAD_PAGE_EVENTS)?;
        for recorded in &page {
            if as_of.is_some_and(|t| recorded.recorded_at > t) {
                return Ok((state, version));
            }
            let event = A::Event::from_data(
                &recorded.event_type,
                recorded.schema_version,
                recorded.data.get(),
            )
            .map_err(|source| CommandError::Undecodable {
                stream: stream.to_owned(),
                position: recorded.position,
                source,
            })?;
            state = state.evolve(&event);
            version = Some(recorded.stream_version);
        }
        if page.len() < LOAD_PAGE_EVENTS {
            return Ok((state, version));
        }
    }
}

/// Loads, decides and appends, retrying conflicts as the module docs describe.
pub async fn execute<A: Aggregate>(
    journal: &Journal,
    stream: &str,
    command: &A::Command,
    meta: &CommandMeta,
) -> Result<Executed, CommandError<A::Error>> {
    execute_all::<A>(journal, stream, std::slice::from_ref(command), meta).await
}

/// Decides several commands in order, each on the state the previous ones produced,
/// and appends all their events atomically (one append, one version check). Used where
/// one input means several commands, e.g. a flight-ops message.
pub async fn execute_all<A: Aggregate>(
    journal: &Journal,
    stream: &str,
    commands: &[A::Command],
    meta: &CommandMeta,
) -> Result<Executed, CommandError<A::Error>> {
    execute_with_side::<A>(journal, stream, commands, meta, &[]).await
}

/// [`execute_all`], appending the key store's side record `side` with the events (an
/// erasure's: see [`crate::privacy::KeyStore::erase_with`]).
pub async fn execute_with_side<A: Aggregate>(
    journal: &Journal,
    stream: &str,
    commands: &[A::Command],
    meta: &CommandMeta,
    side: &[u8],
) -> Result<Executed, CommandError<A::Error>> {
    let store = journal.store();
    let ctx = Context::new(meta.now, meta.actor.clone());
    for attempt in 0..COMMAND_ATTEMPTS_MAX {
        if attempt > 0 {
            // Let the winner's batch land before reloading (bounded: at most 45 ms in all).
            tokio::time::sleep(std::time::Duration::from_millis(u64::from(attempt))).await;
        }
        // A keyed command already carried out is answered from its stored events.
        if let Some(executed) = stored_outcome(store, stream, meta).await? {
            return Ok(executed);
        }
        let (state, version) = load::<A>(store, stream)?;
        if let Some(expected) = meta.expected_version
            && version != Some(expected)
            && meta.idempotency_key.is_none()
        {
            return Err(CommandError::PreconditionFailed {
                stream: stream.to_owned(),
                expected,
                actual: version,
            });
        }
        let decided = match decide_all(state, commands, &ctx) {
            Ok(events) => events,
            // A retried command whose events are stored may now be refused by the
            // state it produced itself: the stored outcome answers it instead.
            Err(refusal) => match stored_outcome(store, stream, meta).await? {
                Some(executed) => return Ok(executed),
                None => return Err(CommandError::Refused(refusal)),
            },
        };
        if decided.is_empty() {
            let position = store
                .read_stream(stream, u64::MAX, Direction::Backward, 1)?
                .first()
                .map_or(0, |e| e.position);
            return Ok(Executed {
                stream: stream.to_owned(),
                stream_version: version.unwrap_or(0),
                position,
                events: Vec::new(),
                duplicate: false,
            });
        }
        let expected = match (meta.expected_version, version) {
            (Some(v), _) => ExpectedVersion::Exact(v),
            (None, Some(v)) => ExpectedVersion::Exact(v),
            (None, None) => ExpectedVersion::NoStream,
        };
        let (events, grant) = new_events(stream, &decided, meta, journal.privacy())?;
        let request = AppendRequest::single(stream, expected, events)
            .with_side(crate::privacy::join_sides(&grant.side, side));
        match store.append(request).await {
            Ok(outcome) if outcome.duplicate => {
                // Another delivery of a keyed command won the race; its events answer
                // this one, if it was the same request.
                if let Some(executed) = stored_outcome(store, stream, meta).await? {
                    return Ok(executed);
                }
                return Err(CommandError::IdempotencyKeyReused {
                    stream: stream.to_owned(),
                    key: meta.idempotency_key.clone().unwrap_or_default(),
                });
            }
            Ok(outcome) => {
                grant.written();
                let last = outcome.events.last().expect("an append has events");
                return Ok(Executed {
                    stream: stream.to_owned(),
                    stream_version: last.stream_version,
                    position: last.position,
                    duplicate: outcome.duplicate,
                    events: outcome.events,
                });
            }
            Err(AppendError::WrongExpectedVersion { actual, .. })
                if meta.expected_version.is_some() =>
            {
                if let Some(executed) = stored_outcome(store, stream, meta).await? {
                    return Ok(executed);
                }
                return Err(CommandError::PreconditionFailed {
                    stream: stream.to_owned(),
                    expected: meta.expected_version.unwrap_or(0),
                    actual,
                });
            }
            Err(AppendError::WrongExpectedVersion { .. }) => continue,
            Err(AppendError::PartiallyStored { .. }) => {
                return Err(CommandError::IdempotencyKeyReused {
                    stream: stream.to_owned(),
                    key: meta.idempotency_key.clone().unwrap_or_default(),
                });
            }
            Err(other) => return Err(CommandError::Append(other)),
        }
    }
    Err(CommandError::Contended {
        stream: stream.to_owned(),
        attempts: COMMAND_ATTEMPTS_MAX,
    })
}

/// What `command` decides on a new aggregate, to create `stream` in one atomic append
/// with other streams ([`Pending::sealed`] gives its events the ids and metadata
/// [`execute`] would): the streams' data subjects are granted their keys together.
pub fn creating<A: Aggregate>(
    stream: &str,
    command: &A::Command,
    meta: &CommandMeta,
) -> Result<Pending<A::Event>, A::Error> {
    let ctx = Context::new(meta.now, meta.actor.clone());
    Pending::decide(
        stream,
        A::default(),
        None,
        std::slice::from_ref(command),
        &ctx,
    )
}

/// An event decided, with the data subject whose key seals its personal data.
type Decided<E> = (E, Option<DataSubject>);

/// Decides `commands` in order on the evolving state; each event with the data subject
/// its aggregate names on the state before it.
fn decide_all<A: Aggregate>(
    mut state: A,
    commands: &[A::Command],
    ctx: &Context,
) -> Result<Vec<Decided<A::Event>>, A::Error> {
    let mut all = Vec::new();
    for command in commands {
        let events = state.decide(command, ctx)?;
        for event in events {
            let subject = state.data_subject(&event);
            state = state.evolve(&event);
            all.push((event, subject));
        }
    }
    Ok(all)
}

/// With an idempotency key, the events a previous run of this command stored, if any;
/// refused when they were caused by another request (another fingerprint).
async fn stored_outcome<E: std::error::Error>(
    store: &SledStore,
    stream: &str,
    meta: &CommandMeta,
) -> Result<Option<Executed>, CommandError<E>> {
    let Some(key) = &meta.idempotency_key else {
        return Ok(None);
    };
    let mut events = Vec::new();
    for index in 0.. {
        let Some(event) = store.read_event(&event_id(stream, key, index))? else {
            break;
        };
        if event.stream != stream {
            break;
        }
        // Events stored before requests were fingerprinted are caused by themselves:
        // nothing to compare them with, so they answer any request with their key.
        let recorded_before_fingerprints = event.causation_id == event.id;
        if index == 0
            && !recorded_before_fingerprints
            && meta
                .request_id()
                .is_some_and(|request| request != event.causation_id)
        {
            return Err(CommandError::IdempotencyKeyReused {
                stream: stream.to_owned(),
                key: key.clone(),
            });
        }
        events.push(Committed {
            id: event.id,
            stream: event.stream,
            stream_version: event.stream_version,
            position: event.position,
            hash: event.hash,
        });
    }
    let Some(last) = events.last().cloned() else {
        return Ok(None);
    };
    Ok(Some(Executed {
        stream: stream.to_owned(),
        stream_version: last.stream_version,
        position: last.position,
        events,
        duplicate: true,
    }))
}

fn new_events<E: DomainEvent>(
    stream: &str,
    decided: &[Decided<E>],
    meta: &CommandMeta,
    privacy: &Privacy,
) -> Result<(Vec<NewEvent>, KeyGrant), PrivacyError> {
    let mut subjects: Vec<DataSubject> = Vec::new();
    add_subjects(&mut subjects, decided, privacy);
    let grant = privacy.keys_for(&subjects)?;
    let events = sealed_events(stream, decided, meta, privacy, &grant)?;
    Ok((events, grant))
}

/// Adds the data subjects whose keys `decided` needs to seal its personal data.
fn add_subjects<E: DomainEvent>(
    subjects: &mut Vec<DataSubject>,
    decided: &[Decided<E>],
    privacy: &Privacy,
) {
    for (event, subject) in decided {
        if let Some(subject) = subject
            && privacy.has_personal_data(event.event_type(), event.schema_version())
            && !subjects.contains(subject)
        {
            subjects.push(subject.clone());
        }
    }
}

/// Events decided on one stream, waiting to be appended with others in one batch.
pub struct Pending<E> {
    stream: String,
    expected: ExpectedVersion,
    decided: Vec<Decided<E>>,
}

impl<E: DomainEvent> Pending<E> {
    /// Decides `commands` in order on `state` (at `version`) of `stream`.
    pub fn decide<A: Aggregate<Event = E>>(
        stream: &str,
        state: A,
        version: Option<u64>,
        commands: &[A::Command],
        ctx: &Context,
    ) -> Result<Self, A::Error> {
        Ok(Pending {
            stream: stream.to_owned(),
            expected: version.map_or(ExpectedVersion::NoStream, ExpectedVersion::Exact),
            decided: decide_all(state, commands, ctx)?,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.decided.is_empty()
    }

    /// Adds the data subjects whose keys this stream's events need.
    pub fn add_subjects(&self, subjects: &mut Vec<DataSubject>, privacy: &Privacy) {
        add_subjects(subjects, &self.decided, privacy);
    }

    /// The stream's append, its personal data sealed with `grant`'s keys, its event ids
    /// derived from `meta`'s idempotency key.
    pub fn sealed(
        &self,
        meta: &CommandMeta,
        privacy: &Privacy,
        grant: &KeyGrant,
    ) -> Result<StreamAppend, PrivacyError> {
        Ok(StreamAppend {
            stream: self.stream.clone(),
            expected: self.expected,
            events: sealed_events(&self.stream, &self.decided, meta, privacy, grant)?,
        })
    }
}

/// `decided`'s events for `stream`, with their ids and metadata, sealed with `grant`.
fn sealed_events<E: DomainEvent>(
    stream: &str,
    decided: &[Decided<E>],
    meta: &CommandMeta,
    privacy: &Privacy,
    grant: &KeyGrant,
) -> Result<Vec<NewEvent>, PrivacyError> {
    let ids: Vec<Uuid> = (0..decided.len())
        .map(|index| match &meta.idempotency_key {
            Some(key) => event_id(stream, key, index as u32),
            None => Uuid::now_v7(),
        })
        .collect();
    let correlation_id = meta.correlation_id.unwrap_or(ids[0]);
    let causation_id = meta
        .causation_id
        .or_else(|| meta.request_id())
        .unwrap_or(ids[0]);
    decided
        .iter()
        .zip(ids)
        .map(|((event, subject), id)| {
            let mut data = event.to_data();
            let (event_type, version) = (event.event_type(), event.schema_version());
            let key = subject.as_ref().and_then(|s| grant.key(&s.key_subject()));
            privacy.seal(event_type, version, id, key, &mut data)?;
            Ok(NewEvent {
                id,
                event_type: event_type.to_owned(),
                schema_version: version,
                occurred_at: meta.now,
                actor: store_actor(&meta.actor),
                correlation_id,
                causation_id,
                data,
            })
        })
        .collect()
}

/// The id of the `index`-th event a keyed command produces on `stream`.
pub fn event_id(stream: &str, key: &str, index: u32) -> Uuid {
    Uuid::new_v5(
        &IDEMPOTENCY_NAMESPACE,
        format!("{stream}\n{key}\n{index}").as_bytes(),
    )
}

/// The envelope's actor for a domain actor (role in snake_case, as in docs/architecture.md "Roles").
pub fn store_actor(actor: &DomainActor) -> Actor {
    let role = serde_json::to_value(actor.role)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    Actor {
        id: actor.id.clone(),
        role,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::common::Role;
    use crate::store::{SledStore, StoreConfig};

    /// A counter that refuses to pass 10: enough to exercise every path of the handler.
    #[derive(Debug, Default, Clone)]
    struct Counter {
        total: u32,
    }

    #[derive(Debug, Clone, PartialEq)]
    enum Counted {
        Incremented { by: u32 },
    }

    #[derive(Debug, thiserror::Error)]
    #[error("the total may not pass 10 (it is {total})")]
    struct LimitReached {
        total: u32,
    }

    impl DomainEvent for Counted {
        fn event_type(&self) -> &'static str {
            "counter.incremented"
        }
        fn schema_version(&self) -> u32 {
            1
        }
        fn to_data(&self) -> serde_json::Value {
            let Counted::Incremented { by } = self;
            serde_json::json!({ "by": by })
        }
        fn from_data(
            event_type: &str,
            _version: u32,
            data: &str,
        ) -> Result<Self, EventDecodeError> {
            let value: serde_json::Value = serde_json::from_str(data).unwrap();
            match event_type {
                "counter.incremented" => Ok(Counted::Incremented {
                    by: value["by"].as_u64().unwrap() as u32,
                }),
                other => Err(EventDecodeError::UnknownType {
                    event_type: other.to_owned(),
                }),
            }
        }
    }

    impl Aggregate for Counter {
        type Command = u32;
        type Event = Counted;
        type Error = LimitReached;
        fn decide(&self, by: &u32, _ctx: &Context) -> Result<Vec<Counted>, LimitReached> {
            match by {
                0 => Ok(vec![]),
                by if self.total + by > 10 => Err(LimitReached { total: self.total }),
                by => Ok(vec![Counted::Incremented { by: *by }]),
            }
        }
        fn evolve(self, event: &Counted) -> Self {
            let Counted::Incremented { by } = event;
            Counter {
                total: self.total + by,
            }
        }
    }

    fn meta() -> CommandMeta {
        CommandMeta::new(
            DomainActor {
                id: "agent-1".into(),
                role: Role::Agent,
            },
            Utc::now(),
        )
    }

    fn store() -> (tempfile::TempDir, Journal) {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(StoreConfig::new(dir.path())).unwrap();
        (dir, Journal::ephemeral(store))
    }

    #[tokio::test]
    async fn commands_append_decided_events_with_actor_and_correlation() {
        let (_dir, journal) = store();
        let store = journal.store().clone();
        let first = execute::<Counter>(&journal, "counter-1", &3, &meta())
            .await
            .unwrap();
        assert_eq!(
            (first.stream_version, first.position, first.duplicate),
            (1, 1, false)
        );
        let second = execute::<Counter>(&journal, "counter-1", &4, &meta())
            .await
            .unwrap();
        assert_eq!(second.stream_version, 2);
        let (state, version) = load::<Counter>(&store, "counter-1").unwrap();
        assert_eq!((state.total, version), (7, Some(2)));
        let stored = store.read_all(1, 10).unwrap();
        assert_eq!(
            stored[1].actor,
            Actor {
                id: "agent-1".into(),
                role: "agent".into()
            }
        );
        assert_eq!(
            stored[1].correlation_id, stored[1].id,
            "a root command correlates to its first event"
        );
        let nothing = execute::<Counter>(&journal, "counter-1", &0, &meta())
            .await
            .unwrap();
        assert_eq!(
            (
                nothing.events.len(),
                nothing.stream_version,
                nothing.position
            ),
            (0, 2, 2)
        );
    }

    #[tokio::test]
    async fn several_commands_decide_on_each_others_state_and_land_together() {
        let (_dir, journal) = store();
        let store = journal.store().clone();
        let done = execute_all::<Counter>(&journal, "counter-1", &[3, 4, 0, 2], &meta())
            .await
            .unwrap();
        assert_eq!((done.events.len(), done.stream_version), (3, 3));
        // 9 + 1 = 10 is allowed, the second +1 passes the limit only on the state the first made.
        let err = execute_all::<Counter>(&journal, "counter-1", &[1, 1, 9], &meta())
            .await
            .unwrap_err();
        assert!(
            matches!(err, CommandError::Refused(LimitReached { total: 10 })),
            "{err}"
        );
        assert_eq!(
            store.head().position,
            3,
            "a refused command stores none of the set"
        );
    }

    #[tokio::test]
    async fn refusals_name_the_rule_and_store_nothing() {
        let (_dir, journal) = store();
        let store = journal.store().clone();
        execute::<Counter>(&journal, "counter-1", &9, &meta())
            .await
            .unwrap();
        let err = execute::<Counter>(&journal, "counter-1", &2, &meta())
            .await
            .unwrap_err();
        assert!(
            matches!(err, CommandError::Refused(LimitReached { total: 9 })),
            "{err}"
        );
        assert_eq!(store.head().position, 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_commands_on_one_stream_all_land_by_retrying() {
        let (_dir, journal) = store();
        let store = journal.store().clone();
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let journal = journal.clone();
                tokio::spawn(
                    async move { execute::<Counter>(&journal, "counter-1", &1, &meta()).await },
                )
            })
            .collect();
        let mut versions = Vec::new();
        for task in tasks {
            versions.push(task.await.unwrap().unwrap().stream_version);
        }
        versions.sort();
        assert_eq!(
            versions,
            (1..=8).collect::<Vec<_>>(),
            "each command decided on the state before it"
        );
        assert_eq!(load::<Counter>(&store, "counter-1").unwrap().0.total, 8);
    }

    #[tokio::test]
    async fn an_idempotency_key_makes_a_retry_return_the_original_result() {
        let (_dir, journal) = store();
        let store = journal.store().clone();
        let keyed = CommandMeta {
            idempotency_key: Some("req-42".into()),
            ..meta()
        };
        let first = execute::<Counter>(&journal, "counter-1", &6, &keyed)
            .await
            .unwrap();
        // The retry would now be refused (6 + 6 > 10): the stored outcome answers it.
        let retry = execute::<Counter>(&journal, "counter-1", &6, &keyed)
            .await
            .unwrap();
        assert!(retry.duplicate);
        assert_eq!(
            (retry.position, retry.stream_version, &retry.events),
            (first.position, first.stream_version, &first.events)
        );
        assert_eq!(store.head().position, 1, "no second set of events");
        // A new key is a new command.
        let other = CommandMeta {
            idempotency_key: Some("req-43".into()),
            ..meta()
        };
        assert!(matches!(
            execute::<Counter>(&journal, "counter-1", &6, &other).await,
            Err(CommandError::Refused(_))
        ));
    }

    #[tokio::test]
    async fn if_match_against_another_version_is_a_precondition_failure() {
        let (_dir, journal) = store();
        execute::<Counter>(&journal, "counter-1", &1, &meta())
            .await
            .unwrap();
        execute::<Counter>(&journal, "counter-1", &1, &meta())
            .await
            .unwrap();
        let stale = CommandMeta {
            expected_version: Some(1),
            ..meta()
        };
        let err = execute::<Counter>(&journal, "counter-1", &1, &stale)
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                CommandError::PreconditionFailed {
                    expected: 1,
                    actual: Some(2),
                    ..
                }
            ),
            "{err}"
        );
        let current = CommandMeta {
            expected_version: Some(2),
            ..meta()
        };
        assert_eq!(
            execute::<Counter>(&journal, "counter-1", &1, &current)
                .await
                .unwrap()
                .stream_version,
            3
        );
    }
}
