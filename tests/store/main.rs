//! Event store integration tests: the guarantees of docs/store.md, checked the way users
//! break them (concurrent writers, kill -9, tampering, stalled subscribers).

mod bench;
mod common;
mod concurrency;
mod crash;
mod model;
mod policy;
mod reads;
mod replication;
mod subscribe;
mod tamper;
