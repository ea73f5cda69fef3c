//! The log's recent tail, in memory, shared by every live subscriber.
//!
//! Under `serve` the publisher and the nine projectors each follow the log. When each
//! read every new chunk from sled and parsed it, every record was parsed ten times: 17 %
//! of all CPU samples in `bench pipeline --projections`. Now the syncer hands each
//! durable batch's records (the bytes the writer just built, moved, not copied) to the
//! tail *before* it publishes the head that covers them; a subscriber whose next
//! position is in the tail takes its events from here, and the first one that needs a
//! record parses it for all of them ([`Slot::event`]).
//!
//! The tail keeps the last [`TAIL_EVENTS`] positions, contiguous, and at most
//! [`TAIL_RECORD_BYTES_MAX`] of record bytes (events run up to 64 KiB); a subscriber
//! further behind reads sled as before. Subscribers never take a slot beyond the head
//! they observed, so nothing is seen before its head is published.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, OnceLock};

use super::error::StoreError;
use super::sled_store::parse_record;
use super::types::RecordedEvent;

/// Positions kept in memory (about 2.5 KB each with the parsed event, for a typical
/// 1 KB record; more once the read models have left its decoded data on it, see
/// [`crate::store::DecodedData`]).
pub const TAIL_EVENTS: usize = 8_192;
/// Record bytes kept in memory; the parsed events take about as much again, and their
/// decoded data more (not counted against this bound).
pub const TAIL_RECORD_BYTES_MAX: usize = 16 * 1024 * 1024;

/// One record of the tail, parsed at most once.
pub(crate) struct Slot {
    pub position: u64,
    record: Vec<u8>,
    event: OnceLock<Option<Arc<RecordedEvent>>>,
}

impl Slot {
    /// The parsed event; the first caller parses, the others wait for it and share it.
    pub fn event(&self) -> Result<Arc<RecordedEvent>, StoreError> {
        let parsed = self
            .event
            .get_or_init(|| parse_record(self.position, &self.record).ok().map(Arc::new));
        match parsed {
            Some(event) => Ok(event.clone()),
            // Parsing again gives the error, with the position, as a read from sled would.
            None => parse_record(self.position, &self.record).map(Arc::new),
        }
    }
}

pub(crate) struct Tail {
    slots: Mutex<Slots>,
    capacity: usize,
}

#[derive(Default)]
struct Slots {
    slots: VecDeque<Arc<Slot>>,
    record_bytes: usize,
}

impl Tail {
    pub fn new(capacity: usize) -> Tail {
        Tail {
            slots: Mutex::new(Slots::default()),
            capacity,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Slots> {
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds durable records, in position order. A position that does not follow the
    /// last one (which the single writer never produces) empties the tail first: the
    /// tail stays contiguous, and subscribers read sled for what it lacks.
    pub fn extend(&self, records: Vec<(u64, Vec<u8>)>) {
        if self.capacity == 0 || records.is_empty() {
            return;
        }
        // Allocated before the lock, freed after it: the syncer calls this between the
        // fsync and publishing the head.
        let new: Vec<Arc<Slot>> = records
            .into_iter()
            .map(|(position, record)| {
                Arc::new(Slot {
                    position,
                    record,
                    event: OnceLock::new(),
                })
            })
            .collect();
        let mut evicted = Vec::new();
        let mut tail = self.lock();
        for slot in new {
            if let Some(last) = tail.slots.back()
                && last.position + 1 != slot.position
            {
                debug_assert!(false, "tail gap: {} after {}", slot.position, last.position);
                tracing::warn!(
                    position = slot.position,
                    last = last.position,
                    "records reached the in-memory tail out of order; it restarts empty (subscribers read the store)"
                );
                evicted.extend(tail.slots.drain(..));
                tail.record_bytes = 0;
            }
            tail.record_bytes += slot.record.len();
            tail.slots.push_back(slot);
            while tail.slots.len() > self.capacity
                || (tail.record_bytes > TAIL_RECORD_BYTES_MAX && tail.slots.len() > 1)
            {
                let oldest = tail.slots.pop_front().expect("more than one slot");
                tail.record_bytes -= oldest.record.len();
                evicted.push(oldest);
            }
        }
        drop(tail);
        drop(evicted);
    }

    /// The slots of positions `from..=to`, at most `max` of them, if the tail holds
    /// `from`; `None` sends the caller to sled.
    pub fn take(&self, from: u64, to: u64, max: usize) -> Option<Vec<Arc<Slot>>> {
        let tail = self.lock();
        let first = tail.slots.front()?.position;
        if from < first || from > to || max == 0 {
            return None;
        }
        let start = usize::try_from(from - first).ok()?;
        if start >= tail.slots.len() {
            return None;
        }
        let count = usize::try_from(to - from + 1)
            .unwrap_or(usize::MAX)
            .min(max);
        Some(tail.slots.range(start..).take(count).cloned().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(from: u64, to: u64) -> Vec<(u64, Vec<u8>)> {
        (from..=to).map(|p| (p, vec![p as u8])).collect()
    }

    fn positions(slots: Option<Vec<Arc<Slot>>>) -> Option<Vec<u64>> {
        slots.map(|s| s.iter().map(|s| s.position).collect())
    }

    #[test]
    fn take_gives_contiguous_positions_up_to_the_bound_and_the_limit() {
        let tail = Tail::new(8);
        tail.extend(records(1, 5));
        assert_eq!(positions(tail.take(2, 4, 10)), Some(vec![2, 3, 4]));
        assert_eq!(positions(tail.take(2, 9, 2)), Some(vec![2, 3]));
        assert_eq!(positions(tail.take(5, 9, 10)), Some(vec![5]));
        assert_eq!(positions(tail.take(6, 9, 10)), None, "beyond the last slot");
        assert_eq!(
            positions(tail.take(4, 3, 10)),
            None,
            "from beyond the bound"
        );
    }

    #[test]
    fn the_oldest_positions_leave_when_full() {
        let tail = Tail::new(4);
        tail.extend(records(1, 3));
        tail.extend(records(4, 6));
        assert_eq!(
            positions(tail.take(2, 6, 10)),
            None,
            "position 2 was evicted"
        );
        assert_eq!(positions(tail.take(3, 6, 10)), Some(vec![3, 4, 5, 6]));
    }

    #[test]
    #[cfg(not(debug_assertions))]
    fn a_gap_empties_the_tail_rather_than_lie() {
        let tail = Tail::new(8);
        tail.extend(records(1, 3));
        tail.extend(records(5, 6));
        assert_eq!(positions(tail.take(1, 6, 10)), None);
        assert_eq!(positions(tail.take(5, 6, 10)), Some(vec![5, 6]));
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "tail gap")]
    fn a_gap_is_a_bug_caught_in_debug_builds() {
        let tail = Tail::new(8);
        tail.extend(records(1, 3));
        tail.extend(records(5, 6));
    }

    #[test]
    fn record_bytes_are_bounded_too() {
        let tail = Tail::new(1_000);
        let big = TAIL_RECORD_BYTES_MAX / 4 + 1;
        tail.extend((1..=5).map(|p| (p, vec![0; big])).collect());
        assert_eq!(positions(tail.take(1, 5, 10)), None, "the oldest left");
        assert_eq!(positions(tail.take(3, 5, 10)), Some(vec![3, 4, 5]));
        assert_eq!(
            positions(tail.take(3, 5, 0)),
            None,
            "nothing asked, nothing given"
        );
    }

    #[test]
    fn an_empty_tail_or_zero_capacity_sends_readers_to_sled() {
        let tail = Tail::new(0);
        tail.extend(records(1, 3));
        assert_eq!(positions(tail.take(1, 3, 10)), None);
        assert_eq!(positions(Tail::new(4).take(1, 3, 10)), None);
    }

    #[test]
    fn an_unparseable_record_is_an_error_every_time() {
        let tail = Tail::new(4);
        tail.extend(vec![(1, b"not a record".to_vec())]);
        let slot = tail.take(1, 1, 1).unwrap().pop().unwrap();
        for _ in 0..2 {
            let err = slot.event().unwrap_err();
            assert!(err.to_string().contains("position 1"), "{err}");
        }
    }
}
