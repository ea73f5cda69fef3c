//! The airline's compensation policy file (`deploy/compensation-policy.json`): which
//! carriers it operates or sells (each with its home and size, which decide the regimes
//! that apply), the exchange rates amounts are compared and converted with (dated, with
//! their source), and the goodwill policy. The library never reads files: callers pass
//! the text.
//!
//! The operating carrier of a flight is looked up by its IATA designator; a carrier not
//! in the table takes the default the service was started with (`--carrier-home`,
//! `--carrier-size`), and every decision says which it was.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::compensation::{CarrierHome, CarrierSize, CompensationDecision, Regime};
use super::exchange::{ExchangeRates, format_money};
use super::goodwill::{GoodwillError, GoodwillPolicy};
use crate::domain::common::Money;

/// The policy shipped with crisisd.
pub const DEFAULT_POLICY_JSON: &str = include_str!("../../../deploy/compensation-policy.json");

/// An operating carrier's licence and size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CarrierEntry {
    pub name: String,
    /// Where the carrier is licensed (EU 261 Art. 3(1)(b): a "Community carrier").
    pub home: CarrierHome,
    /// APPR s. 1: large = 2 million passengers or more in each of the last two years.
    pub size: CarrierSize,
}

/// The compensation policy file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CompensationPolicy {
    /// Format version of the file; this build reads 1.
    pub version: u32,
    /// Carriers by IATA designator (`"LH"`): the group's own and its codeshare partners.
    #[serde(default)]
    pub carriers: BTreeMap<String, CarrierEntry>,
    /// Rates to compare amounts owed in different currencies and to issue vouchers in
    /// the passenger's currency. Without them, such amounts are not compared: an agent
    /// chooses the governing regime.
    #[serde(default)]
    pub exchange_rates: Option<ExchangeRates>,
    pub goodwill: GoodwillPolicy,
}

/// Which regime an entitlement is paid under, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Governing {
    Chosen {
        regime: Regime,
        reasoning: Vec<String>,
    },
    /// Amounts in currencies the policy has no rate between: an agent chooses.
    Undecided { reasoning: Vec<String> },
}

fn regime_name(regime: Regime) -> &'static str {
    match regime {
        Regime::Eu261 => "EU 261",
        Regime::Uk261 => "UK 261",
        Regime::CanadaAppr => "APPR",
        Regime::UsDot => "US DOT",
        Regime::ChinaCaac => "CAAC",
        Regime::Goodwill => "goodwill",
    }
}

impl CompensationPolicy {
    /// Parses and validates a policy file's text.
    pub fn parse(text: &str) -> Result<CompensationPolicy, GoodwillError> {
        let policy: CompensationPolicy =
            serde_json::from_str(text).map_err(|err| GoodwillError::Format(err.to_string()))?;
        policy.validate()?;
        Ok(policy)
    }

    /// The shipped default policy.
    pub fn default_policy() -> CompensationPolicy {
        CompensationPolicy::parse(DEFAULT_POLICY_JSON)
            .expect("the shipped compensation policy is valid")
    }

    /// This policy with `goodwill` in place of its own (the `--goodwill-policy` file).
    pub fn with_goodwill(self, goodwill: GoodwillPolicy) -> Result<Self, GoodwillError> {
        let policy = CompensationPolicy { goodwill, ..self };
        policy.validate()?;
        Ok(policy)
    }

    fn validate(&self) -> Result<(), GoodwillError> {
        let invalid =
            |field: String, problem: String| Err(GoodwillError::Invalid { field, problem });
        if self.version != 1 {
            return invalid("version".into(), "this build reads version 1".into());
        }
        for (code, entry) in &self.carriers {
            let designator = (2..=3).contains(&code.len())
                && code
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
            if !designator {
                return invalid(
                    format!("carriers.{code}"),
                    "a carrier is keyed by its IATA designator: 2 upper-case letters or digits (\"LH\")".into(),
                );
            }
            if entry.name.trim().is_empty() {
                return invalid(format!("carriers.{code}.name"), "must not be empty".into());
            }
        }
        if let Some(rates) = &self.exchange_rates
            && let Some((field, problem)) = rates.problem()
        {
            return invalid(format!("exchange_rates.{field}"), problem);
        }
        self.goodwill.validate().map_err(|err| match err {
            GoodwillError::Invalid { field, problem } => GoodwillError::Invalid {
                field: format!("goodwill.{field}"),
                problem,
            },
            other => other,
        })?;
        for (country, currency) in &self.goodwill.currency_by_country {
            let one = |c| Money::new(1, c);
            let rated = self.exchange_rates.as_ref().is_some_and(|r| {
                r.compare(one(*currency), one(self.goodwill.currency))
                    .is_some()
            });
            if *currency != self.goodwill.currency && !rated {
                return invalid(
                    format!("goodwill.currency_by_country.{country}"),
                    format!(
                        "vouchers in {} need an exchange rate between {} and {}: add it to exchange_rates.rates, or remove {country}",
                        currency.as_str(),
                        self.goodwill.currency.as_str(),
                        currency.as_str()
                    ),
                );
            }
        }
        Ok(())
    }

    /// The carrier's entry, if the table has it.
    pub fn carrier(&self, designator: &str) -> Option<&CarrierEntry> {
        self.carriers.get(designator)
    }

    /// The regime an entitlement is paid under: the one owing the most cash, worth
    /// compared through the policy's rates when currencies differ (legal regimes before
    /// goodwill, then the earlier decision, on a tie). Without a rate for a pair of
    /// currencies owed, nothing is guessed: [`Governing::Undecided`]. `None` without
    /// decisions.
    pub fn governing(&self, decisions: &[CompensationDecision]) -> Option<Governing> {
        let first = decisions
            .iter()
            .find(|d| d.regime != Regime::Goodwill)
            .or(decisions.first())?;
        let owing: Vec<(&CompensationDecision, Money)> = decisions
            .iter()
            .filter_map(|d| d.cash.filter(|m| m.amount_minor > 0).map(|m| (d, m)))
            .collect();
        let Some(&(mut best, mut best_cash)) = owing.first() else {
            let why = format!(
                "no regime owes cash: {} governs the deadline",
                regime_name(first.regime)
            );
            return Some(Governing::Chosen {
                regime: first.regime,
                reasoning: vec![why],
            });
        };
        let mut reasoning = Vec::new();
        for &(d, cash) in &owing[1..] {
            let order = if cash.currency == best_cash.currency {
                Some(cash.amount_minor.cmp(&best_cash.amount_minor))
            } else {
                self.exchange_rates
                    .as_ref()
                    .and_then(|r| r.compare(cash, best_cash))
            };
            let Some(order) = order else {
                let owed = owing
                    .iter()
                    .map(|(d, m)| format!("{} owes {}", regime_name(d.regime), format_money(*m)))
                    .collect::<Vec<_>>()
                    .join(", ");
                reasoning.push(format!(
                    "{owed}; the policy has no exchange rate between {} and {}, so their worth is not compared: an agent chooses the governing regime",
                    best_cash.currency.as_str(),
                    cash.currency.as_str()
                ));
                return Some(Governing::Undecided { reasoning });
            };
            let (winner, loser) = if order == Ordering::Greater {
                ((d, cash), (best, best_cash))
            } else {
                ((best, best_cash), (d, cash))
            };
            reasoning.push(self.comparison(winner, loser));
            (best, best_cash) = winner;
        }
        if reasoning.is_empty() {
            reasoning.push(format!(
                "{} governs: the only regime owing cash ({})",
                regime_name(best.regime),
                format_money(best_cash)
            ));
        }
        Some(Governing::Chosen {
            regime: best.regime,
            reasoning,
        })
    }

    /// "EU 261 (EUR 600.00) is worth more than APPR (CAD 700.00 ≈ EUR 430.77 at …)".
    fn comparison(
        &self,
        (winner, won): (&CompensationDecision, Money),
        (loser, lost): (&CompensationDecision, Money),
    ) -> String {
        let rates = self.exchange_rates.as_ref();
        let worth = match rates {
            Some(r) if won.currency != lost.currency => {
                let foreign = if lost.currency == r.base {
                    won.currency
                } else {
                    lost.currency
                };
                let converted = r
                    .convert_up(lost, won.currency)
                    .map_or_else(String::new, |m| format!(" ≈ {}", format_money(m)));
                format!("{converted} at {}", r.describe(foreign))
            }
            _ => String::new(),
        };
        format!(
            "{} governs: {} is worth at least {} under {}{worth}",
            regime_name(winner.regime),
            format_money(won),
            format_money(lost),
            regime_name(loser.regime),
        )
    }
}

#[cfg(test)]
// Amounts are written units_cents (600_00 is 600.00) on purpose.
#[allow(clippy::inconsistent_digit_grouping)]
mod tests {
    use super::*;
    use crate::domain::common::Currency;

    fn owing(regime: Regime, cash: Money) -> CompensationDecision {
        let input = crate::testing::workload::fra_jfk_delay(
            crate::domain::common::Tier::None,
            false,
            chrono::Utc::now(),
        );
        let mut d = super::super::compensation::decision(regime, &input, chrono::Utc::now());
        d.cash = Some(cash);
        d
    }

    /// Issue 19, item 2: Lufthansa Toronto → Frankfurt, 7 h late: APPR owes CAD 700, EU 261
    /// EUR 600 (Art. 3(1)(b)); EUR 600 is worth more, whatever the bare numbers say.
    #[test]
    fn regimes_are_compared_by_worth_at_the_policys_rates() {
        let policy = CompensationPolicy::default_policy();
        let decisions = [
            owing(Regime::Eu261, Money::new(600_00, Currency::EUR)),
            owing(Regime::CanadaAppr, Money::new(700_00, Currency::CAD)),
        ];
        let Some(Governing::Chosen { regime, reasoning }) = policy.governing(&decisions) else {
            panic!("the shipped policy has a CAD rate");
        };
        assert_eq!(regime, Regime::Eu261);
        let rates = policy.exchange_rates.as_ref().unwrap();
        assert!(
            reasoning[0].contains(&rates.describe(Currency::CAD)),
            "the rate used is named: {reasoning:?}"
        );
        // In the other order, and with APPR owing more (CAD 1,000 ≈ EUR 615).
        let decisions = [
            owing(Regime::CanadaAppr, Money::new(1_000_00, Currency::CAD)),
            owing(Regime::Eu261, Money::new(600_00, Currency::EUR)),
        ];
        assert!(matches!(
            policy.governing(&decisions),
            Some(Governing::Chosen {
                regime: Regime::CanadaAppr,
                ..
            })
        ));
    }

    #[test]
    fn without_a_rate_nothing_is_guessed() {
        let mut policy = CompensationPolicy::default_policy();
        policy.exchange_rates = None;
        let decisions = [
            owing(Regime::Eu261, Money::new(600_00, Currency::EUR)),
            owing(Regime::CanadaAppr, Money::new(700_00, Currency::CAD)),
        ];
        let Some(Governing::Undecided { reasoning }) = policy.governing(&decisions) else {
            panic!("no rate: undecided");
        };
        assert!(
            reasoning[0].contains("EU 261 owes EUR 600.00, APPR owes CAD 700.00"),
            "{reasoning:?}"
        );
        // One currency needs no rate.
        let decisions = [
            owing(Regime::Eu261, Money::new(250_00, Currency::EUR)),
            owing(Regime::Goodwill, Money::new(0, Currency::EUR)),
            owing(Regime::Uk261, Money::new(220_00, Currency::GBP)),
        ];
        assert!(matches!(
            policy.governing(&decisions),
            Some(Governing::Undecided { .. })
        ));
        let decisions = [
            owing(Regime::Eu261, Money::new(250_00, Currency::EUR)),
            owing(Regime::Goodwill, Money::new(300_00, Currency::EUR)),
        ];
        assert!(matches!(
            policy.governing(&decisions),
            Some(Governing::Chosen {
                regime: Regime::Goodwill,
                ..
            })
        ));
    }

    #[test]
    fn the_shipped_policy_is_valid_and_files_name_what_to_fix() {
        let policy = CompensationPolicy::default_policy();
        assert_eq!(
            policy.carrier("CA").map(|c| c.home),
            Some(CarrierHome::China)
        );
        let mut value: serde_json::Value = serde_json::from_str(DEFAULT_POLICY_JSON).unwrap();
        value["carriers"]["lh"] = value["carriers"]["LH"].clone();
        let err = CompensationPolicy::parse(&value.to_string()).unwrap_err();
        assert!(err.to_string().contains("carriers.lh"), "{err}");
        let mut value: serde_json::Value = serde_json::from_str(DEFAULT_POLICY_JSON).unwrap();
        value["exchange_rates"]["rates"]
            .as_object_mut()
            .unwrap()
            .remove("CAD");
        let err = CompensationPolicy::parse(&value.to_string()).unwrap_err();
        assert!(
            err.to_string().contains("goodwill.currency_by_country.CA"),
            "{err}"
        );
        let mut value: serde_json::Value = serde_json::from_str(DEFAULT_POLICY_JSON).unwrap();
        value["exchange_rates"]["rates"]["CAD"] = "1,6".into();
        let err = CompensationPolicy::parse(&value.to_string()).unwrap_err();
        assert!(err.to_string().contains("1,6"), "{err}");
        let mut value: serde_json::Value = serde_json::from_str(DEFAULT_POLICY_JSON).unwrap();
        value["goodwill"]["issue_within_days"] = 0.into();
        let err = CompensationPolicy::parse(&value.to_string()).unwrap_err();
        assert!(
            err.to_string().contains("goodwill.issue_within_days"),
            "{err}"
        );
    }
}
