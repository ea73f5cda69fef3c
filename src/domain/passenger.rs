//! The passenger aggregate: loyalty tier, contact details, contact consent, and the
//! flights the passenger is booked on (from manifests: class, fare, consent, the name on
//! the booking, which is personal data).
//!
//! Contact details are personal data: every such field is a
//! [`PersonalData`] (its `Debug` prints `<redacted>` and its JSON Schema
//! carries `"x-personal-data": true`), so HTTP code can redact them for
//! auditors and logs never show them. Refusals never quote the values either.

use crate::domain::common::api_name;
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::domain::common::{
    AirportCode, DataSubject, FlightKey, Money, PassengerId, PersonalData, Tier,
};
use crate::domain::event::domain_events;
use crate::domain::{Aggregate, Context};

/// How a passenger can be reached. Every field but the language is personal data.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct ContactDetails {
    pub name: PersonalData<String>,
    pub email: Option<PersonalData<String>>,
    pub phone: Option<PersonalData<String>>,
    /// BCP 47 language tag for messages (e.g. `de-DE`); not personal on its own.
    pub language: Option<String>,
}

/// Which channels the passenger agreed to be contacted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct ContactConsent {
    pub email: bool,
    pub sms: bool,
    pub phone: bool,
    pub app_push: bool,
}

/// A request to a passenger record.
/// Over HTTP the variant is named by the route (`start_assessment`) and its fields are
/// the JSON body.
#[derive(Debug, Clone, PartialEq, serde::Deserialize, schemars::JsonSchema)]
#[serde(
    tag = "command",
    content = "fields",
    rename_all = "snake_case",
    deny_unknown_fields
)]
pub enum PassengerCommand {
    /// Creates the record.
    RegisterPassenger {
        passenger_id: PassengerId,
        tier: Tier,
        contact: ContactDetails,
        consent: ContactConsent,
    },
    /// Moves the passenger to another loyalty tier.
    ChangeTier { tier: Tier },
    /// Replaces the contact details.
    UpdateContactDetails { contact: ContactDetails },
    /// Replaces the contact consent.
    ChangeConsent { consent: ContactConsent },
    /// Records (or replaces) the passenger's booking on a flight, as a manifest lists
    /// it; nothing is recorded when it is the booking already known. An erased
    /// passenger's booking is recorded without the name. From manifests only (no route).
    #[serde(skip)]
    RecordBooking {
        passenger_id: PassengerId,
        flight: FlightKey,
        booking: Booking,
    },
    /// An agent records the alternative offered to the passenger after the flight's
    /// cancellation and whether it was taken, or that they chose a refund: the booking
    /// is recorded again with it (`passenger.booked`), and an entitlement computed on
    /// the old facts is recomputed.
    RecordRerouting {
        flight: FlightKey,
        rerouting: Option<Reaccommodation>,
        #[serde(default)]
        refund_chosen: bool,
    },
    /// The passenger is no longer on the flight's manifest (nothing is recorded when
    /// no booking is known). From manifests only (no route).
    #[serde(skip)]
    RemoveBooking { flight: FlightKey },
    /// Erases the passenger's personal data (right to erasure): recorded without any
    /// personal data; the passenger's data key is then destroyed, so every personal
    /// value sealed with it, in every copy of the log, reads as erased. A passenger known
    /// only from complaints or signals (never registered) can be erased too.
    ErasePassenger {
        passenger_id: PassengerId,
        /// Why (e.g. the request's reference); staff-written, never the passenger's words.
        reason: String,
    },
}

/// A passenger's booking on one flight, as the manifest lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Booking {
    /// The name on the booking.
    pub name: Option<PersonalData<String>>,
    pub tier: Tier,
    pub booking_class: String,
    /// What the passenger paid for this flight (the refund base).
    pub fare: Option<Money>,
    /// The journey's final destination when it continues beyond this flight.
    pub final_destination: Option<AirportCode>,
    /// Channels the passenger agreed to be contacted on for this trip.
    pub consent: ContactConsent,
    pub boarded: bool,
    /// The alternative offered after a cancellation, and whether it was taken.
    #[serde(default)]
    pub rerouting: Option<Reaccommodation>,
    /// The passenger chose a refund instead of travelling.
    #[serde(default)]
    pub refund_chosen: bool,
}

/// An alternative flight offered to the passenger (EU 261 Art. 5(1)(c), 7(2), 8(1)(b)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Reaccommodation {
    /// The alternative's flight (informational).
    pub flight_number: Option<String>,
    pub departure: DateTime<Utc>,
    /// At the cancelled flight's destination (its delay is measured against that
    /// flight's scheduled arrival).
    pub arrival: DateTime<Utc>,
    pub accepted: bool,
}

impl Booking {
    /// The same booking but perhaps the name: names are sealed in the log, so a
    /// manifest resent with a respelled name alone records nothing new.
    pub fn same_facts(&self, other: &Booking) -> bool {
        Booking {
            name: None,
            ..self.clone()
        } == Booking {
            name: None,
            ..other.clone()
        } && self.name.is_some() == other.name.is_some()
    }
}

/// `passenger.booked`: the passenger is on the flight (a replaced booking: again).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PassengerBooked {
    pub passenger_id: PassengerId,
    pub flight: FlightKey,
    pub booking: Booking,
}

/// `passenger.booking_removed`: a later manifest no longer lists the passenger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BookingRemoved {
    pub flight: FlightKey,
}

/// `passenger.registered`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PassengerRegistered {
    pub passenger_id: PassengerId,
    pub tier: Tier,
    pub contact: ContactDetails,
    pub consent: ContactConsent,
}

/// `passenger.tier_changed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TierChanged {
    pub from: Tier,
    pub to: Tier,
}

/// `passenger.contact_details_updated`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ContactDetailsUpdated {
    pub contact: ContactDetails,
}

/// `passenger.consent_changed`: when the consent was given or withdrawn matters legally.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ConsentChanged {
    pub consent: ContactConsent,
    pub changed_at: DateTime<Utc>,
}

/// `passenger.erased`: the passenger's data key is destroyed; no personal data here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PassengerErased {
    pub passenger_id: PassengerId,
    pub reason: String,
    pub erased_at: DateTime<Utc>,
}

domain_events! {
    /// Every fact a passenger stream holds.
    pub enum PassengerEvent {
        Registered(PassengerRegistered) = "passenger.registered",
        TierChanged(TierChanged) = "passenger.tier_changed",
        ContactDetailsUpdated(ContactDetailsUpdated) = "passenger.contact_details_updated",
        ConsentChanged(ConsentChanged) = "passenger.consent_changed",
        Erased(PassengerErased) = "passenger.erased",
        Booked(PassengerBooked) = "passenger.booked",
        BookingRemoved(BookingRemoved) = "passenger.booking_removed",
    }
}

/// A refused passenger command. Messages never contain personal data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PassengerError {
    #[error("the passenger is not registered")]
    NotRegistered,
    #[error("the passenger is already registered")]
    AlreadyRegistered,
    #[error("the passenger id must not be empty")]
    IdRequired,
    #[error("the contact details need a name")]
    NameRequired,
    #[error("the e-mail address is not of the form local@domain")]
    InvalidEmail,
    #[error("the passenger already has tier {}", api_name(.tier))]
    TierUnchanged { tier: Tier },
    #[error("consent for a channel needs contact details for it: {channel}")]
    ConsentWithoutContact { channel: &'static str },
    #[error(
        "no booking of this passenger on flight {flight}: a manifest lists the passenger on it first"
    )]
    NoBooking { flight: String },
    #[error("the alternative must arrive after it departs")]
    ReroutingArrivesBeforeDeparting,
    #[error("a passenger who took the alternative did not choose a refund; set one of them")]
    RefundAndRerouting,
    #[error("this passenger stream belongs to another passenger id")]
    OtherPassenger,
    #[error("the passenger's personal data is already erased")]
    AlreadyErased,
    #[error("an erasure needs a reason (the request's reference)")]
    ReasonRequired,
}

/// The state of one passenger stream.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Passenger {
    pub id: Option<PassengerId>,
    pub tier: Option<Tier>,
    pub contact: ContactDetails,
    pub consent: ContactConsent,
    /// Erased: the personal data sealed so far cannot be read any more.
    pub erased: bool,
    /// Flights the passenger is booked on.
    pub bookings: std::collections::BTreeMap<FlightKey, Booking>,
}

/// The stream holding one passenger: `passenger-<id>`.
pub fn stream_name(passenger_id: &PassengerId) -> String {
    format!("passenger-{passenger_id}")
}

fn validate_contact(contact: &ContactDetails) -> Result<(), PassengerError> {
    if contact.name.expose().trim().is_empty() {
        return Err(PassengerError::NameRequired);
    }
    let email_ok = contact.email.as_ref().is_none_or(|email| {
        let (local, domain) = email.expose().split_once('@').unwrap_or_default();
        !local.is_empty() && domain.contains('.') && !email.expose().contains(char::is_whitespace)
    });
    if email_ok {
        Ok(())
    } else {
        Err(PassengerError::InvalidEmail)
    }
}

/// Consent for e-mail needs an address; for SMS and phone calls a number.
fn validate_consent(
    contact: &ContactDetails,
    consent: &ContactConsent,
) -> Result<(), PassengerError> {
    let channel = if consent.email && contact.email.is_none() {
        "email"
    } else if (consent.sms || consent.phone) && contact.phone.is_none() {
        "sms/phone"
    } else {
        return Ok(());
    };
    Err(PassengerError::ConsentWithoutContact { channel })
}

impl Aggregate for Passenger {
    type Command = PassengerCommand;
    type Event = PassengerEvent;
    type Error = PassengerError;

    fn decide(
        &self,
        command: &PassengerCommand,
        ctx: &Context,
    ) -> Result<Vec<PassengerEvent>, PassengerError> {
        use PassengerCommand as C;
        if let C::ErasePassenger {
            passenger_id,
            reason,
        } = command
        {
            if self.erased {
                return Err(PassengerError::AlreadyErased);
            }
            if reason.trim().is_empty() {
                return Err(PassengerError::ReasonRequired);
            }
            return Ok(vec![PassengerEvent::Erased(PassengerErased {
                passenger_id: passenger_id.clone(),
                reason: reason.clone(),
                erased_at: ctx.now,
            })]);
        }
        match command {
            C::RecordBooking {
                passenger_id,
                flight,
                booking,
            } => {
                if passenger_id.0.trim().is_empty() {
                    return Err(PassengerError::IdRequired);
                }
                if let Some(id) = &self.id
                    && id != passenger_id
                {
                    return Err(PassengerError::OtherPassenger);
                }
                let booking = Booking {
                    name: booking.name.clone().filter(|_| !self.erased),
                    ..booking.clone()
                };
                if self
                    .bookings
                    .get(flight)
                    .is_some_and(|known| known.same_facts(&booking))
                {
                    return Ok(Vec::new());
                }
                return Ok(vec![PassengerEvent::Booked(PassengerBooked {
                    passenger_id: passenger_id.clone(),
                    flight: flight.clone(),
                    booking,
                })]);
            }
            C::RecordRerouting {
                flight,
                rerouting,
                refund_chosen,
            } => {
                let known = self
                    .bookings
                    .get(flight)
                    .ok_or_else(|| PassengerError::NoBooking {
                        flight: flight.to_string(),
                    })?;
                if let Some(offered) = rerouting {
                    if offered.arrival <= offered.departure {
                        return Err(PassengerError::ReroutingArrivesBeforeDeparting);
                    }
                    if offered.accepted && *refund_chosen {
                        return Err(PassengerError::RefundAndRerouting);
                    }
                }
                let booking = Booking {
                    rerouting: rerouting.clone(),
                    refund_chosen: *refund_chosen,
                    ..known.clone()
                };
                if known.same_facts(&booking) {
                    return Ok(Vec::new());
                }
                return Ok(vec![PassengerEvent::Booked(PassengerBooked {
                    passenger_id: self.id.clone().expect("a booked passenger has an id"),
                    flight: flight.clone(),
                    booking,
                })]);
            }
            C::RemoveBooking { flight } => {
                if !self.bookings.contains_key(flight) {
                    return Ok(Vec::new());
                }
                return Ok(vec![PassengerEvent::BookingRemoved(BookingRemoved {
                    flight: flight.clone(),
                })]);
            }
            _ => {}
        }
        let current_tier = match (self.tier, command) {
            (None, C::RegisterPassenger { .. }) => None,
            (Some(_), C::RegisterPassenger { .. }) => {
                return Err(PassengerError::AlreadyRegistered);
            }
            (None, _) => return Err(PassengerError::NotRegistered),
            (Some(tier), _) => Some(tier),
        };
        let event = match command {
            C::RegisterPassenger {
                passenger_id,
                tier,
                contact,
                consent,
            } => {
                if passenger_id.0.trim().is_empty() {
                    return Err(PassengerError::IdRequired);
                }
                validate_contact(contact)?;
                validate_consent(contact, consent)?;
                PassengerEvent::Registered(PassengerRegistered {
                    passenger_id: passenger_id.clone(),
                    tier: *tier,
                    contact: contact.clone(),
                    consent: *consent,
                })
            }
            C::ChangeTier { tier } => {
                let from = current_tier.expect("registered passengers have a tier");
                if from == *tier {
                    return Err(PassengerError::TierUnchanged { tier: *tier });
                }
                PassengerEvent::TierChanged(TierChanged { from, to: *tier })
            }
            C::UpdateContactDetails { contact } => {
                validate_contact(contact)?;
                validate_consent(contact, &self.consent)?;
                PassengerEvent::ContactDetailsUpdated(ContactDetailsUpdated {
                    contact: contact.clone(),
                })
            }
            C::ChangeConsent { consent } => {
                validate_consent(&self.contact, consent)?;
                PassengerEvent::ConsentChanged(ConsentChanged {
                    consent: *consent,
                    changed_at: ctx.now,
                })
            }
            C::ErasePassenger { .. }
            | C::RecordBooking { .. }
            | C::RecordRerouting { .. }
            | C::RemoveBooking { .. } => {
                unreachable!("decided above")
            }
        };
        Ok(vec![event])
    }

    fn evolve(mut self, event: &PassengerEvent) -> Self {
        match event {
            PassengerEvent::Registered(e) => {
                self.id = Some(e.passenger_id.clone());
                self.tier = Some(e.tier);
                self.contact = e.contact.clone();
                self.consent = e.consent;
            }
            PassengerEvent::TierChanged(e) => self.tier = Some(e.to),
            PassengerEvent::ContactDetailsUpdated(e) => self.contact = e.contact.clone(),
            PassengerEvent::ConsentChanged(e) => self.consent = e.consent,
            PassengerEvent::Erased(e) => {
                self.id = Some(e.passenger_id.clone());
                self.erased = true;
                self.contact = ContactDetails::default();
                for booking in self.bookings.values_mut() {
                    booking.name = None;
                }
            }
            PassengerEvent::Booked(e) => {
                self.id = Some(e.passenger_id.clone());
                self.bookings.insert(e.flight.clone(), e.booking.clone());
            }
            PassengerEvent::BookingRemoved(e) => {
                self.bookings.remove(&e.flight);
            }
        }
        self
    }

    fn data_subject(&self, event: &PassengerEvent) -> Option<DataSubject> {
        let id = match event {
            PassengerEvent::Registered(e) => &e.passenger_id,
            PassengerEvent::Booked(e) => &e.passenger_id,
            _ => self.id.as_ref()?,
        };
        Some(DataSubject::Passenger(id.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::common::Role;
    use crate::domain::testing::{at, ctx_as};

    use PassengerCommand as C;
    use PassengerEvent as E;

    fn contact(email: Option<&str>, phone: Option<&str>) -> ContactDetails {
        ContactDetails {
            name: PersonalData("Ada Lovelace".into()),
            email: email.map(|e| PersonalData(e.into())),
            phone: phone.map(|p| PersonalData(p.into())),
            language: Some("en-GB".into()),
        }
    }

    fn email_consent() -> ContactConsent {
        ContactConsent {
            email: true,
            ..Default::default()
        }
    }

    fn registered() -> Vec<E> {
        vec![E::Registered(PassengerRegistered {
            passenger_id: PassengerId("P1".into()),
            tier: Tier::Gold,
            contact: contact(Some("ada@example.org"), None),
            consent: email_consent(),
        })]
    }

    fn when(events: &[E], command: C) -> Result<Vec<E>, PassengerError> {
        crate::domain::testing::when_in::<Passenger>(events, &command, &ctx_as(Role::Agent))
    }

    fn register(contact: ContactDetails, consent: ContactConsent) -> C {
        C::RegisterPassenger {
            passenger_id: PassengerId("P1".into()),
            tier: Tier::Gold,
            contact,
            consent,
        }
    }

    #[test]
    fn register_passenger() {
        let accepted = when(
            &[],
            register(contact(Some("ada@example.org"), None), email_consent()),
        );
        assert_eq!(accepted, Ok(registered()));
        assert_eq!(
            when(
                &registered(),
                register(contact(None, None), Default::default())
            ),
            Err(PassengerError::AlreadyRegistered)
        );
        let bad_email = register(contact(Some("ada at example"), None), Default::default());
        assert_eq!(when(&[], bad_email), Err(PassengerError::InvalidEmail));
        let nameless = ContactDetails {
            name: PersonalData(" ".into()),
            ..contact(None, None)
        };
        assert_eq!(
            when(&[], register(nameless, Default::default())),
            Err(PassengerError::NameRequired)
        );
        let unreachable = register(
            contact(None, None),
            ContactConsent {
                sms: true,
                ..Default::default()
            },
        );
        assert_eq!(
            when(&[], unreachable),
            Err(PassengerError::ConsentWithoutContact {
                channel: "sms/phone"
            })
        );
        assert_eq!(
            when(&[], C::ChangeTier { tier: Tier::Gold }),
            Err(PassengerError::NotRegistered)
        );
    }

    #[test]
    fn change_tier() {
        let accepted = when(
            &registered(),
            C::ChangeTier {
                tier: Tier::Diamond,
            },
        );
        assert_eq!(
            accepted,
            Ok(vec![E::TierChanged(TierChanged {
                from: Tier::Gold,
                to: Tier::Diamond
            })])
        );
        assert_eq!(
            when(&registered(), C::ChangeTier { tier: Tier::Gold }),
            Err(PassengerError::TierUnchanged { tier: Tier::Gold })
        );
    }

    #[test]
    fn update_contact_details_keeps_consent_reachable() {
        let new_contact = contact(Some("ada@example.com"), Some("+44 20 7946 0000"));
        let accepted = when(
            &registered(),
            C::UpdateContactDetails {
                contact: new_contact.clone(),
            },
        );
        assert_eq!(
            accepted,
            Ok(vec![E::ContactDetailsUpdated(ContactDetailsUpdated {
                contact: new_contact
            })])
        );
        let without_email = when(
            &registered(),
            C::UpdateContactDetails {
                contact: contact(None, None),
            },
        );
        assert_eq!(
            without_email,
            Err(PassengerError::ConsentWithoutContact { channel: "email" })
        );
    }

    #[test]
    fn change_consent_records_when() {
        let withdraw = when(
            &registered(),
            C::ChangeConsent {
                consent: Default::default(),
            },
        );
        let expected = ConsentChanged {
            consent: Default::default(),
            changed_at: at(0),
        };
        assert_eq!(withdraw, Ok(vec![E::ConsentChanged(expected)]));
        let sms = C::ChangeConsent {
            consent: ContactConsent {
                sms: true,
                ..Default::default()
            },
        };
        assert_eq!(
            when(&registered(), sms),
            Err(PassengerError::ConsentWithoutContact {
                channel: "sms/phone"
            })
        );
    }

    #[test]
    fn personal_data_never_appears_in_debug_or_errors() {
        let details = contact(Some("ada@example.org"), Some("+44 20 7946 0000"));
        let debug = format!("{details:?} {:?}", registered());
        for secret in ["Ada", "ada@example.org", "7946"] {
            assert!(
                !debug.contains(secret),
                "{secret} leaked into Debug: {debug}"
            );
        }
        let err = when(
            &[],
            register(
                contact(Some("ada at example.org"), None),
                Default::default(),
            ),
        )
        .unwrap_err();
        assert!(
            !err.to_string().contains("ada"),
            "refusal quotes personal data: {err}"
        );
    }

    #[test]
    fn contact_details_schema_marks_personal_fields() {
        let schema = serde_json::to_value(schemars::schema_for!(ContactDetails)).unwrap();
        let properties = &schema["properties"];
        assert_eq!(properties["name"]["x-personal-data"], true, "{schema:#}");
        assert!(
            properties["email"].to_string().contains("x-personal-data"),
            "{schema:#}"
        );
        assert!(
            !properties["language"]
                .to_string()
                .contains("x-personal-data"),
            "{schema:#}"
        );
    }

    #[test]
    fn stream_name_and_event_types_use_the_aggregate_token() {
        assert_eq!(stream_name(&PassengerId("FF123".into())), "passenger-FF123");
        assert!(
            PassengerEvent::EVENT_TYPES
                .iter()
                .all(|t| t.starts_with("passenger."))
        );
    }

    fn lh400() -> FlightKey {
        FlightKey::new("LH", "400", at(0).date_naive()).unwrap()
    }

    fn booking(name: Option<&str>) -> Booking {
        Booking {
            name: name.map(|n| PersonalData(n.into())),
            tier: Tier::Gold,
            booking_class: "Y".into(),
            fare: None,
            final_destination: None,
            consent: ContactConsent::default(),
            boarded: false,
            rerouting: None,
            refund_chosen: false,
        }
    }

    /// Bookings come from manifests: recorded once, again only when a fact changes (a
    /// respelled name alone records nothing: names are sealed), dropped with the list;
    /// an erased passenger's booking keeps no name; an agent records a rerouting on a
    /// known booking.
    #[test]
    fn bookings_follow_the_manifest_and_agents_record_reroutings() {
        let book = |name| C::RecordBooking {
            passenger_id: PassengerId("P1".into()),
            flight: lh400(),
            booking: booking(name),
        };
        let booked = when(&[], book(Some("Ada"))).unwrap();
        assert!(matches!(&booked[..], [E::Booked(_)]));
        assert_eq!(
            when(&booked, book(Some("Ada L."))).unwrap(),
            vec![],
            "a name alone"
        );
        assert_eq!(
            when(&booked, book(None)).unwrap().len(),
            1,
            "the name is gone"
        );
        let reroute = |accepted, refund_chosen| C::RecordRerouting {
            flight: lh400(),
            rerouting: Some(Reaccommodation {
                flight_number: None,
                departure: at(60),
                arrival: at(600),
                accepted,
            }),
            refund_chosen,
        };
        assert_eq!(
            when(&[], reroute(true, false)),
            Err(PassengerError::NoBooking {
                flight: lh400().to_string()
            })
        );
        assert_eq!(
            when(&booked, reroute(true, true)),
            Err(PassengerError::RefundAndRerouting)
        );
        let rerouted = when(&booked, reroute(true, false)).unwrap();
        let [E::Booked(b)] = &rerouted[..] else {
            panic!("{rerouted:?}")
        };
        assert!(b.booking.rerouting.as_ref().is_some_and(|r| r.accepted));
        let history = [booked.clone(), rerouted].concat();
        assert_eq!(
            when(&history, reroute(true, false)).unwrap(),
            vec![],
            "the same"
        );
        let removed = when(&history, C::RemoveBooking { flight: lh400() }).unwrap();
        assert!(matches!(&removed[..], [E::BookingRemoved(_)]));
        let erased = when(
            &booked,
            C::ErasePassenger {
                passenger_id: PassengerId("P1".into()),
                reason: "GDPR-17".into(),
            },
        )
        .unwrap();
        let upgraded = C::RecordBooking {
            passenger_id: PassengerId("P1".into()),
            flight: lh400(),
            booking: Booking {
                booking_class: "J".into(),
                ..booking(Some("Ada"))
            },
        };
        let after = when(&[booked, erased].concat(), upgraded).unwrap();
        let [E::Booked(b)] = &after[..] else {
            panic!("{after:?}")
        };
        assert_eq!(
            b.booking.name, None,
            "an erased passenger's booking keeps no name"
        );
    }
}
