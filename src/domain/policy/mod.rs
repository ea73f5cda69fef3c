//! Policies: pure rule sets the aggregates and the application consult
//! (compensation regimes, SLA calendar, severity, spike detection, airports).

pub mod airports;
pub mod compensation;
pub mod compensation_eu;
pub mod compensation_other;
pub mod goodwill;
