//! The compensation table: every case cites the article or section it checks, with the
//! boundaries (exactly 1,500 km, exactly 3 h, notice exactly 14 days, rerouting exactly 2 h).

// Amounts are written units_cents (250_00 is 250.00) on purpose.
#![allow(clippy::inconsistent_digit_grouping)]

use chrono::{DateTime, Datelike, TimeZone, Utc, Weekday};

use super::*;
use crate::domain::policy::airports::airport;
use crate::domain::policy::compensation_policy::CompensationPolicy;
use crate::domain::policy::goodwill::{GoodwillError, GoodwillPolicy};

fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 9, 0, 0).unwrap() // a Friday
}

/// A journey between two real airports (countries from the table) on a carrier from `home`.
fn trip(from: &str, to: &str, home: CarrierHome) -> CompensationInput {
    let (o, d) = (
        AirportCode::parse(from).unwrap(),
        AirportCode::parse(to).unwrap(),
    );
    CompensationInput {
        origin_country: airport(&o).unwrap().country.clone(),
        destination_country: airport(&d).unwrap().country.clone(),
        distance_km: super::super::airports::distance_between(&o, &d).unwrap(),
        origin: o,
        destination: d,
        carrier: "XX".into(),
        carrier_listed: true,
        carrier_home: home,
        carrier_size: CarrierSize::Large,
        disruption: Disruption::Delay {
            departure_delay_minutes: 0,
            arrival_delay_minutes: 0,
            overnight: false,
        },
        controllability: Controllability::CarrierCaused,
        controllability_overridden: false,
        delays: Default::default(),
        diversion: None,
        fare: None,
        passenger_accepted_change: false,
        payment_method: PaymentMethod::Card,
        tier: Tier::None,
        decided_at: at(),
    }
}

fn km(mut input: CompensationInput, distance_km: u32) -> CompensationInput {
    input.distance_km = distance_km;
    input
}

fn delayed(mut input: CompensationInput, departure: u32, arrival: u32) -> CompensationInput {
    input.disruption = Disruption::Delay {
        departure_delay_minutes: departure,
        arrival_delay_minutes: arrival,
        overnight: false,
    };
    input
}

fn late(input: CompensationInput, arrival: u32) -> CompensationInput {
    delayed(input, arrival, arrival)
}

fn cancelled(
    mut input: CompensationInput,
    notice_days: u32,
    rerouting: Option<(u32, u32)>,
) -> CompensationInput {
    let rerouting = rerouting.map(|(earlier, later)| Rerouting {
        departs_earlier_minutes: earlier,
        arrives_later_minutes: later,
    });
    input.disruption = Disruption::Cancellation {
        notice_days,
        rerouting,
        overnight: false,
    };
    input
}

/// The flight's delay minutes per IATA code, as flight ops reported them.
fn coded(mut input: CompensationInput, delays: &[(u8, u32)]) -> CompensationInput {
    input.delays = delays
        .iter()
        .map(|&(code, minutes)| {
            (
                crate::domain::flight::DelayCode::new(code).unwrap(),
                minutes,
            )
        })
        .collect();
    input
}

fn with(
    mut input: CompensationInput,
    change: impl FnOnce(&mut CompensationInput),
) -> CompensationInput {
    change(&mut input);
    input
}

fn regime_decision(input: &CompensationInput, regime: Regime) -> Option<CompensationDecision> {
    decide(input, &CompensationPolicy::default_policy())
        .into_iter()
        .find(|d| d.regime == regime)
}

struct Case {
    cite: &'static str,
    input: CompensationInput,
    regime: Regime,
    /// Expected cash in minor units (`None`: no cash).
    cash: Option<u64>,
    rule: &'static str,
}

fn case(
    cite: &'static str,
    input: CompensationInput,
    regime: Regime,
    cash: Option<u64>,
    rule: &'static str,
) -> Case {
    Case {
        cite,
        input,
        regime,
        cash,
        rule,
    }
}

use CarrierHome::{Eu as EuCarrier, Uk as UkCarrier, Us as UsCarrier};
use Regime::*;

fn table() -> Vec<Case> {
    let fra_cdg = || trip("FRA", "CDG", EuCarrier); // 450 km, intra-EU
    let fra_ist = || trip("FRA", "IST", EuCarrier); // Germany → Türkiye, not intra-EU
    let fra_jfk = || trip("FRA", "JFK", EuCarrier); // > 3,500 km
    let hel_lpa = || trip("HEL", "LPA", EuCarrier); // intra-EU, > 3,500 km
    let small = |i: CompensationInput| with(i, |i| i.carrier_size = CarrierSize::Small);
    let yyz_yvr = || trip("YYZ", "YVR", CarrierHome::Canada);
    vec![
        // EU 261 — delays (Sturgeon, C-402/07) and Art. 7 bands.
        case(
            "EU261 Art. 7(1)(a): 450 km, 3h20 late",
            late(fra_cdg(), 200),
            Eu261,
            Some(250_00),
            "eu261.art7.1a",
        ),
        case(
            "EU261 Art. 7(1)(a): exactly 1,500 km is the lower band",
            late(km(fra_ist(), 1500), 200),
            Eu261,
            Some(250_00),
            "eu261.art7.1a",
        ),
        case(
            "EU261 Art. 7(1)(b): 1,501 km, not intra-EU",
            late(km(fra_ist(), 1501), 200),
            Eu261,
            Some(400_00),
            "eu261.art7.1b",
        ),
        case(
            "EU261 Art. 7(1)(b): exactly 3,500 km is the middle band",
            late(km(fra_ist(), 3500), 200),
            Eu261,
            Some(400_00),
            "eu261.art7.1b",
        ),
        case(
            "EU261 Art. 7(1)(c): 3,501 km, 5h late",
            late(km(fra_ist(), 3501), 300),
            Eu261,
            Some(600_00),
            "eu261.art7.1c",
        ),
        case(
            "EU261 Art. 7(1)(b): intra-EU over 3,500 km stays €400",
            late(hel_lpa(), 300),
            Eu261,
            Some(400_00),
            "eu261.art7.1b",
        ),
        case(
            "Sturgeon: exactly 3h late is compensable",
            late(fra_cdg(), 180),
            Eu261,
            Some(250_00),
            "eu261.art7.1a",
        ),
        case(
            "Sturgeon: 2h59 late is not",
            late(fra_cdg(), 179),
            Eu261,
            None,
            "eu261.sturgeon.under3h",
        ),
        case(
            "EU261 Art. 7(2)(c) by analogy: > 3,500 km, 3h20 late, halved",
            late(fra_jfk(), 200),
            Eu261,
            Some(300_00),
            "eu261.art7.2c.delay",
        ),
        case(
            "EU261 Art. 7(1)(c): > 3,500 km, exactly 4h late, full",
            late(fra_jfk(), 240),
            Eu261,
            Some(600_00),
            "eu261.art7.1c",
        ),
        case(
            "EU261 Art. 5(3): extraordinary circumstances remove cash",
            with(late(fra_cdg(), 300), |i| {
                i.controllability = Controllability::Extraordinary
            }),
            Eu261,
            None,
            "eu261.art5.3",
        ),
        case(
            "EU261 (Wallentin-Hermann C-549/07): a safety repair is within control",
            with(late(fra_cdg(), 300), |i| {
                i.controllability = Controllability::Safety
            }),
            Eu261,
            Some(250_00),
            "eu261.art7.1a",
        ),
        case(
            "EU261 Art. 3(1)(b): EU carrier from a third country",
            late(trip("JFK", "CDG", EuCarrier), 300),
            Eu261,
            Some(600_00),
            "eu261.art7.1c",
        ),
        // EU 261 — cancellations, Art. 5(1)(c) and Art. 7(2).
        case(
            "EU261 Art. 5(1)(c)(i): notice exactly 14 days",
            cancelled(fra_cdg(), 14, None),
            Eu261,
            None,
            "eu261.art5.1c.i",
        ),
        case(
            "EU261 Art. 5(1)(c)(ii): 13 days, rerouted 2h earlier, 3h59 later",
            cancelled(fra_cdg(), 13, Some((120, 239))),
            Eu261,
            None,
            "eu261.art5.1c.ii",
        ),
        case(
            "EU261 Art. 5(1)(c)(ii): exactly 7 days qualifies for (ii)",
            cancelled(fra_cdg(), 7, Some((120, 200))),
            Eu261,
            None,
            "eu261.art5.1c.ii",
        ),
        case(
            "EU261 Art. 5(1)(c)(ii) fails: arrives exactly 4h later",
            cancelled(fra_cdg(), 13, Some((0, 240))),
            Eu261,
            Some(250_00),
            "eu261.art7.1a",
        ),
        case(
            "EU261 Art. 5(1)(c)(iii): 6 days, rerouted 1h earlier, 1h59 later",
            cancelled(fra_cdg(), 6, Some((60, 119))),
            Eu261,
            None,
            "eu261.art5.1c.iii",
        ),
        case(
            "EU261 Art. 7(2)(a): rerouting arrives exactly 2h later, halved",
            cancelled(fra_cdg(), 6, Some((0, 120))),
            Eu261,
            Some(125_00),
            "eu261.art7.2a",
        ),
        case(
            "EU261 Art. 7(2)(b): 1,800 km, rerouting 3h later, halved",
            cancelled(km(fra_ist(), 1800), 3, Some((0, 180))),
            Eu261,
            Some(200_00),
            "eu261.art7.2b",
        ),
        case(
            "EU261 Art. 7(2)(c): > 3,500 km, rerouting 4h later, halved",
            cancelled(fra_jfk(), 3, Some((0, 240))),
            Eu261,
            Some(300_00),
            "eu261.art7.2c",
        ),
        case(
            "EU261 Art. 7(1)(c): cancelled 2 days ahead, no rerouting",
            cancelled(fra_jfk(), 2, None),
            Eu261,
            Some(600_00),
            "eu261.art7.1c",
        ),
        case(
            "EU261 Art. 5(3): extraordinary cancellation",
            with(cancelled(fra_cdg(), 1, None), |i| {
                i.controllability = Controllability::Extraordinary
            }),
            Eu261,
            None,
            "eu261.art5.3",
        ),
        // UK 261.
        case(
            "UK261 Art. 7(1)(a): LHR–CDG, 3h20 late",
            late(trip("LHR", "CDG", UkCarrier), 200),
            Uk261,
            Some(220_00),
            "uk261.art7.1a",
        ),
        case(
            "UK261 Art. 7(1)(b): LHR–ATH, 3h20 late",
            late(trip("LHR", "ATH", UkCarrier), 200),
            Uk261,
            Some(350_00),
            "uk261.art7.1b",
        ),
        case(
            "UK261 Art. 7(2)(c): LHR–JFK, 3–4h late: £260",
            late(trip("LHR", "JFK", UkCarrier), 200),
            Uk261,
            Some(260_00),
            "uk261.art7.2c.delay",
        ),
        case(
            "UK261 Art. 7(1)(c): LHR–JFK, 5h late: £520",
            late(trip("LHR", "JFK", UkCarrier), 300),
            Uk261,
            Some(520_00),
            "uk261.art7.1c",
        ),
        case(
            "UK261 Art. 3(1)(b): CDG–LHR on a UK carrier (overlaps EU 261)",
            late(trip("CDG", "LHR", UkCarrier), 200),
            Uk261,
            Some(220_00),
            "uk261.art7.1a",
        ),
        case(
            "EU261 Art. 3(1)(a): CDG–LHR departs the EU",
            late(trip("CDG", "LHR", UkCarrier), 200),
            Eu261,
            Some(250_00),
            "eu261.art7.1a",
        ),
        // Canada APPR, SOR/2019-150 s. 19.
        case(
            "APPR s. 19(1)(a)(i): large carrier, exactly 3h",
            late(yyz_yvr(), 180),
            CanadaAppr,
            Some(400_00),
            "appr.s19.1a.3to6h",
        ),
        case(
            "APPR s. 19(1)(a)(i): large carrier, 5h59",
            late(yyz_yvr(), 359),
            CanadaAppr,
            Some(400_00),
            "appr.s19.1a.3to6h",
        ),
        case(
            "APPR s. 19(1)(a)(ii): large carrier, exactly 6h",
            late(yyz_yvr(), 360),
            CanadaAppr,
            Some(700_00),
            "appr.s19.1a.6to9h",
        ),
        case(
            "APPR s. 19(1)(a)(iii): large carrier, exactly 9h",
            late(yyz_yvr(), 540),
            CanadaAppr,
            Some(1_000_00),
            "appr.s19.1a.9h",
        ),
        case(
            "APPR s. 19(1)(b)(i): small carrier, 3h20",
            late(small(yyz_yvr()), 200),
            CanadaAppr,
            Some(125_00),
            "appr.s19.1b.3to6h",
        ),
        case(
            "APPR s. 19(1)(b)(ii): small carrier, 6h40",
            late(small(yyz_yvr()), 400),
            CanadaAppr,
            Some(250_00),
            "appr.s19.1b.6to9h",
        ),
        case(
            "APPR s. 19(1)(b)(iii): small carrier, 10h",
            late(small(yyz_yvr()), 600),
            CanadaAppr,
            Some(500_00),
            "appr.s19.1b.9h",
        ),
        case(
            "APPR s. 19(1): 2h59 late, nothing",
            late(yyz_yvr(), 179),
            CanadaAppr,
            None,
            "appr.s19.under3h",
        ),
        case(
            "APPR s. 11: required for safety",
            with(late(yyz_yvr(), 600), |i| {
                i.controllability = Controllability::Safety
            }),
            CanadaAppr,
            None,
            "appr.s11",
        ),
        case(
            "APPR s. 10: outside the carrier's control",
            with(late(yyz_yvr(), 600), |i| {
                i.controllability = Controllability::Extraordinary
            }),
            CanadaAppr,
            None,
            "appr.s10",
        ),
        case(
            "APPR s. 19(1): cancellation told 14 days ahead",
            cancelled(yyz_yvr(), 14, None),
            CanadaAppr,
            None,
            "appr.s19.1",
        ),
        case(
            "APPR s. 19(3): cancelled, refunded instead of travelling",
            cancelled(yyz_yvr(), 2, None),
            CanadaAppr,
            Some(400_00),
            "appr.s19.3",
        ),
        case(
            "APPR s. 1: a flight into Canada (FRA–YYZ)",
            late(trip("FRA", "YYZ", EuCarrier), 400),
            CanadaAppr,
            Some(700_00),
            "appr.s19.1a.6to9h",
        ),
        // US DOT, 14 CFR part 260: refunds, never cash.
        case(
            "14 CFR 260.6: domestic cancellation not accepted",
            cancelled(trip("JFK", "LAX", UsCarrier), 1, None),
            UsDot,
            None,
            "usdot.260.6",
        ),
        case(
            "14 CFR 260.2: domestic 2h59 change is not significant",
            late(trip("JFK", "LAX", UsCarrier), 179),
            UsDot,
            None,
            "usdot.260.below_threshold",
        ),
        case(
            "14 CFR 260.2: domestic exactly 3h is significant",
            late(trip("JFK", "LAX", UsCarrier), 180),
            UsDot,
            None,
            "usdot.260.6",
        ),
        case(
            "14 CFR 260.2: international 5h59 is not significant",
            late(trip("JFK", "CDG", UsCarrier), 359),
            UsDot,
            None,
            "usdot.260.below_threshold",
        ),
        case(
            "14 CFR 260.2: international exactly 6h is significant",
            late(trip("JFK", "CDG", UsCarrier), 360),
            UsDot,
            None,
            "usdot.260.6",
        ),
        case(
            "14 CFR 260.6: a change the passenger accepted",
            with(cancelled(trip("JFK", "LAX", UsCarrier), 1, None), |i| {
                i.passenger_accepted_change = true
            }),
            UsDot,
            None,
            "usdot.260.accepted",
        ),
        // Causes per regulation, from the IATA delay codes (see policy::causes).
        case(
            "CJEU C-315/15 Pešková: a bird strike (51) is extraordinary under EU 261",
            coded(late(fra_cdg(), 240), &[(51, 240)]),
            Eu261,
            None,
            "eu261.art5.3",
        ),
        case(
            "APPR s. 10(1)(i): a collision with wildlife (51) is outside the carrier's control",
            coded(late(yyz_yvr(), 240), &[(51, 240)]),
            CanadaAppr,
            None,
            "appr.s10",
        ),
        case(
            "CJEU C-257/14 van der Lans: an aircraft defect (41) is within control under EU 261",
            coded(late(fra_cdg(), 240), &[(41, 240)]),
            Eu261,
            Some(250_00),
            "eu261.art7.1a",
        ),
        case(
            "APPR s. 11: an aircraft defect (41) is required for safety",
            coded(late(yyz_yvr(), 240), &[(41, 240)]),
            CanadaAppr,
            None,
            "appr.s11",
        ),
        case(
            "APPR s. 1: scheduled maintenance (42) is not required for safety",
            coded(late(yyz_yvr(), 240), &[(42, 240)]),
            CanadaAppr,
            Some(400_00),
            "appr.s19.1a.3to6h",
        ),
        case(
            "CJEU C-28/20 Airhelp v SAS: the airline's own strike (97) is within its control",
            coded(late(fra_cdg(), 240), &[(97, 240)]),
            Eu261,
            Some(250_00),
            "eu261.art7.1a",
        ),
        case(
            "APPR s. 10(1)(j): a labour disruption within the carrier (97) is outside its control",
            coded(late(yyz_yvr(), 240), &[(97, 240)]),
            CanadaAppr,
            None,
            "appr.s10",
        ),
        case(
            "EU261 recital 14: weather (71) outweighs a shorter reactionary delay (93)",
            coded(late(fra_cdg(), 240), &[(71, 180), (93, 60)]),
            Eu261,
            None,
            "eu261.art5.3",
        ),
        case(
            "EU261 Art. 5(3): a tie between causes goes to the passenger",
            coded(late(fra_cdg(), 240), &[(71, 120), (93, 120)]),
            Eu261,
            Some(250_00),
            "eu261.art7.1a",
        ),
        case(
            "An override with a reason stands over the codes: a heavy landing under 51",
            with(coded(late(fra_cdg(), 240), &[(51, 240)]), |i| {
                i.controllability_overridden = true;
                i.controllability = Controllability::CarrierCaused;
            }),
            Eu261,
            Some(250_00),
            "eu261.art7.1a",
        ),
        case(
            "14 CFR 260.2: a later departure alone is no significant change (7h late out, 5h59 in)",
            delayed(trip("JFK", "CDG", UsCarrier), 420, 359),
            UsDot,
            None,
            "usdot.260.below_threshold",
        ),
        case(
            "14 CFR 260.2: domestic, left 2h late, arrived 3h late: significant",
            delayed(trip("JFK", "LAX", UsCarrier), 120, 180),
            UsDot,
            None,
            "usdot.260.6",
        ),
        // China CAAC: no statutory cash.
        case(
            "CAAC 2016 Art. 19: carrier-caused delay, care only",
            late(trip("PEK", "PVG", CarrierHome::China), 240),
            ChinaCaac,
            None,
            "caac.2016.care",
        ),
    ]
}

#[test]
fn compensation_table() {
    let cases = table();
    assert!(
        cases.len() >= 40,
        "the table must have at least 40 cases, has {}",
        cases.len()
    );
    for case in cases {
        let decision = regime_decision(&case.input, case.regime)
            .unwrap_or_else(|| panic!("{}: {:?} does not apply", case.cite, case.regime));
        assert_eq!(
            decision.cash.map(|m| m.amount_minor),
            case.cash,
            "{}: cash; reasoning {:#?}",
            case.cite,
            decision.reasoning
        );
        assert_eq!(decision.rule_id, case.rule, "{}: rule", case.cite);
        assert_eq!(decision.rule_version, RULESET_VERSION);
        assert_eq!(
            decision.inputs, case.input,
            "{}: inputs are echoed",
            case.cite
        );
        assert!(
            decision.reasoning.len() >= 2,
            "{}: reasoning explains the decision",
            case.cite
        );
        if let Some(cash) = decision.cash {
            assert_eq!(
                cash.currency,
                match case.regime {
                    Eu261 => Currency::EUR,
                    Uk261 => Currency::GBP,
                    CanadaAppr => Currency::CAD,
                    _ => unreachable!(),
                }
            );
        }
    }
}

#[test]
fn scope_follows_route_and_carrier() {
    let regimes = |i: &CompensationInput| {
        applicable_regimes(i)
            .into_iter()
            .map(|(r, _)| r)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        regimes(&trip("JFK", "CDG", UsCarrier)),
        vec![UsDot],
        "a US carrier into the EU is outside EU 261 (Art. 3(1)(b))"
    );
    assert_eq!(regimes(&trip("JFK", "CDG", EuCarrier)), vec![Eu261, UsDot]);
    assert_eq!(regimes(&trip("CDG", "LHR", UkCarrier)), vec![Eu261, Uk261]);
    assert_eq!(regimes(&trip("LHR", "JFK", UsCarrier)), vec![Uk261, UsDot]);
    assert_eq!(
        regimes(&trip("JFK", "LHR", UsCarrier)),
        vec![UsDot],
        "UK 261 covers arrivals only on UK or EU carriers"
    );
    assert_eq!(
        regimes(&trip("YYZ", "JFK", CarrierHome::Canada)),
        vec![CanadaAppr, UsDot]
    );
    assert_eq!(
        regimes(&trip("FRA", "PEK", CarrierHome::China)),
        vec![Eu261, ChinaCaac]
    );
    assert_eq!(
        regimes(&trip("SYD", "AKL", CarrierHome::Other)),
        Vec::<Regime>::new()
    );
    let overlap = regime_decision(&late(trip("CDG", "LHR", UkCarrier), 200), Uk261).unwrap();
    assert!(
        overlap.reasoning.iter().any(|l| l.contains("Art. 12")),
        "{:#?}",
        overlap.reasoning
    );
}

#[test]
fn care_and_refund_thresholds() {
    let eu = |i: CompensationInput| regime_decision(&i, Eu261).unwrap();
    let short = || trip("FRA", "CDG", EuCarrier);
    assert!(
        eu(delayed(short(), 119, 119)).care.is_empty(),
        "EU261 Art. 6(1)(a)(i): under 2h, no care"
    );
    assert!(
        eu(delayed(short(), 120, 120))
            .care
            .contains(&CareDuty::MealsAndRefreshments),
        "exactly 2h: care"
    );
    assert!(
        eu(delayed(trip("FRA", "JFK", EuCarrier), 239, 239))
            .care
            .is_empty(),
        "Art. 6(1)(a)(iii): long haul care from 4h"
    );
    let extraordinary = eu(with(delayed(short(), 300, 300), |i| {
        i.controllability = Controllability::Extraordinary
    }));
    assert!(
        extraordinary.cash.is_none()
            && extraordinary.care.contains(&CareDuty::MealsAndRefreshments),
        "Art. 5(3) never removes care"
    );
    assert!(
        eu(delayed(short(), 299, 299)).refund.is_none(),
        "Art. 6(1)(iii): refund from 5h"
    );
    let refund = eu(delayed(short(), 300, 300)).refund.unwrap();
    assert_eq!(
        refund.deadline,
        at() + chrono::Duration::days(7),
        "Art. 8(1)(a): within seven days"
    );
    let overnight = eu(with(delayed(short(), 600, 600), |i| {
        i.disruption = Disruption::Delay {
            departure_delay_minutes: 600,
            arrival_delay_minutes: 600,
            overnight: true,
        }
    }));
    assert!(
        overnight.care.contains(&CareDuty::Accommodation)
            && overnight.care.contains(&CareDuty::HotelTransport)
    );
    let cancelled_eu = eu(cancelled(short(), 20, None));
    assert!(
        cancelled_eu.refund.is_some() && cancelled_eu.cash.is_none(),
        "Art. 5(1)(a): refund or rerouting even with notice"
    );
}

/// CAAC Art. 19: who pays for meals and a hotel follows the cause, read from the codes.
#[test]
fn caac_care_follows_the_cause_in_the_codes() {
    let care = |delays: &[(u8, u32)]| {
        let input = coded(late(trip("PEK", "PVG", CarrierHome::China), 240), delays);
        regime_decision(&input, ChinaCaac).unwrap().care
    };
    assert_eq!(care(&[(41, 240)]), vec![CareDuty::MealsAndRefreshments]);
    assert_eq!(
        care(&[(51, 240)]),
        vec![CareDuty::AssistanceAtPassengerExpense],
        "a bird strike is not the carrier's cause"
    );
}

#[test]
fn deadlines_per_regime() {
    let us = |payment| {
        regime_decision(
            &with(cancelled(trip("JFK", "LAX", UsCarrier), 1, None), |i| {
                i.payment_method = payment
            }),
            UsDot,
        )
        .unwrap()
    };
    let card = us(PaymentMethod::Card).refund.unwrap().deadline;
    assert_eq!(
        card.date_naive(),
        chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
        "7 business days from Friday 20 Nov skip two weekends"
    );
    assert_ne!(card.weekday(), Weekday::Sat);
    assert_eq!(
        us(PaymentMethod::Other).refund.unwrap().deadline,
        at() + chrono::Duration::days(20),
        "20 calendar days for other payments"
    );
    let appr = regime_decision(
        &late(trip("YYZ", "YVR", CarrierHome::Canada), 200),
        CanadaAppr,
    )
    .unwrap();
    assert_eq!(
        appr.payment_deadline,
        at() + chrono::Duration::days(30),
        "APPR s. 19(4): 30 days"
    );
    let caac = regime_decision(
        &with(late(trip("PEK", "PVG", CarrierHome::China), 240), |i| {
            i.controllability = Controllability::Extraordinary
        }),
        ChinaCaac,
    )
    .unwrap();
    assert_eq!(
        caac.care,
        vec![CareDuty::AssistanceAtPassengerExpense],
        "weather: assistance only"
    );
    assert_eq!(
        caac.refund.unwrap().deadline.date_naive(),
        chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
        "7 working days"
    );
}

#[test]
fn goodwill_by_tier_and_delay() {
    let goodwill = |tier, delay| {
        let input = with(late(trip("FRA", "CDG", EuCarrier), delay), |i| {
            i.tier = tier
        });
        GoodwillPolicy::default_policy().decide(&input, None)
    };
    let diamond = goodwill(Tier::Diamond, 200);
    assert_eq!(
        (diamond.voucher.map(|v| v.amount_minor), diamond.miles),
        (Some(150_00), Some(15_000))
    );
    assert_eq!(
        goodwill(Tier::Diamond, 90).voucher.map(|v| v.amount_minor),
        Some(50_00)
    );
    assert_eq!(goodwill(Tier::None, 100).voucher, None);
    assert_eq!(
        goodwill(Tier::None, 240).miles,
        None,
        "a rule with zero miles gives none"
    );
    assert!(goodwill(Tier::None, 100).rule_id.ends_with(".none"));
}

/// Issue 19, item 7: a voucher is issued in the currency of the country the journey
/// starts from, converted at the policy's rate and rounded up to a whole unit; where the
/// policy names no currency for the country, in the policy's own.
#[test]
fn goodwill_vouchers_are_issued_in_the_journeys_currency() {
    let policy = CompensationPolicy::default_policy();
    let rates = policy.exchange_rates.as_ref().unwrap();
    let voucher = |from: &str, to: &str, home| {
        let input = with(late(trip(from, to, home), 200), |i| i.tier = Tier::Diamond);
        let d = policy.goodwill.decide(&input, Some(rates));
        (d.voucher.unwrap(), d.reasoning)
    };
    // EUR 150 at the shipped illustrative rates, rounded up to whole units.
    let cad = Money::new(24_400, Currency::CAD); // 150 × 1.625 = 243.75
    assert_eq!(voucher("YYZ", "YVR", CarrierHome::Canada).0, cad);
    assert_eq!(
        voucher("JFK", "LAX", UsCarrier).0,
        Money::new(17_400, Currency::USD)
    );
    assert_eq!(
        voucher("PEK", "PVG", CarrierHome::China).0,
        Money::new(123_800, Currency::CNY)
    );
    assert_eq!(
        voucher("FRA", "CDG", EuCarrier).0,
        Money::new(150_00, Currency::EUR)
    );
    let (_, reasoning) = voucher("YYZ", "YVR", CarrierHome::Canada);
    assert!(
        reasoning
            .iter()
            .any(|l| l.contains("CAD 244.00") && l.contains(&rates.describe(Currency::CAD))),
        "the rate used is named: {reasoning:#?}"
    );
    // The whole decision, as the entitlement records it.
    let input = with(late(trip("YYZ", "YVR", CarrierHome::Canada), 200), |i| {
        i.tier = Tier::Diamond
    });
    let goodwill = decide(&input, &policy)
        .into_iter()
        .find(|d| d.regime == Goodwill)
        .unwrap();
    assert_eq!(goodwill.voucher, Some(cad));
    // Without a rate the policy's currency stays, and the decision says so.
    let no_rates = policy.goodwill.decide(&input, None);
    assert_eq!(no_rates.voucher, Some(Money::new(150_00, Currency::EUR)));
    assert!(
        no_rates
            .reasoning
            .iter()
            .any(|l| l.contains("no EUR/CAD rate"))
    );
}

#[test]
fn goodwill_files_are_validated_with_the_field_to_fix() {
    let err = GoodwillPolicy::parse(
        r#"{"version": 2, "currency": "EUR", "issue_within_days": 14, "rules": []}"#,
    )
    .unwrap_err();
    assert!(err.to_string().contains("field version"), "{err}");
    let dup = r#"{"version": 1, "currency": "EUR", "issue_within_days": 14, "rules": [
        {"tier": "gold", "min_delay_minutes": 60, "voucher_minor": 1, "miles": 0},
        {"tier": "gold", "min_delay_minutes": 60, "voucher_minor": 2, "miles": 0}]}"#;
    assert!(
        GoodwillPolicy::parse(dup)
            .unwrap_err()
            .to_string()
            .contains("rules[1]")
    );
    assert!(matches!(
        GoodwillPolicy::parse("{"),
        Err(GoodwillError::Format(_))
    ));
    assert!(
        GoodwillPolicy::parse(
            r#"{"version": 1, "currency": "eur", "issue_within_days": 14, "rules": []}"#
        )
        .is_err(),
        "currency codes are upper case"
    );
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    fn any_input() -> impl Strategy<Value = CompensationInput> {
        let routes = prop::sample::select(vec![
            ("FRA", "CDG"),
            ("LHR", "JFK"),
            ("YYZ", "YVR"),
            ("JFK", "LAX"),
            ("PEK", "PVG"),
            ("CDG", "LHR"),
            ("FRA", "YYZ"),
        ]);
        let homes = prop::sample::select(vec![
            CarrierHome::Eu,
            CarrierHome::Uk,
            CarrierHome::Canada,
            CarrierHome::Us,
            CarrierHome::China,
            CarrierHome::Other,
        ]);
        let control = prop::sample::select(vec![
            Controllability::CarrierCaused,
            Controllability::Extraordinary,
            Controllability::Safety,
        ]);
        let disruption = prop_oneof![
            (0u32..1500, 0u32..1500, any::<bool>()).prop_map(|(d, a, o)| Disruption::Delay {
                departure_delay_minutes: d,
                arrival_delay_minutes: a,
                overnight: o
            }),
            (
                0u32..30,
                prop::option::of((0u32..300, 0u32..600)),
                any::<bool>()
            )
                .prop_map(|(n, r, o)| Disruption::Cancellation {
                    notice_days: n,
                    rerouting: r.map(|(e, l)| Rerouting {
                        departs_earlier_minutes: e,
                        arrives_later_minutes: l
                    }),
                    overnight: o
                }),
        ];
        (
            routes,
            homes,
            control,
            disruption,
            0u32..20_000,
            any::<bool>(),
        )
            .prop_map(
                |((from, to), home, control, disruption, distance, accepted)| {
                    let mut input = km(trip(from, to, home), distance);
                    input.controllability = control;
                    input.disruption = disruption;
                    input.passenger_accepted_change = accepted;
                    input
                },
            )
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]
        #[test]
        fn decisions_are_deterministic_explained_and_bounded(input in any_input()) {
            let first = decide(&input, &CompensationPolicy::default_policy());
            prop_assert_eq!(&first, &decide(&input, &CompensationPolicy::default_policy()));
            for d in &first {
                prop_assert!(!d.rule_id.is_empty() && !d.reasoning.is_empty());
                prop_assert!(d.payment_deadline >= input.decided_at);
                if let Some(cash) = d.cash {
                    prop_assert!(cash.amount_minor > 0 && cash.amount_minor <= 1_000_00, "{:?}", d);
                }
                if input.controllability == Controllability::Extraordinary {
                    prop_assert!(d.cash.is_none(), "extraordinary circumstances never owe statutory cash");
                }
            }
        }

        #[test]
        fn a_longer_delay_never_lowers_eu_compensation(input in any_input(), extra in 0u32..600) {
            if let Disruption::Delay { departure_delay_minutes, arrival_delay_minutes, overnight } = input.disruption {
                let longer = with(input.clone(), |i| i.disruption = Disruption::Delay { departure_delay_minutes: departure_delay_minutes + extra, arrival_delay_minutes: arrival_delay_minutes + extra, overnight });
                let cash = |i: &CompensationInput| regime_decision(i, Eu261).and_then(|d| d.cash).map_or(0, |m| m.amount_minor);
                prop_assert!(cash(&longer) >= cash(&input));
            }
        }
    }
}
