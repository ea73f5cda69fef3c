//! PLACEHOLDER until `policy::compensation` publishes its decision type:
//! a minimal explainable decision (regime, rule id and version, reasoning).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The policy's explainable decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CompensationDecision {
    pub regime: String,
    pub rule_id: String,
    pub rule_version: u32,
    pub reasoning: Vec<String>,
}

/// A decision for tests.
#[cfg(test)]
pub fn example() -> CompensationDecision {
    CompensationDecision {
        regime: "eu261".into(),
        rule_id: "eu261.art7.long".into(),
        rule_version: 1,
        reasoning: vec!["6,200 km, arrival delay 4 h 10 min: EUR 600".into()],
    }
}
