//! The key store across a cluster (docs/cluster.md, "Personal data on a cluster").
//!
//! Data keys travel in the log: each is wrapped under an epoch key and written as a side
//! record with the first event it seals, and followers learn them from the records they
//! apply ([`KeyStore::learn`]). The epoch keys never go into NATS storage (a stream keeps
//! what it deletes for a while, so an erasure could not destroy them there). They go from
//! node to node over core NATS, sealed under the master key every node shares:
//!
//! - **hold** (`crisis.keys.<cluster>.hold`): a node sends every epoch it holds that no
//!   other node is known to hold; a node that stores it durably answers. An epoch takes
//!   keys only after such an answer ([`KeyStore::require_sharing`]), so the loss of any one
//!   machine loses no key. Every node shares its own epochs from the start, so a new
//!   leader's epochs are held elsewhere before it takes its first write.
//! - **fetch** (`crisis.keys.<cluster>.fetch`): a node asks every other node for all the
//!   epochs it holds — when it starts (it may have been down when they were sent), and
//!   while it knows keys under an epoch it lacks (at most every [`FETCH_EVERY`]). Until
//!   then those keys read as unavailable.
//!
//! An erasure's side record travels with its `passenger.erased` event; a node that
//! applies it destroys the emptied epoch as the leader did.

use std::time::Duration;

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::privacy::{EpochEntry, KeyError, KeyStore};

/// How often a node looks for epochs to send or to fetch.
const ROUND: Duration = Duration::from_millis(200);
/// Longest wait for another node's answer.
const ANSWER_PATIENCE: Duration = Duration::from_secs(2);
/// Least time between two fetches of missing epochs.
const FETCH_EVERY: Duration = Duration::from_secs(1);
/// Longest pause between rounds after failures.
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// An epoch on its way to another node.
#[derive(Debug, Serialize, Deserialize)]
struct Held {
    /// The sender (a node ignores its own messages).
    from: String,
    epoch: EpochEntry,
}

/// A request for every epoch the nodes asked hold.
#[derive(Debug, Serialize, Deserialize)]
struct Fetch {
    from: String,
}

/// Epochs a node sends when asked.
#[derive(Debug, Serialize, Deserialize)]
struct Epochs {
    from: String,
    epochs: Vec<EpochEntry>,
}

/// This node in the cluster's key traffic.
#[derive(Clone)]
struct Peer {
    client: async_nats::Client,
    node_id: String,
    keys: KeyStore,
    /// `crisis.keys.<cluster>.hold` and `.fetch`.
    hold: String,
    fetch: String,
}

/// Shares this node's epochs, takes the other nodes', fetches missing ones and learns
/// the keys the log brings, until `shutdown`. Call [`KeyStore::require_sharing`] first.
pub async fn share(
    client: async_nats::Client,
    cluster: String,
    node_id: String,
    keys: KeyStore,
    mut shutdown: watch::Receiver<bool>,
) {
    let peer = Peer {
        client,
        node_id,
        keys,
        hold: format!("crisis.keys.{cluster}.hold"),
        fetch: format!("crisis.keys.{cluster}.fetch"),
    };
    let mut pause = ROUND;
    let mut answering: Option<tokio::task::JoinHandle<()>> = None;
    let mut fetched = tokio::time::Instant::now();
    while !*shutdown.borrow() {
        if answering.as_ref().is_none_or(|task| task.is_finished()) {
            match peer.answer().await {
                Ok(task) => {
                    answering = Some(task);
                    // Listening now: what was sent before, the others send again.
                    if let Err(err) = peer.fetch().await {
                        tracing::warn!(cause = %err, "cannot fetch the other nodes' epoch keys");
                    }
                    fetched = tokio::time::Instant::now();
                }
                Err(err) => {
                    tracing::warn!(cause = %err, "cannot listen for the other nodes' epoch keys; retrying")
                }
            }
        }
        let mut round = peer.round().await;
        if round.is_ok() && !peer.keys.missing().is_empty() && fetched.elapsed() >= FETCH_EVERY {
            round = peer.fetch().await;
            fetched = tokio::time::Instant::now();
        }
        pause = match round {
            Ok(()) => ROUND,
            Err(err) => {
                tracing::warn!(cause = %err, "sharing the key store's epochs with the other nodes failed; retrying");
                (pause * 2).min(BACKOFF_MAX)
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = shutdown.changed() => {}
        }
    }
    if let Some(task) = answering {
        task.abort();
    }
}

impl Peer {
    /// One round: learn what the log brought, send the epochs no other node holds yet.
    async fn round(&self) -> Result<(), String> {
        let learning = self.keys.clone();
        blocking(move || learning.learn()).await?;
        // One epoch no one takes (the others destroyed it) must not hold back the next.
        let mut failed = None;
        for epoch in self.keys.unshared() {
            let id = epoch.id;
            let message = Held {
                from: self.node_id.clone(),
                epoch,
            };
            // The first node that stored it answers; the others store it too.
            match self.request(&self.hold, &message).await {
                Ok(_) => {
                    self.keys.shared(id);
                    tracing::info!(epoch = id, "another node holds this epoch of the key store");
                }
                Err(err) => failed = Some(format!("epoch {id}: {err}")),
            }
        }
        failed.map_or(Ok(()), Err)
    }

    /// Asks every other node for all the epochs it holds, and takes what the answers
    /// bring within [`ANSWER_PATIENCE`].
    async fn fetch(&self) -> Result<(), String> {
        let inbox = self.client.new_inbox();
        let mut answers = self
            .client
            .subscribe(inbox.clone())
            .await
            .map_err(|err| err.to_string())?;
        let message = Fetch {
            from: self.node_id.clone(),
        };
        let payload = serde_json::to_vec(&message).expect("the message serializes");
        self.client
            .publish_with_reply(self.fetch.clone(), inbox, payload.into())
            .await
            .map_err(|err| err.to_string())?;
        let deadline = tokio::time::Instant::now() + ANSWER_PATIENCE;
        while let Ok(Some(answer)) = tokio::time::timeout_at(deadline, answers.next()).await {
            if let Ok(sent) = serde_json::from_slice::<Epochs>(&answer.payload) {
                for epoch in sent.epochs {
                    self.take(epoch, &sent.from).await;
                }
            }
        }
        Ok(())
    }

    /// Holds an epoch node `from` sent, durably; true once held here. One that cannot
    /// be taken is logged (and not answered): the others still are.
    async fn take(&self, epoch: EpochEntry, from: &str) -> bool {
        let id = epoch.id;
        let keys = self.keys.clone();
        match blocking(move || keys.hold(&epoch)).await {
            Ok(held) => held,
            Err(err) => {
                tracing::warn!(epoch = id, %from, cause = %err, "cannot take another node's epoch of the key store");
                false
            }
        }
    }

    /// Answers the other nodes: stores the epochs they send, gives the ones they ask for.
    async fn answer(&self) -> Result<tokio::task::JoinHandle<()>, String> {
        let subscribe = |subject: &String| self.client.subscribe(subject.clone());
        let mut holds = subscribe(&self.hold).await.map_err(|err| err.to_string())?;
        let mut fetches = subscribe(&self.fetch)
            .await
            .map_err(|err| err.to_string())?;
        let peer = self.clone();
        Ok(tokio::spawn(async move {
            loop {
                let (message, is_hold) = tokio::select! {
                    Some(message) = holds.next() => (message, true),
                    Some(message) = fetches.next() => (message, false),
                    else => return,
                };
                let Some(reply) = message.reply.clone() else {
                    continue;
                };
                let answer = if is_hold {
                    peer.on_hold(&message.payload).await
                } else {
                    peer.on_fetch(&message.payload)
                };
                if let Some(answer) = answer {
                    let _ = peer.client.publish(reply, answer.into()).await;
                }
            }
        }))
    }

    /// Stores an epoch another node sent; the answer once it is durable here.
    async fn on_hold(&self, payload: &[u8]) -> Option<Vec<u8>> {
        let held: Held = serde_json::from_slice(payload).ok()?;
        if held.from == self.node_id {
            return None;
        }
        let id = held.epoch.id;
        self.take(held.epoch, &held.from)
            .await
            .then(|| format!("{{\"held\":{id}}}").into_bytes())
    }

    /// Gives every epoch held here to the node that asked.
    fn on_fetch(&self, payload: &[u8]) -> Option<Vec<u8>> {
        let fetch: Fetch = serde_json::from_slice(payload).ok()?;
        if fetch.from == self.node_id {
            return None;
        }
        let sent = Epochs {
            from: self.node_id.clone(),
            epochs: self.keys.all_sealed(),
        };
        serde_json::to_vec(&sent).ok()
    }

    /// A request answered by another node within [`ANSWER_PATIENCE`].
    async fn request(
        &self,
        subject: &str,
        message: &impl Serialize,
    ) -> Result<bytes::Bytes, String> {
        let payload = serde_json::to_vec(message).expect("the message serializes");
        let asked = self.client.request(subject.to_owned(), payload.into());
        let why = match tokio::time::timeout(ANSWER_PATIENCE, asked).await {
            Ok(Ok(answer)) => return Ok(answer.payload),
            Ok(Err(err)) => err.to_string(),
            Err(_) => format!("none within {ANSWER_PATIENCE:?}"),
        };
        Err(format!(
            "no other node answered on {subject} ({why}): are the other crisisd nodes running, with the same master key?"
        ))
    }
}

/// Key store work (it writes `epochs.json`) off the async threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, KeyError> + Send + 'static,
) -> Result<T, String> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|err| err.to_string())?
        .map_err(|err| err.to_string())
}
