//! From what is known about a flight to what the compensation rules ask
//! ([`CompensationInput`]), once the disruption is final: the flight was cancelled, or
//! it arrived at least [`DISRUPTED_ARRIVAL_MINUTES`] late.
//!
//! Facts flight ops does not send are the airline's (the operating carrier's home and
//! size, from the policy's carrier table) or the passenger's (tier); how the ticket was paid is not known here
//! and is taken as a card payment, and a passenger is taken not to have accepted a
//! change (the rules then owe the most, and an agent can correct it).

use chrono::{DateTime, Utc};

use crate::domain::common::Tier;
use crate::domain::flight::{Flight, FlightStatus};
use crate::domain::policy::airports;
use crate::domain::policy::compensation::{
    CarrierHome, CarrierSize, CompensationInput, Disruption, Diversion, PaymentMethod, Rerouting,
};

/// An arrival this late (or a cancellation) makes a flight's disruption worth an
/// entitlement per passenger: the lowest threshold of any regime (EU 261 care, CAAC).
pub const DISRUPTED_ARRIVAL_MINUTES: i64 = 120;

/// The operating carrier's home and size: from the policy's carrier table, or the
/// defaults the service was started with for a carrier not in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CarrierProfile {
    pub home: CarrierHome,
    pub size: CarrierSize,
    /// Taken from the policy's carrier table (not the defaults).
    pub listed: bool,
}

/// Why a flight gives no compensation input yet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotFinal {
    #[error("the flight has no schedule")]
    NotScheduled,
    #[error("the flight has neither arrived nor been cancelled")]
    Open,
    #[error(
        "the flight arrived {minutes} min late, under the {DISRUPTED_ARRIVAL_MINUTES} min threshold"
    )]
    NotDisrupted { minutes: i64 },
    #[error("airport {code} is not in the airport table")]
    UnknownAirport { code: String },
}

/// Whether `flight`'s disruption is final and worth computing entitlements for.
#[cfg(test)]
pub fn is_final_disruption(flight: &Flight) -> bool {
    match flight.status {
        FlightStatus::Cancelled => true,
        _ => flight
            .arrival_delay_minutes()
            .is_some_and(|m| m >= DISRUPTED_ARRIVAL_MINUTES),
    }
}

/// What the rules need to decide one passenger's entitlement on `flight` at `decided_at`;
/// refused for an arrival under [`DISRUPTED_ARRIVAL_MINUTES`] late.
pub fn compensation_input(
    flight: &Flight,
    tier: Tier,
    carrier: CarrierProfile,
    decided_at: DateTime<Utc>,
) -> Result<CompensationInput, NotFinal> {
    if flight.status != FlightStatus::Cancelled
        && let Some(arrival) = flight.arrival_delay_minutes()
        && arrival < DISRUPTED_ARRIVAL_MINUTES
    {
        return Err(NotFinal::NotDisrupted { minutes: arrival });
    }
    recompute_input(flight, tier, carrier, decided_at)
}

/// Like [`compensation_input`] for any arrival delay: an entitlement computed on a late
/// arrival is recomputed when the arrival time is corrected, however small the delay
/// becomes (its decisions then owe what that delay owes, perhaps nothing).
pub fn recompute_input(
    flight: &Flight,
    tier: Tier,
    carrier: CarrierProfile,
    decided_at: DateTime<Utc>,
) -> Result<CompensationInput, NotFinal> {
    let schedule = flight.schedule.as_ref().ok_or(NotFinal::NotScheduled)?;
    let disruption = if flight.status == FlightStatus::Cancelled {
        let told = flight.passengers_notified_at.unwrap_or(decided_at);
        Disruption::Cancellation {
            notice_days: u32::try_from((schedule.scheduled_departure - told).num_days())
                .unwrap_or(0),
            rerouting: None,
            overnight: false,
        }
    } else {
        let arrival = flight.arrival_delay_minutes().ok_or(NotFinal::Open)?;
        let departure = flight.actual_departure.map_or(arrival, |at| {
            (at - schedule.scheduled_departure).num_minutes()
        });
        // Care follows the passenger's day where they wait: the origin's local dates.
        let origin = airports::airport(&schedule.origin).ok_or(NotFinal::UnknownAirport {
            code: schedule.origin.to_string(),
        })?;
        let overnight = flight.actual_departure.is_some_and(|at| {
            origin.local_date(at) > origin.local_date(schedule.scheduled_departure)
        });
        Disruption::Delay {
            departure_delay_minutes: u32::try_from(departure.max(0)).unwrap_or(u32::MAX),
            arrival_delay_minutes: u32::try_from(arrival).unwrap_or(u32::MAX),
            overnight,
        }
    };
    // A diversion: where the passengers waited, how long, and whether overnight there
    // (local dates at that airport; an airport missing from the table is judged in UTC).
    let diversion = match (flight.diversion, flight.actual_arrival) {
        (
            Some(super::super::flight::DivertedTo {
                airport,
                landed_at: landed,
            }),
            Some(arrived),
        ) if flight.arrived_at_destination() => {
            let date = |at: DateTime<Utc>| {
                airports::airport(&airport).map_or(at.date_naive(), |a| a.local_date(at))
            };
            Some(Diversion {
                airport,
                wait_minutes: u32::try_from((arrived - landed).num_minutes().max(0))
                    .unwrap_or(u32::MAX),
                overnight: date(arrived) > date(landed),
            })
        }
        _ => None,
    };
    let country = |code: &crate::domain::common::AirportCode| {
        airports::airport(code)
            .map(|a| a.country.clone())
            .ok_or(NotFinal::UnknownAirport {
                code: code.to_string(),
            })
    };
    Ok(CompensationInput {
        origin: schedule.origin,
        destination: schedule.destination,
        origin_country: country(&schedule.origin)?,
        destination_country: country(&schedule.destination)?,
        distance_km: airports::distance_between(&schedule.origin, &schedule.destination).ok_or(
            NotFinal::UnknownAirport {
                code: schedule.destination.to_string(),
            },
        )?,
        carrier: schedule.flight.carrier.clone(),
        carrier_listed: carrier.listed,
        carrier_home: carrier.home,
        carrier_size: carrier.size,
        disruption,
        controllability: flight.controllability(),
        controllability_overridden: flight.controllability_override.is_some(),
        delays: flight.delays.clone(),
        diversion,
        fare: None,
        passenger_accepted_change: false,
        payment_method: PaymentMethod::Card,
        tier,
        decided_at,
    })
}

/// `input` for a passenger whose booking the manifest gave: the fare their refund is
/// based on, and the journey's final destination when it continues beyond the flight
/// (the distance band follows it, EU 261 Art. 7(4); the delay stays this flight's, the
/// one crisisd knows).
pub fn for_booking(
    mut input: CompensationInput,
    booking: &crate::domain::passenger::Booking,
    flight: &Flight,
) -> Result<CompensationInput, NotFinal> {
    input.fare = booking.fare;
    // After a cancellation: the alternative offered, against the schedule (Art. 5(1)(c),
    // 7(2)); taking it is accepting the change (14 CFR 260.6).
    if let (Disruption::Cancellation { rerouting, .. }, Some(offered), Some(schedule)) =
        (&mut input.disruption, &booking.rerouting, &flight.schedule)
    {
        let minutes =
            |d: chrono::TimeDelta| u32::try_from(d.num_minutes().max(0)).unwrap_or(u32::MAX);
        *rerouting = Some(Rerouting {
            departs_earlier_minutes: minutes(schedule.scheduled_departure - offered.departure),
            arrives_later_minutes: minutes(offered.arrival - schedule.scheduled_arrival),
        });
        input.passenger_accepted_change = offered.accepted && !booking.refund_chosen;
    }
    if let Some(destination) = booking.final_destination
        && destination != input.destination
        && destination != input.origin
    {
        let unknown = || NotFinal::UnknownAirport {
            code: destination.to_string(),
        };
        input.destination_country = airports::airport(&destination)
            .ok_or_else(unknown)?
            .country
            .clone();
        input.distance_km =
            airports::distance_between(&input.origin, &destination).ok_or_else(unknown)?;
        input.destination = destination;
    }
    Ok(input)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::common::{AirportCode, FlightKey};
    use crate::domain::flight::FlightScheduled;
    use crate::domain::testing::at;

    const LH: CarrierProfile = CarrierProfile {
        home: CarrierHome::Eu,
        size: CarrierSize::Large,
        listed: true,
    };

    fn scheduled() -> Flight {
        Flight {
            schedule: Some(FlightScheduled {
                flight: FlightKey::new("LH", "400", at(0).date_naive()).unwrap(),
                origin: AirportCode::parse("FRA").unwrap(),
                destination: AirportCode::parse("JFK").unwrap(),
                scheduled_departure: at(60),
                scheduled_arrival: at(60 + 8 * 60),
                passenger_count: 300,
            }),
            ..Flight::default()
        }
    }

    #[test]
    fn a_late_arrival_is_a_delay_with_both_delays_and_the_route() {
        let mut flight = scheduled();
        flight.actual_departure = Some(at(60 + 230));
        flight.actual_arrival = Some(at(60 + 8 * 60 + 240));
        flight.arrival_airport = flight.schedule.as_ref().map(|s| s.destination);
        assert!(is_final_disruption(&flight));
        let input = compensation_input(&flight, Tier::Gold, LH, at(1_000)).unwrap();
        assert_eq!(
            input.disruption,
            Disruption::Delay {
                departure_delay_minutes: 230,
                arrival_delay_minutes: 240,
                overnight: false
            }
        );
        assert_eq!(
            (
                input.origin_country.as_str(),
                input.destination_country.as_str()
            ),
            ("DE", "US")
        );
        assert!(
            (6_150..6_250).contains(&input.distance_km),
            "{}",
            input.distance_km
        );
        assert_eq!((input.carrier.as_str(), input.tier), ("LH", Tier::Gold));
    }

    /// A flight from `origin` scheduled at `scheduled` (UTC) that left at `left` (UTC).
    fn left_late(origin: &str, scheduled: &str, left: &str) -> Flight {
        let scheduled: DateTime<Utc> = scheduled.parse().unwrap();
        let left: DateTime<Utc> = left.parse().unwrap();
        let mut flight = scheduled_flight(origin, scheduled);
        flight.actual_departure = Some(left);
        flight.actual_arrival = Some(left + chrono::Duration::hours(8));
        flight.arrival_airport = flight.schedule.as_ref().map(|s| s.destination);
        flight
    }

    fn scheduled_flight(origin: &str, departure: DateTime<Utc>) -> Flight {
        Flight {
            schedule: Some(FlightScheduled {
                flight: FlightKey::new("LH", "471", departure.date_naive()).unwrap(),
                origin: AirportCode::parse(origin).unwrap(),
                destination: AirportCode::parse("FRA").unwrap(),
                scheduled_departure: departure,
                scheduled_arrival: departure + chrono::Duration::hours(8),
                passenger_count: 300,
            }),
            ..Flight::default()
        }
    }

    fn overnight(flight: &Flight) -> bool {
        let input = compensation_input(flight, Tier::None, LH, at(100_000)).unwrap();
        matches!(
            input.disruption,
            Disruption::Delay {
                overnight: true,
                ..
            }
        )
    }

    /// Overnight (hotel owed: EU 261 Art. 9(1)(b), APPR s. 14(2)) is judged on the
    /// local dates of the airport where the passenger waits, not on UTC dates.
    #[test]
    fn overnight_follows_the_local_day_at_the_departure_airport() {
        // Toronto, winter (UTC-5): 09:00 scheduled, 19:00 left, the same local day,
        // though 19:00 local is past midnight UTC.
        let toronto = left_late("YYZ", "2026-12-01T14:00:00Z", "2026-12-02T00:00:00Z");
        assert!(!overnight(&toronto), "a same-day evening departure");
        // Beijing (UTC+8): 21:00 scheduled, 02:00 next local day, the same UTC day.
        let beijing = left_late("PEK", "2026-12-01T13:00:00Z", "2026-12-01T18:00:00Z");
        assert!(overnight(&beijing), "a departure after local midnight");
        // Frankfurt (UTC+1): 23:30 local to 00:30 local, both on one UTC day.
        let frankfurt = left_late("FRA", "2026-12-01T22:30:00Z", "2026-12-01T23:30:00Z");
        let input = compensation_input(&frankfurt, Tier::None, LH, at(100_000));
        assert!(
            matches!(input, Err(NotFinal::NotDisrupted { .. })),
            "an hour late is no disruption: {input:?}"
        );
        let frankfurt = left_late("FRA", "2026-12-01T21:30:00Z", "2026-12-02T00:30:00Z");
        assert!(
            overnight(&frankfurt),
            "22:30 to 01:30 local crosses midnight"
        );
    }

    /// Issue 19, item 4: the flight's own class for a bird strike is `safety`, which EU
    /// 261 has no such exemption for; the decision reads the code under EU rules
    /// (CJEU C-315/15 Pešková) and owes no cash, explaining why.
    #[test]
    fn each_regime_reads_the_delay_codes_itself() {
        use crate::domain::flight::{Controllability, DelayCode, controllability};
        use crate::domain::policy::compensation::{Regime, decide};
        use crate::domain::policy::compensation_policy::CompensationPolicy;
        let mut flight = scheduled();
        flight.actual_departure = Some(at(60 + 240));
        flight.actual_arrival = Some(at(60 + 8 * 60 + 240));
        flight.arrival_airport = flight.schedule.as_ref().map(|s| s.destination);
        flight.delays = [(DelayCode::new(51).unwrap(), 240)].into();
        flight.derived_controllability = controllability::derive(&flight.delays);
        assert_eq!(flight.derived_controllability, Controllability::Safety);
        let input = compensation_input(&flight, Tier::None, LH, at(1_000)).unwrap();
        let decisions = decide(&input, &CompensationPolicy::default_policy());
        let eu = decisions
            .iter()
            .find(|d| d.regime == Regime::Eu261)
            .unwrap();
        assert_eq!((eu.cash, eu.rule_id.as_str()), (None, "eu261.art5.3"));
        assert!(
            eu.reasoning.iter().any(|l| l.contains("C-315/15")),
            "{:#?}",
            eu.reasoning
        );
    }

    /// Issue 19, item 6: a flight diverted to Boston whose passengers reach New York 3 h
    /// 30 late: the delay counts to New York, not to the Boston landing; care is owed for
    /// the wait in Boston and the transfer on (CJEU C-826/19).
    #[test]
    fn a_diversion_counts_the_delay_to_the_destination_and_owes_care_where_they_waited() {
        use crate::domain::Aggregate;
        use crate::domain::common::AirportCode;
        use crate::domain::flight::FlightArrived;
        use crate::domain::flight::FlightEvent;
        use crate::domain::policy::compensation::{CareDuty, Regime, decide};
        use crate::domain::policy::compensation_policy::CompensationPolicy;
        let mut flight = scheduled();
        flight.actual_departure = Some(at(60 + 30));
        let land = |flight: Flight, minute, code| {
            flight.evolve(&FlightEvent::Arrived(FlightArrived {
                actual_arrival: at(minute),
                airport: AirportCode::parse(code).unwrap(),
            }))
        };
        let flight = land(flight, 60 + 8 * 60 - 30, "BOS");
        assert_eq!(
            compensation_input(&flight, Tier::None, LH, at(1_000)),
            Err(NotFinal::Open),
            "landed in Boston: not final yet"
        );
        let flight = land(flight, 60 + 8 * 60 + 210, "JFK");
        let input = compensation_input(&flight, Tier::None, LH, at(1_000)).unwrap();
        assert!(matches!(
            input.disruption,
            Disruption::Delay {
                arrival_delay_minutes: 210,
                ..
            }
        ));
        let diversion = input.diversion.expect("diverted");
        assert_eq!(
            (diversion.airport.as_str(), diversion.wait_minutes),
            ("BOS", 240)
        );
        let decisions = decide(&input, &CompensationPolicy::default_policy());
        let eu = decisions
            .iter()
            .find(|d| d.regime == Regime::Eu261)
            .unwrap();
        assert_eq!(
            (eu.cash.map(|m| m.amount_minor), eu.rule_id.as_str()),
            (Some(30_000), "eu261.art7.2c.delay"),
            "3 h 30 late beyond 3,500 km: halved"
        );
        for duty in [
            CareDuty::TransferToDestination,
            CareDuty::MealsAndRefreshments,
            CareDuty::Communication,
        ] {
            assert!(eu.care.contains(&duty), "{duty:?}: {:#?}", eu.reasoning);
        }
        assert!(eu.reasoning.iter().any(|l| l.contains("C-826/19")));
    }

    /// Issue 19, reroutings: the alternative a cancelled flight's passenger was offered,
    /// against the schedule, decides Art. 7(2) (halved when it arrives within 4 h beyond
    /// 3,500 km) and, taken, the US refund (14 CFR 260.6: a change accepted).
    #[test]
    fn a_rerouting_from_the_booking_halves_eu_compensation_and_answers_the_us_refund() {
        use crate::domain::passenger::{Booking, Reaccommodation};
        use crate::domain::policy::compensation::{Regime, decide};
        use crate::domain::policy::compensation_policy::CompensationPolicy;
        let mut flight = scheduled();
        flight.status = FlightStatus::Cancelled;
        let booking = |accepted| Booking {
            name: None,
            tier: Tier::None,
            booking_class: "Y".into(),
            fare: None,
            final_destination: None,
            consent: Default::default(),
            boarded: false,
            rerouting: Some(Reaccommodation {
                flight_number: Some("LH402".into()),
                departure: at(60 + 60),
                arrival: at(60 + 8 * 60 + 180),
                accepted,
            }),
            refund_chosen: !accepted,
        };
        let decided = |accepted| {
            let input = compensation_input(&flight, Tier::None, LH, at(0)).unwrap();
            let input = for_booking(input, &booking(accepted), &flight).unwrap();
            assert_eq!(
                input.disruption,
                Disruption::Cancellation {
                    notice_days: 0,
                    rerouting: Some(Rerouting {
                        departs_earlier_minutes: 0,
                        arrives_later_minutes: 180
                    }),
                    overnight: false
                }
            );
            decide(&input, &CompensationPolicy::default_policy())
        };
        let taken = decided(true);
        let rule = |decisions: &[crate::domain::compensation::CompensationDecision], regime| {
            let d = decisions.iter().find(|d| d.regime == regime).unwrap();
            (d.rule_id.clone(), d.cash.map(|m| m.amount_minor))
        };
        assert_eq!(
            rule(&taken, Regime::Eu261),
            ("eu261.art7.2c".into(), Some(30_000))
        );
        assert_eq!(rule(&taken, Regime::UsDot).0, "usdot.260.accepted");
        let refused = decided(false);
        assert_eq!(
            rule(&refused, Regime::UsDot).0,
            "usdot.260.6",
            "declined: refunded"
        );
    }

    #[test]
    fn small_delays_and_open_flights_give_no_input() {
        let mut flight = scheduled();
        assert_eq!(
            compensation_input(&flight, Tier::None, LH, at(0)),
            Err(NotFinal::Open)
        );
        flight.actual_arrival = Some(at(60 + 8 * 60 + 119));
        flight.arrival_airport = flight.schedule.as_ref().map(|s| s.destination);
        assert!(!is_final_disruption(&flight));
        assert_eq!(
            compensation_input(&flight, Tier::None, LH, at(0)),
            Err(NotFinal::NotDisrupted { minutes: 119 })
        );
        assert_eq!(
            compensation_input(&Flight::default(), Tier::None, LH, at(0)),
            Err(NotFinal::NotScheduled)
        );
    }

    #[test]
    fn a_cancellation_counts_notice_days_from_the_notification() {
        let mut flight = scheduled();
        flight.status = FlightStatus::Cancelled;
        flight.passengers_notified_at = Some(at(60) - chrono::Duration::days(10));
        let input = compensation_input(&flight, Tier::None, LH, at(0)).unwrap();
        assert_eq!(
            input.disruption,
            Disruption::Cancellation {
                notice_days: 10,
                rerouting: None,
                overnight: false
            }
        );
        flight.passengers_notified_at = None;
        let input = compensation_input(&flight, Tier::None, LH, at(0)).unwrap();
        assert!(
            matches!(
                input.disruption,
                Disruption::Cancellation { notice_days: 0, .. }
            ),
            "not told: no notice"
        );
    }
}
