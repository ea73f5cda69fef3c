//! The loop every reactor shares: follow a decision log kept by a read model, from the
//! reactor's own store checkpoint, and carry each decision out through commands.
//!
//! A read model decides (deterministically, in log order, so rebuilds agree); a reactor
//! acts. Actions must be idempotent — derived ids, idempotency keys, refusals meaning
//! "already done" counted as done — because the checkpoint advances only after a
//! decision is carried out: a crash repeats at most the last one. Failures back off
//! (doubling up to a limit) and retry the same decision, never skip it; a store that
//! refuses writes ends the reactor.

use std::time::Duration;

use tokio::sync::watch;

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
    /// The store checkpoint name (the last decision position carried out).
    const CHECKPOINT: &'static str;
    /// Decisions after position `after`, in order, at most `limit`, with their positions.
    fn decisions_after(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(u64, Self::Decision)>, String>;
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
    let after = store.checkpoint(R::CHECKPOINT)?;
    let decisions = reaction
        .decisions_after(after, batch)
        .map_err(ReactorError::Retry)?;
    let count = decisions.len();
    for (position, decision) in decisions {
        reaction.carry_out(&decision).await?;
        store.save_checkpoint(R::CHECKPOINT, position)?;
    }
    Ok(count)
}
