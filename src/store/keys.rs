//! Key layout of the single sled tree.
//!
//! Log, indexes and head share ONE tree under prefixes because `apply_batch` on one
//! tree is atomic (a multi-tree transaction is ~3× slower). Integers are big-endian so
//! keys sort numerically.
//!
//! | key | value |
//! |---|---|
//! | `L` key number:u64 | the stored records of positions 8n+1..=8n+8 ([`super::log`]) |
//! | `X` first position:u64 | index chunk of one batch: id, stream, version per event ([`super::index`]) |
//! | `M/head` | position:u64 hash:32 |
//! | `M/format` | format name |
//! | `C/` name | checkpoint position:u64 of a log follower (publisher, projector) |
//! | `K` sequence:u64 | the side records of one batch, each length-prefixed (u32) |

pub const LOG: u8 = b'L';
pub const HEAD: &[u8] = b"M/head";
pub const FORMAT: &[u8] = b"M/format";
pub const INDEX: u8 = b'X';
pub const SIDE: u8 = b'K';

/// The key of the `sequence`-th batch of side records.
pub fn side(sequence: u64) -> [u8; 9] {
    let mut key = [SIDE; 9];
    key[1..].copy_from_slice(&sequence.to_be_bytes());
    key
}
pub const FORMAT_NAME: &[u8] = b"crisisd-event-store-3";
/// Earlier formats this build refuses, with how to move their logs over: 1 kept
/// per-event index keys, 2 kept one record per log key.
pub const OLDER_FORMAT_NAMES: [&[u8]; 2] = [b"crisisd-event-store-1", b"crisisd-event-store-2"];

/// Log key number `number` (see [`super::log`]; the raw benchmark baseline uses it as
/// one key per record).
pub fn log(number: u64) -> [u8; 9] {
    let mut key = [LOG; 9];
    key[1..].copy_from_slice(&number.to_be_bytes());
    key
}

pub fn log_number(key: &[u8]) -> u64 {
    assert!(key.len() == 9 && key[0] == LOG, "not a log key: {key:?}");
    u64::from_be_bytes(key[1..9].try_into().expect("length checked"))
}

pub fn index_chunk(first_position: u64) -> [u8; 9] {
    let mut key = [INDEX; 9];
    key[1..].copy_from_slice(&first_position.to_be_bytes());
    key
}

pub fn index_chunk_position(key: &[u8]) -> u64 {
    assert!(
        key.len() == 9 && key[0] == INDEX,
        "not an index key: {key:?}"
    );
    u64::from_be_bytes(key[1..9].try_into().expect("length checked"))
}

pub fn u64_value(value: &[u8]) -> u64 {
    u64::from_be_bytes(value[..8].try_into().expect("u64 values are 8 bytes"))
}

/// Checkpoint key of a named log follower.
pub fn checkpoint(name: &str) -> Vec<u8> {
    let mut key = b"C/".to_vec();
    key.extend_from_slice(name.as_bytes());
    key
}
