//! Power loss and disk faults: crisisd on [`lazyfs`], a FUSE filesystem that forgets
//! what was not synced, cut again and again under load through the real binary.
//! Needs root and `/dev/fuse` (the test mounts with the mount syscall, no fusermount).

mod faults;
mod lazyfs;
mod lazyfs_tests;
// Only `start` and `url` are used here.
#[allow(dead_code)]
#[path = "../bus/nats_server.rs"]
mod nats_server;
mod rounds;
mod support;
