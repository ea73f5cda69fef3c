//! Policies: pure rule sets the aggregates and the application consult.
//!
//! | module | owns |
//! |---|---|
//! | [`compensation`] | which regimes apply and their explainable decisions (`compensation_eu`, `compensation_other`, cases in `compensation_cases.rs`) |
//! | [`crisis`] | the crisis policy file (`deploy/crisis-policy.json`): severity, spike and SLA settings, root causes |
//! | [`root_causes`] | the root-cause taxonomy and the department answering for each cause |
//! | [`compensation_policy`] | the compensation policy file (`deploy/compensation-policy.json`): carriers, exchange rates, goodwill; which regime governs |
//! | [`exchange`] | exact comparison and conversion of amounts at the policy's rates |
//! | [`goodwill`] | the goodwill section: vouchers and miles by tier and delay |
//! | [`causes`] | who answers for a disruption under each regulation, from the delay codes |
//! | [`airports`] | the shipped airport table, great-circle distances, territories |
//! | [`sla`] | response deadlines per tier and channel, working-day calendar, breaches |
//! | [`severity`] | severity from scope, VIP share, safety and reach |
//! | [`spike`] | spike detection: N signals of one key within a window open an incident |

pub mod airports;
pub mod causes;
pub mod compensation;
pub mod compensation_eu;
pub mod compensation_other;
pub mod compensation_policy;
pub mod crisis;
pub mod exchange;
pub mod goodwill;
pub mod root_causes;
pub mod severity;
pub mod sla;
pub mod spike;
