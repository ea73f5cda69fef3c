//! Contact consent across aggregates: a contact an incident plans on a channel the
//! passenger refused is refused, unless it is recorded as a mandatory service notice (the
//! legally required information about a disruption, e.g. EU 261 Art. 14), which the
//! contact then carries for everyone to see.
//!
//! What the passenger agreed to: their registered consent when they are registered, else
//! the consent on their booking of the incident's flight (from its manifest). A passenger
//! crisisd knows no consent of is not refused: no refusal is on record.

use crate::app::command::{CommandError, load};
use crate::domain::common::PassengerId;
use crate::domain::incident::{ContactMethod, Incident};
use crate::domain::passenger::{self, ContactConsent, Passenger, PassengerError};
use crate::store::SledStore;

/// Why a planned contact is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the passenger did not agree to be contacted by {channel} ({source_of_consent}); plan another channel, or record it as a mandatory service notice (\"mandatory_notice\": true) if it is the legally required information about the disruption"
)]
pub struct ConsentRefused {
    pub channel: &'static str,
    pub source_of_consent: &'static str,
}

fn allows(consent: &ContactConsent, method: ContactMethod) -> (bool, &'static str) {
    match method {
        ContactMethod::Email => (consent.email, "email"),
        ContactMethod::Sms => (consent.sms, "sms"),
        ContactMethod::Phone => (consent.phone, "phone"),
        ContactMethod::AppPush => (consent.app_push, "app_push"),
    }
}

/// Whether `incident` may contact `passenger` by `method`.
pub fn check(
    store: &SledStore,
    incident: &Incident,
    passenger: &PassengerId,
    method: ContactMethod,
    mandatory_notice: bool,
) -> Result<Result<(), ConsentRefused>, CommandError<PassengerError>> {
    if mandatory_notice {
        return Ok(Ok(()));
    }
    let (record, _) = load::<Passenger>(store, &passenger::stream_name(passenger))?;
    let known = if record.tier.is_some() {
        Some((record.consent, "their registered consent"))
    } else {
        incident
            .flight
            .as_ref()
            .and_then(|flight| record.bookings.get(flight))
            .map(|booking| (booking.consent, "the consent on their booking"))
    };
    let Some((consent, source_of_consent)) = known else {
        return Ok(Ok(()));
    };
    match allows(&consent, method) {
        (true, _) => Ok(Ok(())),
        (false, channel) => Ok(Err(ConsentRefused {
            channel,
            source_of_consent,
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::command::{CommandMeta, execute};
    use crate::domain::common::{Actor, FlightKey, Role, Tier};
    use crate::domain::passenger::{Booking, PassengerCommand};
    use crate::store::StoreConfig;

    /// A passenger known only from a manifest: the consent on their booking of the
    /// incident's flight decides.
    #[tokio::test]
    async fn a_booked_passengers_consent_comes_from_the_booking_of_the_incidents_flight() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(StoreConfig::new(dir.path())).unwrap();
        let journal = crate::app::Journal::ephemeral(store.clone());
        let flight = FlightKey::new("LH", "400", chrono::Utc::now().date_naive()).unwrap();
        let passenger = PassengerId("PAX1".into());
        let book = PassengerCommand::RecordBooking {
            passenger_id: passenger.clone(),
            flight: flight.clone(),
            booking: Booking {
                name: None,
                tier: Tier::None,
                booking_class: "Y".into(),
                fare: None,
                final_destination: None,
                consent: ContactConsent {
                    email: true,
                    ..ContactConsent::default()
                },
                boarded: true,
                rerouting: None,
                refund_chosen: false,
            },
        };
        let actor = Actor {
            id: "dcs".into(),
            role: Role::FlightOps,
        };
        let meta = CommandMeta::new(actor, chrono::Utc::now());
        execute::<Passenger>(&journal, &passenger::stream_name(&passenger), &book, &meta)
            .await
            .unwrap();
        let incident = Incident {
            flight: Some(flight),
            ..Incident::default()
        };
        let check = |who: &PassengerId, method, mandatory| {
            check(&store, &incident, who, method, mandatory).unwrap()
        };
        let refused = check(&passenger, ContactMethod::Sms, false).unwrap_err();
        assert_eq!(refused.source_of_consent, "the consent on their booking");
        assert!(
            check(&passenger, ContactMethod::Sms, true).is_ok(),
            "a mandatory notice"
        );
        assert!(check(&passenger, ContactMethod::Email, false).is_ok());
        let stranger = PassengerId("UNKNOWN".into());
        assert!(
            check(&stranger, ContactMethod::Sms, false).is_ok(),
            "no refusal on record"
        );
        let elsewhere = Incident::default();
        assert!(
            super::check(&store, &elsewhere, &passenger, ContactMethod::Sms, false)
                .unwrap()
                .is_ok(),
            "a booking of another flight says nothing"
        );
    }
}
