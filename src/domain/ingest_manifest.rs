//! `crisis.ingest.manifest`, version 1: the passengers booked on (or boarded) one flight,
//! as a departure control or reservation system knows them. Each message is the whole
//! current list: it replaces the previous one (crisisd stores the difference).

use chrono::NaiveDate;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::fields::Fields;
use super::{IngestLimits, Rejection, envelope, flight_key};
use crate::domain::common::{Currency, FlightKey, Money, PassengerId, PersonalData, Tier};

/// Largest manifest message (bytes): a full wide-body flight fits with room to spare.
pub const MANIFEST_BYTES_MAX: usize = 256 * 1024;
/// Most passengers one manifest may list.
pub const MANIFEST_PASSENGERS_MAX: usize = 1000;

pub(super) const MANIFEST_FIELDS: &[&str] = &[
    "v",
    "source_message_id",
    "carrier",
    "flight_number",
    "origin_date",
    "passengers",
];
pub(super) const PASSENGER_FIELDS: &[&str] = &[
    "passenger_ref",
    "name",
    "tier",
    "booking_class",
    "fare",
    "final_destination",
    "contact_consent",
    "boarded",
    "rerouting",
    "refund_chosen",
];
pub(super) const REROUTING_FIELDS: &[&str] = &["flight_number", "departure", "arrival", "accepted"];
const FARE_FIELDS: &[&str] = &["amount_minor", "currency"];
const CONSENT_CHANNELS: &str = "email, sms, phone, app_push";

/// One passenger of a manifest.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ManifestPassengerV1 {
    /// Loyalty or customer number (pseudonymous): 1-64 of A-Z, a-z, 0-9, '-' and '_'
    /// (the passenger's record is a stream named after it).
    #[schemars(regex(pattern = r"^[A-Za-z0-9_-]{1,64}$"))]
    pub passenger_ref: String,
    /// The name on the booking (personal data: sealed with the passenger's key).
    pub name: Option<PersonalData<String>>,
    pub tier: Tier,
    /// Booking class, one letter (`Y`, `J`, ...).
    #[schemars(regex(pattern = r"^[A-Z]$"))]
    pub booking_class: String,
    /// What the passenger paid for this flight's part of the ticket (the refund base).
    pub fare: Option<Money>,
    /// The journey's final destination when it continues beyond this flight
    /// (compensation distance, EU 261 Art. 7(4)).
    pub final_destination: Option<String>,
    /// Channels the passenger agreed to be contacted on.
    #[serde(default)]
    pub contact_consent: Vec<String>,
    /// Boarded (true) or only booked.
    #[serde(default)]
    pub boarded: bool,
    /// The alternative flight offered after a cancellation, and whether the passenger
    /// took it.
    pub rerouting: Option<ReroutingV1>,
    /// The passenger chose a refund instead of travelling.
    #[serde(default)]
    pub refund_chosen: bool,
}

/// An alternative flight offered to a passenger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReroutingV1 {
    /// The alternative's flight, e.g. `LH402` (informational).
    pub flight_number: Option<String>,
    /// When the alternative departs from the origin.
    pub departure: chrono::DateTime<chrono::Utc>,
    /// When it arrives at the cancelled flight's destination; after `departure`.
    pub arrival: chrono::DateTime<chrono::Utc>,
    /// The passenger took it.
    pub accepted: bool,
}

/// `crisis.ingest.manifest`, version 1. Fields not listed here are refused.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ManifestMessageV1 {
    pub v: u32,
    pub source_message_id: String,
    pub carrier: String,
    pub flight_number: String,
    pub origin_date: NaiveDate,
    /// Every passenger on the flight now; at most 1,000, each once.
    pub passengers: Vec<ManifestPassengerV1>,
}

impl std::fmt::Debug for ManifestMessageV1 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManifestMessageV1")
            .field("source_message_id", &self.source_message_id)
            .field("flight", &self.flight_key())
            .field("passengers", &self.passengers.len())
            .finish()
    }
}

impl ManifestMessageV1 {
    /// The flight this manifest lists.
    pub fn flight_key(&self) -> FlightKey {
        FlightKey::new(&self.carrier, &self.flight_number, self.origin_date)
            .expect("validated when parsed")
    }
}

/// Parses and validates a manifest message read at `limits.now`.
pub fn parse_manifest(
    bytes: &[u8],
    limits: &IngestLimits,
    is_known_airport: &dyn Fn(&str) -> bool,
) -> Result<ManifestMessageV1, Rejection> {
    let mut value = Value::Null;
    let f = envelope(bytes, limits, &mut value)?;
    f.only(MANIFEST_FIELDS)?;
    let origin_date = f.origin_date("origin_date")?;
    let (carrier, flight_number) = flight_key(&f, origin_date)?;
    let items = match f.required("passengers")? {
        Value::Array(items) if items.len() <= MANIFEST_PASSENGERS_MAX => items,
        Value::Array(_) => {
            return Err(f.reject(
                "out_of_range",
                "passengers",
                format!("at most {MANIFEST_PASSENGERS_MAX} passengers per manifest"),
            ));
        }
        _ => {
            return Err(f.reject(
                "invalid_field",
                "passengers",
                "passengers must be an array of passenger objects (an empty array: nobody is booked)".into(),
            ));
        }
    };
    let mut passengers = Vec::with_capacity(items.len());
    let mut seen = std::collections::HashSet::new();
    for (index, item) in items.iter().enumerate() {
        let Some(object) = item.as_object() else {
            return Err(f.reject(
                "invalid_field",
                &format!("passengers/{index}"),
                "each passenger is an object".into(),
            ));
        };
        let entry = f.nested(object, format!("{}/passengers/{index}", f.base));
        let passenger = passenger(&entry, is_known_airport)?;
        if !seen.insert(passenger.passenger_ref.clone()) {
            return Err(entry.reject(
                "invalid_field",
                "passenger_ref",
                "this passenger is listed twice; list each passenger once".into(),
            ));
        }
        passengers.push(passenger);
    }
    Ok(ManifestMessageV1 {
        v: 1,
        source_message_id: f.source_id.clone().expect("checked by envelope"),
        carrier,
        flight_number,
        origin_date,
        passengers,
    })
}

fn passenger(
    f: &Fields<'_>,
    is_known_airport: &dyn Fn(&str) -> bool,
) -> Result<ManifestPassengerV1, Rejection> {
    f.only(PASSENGER_FIELDS)?;
    let id = f.required_string("passenger_ref", PassengerId::BYTES_MAX)?;
    let id = PassengerId::parse(id)
        .map_err(|rule| f.reject("invalid_field", "passenger_ref", rule.into()))?;
    if id.0.contains('.') {
        return Err(f.reject(
            "invalid_field",
            "passenger_ref",
            "a booked passenger's record is a stream named after the id, and stream names take no '.'; use A-Z, a-z, 0-9, '-' and '_'".into(),
        ));
    }
    let name = match f.string("name", 200)? {
        Some(name) if name.trim().is_empty() => {
            return Err(f.reject(
                "invalid_field",
                "name",
                "name must not be blank; leave it out if unknown".into(),
            ));
        }
        name => name.map(|n| PersonalData(n.to_owned())),
    };
    let tier = f
        .enumeration("tier", "diamond, platinum, gold, silver, none")?
        .ok_or_else(|| f.reject("missing_field", "tier", "tier is required".into()))?;
    let class = f.required_string("booking_class", 1)?;
    if !(class.len() == 1 && class.bytes().all(|b| b.is_ascii_uppercase())) {
        return Err(f.reject(
            "invalid_field",
            "booking_class",
            "booking_class is one upper-case letter (e.g. \"Y\")".into(),
        ));
    }
    let fare = match f.value("fare") {
        None => None,
        Some(Value::Object(object)) => Some(fare(&f.nested(object, format!("{}/fare", f.base)))?),
        Some(_) => {
            return Err(f.reject(
                "invalid_field",
                "fare",
                "fare must be an object {\"amount_minor\", \"currency\"}".into(),
            ));
        }
    };
    let final_destination = f.optional_airport("final_destination", is_known_airport)?;
    let contact_consent = match f.value("contact_consent") {
        None => Vec::new(),
        Some(Value::Array(items)) => {
            let mut channels: Vec<String> = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let channel = item
                    .as_str()
                    .filter(|c| CONSENT_CHANNELS.split(", ").any(|known| known == *c))
                    .ok_or_else(|| {
                        f.reject(
                            "invalid_field",
                            &format!("contact_consent/{i}"),
                            format!("a consent names a channel: {CONSENT_CHANNELS}"),
                        )
                    })?;
                if !channels.iter().any(|c| c == channel) {
                    channels.push(channel.to_owned());
                }
            }
            channels.sort();
            channels
        }
        Some(_) => {
            return Err(f.reject(
                "invalid_field",
                "contact_consent",
                format!("contact_consent must be an array of channels: {CONSENT_CHANNELS}"),
            ));
        }
    };
    let boarded = match f.value("boarded") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err(f.reject(
                "invalid_field",
                "boarded",
                "boarded must be true or false".into(),
            ));
        }
    };
    let rerouting = match f.value("rerouting") {
        None => None,
        Some(Value::Object(object)) => Some(rerouting(
            &f.nested(object, format!("{}/rerouting", f.base)),
        )?),
        Some(_) => {
            return Err(f.reject(
                "invalid_field",
                "rerouting",
                "rerouting must be an object {flight_number, departure, arrival, accepted}".into(),
            ));
        }
    };
    let refund_chosen = match f.value("refund_chosen") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err(f.reject(
                "invalid_field",
                "refund_chosen",
                "refund_chosen must be true or false".into(),
            ));
        }
    };
    if refund_chosen && rerouting.as_ref().is_some_and(|r| r.accepted) {
        return Err(f.reject(
            "invalid_field",
            "refund_chosen",
            "a passenger who took the alternative did not choose a refund; set one of them".into(),
        ));
    }
    Ok(ManifestPassengerV1 {
        passenger_ref: id.0,
        name,
        tier,
        booking_class: class.to_owned(),
        fare,
        final_destination,
        contact_consent,
        boarded,
        rerouting,
        refund_chosen,
    })
}

fn rerouting(f: &Fields<'_>) -> Result<ReroutingV1, Rejection> {
    f.only(REROUTING_FIELDS)?;
    let flight_number = f.string("flight_number", 8)?.map(str::to_owned);
    let departure = f
        .time("departure")?
        .ok_or_else(|| f.reject("missing_field", "departure", "departure is required".into()))?;
    let arrival = f
        .time("arrival")?
        .ok_or_else(|| f.reject("missing_field", "arrival", "arrival is required".into()))?;
    if arrival <= departure {
        return Err(f.reject(
            "out_of_range",
            "arrival",
            "arrival must be after departure".into(),
        ));
    }
    let within = |at: chrono::DateTime<chrono::Utc>| (at - f.limits.now).num_days().abs() <= 366;
    if !within(departure) || !within(arrival) {
        return Err(f.reject(
            "out_of_range",
            "departure",
            "the alternative departs and arrives within a year of now".into(),
        ));
    }
    let accepted = match f.value("accepted") {
        Some(Value::Bool(b)) => *b,
        None => {
            return Err(f.reject(
                "missing_field",
                "accepted",
                "accepted is required: did the passenger take the alternative?".into(),
            ));
        }
        Some(_) => {
            return Err(f.reject(
                "invalid_field",
                "accepted",
                "accepted must be true or false".into(),
            ));
        }
    };
    Ok(ReroutingV1 {
        flight_number,
        departure,
        arrival,
        accepted,
    })
}

fn fare(f: &Fields<'_>) -> Result<Money, Rejection> {
    f.only(FARE_FIELDS)?;
    let amount = f.number("amount_minor", 100_000_000)?.ok_or_else(|| {
        f.reject(
            "missing_field",
            "amount_minor",
            "amount_minor is required".into(),
        )
    })?;
    let currency = f.required_string("currency", 3)?;
    let currency = Currency::try_from(currency.to_owned())
        .map_err(|why| f.reject("invalid_field", "currency", why))?;
    Ok(Money::new(amount, currency))
}
