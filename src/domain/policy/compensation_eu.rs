//! EU 261/2004 and UK 261: the same articles, different amounts and territories.

// Amounts are written units_cents (250_00 is 250.00) on purpose.
#![allow(clippy::inconsistent_digit_grouping)]

use chrono::Duration;

use super::airports::{in_eu261_territory, in_uk};
use super::compensation::{
    CareDuty, CompensationDecision, CompensationInput, Disruption, RefundRight, Regime, decision,
    hours,
};
use crate::domain::common::{Currency, Money};
use crate::domain::flight::Controllability;

/// One of the two regulations.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    pub regime: Regime,
    pub name: &'static str,
    pub prefix: &'static str,
    pub currency: Currency,
    /// Art. 7(1)(a), (b), (c) in minor units.
    pub bands: [u64; 3],
    /// Both airports inside the regulation's territory ("intra-Community" / domestic).
    pub internal: fn(&str, &str) -> bool,
}

pub const EU: Rules = Rules {
    regime: Regime::Eu261,
    name: "EU 261",
    prefix: "eu261",
    currency: Currency::EUR,
    bands: [250_00, 400_00, 600_00],
    internal: |a, b| in_eu261_territory(a) && in_eu261_territory(b),
};

pub const UK: Rules = Rules {
    regime: Regime::Uk261,
    name: "UK 261",
    prefix: "uk261",
    currency: Currency::GBP,
    bands: [220_00, 350_00, 520_00],
    internal: |a, b| in_uk(a) && in_uk(b),
};

/// Refunds within seven days (Art. 8(1)(a) with Art. 7(3)).
const REFUND_DAYS: i64 = 7;

/// Distance band of Art. 7(1): 0 = (a), 1 = (b), 2 = (c).
fn band(input: &CompensationInput, rules: &Rules) -> (usize, &'static str) {
    let internal = (rules.internal)(&input.origin_country, &input.destination_country);
    match input.distance_km {
        d if d <= 1500 => (0, "Art. 7(1)(a): 1,500 km or less"),
        _ if internal => (1, "Art. 7(1)(b): internal flight of more than 1,500 km"),
        d if d <= 3500 => (1, "Art. 7(1)(b): between 1,500 and 3,500 km"),
        _ => (2, "Art. 7(1)(c): more than 3,500 km"),
    }
}

/// Art. 6(1) / Art. 7(2) hour thresholds by band: 2, 3, 4 hours.
const BAND_MINUTES: [u32; 3] = [120, 180, 240];

pub fn decide(input: &CompensationInput, rules: Rules) -> CompensationDecision {
    let deadline = input.decided_at + Duration::days(REFUND_DAYS);
    let mut d = decision(rules.regime, input, deadline);
    let p = rules.prefix;
    let (band, band_text) = band(input, &rules);
    let full = Money::new(rules.bands[band], rules.currency);
    let half = Money::new(rules.bands[band] / 2, rules.currency);
    d.reasoning.push(format!(
        "{} km great-circle to the final destination: {band_text}, {} {}",
        input.distance_km,
        full.amount_minor / 100,
        rules.currency
    ));
    let (cause, why) = super::causes::under(rules.regime, input);
    d.reasoning.push(why);
    match input.disruption {
        Disruption::Delay {
            departure_delay_minutes,
            arrival_delay_minutes,
            overnight,
        } => {
            if departure_delay_minutes >= BAND_MINUTES[band] {
                d.care
                    .extend([CareDuty::MealsAndRefreshments, CareDuty::Communication]);
                d.reasoning.push(format!("departure delayed {} ≥ {}h: meals, refreshments and communication (Art. 6(1)(a), Art. 9(1)(a), 9(2))", hours(departure_delay_minutes), BAND_MINUTES[band] / 60));
            }
            if overnight && departure_delay_minutes >= BAND_MINUTES[band] {
                d.care
                    .extend([CareDuty::Accommodation, CareDuty::HotelTransport]);
                d.reasoning.push("departure on the next day: hotel and transport (Art. 6(1)(b), Art. 9(1)(b), (c))".to_owned());
            }
            if departure_delay_minutes >= 300 {
                d.refund = Some(RefundRight {
                    deadline,
                    rule_id: format!("{p}.art6.1.iii"),
                    fare: input.fare,
                });
                d.reasoning.push(format!("delay of 5 hours or more: the passenger may take a refund within {REFUND_DAYS} days instead (Art. 6(1)(iii), Art. 8(1)(a))"));
            }
            if arrival_delay_minutes < 180 {
                d.rule_id = format!("{p}.sturgeon.under3h");
                d.reasoning.push(format!(
                    "arrival delay {} is under 3 hours: no compensation (Sturgeon, C-402/07)",
                    hours(arrival_delay_minutes)
                ));
            } else if cause == Controllability::Extraordinary {
                d.rule_id = format!("{p}.art5.3");
                d.reasoning.push(
                    "extraordinary circumstances: no compensation (Art. 5(3)); care remains due"
                        .to_owned(),
                );
            } else if band == 2 && arrival_delay_minutes < 240 {
                d.cash = Some(half);
                d.rule_id = format!("{p}.art7.2c.delay");
                d.reasoning.push(format!("arrival delay {} between 3 and 4 hours on a flight over 3,500 km: compensation reduced by 50 % (Art. 7(2)(c), Sturgeon)", hours(arrival_delay_minutes)));
            } else {
                d.cash = Some(full);
                d.rule_id = format!("{p}.art7.1{}", ["a", "b", "c"][band]);
                d.reasoning.push(format!("arrival delay {} of 3 hours or more: compensation as for a cancellation (Sturgeon, C-402/07)", hours(arrival_delay_minutes)));
            }
        }
        Disruption::Cancellation {
            notice_days,
            rerouting,
            overnight,
        } => {
            d.refund = Some(RefundRight {
                deadline,
                rule_id: format!("{p}.art5.1a"),
                fare: input.fare,
            });
            d.care
                .extend([CareDuty::MealsAndRefreshments, CareDuty::Communication]);
            d.reasoning.push(format!("cancellation: choice of refund within {REFUND_DAYS} days or rerouting (Art. 5(1)(a), Art. 8); meals and communication (Art. 5(1)(b), Art. 9)"));
            if overnight {
                d.care
                    .extend([CareDuty::Accommodation, CareDuty::HotelTransport]);
                d.reasoning.push("rerouting departs the next day: hotel and transport (Art. 5(1)(b), Art. 9(1)(b), (c))".to_owned());
            }
            let exempt = if notice_days >= 14 {
                Some((
                    format!("{p}.art5.1c.i"),
                    format!(
                        "told {notice_days} days ahead, at least two weeks: no compensation (Art. 5(1)(c)(i))"
                    ),
                ))
            } else if notice_days >= 7
                && rerouting.is_some_and(|r| {
                    r.departs_earlier_minutes <= 120 && r.arrives_later_minutes < 240
                })
            {
                Some((
                    format!("{p}.art5.1c.ii"),
                    format!(
                        "told {notice_days} days ahead and rerouted leaving no more than 2h earlier, arriving less than 4h later: no compensation (Art. 5(1)(c)(ii))"
                    ),
                ))
            } else if notice_days < 7
                && rerouting.is_some_and(|r| {
                    r.departs_earlier_minutes <= 60 && r.arrives_later_minutes < 120
                })
            {
                Some((
                    format!("{p}.art5.1c.iii"),
                    format!(
                        "told {notice_days} days ahead and rerouted leaving no more than 1h earlier, arriving less than 2h later: no compensation (Art. 5(1)(c)(iii))"
                    ),
                ))
            } else {
                None
            };
            if let Some((rule, why)) = exempt {
                d.rule_id = rule;
                d.reasoning.push(why);
            } else if cause == Controllability::Extraordinary {
                d.rule_id = format!("{p}.art5.3");
                d.reasoning.push("extraordinary circumstances: no compensation (Art. 5(3)); care and refund remain due".to_owned());
            } else if let Some(r) =
                rerouting.filter(|r| r.arrives_later_minutes <= BAND_MINUTES[band])
            {
                d.cash = Some(half);
                d.rule_id = format!("{p}.art7.2{}", ["a", "b", "c"][band]);
                d.reasoning.push(format!("rerouted arriving {} late, not more than {}h: compensation reduced by 50 % (Art. 7(2))", hours(r.arrives_later_minutes), BAND_MINUTES[band] / 60));
            } else {
                d.cash = Some(full);
                d.rule_id = format!("{p}.art7.1{}", ["a", "b", "c"][band]);
                d.reasoning.push(format!("cancelled with {notice_days} days' notice and no qualifying rerouting: compensation (Art. 5(1)(c), Art. 7(1))"));
            }
        }
    }
    super::compensation::diversion_care(
        &mut d,
        input,
        "CJEU C-826/19; the delay to the final destination, C-559/16",
        Some((
            "Art. 9(1)(a), 9(2), as for a delay under Art. 6(1)",
            "Art. 9(1)(b), (c)",
        )),
    );
    if d.cash.is_some() {
        d.reasoning.push(format!("{} sets no period for paying Art. 7 compensation; crisisd tracks it against the {REFUND_DAYS}-day refund period", rules.name));
    }
    d
}
