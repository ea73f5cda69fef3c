//! Cluster-mode building blocks (issue 24) against three real nats-servers clustered on
//! loopback: the leader lease and the replicated log. A missing nats-server fails with how
//! to install it; nothing is skipped.

mod lease;
mod log;
mod nats_cluster;
// Only its binary lookup is used here.
#[allow(dead_code)]
#[path = "../bus/nats_server.rs"]
mod nats_server;
mod proxy;
