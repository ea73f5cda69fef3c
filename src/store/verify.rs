//! Hash-chain verification: names the first bad position and the kind of damage.
//!
//! [`ChainVerifier`] wraps any sequence of stored records (sled's log, an NDJSON
//! export) and yields each record once it is proven to link to its predecessor. At the
//! first anomaly it looks ahead (at most [`LOOKAHEAD_RECORDS`]) to tell the kinds apart:
//!
//! | kind | signature |
//! |---|---|
//! | edited | content does not match its hash, or the next record links to a different version of it |
//! | missing | a position has no record (a gap, or later records claim positions shifted up) |
//! | reordered | a record claims another position and that position's record is elsewhere |
//! | inserted | a record that the following record links over, or that shifts later ones down |

use std::collections::VecDeque;

use super::codec::{HashBytes, RawRecord};

/// How far verification looks ahead to classify damage.
pub const LOOKAHEAD_RECORDS: usize = 4096;

/// The kind of damage found in the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DamageKind {
    Edited,
    Missing,
    Reordered,
    Inserted,
}

/// The first bad position and what is wrong there.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct Damage {
    pub position: u64,
    pub kind: DamageKind,
    pub detail: String,
}

impl std::fmt::Display for Damage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:?} at position {}: {}",
            self.kind, self.position, self.detail
        )
    }
}

/// The result of verifying a range of the log.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct VerifyReport {
    pub from: u64,
    pub to: u64,
    /// Records proven good before the first damage (or all of them).
    pub verified: u64,
    /// Hash of the last good record.
    pub last_hash: HashBytes,
    pub damage: Option<Damage>,
}

impl VerifyReport {
    pub fn is_ok(&self) -> bool {
        self.damage.is_none()
    }
}

/// One record as seen by the verifier.
pub trait ChainItem {
    /// Where the record is stored (sled key, or line order in an export).
    fn slot(&self) -> u64;
    /// The stored record, `None` if it cannot be decoded.
    fn raw(&self) -> Option<RawRecord<'_>>;
    /// The position the record's own body claims, `None` if unreadable.
    fn body_position(&self) -> Option<u64>;
    /// Whether the content matches its hash; items hashed ahead of time answer from memory.
    fn content_ok(&self) -> bool {
        self.raw().is_some_and(|raw| raw.content_matches_hash())
    }
}

/// Yields records in slot order after proving each one; stops at the first damage.
pub struct ChainVerifier<I: Iterator> {
    inner: I,
    ahead: VecDeque<I::Item>,
    expected: u64,
    last: HashBytes,
    before_last: Option<HashBytes>,
    failed: bool,
}

impl<I, T> ChainVerifier<I>
where
    I: Iterator<Item = T>,
    T: ChainItem,
{
    /// Verifies records starting at `first`, whose predecessor has hash `prev_hash`
    /// ([`HashBytes::ZERO`] for position 1).
    pub fn new(inner: I, first: u64, prev_hash: HashBytes) -> Self {
        ChainVerifier {
            inner,
            ahead: VecDeque::new(),
            expected: first,
            last: prev_hash,
            before_last: None,
            failed: false,
        }
    }

    /// The next position expected (one past the last good record).
    pub fn next_position(&self) -> u64 {
        self.expected
    }

    /// Hash of the last good record.
    pub fn last_hash(&self) -> HashBytes {
        self.last
    }

    fn pull(&mut self) -> Option<T> {
        self.ahead.pop_front().or_else(|| self.inner.next())
    }

    /// Loads up to `n` records ahead of the current one.
    fn fill_ahead(&mut self, n: usize) {
        while self.ahead.len() < n {
            match self.inner.next() {
                Some(item) => self.ahead.push_back(item),
                None => break,
            }
        }
    }

    fn check(&mut self, item: &T) -> Result<(), Damage> {
        let slot = item.slot();
        let damage = |position, kind, detail: String| {
            Err(Damage {
                position,
                kind,
                detail,
            })
        };
        if slot != self.expected {
            return damage(
                self.expected,
                DamageKind::Missing,
                format!(
                    "no record at position {}; the next record is stored at {slot}",
                    self.expected
                ),
            );
        }
        let Some(raw) = item.raw() else {
            return damage(
                slot,
                DamageKind::Edited,
                "the stored record cannot be decoded".into(),
            );
        };
        if !item.content_ok() {
            return damage(
                slot,
                DamageKind::Edited,
                "the record's content does not match its hash".into(),
            );
        }
        let Some(claimed) = item.body_position() else {
            return damage(
                slot,
                DamageKind::Edited,
                "the record's body cannot be parsed".into(),
            );
        };
        if claimed > slot {
            self.fill_ahead(LOOKAHEAD_RECORDS);
            return match self
                .ahead
                .iter()
                .find(|later| later.body_position() == Some(slot))
            {
                Some(later) => damage(
                    slot,
                    DamageKind::Reordered,
                    format!(
                        "the record here claims position {claimed}; position {slot}'s record is stored at {}",
                        later.slot()
                    ),
                ),
                None => damage(
                    slot,
                    DamageKind::Missing,
                    format!(
                        "the record here claims position {claimed}: positions {slot}..{} are missing",
                        claimed - 1
                    ),
                ),
            };
        }
        if claimed < slot {
            return if raw.hash == self.last {
                damage(
                    slot,
                    DamageKind::Inserted,
                    format!("the record here is a copy of position {}", slot - 1),
                )
            } else if Some(raw.prev_hash) == self.before_last {
                damage(
                    slot - 1,
                    DamageKind::Inserted,
                    format!(
                        "position {slot} holds the original {claimed}, which links over the record at {}",
                        slot - 1
                    ),
                )
            } else {
                damage(
                    slot,
                    DamageKind::Reordered,
                    format!("the record here claims the earlier position {claimed}"),
                )
            };
        }
        if raw.prev_hash != self.last {
            if Some(raw.prev_hash) == self.before_last {
                return damage(
                    slot - 1,
                    DamageKind::Inserted,
                    format!(
                        "position {slot} links over position {}, which was inserted",
                        slot - 1
                    ),
                );
            }
            self.fill_ahead(1);
            let next_links_over = self
                .ahead
                .front()
                .and_then(|next| next.raw())
                .is_some_and(|next| next.prev_hash == self.last);
            if next_links_over {
                return damage(
                    slot,
                    DamageKind::Inserted,
                    format!("the next record links over position {slot}"),
                );
            }
            let edited = slot.saturating_sub(1).max(1);
            return damage(
                edited,
                DamageKind::Edited,
                format!(
                    "position {slot} links to a different version of position {edited}: it was rewritten and re-hashed (or {slot}'s link was)"
                ),
            );
        }
        Ok(())
    }
}

impl<I, T> Iterator for ChainVerifier<I>
where
    I: Iterator<Item = T>,
    T: ChainItem,
{
    type Item = Result<T, Damage>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let item = self.pull()?;
        if let Err(damage) = self.check(&item) {
            self.failed = true;
            return Some(Err(damage));
        }
        let hash = item.raw().expect("checked above").hash;
        self.before_last = Some(self.last);
        self.last = hash;
        self.expected += 1;
        Some(Ok(item))
    }
}

/// Records hashed per chunk: the content check of a chunk runs on a helper thread
/// while the caller parses and links the previous one, so verification costs little
/// more than a plain scan.
pub const HASH_AHEAD_CHUNK_RECORDS: usize = 512;

/// Calls `consume` with `records` (slot, bytes) extended by their content check, which
/// runs on a scoped helper thread up to a few chunks ahead (bounded channel).
pub fn with_hashes_ahead<V, I, R>(
    records: I,
    consume: impl FnOnce(&mut dyn Iterator<Item = (u64, V, bool)>) -> R,
) -> R
where
    V: AsRef<[u8]> + Send,
    I: Iterator<Item = (u64, V)> + Send,
{
    std::thread::scope(|scope| {
        let (chunk_tx, chunk_rx) = std::sync::mpsc::sync_channel::<Vec<(u64, V, bool)>>(4);
        scope.spawn(move || {
            let mut chunk = Vec::with_capacity(HASH_AHEAD_CHUNK_RECORDS);
            for (slot, bytes) in records {
                let ok =
                    RawRecord::decode(bytes.as_ref()).is_some_and(|raw| raw.content_matches_hash());
                chunk.push((slot, bytes, ok));
                if chunk.len() == HASH_AHEAD_CHUNK_RECORDS {
                    let full =
                        std::mem::replace(&mut chunk, Vec::with_capacity(HASH_AHEAD_CHUNK_RECORDS));
                    if chunk_tx.send(full).is_err() {
                        return; // the consumer stopped early
                    }
                }
            }
            let _ = chunk_tx.send(chunk);
        });
        let mut items = chunk_rx.into_iter().flatten();
        consume(&mut items)
    })
}

/// A stored record with its slot; the body position is parsed on demand.
pub struct StoredItem<V: AsRef<[u8]>> {
    pub slot: u64,
    pub bytes: V,
    pub position: Option<u64>,
    /// Content check computed ahead of time, if it was.
    pub content_ok: Option<bool>,
}

impl<V: AsRef<[u8]>> StoredItem<V> {
    /// Wraps stored bytes, parsing only the body's position.
    pub fn new(slot: u64, bytes: V) -> Self {
        let position = RawRecord::decode(bytes.as_ref())
            .and_then(|raw| {
                serde_json::from_slice::<super::codec::BodyPosition>(raw.canonical).ok()
            })
            .map(|body| body.position);
        StoredItem {
            slot,
            bytes,
            position,
            content_ok: None,
        }
    }

    /// Wraps stored bytes whose content check was already computed.
    pub fn prehashed(slot: u64, bytes: V, content_ok: bool) -> Self {
        StoredItem {
            content_ok: Some(content_ok),
            ..StoredItem::new(slot, bytes)
        }
    }
}

impl<V: AsRef<[u8]>> ChainItem for StoredItem<V> {
    fn slot(&self) -> u64 {
        self.slot
    }
    fn raw(&self) -> Option<RawRecord<'_>> {
        RawRecord::decode(self.bytes.as_ref())
    }
    fn body_position(&self) -> Option<u64> {
        self.position
    }
    fn content_ok(&self) -> bool {
        self.content_ok
            .unwrap_or_else(|| self.raw().is_some_and(|raw| raw.content_matches_hash()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::codec::{chain_hash, encode_record};

    fn body(position: u64, salt: &str) -> Vec<u8> {
        format!(r#"{{"position":{position},"salt":"{salt}"}}"#).into_bytes()
    }

    /// A valid chain of `n` records: (slot, bytes).
    fn chain(n: u64) -> Vec<(u64, Vec<u8>)> {
        let mut prev = HashBytes::ZERO;
        (1..=n)
            .map(|p| {
                let canonical = body(p, "ok");
                let hash = chain_hash(&prev, &canonical);
                let rec = encode_record(&prev, &hash, &canonical);
                prev = hash;
                (p, rec)
            })
            .collect()
    }

    fn first_damage(records: Vec<(u64, Vec<u8>)>) -> Option<(u64, DamageKind)> {
        let items = records
            .into_iter()
            .map(|(slot, bytes)| StoredItem::new(slot, bytes));
        ChainVerifier::new(items, 1, HashBytes::ZERO)
            .find_map(|r| r.err())
            .map(|d| (d.position, d.kind))
    }

    fn rehash(prev: HashBytes, canonical: Vec<u8>) -> (Vec<u8>, HashBytes) {
        let hash = chain_hash(&prev, &canonical);
        (encode_record(&prev, &hash, &canonical), hash)
    }

    fn hash_of(record: &[u8]) -> HashBytes {
        RawRecord::decode(record).unwrap().hash
    }

    #[test]
    fn intact_chain_verifies() {
        assert_eq!(first_damage(chain(50)), None);
    }

    #[test]
    fn edited_content_is_named() {
        let mut log = chain(10);
        let len = log[4].1.len();
        log[4].1[len - 3] ^= 1; // flips a byte of position 5's salt
        assert_eq!(first_damage(log), Some((5, DamageKind::Edited)));
    }

    #[test]
    fn edited_and_rehashed_is_named_at_the_edit() {
        let mut log = chain(10);
        let prev = hash_of(&log[3].1);
        log[4].1 = rehash(prev, body(5, "forged")).0;
        assert_eq!(first_damage(log), Some((5, DamageKind::Edited)));
    }

    #[test]
    fn deleted_record_is_missing() {
        let mut log = chain(10);
        log.remove(6);
        assert_eq!(first_damage(log.clone()), Some((7, DamageKind::Missing)));
        // Renumbered slots after the deletion: still missing at 7.
        for (i, entry) in log.iter_mut().enumerate() {
            entry.0 = i as u64 + 1;
        }
        assert_eq!(first_damage(log), Some((7, DamageKind::Missing)));
    }

    #[test]
    fn swapped_records_are_reordered() {
        let mut log = chain(10);
        let (a, b) = (log[2].1.clone(), log[7].1.clone());
        log[2].1 = b;
        log[7].1 = a;
        assert_eq!(first_damage(log), Some((3, DamageKind::Reordered)));
        let mut log = chain(10);
        let (a, b) = (log[2].1.clone(), log[3].1.clone());
        log[2].1 = b;
        log[3].1 = a;
        assert_eq!(first_damage(log), Some((3, DamageKind::Reordered)));
    }

    #[test]
    fn inserted_records_are_named() {
        // A forged record that links correctly, later records shifted up by one slot.
        let mut log = chain(10);
        let (forged, _) = rehash(hash_of(&log[3].1), body(5, "forged"));
        log.insert(4, (5, forged));
        for (i, entry) in log.iter_mut().enumerate() {
            entry.0 = i as u64 + 1;
        }
        assert_eq!(first_damage(log), Some((5, DamageKind::Inserted)));
        // A forged record with a bogus link, the next record linking over it.
        let mut log = chain(10);
        let (forged, _) = rehash(HashBytes([9; 32]), body(5, "forged"));
        log.insert(4, (5, forged));
        for (i, entry) in log.iter_mut().enumerate() {
            entry.0 = i as u64 + 1;
        }
        assert_eq!(first_damage(log), Some((5, DamageKind::Inserted)));
    }

    #[test]
    fn verification_can_start_mid_log() {
        let log = chain(20);
        let prev = hash_of(&log[9].1);
        let items = log.into_iter().skip(10).map(|(s, b)| StoredItem::new(s, b));
        let mut verifier = ChainVerifier::new(items, 11, prev);
        assert!(verifier.by_ref().all(|r| r.is_ok()));
        assert_eq!(verifier.next_position(), 21);
    }
}
