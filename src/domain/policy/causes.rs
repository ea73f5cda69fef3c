//! Who answers for a disruption, per regulation, from the flight's IATA delay codes.
//!
//! The regulations draw the line differently, so one class per flight cannot serve
//! them all: a bird strike is an extraordinary circumstance under EU 261 (CJEU C-315/15
//! Pešková) and outside the carrier's control under APPR (s. 10(1)(i), collision with
//! wildlife), while a technical defect is within the carrier's control under EU 261
//! (C-257/14 van der Lans) but "required for safety" under APPR (s. 11) — except
//! scheduled maintenance, which APPR's definition excludes (s. 1). Each regime reads
//! the codes with its own table below; the class with the most delay minutes wins, a
//! tie going to the class most favourable to the passenger (the carrier bears the
//! burden of proof, EU 261 Art. 5(3)). A class a crisis lead recorded with a reason
//! (an override) stands for every regime: the codes cannot tell a bird strike from a
//! heavy landing under code 51, a person can.
//!
//! | codes (AHM 730) | EU 261 / UK 261 | APPR (SOR/2019-150) | CAAC (2016 Art. 19) |
//! |---|---|---|---|
//! | 00–39 airline, passengers, cargo, handling | carrier | carrier | carrier |
//! | 41, 43–46 defects, unscheduled maintenance, spares, technical aircraft change | carrier (C-257/14, C-549/07) | safety (s. 1, s. 11) | carrier (机务维护) |
//! | 42 scheduled maintenance | carrier | carrier (s. 1 excludes it) | carrier |
//! | 47, 48 standby aircraft, cabin configuration | carrier | carrier | carrier |
//! | 51 damage in flight (bird or lightning strike) | extraordinary (C-315/15) | outside control (s. 10(1)(i)) | not the carrier's |
//! | 52 damage on the ground (collisions, loading) | carrier (C-394/14 Siewert) | safety (s. 11) | carrier |
//! | 55–58 automated systems | carrier | carrier | carrier |
//! | 61–68 flight operations, crew | carrier | carrier | carrier |
//! | 69 captain's request for a security check | carrier | safety (pilot's safety decision, s. 1) | carrier |
//! | 71–77 weather | extraordinary (recital 14) | outside control (s. 10(1)(c)) | not the carrier's |
//! | 81–84 air traffic flow management | extraordinary (recitals 14, 15) | outside control (s. 10(1)(d)) | not the carrier's |
//! | 85 mandatory security | extraordinary (recital 14) | outside control (s. 10(1)(f)) | not the carrier's |
//! | 86 immigration, customs, health | extraordinary (recital 14) | outside control (s. 10(1)(l)) | not the carrier's |
//! | 87–89 airport facilities and restrictions | extraordinary (C-308/21 SATA) | outside control (s. 10(1)(g)) | not the carrier's |
//! | 91–96 reactionary | carrier | carrier | carrier |
//! | 97 strike within the airline | carrier (C-28/20 Airhelp v SAS) | outside control (s. 10(1)(j)) | carrier |
//! | 98 strike outside the airline | extraordinary (recital 14) | outside control (s. 10(1)(j)) | not the carrier's |
//! | 99 and unassigned codes | carrier | carrier | carrier |
//!
//! Reactionary codes (91–96) name only the knock-on effect; an earlier flight's
//! extraordinary cause may carry over (C-74/19 LE v TAP), which only a person can tell:
//! an override. CAAC distinguishes carrier causes (maintenance, scheduling, crew,
//! commercial: meals and hotel free) from the rest (weather, ATC, security, passengers:
//! help at the passenger's expense); "not the carrier's" maps to `extraordinary`.

use std::collections::BTreeMap;

use super::compensation::{CompensationInput, Regime};
use crate::domain::flight::{Controllability, DelayCode};

use Controllability::{CarrierCaused as Carrier, Extraordinary, Safety};

/// The class of `code` under `regime`, and the source of that class.
fn class(regime: Regime, code: DelayCode) -> (Controllability, &'static str) {
    match regime {
        Regime::Eu261 | Regime::Uk261 => eu(code.number()),
        Regime::CanadaAppr => appr(code.number()),
        Regime::ChinaCaac => caac(code.number()),
        // Neither depends on who caused the disruption.
        Regime::UsDot | Regime::Goodwill => (Carrier, "no distinction by cause"),
    }
}

fn eu(code: u8) -> (Controllability, &'static str) {
    match code {
        41..=48 => (
            Carrier,
            "technical problems are within the carrier's control (CJEU C-257/14 van der Lans, C-549/07 Wallentin-Hermann)",
        ),
        51 => (
            Extraordinary,
            "a bird strike is an extraordinary circumstance (CJEU C-315/15 Pešková)",
        ),
        52 => (
            Carrier,
            "damage on the ground by the carrier's operations is within its control (CJEU C-394/14 Siewert)",
        ),
        71..=77 => (
            Extraordinary,
            "weather incompatible with the flight (recital 14)",
        ),
        81..=86 => (
            Extraordinary,
            "air traffic management, security or state decisions (recitals 14, 15)",
        ),
        87..=89 => (
            Extraordinary,
            "airport facilities and restrictions outside the carrier's operations (CJEU C-308/21 SATA)",
        ),
        97 => (
            Carrier,
            "a strike of the carrier's own staff is within its control (CJEU C-28/20 Airhelp v SAS)",
        ),
        98 => (Extraordinary, "a strike outside the carrier (recital 14)"),
        _ => (Carrier, "the carrier's own operations"),
    }
}

fn appr(code: u8) -> (Controllability, &'static str) {
    match code {
        42 => (
            Carrier,
            "scheduled maintenance is not \"required for safety\" (s. 1)",
        ),
        41 | 43..=46 => (
            Safety,
            "repairs and unscheduled maintenance are required for safety (s. 1, s. 11)",
        ),
        51 => (
            Extraordinary,
            "a collision with wildlife is outside the carrier's control (s. 10(1)(i))",
        ),
        52 => (
            Safety,
            "damage must be repaired before flight: required for safety (s. 11)",
        ),
        69 => (
            Safety,
            "a pilot's safety decision is required for safety (s. 1)",
        ),
        71..=77 => (Extraordinary, "meteorological conditions (s. 10(1)(c))"),
        81..=84 => (
            Extraordinary,
            "air traffic control instructions (s. 10(1)(d))",
        ),
        85 => (Extraordinary, "a security threat (s. 10(1)(f))"),
        86 => (Extraordinary, "an order of a state official (s. 10(1)(l))"),
        87..=89 => (Extraordinary, "airport operation issues (s. 10(1)(g))"),
        97 | 98 => (
            Extraordinary,
            "a labour disruption within the carrier or an essential service provider (s. 10(1)(j))",
        ),
        _ => (Carrier, "within the carrier's control (s. 12)"),
    }
}

fn caac(code: u8) -> (Controllability, &'static str) {
    match code {
        51 | 71..=77 | 81..=89 | 98 => (
            Extraordinary,
            "weather, air traffic control, security, airport or other non-carrier causes (航班正常管理规定 Art. 19)",
        ),
        _ => (
            Carrier,
            "maintenance, scheduling, crew or commercial causes of the carrier (航班正常管理规定 Art. 19)",
        ),
    }
}

/// Tie-break rank: higher wins a tie (most favourable to the passenger).
fn favour(class: Controllability) -> u8 {
    match class {
        Carrier => 2,
        Safety => 1,
        Extraordinary => 0,
    }
}

fn name(class: Controllability) -> &'static str {
    match class {
        Carrier => "within the carrier's control",
        Safety => "required for safety",
        Extraordinary => "outside the carrier's control",
    }
}

/// The class `regime` applies to `input`'s disruption, and the line that explains it.
pub fn under(regime: Regime, input: &CompensationInput) -> (Controllability, String) {
    if input.controllability_overridden {
        let class = input.controllability;
        return (
            class,
            format!(
                "cause: {}, as a crisis lead recorded it (override)",
                name(class)
            ),
        );
    }
    if input.delays.is_empty() {
        let class = input.controllability;
        return (class, format!("cause: {} (no delay code)", name(class)));
    }
    let mut minutes: BTreeMap<Controllability, u64> = BTreeMap::new();
    let mut lines = Vec::new();
    for (code, delay) in &input.delays {
        let (class, source) = class(regime, *code);
        *minutes.entry(class).or_default() += u64::from(*delay);
        lines.push(format!(
            "code {} ({delay} min): {}, {source}",
            String::from(*code),
            name(class)
        ));
    }
    let class = minutes
        .into_iter()
        .filter(|(_, total)| *total > 0)
        .max_by_key(|(class, total)| (*total, favour(*class)))
        .map_or(Carrier, |(class, _)| class);
    (
        class,
        format!(
            "cause: {} by delay minutes; {}",
            name(class),
            lines.join("; ")
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_a_class_and_a_source_under_each_regime() {
        for regime in [
            Regime::Eu261,
            Regime::Uk261,
            Regime::CanadaAppr,
            Regime::ChinaCaac,
        ] {
            for n in 0..=99 {
                let (_, source) = class(regime, DelayCode::new(n).unwrap());
                assert!(!source.is_empty(), "{regime:?} code {n:02}");
            }
            // The EU and CAAC tables know no "safety" class.
            if regime != Regime::CanadaAppr {
                assert!((0..=99).all(|n| class(regime, DelayCode::new(n).unwrap()).0 != Safety));
            }
        }
    }
}
