//! NATS integration tests, against a real `nats-server` started by the tests.

mod arrivals;
mod bench;
mod compensation;
mod deploy_nats;
mod e2e;
mod ingest;
mod nats_server;
mod privacy;
mod publisher;
mod simulate;
mod team;
