//! The simulated airline's world, for [`day`](super::day) and for benchmarks that want
//! its realism: a portable seeded [`Rng`], the hubs and the routes they fly, the IATA
//! delay codes, the loyalty tiers in their proportions, the feedback channels and the
//! passengers' names.

use crate::domain::common::{Channel, Tier};

/// A small portable pseudo-random generator (SplitMix64): the same seed gives the same
/// numbers on every platform and with every version of every crate, so a simulated day
/// is reproducible from its seed alone.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `low..=high`.
    pub fn range(&mut self, low: i64, high: i64) -> i64 {
        let span = (high - low).max(0) as u64 + 1;
        low + (self.next_u64() % span) as i64
    }

    /// True `percent` times in a hundred.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next_u64() % items.len() as u64) as usize]
    }
}

/// A loyalty tier in the proportions of a large carrier's passengers: most have none.
pub fn tier(rng: &mut Rng) -> Tier {
    match rng.range(0, 99) {
        0..=1 => Tier::Diamond,
        2..=6 => Tier::Platinum,
        7..=18 => Tier::Gold,
        19..=38 => Tier::Silver,
        _ => Tier::None,
    }
}

/// Every customer channel that sends feedback.
pub const FEEDBACK_CHANNELS: [Channel; 5] = [
    Channel::SocialMedia,
    Channel::Hotline,
    Channel::Email,
    Channel::Web,
    Channel::App,
];

/// The hubs the simulated airline flies from; the storm hits the first.
pub const HUBS: [&str; 2] = ["FRA", "MUC"];

/// A destination served from the hubs: block time from the hub (minutes), seats of the
/// aircraft flying it, and an economy fare (EUR).
#[derive(Debug, Clone, Copy)]
pub struct Spoke {
    pub airport: &'static str,
    pub block_minutes: i64,
    pub seats: u32,
    pub fare_eur: u64,
}

const fn spoke(airport: &'static str, block_minutes: i64, seats: u32, fare_eur: u64) -> Spoke {
    Spoke {
        airport,
        block_minutes,
        seats,
        fare_eur,
    }
}

/// Where the hubs fly: short, medium and long haul.
pub const SPOKES: [Spoke; 16] = [
    spoke("LHR", 100, 180, 189),
    spoke("CDG", 75, 180, 169),
    spoke("AMS", 70, 150, 159),
    spoke("VIE", 80, 150, 149),
    spoke("CPH", 85, 150, 159),
    spoke("BER", 65, 180, 119),
    spoke("HAM", 60, 180, 109),
    spoke("MAD", 150, 180, 219),
    spoke("BCN", 125, 180, 199),
    spoke("FCO", 115, 180, 209),
    spoke("LIS", 185, 180, 239),
    spoke("DXB", 380, 280, 689),
    spoke("JFK", 520, 300, 799),
    spoke("ORD", 560, 290, 829),
    spoke("SFO", 680, 300, 949),
    spoke("NRT", 700, 300, 1_049),
];

/// An IATA AHM 730 delay code, the reason flight ops gives for it, and its usual minutes.
#[derive(Debug, Clone, Copy)]
pub struct DelayCause {
    pub code: &'static str,
    pub reason: &'static str,
    pub minutes: (u32, u32),
}

const fn cause(code: &'static str, reason: &'static str, low: u32, high: u32) -> DelayCause {
    DelayCause {
        code,
        reason,
        minutes: (low, high),
    }
}

/// The everyday delays, carrier-caused and extraordinary alike.
pub const DELAY_CAUSES: [DelayCause; 7] = [
    cause("93", "late inbound aircraft", 25, 90),
    cause("81", "ATFM restriction en route (ATC capacity)", 20, 70),
    cause("63", "late crew boarding", 15, 45),
    cause("15", "boarding: missing passengers, bags offloaded", 10, 30),
    cause(
        "87",
        "airport facilities: jet bridge out of service",
        15,
        40,
    ),
    cause("41", "aircraft defect: hydraulic leak", 40, 150),
    cause("72", "weather at destination", 20, 80),
];
/// The technical defect that grounds one aircraft for hours (and makes a spike).
pub(super) const LONG_DELAY: DelayCause = cause(
    "41",
    "aircraft defect: engine bleed valve replaced",
    200,
    300,
);
/// The storm's cause: weather at the departure station.
pub(super) const STORM: DelayCause = cause(
    "71",
    "thunderstorms over the hub: runway capacity cut by ATC",
    120,
    180,
);

pub(super) const FIRST_NAMES: [&str; 16] = [
    "Anna", "Ben", "Chloé", "David", "Elif", "Farid", "Greta", "Hiro", "Inês", "Jonas", "Kofi",
    "Lena", "Marta", "Noah", "Olga", "Pavel",
];
pub(super) const LAST_NAMES: [&str; 16] = [
    "Almeida",
    "Berg",
    "Chen",
    "Dubois",
    "Eriksen",
    "Fischer",
    "García",
    "Hoffmann",
    "Ivanova",
    "Jansen",
    "Kowalski",
    "Lindqvist",
    "Müller",
    "Novak",
    "O'Brien",
    "Petrov",
];
