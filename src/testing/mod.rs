//! Synthetic data shared by tests, benchmarks and load tools.
//!
//! | module | what |
//! |---|---|
//! | [`workload`] | valid crisis histories (scenario `n`), built through the domain's own `decide` |
//! | [`day`] | a day of operations as ingest messages, for `simulate` and benchmarks; its seeded [`day::Rng`], routes, delay codes, tiers and [`day::Post`] |

pub mod day;
pub mod workload;
