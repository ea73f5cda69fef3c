//! NATS: the contract of docs/architecture.md ("NATS subjects and headers").
//!
//! | module | owns |
//! |---|---|
//! | [`subjects`] | subject names (`crisis.events.<aggregate>.<id>.<fact>`, ingest, rejections) |
//! | [`cloudevents`] | the CloudEvents 1.0 binary-mode headers of a published event |
//! | [`connection`] | connecting (in the background, forever) and the bounded backoff every retry uses |
//! | [`ingest`] | the durable ingest consumer: lanes, ack after durable, rejections |
//! | [`publisher`] | the outbox publisher: committed log → JetStream `CRISIS_EVENTS`, in order, exactly once |
//!
//! Without a reachable NATS the service keeps serving; the publisher logs that it waits
//! and catches up when NATS appears.

pub mod cloudevents;
pub mod connection;
pub mod ingest;
pub mod publisher;
pub mod subjects;

pub use connection::{Backoff, NatsConfig};
pub use publisher::{Publisher, PublisherConfig};
