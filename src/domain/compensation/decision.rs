//! PLACEHOLDER mirroring `policy::compensation::{CompensationDecision, Regime}`
//! until that module is wired into the build; replaced by a re-export then.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::domain::common::{Currency, Money};

/// A legal regime (or the airline's goodwill policy).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Regime {
    Eu261,
    Uk261,
    CanadaAppr,
    UsDot,
    ChinaCaac,
    Goodwill,
}

/// One regime's explainable decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CompensationDecision {
    pub regime: Regime,
    pub rule_id: String,
    pub rule_version: u32,
    pub cash: Option<Money>,
    pub payment_deadline: DateTime<Utc>,
    pub reasoning: Vec<String>,
}

impl CompensationDecision {
    /// The statutory cash owed, zero when none is.
    pub fn entitled(&self) -> Money {
        self.cash.unwrap_or(Money::new(0, Currency::EUR))
    }
}

/// A decision for tests.
#[cfg(test)]
pub fn example(
    regime: Regime,
    cash: Option<Money>,
    payment_deadline: DateTime<Utc>,
) -> CompensationDecision {
    CompensationDecision {
        regime,
        rule_id: "test.rule".into(),
        rule_version: 1,
        cash,
        payment_deadline,
        reasoning: vec!["test".into()],
    }
}
