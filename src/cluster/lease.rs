//! The leader lease: at most one crisisd node of a cluster believes it leads at a time,
//! elected through a JetStream key-value bucket (R3 on a three-server NATS cluster).
//!
//! - **Take.** A node takes the lease by *creating* the key `leader` (refused while anyone
//!   holds it). The value names the holder: node id, advertised HTTP address and term.
//! - **Keep.** The holder renews every [`LeaseConfig::renew_every`] with a revision-checked
//!   update (refused if anything else was written to the key since its last write).
//! - **Lose.** The holder stops being leader the moment a renewal fails (refused, timed out,
//!   NATS unreachable) or when the lease could have expired: `start + ttl − skew margin`,
//!   where `start` is the monotonic instant taken *before* the last successful renewal was
//!   sent. The server stamps a value after it received it, so its expiry (`max_age` = TTL,
//!   counted from that stamp) is never earlier than our deadline; the margin covers the
//!   NATS servers' wall clocks disagreeing (a new stream leader expires by its own clock).
//!   A stopped renewal therefore steps down without waiting for any server answer.
//! - **Campaign.** Followers read the key every [`LeaseConfig::campaign_every`] (jittered)
//!   and create it once it has expired or was deleted; they also watch the key, so a
//!   resignation (a delete marker) is taken over at once. Errors back off, bounded.
//! - **Term.** The term is the key's revision at creation: the bucket stream's sequence,
//!   which JetStream assigns under Raft, strictly increasing and never reused while the
//!   bucket exists (expiry removes messages, not the stream's last sequence). So every new
//!   acquisition has a higher term than all before it. Renewals carry the term in the value
//!   because they get new revisions. Deleting the bucket resets it: don't, while nodes run.
//!
//! The lease alone cannot stop a paused leader (SIGSTOP, a long GC-like stall) from acting
//! on a role it no longer has: the replicated log's expected-sequence fencing
//! ([`super::log`]) is what refuses its writes. The lease keeps that rare.
//!
//! The bucket follows the NATS key-value layout (ADR-8: stream `KV_<bucket>`, subjects
//! `$KV.<bucket>.<key>`, one value per key, delete markers with `KV-Operation: DEL`), so
//! `nats kv get CRISIS_LEADER_<cluster> leader` shows the holder. It is driven through the
//! plain stream API because this crate builds async-nats without its `kv` feature.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::{self, consumer, context, stream};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::bus::Backoff;

/// The key that holds the lease in its bucket.
pub const LEASE_KEY: &str = "leader";
/// Header of a key-value delete marker (ADR-8).
const KV_OPERATION: &str = "KV-Operation";

/// Lease settings. [`LeaseConfig::for_cluster`] gives the defaults.
#[derive(Debug, Clone)]
pub struct LeaseConfig {
    /// Key-value bucket name, e.g. `CRISIS_LEADER_<cluster>`.
    pub bucket: String,
    /// Replicas of the bucket: 3 on a three-server NATS cluster.
    pub replicas: usize,
    /// The bucket's `max_age`: an unrenewed lease disappears after this long.
    pub ttl: Duration,
    /// How often the holder renews.
    pub renew_every: Duration,
    /// Subtracted from the TTL for the holder's own deadline (NATS servers' clock skew).
    pub skew_margin: Duration,
    /// Longest wait for one answer from NATS (a renewal waits at most until the deadline).
    pub request_timeout: Duration,
    /// How often a follower looks whether the lease is free (jittered ±20 %).
    pub campaign_every: Duration,
    /// First and longest wait after a failed request.
    pub backoff_first: Duration,
    pub backoff_max: Duration,
}

impl LeaseConfig {
    /// Defaults for the cluster `cluster`: TTL 3 s, renewal every 1 s, 250 ms skew margin.
    pub fn for_cluster(cluster: &str) -> LeaseConfig {
        LeaseConfig {
            bucket: format!("CRISIS_LEADER_{cluster}"),
            replicas: 3,
            ttl: Duration::from_secs(3),
            renew_every: Duration::from_secs(1),
            skew_margin: Duration::from_millis(250),
            request_timeout: Duration::from_millis(1000),
            campaign_every: Duration::from_secs(1),
            backoff_first: Duration::from_millis(100),
            backoff_max: Duration::from_secs(2),
        }
    }

    /// Refuses settings under which the lease could not work, saying what to change.
    pub fn validate(&self) -> Result<(), LeaseError> {
        let fail = |why: String| Err(LeaseError::InvalidConfig(why));
        let name_ok = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
        if self.bucket.is_empty() || !self.bucket.chars().all(name_ok) {
            return fail(format!(
                "lease bucket name {:?} must be non-empty letters, digits, '_' or '-' (the cluster name is part of it)",
                self.bucket
            ));
        }
        if !(1..=5).contains(&self.replicas) {
            return fail(format!(
                "lease bucket replicas {} must be 1 to 5 (3 on a three-server NATS cluster)",
                self.replicas
            ));
        }
        if self.ttl < Duration::from_millis(500) || self.skew_margin >= self.ttl / 2 {
            return fail(format!(
                "lease TTL {:?} must be at least 500 ms and more than twice the skew margin {:?}",
                self.ttl, self.skew_margin
            ));
        }
        // A renewal must start well before the holder's deadline. Its answer is awaited at
        // most until the deadline, whatever `request_timeout` says.
        if self.renew_every * 2 > self.ttl - self.skew_margin {
            return fail(format!(
                "lease renewal every {:?} must be at most half of TTL {:?} minus skew margin {:?}, so a slow renewal is still answered before the deadline: renew more often or raise the TTL",
                self.renew_every, self.ttl, self.skew_margin
            ));
        }
        if self.request_timeout.is_zero() {
            return fail("lease request timeout must be above zero".to_owned());
        }
        if self.campaign_every.is_zero() || self.backoff_first.is_zero() {
            return fail("lease campaign interval and backoff must be above zero".to_owned());
        }
        Ok(())
    }

    fn stream_name(&self) -> String {
        format!("KV_{}", self.bucket)
    }

    fn subject(&self) -> String {
        format!("$KV.{}.{LEASE_KEY}", self.bucket)
    }
}

/// This node, as named in the lease it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeIdentity {
    /// Unique within the cluster: two processes with one id would release each other's lease.
    pub node_id: String,
    /// Where clients and followers reach this node's HTTP API, e.g. `http://10.0.0.5:8080`.
    pub http_addr: String,
}

/// The holder of the lease, as read from the bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderInfo {
    pub node_id: String,
    pub http_addr: String,
    pub term: u64,
}

/// The value stored under the key (JSON). `term` is absent in the creating write, whose
/// revision is the term.
#[derive(Debug, Serialize, Deserialize)]
struct LeaseValue {
    node_id: String,
    http_addr: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    term: Option<u64>,
}

/// What this node is, as the campaign task last established it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// Not leader; `leader` is the holder if known (None: nobody, or NATS unreachable).
    Follower { leader: Option<LeaderInfo> },
    /// Leader since `since` with `term`. Check [`LeaseHandle::valid_term`] right before
    /// acting on it: it also applies the deadline, independent of task scheduling.
    Leader {
        term: u64,
        since: std::time::Instant,
    },
}

/// Why the lease could not be opened or released; each says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    #[error("invalid lease configuration: {0}")]
    InvalidConfig(String),
    #[error(
        "cannot create or open the lease bucket {bucket}: {cause}; check that NATS runs with JetStream and that the cluster has {replicas} JetStream servers"
    )]
    Bucket {
        bucket: String,
        replicas: usize,
        cause: String,
    },
    #[error(
        "the lease bucket {bucket} exists with other settings ({found}); wanted {wanted}: stop all crisisd nodes of the cluster and delete it (`nats kv del {bucket}`), or configure the same settings"
    )]
    BucketMismatch {
        bucket: String,
        found: String,
        wanted: String,
    },
    #[error(
        "cannot read the lease from NATS: {0}; the cluster stays without a known leader until NATS answers"
    )]
    Unavailable(String),
}

/// An opened lease bucket: reads the holder and starts campaigns.
#[derive(Clone)]
pub struct LeaseBucket {
    js: jetstream::Context,
    stream: stream::Stream,
    config: LeaseConfig,
}

/// What reading the key found.
enum Holder {
    /// No value, or a delete marker at `revision` (0: never written or expired).
    Free {
        revision: u64,
    },
    Held {
        info: LeaderInfo,
        revision: u64,
    },
}

/// Outcome of one attempt to create the key.
enum Created {
    Won { revision: u64 },
    Taken,
}

impl LeaseBucket {
    /// Creates the bucket if missing, or checks that the existing one has these settings.
    pub async fn open(js: jetstream::Context, config: LeaseConfig) -> Result<Self, LeaseError> {
        config.validate()?;
        let wanted = stream::Config {
            name: config.stream_name(),
            description: Some("crisisd leader lease".to_owned()),
            subjects: vec![format!("$KV.{}.>", config.bucket)],
            max_messages_per_subject: 1,
            max_age: config.ttl,
            storage: stream::StorageType::File,
            num_replicas: config.replicas,
            allow_rollup: true,
            deny_delete: true,
            allow_direct: true,
            discard: stream::DiscardPolicy::New,
            duplicate_window: config.ttl.min(Duration::from_secs(120)),
            ..Default::default()
        };
        let bucket_error = |cause: String| LeaseError::Bucket {
            bucket: config.bucket.clone(),
            replicas: config.replicas,
            cause,
        };
        let mut stream = js
            .get_or_create_stream(wanted.clone())
            .await
            .map_err(|err| bucket_error(err.to_string()))?;
        let found = stream
            .info()
            .await
            .map_err(|err| bucket_error(err.to_string()))?
            .config
            .clone();
        let describe = |c: &stream::Config| {
            format!(
                "max_age {:?}, replicas {}, history {}",
                c.max_age, c.num_replicas, c.max_messages_per_subject
            )
        };
        if found.max_age != wanted.max_age
            || found.num_replicas != wanted.num_replicas
            || found.max_messages_per_subject != 1
        {
            return Err(LeaseError::BucketMismatch {
                bucket: config.bucket.clone(),
                found: describe(&found),
                wanted: describe(&wanted),
            });
        }
        Ok(LeaseBucket { js, stream, config })
    }

    pub fn config(&self) -> &LeaseConfig {
        &self.config
    }

    /// The current holder, read from the bucket stream's leader (not a possibly stale replica).
    pub async fn current(&self) -> Result<Option<LeaderInfo>, LeaseError> {
        match self.read().await? {
            Holder::Held { info, .. } => Ok(Some(info)),
            Holder::Free { .. } => Ok(None),
        }
    }

    /// Starts campaigning for `me`; the task runs until [`LeaseHandle::resign`], the
    /// handle is dropped (it then stops renewing, like a crash), or `shutdown` turns true.
    pub fn campaign(&self, me: NodeIdentity, shutdown: watch::Receiver<bool>) -> LeaseHandle {
        self.campaign_when_ready(me, shutdown, watch::channel(true).1)
    }

    /// Like [`LeaseBucket::campaign`], but takes a free lease only while `ready` is true.
    /// A node still catching up with the cluster's log (just restarted, say) would have to
    /// apply all of it before taking writes, so it lets a node that has caught up lead
    /// first. It cannot wait forever: while no one leads the log does not grow, so every
    /// node that reads it catches up.
    pub fn campaign_when_ready(
        &self,
        me: NodeIdentity,
        shutdown: watch::Receiver<bool>,
        ready: watch::Receiver<bool>,
    ) -> LeaseHandle {
        let (role_tx, role_rx) = watch::channel(Role::Follower { leader: None });
        let (stop_tx, stop_rx) = watch::channel(false);
        let validity = Arc::new(Mutex::new(None));
        let task = Campaign {
            bucket: self.clone(),
            me,
            role_tx,
            validity: validity.clone(),
            stop_rx,
            shutdown,
            ready,
        };
        LeaseHandle {
            role_rx,
            validity,
            stop_tx,
            task: Some(tokio::spawn(task.run())),
            bucket: self.clone(),
        }
    }

    async fn read(&self) -> Result<Holder, LeaseError> {
        let subject = self.config.subject();
        let read = self.stream.get_last_raw_message_by_subject(&subject);
        let message = match tokio::time::timeout(self.config.request_timeout, read).await {
            Err(_) => return Err(LeaseError::Unavailable("timed out".to_owned())),
            Ok(Err(err)) if err.kind() == stream::LastRawMessageErrorKind::NoMessageFound => {
                return Ok(Holder::Free { revision: 0 });
            }
            Ok(Err(err)) => return Err(LeaseError::Unavailable(err.to_string())),
            Ok(Ok(message)) => message,
        };
        let revision = message.sequence;
        if message.headers.get(KV_OPERATION).is_some() {
            return Ok(Holder::Free { revision });
        }
        let value: LeaseValue = serde_json::from_slice(&message.payload).map_err(|err| {
            LeaseError::Unavailable(format!(
                "the lease value at revision {revision} is not a crisisd lease ({err}); is another program writing to bucket {}?",
                self.config.bucket
            ))
        })?;
        let info = LeaderInfo {
            node_id: value.node_id,
            http_addr: value.http_addr,
            term: value.term.unwrap_or(revision),
        };
        Ok(Holder::Held { info, revision })
    }

    /// Writes the key if its last revision is `expected` (0: no value at all); `Ok(None)`
    /// when it was not (someone else wrote it).
    async fn write(
        &self,
        expected: u64,
        headers: HeaderMap,
        payload: Vec<u8>,
    ) -> Result<Option<u64>, String> {
        let mut headers = headers;
        headers.insert(
            async_nats::header::NATS_EXPECTED_LAST_SUBJECT_SEQUENCE,
            expected.to_string().as_str(),
        );
        let publish = async {
            self.js
                .publish_with_headers(self.config.subject(), headers, payload.into())
                .await?
                .await
        };
        match tokio::time::timeout(self.config.request_timeout, publish).await {
            Err(_) => Err("timed out".to_owned()),
            Ok(Ok(ack)) => Ok(Some(ack.sequence)),
            Ok(Err(err)) if err.kind() == context::PublishErrorKind::WrongLastSequence => Ok(None),
            Ok(Err(err)) => Err(err.to_string()),
        }
    }

    async fn try_create(&self, me: &NodeIdentity, free_at: u64) -> Result<Created, String> {
        let value = lease_value(me, None);
        Ok(match self.write(free_at, HeaderMap::new(), value).await? {
            Some(revision) => Created::Won { revision },
            None => Created::Taken,
        })
    }

    async fn renew(
        &self,
        me: &NodeIdentity,
        term: u64,
        revision: u64,
    ) -> Result<Option<u64>, String> {
        let value = lease_value(me, Some(term));
        self.write(revision, HeaderMap::new(), value).await
    }

    /// Writes a delete marker if the key is still at `revision`: releases a lease we hold.
    async fn release(&self, revision: u64) -> Result<bool, String> {
        let mut headers = HeaderMap::new();
        headers.insert(KV_OPERATION, "DEL");
        Ok(self.write(revision, headers, Vec::new()).await?.is_some())
    }

    /// Updates on the key, as hints: a follower looks again when one arrives.
    async fn watch(&self) -> Result<consumer::push::Ordered, String> {
        let config = consumer::push::OrderedConfig {
            deliver_subject: self.js.client().new_inbox(),
            filter_subject: self.config.subject(),
            deliver_policy: consumer::DeliverPolicy::New,
            ..Default::default()
        };
        let consumer = self
            .stream
            .create_consumer(config)
            .await
            .map_err(|err| err.to_string())?;
        consumer.messages().await.map_err(|err| err.to_string())
    }
}

fn lease_value(me: &NodeIdentity, term: Option<u64>) -> Vec<u8> {
    let value = LeaseValue {
        node_id: me.node_id.clone(),
        http_addr: me.http_addr.clone(),
        term,
    };
    serde_json::to_vec(&value).expect("a lease value serializes")
}

/// The running campaign of one node. Dropping it stops the task without releasing the
/// lease (it expires within the TTL), as a crash would.
pub struct LeaseHandle {
    role_rx: watch::Receiver<Role>,
    validity: Arc<Mutex<Option<(u64, Instant)>>>,
    stop_tx: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<Option<u64>>>,
    bucket: LeaseBucket,
}

/// A cheap, cloneable view of [`LeaseHandle::valid_term`], for code that runs apart
/// from the handle (the store's replicating thread asks it before each replicated batch).
#[derive(Clone)]
pub struct TermCheck {
    validity: Arc<Mutex<Option<(u64, Instant)>>>,
}

impl TermCheck {
    /// The term if this node leads *now* (see [`LeaseHandle::valid_term`]).
    pub fn valid_term(&self) -> Option<u64> {
        let validity = *self.validity.lock().expect("lease validity lock");
        validity.and_then(|(term, deadline)| (Instant::now() < deadline).then_some(term))
    }
}

impl LeaseHandle {
    /// A view of [`LeaseHandle::valid_term`] that outlives borrows of the handle.
    pub fn term_check(&self) -> TermCheck {
        TermCheck {
            validity: self.validity.clone(),
        }
    }

    /// The role, updated whenever it changes.
    pub fn roles(&self) -> watch::Receiver<Role> {
        self.role_rx.clone()
    }

    pub fn role(&self) -> Role {
        self.role_rx.borrow().clone()
    }

    /// The term if this node leads *now*: the deadline is checked against the clock on
    /// every call, so a writer asks this right before each append.
    pub fn valid_term(&self) -> Option<u64> {
        let validity = *self.validity.lock().expect("lease validity lock");
        validity.and_then(|(term, deadline)| (Instant::now() < deadline).then_some(term))
    }

    /// Stops campaigning and, if still holding the lease, deletes the key at the revision
    /// we hold (a newer holder's key is never touched), so a follower takes over at once.
    /// Returns whether a lease was released.
    pub async fn resign(mut self) -> Result<bool, LeaseError> {
        let _ = self.stop_tx.send(true);
        let held = match self.task.take() {
            Some(task) => task.await.unwrap_or(None),
            None => None,
        };
        let Some(revision) = held else {
            return Ok(false);
        };
        self.bucket.release(revision).await.map_err(|cause| {
            LeaseError::Unavailable(format!(
                "could not release the lease ({cause}); it expires by itself within {:?}",
                self.bucket.config.ttl
            ))
        })
    }
}

impl Drop for LeaseHandle {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
        *self.validity.lock().expect("lease validity lock") = None;
    }
}

/// The campaign task: follows until it wins, leads until it loses, again.
struct Campaign {
    bucket: LeaseBucket,
    me: NodeIdentity,
    role_tx: watch::Sender<Role>,
    validity: Arc<Mutex<Option<(u64, Instant)>>>,
    stop_rx: watch::Receiver<bool>,
    shutdown: watch::Receiver<bool>,
    /// Whether this node may take a free lease (see [`LeaseBucket::campaign_when_ready`]).
    ready: watch::Receiver<bool>,
}

/// How a stint as follower ended.
enum Won {
    Lease {
        term: u64,
        revision: u64,
        deadline: Instant,
    },
    Stopped,
}

/// How a stint as leader ended.
enum Led {
    Lost,
    /// Stopped on request; `held` is the revision if the lease was still valid.
    Stopped {
        held: Option<u64>,
    },
}

/// Completes once a stop is requested (a closed channel never requests one).
async fn stop_requested(stop_rx: &mut watch::Receiver<bool>, shutdown: &mut watch::Receiver<bool>) {
    let stop = async {
        if stop_rx.wait_for(|stop| *stop).await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let shutdown = async {
        if shutdown.wait_for(|stop| *stop).await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        _ = stop => {}
        _ = shutdown => {}
    }
}

impl Campaign {
    /// Returns the revision it still holds when stopped as leader, for `resign`.
    async fn run(mut self) -> Option<u64> {
        loop {
            let Won::Lease {
                term,
                revision,
                deadline,
            } = self.follow().await
            else {
                return None;
            };
            if let Led::Stopped { held } = self.lead(term, revision, deadline).await {
                return held;
            }
        }
    }

    fn stopping(&self) -> bool {
        *self.stop_rx.borrow() || *self.shutdown.borrow()
    }

    /// Waits `delay`, cut short by a stop or an update on the key; false when stopping.
    async fn pause(
        &mut self,
        delay: Duration,
        watch: &mut Option<consumer::push::Ordered>,
    ) -> bool {
        let update = async {
            match watch.as_mut() {
                Some(messages) => {
                    if !matches!(messages.next().await, Some(Ok(_))) {
                        *watch = None; // ended or failed: reopened on the next look
                    }
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = update => {}
            _ = stop_requested(&mut self.stop_rx, &mut self.shutdown) => {}
        }
        !self.stopping()
    }

    fn set_follower(&self, leader: Option<LeaderInfo>) {
        self.role_tx.send_if_modified(|role| {
            let next = Role::Follower { leader };
            let changed = *role != next;
            *role = next;
            changed
        });
    }

    async fn follow(&mut self) -> Won {
        let config = self.bucket.config.clone();
        let mut backoff = Backoff::new(config.backoff_first, config.backoff_max);
        let mut watch = None;
        let mut waited = false;
        while !self.stopping() {
            if watch.is_none() {
                let open = self.bucket.watch();
                watch = tokio::time::timeout(config.request_timeout, open)
                    .await
                    .ok()
                    .and_then(Result::ok);
            }
            let delay = match self.bucket.read().await {
                Ok(Holder::Free { .. }) if !*self.ready.borrow() => {
                    if !waited {
                        tracing::info!(
                            "the cluster's lease is free; this node campaigns once it has caught up with the cluster's log"
                        );
                        waited = true;
                    }
                    backoff.reset();
                    self.set_follower(None);
                    jittered(config.campaign_every / 4)
                }
                Ok(Holder::Free { revision }) => {
                    let start = Instant::now();
                    match self.bucket.try_create(&self.me, revision).await {
                        Ok(Created::Won { revision }) => {
                            let deadline = start + config.ttl - config.skew_margin;
                            return Won::Lease {
                                term: revision,
                                revision,
                                deadline,
                            };
                        }
                        // Someone else was faster: read who, shortly.
                        Ok(Created::Taken) => backoff.next_delay(),
                        Err(cause) => {
                            tracing::warn!(%cause, "cannot campaign for the cluster lease; retrying");
                            backoff.next_delay()
                        }
                    }
                }
                Ok(Holder::Held { info, revision }) if info.node_id == self.me.node_id => {
                    // Ours but we do not lead: a renewal or creation whose answer we never
                    // saw, or an earlier run of this node. Release it to campaign afresh.
                    tracing::info!(
                        revision,
                        "releasing a lease this node holds without leading"
                    );
                    match self.bucket.release(revision).await {
                        Ok(true) => Duration::ZERO,
                        Ok(false) | Err(_) => backoff.next_delay(),
                    }
                }
                Ok(Holder::Held { info, .. }) => {
                    backoff.reset();
                    self.set_follower(Some(info));
                    jittered(config.campaign_every)
                }
                Err(err) => {
                    tracing::warn!(cause = %err, "cannot read the cluster lease; retrying");
                    self.set_follower(None);
                    backoff.next_delay()
                }
            };
            if !delay.is_zero() && !self.pause(delay, &mut watch).await {
                break;
            }
        }
        Won::Stopped
    }

    /// Leads until the lease is lost or the task is stopped.
    async fn lead(&mut self, term: u64, mut revision: u64, mut deadline: Instant) -> Led {
        let config = self.bucket.config.clone();
        self.set_validity(Some((term, deadline)));
        let since = std::time::Instant::now();
        tracing::info!(term, node_id = %self.me.node_id, "took the cluster lease: leading");
        self.role_tx.send_replace(Role::Leader { term, since });
        let mut next_renewal = deadline - config.ttl + config.skew_margin + config.renew_every;
        let lost = loop {
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => {
                    break "no renewal succeeded within the TTL".to_owned();
                }
                _ = stop_requested(&mut self.stop_rx, &mut self.shutdown) => {}
                _ = tokio::time::sleep_until(next_renewal) => {
                    let start = Instant::now();
                    let renewal = self.bucket.renew(&self.me, term, revision);
                    match tokio::time::timeout_at(deadline, renewal).await {
                        Ok(Ok(Some(renewed))) => {
                            revision = renewed;
                            deadline = start + config.ttl - config.skew_margin;
                            next_renewal = start + config.renew_every;
                            self.set_validity(Some((term, deadline)));
                        }
                        Ok(Ok(None)) => break "someone else wrote the lease".to_owned(),
                        Ok(Err(cause)) => break format!("renewal failed: {cause}"),
                        Err(_) => break "no renewal answered within the TTL".to_owned(),
                    }
                }
            }
            if self.stopping() {
                let held = (Instant::now() < deadline).then_some(revision);
                self.step_down(None);
                return Led::Stopped { held };
            }
        };
        tracing::warn!(term, cause = %lost, "lost the cluster lease: stop writing, following");
        self.step_down(None);
        Led::Lost
    }

    /// Invalidates before announcing, so `valid_term` never outlives the role.
    fn step_down(&self, leader: Option<LeaderInfo>) {
        self.set_validity(None);
        self.role_tx.send_replace(Role::Follower { leader });
    }

    fn set_validity(&self, validity: Option<(u64, Instant)>) {
        *self.validity.lock().expect("lease validity lock") = validity;
    }
}

/// `every` ±20 %, so followers do not poll in step.
fn jittered(every: Duration) -> Duration {
    let factor = 0.8 + 0.4 * rand::random::<f64>();
    every.mul_f64(factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_timings_are_refused_with_the_fix() {
        LeaseConfig::for_cluster("prod").validate().unwrap();
        let mut slow = LeaseConfig::for_cluster("prod");
        slow.renew_every = Duration::from_secs(2);
        let err = slow.validate().unwrap_err().to_string();
        assert!(err.contains("renew more often or raise the TTL"), "{err}");
        let bad_name = LeaseConfig::for_cluster("a.b");
        assert!(bad_name.validate().is_err());
    }

    #[test]
    fn the_creating_write_has_no_term_so_its_revision_is_the_term() {
        let me = NodeIdentity {
            node_id: "n1".into(),
            http_addr: "http://127.0.0.1:1".into(),
        };
        let created: LeaseValue = serde_json::from_slice(&lease_value(&me, None)).unwrap();
        assert_eq!(created.term, None);
        let renewed: LeaseValue = serde_json::from_slice(&lease_value(&me, Some(7))).unwrap();
        assert_eq!(renewed.term, Some(7));
    }
}
