//! Power loss and disk faults: crisisd on [`lazyfs`], a FUSE filesystem that forgets
//! what was not synced, cut again and again under load through the real binary.
//! Needs root and `/dev/fuse` (the test mounts with the mount syscall, no fusermount).

mod lazyfs;
mod lazyfs_tests;
