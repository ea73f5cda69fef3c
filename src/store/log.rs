//! The log: stored records, [`RECORDS_PER_KEY`] to a sled key.
//!
//! sled spends several microseconds of CPU on every key it inserts, whatever its size
//! (measured: ~6 µs per 600-byte record as one key each, ~2.3 µs per record as eight
//! to a key). So the records of positions `8c + 1 ..= 8c + 8` share the key
//! `L c` ([`keys::log`]): its value is the records one after the other, each as
//! `[length: u32 BE][record]` ([`super::codec`] defines the record). A batch that ends
//! inside a key's range writes that key with the records it has; the next batch
//! rewrites it with more, in its own atomic `apply_batch`, so a key always holds a
//! prefix of its range and never half a batch.
//!
//! Readers see records with their *slot*: the position the layout puts them at. A
//! record whose body claims another position, a key with too few records, or bytes
//! that do not split into records are damage the chain verifier names
//! ([`super::verify`]); nothing here trusts a record's content.

use sled::IVec;

use super::keys;

/// Records per sled key.
pub const RECORDS_PER_KEY: u64 = 8;

/// The key number holding `position` (from 1).
pub fn key_number(position: u64) -> u64 {
    position.saturating_sub(1) / RECORDS_PER_KEY
}

/// The first position of key number `number`.
pub fn first_position(number: u64) -> u64 {
    number * RECORDS_PER_KEY + 1
}

/// The sled key holding `position`.
pub fn key_of(position: u64) -> [u8; 9] {
    keys::log(key_number(position))
}

/// The records of a key's value, in order, as slices of it (no copy). Bytes that do
/// not split (a length running past the end) come out as one last record, which the
/// chain check then refuses.
pub fn records(value: &IVec) -> impl Iterator<Item = IVec> + '_ {
    let mut at = 0;
    std::iter::from_fn(move || {
        if at >= value.len() {
            return None;
        }
        let rest = value.len() - at;
        let len = (rest >= 4)
            .then(|| u32::from_be_bytes(value[at..at + 4].try_into().expect("4 bytes")) as usize)
            .filter(|len| *len <= rest - 4);
        Some(match len {
            Some(len) => {
                at += 4 + len;
                value.subslice(at - len, len)
            }
            None => {
                at = value.len();
                value.subslice(value.len() - rest, rest)
            }
        })
    })
}

/// All the records of a key's value (see [`records`]).
pub fn split(value: &IVec) -> Vec<IVec> {
    records(value).collect()
}

/// Appends one record to a key's value.
pub fn push_record(value: &mut Vec<u8>, record: &[u8]) {
    let len = u32::try_from(record.len()).expect("records are capped far below 4 GiB");
    value.extend_from_slice(&len.to_be_bytes());
    value.extend_from_slice(record);
}

/// Joins records into a key's value.
pub fn join<'a>(records: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut value = Vec::new();
    for record in records {
        push_record(&mut value, record);
    }
    value
}

/// The stored record at `position`, if any.
pub fn get(tree: &sled::Tree, position: u64) -> sled::Result<Option<IVec>> {
    if position == 0 {
        return Ok(None);
    }
    let Some(value) = tree.get(key_of(position))? else {
        return Ok(None);
    };
    let index = (position - first_position(key_number(position))) as usize;
    Ok(records(&value).nth(index))
}

/// Stored records with their slots, for slots in `[from, to]`, in key order.
pub fn range(
    tree: &sled::Tree,
    from: u64,
    to: u64,
) -> impl Iterator<Item = sled::Result<(u64, IVec)>> + use<> {
    let (from, to) = (from.max(1), to);
    let keys = if from > to {
        keys::log(1)..keys::log(1)
    } else {
        keys::log(key_number(from))..keys::log(key_number(to).saturating_add(1))
    };
    tree.range(keys).flat_map(move |entry| {
        let (first, records) = match entry {
            Err(err) => return vec![Err(err)],
            Ok((key, value)) => (first_position(keys::log_number(&key)), split(&value)),
        };
        records
            .into_iter()
            .zip(first..)
            .filter(|(_, slot)| (from..=to).contains(slot))
            .map(|(record, slot)| Ok((slot, record)))
            .collect()
    })
}

/// The slot of the last stored record (0: none).
pub fn last_slot(tree: &sled::Tree) -> sled::Result<u64> {
    let Some((key, value)) = tree.scan_prefix([keys::LOG]).next_back().transpose()? else {
        return Ok(0);
    };
    let count = records(&value).count() as u64;
    Ok((first_position(keys::log_number(&key)) + count).saturating_sub(1))
}

/// Writes records at the end of the log, batch by batch: holds the records of the last,
/// partly filled key so each batch can write that key whole.
#[derive(Debug)]
pub struct Appender {
    /// Key number of `open`.
    number: u64,
    /// The value of key `number` so far.
    open: Vec<u8>,
    /// The position the next record takes.
    next: u64,
}

impl Appender {
    /// Continues the log after `head`, loading its partly filled last key.
    pub fn after(tree: &sled::Tree, head: u64) -> sled::Result<Appender> {
        let next = head + 1;
        let number = key_number(next);
        let open = if next == first_position(number) {
            Vec::new()
        } else {
            let value = tree.get(keys::log(number))?.unwrap_or_default();
            let keep = (next - first_position(number)) as usize;
            join(split(&value).iter().take(keep).map(|r| r.as_ref()))
        };
        Ok(Appender { number, open, next })
    }

    /// Adds the record of the next position; full keys go into `batch`.
    pub fn push(&mut self, record: &[u8], batch: &mut sled::Batch) {
        push_record(&mut self.open, record);
        self.next += 1;
        if key_number(self.next) != self.number {
            batch.insert(&keys::log(self.number), std::mem::take(&mut self.open));
            self.number = key_number(self.next);
        }
    }

    /// Puts the partly filled last key into `batch` (call once per batch, last).
    pub fn finish(&self, batch: &mut sled::Batch) {
        if !self.open.is_empty() {
            batch.insert(&keys::log(self.number), self.open.as_slice());
        }
    }
}

/// Adds to `batch` what drops positions `from` and later; returns how many stored
/// records that drops.
pub fn truncate_from(tree: &sled::Tree, from: u64, batch: &mut sled::Batch) -> sled::Result<u64> {
    let from = from.max(1);
    let mut dropped = 0;
    for entry in tree.range(keys::log(key_number(from))..keys::log(u64::MAX)) {
        let (key, value) = entry?;
        let first = first_position(keys::log_number(&key));
        let records = split(&value);
        let keep = usize::try_from(from.saturating_sub(first)).unwrap_or(usize::MAX);
        if keep == 0 {
            batch.remove(key);
        } else if records.len() > keep {
            batch.insert(key, join(records[..keep].iter().map(|r| r.as_ref())));
        }
        dropped += records.len().saturating_sub(keep) as u64;
    }
    Ok(dropped)
}

/// Rewrites the stored record at `position`, or adds it when it is the slot right
/// after the key's last record. For tests that play an attacker with disk access.
#[doc(hidden)]
pub fn put(tree: &sled::Tree, position: u64, record: &[u8]) -> sled::Result<()> {
    let key = key_of(position);
    let value = tree.get(key)?.unwrap_or_default();
    let mut records: Vec<Vec<u8>> = split(&value).iter().map(|r| r.to_vec()).collect();
    let index = (position - first_position(key_number(position))) as usize;
    assert!(
        index <= records.len(),
        "position {position} is past the end of its key"
    );
    if index == records.len() {
        records.push(record.to_vec());
    } else {
        records[index] = record.to_vec();
    }
    tree.insert(key, join(records.iter().map(Vec::as_slice)))?;
    Ok(())
}

/// Deletes the stored record at `position` from its key (the records after it in the
/// key move down a slot). For tests that play an attacker with disk access.
#[doc(hidden)]
pub fn remove(tree: &sled::Tree, position: u64) -> sled::Result<()> {
    let key = key_of(position);
    let value = tree.get(key)?.unwrap_or_default();
    let mut records = split(&value);
    let index = (position - first_position(key_number(position))) as usize;
    if index < records.len() {
        records.remove(index);
    }
    tree.insert(key, join(records.iter().map(|r| r.as_ref())))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> (tempfile::TempDir, sled::Tree) {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path()).unwrap();
        let tree = (*db).clone();
        (dir, tree)
    }

    fn record(position: u64) -> Vec<u8> {
        format!("record {position}").into_bytes()
    }

    /// Appends `sizes` batches, each applied on its own.
    fn append(tree: &sled::Tree, head: &mut u64, sizes: &[u64]) {
        for size in sizes {
            let mut appender = Appender::after(tree, *head).unwrap();
            let mut batch = sled::Batch::default();
            for p in *head + 1..=*head + size {
                appender.push(&record(p), &mut batch);
            }
            appender.finish(&mut batch);
            tree.apply_batch(batch).unwrap();
            *head += size;
        }
    }

    #[test]
    fn batches_of_any_size_read_back_by_position_and_range() {
        let (_dir, tree) = tree();
        let mut head = 0;
        append(&tree, &mut head, &[1, 7, 3, 8, 16, 5, 1, 1, 20]);
        assert_eq!(last_slot(&tree).unwrap(), head);
        for p in 1..=head {
            assert_eq!(get(&tree, p).unwrap().unwrap().as_ref(), record(p), "{p}");
        }
        assert_eq!(get(&tree, head + 1).unwrap(), None);
        assert_eq!(get(&tree, 0).unwrap(), None);
        for (from, to) in [(1, head), (3, 9), (8, 8), (9, 17), (head, head), (5, 4)] {
            let got: Vec<(u64, Vec<u8>)> = range(&tree, from, to)
                .map(|r| r.map(|(s, v)| (s, v.to_vec())).unwrap())
                .collect();
            let want: Vec<(u64, Vec<u8>)> = (from..=to).map(|p| (p, record(p))).collect();
            assert_eq!(got, want, "{from}..={to}");
        }
        // Reopening mid-key continues it.
        let reopened = Appender::after(&tree, head).unwrap();
        assert_eq!(reopened.next, head + 1);
    }

    #[test]
    fn truncation_keeps_exactly_the_prefix() {
        for from in [1, 2, 8, 9, 10, 30, 61, 62] {
            let (_dir, tree) = tree();
            let mut head = 0;
            append(&tree, &mut head, &[13, 20, 28]);
            let mut batch = sled::Batch::default();
            let dropped = truncate_from(&tree, from, &mut batch).unwrap();
            tree.apply_batch(batch).unwrap();
            let kept = (from - 1).min(head);
            assert_eq!(dropped, head - kept, "from {from}");
            assert_eq!(last_slot(&tree).unwrap(), kept, "from {from}");
            let mut head = kept;
            append(&tree, &mut head, &[3]);
            let all: Vec<u64> = range(&tree, 1, u64::MAX).map(|r| r.unwrap().0).collect();
            assert_eq!(all, (1..=kept + 3).collect::<Vec<_>>());
        }
    }

    #[test]
    fn garbled_bytes_come_out_as_one_record_and_never_panic() {
        let (_dir, tree) = tree();
        for value in [
            vec![0u8, 0, 0],
            vec![0, 0, 0, 9, 1, 2],
            vec![255; 40],
            vec![],
        ] {
            tree.insert(keys::log(0), value.clone()).unwrap();
            let records: Vec<_> = range(&tree, 1, 100).map(Result::unwrap).collect();
            let bytes: usize = records.iter().map(|(_, r)| r.len()).sum();
            assert!(bytes <= value.len());
            let _ = get(&tree, 1).unwrap();
            let _ = last_slot(&tree).unwrap();
        }
    }

    #[test]
    fn put_and_remove_change_one_record() {
        let (_dir, tree) = tree();
        let mut head = 0;
        append(&tree, &mut head, &[12]);
        put(&tree, 3, b"edited").unwrap();
        put(&tree, 13, b"added").unwrap();
        remove(&tree, 10).unwrap();
        let all: Vec<(u64, Vec<u8>)> = range(&tree, 1, u64::MAX)
            .map(|r| r.map(|(s, v)| (s, v.to_vec())).unwrap())
            .collect();
        assert_eq!(all[2], (3, b"edited".to_vec()));
        assert_eq!(all[9], (10, record(11)));
        assert_eq!(all.last().unwrap(), &(12, b"added".to_vec()));
    }
}
