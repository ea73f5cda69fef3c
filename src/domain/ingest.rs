//! Versioned ingest message formats published by flight-ops and channel systems,
//! and their pure validation.
