//! Passenger view read model: for each passenger, the tier and contact record, and
//! every complaint, contact attempt and compensation entitlement about them.
//!
//! This is the one model that holds personal data (the contact details of
//! `passenger.registered` / `passenger.contact_details_updated`, typed
//! [`PersonalData`](crate::domain::common::PersonalData)); the HTTP layer decides who
//! may read it and redacts it for auditors. Complaint texts are not kept.
//!
//! Keys:
//! - `V <passenger id>` → [`PassengerView`] (JSON);
//! - `c <complaint:16>`, `m <compensation:16>`, `t <incident:16> <contact:16>` → the
//!   passenger id the later events of that complaint, entitlement or contact concern.

use super::model::decoded;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::compensations::Status as CompensationStatus;
use super::complaints::Status as ComplaintStatus;
use super::model::{ModelError, ReadModel};
use super::runtime::{ModelTx, Projection};
use crate::domain::common::{FlightKey, Money, PassengerId, Tier};
use crate::domain::compensation::{CompensationEvent, ComputedOutline, OfferOption};
use crate::domain::complaint::ComplaintEvent;
use crate::domain::incident::{ContactMethod, ContactOutcome, IncidentEvent};
use crate::domain::passenger::{ContactConsent, ContactDetails, PassengerEvent};
use crate::store::RecordedEvent;

pub const NAME: &str = "passengers";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ComplaintRef {
    pub complaint_id: Uuid,
    pub incident_id: Option<Uuid>,
    pub status: ComplaintStatus,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ContactRef {
    pub incident_id: Uuid,
    pub contact_id: Uuid,
    pub method: ContactMethod,
    pub outcome: Option<ContactOutcome>,
    /// A mandatory service notice, sent whatever the passenger's consent.
    #[serde(default)]
    pub mandatory_notice: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CompensationRef {
    pub compensation_id: Uuid,
    pub flight: FlightKey,
    pub status: CompensationStatus,
    /// `null` until the governing regime is decided.
    pub entitled: Option<Money>,
    pub paid: Option<OfferOption>,
    /// Care owed at the airport under any regime (meals, hotel, transport, communication).
    #[serde(default)]
    pub care: Vec<crate::domain::policy::compensation::CareDuty>,
    /// The refund right with the earliest legal deadline, and the fare it repays.
    #[serde(default)]
    pub refund: Option<crate::domain::policy::compensation::RefundRight>,
}

/// One booking of the passenger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BookingRef {
    pub flight: FlightKey,
    pub booking: crate::domain::passenger::Booking,
}

/// Everything about one passenger.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PassengerView {
    pub passenger: Option<PassengerId>,
    pub tier: Option<Tier>,
    /// Personal data, in its sealed form: the HTTP layer reveals it to callers allowed
    /// personal data and drops it for the others.
    pub contact: Option<ContactDetails>,
    pub consent: Option<ContactConsent>,
    pub complaints: Vec<ComplaintRef>,
    pub contacts: Vec<ContactRef>,
    pub compensations: Vec<CompensationRef>,
    /// The passenger's personal data was erased (`passenger.erased`).
    #[serde(default)]
    pub erased: bool,
    /// Flights the passenger is booked on, from manifests (the name on a booking is
    /// personal data, sealed like the contact details).
    #[serde(default)]
    pub bookings: Vec<BookingRef>,
}

/// The passenger view projection.
#[derive(Debug, Default)]
pub struct Passengers;

fn view_key(passenger: &PassengerId) -> Vec<u8> {
    let mut key = vec![b'V'];
    key.extend_from_slice(passenger.0.as_bytes());
    key
}

fn ref_key(tag: u8, ids: &[Uuid]) -> Vec<u8> {
    let mut key = vec![tag];
    for id in ids {
        key.extend_from_slice(id.as_bytes());
    }
    key
}

/// Loads the passenger's view, changes it, stores it.
fn change(
    tx: &mut ModelTx<'_>,
    passenger: &PassengerId,
    f: impl FnOnce(&mut PassengerView),
) -> Result<(), ModelError> {
    let key = view_key(passenger);
    let mut view: PassengerView = tx.get_json(&key)?.unwrap_or_default();
    view.passenger.get_or_insert_with(|| passenger.clone());
    f(&mut view);
    tx.insert_json(key, &view);
    Ok(())
}

/// The passenger a later event refers to through `key`.
fn owner(tx: &ModelTx<'_>, key: &[u8]) -> Result<Option<PassengerId>, ModelError> {
    tx.get_json(key)
}

impl Passengers {
    fn passenger(&self, event: &RecordedEvent, tx: &mut ModelTx<'_>) -> Result<(), ModelError> {
        let id = PassengerId(
            event
                .stream
                .strip_prefix("passenger-")
                .unwrap_or_default()
                .to_owned(),
        );
        let decoded = decoded::<PassengerEvent>(event)?;
        change(tx, &id, |view| match decoded {
            PassengerEvent::Registered(r) => {
                view.passenger = Some(r.passenger_id);
                view.tier = Some(r.tier);
                view.contact = Some(r.contact);
                view.consent = Some(r.consent);
            }
            PassengerEvent::TierChanged(t) => view.tier = Some(t.to),
            PassengerEvent::ContactDetailsUpdated(c) => view.contact = Some(c.contact),
            PassengerEvent::ConsentChanged(c) => view.consent = Some(c.consent),
            PassengerEvent::Erased(_) => {
                view.contact = None;
                view.erased = true;
                for booking in &mut view.bookings {
                    booking.booking.name = None;
                }
            }
            PassengerEvent::Booked(b) => {
                view.bookings.retain(|known| known.flight != b.flight);
                view.bookings.push(BookingRef {
                    flight: b.flight,
                    booking: b.booking,
                });
                view.bookings.sort_by(|a, b| a.flight.cmp(&b.flight));
            }
            PassengerEvent::BookingRemoved(r) => {
                view.bookings.retain(|known| known.flight != r.flight);
            }
        })
    }

    fn complaint(&self, event: &RecordedEvent, tx: &mut ModelTx<'_>) -> Result<(), ModelError> {
        let Some(id) = super::stream_uuid(&event.stream, "complaint-") else {
            return Ok(());
        };
        // Facts that do not move the complaint's status in the passenger's view.
        if matches!(
            event.event_type.as_str(),
            "complaint.progress_updated"
                | "complaint.escalated"
                | "complaint.sla_breached"
                | "complaint.responsibility_reassigned"
                | "complaint.quality_scored"
        ) {
            return Ok(());
        }
        let decoded = decoded::<ComplaintEvent>(event)?;
        use ComplaintEvent as E;
        let status = match decoded {
            E::Received(r) => {
                tx.insert_json(ref_key(b'c', &[id]), &r.passenger);
                return change(tx, &r.passenger, |view| {
                    view.complaints.push(ComplaintRef {
                        complaint_id: id,
                        incident_id: r.incident_id,
                        status: ComplaintStatus::Received,
                    })
                });
            }
            E::Acknowledged(_) => ComplaintStatus::Acknowledged,
            E::Routed(_) => ComplaintStatus::Routed,
            E::ResolutionProposed(_) => ComplaintStatus::ResolutionProposed,
            E::Closed(_) => ComplaintStatus::Closed,
            E::Reopened(_) => ComplaintStatus::Reopened,
            E::ProgressUpdated(_)
            | E::Escalated(_)
            | E::SlaBreached(_)
            | E::ResponsibilityReassigned(_)
            | E::QualityScored(_) => return Ok(()),
            E::LinkedToIncident(l) => {
                let Some(passenger) = owner(tx, &ref_key(b'c', &[id]))? else {
                    return Err(ModelError::Invalid(format!(
                        "{} before complaint.received",
                        event.event_type
                    )));
                };
                return change(tx, &passenger, |view| {
                    if let Some(c) = view.complaints.iter_mut().find(|c| c.complaint_id == id) {
                        c.incident_id = Some(l.incident_id);
                    }
                });
            }
        };
        let Some(passenger) = owner(tx, &ref_key(b'c', &[id]))? else {
            return Err(ModelError::Invalid(format!(
                "{} before complaint.received",
                event.event_type
            )));
        };
        change(tx, &passenger, |view| {
            if let Some(c) = view.complaints.iter_mut().find(|c| c.complaint_id == id) {
                // Routing keeps an acknowledged complaint's place in the loop only once.
                if !(status == ComplaintStatus::Routed && c.status != ComplaintStatus::Acknowledged)
                {
                    c.status = status;
                }
            }
        })
    }

    fn incident(&self, event: &RecordedEvent, tx: &mut ModelTx<'_>) -> Result<(), ModelError> {
        if !matches!(
            event.event_type.as_str(),
            "incident.contact_planned" | "incident.contact_outcome_recorded"
        ) {
            return Ok(());
        }
        let Some(incident_id) = super::stream_uuid(&event.stream, "incident-") else {
            return Ok(());
        };
        let decoded = decoded::<IncidentEvent>(event)?;
        match decoded {
            IncidentEvent::ContactPlanned(p) => {
                tx.insert_json(ref_key(b't', &[incident_id, p.contact_id]), &p.passenger);
                change(tx, &p.passenger, |view| {
                    view.contacts.push(ContactRef {
                        incident_id,
                        contact_id: p.contact_id,
                        method: p.method,
                        outcome: None,
                        mandatory_notice: p.mandatory_notice,
                    })
                })
            }
            IncidentEvent::ContactOutcomeRecorded(o) => {
                let Some(passenger) = owner(tx, &ref_key(b't', &[incident_id, o.contact_id]))?
                else {
                    return Err(ModelError::Invalid(format!(
                        "outcome of unplanned contact {}",
                        o.contact_id
                    )));
                };
                change(tx, &passenger, |view| {
                    if let Some(c) = view
                        .contacts
                        .iter_mut()
                        .find(|c| c.contact_id == o.contact_id && c.incident_id == incident_id)
                    {
                        c.outcome = Some(o.outcome);
                    }
                })
            }
            _ => Ok(()),
        }
    }

    fn compensation(&self, event: &RecordedEvent, tx: &mut ModelTx<'_>) -> Result<(), ModelError> {
        let Some(id) = super::stream_uuid(&event.stream, "compensation-") else {
            return Ok(());
        };
        if event.event_type == ComputedOutline::EVENT_TYPE {
            let c = ComputedOutline::from_data(event.schema_version, event.data.get())?;
            tx.insert_json(ref_key(b'm', &[id]), &c.passenger);
            return change(tx, &c.passenger, |view| {
                view.compensations.push(CompensationRef {
                    compensation_id: id,
                    flight: c.flight.clone(),
                    status: if c.owes_nothing() {
                        CompensationStatus::NothingOwed
                    } else {
                        CompensationStatus::Computed
                    },
                    entitled: c.entitled,
                    paid: None,
                    care: {
                        let mut care: Vec<_> =
                            c.decisions.iter().flat_map(|d| d.care.clone()).collect();
                        care.sort();
                        care.dedup();
                        care
                    },
                    refund: c
                        .decisions
                        .iter()
                        .filter_map(|d| d.refund.clone())
                        .min_by_key(|r| r.deadline),
                })
            });
        }
        let decoded = decoded::<CompensationEvent>(event)?;
        let Some(passenger) = owner(tx, &ref_key(b'm', &[id]))? else {
            return Err(ModelError::Invalid(format!(
                "{} before compensation.computed",
                event.event_type
            )));
        };
        change(tx, &passenger, |view| {
            let Some(c) = view
                .compensations
                .iter_mut()
                .find(|c| c.compensation_id == id)
            else {
                return;
            };
            c.status = match decoded {
                CompensationEvent::Computed(_) => CompensationStatus::Computed,
                CompensationEvent::CareExpenseRecorded(_) => c.status,
                CompensationEvent::GoverningChosen(chosen) => {
                    c.entitled = Some(chosen.entitled);
                    c.status
                }
                CompensationEvent::Recomputed(r) => {
                    let changed = c.entitled != r.entitled;
                    c.entitled = r.entitled;
                    c.care = r.decisions.iter().flat_map(|d| d.care.clone()).collect();
                    c.care.sort();
                    c.care.dedup();
                    c.refund = r
                        .decisions
                        .iter()
                        .filter_map(|d| d.refund.clone())
                        .min_by_key(|r| r.deadline);
                    match c.status {
                        CompensationStatus::Offered
                        | CompensationStatus::Accepted
                        | CompensationStatus::Failed
                            if changed =>
                        {
                            CompensationStatus::Computed
                        }
                        status => status,
                    }
                }
                CompensationEvent::Offered(_) => CompensationStatus::Offered,
                CompensationEvent::Accepted(_) => CompensationStatus::Accepted,
                CompensationEvent::Declined(_) => CompensationStatus::Declined,
                CompensationEvent::Paid(p) => {
                    c.paid = Some(p.paid);
                    CompensationStatus::Paid
                }
                CompensationEvent::Failed(_) => CompensationStatus::Failed,
            };
        })
    }
}

impl Projection for Passengers {
    fn name(&self) -> &'static str {
        NAME
    }

    /// 2: contact details kept sealed, as the events hold them; erasure;
    /// 3: entitlements owing nothing show as `nothing_owed`.
    fn version(&self) -> u32 {
        3
    }

    fn apply(&mut self, event: &RecordedEvent, tx: &mut ModelTx<'_>) -> Result<(), ModelError> {
        let aggregate = event.stream.split('-').next().unwrap_or_default();
        match aggregate {
            "passenger" => self.passenger(event, tx),
            "complaint" => self.complaint(event, tx),
            "incident" => self.incident(event, tx),
            "compensation" => self.compensation(event, tx),
            _ => Ok(()),
        }
    }
}

/// Everything about one passenger (personal data included: restrict access).
pub fn view(
    tree: &ReadModel,
    passenger: &PassengerId,
) -> Result<Option<PassengerView>, ModelError> {
    tree.get(view_key(passenger))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::common::Currency;
    use crate::projection::testing::{rebuilt, start, store_with};
    use crate::testing::workload::uuid;

    #[tokio::test]
    async fn a_passenger_sees_their_complaints_contacts_and_compensations() {
        let (_dir, store) = store_with(&[4, 5]).await;
        let tree = rebuilt(&store, Passengers);
        // Scenario 5's passenger 0: tier (5 + 0) % 5 = Diamond, complaint 0 at depth
        // 5 (closed), contact 0 reached, compensation paid.
        let p = PassengerId(format!("P{}-5-0", start().timestamp()));
        let view = view(&tree, &p).unwrap().unwrap();
        let incident = uuid(start(), "incident", 5, 0);
        assert_eq!(view.tier, Some(Tier::Diamond));
        assert_eq!(
            view.contact
                .as_ref()
                .and_then(|c| c.email.as_ref())
                .map(|e| e.0.as_str()),
            Some(format!("{}@example.org", p.0).as_str())
        );
        assert_eq!(
            view.complaints,
            vec![ComplaintRef {
                complaint_id: uuid(start(), "complaint", 5, 0),
                incident_id: Some(incident),
                status: ComplaintStatus::Closed,
            }]
        );
        assert_eq!(
            view.contacts,
            vec![ContactRef {
                incident_id: incident,
                contact_id: uuid(start(), "contact", 5, 0),
                method: ContactMethod::Email,
                outcome: Some(ContactOutcome::Reached),
                mandatory_notice: false,
            }]
        );
        assert_eq!(view.compensations.len(), 1);
        let c = &view.compensations[0];
        assert_eq!(
            (c.status, c.entitled, c.paid.clone()),
            (
                CompensationStatus::Paid,
                Some(Money::new(60_000, Currency::EUR)),
                Some(OfferOption::Cash {
                    amount: Money::new(60_000, Currency::EUR)
                })
            )
        );
        // Scenario 4's passenger 3 declined; nobody else's data is in this view.
        let other = PassengerId(format!("P{}-4-3", start().timestamp()));
        let other = super::view(&tree, &other).unwrap().unwrap();
        assert_eq!(other.compensations[0].status, CompensationStatus::Declined);
        assert!(
            other.complaints.is_empty(),
            "complaints come from passengers 0, 1 and 2 only"
        );
    }
}
