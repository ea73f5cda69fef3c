//! Subscriptions: history, then live, with no gap and no duplicate.
//!
//! A subscription is a cursor over the committed log. It takes events up to the
//! durable head in chunks — from the in-memory tail of recent records when it holds the
//! next position ([`super::tail`]: parsed once for every subscriber), from sled
//! otherwise — and, once caught up, waits for the head to move. The writer only
//! publishes a new head (a `watch` channel, which never blocks), so a slow or stalled
//! subscriber costs the writer nothing: it simply reads further back in the log when
//! it resumes.
//!
//! Events come as `Arc<RecordedEvent>`: subscribers at the tip share one parsed copy.

use std::collections::VecDeque;
use std::sync::Arc;

use super::error::StoreError;
use super::sled_store::SledStore;
use super::tail::Slot;
use super::types::{Head, RecordedEvent};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Records read from the log per chunk.
pub const SUBSCRIPTION_CHUNK_EVENTS: usize = 512;

/// Which events a subscription delivers. Empty fields match everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubscriptionFilter {
    /// Only this stream.
    pub stream: Option<String>,
    /// Only types starting with this (e.g. `incident.` or `complaint.acknowledged`).
    pub type_prefix: Option<String>,
}

impl SubscriptionFilter {
    pub fn matches(&self, event: &RecordedEvent) -> bool {
        self.stream.as_deref().is_none_or(|s| s == event.stream)
            && self
                .type_prefix
                .as_deref()
                .is_none_or(|p| event.event_type.starts_with(p))
    }
}

/// A cursor over the log from a position: see the module docs.
pub struct Subscription {
    store: SledStore,
    next_position: u64,
    filter: SubscriptionFilter,
    /// Taken, not yet delivered (nor filtered): from the tail (parsed on delivery) or
    /// read from sled.
    buffer: VecDeque<Buffered>,
    head_rx: watch::Receiver<Head>,
    /// The chunk being read, kept across a cancelled [`Subscription::next`].
    reading: Option<Reading>,
}

enum Buffered {
    Read(Arc<RecordedEvent>),
    Tail(Arc<Slot>),
}

impl Buffered {
    fn position(&self) -> u64 {
        match self {
            Buffered::Read(event) => event.position,
            Buffered::Tail(slot) => slot.position,
        }
    }
}

/// A chunk read in flight: from `from` towards `head`.
struct Reading {
    from: u64,
    head: u64,
    task: JoinHandle<Result<Vec<RecordedEvent>, StoreError>>,
}

impl Subscription {
    pub(crate) fn new(store: SledStore, from: u64, filter: SubscriptionFilter) -> Self {
        let head_rx = store.watch_head();
        Subscription {
            store,
            next_position: from.max(1),
            filter,
            buffer: VecDeque::new(),
            head_rx,
            reading: None,
        }
    }

    /// The position the next read starts at (resume point).
    pub fn next_position(&self) -> u64 {
        self.buffer
            .front()
            .map_or(self.next_position, Buffered::position)
    }

    /// The next matching event; waits for new commits when caught up. `None` once the
    /// store has shut down and everything committed before was delivered.
    ///
    /// Cancel-safe: a chunk whose read was under way when the caller stopped waiting
    /// (`select!`, a zero timeout) is kept and delivered by the next call, not read again.
    /// Cooperative: it uses the task's tokio budget, so a long run of ready events still
    /// lets other tasks on the worker run.
    pub async fn next(&mut self) -> Option<Result<Arc<RecordedEvent>, StoreError>> {
        loop {
            // Taking from the tail never waits: without this, a subscriber catching up
            // through it (or filtering most events out) would hold its worker thread for
            // thousands of events. Cancel-safe: nothing has changed yet.
            tokio::task::consume_budget().await;
            if let Some(buffered) = self.buffer.pop_front() {
                let event = match buffered {
                    Buffered::Read(event) => event,
                    Buffered::Tail(slot) => match slot.event() {
                        Ok(event) => event,
                        Err(err) => {
                            // Kept: the next call meets the same damage, not a gap.
                            self.buffer.push_front(Buffered::Tail(slot));
                            return Some(Err(err));
                        }
                    },
                };
                if self.filter.matches(&event) {
                    return Some(Ok(event));
                }
                continue;
            }
            if let Some(reading) = &mut self.reading {
                let outcome = (&mut reading.task).await;
                let Reading { from, head, .. } = self.reading.take().expect("reading is set");
                let events = match outcome {
                    Ok(events) => events,
                    Err(err) => Err(StoreError::Storage(format!(
                        "subscription read task failed: {err}"
                    ))),
                };
                if let Err(err) = events.and_then(|events| self.accept(from, head, events)) {
                    return Some(Err(err));
                }
                continue;
            }
            let head = self.head_rx.borrow_and_update().position;
            if self.next_position <= head {
                let tail = self.store.tail();
                if let Some(slots) = tail.take(self.next_position, head, SUBSCRIPTION_CHUNK_EVENTS)
                {
                    self.next_position += slots.len() as u64;
                    self.buffer.extend(slots.into_iter().map(Buffered::Tail));
                    continue;
                }
                let store = self.store.clone();
                let from = self.next_position;
                let count = SUBSCRIPTION_CHUNK_EVENTS.min((head - from + 1) as usize);
                let task = tokio::task::spawn_blocking(move || store.read_all(from, count));
                self.reading = Some(Reading { from, head, task });
                continue;
            }
            if self.head_rx.changed().await.is_err() {
                return None;
            }
        }
    }

    /// Takes a chunk read from `from` (below or at `head`) into the buffer.
    fn accept(
        &mut self,
        from: u64,
        head: u64,
        events: Vec<RecordedEvent>,
    ) -> Result<(), StoreError> {
        let Some(last) = events.last() else {
            return Err(StoreError::Damaged(format!(
                "position {from} is below the head {head} but the log has no record there; run `crisisd verify`"
            )));
        };
        assert!(
            events.first().is_some_and(|e| e.position == from),
            "subscription read a gap at position {from}"
        );
        self.next_position = last.position + 1;
        self.buffer
            .extend(events.into_iter().map(|e| Buffered::Read(Arc::new(e))));
        Ok(())
    }
}
