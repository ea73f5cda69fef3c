//! Key layout of the single sled tree.
//!
//! Log, indexes and head share ONE tree under prefixes because `apply_batch` on one
//! tree is atomic (a multi-tree transaction is ~3× slower). Integers are big-endian so
//! keys sort numerically.
//!
//! | key | value |
//! |---|---|
//! | `L` position:u64 | stored record ([`super::codec`]) |
//! | `X` first position:u64 | index chunk of one batch: id, stream, version per event ([`super::index`]) |
//! | `M/head` | position:u64 hash:32 |
//! | `M/format` | format name |
//! | `C/` name | checkpoint position:u64 of a log follower (publisher, projector) |

pub const LOG: u8 = b'L';
pub const STREAM: u8 = b'S';
pub const ID: u8 = b'I';
pub const HEAD: &[u8] = b"M/head";
pub const FORMAT: &[u8] = b"M/format";
pub const INDEX: u8 = b'X';
pub const FORMAT_NAME: &[u8] = b"crisisd-event-store-2";
/// The format before the index moved to chunks (per-event `S` and `I` keys).
pub const FORMAT_NAME_1: &[u8] = b"crisisd-event-store-1";

pub fn log(position: u64) -> [u8; 9] {
    let mut key = [LOG; 9];
    key[1..].copy_from_slice(&position.to_be_bytes());
    key
}

pub fn log_position(key: &[u8]) -> u64 {
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

/// `S stream 0x00`: every version key of the stream starts with this (format 1, and the
/// benchmark's per-event index baseline).
pub fn stream_prefix(stream: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(stream.len() + 10);
    key.push(STREAM);
    key.extend_from_slice(stream.as_bytes());
    key.push(0);
    key
}

pub fn stream_version(stream: &str, version: u64) -> Vec<u8> {
    let mut key = stream_prefix(stream);
    key.extend_from_slice(&version.to_be_bytes());
    key
}

pub fn version_of_stream_key(key: &[u8]) -> u64 {
    u64::from_be_bytes(
        key[key.len() - 8..]
            .try_into()
            .expect("stream keys end in a u64"),
    )
}

pub fn id(event_id: &uuid::Uuid) -> [u8; 17] {
    let mut key = [ID; 17];
    key[1..].copy_from_slice(event_id.as_bytes());
    key
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
