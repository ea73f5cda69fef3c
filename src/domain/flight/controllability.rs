//! Who is answerable for a disruption, derived from IATA delay codes
//! (AHM 730 two-digit numeric codes).
//!
//! | codes | family | class |
//! |---|---|---|
//! | 00–39 | airline internal, passenger & baggage, cargo & mail, aircraft & ramp handling | carrier_caused |
//! | 41–48 | technical and aircraft equipment (defects, maintenance, AOG) | safety |
//! | 51–52 | damage to aircraft (in flight: bird/lightning strike; on ground) | safety |
//! | 55–58 | EDP/automated equipment failure | carrier_caused |
//! | 61–69 | flight operations and crewing | carrier_caused |
//! | 71–77 | weather (departure, destination, en route, de-icing, snow removal) | extraordinary |
//! | 81–89 | ATFM/ATC, airport facilities, mandatory security, immigration/customs/health | extraordinary |
//! | 91–96, 99 | reactionary (late inbound aircraft, crew, passengers, connections) and misc. | carrier_caused |
//! | 97 | industrial action within the own airline | carrier_caused |
//! | 98 | industrial action outside the own airline (ATC, airport) | extraordinary |
//! | others (40, 49, 50, 53, 54, 59, 60, 70, 78–80, 90) | unassigned | carrier_caused |
//!
//! `safety` means "within the carrier's control but required for safety"
//! (Canada APPR s. 10–12). This class is the flight's summary for the crisis
//! team; compensation does not use it: each regulation reads the delay codes
//! with its own table ([`crate::domain::policy::causes`]: EU 261 treats technical
//! defects as within control, C-257/14 van der Lans, and a bird strike as
//! extraordinary, C-315/15 Pešková), unless a person recorded an override. Reactionary codes name only the knock-on effect, so they
//! stay carrier_caused unless a person records an override with a reason.
//!
//! Several codes on one flight: the class with the most delay minutes wins.
//! A tie (and a flight with no minutes at all) goes to the class most
//! favourable to the passenger, carrier_caused > safety > extraordinary,
//! because the carrier bears the burden of proving extraordinary
//! circumstances (EU 261 art. 5(3)).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Who is answerable for a disruption.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Default,
    Serialize,
    Deserialize,
    JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Controllability {
    /// Within the carrier's control.
    #[default]
    CarrierCaused,
    /// Outside the carrier's control (weather, ATC, airport, security, strikes of third parties).
    Extraordinary,
    /// Within the carrier's control but required for safety.
    Safety,
}

impl Controllability {
    /// Tie-break rank: higher wins a tie (most favourable to the passenger).
    fn tie_rank(self) -> u8 {
        match self {
            Controllability::CarrierCaused => 2,
            Controllability::Safety => 1,
            Controllability::Extraordinary => 0,
        }
    }
}

/// An IATA AHM 730 delay code, `00`–`99`; serialized as two digits (`"06"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DelayCode(u8);

impl DelayCode {
    /// A code from its number; `None` above 99.
    pub fn new(code: u8) -> Option<Self> {
        (code <= 99).then_some(DelayCode(code))
    }

    /// The code as a number (`6` for `"06"`).
    pub fn number(self) -> u8 {
        self.0
    }

    /// The AHM 730 family (the tens digit: 7 for weather codes 7x).
    pub fn family(self) -> u8 {
        self.0 / 10
    }
}

impl TryFrom<String> for DelayCode {
    type Error = String;
    fn try_from(code: String) -> Result<Self, Self::Error> {
        match code.as_bytes() {
            [a, b] if a.is_ascii_digit() && b.is_ascii_digit() => {
                Ok(DelayCode((a - b'0') * 10 + (b - b'0')))
            }
            _ => Err(format!(
                "delay code {code:?} is not a two-digit IATA code (e.g. \"93\")"
            )),
        }
    }
}

impl From<DelayCode> for String {
    fn from(code: DelayCode) -> String {
        format!("{:02}", code.0)
    }
}

impl JsonSchema for DelayCode {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "DelayCode".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "IATA AHM 730 delay code, two digits",
            "type": "string",
            "pattern": "^[0-9]{2}$"
        })
    }
}

/// The class one delay code belongs to (see the module table).
pub fn class_of(code: DelayCode) -> Controllability {
    match code.number() {
        41..=48 | 51..=52 => Controllability::Safety,
        71..=77 | 81..=89 | 98 => Controllability::Extraordinary,
        _ => Controllability::CarrierCaused,
    }
}

/// The class of a whole flight from its minutes per code (see the module doc).
pub fn derive(delays: &BTreeMap<DelayCode, u32>) -> Controllability {
    let mut minutes: BTreeMap<Controllability, u64> = BTreeMap::new();
    for (code, delay) in delays {
        *minutes.entry(class_of(*code)).or_default() += u64::from(*delay);
    }
    minutes
        .into_iter()
        .filter(|(_, total)| *total > 0)
        .max_by_key(|(class, total)| (*total, class.tie_rank()))
        .map_or(Controllability::CarrierCaused, |(class, _)| class)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Controllability::*;

    fn code(n: u8) -> DelayCode {
        DelayCode::new(n).unwrap()
    }

    #[test]
    fn codes_map_to_their_family_class() {
        let cases = [
            (6, CarrierCaused),
            (14, CarrierCaused),
            (33, CarrierCaused),
            (41, Safety),
            (48, Safety),
            (51, Safety),
            (57, CarrierCaused),
            (63, CarrierCaused),
            (71, Extraordinary),
            (75, Extraordinary),
            (81, Extraordinary),
            (85, Extraordinary),
            (89, Extraordinary),
            (93, CarrierCaused),
            (97, CarrierCaused),
            (98, Extraordinary),
            (99, CarrierCaused),
        ];
        for (number, class) in cases {
            assert_eq!(class_of(code(number)), class, "code {number:02}");
        }
    }

    #[test]
    fn most_minutes_win() {
        let delays = BTreeMap::from([(code(71), 120), (code(93), 40)]);
        assert_eq!(derive(&delays), Extraordinary);
        let delays = BTreeMap::from([(code(71), 60), (code(72), 10), (code(41), 65)]);
        assert_eq!(
            derive(&delays),
            Extraordinary,
            "minutes add up within a class"
        );
        let delays = BTreeMap::from([(code(41), 90), (code(81), 30)]);
        assert_eq!(derive(&delays), Safety);
    }

    #[test]
    fn ties_and_empty_favour_the_passenger() {
        assert_eq!(derive(&BTreeMap::new()), CarrierCaused);
        assert_eq!(derive(&BTreeMap::from([(code(81), 0)])), CarrierCaused);
        assert_eq!(
            derive(&BTreeMap::from([(code(81), 30), (code(41), 30)])),
            Safety
        );
        assert_eq!(
            derive(&BTreeMap::from([
                (code(81), 30),
                (code(41), 30),
                (code(6), 30)
            ])),
            CarrierCaused
        );
    }

    #[test]
    fn delay_codes_are_two_digits() {
        assert_eq!(serde_json::to_string(&code(6)).unwrap(), "\"06\"");
        assert_eq!(
            serde_json::from_str::<DelayCode>("\"93\"").unwrap(),
            code(93)
        );
        assert!(serde_json::from_str::<DelayCode>("\"9\"").is_err());
        assert!(serde_json::from_str::<DelayCode>("\"9A\"").is_err());
        assert_eq!(DelayCode::new(100), None);
        assert_eq!(code(75).family(), 7);
    }
}
