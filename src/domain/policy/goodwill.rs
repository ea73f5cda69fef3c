//! The airline's goodwill policy: vouchers or miles by tier and delay, loaded from a JSON
//! file shipped under `deploy/` (the library never reads files: callers pass the text).

use chrono::Duration;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::compensation::{
    CompensationDecision, CompensationInput, Disruption, Regime, decision, experienced_delay, hours,
};
use crate::domain::common::{Currency, Money, Tier};

/// The policy shipped with crisisd.
pub const DEFAULT_POLICY_JSON: &str = include_str!("../../../deploy/goodwill-policy.json");

/// Vouchers and miles by tier and delay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GoodwillPolicy {
    /// Format version of the file; this build reads 1.
    pub version: u32,
    pub currency: Currency,
    /// Days the airline gives itself to issue a goodwill gesture.
    pub issue_within_days: u32,
    pub rules: Vec<GoodwillRule>,
}

/// From `min_delay_minutes` on, a passenger of `tier` gets this voucher and these miles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GoodwillRule {
    pub tier: Tier,
    pub min_delay_minutes: u32,
    pub voucher_minor: u64,
    pub miles: u64,
}

/// A goodwill file crisisd refuses, and what to fix.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum GoodwillError {
    #[error("goodwill policy is not valid JSON for this format: {0}")]
    Format(String),
    #[error("goodwill policy field {field}: {problem}")]
    Invalid { field: String, problem: String },
}

impl GoodwillPolicy {
    /// Parses and validates a policy file's text.
    pub fn parse(text: &str) -> Result<GoodwillPolicy, GoodwillError> {
        let policy: GoodwillPolicy =
            serde_json::from_str(text).map_err(|err| GoodwillError::Format(err.to_string()))?;
        let invalid = |field: String, problem: &str| {
            Err(GoodwillError::Invalid {
                field,
                problem: problem.to_owned(),
            })
        };
        if policy.version != 1 {
            return invalid("version".into(), "this build reads version 1");
        }
        if policy.issue_within_days == 0 || policy.issue_within_days > 365 {
            return invalid("issue_within_days".into(), "must be between 1 and 365");
        }
        let mut seen = std::collections::HashSet::new();
        for (i, rule) in policy.rules.iter().enumerate() {
            if !seen.insert((rule.tier, rule.min_delay_minutes)) {
                return invalid(
                    format!("rules[{i}]"),
                    "duplicates another rule's tier and min_delay_minutes",
                );
            }
            if rule.voucher_minor == 0 && rule.miles == 0 {
                return invalid(
                    format!("rules[{i}]"),
                    "gives neither a voucher nor miles; remove it",
                );
            }
        }
        Ok(policy)
    }

    /// The shipped default policy.
    pub fn default_policy() -> GoodwillPolicy {
        GoodwillPolicy::parse(DEFAULT_POLICY_JSON).expect("the shipped goodwill policy is valid")
    }

    /// The goodwill decision: the rule of the passenger's tier with the highest
    /// threshold the delay reaches (a cancellation without rerouting reaches all).
    pub fn decide(&self, input: &CompensationInput) -> CompensationDecision {
        let deadline = input.decided_at + Duration::days(i64::from(self.issue_within_days));
        let mut d = decision(Regime::Goodwill, input, deadline);
        let delay = experienced_delay(&input.disruption).unwrap_or(u32::MAX);
        let rule = self
            .rules
            .iter()
            .filter(|r| r.tier == input.tier && delay >= r.min_delay_minutes)
            .max_by_key(|r| r.min_delay_minutes);
        let what = match (input.disruption, delay) {
            (
                Disruption::Cancellation {
                    rerouting: None, ..
                },
                _,
            ) => "cancellation without rerouting".to_owned(),
            (_, delay) => format!("delay {}", hours(delay)),
        };
        match rule {
            Some(rule) => {
                d.rule_id = format!(
                    "goodwill.v{}.{:?}.{}min",
                    self.version, rule.tier, rule.min_delay_minutes
                )
                .to_lowercase();
                d.voucher = (rule.voucher_minor > 0)
                    .then_some(Money::new(rule.voucher_minor, self.currency));
                d.miles = (rule.miles > 0).then_some(rule.miles);
                d.reasoning.push(format!("goodwill policy v{}: {:?} tier, {what} reaches {} min: voucher {} {}, {} miles", self.version, rule.tier, rule.min_delay_minutes, rule.voucher_minor / 100, self.currency, rule.miles));
            }
            None => {
                d.rule_id = format!("goodwill.v{}.none", self.version);
                d.reasoning.push(format!(
                    "goodwill policy v{}: no rule for the {:?} tier at {what}",
                    self.version, input.tier
                ));
            }
        }
        d
    }
}
