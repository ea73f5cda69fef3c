//! crisisd: an event-sourced crisis-management backend for airline customer service.
//!
//! | module | owns |
//! |---|---|
//! | [`domain`] | pure business rules: aggregates, events, policies (no IO) |
//! | [`store`] | the event store: trait, sled implementation, hash chain, subscriptions |
//! | [`app`] | command handling: load → decide → append, retries, idempotency keys |
//! | [`bus`] | NATS: subjects, CloudEvents headers, the outbox publisher |
//! | [`cluster`] | cluster mode: the leader lease, the replicated log, a node's follow / lead / step-down |
//! | [`http`] | the HTTP API: commands, queries, SSE, audit; bearer tokens and roles |
//! | [`projection`] | projector runtime: read models built from the log, exactly once |
//! | `analysis` | questions over the whole log: what a candidate policy would have changed |
//! | [`privacy`] | personal data sealed with per-subject keys before append, revealed per role, erased by destroying keys |
//! | [`cli`] | the `crisisd` command line: serve, verify, replay, repair, keys, tokens |
//! | [`tools`] | benchmarks (`crisisd bench …`) and the crash tests' load generator, apart from the product |
//! | [`testing`] | synthetic, valid crisis histories for tests, benchmarks and load |
//!
//! Dependencies point inward: cli, tools → bus → store, → domain; the store knows nothing of the
//! domain, and the product nothing of tools (only the command line dispatches to them).

pub(crate) mod analysis;
pub(crate) mod app;
pub mod bus;
pub mod cli;
pub mod cluster;
pub(crate) mod domain;
pub(crate) mod http;
pub mod metrics;
pub mod privacy;
pub mod projection;
pub mod store;
pub(crate) mod testing;
pub mod tools;
