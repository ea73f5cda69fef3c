//! Canada APPR, US DOT automatic refunds and China CAAC care duties.

// Amounts are written units_cents (250_00 is 250.00) on purpose.
#![allow(clippy::inconsistent_digit_grouping)]

use chrono::Duration;

use super::airports::in_us;
use super::compensation::{
    CareDuty, CarrierSize, CompensationDecision, CompensationInput, Disruption, PaymentMethod,
    RefundRight, Regime, add_business_days, decision, experienced_delay, hours,
};
use crate::domain::common::{Currency, Money};
use crate::domain::flight::Controllability;

/// APPR s. 19(1)(a) (large carrier) and (b) (small), by arrival delay band, in cents.
const APPR_LARGE: [u64; 3] = [400_00, 700_00, 1_000_00];
const APPR_SMALL: [u64; 3] = [125_00, 250_00, 500_00];
/// APPR s. 19(4) / s. 17: answer a claim, and refund, within 30 days.
const APPR_DAYS: i64 = 30;

/// Canada's Air Passenger Protection Regulations (SOR/2019-150).
pub fn appr(input: &CompensationInput) -> CompensationDecision {
    let deadline = input.decided_at + Duration::days(APPR_DAYS);
    let mut d = decision(Regime::CanadaAppr, input, deadline);
    let (cause, why) = super::causes::under(Regime::CanadaAppr, input);
    d.reasoning.push(why);
    let table = match input.carrier_size {
        CarrierSize::Large => APPR_LARGE,
        CarrierSize::Small => APPR_SMALL,
    };
    let (departure_delay, overnight) = match input.disruption {
        Disruption::Delay {
            departure_delay_minutes,
            overnight,
            ..
        } => (departure_delay_minutes, overnight),
        Disruption::Cancellation { overnight, .. } => (u32::MAX, overnight),
    };
    if cause != Controllability::Extraordinary && departure_delay >= 120 {
        d.care
            .extend([CareDuty::MealsAndRefreshments, CareDuty::Communication]);
        d.reasoning.push("within the carrier's control and a wait of 2 hours or more: food, drink and access to communication (s. 14(1))".to_owned());
        if overnight {
            d.care
                .extend([CareDuty::Accommodation, CareDuty::HotelTransport]);
            d.reasoning
                .push("overnight wait: hotel and transport (s. 14(2))".to_owned());
        }
    }
    let treatment = (cause != Controllability::Extraordinary).then_some(("s. 14(1)", "s. 14(2)"));
    super::compensation::diversion_care(
        &mut d,
        input,
        "the carrier completes the itinerary, s. 17, 18",
        treatment,
    );
    let cancelled = matches!(input.disruption, Disruption::Cancellation { .. });
    if cancelled || departure_delay >= 180 {
        d.refund = Some(RefundRight {
            deadline,
            rule_id: "appr.s17".into(),
            fare: input.fare,
        });
        d.reasoning.push(format!("cancellation or delay of 3 hours or more: refund within {APPR_DAYS} days if the passenger no longer travels (ss. 17, 18)"));
    }
    match cause {
        Controllability::Extraordinary => {
            d.rule_id = "appr.s10".into();
            d.reasoning
                .push("outside the carrier's control: no compensation (s. 10)".into());
            return d;
        }
        Controllability::Safety => {
            d.rule_id = "appr.s11".into();
            d.reasoning.push(
                "within the carrier's control but required for safety: no compensation (s. 11)"
                    .into(),
            );
            return d;
        }
        Controllability::CarrierCaused => {}
    }
    if let Disruption::Cancellation { notice_days, .. } = input.disruption
        && notice_days >= 14
    {
        d.rule_id = "appr.s19.1".into();
        d.reasoning.push(format!(
            "told {notice_days} days ahead, 14 or more: no compensation (s. 19(1))"
        ));
        return d;
    }
    let Some(delay) = experienced_delay(&input.disruption) else {
        d.cash = Some(Money::new(table[0], Currency::CAD));
        d.rule_id = "appr.s19.3".into();
        d.reasoning.push(format!(
            "cancelled without an alternative taken (refunded): {} CAD (s. 19(3))",
            table[0] / 100
        ));
        return d;
    };
    let band = match delay {
        m if m < 180 => None,
        m if m < 360 => Some(0),
        m if m < 540 => Some(1),
        _ => Some(2),
    };
    match band {
        None => {
            d.rule_id = "appr.s19.under3h".into();
            d.reasoning.push(format!(
                "arrival delay {} under 3 hours: no compensation (s. 19(1))",
                hours(delay)
            ));
        }
        Some(b) => {
            let size = if input.carrier_size == CarrierSize::Large {
                "large"
            } else {
                "small"
            };
            d.cash = Some(Money::new(table[b], Currency::CAD));
            d.rule_id = format!(
                "appr.s19.1{}.{}",
                if size == "large" { "a" } else { "b" },
                ["3to6h", "6to9h", "9h"][b]
            );
            d.reasoning.push(format!("within the carrier's control, {size} carrier, arrival delay {}: {} CAD (s. 19(1)), answer within {APPR_DAYS} days (s. 19(4))", hours(delay), table[b] / 100));
        }
    }
    d
}

/// US DOT automatic refunds (14 CFR part 260, in force 2024).
pub fn us_dot(input: &CompensationInput) -> CompensationDecision {
    let (deadline, period) = match input.payment_method {
        PaymentMethod::Card => (
            add_business_days(input.decided_at, 7),
            "7 business days (card)",
        ),
        PaymentMethod::Other => (
            input.decided_at + Duration::days(20),
            "20 days (other payment)",
        ),
    };
    let mut d = decision(Regime::UsDot, input, deadline);
    let domestic = in_us(&input.origin_country) && in_us(&input.destination_country);
    let threshold = if domestic { 180 } else { 360 };
    let (qualifies, what) = match input.disruption {
        Disruption::Cancellation { .. } => (true, "cancellation".to_owned()),
        // 14 CFR 260.2: a significant change is a departure 3 h (domestic) / 6 h
        // (international) or more *earlier*, or an arrival that much *later*, than
        // scheduled; a delayed departure counts only through the arrival it delays.
        Disruption::Delay {
            arrival_delay_minutes,
            ..
        } => (
            arrival_delay_minutes >= threshold,
            format!(
                "arrival {} later than scheduled ({} threshold {}h, 14 CFR 260.2)",
                hours(arrival_delay_minutes),
                if domestic {
                    "domestic"
                } else {
                    "international"
                },
                threshold / 60
            ),
        ),
    };
    d.reasoning.push(
        "no federal cash compensation for delays or cancellations; no federal care duty".into(),
    );
    if !qualifies {
        d.rule_id = "usdot.260.below_threshold".into();
        d.reasoning.push(format!(
            "{what}: not a significant change, no automatic refund (14 CFR 260.2)"
        ));
    } else if input.passenger_accepted_change {
        d.rule_id = "usdot.260.accepted".into();
        d.reasoning.push(format!(
            "{what} accepted by the passenger: no automatic refund (14 CFR 260.6)"
        ));
    } else {
        d.rule_id = "usdot.260.6".into();
        d.refund = Some(RefundRight {
            deadline,
            rule_id: "usdot.260.6".into(),
            fare: input.fare,
        });
        d.reasoning.push(format!(
            "{what} not accepted: automatic refund within {period} (14 CFR 260.6, 260.9)"
        ));
    }
    d
}

/// CAAC: care by cause, no statutory cash, refunds within 7 working days.
pub fn caac(input: &CompensationInput) -> CompensationDecision {
    let deadline = add_business_days(input.decided_at, 7);
    let mut d = decision(Regime::ChinaCaac, input, deadline);
    d.rule_id = "caac.2016.care".into();
    let (cause, why) = super::causes::under(Regime::ChinaCaac, input);
    d.reasoning.push(why);
    let (delay, overnight, cancelled) = match input.disruption {
        Disruption::Delay {
            departure_delay_minutes,
            overnight,
            ..
        } => (departure_delay_minutes, overnight, false),
        Disruption::Cancellation { overnight, .. } => (u32::MAX, overnight, true),
    };
    let carrier_caused = cause != Controllability::Extraordinary;
    if delay >= 120 {
        if carrier_caused {
            d.care.push(CareDuty::MealsAndRefreshments);
            if overnight {
                d.care
                    .extend([CareDuty::Accommodation, CareDuty::HotelTransport]);
            }
            d.reasoning.push("carrier-caused (maintenance, scheduling, crew): meals, and accommodation when overnight, free of charge (航班正常管理规定 Art. 19)".into());
        } else {
            d.care.push(CareDuty::AssistanceAtPassengerExpense);
            d.reasoning.push("weather, ATC, security or passenger causes: the carrier helps arrange meals and accommodation at the passenger's expense (Art. 19)".into());
        }
    }
    if cancelled || delay >= 120 {
        d.refund = Some(RefundRight {
            deadline,
            rule_id: "caac.2021.refund".into(),
            fare: input.fare,
        });
        d.reasoning.push("refund within 7 working days if the passenger no longer travels (公共航空运输旅客服务管理规定 2021)".into());
    }
    d.reasoning.push("no statutory cash amount: the carrier's own conditions of carriage apply; complaints are answered within 10 working days".into());
    d
}
