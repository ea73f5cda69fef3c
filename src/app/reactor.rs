//! The loop every reactor shares: follow a decision log kept by a read model, from the
//! reactor's own store checkpoint, and carry each decision out through commands.
//!
//! A read model decides (deterministically, in log order, so rebuilds agree); a reactor
//! acts. Actions must be idempotent — derived ids, idempotency keys, refusals meaning
//! "already done" counted as done — because the checkpoint advances only after a
//! decision is carried out: a crash repeats at most the last one. Failures back off
//! (doubling up to a limit) and retry the same decision, never skip it; a store that
//! refuses writes ends the reactor.
//!
//! The checkpoint says how far the reactor has looked, not only its last decision:
//! once every decision the model holds is carried out, it moves up to the position the
//! model had applied, so a reactor's lag (head − checkpoint) counts what it still has
//! to look at and falls to zero when idle.

use std::time::Duration;

use tokio::sync::watch;

use crate::projection::{ModelError, ReadModel};
use crate::store::{SledStore, StoreError};

/// How a reactor runs.
#[derive(Debug, Clone)]
pub struct ReactorConfig {
    /// How often it looks for new decisions.
    pub poll: Duration,
    /// Decisions carried out per round.
    pub batch: usize,
    /// Longest wait after a failure (doubles from `poll`).
    pub backoff_max: Duration,
}

impl Default for ReactorConfig {
    fn default() -> Self {
        ReactorConfig {
            poll: Duration::from_millis(200),
            batch: 256,
            backoff_max: Duration::from_secs(30),
        }
    }
}

/// Why a decision could not be carried out now.
#[derive(Debug, thiserror::Error)]
pub enum ReactorError {
    /// The store refuses writes (shutting down or failed): the reactor ends.
    #[error("the event store refuses writes: {0}")]
    StoreClosed(String),
    /// Worth retrying later (contention, a read model that is not readable now).
    #[error("{0}")]
    Retry(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One kind of reaction: where its decisions are and how to carry one out.
pub trait Reaction: Send + Sync + 'static {
    type Decision: Send + Sync;
    /// The store checkpoint name (the position up to which decisions are carried out).
    const CHECKPOINT: &'static str;
    /// The read model whose decisions the reaction follows.
    fn model(&self) -> &ReadModel;
    /// Decisions after position `after`, in order, at most `limit`, with their positions.
    fn decisions_after(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(u64, Self::Decision)>, ModelError>;
    /// Carries one decision out, idempotently.
    fn carry_out(
        &self,
        decision: &Self::Decision,
    ) -> impl std::future::Future<Output = Result<(), ReactorError>> + Send;
}

/// Runs `reaction` until `shutdown` turns true or the store refuses writes.
pub async fn run<R: Reaction>(
    reaction: R,
    store: SledStore,
    config: ReactorConfig,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut wait = config.poll;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => return,
        }
        match round(&reaction, &store, config.batch).await {
            Ok(_) => wait = config.poll,
            Err(ReactorError::StoreClosed(reason)) => {
                tracing::warn!(reactor = R::CHECKPOINT, cause = %reason, "reactor stops: the store refuses writes");
                return;
            }
            Err(err) => {
                wait = (wait * 2).min(config.backoff_max);
                tracing::warn!(reactor = R::CHECKPOINT, cause = %err, retry_in_s = wait.as_secs_f64(), "carrying out a decision failed; retrying");
            }
        }
    }
}

/// Carries out the decisions after the checkpoint (up to `batch`); returns how many.
pub async fn round<R: Reaction>(
    reaction: &R,
    store: &SledStore,
    batch: usize,
) -> Result<usize, ReactorError> {
    // Read before the decisions: every decision up to here is among those read below.
    let seen = reaction.model().applied_position()?;
    let mut checkpoint = store.checkpoint(R::CHECKPOINT)?;
    let decisions = reaction
        .decisions_after(checkpoint, batch)
        .map_err(|err| ReactorError::Retry(err.to_string()))?;
    let count = decisions.len();
    for (position, decision) in decisions {
        reaction.carry_out(&decision).await?;
        store.save_checkpoint(R::CHECKPOINT, position)?;
        checkpoint = position;
    }
    if count < batch && seen > checkpoint {
        store.save_checkpoint(R::CHECKPOINT, seen)?;
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::spikes::SpikeReaction;
    use crate::projection::{rebuild, spikes::Spikes};
    use crate::store::{Actor, AppendRequest, ExpectedVersion, NewEvent, StoreConfig};

    /// Events that decide nothing still count as looked at: once every decision is
    /// carried out the checkpoint moves up to what the model applied, so the reactor's
    /// lag (head − checkpoint) is zero when idle, not the distance to its last decision.
    #[tokio::test]
    async fn an_idle_reactor_has_looked_at_everything_its_model_applied() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(StoreConfig::new(dir.path())).unwrap();
        let journal = crate::app::Journal::ephemeral(store.clone());
        let actor = Actor {
            id: "a".into(),
            role: "admin".into(),
        };
        for n in 0..20 {
            let event = NewEvent::new(
                "test.noted",
                serde_json::json!({"n": n}),
                actor.clone(),
                chrono::Utc::now(),
            );
            let append =
                AppendRequest::single(format!("test-{n}"), ExpectedVersion::Any, vec![event]);
            store.append(append).await.unwrap();
        }
        rebuild(&store, Spikes::default(), |_, _| {}).unwrap();
        let reaction = SpikeReaction::new(journal.clone()).unwrap();
        assert_eq!(round(&reaction, &store, 256).await.unwrap(), 0);
        assert_eq!(store.checkpoint(SpikeReaction::CHECKPOINT).unwrap(), 20);
    }
}
