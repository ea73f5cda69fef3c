//! Compensation: versioned, explainable rule sets for EU 261/2004, UK 261, Canada's APPR,
//! US DOT automatic refunds, China CAAC care duties and the airline's goodwill policy.
//!
//! [`decide`] returns one [`CompensationDecision`] per regime that applies to the
//! passenger's journey. Each records its inputs, the rule id and [`RULESET_VERSION`], the
//! cash owed (integer minor units), care duties, the refund right, the legal deadline and
//! human-readable reasoning that cites the article applied. Where two regimes overlap
//! (EU 261 and UK 261 on a UK carrier flying EU → UK), both decisions are returned and the
//! reasoning says compensation under one is deducted from the other (Art. 12).
//!
//! Scope rules applied (see [`applicable_regimes`]):
//! - EU 261 Art. 3(1): (a) departures from an airport in the EU, the EEA or Switzerland,
//!   any carrier; (b) departures from elsewhere to such an airport on an EU/EEA/Swiss
//!   carrier — unless the passenger received benefits under a third country's rules.
//! - UK 261 (the retained Regulation as amended): departures from the UK, any carrier;
//!   arrivals in the UK from outside it on a UK or EU carrier.
//! - APPR (SOR/2019-150) s. 1: every flight to, from or within Canada.
//! - US DOT (14 CFR part 260, 2024): flights to, from or within the US, any carrier.
//! - CAAC (航班正常管理规定 2016; 公共航空运输旅客服务管理规定 2021): flights operated by a
//!   Chinese carrier, and every flight departing from or arriving in mainland China.
//! - Goodwill: every disrupted journey, from the policy file.
//!
//! Boundaries follow the texts: "1500 kilometres or less" puts exactly 1,500 km in the
//! lowest band; "between 1500 and 3500 kilometres" puts exactly 3,500 km in the middle
//! band; "three hours or more" (Sturgeon) makes exactly 3 h compensable; notice "at least
//! two weeks" makes exactly 14 days free of compensation; rerouting that arrives "less
//! than" 2/4 hours late is strict, and the Art. 7(2) reduction applies when the arrival
//! is "not exceeding" 2/3/4 hours (inclusive).

use chrono::{DateTime, Datelike, Duration, Utc, Weekday};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::domain::common::{AirportCode, Currency, Money, Tier};
use crate::domain::flight::Controllability;

use super::compensation_policy::CompensationPolicy;

/// Version of these rule sets; bump it when a rule changes.
pub const RULESET_VERSION: u32 = 1;

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

/// Where the operating carrier is licensed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CarrierHome {
    /// EU, EEA or Switzerland ("Community carrier").
    Eu,
    Uk,
    Canada,
    Us,
    China,
    Other,
}

/// APPR carrier size (s. 1: large = ≥ 2 million passengers in each of the last 2 years).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CarrierSize {
    Large,
    Small,
}

/// How the ticket was paid (US DOT refund periods differ).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethod {
    Card,
    Other,
}

/// An alternative flight offered to the passenger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub struct Rerouting {
    /// How much earlier than scheduled the alternative departs (0 if not earlier).
    pub departs_earlier_minutes: u32,
    /// How much later than scheduled it arrives at the final destination.
    pub arrives_later_minutes: u32,
}

/// What happened to the passenger's flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Disruption {
    /// The flight operated late.
    Delay {
        /// Delay at departure (Art. 6 care thresholds).
        departure_delay_minutes: u32,
        /// Delay at arrival at the final destination (Sturgeon, APPR s. 19).
        arrival_delay_minutes: u32,
        /// The delayed departure falls on the day after the scheduled one (overnight stay).
        overnight: bool,
    },
    /// The flight was cancelled.
    Cancellation {
        /// Days between telling the passenger and the scheduled departure.
        notice_days: u32,
        /// The alternative offered, if any.
        rerouting: Option<Rerouting>,
        overnight: bool,
    },
}

/// Everything a decision depends on. Echoed into every decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CompensationInput {
    pub origin: AirportCode,
    pub destination: AirportCode,
    /// ISO 3166-1 alpha-2 countries of origin and final destination.
    pub origin_country: String,
    pub destination_country: String,
    /// Great-circle distance to the final destination (Art. 7(4)).
    pub distance_km: u32,
    pub carrier: String,
    /// `carrier_home` and `carrier_size` come from the policy's carrier table (else
    /// from the defaults the service was started with).
    #[serde(default)]
    pub carrier_listed: bool,
    pub carrier_home: CarrierHome,
    pub carrier_size: CarrierSize,
    pub disruption: Disruption,
    /// The flight's class (see [`flight::controllability`](crate::domain::flight)): a
    /// crisis lead's override, or derived from the delay codes; each regime applies its
    /// own reading of `delays` instead unless it was overridden (see [`super::causes`]).
    pub controllability: Controllability,
    /// `controllability` was recorded by a person, with a reason: it stands for every regime.
    #[serde(default)]
    pub controllability_overridden: bool,
    /// Delay minutes per IATA delay code, as flight ops reported them.
    #[serde(default)]
    pub delays: std::collections::BTreeMap<crate::domain::flight::DelayCode, u32>,
    /// Where the flight landed instead, if it was diverted.
    #[serde(default)]
    pub diversion: Option<Diversion>,
    /// What the passenger paid for the flight (from the manifest): the refund base.
    #[serde(default)]
    pub fare: Option<Money>,
    /// The passenger accepted the alternative or the change (US DOT refunds).
    pub passenger_accepted_change: bool,
    pub payment_method: PaymentMethod,
    pub tier: Tier,
    /// The instant the decision is made; deadlines run from it.
    pub decided_at: DateTime<Utc>,
}

/// Assistance the carrier must provide.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum CareDuty {
    /// Meals and refreshments in reasonable relation to the waiting time.
    MealsAndRefreshments,
    /// Two calls, e-mails or messages (EU/UK Art. 9(2)); access to communication (APPR).
    Communication,
    /// Hotel accommodation when a stay of one or more nights is necessary.
    Accommodation,
    /// Transport between the airport and the accommodation.
    HotelTransport,
    /// Help arranging meals or accommodation at the passenger's expense (CAAC, non-carrier causes).
    AssistanceAtPassengerExpense,
    /// Transport from a diversion airport to the booked destination (CJEU C-826/19).
    TransferToDestination,
}

/// The flight landed somewhere other than its destination, and its passengers reached
/// the destination later (the arrival delay counts to that arrival).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub struct Diversion {
    pub airport: AirportCode,
    /// From landing there to arriving at the destination.
    pub wait_minutes: u32,
    /// That wait ran past midnight at the diversion airport (local time).
    pub overnight: bool,
}

/// The passenger may choose a refund instead of travelling.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RefundRight {
    /// By when the refund must be paid.
    pub deadline: DateTime<Utc>,
    pub rule_id: String,
    /// The fare it refunds, when the manifest gave it.
    #[serde(default)]
    pub fare: Option<Money>,
}

/// One regime's explainable decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CompensationDecision {
    pub regime: Regime,
    /// The rule that fixed the cash amount (e.g. `eu261.art7.1b`), or why none is due.
    pub rule_id: String,
    pub rule_version: u32,
    pub inputs: CompensationInput,
    /// Statutory cash compensation, if any.
    pub cash: Option<Money>,
    /// Goodwill voucher or miles (only the goodwill regime sets these).
    pub voucher: Option<Money>,
    pub miles: Option<u64>,
    pub care: Vec<CareDuty>,
    pub refund: Option<RefundRight>,
    /// The legal deadline crisisd tracks for paying (or answering) this decision.
    pub payment_deadline: DateTime<Utc>,
    /// Why, line by line, citing the articles applied.
    pub reasoning: Vec<String>,
}

impl CompensationDecision {
    /// The statutory cash owed, zero in the regime's currency when none is.
    pub fn entitled(&self) -> Money {
        self.cash.unwrap_or(Money::new(0, currency_of(self.regime)))
    }

    /// Whether the decision owes nothing to pay: no cash, no voucher, no miles (care
    /// and a refund right may still be due; they are not paid through the entitlement).
    pub fn owes_nothing(&self) -> bool {
        owes_nothing(self.cash, self.voucher, self.miles)
    }
}

/// No cash, no voucher and no miles to pay (absent or zero).
pub fn owes_nothing(cash: Option<Money>, voucher: Option<Money>, miles: Option<u64>) -> bool {
    let zero = |m: Option<Money>| m.is_none_or(|m| m.amount_minor == 0);
    zero(cash) && zero(voucher) && miles.unwrap_or(0) == 0
}

fn currency_of(regime: Regime) -> Currency {
    match regime {
        Regime::Eu261 | Regime::Goodwill => Currency::EUR,
        Regime::Uk261 => Currency::GBP,
        Regime::CanadaAppr => Currency::CAD,
        Regime::UsDot => Currency::USD,
        Regime::ChinaCaac => Currency::CNY,
    }
}

use super::airports::{in_canada, in_eu261_territory, in_mainland_china, in_uk, in_us};

/// The regimes that apply to a journey, in a stable order, with the reason for each.
pub fn applicable_regimes(input: &CompensationInput) -> Vec<(Regime, String)> {
    let (from, to) = (
        input.origin_country.as_str(),
        input.destination_country.as_str(),
    );
    let home = input.carrier_home;
    let carrier = if input.carrier_listed {
        format!(
            "carrier {} ({home:?} in the policy's carrier table)",
            input.carrier
        )
    } else {
        format!(
            "carrier {} (not in the policy's carrier table: the configured default, {home:?})",
            input.carrier
        )
    };
    let mut regimes = Vec::new();
    if in_eu261_territory(from) {
        regimes.push((
            Regime::Eu261,
            format!("EU 261 Art. 3(1)(a): departure from {from}, an EU/EEA/Swiss airport"),
        ));
    } else if in_eu261_territory(to) && home == CarrierHome::Eu {
        regimes.push((
            Regime::Eu261,
            format!(
                "EU 261 Art. 3(1)(b): arrival in {to} from a third country on a Community carrier, {carrier}"
            ),
        ));
    }
    if in_uk(from) {
        regimes.push((
            Regime::Uk261,
            "UK 261 Art. 3(1)(a): departure from the United Kingdom".to_owned(),
        ));
    } else if in_uk(to) && matches!(home, CarrierHome::Uk | CarrierHome::Eu) {
        regimes.push((
            Regime::Uk261,
            format!("UK 261 Art. 3(1)(b): arrival in the United Kingdom on a UK or EU carrier, {carrier}"),
        ));
    }
    if in_canada(from) || in_canada(to) {
        regimes.push((
            Regime::CanadaAppr,
            "APPR s. 1: a flight to, from or within Canada".to_owned(),
        ));
    }
    if in_us(from) || in_us(to) {
        regimes.push((
            Regime::UsDot,
            "14 CFR 260: a flight to, from or within the United States".to_owned(),
        ));
    }
    if in_mainland_china(from) || in_mainland_china(to) || home == CarrierHome::China {
        let why = if in_mainland_china(from) || in_mainland_china(to) {
            "CAAC flight regularity rules: a flight at a mainland Chinese airport".to_owned()
        } else {
            format!("CAAC flight regularity rules: a Chinese carrier, {carrier}")
        };
        regimes.push((Regime::ChinaCaac, why));
    }
    regimes
}

/// Every applicable regime's decision, then the goodwill decision.
pub fn decide(input: &CompensationInput, policy: &CompensationPolicy) -> Vec<CompensationDecision> {
    let mut decisions: Vec<CompensationDecision> = applicable_regimes(input)
        .into_iter()
        .map(|(regime, scope)| {
            let mut decision = match regime {
                Regime::Eu261 => super::compensation_eu::decide(input, super::compensation_eu::EU),
                Regime::Uk261 => super::compensation_eu::decide(input, super::compensation_eu::UK),
                Regime::CanadaAppr => super::compensation_other::appr(input),
                Regime::UsDot => super::compensation_other::us_dot(input),
                Regime::ChinaCaac => super::compensation_other::caac(input),
                Regime::Goodwill => unreachable!("goodwill is not a legal regime"),
            };
            decision.reasoning.insert(0, scope);
            decision
        })
        .collect();
    let overlapping = decisions
        .iter()
        .filter(|d| matches!(d.regime, Regime::Eu261 | Regime::Uk261))
        .count()
        > 1;
    if overlapping {
        for d in decisions
            .iter_mut()
            .filter(|d| matches!(d.regime, Regime::Eu261 | Regime::Uk261))
        {
            d.reasoning.push("EU 261 and UK 261 both apply: compensation paid under one is deducted from the other (Art. 12(1))".to_owned());
        }
    }
    decisions.push(
        policy
            .goodwill
            .decide(input, policy.exchange_rates.as_ref()),
    );
    decisions
}

/// A decision skeleton for `regime`, with nothing owed yet.
pub(crate) fn decision(
    regime: Regime,
    input: &CompensationInput,
    payment_deadline: DateTime<Utc>,
) -> CompensationDecision {
    CompensationDecision {
        regime,
        rule_id: String::new(),
        rule_version: RULESET_VERSION,
        inputs: input.clone(),
        cash: None,
        voucher: None,
        miles: None,
        care: Vec::new(),
        refund: None,
        payment_deadline,
        reasoning: Vec::new(),
    }
}

/// `start` plus `days` days that are not Saturday or Sunday.
pub(crate) fn add_business_days(start: DateTime<Utc>, days: u32) -> DateTime<Utc> {
    let mut at = start;
    let mut left = days;
    while left > 0 {
        at += Duration::days(1);
        if !matches!(at.weekday(), Weekday::Sat | Weekday::Sun) {
            left -= 1;
        }
    }
    at
}

/// The delay passengers experience at arrival: the flight's, or the alternative's.
pub(crate) fn experienced_delay(disruption: &Disruption) -> Option<u32> {
    match disruption {
        Disruption::Delay {
            arrival_delay_minutes,
            ..
        } => Some(*arrival_delay_minutes),
        Disruption::Cancellation { rerouting, .. } => rerouting.map(|r| r.arrives_later_minutes),
    }
}

/// Care owed at a diversion airport, with its reasons: the onward transfer always
/// (citing `transfer`), and where `care` gives the articles for meals and for a hotel,
/// meals and communication after a wait of 2 hours, a hotel when the wait runs
/// overnight there.
pub(crate) fn diversion_care(
    d: &mut CompensationDecision,
    input: &CompensationInput,
    transfer: &str,
    care: Option<(&str, &str)>,
) {
    let Some(diversion) = input.diversion else {
        return;
    };
    d.care.push(CareDuty::TransferToDestination);
    d.reasoning.push(format!(
        "diverted to {}: the carrier takes the passenger on to {} at its cost ({transfer}); the arrival delay counts to the arrival there",
        diversion.airport, input.destination
    ));
    let Some((meals, hotel)) = care else {
        return;
    };
    if diversion.wait_minutes >= 120 {
        for duty in [CareDuty::MealsAndRefreshments, CareDuty::Communication] {
            if !d.care.contains(&duty) {
                d.care.push(duty);
            }
        }
        d.reasoning.push(format!(
            "a wait of {} at {}: meals, refreshments and communication ({meals})",
            hours(diversion.wait_minutes),
            diversion.airport
        ));
    }
    if diversion.overnight {
        for duty in [CareDuty::Accommodation, CareDuty::HotelTransport] {
            if !d.care.contains(&duty) {
                d.care.push(duty);
            }
        }
        d.reasoning.push(format!(
            "the wait at {} runs overnight: hotel and transport ({hotel})",
            diversion.airport
        ));
    }
}

pub(crate) fn hours(minutes: u32) -> String {
    format!("{}h{:02}", minutes / 60, minutes % 60)
}

#[cfg(test)]
#[path = "compensation_cases.rs"]
mod cases;
