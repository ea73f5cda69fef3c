//! Synthetic data shared by tests, benchmarks and load tools: [`workload`] builds valid
//! crisis histories through the domain's own `decide`.

pub mod workload;
