//! Cluster mode (issue 24) against three real nats-servers clustered on loopback: the
//! building blocks (the leader lease, the replicated log, the events publisher on R3
//! streams) and whole `crisisd serve
//! --cluster` nodes failing over under load (`nodes`, `failover`). A missing nats-server
//! fails with how to install it; nothing is skipped.

mod failover;
// The FUSE filesystem of the power tests, to make a node's disk fail (needs root and
// /dev/fuse); only its mount and fault injection are used here.
#[allow(dead_code)]
#[path = "../power/lazyfs.rs"]
mod lazyfs;
mod lease;
mod log;
mod nats_cluster;
mod nodes;
mod personal_data;
// Only its binary lookup and `answers_as` are used here.
#[allow(dead_code)]
#[path = "../bus/nats_server.rs"]
mod nats_server;
mod proxy;
mod publisher;
