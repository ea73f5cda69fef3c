//! Exchange rates from the compensation policy file: dated, with their source, exact.
//!
//! A rate says how many units of a currency one unit of the base currency buys
//! (`"CAD": "1.625"` with base EUR: EUR 1 = CAD 1.625), written as a decimal string with
//! at most six decimals and kept as an integer of millionths, so comparing and
//! converting amounts is integer arithmetic: no float rounding decides who is owed more.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use chrono::NaiveDate;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::domain::common::{Currency, Money};

/// Millionths in one unit of a rate.
const SCALE: u128 = 1_000_000;

/// Digits after the decimal point of a currency's minor unit (ISO 4217).
pub fn minor_digits(currency: Currency) -> u32 {
    match currency.as_str() {
        "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF" | "UGX"
        | "UYI" | "VND" | "VUV" | "XAF" | "XOF" | "XPF" => 0,
        "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
        _ => 2,
    }
}

/// `EUR 600.00`.
pub fn format_money(money: Money) -> String {
    let digits = minor_digits(money.currency);
    let unit = 10u64.pow(digits);
    if digits == 0 {
        return format!("{} {}", money.currency.as_str(), money.amount_minor);
    }
    format!(
        "{} {}.{:0width$}",
        money.currency.as_str(),
        money.amount_minor / unit,
        money.amount_minor % unit,
        width = digits as usize
    )
}

/// A rate as the file writes it: a positive decimal string, at most six decimals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Rate(u64);

impl JsonSchema for Rate {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Rate".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "Units of the currency one unit of the base buys, as a decimal string (at most six decimals).",
            "type": "string",
            "pattern": "^[0-9]+(\\.[0-9]{1,6})?$"
        })
    }
}

impl TryFrom<String> for Rate {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        let bad = || {
            format!(
                "rate {text:?} is not a positive decimal with at most six decimals (e.g. \"1.625\")"
            )
        };
        let (units, fraction) = text.split_once('.').unwrap_or((&text, ""));
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(units) || (!fraction.is_empty() && !digits(fraction)) || fraction.len() > 6 {
            return Err(bad());
        }
        if text.contains('.') && fraction.is_empty() {
            return Err(bad());
        }
        let units: u64 = units.parse().map_err(|_| bad())?;
        let fraction: u64 = format!("{fraction:0<6}").parse().map_err(|_| bad())?;
        let micros = units
            .checked_mul(1_000_000)
            .and_then(|u| u.checked_add(fraction))
            .filter(|&m| m > 0)
            .ok_or_else(bad)?;
        Ok(Rate(micros))
    }
}

impl From<Rate> for String {
    fn from(rate: Rate) -> String {
        let text = format!("{}.{:06}", rate.0 / 1_000_000, rate.0 % 1_000_000);
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

/// The rates a policy file gives, with their date and source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExchangeRates {
    /// The day the rates are from.
    pub as_of: NaiveDate,
    /// Where they come from (e.g. "ECB euro foreign exchange reference rates").
    pub source: String,
    pub base: Currency,
    /// Units of each currency one unit of `base` buys.
    pub rates: BTreeMap<Currency, Rate>,
}

impl ExchangeRates {
    /// What is wrong with the table, if anything, naming the field to fix.
    pub fn problem(&self) -> Option<(String, String)> {
        if self.source.trim().is_empty() {
            return Some(("source".into(), "say where the rates come from".into()));
        }
        if self.rates.contains_key(&self.base) {
            return Some((
                format!("rates.{}", self.base.as_str()),
                "the base currency needs no rate; remove it".into(),
            ));
        }
        None
    }

    /// Millionths of `currency` one unit of the base buys; `None` without a rate.
    fn micros(&self, currency: Currency) -> Option<u128> {
        if currency == self.base {
            return Some(SCALE);
        }
        self.rates.get(&currency).map(|r| u128::from(r.0))
    }

    /// `money`'s worth in base minor units, as the fraction numerator / denominator.
    fn in_base(&self, money: Money) -> Option<(u128, u128)> {
        let rate = self.micros(money.currency)?;
        let numerator =
            u128::from(money.amount_minor) * SCALE * 10u128.pow(minor_digits(self.base));
        let denominator = rate * 10u128.pow(minor_digits(money.currency));
        Some((numerator, denominator))
    }

    /// Compares what two amounts are worth; `None` when a currency has no rate.
    pub fn compare(&self, a: Money, b: Money) -> Option<Ordering> {
        if a.currency == b.currency {
            return Some(a.amount_minor.cmp(&b.amount_minor));
        }
        let (an, ad) = self.in_base(a)?;
        let (bn, bd) = self.in_base(b)?;
        Some((an * bd).cmp(&(bn * ad)))
    }

    /// `money` in `to`, rounded up to the minor unit (a passenger never gets less);
    /// `None` when a currency has no rate.
    pub fn convert_up(&self, money: Money, to: Currency) -> Option<Money> {
        if money.currency == to {
            return Some(money);
        }
        let (n, d) = self.in_base(money)?;
        let numerator = n * self.micros(to)? * 10u128.pow(minor_digits(to));
        let denominator = d * SCALE * 10u128.pow(minor_digits(self.base));
        let amount = numerator.div_ceil(denominator);
        Some(Money::new(u64::try_from(amount).ok()?, to))
    }

    /// `1 EUR = 1.625 CAD (ECB reference rates, 2026-12-01)`.
    pub fn describe(&self, currency: Currency) -> String {
        let rate = self
            .rates
            .get(&currency)
            .map_or_else(|| "1".to_owned(), |r| String::from(*r));
        format!(
            "1 {} = {rate} {} ({}, {})",
            self.base.as_str(),
            currency.as_str(),
            self.source,
            self.as_of
        )
    }
}

#[cfg(test)]
// Amounts are written units_cents (600_00 is 600.00) on purpose.
#[allow(clippy::inconsistent_digit_grouping)]
mod tests {
    use super::*;

    fn jpy_currency() -> Currency {
        Currency::try_from("JPY".to_owned()).unwrap()
    }

    fn rates() -> ExchangeRates {
        ExchangeRates {
            as_of: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
            source: "test".into(),
            base: Currency::EUR,
            rates: [
                (Currency::CAD, Rate::try_from("1.625".to_owned()).unwrap()),
                (jpy_currency(), Rate::try_from("170.5".to_owned()).unwrap()),
            ]
            .into(),
        }
    }

    #[test]
    fn amounts_compare_by_worth_not_by_number() {
        let r = rates();
        let eur = |c| Money::new(c, Currency::EUR);
        let cad = |c| Money::new(c, Currency::CAD);
        // CAD 700 = EUR 430.77: EUR 600 is worth more, though 700 > 600.
        assert_eq!(r.compare(eur(600_00), cad(700_00)), Some(Ordering::Greater));
        // Exactly equal worth: CAD 3.25 = EUR 2.
        assert_eq!(r.compare(eur(200), cad(325)), Some(Ordering::Equal));
        assert_eq!(r.compare(eur(1), Money::new(1, Currency::GBP)), None);
        // JPY has no minor unit: JPY 171 > EUR 1.00 > JPY 170.
        let jpy = |n| Money::new(n, jpy_currency());
        assert_eq!(r.compare(eur(100), jpy(171)), Some(Ordering::Less));
        assert_eq!(r.compare(eur(100), jpy(170)), Some(Ordering::Greater));
    }

    #[test]
    fn conversion_rounds_up_to_the_minor_unit() {
        let r = rates();
        let eur = |c| Money::new(c, Currency::EUR);
        assert_eq!(
            r.convert_up(eur(50_00), Currency::CAD),
            Some(Money::new(81_25, Currency::CAD))
        );
        assert_eq!(
            r.convert_up(eur(1), Currency::CAD),
            Some(Money::new(2, Currency::CAD))
        );
        assert_eq!(
            r.convert_up(Money::new(81_25, Currency::CAD), Currency::EUR),
            Some(eur(50_00))
        );
        assert_eq!(r.convert_up(eur(1), Currency::GBP), None);
        assert_eq!(format_money(Money::new(81_25, Currency::CAD)), "CAD 81.25");
    }

    #[test]
    fn rates_are_positive_decimals_of_six_places_at_most() {
        for good in ["1", "1.625", "0.000001", "170.5"] {
            let rate = Rate::try_from(good.to_owned()).unwrap();
            assert_eq!(String::from(rate), good);
        }
        for bad in [
            "",
            "0",
            "0.0",
            "-1",
            "1.",
            ".5",
            "1.0000001",
            "1e3",
            "1,5",
            " 1",
        ] {
            assert!(Rate::try_from(bad.to_owned()).is_err(), "{bad:?}");
        }
    }
}
