//! The airline's goodwill policy: vouchers or miles by tier and delay, the `goodwill`
//! section of the compensation policy file (or a file of its own, `--goodwill-policy`).
//! Vouchers are set in the policy's currency and issued in the currency of the country
//! the journey starts from when the policy names one for it (`currency_by_country`),
//! converted at the policy's rate and rounded up to a whole unit.

use chrono::Duration;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::compensation::{
    CompensationDecision, CompensationInput, Disruption, Regime, decision, experienced_delay, hours,
};
use super::exchange::{ExchangeRates, format_money, minor_digits};
use crate::domain::common::{Currency, Money, Tier};

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
    /// Currency vouchers are issued in, by ISO country of the journey's origin
    /// (`{"CA": "CAD"}`); elsewhere, `currency`. Each needs an exchange rate.
    #[serde(default)]
    pub currency_by_country: std::collections::BTreeMap<String, Currency>,
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
        policy.validate()?;
        Ok(policy)
    }

    /// What is wrong with the policy, naming the field to fix.
    pub fn validate(&self) -> Result<(), GoodwillError> {
        let policy = self;
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
        for country in policy.currency_by_country.keys() {
            if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_uppercase()) {
                return invalid(
                    format!("currency_by_country.{country}"),
                    "countries are ISO 3166-1 alpha-2 codes (\"CA\")",
                );
            }
        }
        Ok(())
    }

    /// The goodwill policy shipped with crisisd: the shipped compensation policy's.
    #[cfg(test)]
    pub fn default_policy() -> GoodwillPolicy {
        super::compensation_policy::CompensationPolicy::default_policy().goodwill
    }

    /// A voucher of `amount` (in the policy's currency) in the currency of the journey's
    /// origin, rounded up to a whole unit, and the line that says so.
    fn local_voucher(
        &self,
        amount: Money,
        input: &CompensationInput,
        rates: Option<&ExchangeRates>,
    ) -> (Money, Option<String>) {
        let Some(&local) = self.currency_by_country.get(&input.origin_country) else {
            return (amount, None);
        };
        if local == amount.currency {
            return (amount, None);
        }
        let Some(converted) = rates.and_then(|r| r.convert_up(amount, local)) else {
            let why = format!(
                "no {}/{} rate in the policy: the voucher is issued in {}",
                amount.currency.as_str(),
                local.as_str(),
                amount.currency.as_str()
            );
            return (amount, Some(why));
        };
        let unit = 10u64.pow(minor_digits(local));
        let whole = Money::new(converted.amount_minor.div_ceil(unit) * unit, local);
        let rate = rates.map(|r| {
            r.describe(if r.base == local {
                amount.currency
            } else {
                local
            })
        });
        let why = format!(
            "voucher issued in {}, the currency of {}: {} for {} at {}, rounded up to a whole unit",
            local.as_str(),
            input.origin_country,
            format_money(whole),
            format_money(amount),
            rate.unwrap_or_default()
        );
        (whole, Some(why))
    }

    /// The goodwill decision: the rule of the passenger's tier with the highest
    /// threshold the delay reaches (a cancellation without rerouting reaches all).
    pub fn decide(
        &self,
        input: &CompensationInput,
        rates: Option<&ExchangeRates>,
    ) -> CompensationDecision {
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
                d.miles = (rule.miles > 0).then_some(rule.miles);
                d.reasoning.push(format!("goodwill policy v{}: {:?} tier, {what} reaches {} min: voucher {} {}, {} miles", self.version, rule.tier, rule.min_delay_minutes, rule.voucher_minor / 100, self.currency, rule.miles));
                if rule.voucher_minor > 0 {
                    let policy_amount = Money::new(rule.voucher_minor, self.currency);
                    let (voucher, why) = self.local_voucher(policy_amount, input, rates);
                    d.voucher = Some(voucher);
                    d.reasoning.extend(why);
                }
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
