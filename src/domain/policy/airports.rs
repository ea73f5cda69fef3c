//! The airport table and great-circle distances.
//!
//! `airports.csv` ships with crisisd (see `AIRPORTS-LICENSE` beside it): every airport
//! with an IATA code from the MIT-licensed `airportsdata` package (version 20260905),
//! columns `iata,country,lat,lon,tz`. To refresh it, download the package
//! (`pip download airportsdata --no-deps`), unpack the wheel, and keep, for each IATA
//! code, the first row of `airports.csv` with those five columns (coordinates to six
//! decimals), sorted by code.
//!
//! Distances are great-circle distances on a sphere of radius 6,371 km (haversine),
//! the method EU 261 Art. 7(4) prescribes, rounded to the nearest whole kilometre.

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::domain::common::AirportCode;

const AIRPORTS_CSV: &str = include_str!("airports.csv");
/// Mean Earth radius used for great-circle distances.
pub const EARTH_RADIUS_KM: f64 = 6371.0;

/// One airport of the table.
#[derive(Debug, Clone, PartialEq)]
pub struct Airport {
    pub iata: AirportCode,
    /// ISO 3166-1 alpha-2 country code.
    pub country: String,
    pub latitude: f64,
    pub longitude: f64,
    /// IANA time zone, e.g. `Europe/Paris`.
    pub time_zone: String,
    /// The same zone, to read instants as the airport's local time.
    pub zone: chrono_tz::Tz,
}

impl Airport {
    /// The airport's local calendar date at `at`: the day a passenger waiting there lives in.
    pub fn local_date(&self, at: chrono::DateTime<chrono::Utc>) -> chrono::NaiveDate {
        at.with_timezone(&self.zone).date_naive()
    }
}

fn table() -> &'static HashMap<String, Airport> {
    static TABLE: OnceLock<HashMap<String, Airport>> = OnceLock::new();
    TABLE.get_or_init(|| {
        AIRPORTS_CSV
            .lines()
            .skip(1)
            .map(|line| {
                let mut cols = line.split(',');
                let mut next = || cols.next().expect("airports.csv rows have five columns");
                let (iata, country, lat, lon, tz) = (next(), next(), next(), next(), next());
                let airport = Airport {
                    iata: AirportCode::parse(iata).expect("airports.csv holds valid IATA codes"),
                    country: country.to_owned(),
                    latitude: lat.parse().expect("latitude"),
                    longitude: lon.parse().expect("longitude"),
                    time_zone: tz.to_owned(),
                    zone: tz
                        .parse()
                        .expect("airports.csv holds IANA zones chrono-tz knows"),
                };
                (iata.to_owned(), airport)
            })
            .collect()
    })
}

/// The airport with this IATA code, if the table knows it.
pub fn airport(code: &AirportCode) -> Option<&'static Airport> {
    table().get(code.as_str())
}

/// True when the table knows this IATA code.
pub fn is_known(code: &str) -> bool {
    table().contains_key(code)
}

/// Great-circle distance between two airports in whole kilometres (nearest).
pub fn distance_km(from: &Airport, to: &Airport) -> u32 {
    let (lat1, lat2) = (from.latitude.to_radians(), to.latitude.to_radians());
    let d_lat = lat2 - lat1;
    let d_lon = (to.longitude - from.longitude).to_radians();
    let a = (d_lat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (d_lon / 2.0).sin().powi(2);
    let central_angle = 2.0 * a.sqrt().atan2((1.0 - a).sqrt());
    (EARTH_RADIUS_KM * central_angle).round() as u32
}

/// Distance between two IATA codes, `None` if either is unknown.
pub fn distance_between(from: &AirportCode, to: &AirportCode) -> Option<u32> {
    Some(distance_km(airport(from)?, airport(to)?))
}

/// EU member states (ISO 3166-1 alpha-2), including outermost regions reported under them.
const EU: &[&str] = &[
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV",
    "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",
    // French overseas departments are listed separately in ISO 3166 but are EU territory.
    "GP", "MQ", "GF", "RE", "YT", "MF",
];
/// EEA members outside the EU and Switzerland, which apply EU 261 by agreement.
const EEA_CH: &[&str] = &["IS", "NO", "LI", "CH"];

/// Where EU 261 applies to departures: the EU, the EEA and Switzerland.
pub fn in_eu261_territory(country: &str) -> bool {
    EU.contains(&country) || EEA_CH.contains(&country)
}

/// The United Kingdom (UK 261 territory).
pub fn in_uk(country: &str) -> bool {
    country == "GB"
}

pub fn in_canada(country: &str) -> bool {
    country == "CA"
}

/// The United States with its territories that US DOT rules cover.
pub fn in_us(country: &str) -> bool {
    matches!(country, "US" | "PR" | "VI" | "GU" | "AS" | "MP")
}

/// Mainland China (Hong Kong, Macao and Taiwan have their own rules).
pub fn in_mainland_china(country: &str) -> bool {
    country == "CN"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(c: &str) -> AirportCode {
        AirportCode::parse(c).unwrap()
    }

    #[test]
    fn the_table_knows_major_airports_with_countries_and_zones() {
        let lhr = airport(&code("LHR")).unwrap();
        assert_eq!(
            (lhr.country.as_str(), lhr.time_zone.as_str()),
            ("GB", "Europe/London")
        );
        assert_eq!(airport(&code("YYZ")).unwrap().country, "CA");
        assert!(is_known("PEK") && !is_known("QQQ"));
        assert!(table().len() > 7_000);
    }

    #[test]
    fn great_circle_distances_match_published_figures() {
        // Published ellipsoidal (WGS 84) great-circle distances in km; a sphere differs by
        // up to about 0.5 %, so allow 0.7 %.
        for (from, to, km) in [
            ("LHR", "JFK", 5_554),
            ("FRA", "CDG", 449),
            ("CDG", "JFK", 5_834),
            ("SYD", "LAX", 12_051),
            ("AMS", "BCN", 1_240),
        ] {
            let d = distance_between(&code(from), &code(to)).unwrap();
            assert!(
                (d as f64 - km as f64).abs() <= km as f64 * 0.007,
                "{from}-{to}: {d} km, expected about {km}"
            );
            assert_eq!(
                distance_between(&code(to), &code(from)),
                Some(d),
                "symmetric"
            );
        }
        assert_eq!(distance_between(&code("LHR"), &code("LHR")), Some(0));
    }

    #[test]
    fn territories() {
        assert!(in_eu261_territory("DE") && in_eu261_territory("CH") && in_eu261_territory("NO"));
        assert!(!in_eu261_territory("GB") && in_uk("GB"));
        assert!(
            in_us("PR") && in_canada("CA") && in_mainland_china("CN") && !in_mainland_china("HK")
        );
    }
}
