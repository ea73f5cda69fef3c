//! Policies: pure rule sets the aggregates and the application consult
//! (compensation regimes, SLA calendar, severity, spike detection, airports).
