//! Erasures finished from the log: every `passenger.erased` event destroys the
//! passenger's data key. The HTTP route and the command line destroy it right after
//! appending the event; this follower makes that hold across a crash in between (run to
//! the head before `serve` serves anything, then live). Destroying a key twice is
//! harmless, so the follower's checkpoint may lag.

use std::time::Duration;

use tokio::sync::watch;

use super::command::{CommandMeta, Journal};
use crate::domain::DomainEvent;
use crate::domain::common::{Actor, DataSubject, PassengerId};
use crate::domain::passenger::{self, Passenger, PassengerCommand, PassengerError, PassengerEvent};
use crate::store::{RecordedEvent, StoreError, SubscriptionFilter};

/// The follower's checkpoint name.
pub const CHECKPOINT: &str = "erasures";
const ERASED: &str = "passenger.erased";

/// Why an erasure could not be finished.
#[derive(Debug, thiserror::Error)]
pub enum ErasureError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the key store cannot destroy a key: {0}")]
    Keys(#[from] crate::privacy::KeyError),
    #[error("a passenger.erased event cannot be read: {0}")]
    Undecodable(#[from] crate::domain::EventDecodeError),
}

async fn erase(journal: &Journal, event: &RecordedEvent) -> Result<(), ErasureError> {
    let PassengerEvent::Erased(erased) =
        PassengerEvent::from_data(&event.event_type, event.schema_version, event.data.get())?
    else {
        return Ok(());
    };
    destroy_key(journal, &erased.passenger_id).await?;
    Ok(())
}

/// Destroys a passenger's data key (blocking work: off the async threads).
async fn destroy_key(
    journal: &Journal,
    passenger: &PassengerId,
) -> Result<bool, crate::privacy::KeyError> {
    let privacy = journal.privacy().clone();
    let subject = DataSubject::Passenger(passenger.clone());
    tokio::task::spawn_blocking(move || privacy.erase(&subject))
        .await
        .map_err(|err| crate::privacy::KeyError::Storage(format!("erasure task failed: {err}")))?
}

/// Appends `passenger.erased` for `passenger` (if not yet) and destroys its data key.
/// The key store's record of the destruction is appended with the event, so in a
/// cluster every node destroys the key when it applies the event.
pub async fn erase_passenger(
    journal: &Journal,
    passenger: &PassengerId,
    reason: &str,
    actor: Actor,
) -> Result<super::command::Executed, super::command::CommandError<PassengerError>> {
    let stream = passenger::stream_name(passenger);
    let command = PassengerCommand::ErasePassenger {
        passenger_id: passenger.clone(),
        reason: reason.to_owned(),
    };
    let meta = CommandMeta::new(actor, chrono::Utc::now());
    // With a key: the event is appended by the erasure, carrying its side record.
    let privacy = journal.privacy().clone();
    let subject = DataSubject::Passenger(passenger.clone());
    let (runtime, task) = (tokio::runtime::Handle::current(), journal.clone());
    let (task_stream, task_command, task_meta) = (stream.clone(), command.clone(), meta.clone());
    let (erased, with_key) = tokio::task::spawn_blocking(move || {
        let mut executed = None;
        let erased = privacy.erase_with(&subject, |side| {
            let outcome = runtime.block_on(super::command::execute_with_side::<Passenger>(
                &task,
                &task_stream,
                std::slice::from_ref(&task_command),
                &task_meta,
                &side,
            ));
            let written = match &outcome {
                Ok(executed) => !executed.duplicate && !executed.events.is_empty(),
                // Erased before (a crash between the event and the key's destruction):
                // the key goes now, by a side record of its own.
                Err(super::command::CommandError::Refused(PassengerError::AlreadyErased)) => false,
                Err(err) => {
                    let refused = err.to_string();
                    executed = Some(outcome);
                    return Err(crate::privacy::KeyError::Refused(refused));
                }
            };
            executed = Some(outcome);
            Ok(written)
        });
        (erased, executed)
    })
    .await
    .map_err(|err| {
        super::command::CommandError::Privacy(
            crate::privacy::KeyError::Storage(format!("erasure task failed: {err}")).into(),
        )
    })?;
    let executed = match with_key {
        Some(Err(super::command::CommandError::Refused(PassengerError::AlreadyErased))) | None => {
            None
        }
        Some(Err(err)) => return Err(err),
        Some(Ok(executed)) => Some(executed),
    };
    erased.map_err(|err| super::command::CommandError::Privacy(err.into()))?;
    if let Some(executed) = executed {
        return Ok(executed);
    }
    let executed =
        match super::command::execute::<Passenger>(journal, &stream, &command, &meta).await {
            Ok(executed) => executed,
            Err(super::command::CommandError::Refused(PassengerError::AlreadyErased)) => {
                super::command::Executed {
                    stream: stream.clone(),
                    stream_version: journal_version(journal, &stream)?,
                    position: journal.store().head().position,
                    events: Vec::new(),
                    duplicate: true,
                }
            }
            Err(err) => return Err(err),
        };
    // The event is durable: the key goes now (a crash before this is finished at the
    // next start, from the event).
    destroy_key(journal, passenger)
        .await
        .map_err(|err| super::command::CommandError::Privacy(err.into()))?;
    Ok(executed)
}

fn journal_version(
    journal: &Journal,
    stream: &str,
) -> Result<u64, super::command::CommandError<PassengerError>> {
    Ok(journal.store().stream_version(stream)?.unwrap_or(0))
}

/// Finishes every erasure from the checkpoint to the head; returns how many events it
/// looked at.
pub async fn catch_up(journal: &Journal) -> Result<u64, ErasureError> {
    let store = journal.store();
    let mut next = store.checkpoint(CHECKPOINT)? + 1;
    let head = store.head().position;
    let mut seen = 0;
    while next <= head {
        let events = store.read_all(next, 1_000)?;
        let Some(last) = events.last().map(|e| e.position) else {
            break;
        };
        for event in events.iter().filter(|e| e.event_type == ERASED) {
            erase(journal, event).await?;
            seen += 1;
        }
        store.save_checkpoint(CHECKPOINT, last)?;
        next = last + 1;
    }
    Ok(seen)
}

/// Follows the log live until `shutdown`, retrying a failure after a pause.
pub async fn follow(journal: Journal, mut shutdown: watch::Receiver<bool>) {
    let store = journal.store().clone();
    let from = store.checkpoint(CHECKPOINT).unwrap_or(0) + 1;
    let filter = SubscriptionFilter {
        stream: None,
        type_prefix: Some(ERASED.to_owned()),
    };
    let mut subscription = store.subscribe(from, filter);
    loop {
        let next = tokio::select! {
            next = subscription.next() => next,
            _ = shutdown.changed() => return,
        };
        let event = match next {
            Some(Ok(event)) => event,
            Some(Err(err)) => {
                tracing::error!(cause = %err, "erasure follower cannot read the log; it stops (restart finishes erasures)");
                return;
            }
            None => return,
        };
        let mut wait = Duration::from_millis(100);
        while let Err(err) = erase(&journal, &event).await {
            tracing::error!(cause = %err, position = event.position, "an erasure cannot be finished; retrying");
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.changed() => return,
            }
            wait = (wait * 2).min(Duration::from_secs(30));
        }
        let _ = store.save_checkpoint(CHECKPOINT, event.position);
    }
}
